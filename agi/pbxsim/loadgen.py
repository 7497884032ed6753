"""Load generator: many simulated Asterisk channels calling a FastAGI server at once.

    python -m agi.pbxsim.loadgen --port 4573 --script ping --calls 2000 --concurrency 50
    python -m agi.pbxsim.loadgen --port 4573 --script ping --calls 1000 --concurrency 1000 \\
        --hold 5          # every call waits 5 s in its first command (1000 calls held at once)

Prints one JSON object: calls, statuses, errors, elapsed, calls_per_s and call duration
percentiles (ms). Each simulated channel is a thread running agi_driver.run_call.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import Counter

from .agi_driver import Scenario, run_call


def run_load(host: str, port: int, script: str, calls: int, concurrency: int,
             hold: float = 0.0, hold_at: int = 0, keys: list[str] | None = None) -> dict:
    lock = threading.Lock()
    remaining = [calls]
    durations: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()

    def worker():
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            scenario = Scenario(keys=list(keys or []), delays={hold_at: hold} if hold else {},
                                timeout=max(30.0, hold * 3))
            result = run_call(host, port, script, callerid="13800138000", scenario=scenario)
            with lock:
                durations.append(result.duration)
                statuses[str(result.status)] += 1
                if result.error:
                    errors[result.error.split(":")[0]] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ms = sorted(d * 1000 for d in durations) or [0.0]

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 2)

    return {"calls": len(durations), "statuses": dict(statuses), "errors": dict(errors),
            "elapsed": round(elapsed, 3), "calls_per_s": round(len(durations) / elapsed, 1),
            "ms_p50": pct(0.5), "ms_p95": pct(0.95), "ms_p99": pct(0.99),
            "ms_max": round(ms[-1], 2), "ms_mean": round(statistics.fmean(ms), 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agi.pbxsim.loadgen", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4573)
    p.add_argument("--script", default="ping")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--hold", type=float, default=0.0, help="seconds one command of each call takes")
    p.add_argument("--hold-at", type=int, default=0, help="index of that command")
    p.add_argument("--keys", nargs="*", default=[], help="DTMF the callers key, in order")
    opts = p.parse_args(argv)
    report = run_load(opts.host, opts.port, opts.script, opts.calls, opts.concurrency,
                      opts.hold, opts.hold_at, opts.keys)
    print(json.dumps(report))
    return 0 if not report["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
