"""Pacers on a model of the campaign (agi.dialer.pacing_sim): a fast, seeded tool for tuning.
Prints figures; it is not a test. The official benchmark, with the real dialer against the PBX
simulator, is bench/dialer_sim.py.

World: 8 hours, N agents, talk lognormal (mean 150 s, sigma 0.8 of log), wrap-up 20 s, live
answers 30% or 15% of dials after 5-25 s of ringing, 20% dead numbers failing in 1-3 s, the
rest no answer (ring out at 25 s), busy and congestion; a live answer waits up to 2 s for an
agent, else it is abandoned; abandon cap 3%.

    python bench/pacing_model.py                               # 5/20/50 agents x 30%/15%
    python bench/pacing_model.py --agents 20 --answer 0.3 --pacers predictive,naive --seeds 1,2,3

Columns: talk minutes per agent-hour, abandon % (abandoned / live answers), dials per hour,
agent idle % (time ready with no call), and the pacer's mean / worst time per decision.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agi.dialer.pacing import make_pacer  # noqa: E402
from agi.dialer.pacing_sim import World, simulate  # noqa: E402

PACERS = ("predictive", "progressive", "adapt_tapered", "naive")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="5,20,50")
    parser.add_argument("--answer", default="0.3,0.15")
    parser.add_argument("--pacers", default=",".join(PACERS))
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--seeds", default="1", help="comma-separated; figures are averaged")
    parser.add_argument("--sigma", type=float, default=0.8, help="sigma of log(talk time)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{'agents':>6} {'answer':>6} {'pacer':<14} {'talk min/agent-h':>16} {'abandon %':>9} "
          f"{'dials/h':>8} {'idle %':>7} {'us/decision':>11} {'worst us':>9}")
    started = time.perf_counter()
    for agents in (int(a) for a in args.agents.split(",")):
        for answer in (float(a) for a in args.answer.split(",")):
            for mode in args.pacers.split(","):
                runs = [simulate(make_pacer(mode), World(agents=agents, answer=answer, hours=args.hours,
                                                         talk_sigma=args.sigma, seed=seed))
                        for seed in seeds]
                avg = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
                worst = max(r["decide_max_us"] for r in runs)
                print(f"{agents:>6} {answer:>6.0%} {mode:<14} {avg['talk_min_per_agent_hour']:>16.1f} "
                      f"{avg['abandon_pct']:>9.2f} {avg['dials_per_hour']:>8.0f} {avg['idle_pct']:>7.1f} "
                      f"{avg['decide_us']:>11.0f} {worst:>9.0f}", flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
