"""Early-media classification accuracy on generated calls. Prints figures; not a test.

    python bench/early_media.py                       # 20 calls a class, seed 2
    python bench/early_media.py --per-class 40 --noise-db -45 -30 --tempo-jitter 0.03
    python bench/early_media.py --voices cmn+m3:180   # announcements in a voice the
                                                      # references do not have (unseen)

Each call is recordings.early_media.corpus.call(World(...)): the announcements of
references.TEXTS spoken by espeak-ng (voices and speeds from --voices, stretched by up to
--tempo-jitter), after a lead of silence, ringback or SIT, repeated as carriers do; ringback;
彩铃 (a generated melody, half of them with a spoken jingle over it); SIT; the busy tone; silence.
Then line noise (--noise-db) and G.711 µ-law (--ulaw-share). The classifier hears each call in
20 ms packets, as the handler feeds it.

Figures: per-class accuracy, the confusion, live lines ended (must be 0: a ringback or 彩铃 is
never an announcement), and the time to decide from the announcement's first word.
To re-check on real carrier recordings: see docs/early_media.md.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recordings.early_media import corpus, references  # noqa: E402
from recordings.early_media.classifier import ANNOUNCEMENTS, LIVE, Classifier  # noqa: E402

from bench.world_flags import COUNT, POSITIVE, SHARE, check  # noqa: E402

PACKET = 320    # bytes: 20 ms at 8 kHz


def classify(pcm: bytes, refs) -> tuple:
    classifier = Classifier(refs)
    for start in range(0, len(pcm), PACKET):
        verdict = classifier.feed(pcm[start:start + PACKET])
        if verdict is not None:
            return verdict
    return classifier.finish()


def real_recordings(folder: Path, refs, max_decide_ms: int) -> int:
    """Each <label>/*.wav under folder, classified: what was heard, and when."""
    confusion: dict[str, Counter] = defaultdict(Counter)
    for path in sorted(folder.glob("*/*.wav")):
        label = path.parent.name
        verdict = classify(references.read_wav(path), refs)
        confusion[label][verdict.label] += 1
        ok = "ok  " if verdict.label == label else "MISS"
        print(f"{ok} {path.relative_to(folder)}: {verdict.label} after {verdict.decided_after_ms}"
              f" ms of audio{f' (ber {verdict.ber}, {verdict.reference})' if verdict.ber else ''}")
    total = sum(sum(row.values()) for row in confusion.values())
    right = sum(confusion[k][k] for k in confusion)
    ended = sum(n for k in LIVE for h, n in confusion[k].items() if h not in LIVE)
    print(f"\ncorrect: {right} of {total}; live lines ended: {ended} "
          f"(times count from the start of each file: trim it to the first word to read them "
          f"against {max_decide_ms} ms)")
    return 0 if total else 1


