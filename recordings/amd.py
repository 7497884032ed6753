"""Answering-machine detection: is the far end that just answered a person or a machine?

    classify(pcm, sample_rate=8000) -> AMDResult        # 16-bit mono little-endian PCM
    classify_wav(path) -> AMDResult
    detector = Detector(); detector.feed(pcm) -> AMDResult | None; detector.finish()

The idea is Asterisk's AMD() (apps/app_amd.c): a person says something short ("喂?",
"Hello?") and waits; a machine talks on. Frames of 20 ms are speech when webrtcvad says so and
they stand out of the line's noise floor (see `Params`). Runs of speech of at least
`min_word_ms` are words. Then, in order of the audio:
  * a greeting followed by `after_greeting_silence_ms` of silence   -> human   (HUMAN)
  * `greeting_ms` of speech in the greeting                         -> machine (LONGGREETING)
  * one word longer than `max_word_ms`                              -> machine (MAXWORDLENGTH)
  * `max_words` words                                               -> machine (MAXWORDS)
  * no word within `initial_silence_ms`                             -> unsure  (INITIALSILENCE)
  * at `max_ms` of audio, none of these, the greeting then
    `end_silence_ms` of silence                                     -> human   (ENDSILENCE)
    or `end_greeting_ms` of speech, still talking                   -> machine (ENDSPEECH)
    otherwise                                                       -> unsure  (TOOLONG)
  * less audio than that (the call or the recording ended)          -> unsure  (NOAUDIO/SHORT)
Silence is "unsure", not "machine" as in AMD(): people often answer a cold call and wait for
the caller to speak. What to do with "unsure" is the caller's choice (docs/amd.md).
"""
from __future__ import annotations

import dataclasses
import math
import struct
import wave
from pathlib import Path

import webrtcvad

HUMAN, MACHINE, UNSURE = "human", "machine", "unsure"
LABELS = (HUMAN, MACHINE, UNSURE)
RATES = (8000, 16000, 32000, 48000)   # what webrtcvad takes
FRAME_MS = 20


class AMDError(ValueError):
    """Audio the detector cannot read (wrong rate, not 16-bit mono PCM)."""


@dataclasses.dataclass(frozen=True)
class Params:
    """Thresholds in ms of audio. Tuned on recordings/amd_corpus.py (bench/amd_accuracy.py)."""
    max_ms: int = 3000
    initial_silence_ms: int = 2500
    greeting_ms: int = 1500
    after_greeting_silence_ms: int = 800
    min_word_ms: int = 100
    max_word_ms: int = 5000
    max_words: int = 99
    end_silence_ms: int = 400         # at max_ms: a greeting then this much silence -> human
    end_greeting_ms: int = 800        # at max_ms: this much speech, still talking -> machine
    vad_mode: int = 2                 # webrtcvad aggressiveness 0..3
    floor_dbfs: float = -50.0         # quieter frames are never speech
    snr_db: float = 6.0               # speech stands this far above the noise floor
    floor_rise_db: float = 0.1        # per frame: how fast the noise floor estimate may rise


@dataclasses.dataclass(frozen=True)
class AMDResult:
    label: str                 # human | machine | unsure
    cause: str                 # HUMAN, LONGGREETING, MAXWORDLENGTH, MAXWORDS, INITIALSILENCE,
                               # ENDSILENCE, ENDSPEECH, TOOLONG, SHORT, NOAUDIO
                               # (agi/handlers/amd.py adds HANGUP, NOFILE)
    decided_after_ms: int      # audio heard when the decision fell
    initial_silence_ms: int    # before the first word (all of it when none came)
    greeting_ms: int           # speech in the greeting so far
    words: int
    longest_word_ms: int
    silence_ms: int            # silence since the last word (after the greeting)
    speech_frames: int
    frames: int


def check_rate(sample_rate: int) -> int:
    if sample_rate not in RATES:
        raise AMDError(f"sample rate {sample_rate} Hz is not supported: give 16-bit mono PCM at "
                       f"{', '.join(map(str, RATES))} Hz (Asterisk's wav is 8000)")
    return sample_rate


