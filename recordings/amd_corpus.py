"""A labelled synthetic set of call answers for answering-machine detection (recordings/amd.py).

    generate(target_dir, seed=1, count=120) -> [(path, "human" | "machine"), ...]
    python -m recordings.amd_corpus OUT_DIR [--seed N] [--count N]

Each item is what the far end sends after it picks up, as an 8 kHz mono 16-bit WAV:
  human    a short pause, a short greeting ("喂?", "您好", "Hello?", "Yes, who's calling?"),
           sometimes a second one, then waiting: line noise and a breath or two.
  machine  a short pause, a long voicemail greeting ("您好，您拨打的用户暂时无法接通……",
           "Hi, you've reached …") and its beep (a ~1 kHz tone of ~0.5 s).
One item in twenty is a hard case: a chatty human who talks on, or a voicemail that opens
with "Hello?" and a pause. Voices are espeak-ng's Mandarin (`cmn-latn-pinyin`, see
recordings/prompts.py) and English, with random variants, speeds and pitches; the line is
sox's: telephone band, background noise, gain, sometimes a G.711 µ-law or GSM round trip.
The same seed gives the same set. `manifest.json` in target_dir records how each item was made.
Nothing generated is committed: tests and bench/amd_accuracy.py make their own sets.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SAMPLE_RATE = 8000
LANGUAGES = ("zh", "en")
LABELS = ("human", "machine")
MANIFEST = "manifest.json"
HARD_SHARE = 0.05
TOOL_TIMEOUT = 60

HUMAN_TEXTS = {
    "zh": ["喂？", "您好。", "喂，你好。", "哪位？", "喂，哪位啊？", "你好，找谁？", "嗯，你好。",
           "是我，哪位？", "喂，您好。"],
    "en": ["Hello?", "Hi.", "Yes, who's calling?", "Hello, who is this?", "Yeah, hello?",
           "Speaking.", "Hello, Tom here.", "Hi, yes?"],
}
AGAIN_TEXTS = {"zh": ["喂？", "喂，说话呀。", "喂？哪位？"], "en": ["Hello?", "Hello? Anyone there?"]}
CHATTY_TEXTS = {
    "zh": ["喂，你好，我现在在开车，不太方便说话，你有什么事情就快点说吧。",
           "喂，您好，我是李明，刚才在开会没听到电话，请问您是哪里？"],
    "en": ["Hello, yes, this is Robert, I'm just driving at the moment, so can you make it quick?",
           "Hi, sorry, I was in the other room, who is this and what is it about?"],
}
MACHINE_TEXTS = {
    "zh": ["您好，您拨打的用户暂时无法接通，请在嘀声后留言。",
           "您好，我现在不方便接听电话，请在提示音后留下您的姓名和电话，我会尽快给您回电。",
           "你好，这里是王先生的语音信箱，我现在无法接听，请在嘀声后留言，谢谢。",
           "您好，欢迎致电达盟科技，现在是非工作时间，请在提示音后留言，我们将尽快与您联系。",
           "对不起，您拨打的电话暂时无人接听，请在嘀声之后开始录音，录音完毕请挂机。"],
    "en": ["Hi, you've reached John Smith. I can't take your call right now, please leave a "
           "message after the beep.",
           "Hello, you have reached the voicemail of Mary Brown. Please leave your name and "
           "number after the tone.",
           "The person you are calling is not available. Please leave a message after the beep.",
           "Hi, this is Dave. Sorry I missed your call. Leave me a message and I will get back "
           "to you.",
           "Thank you for calling Acme Supplies. Our office is now closed. Please leave a "
           "message after the tone."],
}
TRICK_OPENINGS = {"zh": ["喂？", "您好。"], "en": ["Hello?", "Hi."]}
TRICK_TEXTS = {
    "zh": ["我现在不方便接听，请在嘀声后留言。", "这里是张丽的电话，请留言。"],
    "en": ["Sorry, I can't get to the phone, leave a message after the beep.",
           "You've reached Anna, please leave a message."],
}
VOICES = {"zh": ["cmn-latn-pinyin"], "en": ["en", "en-us", "en-gb-x-rp"]}
VARIANTS = ["", "+m1", "+m2", "+m3", "+m5", "+f1", "+f2", "+f3", "+f4"]
NOISES = ["brownnoise", "pinknoise", "whitenoise"]
CODECS = ["", "", "ul", "gsm"]   # "" twice: half the items stay linear


class CorpusError(RuntimeError):
    """A tool is missing or failed."""


@dataclasses.dataclass
class Part:
    """One stretch of the far end's audio: speech (text), a tone (freq) or silence."""
    seconds: float = 0.0
    text: str = ""
    freq: int = 0


