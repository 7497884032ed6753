"""Talk analytics (recordings/talk.py): speed and accuracy on generated two-sided calls whose
talk spans are known. Prints figures; not a test.

    python bench/talk_analytics.py               # seed 2, 30 calls
    python bench/talk_analytics.py --count 60 --keep /tmp/talk

Steps:
  corpus    recordings/talk_corpus.generate(seed, count): Mandarin conversations (espeak-ng, two
            voices) with pauses, interruptions (cross-talk), sometimes a silence over 10 s, a
            third of them with an agent who talks on; each side its own 8 kHz WAV over its own
            line noise, some through G.711 µ-law.
  accuracy  per 30 ms frame and side, found speech against the known spans; per call the error
            of the agent's share, of the longest silence and of the cross-talk; the two flags
            (silence > 10 s, agent > 80 %) against the flags of the true spans.
  speed     analyse_wavs on every call (reading both WAVs included), repeated --rounds times:
            audio seconds per second of one CPU (goal: ≥ 200× real time).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.quality.talk import AGENT_DOMINANT_SHARE, LONG_SILENCE_MS  # noqa: E402
from recordings.talk import analyse_wavs, figures, read_wav, speech_frames  # noqa: E402
from recordings.talk_corpus import generate  # noqa: E402

from bench.world_flags import COUNT, check  # noqa: E402


def flags(f) -> tuple[bool, bool]:
    return f.longest_silence_ms > LONG_SILENCE_MS, f.agent_share > AGENT_DOMINANT_SHARE


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", help="folder to keep the generated calls in")
    args = parser.parse_args(argv)
    check(parser, args, {"count": COUNT, "rounds": COUNT})
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="talk-"))
    started = time.perf_counter()
    calls = generate(folder, seed=args.seed, count=args.count)
    print(f"corpus: {len(calls)} calls, {sum(c.seconds for c in calls):.0f} s of audio per side, "
          f"generated in {time.perf_counter() - started:.1f} s ({folder})")

    agree = total = 0
    share_err, silence_err, cross_err = [], [], []
    flag_hits = flag_total = 0
    for call in calls:
        truth_frames = call.truth_frames()
        for truth, wav in zip(truth_frames, (call.agent_wav, call.customer_wav)):
            found = speech_frames(*read_wav(wav))
            n = min(len(truth), len(found))
            agree += sum(truth[i] == found[i] for i in range(n))
            total += n
        truth, found = figures(*truth_frames), analyse_wavs(call.agent_wav, call.customer_wav)
        share_err.append(abs(found.agent_share - truth.agent_share) * 100)
        silence_err.append(abs(found.longest_silence_ms - truth.longest_silence_ms) / 1000)
        cross_err.append(abs(found.crosstalk_ms - truth.crosstalk_ms) / 1000)
        for a, b in zip(flags(found), flags(truth)):
            flag_hits += a == b
            flag_total += 1
    print(f"accuracy: speech frames {100 * agree / total:.1f} % right ({total} frames of 30 ms)")
    for name, errs, unit in (("agent share", share_err, "points"),
                             ("longest silence", silence_err, "s"),
                             ("cross-talk", cross_err, "s")):
        print(f"  {name:16s} error: mean {statistics.mean(errs):.2f} {unit}, "
              f"max {max(errs):.2f} {unit}")
    print(f"  flags (silence > 10 s, agent > 80 %): {flag_hits}/{flag_total} as on the true spans; "
          f"calls with a long silence: {sum(flags(figures(*c.truth_frames()))[0] for c in calls)}, "
          f"agent-dominant: {sum(flags(figures(*c.truth_frames()))[1] for c in calls)}")

    audio = sum(c.seconds for c in calls)
    best = None
    for _ in range(args.rounds):
        t0 = time.process_time()
        for call in calls:
            analyse_wavs(call.agent_wav, call.customer_wav)
        spent = time.process_time() - t0
        best = spent if best is None else min(best, spent)
    print(f"speed: {audio:.0f} s of calls (both sides) in {best:.3f} s CPU, best of "
          f"{args.rounds}: {audio / best:.0f}× real time (goal ≥ 200×)")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