class Detector:
    """Streaming AMD: feed PCM as it arrives; the result is final once feed() returns one."""

    def __init__(self, sample_rate: int = 8000, params: Params | None = None):
        self.rate = check_rate(sample_rate)
        self.params = params or Params()
        self.frame_bytes = self.rate * FRAME_MS // 1000 * 2
        self._vad = webrtcvad.Vad(self.params.vad_mode)
        self._pending = b""
        self.frames = 0
        self.speech_frames = 0
        self._floor: float | None = None
        self._run = 0              # current run of speech frames, ms
        self._in_word = False
        self._greeting = False
        self._initial = 0
        self._voice = 0
        self._words = 0
        self._longest = 0
        self._silence = 0
        self.result: AMDResult | None = None

    @property
    def heard_ms(self) -> int:
        return self.frames * FRAME_MS

    def feed(self, pcm: bytes) -> AMDResult | None:
        if self.result is not None:
            return self.result
        data = self._pending + bytes(pcm)
        end = len(data) - len(data) % self.frame_bytes
        for start in range(0, end, self.frame_bytes):
            self._frame(data[start:start + self.frame_bytes])
            if self.result is not None:
                break
        self._pending = b"" if self.result is not None else data[end:]
        return self.result

    def finish(self) -> AMDResult:
        """The result; when the audio ran out before a decision: unsure (NOAUDIO/SHORT)."""
        if self.result is None:
            self.result = self._decide(UNSURE, "NOAUDIO" if not self.frames else "SHORT")
        return self.result

    # -- per frame ------------------------------------------------------------------------

    def _is_speech(self, frame: bytes) -> bool:
        p = self.params
        samples = struct.unpack(f"<{len(frame) // 2}h", frame)
        power = sum(s * s for s in samples) / len(samples)
        level = 10 * math.log10(power / (32768.0 * 32768.0)) if power else -120.0
        floor = self._floor
        self._floor = level if floor is None or level < floor else floor + p.floor_rise_db
        if level < p.floor_dbfs or floor is None or level < floor + p.snr_db:
            return False
        return self._vad.is_speech(frame, self.rate)

    def _frame(self, frame: bytes) -> None:
        p = self.params
        self.frames += 1
        if self._is_speech(frame):
            self.speech_frames += 1
            self._run += FRAME_MS
            if self._run >= p.min_word_ms:
                if not self._in_word:
                    self._in_word = True
                    self._words += 1
                    self._voice += self._run - FRAME_MS   # the frames before it was a word
                    self._greeting = True
                self._voice += FRAME_MS
                self._silence = 0
                self._longest = max(self._longest, self._run)
        else:
            if self._run and not self._in_word:
                self._silence += self._run       # a blip too short for a word: silence
            self._run = 0
            self._in_word = False
            self._silence += FRAME_MS
            if not self._greeting:
                self._initial = self.heard_ms
        self._check()

    def _check(self) -> None:
        p = self.params
        if self._greeting:
            if self._silence >= p.after_greeting_silence_ms:
                self.result = self._decide(HUMAN, "HUMAN")
            elif self._voice >= p.greeting_ms:
                self.result = self._decide(MACHINE, "LONGGREETING")
            elif self._longest >= p.max_word_ms:
                self.result = self._decide(MACHINE, "MAXWORDLENGTH")
            elif self._words >= p.max_words:
                self.result = self._decide(MACHINE, "MAXWORDS")
        elif self._initial >= p.initial_silence_ms:
            self.result = self._decide(UNSURE, "INITIALSILENCE")
        if self.result is None and self.heard_ms >= p.max_ms:
            self.result = self._at_deadline()

    def _at_deadline(self) -> AMDResult:
        """`max_ms` heard and no rule fired: the greeting so far has to do."""
        p = self.params
        if self._greeting and self._silence >= p.end_silence_ms:
            return self._decide(HUMAN, "ENDSILENCE")
        if self._greeting and self._voice >= p.end_greeting_ms:
            return self._decide(MACHINE, "ENDSPEECH")
        return self._decide(UNSURE, "TOOLONG")

    def _decide(self, label: str, cause: str) -> AMDResult:
        return AMDResult(label=label, cause=cause, decided_after_ms=self.heard_ms,
                         initial_silence_ms=self._initial, greeting_ms=self._voice,
                         words=self._words, longest_word_ms=self._longest,
                         silence_ms=self._silence if self._greeting else 0,
                         speech_frames=self.speech_frames, frames=self.frames)


def classify(pcm: bytes, sample_rate: int = 8000, params: Params | None = None) -> AMDResult:
    """Human, machine or unsure from the first seconds of 16-bit mono PCM (little-endian)."""
    if len(pcm) % 2:
        raise AMDError("16-bit PCM has an even number of bytes")
    detector = Detector(sample_rate, params)
    return detector.feed(pcm) or detector.finish()


def read_wav(path) -> tuple[bytes, int]:
    """PCM and rate of a 16-bit mono WAV (what Asterisk's RECORD FILE ... wav writes)."""
    try:
        with wave.open(str(Path(path)), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getcomptype() != "NONE":
                raise AMDError(f"{path}: need 16-bit mono PCM, got {w.getnchannels()} channel(s) "
                               f"of {8 * w.getsampwidth()} bits ({w.getcomptype()})")
            return w.readframes(w.getnframes()), w.getframerate()
    except (wave.Error, EOFError) as exc:
        raise AMDError(f"{path}: not a WAV file ({exc})") from None


def classify_wav(path, params: Params | None = None) -> AMDResult:
    pcm, rate = read_wav(path)
    return classify(pcm, rate, params)