def voice(text: str) -> tuple[str, int]:
    name, _, speed = text.partition(":")
    return name, int(speed or 200)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--kinds", nargs="+", default=list(corpus.KINDS), choices=corpus.KINDS)
    parser.add_argument("--voices", nargs="+", type=voice,
                        default=[voice(f"{v}:{s}") for v, s in references.VOICES],
                        help="espeak-ng voice:words-a-minute of the announcements")
    parser.add_argument("--tempo-jitter", type=float, default=0.02,
                        help="announcements stretched by up to this share")
    parser.add_argument("--leads", nargs="+", default=["silence", "ringback", "sit"],
                        choices=("silence", "ringback", "sit"))
    parser.add_argument("--seconds", type=float, default=12.0, help="audio of each call")
    parser.add_argument("--noise-db", nargs=2, type=float, default=(-60.0, -38.0))
    parser.add_argument("--level-db", nargs=2, type=float, default=(-24.0, -10.0))
    parser.add_argument("--ulaw-share", type=float, default=0.8)
    parser.add_argument("--references", help="a references JSON (default: the shipped ones)")
    parser.add_argument("--verbose", action="store_true", help="print each miss")
    parser.add_argument("--recordings", help="a folder of real calls instead: <label>/*.wav "
                        "(8 kHz 16-bit mono; labels as the classes, e.g. switched_off/, ringback/)")
    parser.add_argument("--max-decide-ms", type=int, default=3000)
    args = parser.parse_args(argv)
    check(parser, args, {"per_class": COUNT, "tempo_jitter": SHARE, "seconds": POSITIVE,
                         "ulaw_share": SHARE, "max_decide_ms": COUNT}, pairs=["noise_db", "level_db"])

    refs = references.load(args.references) if args.references else references.load()
    if args.recordings:
        return real_recordings(Path(args.recordings), refs, args.max_decide_ms)
    rng = random.Random(args.seed)
    confusion: dict[str, Counter] = defaultdict(Counter)
    decide_ms: dict[str, list[int]] = defaultdict(list)
    live_ended, cpu = [], 0.0
    for kind in args.kinds:
        for _ in range(args.per_class):
            name, speed = rng.choice(args.voices)
            world = corpus.World(
                kind=kind, lead=rng.choice(args.leads), voice=name, speed=speed,
                tempo=1 + rng.uniform(-args.tempo_jitter, args.tempo_jitter),
                seconds=args.seconds, level_db=rng.uniform(*args.level_db),
                noise_db=rng.uniform(*args.noise_db), ulaw=rng.random() < args.ulaw_share)
            made = corpus.call(world, rng)
            started = time.process_time()
            verdict = classify(made.pcm, refs)
            cpu += time.process_time() - started
            confusion[kind][verdict.label] += 1
            if verdict.label != kind and args.verbose:
                print(f"  {world} -> {verdict}", flush=True)
            if kind in LIVE and verdict.final:
                live_ended.append((world, verdict))
            if made.speech_at_ms is not None and verdict.label == kind:
                decide_ms[kind].append(verdict.decided_after_ms - made.speech_at_ms)

    labels = sorted({label for row in confusion.values() for label in row} | set(args.kinds),
                    key=lambda k: corpus.KINDS.index(k) if k in corpus.KINDS else 99)
    total = sum(sum(row.values()) for row in confusion.values())
    right = sum(confusion[k][k] for k in args.kinds)
    print(f"early media: {total} calls, seed {args.seed}, voices "
          f"{' '.join(f'{v}:{s}' for v, s in args.voices)}, tempo ±{args.tempo_jitter:.0%}, "
          f"noise {args.noise_db[0]:.0f}..{args.noise_db[1]:.0f} dBFS, "
          f"µ-law {args.ulaw_share:.0%}, {len(refs)} references")
    print(f"\n{'class':14}{'correct':>9}   decide after the first word (ms): "
          f"median  p95  max  <= {args.max_decide_ms}")
    for kind in args.kinds:
        n = sum(confusion[kind].values())
        line = f"{kind:14}{100 * confusion[kind][kind] / n:8.1f}%"
        times = sorted(decide_ms.get(kind, []))
        if times:
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            within = sum(t <= args.max_decide_ms for t in times) / len(times)
            line += (f"   {statistics.median(times):>38.0f} {p95:4d} {times[-1]:4d} "
                     f"{within:6.0%}")
        print(line)
    print("\nconfusion (rows: played, columns: heard)")
    short = {k: k[:6] for k in labels}
    print(" " * 14 + "".join(f"{short[k]:>7}" for k in labels))
    for kind in args.kinds:
        print(f"{kind:14}" + "".join(f"{confusion[kind][k] or '.':>7}" for k in labels))
    all_times = sorted(t for ts in decide_ms.values() for t in ts)
    announced = [k for k in args.kinds if k in ANNOUNCEMENTS]
    print(f"\ncorrect: {100 * right / total:.1f}% of {total}")
    print(f"live lines ended (ringback / 彩铃 / silence taken for an end): {len(live_ended)}")
    for world, verdict in live_ended:
        print(f"  {world} -> {verdict}")
    if all_times and announced:
        within = sum(t <= args.max_decide_ms for t in all_times) / len(all_times)
        print(f"announcements decided within {args.max_decide_ms} ms of the first word: "
              f"{within:.1%} (median {statistics.median(all_times):.0f} ms, "
              f"max {all_times[-1]} ms)")
    seconds = total * args.seconds
    print(f"classifier cost: {cpu:.1f} s CPU for {seconds:.0f} s of audio "
          f"({1000 * cpu / seconds:.0f} ms a second of audio, at most as heard)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
