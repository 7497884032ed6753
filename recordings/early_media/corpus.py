"""Generated early media: what a line plays before an answer, as 8 kHz 16-bit mono PCM.

    call(World(kind="switched_off", lead="ringback"), rng) -> Call(pcm, label, speech_at_ms)

kinds: ringback (China: 450 Hz, 1 s on / 4 s off), coloured (彩铃: a generated melody with
harmonics, sometimes a spoken jingle over it), sit (E.180 SIT, then silence), silence, busy_tone,
and the announcements of references.TEXTS spoken by espeak-ng (after `lead`: silence, a ring or
two, or SIT), repeated after a pause as carriers do. Then line noise and G.711 µ-law.
The simulator plays these on the numbers it knows as dead (agi/pbxsim) and bench/early_media.py
measures the classifier on them.
"""
from __future__ import annotations

import dataclasses
import math
import random
from array import array

from recordings.early_media import references, speech
from recordings.early_media.classifier import ANNOUNCEMENTS, BUSY_TONE, COLOURED, RINGBACK, \
    SILENCE, SIT

RATE = 8000
KINDS = (RINGBACK, COLOURED, SIT, SILENCE, BUSY_TONE) + ANNOUNCEMENTS
JINGLES = ("欢迎致电达盟科技，我们竭诚为您服务", "祝您生活愉快，万事如意")


@dataclasses.dataclass(frozen=True)
class World:
    kind: str
    lead: str = "silence"            # before an announcement: silence | ringback | sit
    voice: str = "cmn"
    speed: int = 230               # references.VOICES[0]
    tempo: float = 1.0               # stretch of the announcement (a carrier's own recording)
    seconds: float = 12.0            # how long the line plays in all
    level_db: float = -16.0          # announcement / music level, dBFS
    noise_db: float = -50.0          # line noise, dBFS (white, band-limited by the codec)
    ulaw: bool = True


@dataclasses.dataclass(frozen=True)
class Call:
    pcm: bytes
    label: str
    speech_at_ms: int | None         # where the announcement's first word starts


def _tone(freqs, seconds: float, level_db: float) -> list[float]:
    amp = 32768 * 10 ** (level_db / 20)
    n = round(seconds * RATE)
    ramp = min(40, n // 2)
    out = []
    for i in range(n):
        env = min(1.0, i / ramp if ramp else 1, (n - i) / ramp if ramp else 1)
        out.append(env * amp * sum(math.sin(2 * math.pi * f * i / RATE) for f in freqs)
                   / len(freqs))
    return out


def _quiet(seconds: float) -> list[float]:
    return [0.0] * round(seconds * RATE)


def ringback(seconds: float, level_db: float = -18.0) -> list[float]:
    out: list[float] = []
    while len(out) < seconds * RATE:
        out += _tone([450], 1.0, level_db) + _quiet(4.0)
    return out[:round(seconds * RATE)]


def sit(level_db: float = -18.0, low: bool = True) -> list[float]:
    first, second = (913.8, 1370.6) if low else (985.2, 1428.5)
    return (_tone([first], 0.274, level_db) + _tone([second], 0.380, level_db)
            + _tone([1776.7], 0.380, level_db))


def busy_tone(seconds: float, level_db: float = -18.0) -> list[float]:
    out: list[float] = []
    while len(out) < seconds * RATE:
        out += _tone([450], 0.35, level_db) + _quiet(0.35)
    return out[:round(seconds * RATE)]


def melody(seconds: float, rng: random.Random, level_db: float = -16.0) -> list[float]:
    """A tune of plucked notes with harmonics over a bass, like a 彩铃's music."""
    scale = [262, 294, 330, 392, 440, 523, 587, 659, 784]
    amp = 32768 * 10 ** (level_db / 20)
    out: list[float] = []
    beat = rng.uniform(0.2, 0.45)
    while len(out) < seconds * RATE:
        note = rng.choice(scale)
        bass = rng.choice(scale[:4]) / 2
        n = round(beat * rng.choice((1, 1, 2)) * RATE)
        for i in range(n):
            t = i / RATE
            env = math.exp(-3.0 * t / beat) * min(1.0, i / 40)
            tone = sum(math.sin(2 * math.pi * note * h * t) / h for h in (1, 2, 3, 4))
            out.append(amp * (0.6 * env * tone + 0.3 * math.sin(2 * math.pi * bass * t)))
    return out[:round(seconds * RATE)]


def _pcm_values(pcm: bytes, level_db: float) -> list[float]:
    values = array("h")
    values.frombytes(pcm)
    peak = max((abs(v) for v in values), default=0) or 1
    gain = 32768 * 10 ** ((level_db + 6) / 20) / peak     # peaks ~6 dB over the level
    return [v * gain for v in values]


def _mix(base: list[float], top: list[float], at: int) -> None:
    if len(base) < at + len(top):
        base.extend([0.0] * (at + len(top) - len(base)))
    for i, v in enumerate(top):
        base[at + i] += v


def ulaw(values: list[float]) -> list[float]:
    """A G.711 µ-law round trip (encode then decode) of each sample."""
    out = []
    for v in values:
        x = max(-32635, min(32635, int(v)))
        sign = 0x80 if x < 0 else 0
        x = abs(x) + 0x84
        exponent = max(0, x.bit_length() - 8)
        mantissa = (x >> (exponent + 3)) & 0x0F
        y = ((mantissa << 3) + 0x84) << exponent
        y -= 0x84
        out.append(-y if sign else y)
    return out


def call(world: World, rng: random.Random) -> Call:
    kind = world.kind
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    total = round(world.seconds * RATE)
    values: list[float] = []
    speech_at = None
    if kind == RINGBACK:
        values = _quiet(rng.uniform(0.2, 1.5)) + ringback(world.seconds)
    elif kind == COLOURED:
        values = melody(world.seconds, rng, world.level_db)
        if rng.random() < 0.5:
            jingle = speech.say(rng.choice(JINGLES), voice=world.voice, speed=world.speed)
            _mix(values, _pcm_values(jingle, world.level_db), round(rng.uniform(0.5, 3) * RATE))
    elif kind == SIT:
        values = _quiet(rng.uniform(0.2, 1.0)) + sit(low=rng.random() < 0.5)
    elif kind == BUSY_TONE:
        values = _quiet(rng.uniform(0.2, 1.0)) + busy_tone(world.seconds)
    elif kind in ANNOUNCEMENTS:
        if world.lead == RINGBACK:
            values = _quiet(rng.uniform(0.2, 1.0)) + ringback(rng.choice((1.0, 5.6)))
        elif world.lead == SIT:
            values = _quiet(0.3) + sit(low=rng.random() < 0.5)
        values += _quiet(rng.uniform(0.2, 0.8))
        said = references.trim(speech.say(references.TEXTS[kind], voice=world.voice,
                                          speed=world.speed, tempo=world.tempo))
        speech_at = round(len(values) * 1000 / RATE)
        words = _pcm_values(said, world.level_db)
        while len(values) < total:
            values += words + _quiet(rng.uniform(0.8, 1.5))
    values = (values + _quiet(world.seconds))[:total]
    noise = 32768 * 10 ** (world.noise_db / 20)
    values = [v + rng.gauss(0, noise) for v in values]
    if world.ulaw:
        values = ulaw(values)
    out = array("h", (max(-32768, min(32767, round(v))) for v in values))
    return Call(out.tobytes(), kind, speech_at)
