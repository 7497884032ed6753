"""When an answering machine is ready to record: after its beep, or after its greeting fell
silent (machines without a beep), so that a message left then is recorded whole.

A frame (20 ms) is tonal when it is one sine wave: x[n-1] + x[n+1] = 2 cos(w) x[n] holds with a
small residual (one pass, no FFT). A beep is BEEP_MS or more of loud tonal frames at one
frequency between 300 and 3000 Hz (a voice's fundamental is below 300 Hz, and speech is never
that pure); it is over at the first frame that is not part of it.

    listener = BeepListener()
    listener.feed(pcm)   # "beep" | "silence" once ready, else None
"""
from __future__ import annotations

import math
import struct

RATE = 8000
FRAME = RATE // 50          # 20 ms
BEEP_MS = 100
SILENCE_MS = 1500           # the greeting's end when no beep comes
LOUD = 300.0                # RMS of a frame that is not silence (16-bit samples)
PURITY = 0.02               # the most residual energy share of a pure tone
LOW_HZ, HIGH_HZ = 300.0, 3000.0


def tone_hz(frame: tuple[int, ...]) -> float | None:
    """The frequency of a loud pure tone in `frame`, None if it is not one."""
    energy = sum(x * x for x in frame[1:-1])
    if energy < LOUD * LOUD * (len(frame) - 2):
        return None
    cross = sum((frame[i - 1] + frame[i + 1]) * frame[i] for i in range(1, len(frame) - 1))
    c = cross / (2.0 * energy)
    if not -1.0 < c < 1.0:
        return None
    residual = sum((frame[i - 1] + frame[i + 1] - 2 * c * frame[i]) ** 2
                   for i in range(1, len(frame) - 1))
    if residual > PURITY * 4 * energy:
        return None
    hz = math.acos(c) * RATE / (2 * math.pi)
    return hz if LOW_HZ <= hz <= HIGH_HZ else None


class BeepListener:
    def __init__(self):
        self._pending = b""
        self._tone: list[float] = []    # the current run of tonal frames' frequencies
        self._quiet_ms = 0
        self.heard_ms = 0
        self.result: str | None = None

    def feed(self, pcm: bytes) -> str | None:
        if self.result is not None:
            return self.result
        data = self._pending + bytes(pcm)
        end = len(data) - len(data) % (2 * FRAME)
        for start in range(0, end, 2 * FRAME):
            self._frame(struct.unpack(f"<{FRAME}h", data[start:start + 2 * FRAME]))
            if self.result is not None:
                break
        self._pending = data[end:]
        return self.result

    def _frame(self, frame: tuple[int, ...]) -> None:
        self.heard_ms += 20
        hz = tone_hz(frame)
        if hz is not None and (not self._tone or abs(hz - self._tone[0]) <= 0.05 * self._tone[0]):
            self._tone.append(hz)
            self._quiet_ms = 0
            return
        if len(self._tone) * 20 >= BEEP_MS:
            self.result = "beep"
            return
        self._tone = [hz] if hz is not None else []
        rms = math.sqrt(sum(x * x for x in frame) / len(frame))
        self._quiet_ms = self._quiet_ms + 20 if rms < LOUD else 0
        if self._quiet_ms >= SILENCE_MS:
            self.result = "silence"