@dataclasses.dataclass
class Spec:
    name: str
    lang: str
    label: str
    kind: str            # short, chatty (humans); long, trick (machines)
    voice: str
    speed: int
    pitch: int
    parts: list[Part]
    noise: str
    noise_db: float      # background level, dBFS
    breaths: list[tuple[float, float, float]]   # (start s, length s, dBFS), humans only
    gain_db: float
    codec: str           # "", "ul" (G.711 µ-law) or "gsm"


def plan(seed: int, count: int = 120, hard_share: float = HARD_SHARE) -> list[Spec]:
    """What each item will be: balanced by label, then by language. Pure and repeatable."""
    if count < 4 or count % 4:
        raise ValueError("count must be a positive multiple of 4 (labels x languages)")
    rng = random.Random(seed)
    specs = []
    for index in range(count):
        label = LABELS[index % 2]
        lang = LANGUAGES[(index // 2) % 2]
        hard = rng.random() < hard_share
        specs.append(_spec(rng, index, lang, label, hard))
    return specs


def _spec(rng: random.Random, index: int, lang: str, label: str, hard: bool) -> Spec:
    pause = rng.uniform(0.15, 1.2) if label == "human" else rng.uniform(0.1, 0.8)
    parts = [Part(pause)]
    breaths: list[tuple[float, float, float]] = []
    if label == "human":
        kind = "chatty" if hard else "short"
        parts.append(Part(text=rng.choice((CHATTY_TEXTS if hard else HUMAN_TEXTS)[lang])))
        if not hard and rng.random() < 0.3:
            parts += [Part(rng.uniform(1.3, 2.5)), Part(text=rng.choice(AGAIN_TEXTS[lang]))]
        parts.append(Part(rng.uniform(3.5, 4.5)))
        breaths = [(rng.uniform(0.0, 1.0), rng.uniform(0.3, 0.6), rng.uniform(-48, -36))
                   for _ in range(rng.randint(1, 2))]
    else:
        kind = "trick" if hard else "long"
        if hard:
            parts += [Part(text=rng.choice(TRICK_OPENINGS[lang])), Part(rng.uniform(0.5, 1.0)),
                      Part(text=rng.choice(TRICK_TEXTS[lang]))]
        else:
            parts.append(Part(text=rng.choice(MACHINE_TEXTS[lang])))
        parts += [Part(rng.uniform(0.2, 0.6)), Part(rng.uniform(0.4, 0.6), freq=rng.choice(
            (1000, 1000, 950, 1050))), Part(1.0)]
    voice = rng.choice(VOICES[lang]) + rng.choice(VARIANTS)
    speed = rng.randint(190, 250) if lang == "zh" else rng.randint(150, 210)
    return Spec(name=f"{index:03d}-{lang}-{label}", lang=lang, label=label, kind=kind,
                voice=voice, speed=speed, pitch=rng.randint(30, 70), parts=parts,
                noise=rng.choice(NOISES), noise_db=rng.uniform(-60, -35), breaths=breaths,
                gain_db=rng.uniform(-8, 2), codec=rng.choice(CODECS))


# -- rendering --------------------------------------------------------------------------------

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CorpusError(f"{name} is missing: run scripts/system-deps.sh espeak-ng sox")
    return path


def _run(argv: list, stdin: bytes | None = None) -> None:
    try:
        done = subprocess.run([str(a) for a in argv], input=stdin, capture_output=True,
                              timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CorpusError(f"{argv[0]} timed out") from None
    if done.returncode != 0:
        raise CorpusError(f"{Path(argv[0]).name} failed: "
                          f"{done.stderr.decode('utf-8', 'replace').strip()[-300:]}")


def _sox(*args) -> None:
    _run([_tool("sox"), "-R", "-D", "-V1", *args])


def _pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


def _write(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)


def _silence(seconds: float) -> bytes:
    return b"\0\0" * round(seconds * SAMPLE_RATE)


def render(spec: Spec, target: Path, work: Path) -> Path:
    """Make one item's WAV at `target`, using `work` (a folder of its own) for the pieces."""
    pieces, speech_end = [], 0.0
    for n, part in enumerate(spec.parts):
        if part.text:
            raw, pcm8k = work / f"say{n}.wav", work / f"say{n}-8k.wav"
            _run([_tool("espeak-ng"), "-v", spec.voice, "-s", spec.speed, "-p", spec.pitch,
                  "-w", raw, "--stdin"], stdin=part.text.encode("utf-8"))
            _sox(raw, "-r", SAMPLE_RATE, "-c", 1, "-b", 16, pcm8k)
            pieces.append(_pcm(pcm8k))
            speech_end = sum(len(p) for p in pieces) / 2 / SAMPLE_RATE
        elif part.freq:
            tone = work / f"tone{n}.wav"
            _sox("-n", "-r", SAMPLE_RATE, "-c", 1, "-b", 16, tone, "synth", f"{part.seconds:.3f}",
                 "sine", part.freq, "gain", -8, "fade", "t", 0.01, f"{part.seconds:.3f}", 0.01)
            pieces.append(_pcm(tone))
        else:
            pieces.append(_silence(part.seconds))
    foreground = work / "fg.wav"
    _write(foreground, b"".join(pieces))
    seconds = sum(len(p) for p in pieces) / 2 / SAMPLE_RATE
    inputs = ["-v", 1, foreground]
    bed = work / "bed.wav"
    _sox("-n", "-r", SAMPLE_RATE, "-c", 1, "-b", 16, bed, "synth", f"{seconds:.3f}", spec.noise,
         "gain", f"{spec.noise_db:.1f}")
    inputs += ["-v", 1, bed]
    for n, (start, length, level) in enumerate(spec.breaths):
        breath = work / f"breath{n}.wav"
        _sox("-n", "-r", SAMPLE_RATE, "-c", 1, "-b", 16, breath, "synth", f"{length:.3f}",
             "brownnoise", "highpass", 300, "gain", f"{level:.1f}", "fade", "q",
             f"{length / 3:.3f}", f"{length:.3f}", f"{length / 3:.3f}",
             "pad", f"{speech_end + 0.3 + start:.3f}")
        inputs += ["-v", 1, breath]
    mixed = work / "mixed.wav"
    _sox("-m", *inputs, "-b", 16, mixed, "sinc", "300-3400", "gain", f"{spec.gain_db:.1f}",
         "trim", 0, f"{seconds:.3f}")
    if spec.codec:
        coded = work / f"line.{spec.codec}"
        _sox(mixed, "-r", SAMPLE_RATE, coded)
        _sox(coded, "-e", "signed-integer", "-b", 16, target)
    else:
        shutil.copyfile(mixed, target)
    return target


def generate(target_dir, seed: int = 1, count: int = 120, *, hard_share: float = HARD_SHARE,
             workers: int = 2) -> list[tuple[Path, str]]:
    """Render the set for `seed` into target_dir: [(wav path, label)], plus manifest.json."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("espeak-ng", "sox"):
        _tool(tool)
    specs = plan(seed, count, hard_share)
    with tempfile.TemporaryDirectory(prefix="amd-corpus-") as scratch:
        def one(spec: Spec) -> Path:
            work = Path(scratch) / spec.name
            work.mkdir()
            return render(spec, target_dir / f"{spec.name}.wav", work)
        with ThreadPoolExecutor(max(1, workers)) as pool:
            paths = list(pool.map(one, specs))
    manifest = [dict(dataclasses.asdict(s), file=p.name, seed=seed) for s, p in zip(specs, paths)]
    (target_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                       encoding="utf-8")
    return [(p, s.label) for s, p in zip(specs, paths)]


def read_manifest(target_dir) -> list[dict]:
    return json.loads((Path(target_dir) / MANIFEST).read_text(encoding="utf-8"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target_dir")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=120)
    args = parser.parse_args(argv)
    items = generate(args.target_dir, args.seed, args.count)
    print(f"{len(items)} items in {args.target_dir} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
