"""Frame analysis of 8 kHz telephone audio in plain Python (no numpy on the project's machines).

Frames are FRAME samples (32 ms) every HOP samples (16 ms). For each frame:
  * its level in dBFS,
  * Goertzel powers at the tones the classifier looks for, as a share of the frame's energy
    (1.0 for a pure sine at that frequency),
  * a 16-bit sub-fingerprint after Haitsma & Kalker ("A highly robust audio fingerprinting
    system", 2002): the signs of the energy differences of 17 adjacent bands of 300-3400 Hz,
    across bands and across frames. It survives noise, gain and G.711, not a change of speed.
"""
from __future__ import annotations

import cmath
import math
import struct
from array import array

RATE = 8000
FRAME = 256
HOP = 128
HOP_MS = HOP * 1000 // RATE          # 16
BANDS = 17                           # 16 bits a frame
BAND_LOW, BAND_HIGH = 300.0, 3400.0

RINGBACK_HZ = 450.0                  # China: ringback 1 s on / 4 s off, busy 0.35 / 0.35
SIT_HZ = (913.8, 985.2, 1370.6, 1428.5, 1776.7)   # ITU-T E.180 / Telcordia SIT segments
TONES = (RINGBACK_HZ, *SIT_HZ)

_WINDOW = [0.5 - 0.5 * math.cos(2 * math.pi * n / FRAME) for n in range(FRAME)]
_WINDOW_POWER = sum(w * w for w in _WINDOW)
_COEFFS = [2 * math.cos(2 * math.pi * f / RATE) for f in TONES]
_BITREV = [int(format(n, "08b")[::-1], 2) for n in range(FRAME)]
_TWIDDLES = [cmath.exp(-2j * math.pi * k / FRAME) for k in range(FRAME // 2)]


def _band_edges() -> list[int]:
    ratio = (BAND_HIGH / BAND_LOW) ** (1 / BANDS)
    edges = [round(BAND_LOW * ratio ** b * FRAME / RATE) for b in range(BANDS + 1)]
    for b in range(1, len(edges)):          # at least one bin a band
        edges[b] = max(edges[b], edges[b - 1] + 1)
    return edges


_EDGES = _band_edges()


def samples(pcm: bytes) -> array:
    """16-bit little-endian PCM as an array of ints."""
    out = array("h")
    out.frombytes(pcm[:len(pcm) - len(pcm) % 2])
    if struct.pack("=h", 1) != struct.pack("<h", 1):
        out.byteswap()
    return out


def _fft(values: list[float]) -> list[complex]:
    data = [complex(values[i]) for i in _BITREV]
    size = 2
    while size <= FRAME:
        half, step = size // 2, FRAME // size
        for start in range(0, FRAME, size):
            for k in range(half):
                t = _TWIDDLES[k * step] * data[start + k + half]
                u = data[start + k]
                data[start + k] = u + t
                data[start + k + half] = u - t
        size *= 2
    return data


def goertzel(frame, coeff: float) -> float:
    s1 = s2 = 0.0
    for x in frame:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


class Frame:
    __slots__ = ("level", "tones", "bands")

    def __init__(self, level: float, tones: tuple, bands: list[float]):
        self.level = level          # dBFS
        self.tones = tones          # share of the energy at each of TONES
        self.bands = bands          # band energies (linear)


def analyse(frame) -> Frame:
    """One FRAME of samples."""
    energy = sum(x * x for x in frame)
    level = 10 * math.log10(energy / FRAME / (32768.0 * 32768.0)) if energy else -120.0
    if energy:
        tones = tuple(2 * goertzel(frame, c) / (FRAME * energy) for c in _COEFFS)
    else:
        tones = (0.0,) * len(TONES)
    spectrum = _fft([x * w for x, w in zip(frame, _WINDOW)])
    power = [abs(v) ** 2 for v in spectrum[:FRAME // 2]]
    bands = [sum(power[_EDGES[b]:_EDGES[b + 1]]) + 1e-3 for b in range(BANDS)]
    return Frame(level, tones, bands)


def sub_fingerprint(bands: list[float], previous: list[float]) -> int:
    bits = 0
    for m in range(BANDS - 1):
        delta = (bands[m] - bands[m + 1]) - (previous[m] - previous[m + 1])
        bits = (bits << 1) | (delta > 0)
    return bits


class Analyser:
    """Streaming: feed PCM, get the Frames (and their sub-fingerprints) as they complete."""

    def __init__(self):
        self._buffer = array("h")
        self._previous: list[float] | None = None

    def feed(self, pcm: bytes) -> list[tuple[Frame, int]]:
        self._buffer.extend(samples(pcm))
        out = []
        while len(self._buffer) >= FRAME:
            frame = analyse(self._buffer[:FRAME])
            del self._buffer[:HOP]
            bits = sub_fingerprint(frame.bands, self._previous) if self._previous else 0
            self._previous = frame.bands
            out.append((frame, bits))
        return out


def fingerprint(pcm: bytes) -> list[int]:
    """The sub-fingerprints of a whole recording (the first frame has none of its own)."""
    return [bits for _, bits in Analyser().feed(pcm)][1:]
