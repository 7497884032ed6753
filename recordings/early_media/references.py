"""Reference recordings of the carriers' announcements, kept as fingerprints.

    load() -> [Reference]                       # the defaults shipped in default_references.json
    from_pcm(label, name, pcm) -> Reference     # e.g. a stretch of a real call's recording
    to_text(ref.bits) / from_text(text)         # the fingerprint as stored (hex, 4 digits a frame)
    python -m recordings.early_media.references --build   # regenerate the defaults (espeak-ng)

The defaults are espeak-ng's Mandarin in two voices and speeds, standing in until an admin adds
the carriers' own recordings (admin: a call's recording -> "this was a 关机 announcement").
Leading and trailing silence is cut off before fingerprinting: the match is on the words.
"""
from __future__ import annotations

import argparse
import json
import math
import wave
from pathlib import Path

from recordings.early_media import dsp, speech
from recordings.early_media.classifier import ANNOUNCEMENTS, Reference

DEFAULTS = Path(__file__).with_name("default_references.json")
TEXTS = {
    "unallocated": "您拨打的号码是空号",
    "suspended": "您拨打的电话已停机",
    "switched_off": "您拨打的电话已关机",
    "busy": "您拨打的电话正在通话中",
    "unreachable": "您拨打的电话暂时无法接通",
    "restricted": "您拨打的电话已被限制呼叫",
}
NAMES_ZH = {"unallocated": "空号", "suspended": "停机", "switched_off": "关机", "busy": "忙",
            "unreachable": "无法接通", "restricted": "呼叫受限"}
# (espeak-ng voice, words a minute): the default voices of the references
VOICES = (("cmn", 230), ("cmn+f2", 200))
TRIM_DB = -45.0


class ReferenceError(ValueError):
    """A reference that cannot be used (unknown label, too short, unreadable)."""


def to_text(bits) -> str:
    return "".join(f"{b:04x}" for b in bits)


def from_text(text: str) -> tuple[int, ...]:
    if len(text) % 4:
        raise ReferenceError("a fingerprint is 4 hex digits a frame")
    try:
        return tuple(int(text[i:i + 4], 16) for i in range(0, len(text), 4))
    except ValueError:
        raise ReferenceError("a fingerprint is hex digits") from None


def trim(pcm: bytes, threshold_db: float = TRIM_DB) -> bytes:
    """The PCM from the first to the last 16 ms louder than threshold_db."""
    values = dsp.samples(pcm)
    hop = dsp.HOP
    loud = []
    for start in range(0, len(values) - hop + 1, hop):
        chunk = values[start:start + hop]
        power = sum(x * x for x in chunk) / hop
        loud.append(power and 10 * math.log10(power / 32768.0 ** 2) > threshold_db)
    if not any(loud):
        return b""
    first = loud.index(True)
    last = len(loud) - loud[::-1].index(True)
    return values[first * hop:last * hop].tobytes()


def from_pcm(label: str, name: str, pcm: bytes) -> Reference:
    """A reference from 8 kHz 16-bit mono PCM holding the announcement (once is enough)."""
    if label not in ANNOUNCEMENTS:
        raise ReferenceError(f"unknown announcement {label!r}: one of {', '.join(ANNOUNCEMENTS)}")
    bits = dsp.fingerprint(trim(pcm))
    if len(bits) * dsp.HOP_MS < 600:
        raise ReferenceError("the announcement must hold at least 0.6 s of sound")
    return Reference(label, name, tuple(bits))


def read_wav(path) -> bytes:
    """8 kHz 16-bit mono PCM of a WAV file."""
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (dsp.RATE, 2, 1):
                raise ReferenceError(f"{path}: need 8 kHz 16-bit mono WAV")
            return w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ReferenceError(f"{path}: {exc}") from exc


def load(path=DEFAULTS) -> list[Reference]:
    items = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Reference(i["label"], i["name"], from_text(i["bits"])) for i in items]


def save(references, path=DEFAULTS) -> None:
    items = [dict(label=r.label, name=r.name, bits=to_text(r.bits)) for r in references]
    Path(path).write_text(json.dumps(items, ensure_ascii=False, indent=0) + "\n",
                          encoding="utf-8")


def build(voices=VOICES) -> list[Reference]:
    refs = []
    for voice, speed in voices:
        for label, text in TEXTS.items():
            pcm = speech.say(text, voice=voice, speed=speed)
            refs.append(from_pcm(label, f"espeak-ng {voice} {speed}", pcm))
    return refs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Default announcement references")
    parser.add_argument("--build", action="store_true", help=f"regenerate {DEFAULTS.name}")
    args = parser.parse_args(argv)
    if args.build:
        save(build())
    for ref in load():
        print(f"{ref.label:13} {ref.name:24} {len(ref.bits) * dsp.HOP_MS} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def decode(source, fmt: str) -> bytes:
    """8 kHz 16-bit mono PCM of a stored recording (wav, mp3, ogg: pydub and ffmpeg)."""
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError
    try:
        segment = AudioSegment.from_file(source, format=fmt)
    except (CouldntDecodeError, IndexError, ValueError, EOFError) as exc:
        raise ReferenceError(f"cannot read the audio: {exc}") from exc
    return segment.set_channels(1).set_frame_rate(dsp.RATE).set_sample_width(2).raw_data
