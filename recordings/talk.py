"""Talk analytics without a transcript (issue 16): who talked how much, the longest silence and
the cross-talk of a call, from its two sides recorded apart (MixMonitor's ``r()`` and ``t()``
files: what the customer's channel received — the agent — and what it sent — the customer;
see dialplan/README.md).

Each side is cut into 30 ms frames and webrtcvad (aggressive mode) marks the speech frames;
an energy gate (a frame must stand 12 dB over the side's own noise floor, the 10th percentile
of frame energies) keeps line noise and comfort noise out, as recordings/amd.py does. Speech runs
shorter than 90 ms are dropped (clicks) and pauses shorter than 300 ms inside speech are filled
(gaps between words), so the spans are utterances. Then, frame by frame: talk time per side, the
share of each in the total talk, cross-talk (both at once) and the longest silence (neither)
between the start of the recording and the last speech.

    analyse(agent_pcm, customer_pcm, rate) -> TalkFigures
    analyse_wavs(agent_wav, customer_wav) -> TalkFigures
"""
from __future__ import annotations

import dataclasses
import math
import wave
from array import array
from pathlib import Path

import webrtcvad

FRAME_MS = 30
RATES = (8000, 16000, 32000, 48000)
VAD_MODE = 3
GATE_DB = 12.0
MIN_SPEECH_FRAMES = 3     # 90 ms
MAX_GAP_FRAMES = 10       # 300 ms


class TalkError(ValueError):
    """The two sides cannot be analysed (not 16-bit mono PCM, a rate webrtcvad does not take)."""


@dataclasses.dataclass(frozen=True)
class TalkFigures:
    duration_ms: int
    agent_ms: int
    customer_ms: int
    crosstalk_ms: int
    longest_silence_ms: int

    @property
    def agent_share(self) -> float:
        total = self.agent_ms + self.customer_ms
        return self.agent_ms / total if total else 0.0

    @property
    def customer_share(self) -> float:
        total = self.agent_ms + self.customer_ms
        return self.customer_ms / total if total else 0.0


def _energies(samples: array, frame: int) -> list[float]:
    out = []
    for start in range(0, len(samples) - frame + 1, frame):
        chunk = samples[start:start + frame]
        out.append(math.fsum(s * s for s in chunk[::4]) / (len(chunk[::4]) or 1))
    return out


def speech_frames(pcm: bytes, rate: int, mode: int = VAD_MODE) -> list[bool]:
    """One flag per 30 ms frame of 16-bit mono PCM: speech or not (smoothed, see above)."""
    if rate not in RATES:
        raise TalkError(f"sample rate {rate} Hz: webrtcvad takes {', '.join(map(str, RATES))}")
    frame = rate * FRAME_MS // 1000
    step = frame * 2
    samples = array("h", pcm[:len(pcm) // 2 * 2])
    energies = _energies(samples, frame)
    if not energies:
        return []
    floor = max(sorted(energies)[len(energies) // 10], 1.0)
    gate = floor * 10 ** (GATE_DB / 10)
    vad = webrtcvad.Vad(mode)
    flags = [energies[i] > gate and vad.is_speech(pcm[i * step:(i + 1) * step], rate)
             for i in range(len(energies))]
    return _smooth(flags)


def _runs(flags: list[bool]):
    """(value, start, length) of each run of equal flags."""
    start = 0
    for i in range(1, len(flags) + 1):
        if i == len(flags) or flags[i] != flags[start]:
            yield flags[start], start, i - start
            start = i


def _smooth(flags: list[bool]) -> list[bool]:
    out = list(flags)
    for value, start, length in list(_runs(out)):
        if value and length < MIN_SPEECH_FRAMES:
            out[start:start + length] = [False] * length
    runs = list(_runs(out))
    for n, (value, start, length) in enumerate(runs):
        if not value and 0 < n < len(runs) - 1 and length <= MAX_GAP_FRAMES:
            out[start:start + length] = [True] * length
    return out


def figures(agent: list[bool], customer: list[bool]) -> TalkFigures:
    """The call's figures from the two sides' speech flags (the shorter side padded silent)."""
    n = max(len(agent), len(customer))
    agent = agent + [False] * (n - len(agent))
    customer = customer + [False] * (n - len(customer))
    either = [a or c for a, c in zip(agent, customer)]
    last = max((i for i, v in enumerate(either) if v), default=-1)
    longest = max((length for value, _, length in _runs(either[:last + 1]) if not value), default=0)
    if last < 0:
        longest = n
    return TalkFigures(duration_ms=n * FRAME_MS, agent_ms=sum(agent) * FRAME_MS,
                       customer_ms=sum(customer) * FRAME_MS,
                       crosstalk_ms=sum(a and c for a, c in zip(agent, customer)) * FRAME_MS,
                       longest_silence_ms=longest * FRAME_MS)


def analyse(agent_pcm: bytes, customer_pcm: bytes, rate: int = 8000) -> TalkFigures:
    return figures(speech_frames(agent_pcm, rate), speech_frames(customer_pcm, rate))


def read_wav(source) -> tuple[bytes, int]:
    """PCM and rate of a 16-bit mono WAV (a path or an open binary file)."""
    name = getattr(source, "name", source)
    try:
        with wave.open(source if hasattr(source, "read") else str(Path(source)), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getcomptype() != "NONE":
                raise TalkError(f"{Path(str(name)).name}: need 16-bit mono PCM")
            return w.readframes(w.getnframes()), w.getframerate()
    except (wave.Error, EOFError) as exc:
        raise TalkError(f"{Path(str(name)).name}: not a WAV file ({exc})") from None


def analyse_wavs(agent_wav, customer_wav) -> TalkFigures:
    agent, rate_a = read_wav(agent_wav)
    customer, rate_c = read_wav(customer_wav)
    if rate_a != rate_c:
        raise TalkError(f"the two sides differ in rate ({rate_a} / {rate_c} Hz)")
    return analyse(agent, customer, rate_a)
