"""Answering-machine detection accuracy on the synthetic corpus. Prints figures; not a test.

    python bench/amd_accuracy.py                 # report seed 2, 120 items
    python bench/amd_accuracy.py --seed 1        # the tuning seed
    python bench/amd_accuracy.py --keep /tmp/amd # keep the generated WAVs and manifest.json

The thresholds of recordings/amd.py (Params) were tuned on seed 1 (TUNING_SEED); figures to
quote come from another seed. Steps:
  corpus    recordings/amd_corpus.generate(seed, count): half human, half machine, both
            languages; one item in twenty a hard case (a chatty person, a voicemail that opens
            with "Hello?" and a pause).
  offline   recordings.amd.classify on each WAV: accuracy, confusion matrix, decision time (the
            audio heard when the decision fell), by language, kind and line condition.
  live      (unless --no-live) every item again as a call: our FastAGI server runs agi.handlers.amd.detect
            while the PBX simulator answers its RECORD FILE steps from the WAV; the labels must
            be the offline ones, and the time is what the call spends (whole 250 ms steps).
  methods   the alternative of one `RECORD FILE ... 3000 0 s=1` (Asterisk's silence rule,
            agi.pbxsim.agi_driver.silence_end): when it would end, and how often it stops in
            the silence before anyone spoke.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agi.pbxsim.agi_driver import silence_end  # noqa: E402
from recordings.amd import LABELS, classify, read_wav  # noqa: E402
from recordings.amd_corpus import generate, read_manifest  # noqa: E402

from bench.world_flags import COUNT, check  # noqa: E402

TUNING_SEED = 1
REPORT_SEED = 2
STEP_MS = 250


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "    -"


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    for row in rows:
        print("  " + "  ".join(str(c).rjust(w) for c, w in zip(row, (22, 6, 9, 9, 9, 9))))


def group(items: list[dict], key) -> list[tuple]:
    groups = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    rows = [("", "items", "accuracy", "mean ms", "max ms")]
    for name in sorted(groups):
        g = groups[name]
        ok = sum(i["ok"] for i in g)
        times = [i["result"].decided_after_ms for i in g]
        rows.append((name, len(g), pct(ok, len(g)), round(statistics.mean(times)), max(times)))
    return rows


def noise_band(item: dict) -> str:
    level = item["noise_db"]
    return "noise < -50 dBFS" if level < -50 else "noise -50..-42" if level < -42 else \
        "noise >= -42 dBFS"


def live_labels(items: list[dict], folder: Path) -> list[tuple[str, float]]:
    """Each item as a call through the FastAGI server and the simulator: (label, seconds)."""
    from agi.fastagi.dispatch import Registry
    from agi.fastagi.server import FastAGIServer, make_agi_engine
    from agi.handlers.amd import detect
    from agi.pbxsim.agi_driver import Scenario, run_call
    from models.db import make_sessionmaker

    spool = folder / "spool"
    spool.mkdir()
    reg = Registry()

    @reg.register("amd")
    def amd(agi, session, args):
        agi.set_variable("AMD_LABEL", detect(agi, spool_dir=spool, step_ms=STEP_MS).label)

    engine = make_agi_engine(f"sqlite:///{folder / 'agi.db'}")
    server = FastAGIServer(reg, make_sessionmaker(engine), port=0).start()
    out = []
    try:
        for item in items:
            result = run_call("127.0.0.1", server.port, "amd",
                              scenario=Scenario(audio=item["path"], record_dir=spool))
            heard = sum(int(r[0].rsplit("=", 1)[1]) for r in result.replies
                        if r[0].startswith("200 result=0 (timeout) endpos="))
            out.append((result.variables.get("AMD_LABEL", "?"), heard / 8000))
    finally:
        server.shutdown(grace=2)
        engine.dispose()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=REPORT_SEED)
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--keep", help="generate into this folder and keep it")
    parser.add_argument("--no-live", action="store_true", help="skip the calls over FastAGI")
    args = parser.parse_args(argv)
    check(parser, args, {"count": COUNT})

    with tempfile.TemporaryDirectory(prefix="amd-bench-") as scratch:
        folder = Path(args.keep) if args.keep else Path(scratch) / "corpus"
        started = time.monotonic()
        generate(folder, seed=args.seed, count=args.count)
        made = time.monotonic() - started
        items = read_manifest(folder)
        cpu = 0.0
        for item in items:
            item["path"] = folder / item["file"]
            pcm, rate = read_wav(item["path"])
            item["pcm"] = pcm
            t = time.process_time()
            item["result"] = classify(pcm, rate)
            cpu += time.process_time() - t
            item["ok"] = item["result"].label == item["label"]
        live = None if args.no_live else live_labels(items, Path(scratch))
        report(args, items, made, cpu, live)
    return 0


def report(args, items: list[dict], made: float, cpu: float, live) -> None:
    n = len(items)
    ok = sum(i["ok"] for i in items)
    seed_note = "the tuning seed" if args.seed == TUNING_SEED else \
        f"not the tuning seed ({TUNING_SEED})"
    print(f"AMD accuracy: seed {args.seed} ({seed_note}), {n} items generated in {made:.1f} s; "
          f"classification {1000 * cpu / n:.1f} ms CPU per item")
    print(f"\naccuracy {ok}/{n} = {pct(ok, n).strip()}")
    confusion = Counter((i["label"], i["result"].label) for i in items)
    table("confusion (rows: truth, columns: detected)",
          [("", *LABELS)] + [(t, *(confusion[(t, d)] for d in LABELS))
                                 for t in ("human", "machine")])
    table("by language", group(items, lambda i: i["lang"]))
    table("by truth", group(items, lambda i: i["label"]))
    table("by kind", group(items, lambda i: f'{i["label"]}/{i["kind"]}'))
    table("by line", group(items, lambda i: i["codec"] or "linear"))
    table("by noise", group(items, noise_band))
    causes = Counter((i["label"], i["result"].cause) for i in items)
    table("causes", [(f"{t}: {c}", k) for (t, c), k in sorted(causes.items())])
    print("\nmistakes")
    for i in items:
        if not i["ok"]:
            r = i["result"]
            print(f'  {i["file"]} ({i["kind"]}, {i["codec"] or "linear"}, noise '
                  f'{i["noise_db"]:.0f} dBFS, {i["voice"]} at {i["speed"]}): {r.label} '
                  f'{r.cause} at {r.decided_after_ms} ms (speech {r.greeting_ms} ms, '
                  f'{r.words} words, silence {r.silence_ms} ms)')
    times = [i["result"].decided_after_ms for i in items]
    steps = [STEP_MS * math.ceil(t / STEP_MS) for t in times]
    print(f"\ndecision time (audio heard): mean {statistics.mean(times):.0f} ms, "
          f"max {max(times)} ms; on a call in {STEP_MS} ms steps: mean "
          f"{statistics.mean(steps):.0f} ms, max {max(steps)} ms")
    if live is not None:
        same = sum(label == i["result"].label for (label, _), i in zip(live, items))
        secs = [s for _, s in live]
        print(f"live over FastAGI + simulator: {same}/{n} labels as offline; audio recorded per "
              f"call mean {statistics.mean(secs):.2f} s, max {max(secs):.2f} s")
    methods(items)


def methods(items: list[dict]) -> None:
    """One RECORD FILE of 3 s with s=1, against our steps."""
    rows = [("", "items", "ours mean", "s=1 mean", "s=1 max", "s=1 ended before a word")]
    for label in ("human", "machine"):
        group_ = [i for i in items if i["label"] == label]
        ends, early = [], 0
        for item in group_:
            heard = silence_end(item["pcm"], 0, 24000, 1000)
            if heard is not None and item["result"].initial_silence_ms >= heard // 8 - 1000:
                early += 1      # nobody spoke yet: a second recording would be needed
            else:
                ends.append(3000 if heard is None else heard // 8)
        ours = [STEP_MS * math.ceil(i["result"].decided_after_ms / STEP_MS) for i in group_]
        rows.append((label, len(group_), round(statistics.mean(ours)),
                     round(statistics.mean(ends)), max(ends), early))
    table(f"methods: ours ({STEP_MS} ms steps) against one RECORD FILE 3000 ms s=1, which ends "
          "after 1 s below Asterisk's silence threshold (ms until the result is known)", rows)


if __name__ == "__main__":
    raise SystemExit(main())
