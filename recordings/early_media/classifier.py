"""What the line plays before an answer, classified as it arrives (8 kHz 16-bit mono PCM).

    classifier = Classifier(references)         # references.load() for the default ones
    verdict = classifier.feed(pcm)              # a final Verdict, or None: keep listening
    classifier.state                            # what it sounds like so far (a live label)
    classifier.finish()                         # the Verdict once the audio has ended

Final verdicts end the attempt: an announcement recognised against a reference recording
(ANNOUNCEMENTS), SIT tones (three segments of the E.180 families in rising order, then
`sit_wait_ms` without an announcement recognised), or the busy
tone (450 Hz, 0.35 s on / 0.35 s off, three times). Everything else is a live line and never
ends the attempt: RINGBACK (450 Hz bursts of about 1 s), COLOURED (彩铃: music or any speech
that matches no reference) and SILENCE.

Announcements are matched by fingerprints (dsp.py): the last `window_ms` of audio against every
window of every reference. Carriers' announcements of one kind open alike ("您拨打的电话…"),
so a match (its bit error rate counted on the frames that stand out of the line's noise)
decides only when its bit error rate is at most `max_ber` and every other kind is at
least `margin` worse, `confirm` checks in a row.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict

from recordings.early_media import dsp

RINGBACK, COLOURED, SILENCE = "ringback", "coloured", "silence"
LIVE = (RINGBACK, COLOURED, SILENCE)
SIT = "sit"
BUSY_TONE = "busy_tone"
# the carriers' announcements (labels of the references)
ANNOUNCEMENTS = ("unallocated", "suspended", "switched_off", "busy", "unreachable", "restricted")
LABELS = LIVE + (SIT, BUSY_TONE) + ANNOUNCEMENTS
BITS = dsp.BANDS - 1


@dataclasses.dataclass(frozen=True)
class Params:
    window_ms: int = 512           # audio matched against the references at once
    check_every: int = 2           # frames between two matchings
    max_ber: float = 0.31          # bit error rate of a match (a loud 彩铃 reached 0.314)
    margin: float = 0.07           # every other kind at least this much worse
    confirm: int = 4               # matching checks in a row, on one alignment
    shared_ber: float = 0.25       # reference windows this close to another kind's decide nothing
    pause_ms: int = 640            # sound after this much without begins anew (a repetition)
    sit_wait_ms: int = 6000        # after SIT, this long for its announcement
    lag_slack: int = 2             # frames the alignment may drift between two checks
    min_active: float = 0.4        # share of the window above the noise floor to match at all
    tone_share: float = 0.7        # of a frame's energy at one tone frequency
    floor_db: float = -55.0        # quieter frames are silence
    snr_db: float = 6.0            # sound stands this far above the noise floor
    loud_db: float = -35.0         # louder frames are sound whatever the floor
    floor_rise_db: float = 0.05    # per frame


@dataclasses.dataclass(frozen=True)
class Reference:
    label: str                     # one of ANNOUNCEMENTS
    name: str                      # carrier / voice / where it came from
    bits: tuple[int, ...]          # sub-fingerprints, dsp.HOP_MS apart


@dataclasses.dataclass(frozen=True)
class Verdict:
    label: str                     # one of LABELS
    final: bool                    # ends the attempt (an announcement, SIT, busy tone)
    decided_after_ms: int          # audio heard when it fell
    ber: float | None = None       # the match's bit error rate (announcements)
    reference: str | None = None   # the matching reference's name


def _pack(bits) -> int:
    value = 0
    for b in bits:
        value = (value << BITS) | b
    return value


class ReferenceSet:
    """The references cut into windows of `window` frames. A window that another kind's
    reference holds too (bit error rate under `shared_ber`: "您拨打的电话…") shows that an
    announcement plays, not which: it is not `decisive`. Built once, shared by the calls."""

    def __init__(self, references, window: int, shared_ber: float):
        self.window = window
        self.chunks: dict[str, list[tuple[int, str, int, bool]]] = defaultdict(list)
        packed = []
        for ref in references:
            if ref.label not in ANNOUNCEMENTS:
                raise ValueError(f"unknown announcement label {ref.label!r}")
            for start in range(0, len(ref.bits) - window + 1):
                packed.append((ref.label, _pack(ref.bits[start:start + window]), ref.name,
                               start))
        limit = shared_ber * BITS * window
        for label, value, name, start in packed:
            shared = any((value ^ other).bit_count() < limit
                         for other_label, other, _, _ in packed if other_label != label)
            self.chunks[label].append((value, name, start, not shared))


_SETS: dict[tuple, ReferenceSet] = {}


def reference_set(references, params: Params) -> ReferenceSet:
    window = max(4, params.window_ms // dsp.HOP_MS)
    key = (tuple(references), window, params.shared_ber)
    if key not in _SETS:
        if len(_SETS) > 8:
            _SETS.clear()
        _SETS[key] = ReferenceSet(references, window, params.shared_ber)
    return _SETS[key]


class Classifier:
    def __init__(self, references=(), params: Params | None = None):
        """references: Reference items (their ReferenceSet is built once and kept)."""
        self.params = p = params or Params()
        refs = reference_set(references, p)
        self.window = refs.window
        self._refs = refs.chunks
        self._mask = (1 << (BITS * self.window)) - 1
        self._analyser = dsp.Analyser()
        self.frames = 0
        self._window_bits = 0
        self._heard_bits = 0          # 1s where the window's frame was sound, not noise
        self._frame_mask = (1 << BITS) - 1
        self._active: list[bool] = []
        self._floor: float | None = None
        self._streak: tuple[str, int, int] = ("", 0, 0)   # label, lag, checks in a row
        self._run_label, self._run = "", 0
        self._runs: list[tuple[str, int]] = []     # finished runs of tone / sound / quiet
        self.counts: dict[str, int] = defaultdict(int)
        self.ringback_bursts = 0
        self._onset, self._pause = 0, 0    # where the sound began, frames without sound since
        self._sit_at = 0             # when SIT was heard: an announcement usually follows
        self.result: Verdict | None = None

    @property
    def heard_ms(self) -> int:
        return self.frames * dsp.HOP_MS

    @property
    def state(self) -> str:
        """The live line's label so far."""
        if self.result is not None:
            return self.result.label
        sound, ring = self.counts["sound"], self.counts["450"]
        if self.ringback_bursts and ring >= sound:
            return RINGBACK
        if sound * dsp.HOP_MS >= 800:
            return COLOURED
        return RINGBACK if self.ringback_bursts else SILENCE

    def feed(self, pcm: bytes) -> Verdict | None:
        if self.result is not None:
            return self.result
        for frame, bits in self._analyser.feed(pcm):
            self._frame(frame, bits)
            if self.result is not None:
                break
        return self.result

    def finish(self) -> Verdict:
        if self.result is None:
            self._end_run()
            self._tones()
            if self.result is None:
                self.result = Verdict(SIT, True, self.heard_ms) if self._sit_at else \
                    Verdict(self.state, False, self.heard_ms)
        return self.result

    # -- per frame ------------------------------------------------------------------------

    def _kind(self, frame: dsp.Frame) -> str:
        p = self.params
        floor = self._floor
        if floor is None or frame.level < floor:
            self._floor = frame.level
        else:
            self._floor = floor + p.floor_rise_db
        if floor is None or frame.level < p.floor_db or (frame.level < p.loud_db
                                                         and frame.level < floor + p.snr_db):
            return "quiet"
        best = max(range(len(dsp.TONES)), key=frame.tones.__getitem__)
        if frame.tones[best] < p.tone_share:
            return "sound"
        return ("450", "sit1", "sit1", "sit2", "sit2", "sit3")[best]

    def _frame(self, frame: dsp.Frame, bits: int) -> None:
        p = self.params
        self.frames += 1
        kind = self._kind(frame)
        self.counts[kind] += 1
        if kind == "sound":
            if self._pause >= p.pause_ms // dsp.HOP_MS or not self._onset:
                self._onset = self.frames
            self._pause = 0
        elif kind == "quiet":
            self._pause += 1
        else:                               # a tone: no announcement began before it
            self._pause = p.pause_ms // dsp.HOP_MS
        if kind != self._run_label:
            self._end_run()
            self._run_label, self._run = kind, 0
            self._tones()
            if self.result is not None:
                return
        self._run += 1
        if self._sit_at and self.heard_ms - self._sit_at >= p.sit_wait_ms:
            self.result = Verdict(SIT, True, self.heard_ms)
            return
        if self.frames == 1:
            return                                  # no sub-fingerprint of its own
        self._window_bits = ((self._window_bits << BITS) | bits) & self._mask
        self._heard_bits = ((self._heard_bits << BITS) | (self._frame_mask if kind == "sound"
                                                          else 0)) & self._mask
        self._active.append(kind == "sound")
        if len(self._active) > self.window:
            del self._active[0]
        if (len(self._active) == self.window and self.frames % p.check_every == 0
                and sum(self._active) >= p.min_active * self.window):
            self._match()

    def _end_run(self) -> None:
        if self._run:
            self._runs.append((self._run_label, self._run * dsp.HOP_MS))
            if self._run_label == "450" and 700 <= self._run * dsp.HOP_MS <= 1400:
                self.ringback_bursts += 1
            del self._runs[:-12]
        self._run = 0

    def _tones(self) -> None:
        """SIT and the busy tone, from the runs finished so far (short blips between them are
        the frames that straddle two segments)."""
        runs = [r for r in self._runs if r[1] > 48]
        tones = [r for r in runs if r[0] != "quiet"]
        if len(tones) >= 3 and [k for k, _ in tones[-3:]] == ["sit1", "sit2", "sit3"] \
                and all(150 <= ms <= 500 for _, ms in tones[-3:]):
            self._sit_at = self._sit_at or self.heard_ms
            return
        last = runs[-6:]
        if len(last) == 6 and [k for k, _ in last] in (["450", "quiet"] * 3, ["quiet", "450"] * 3) \
                and all(200 <= ms <= 550 for _, ms in last):
            self.result = Verdict(BUSY_TONE, True, self.heard_ms)

    def _match(self) -> None:
        p = self.params
        window, heard = self._window_bits, self._heard_bits
        size = heard.bit_count()
        scores: dict[str, tuple] = {}
        for label, chunks in self._refs.items():
            errors, name, start, decisive = min(
                (((window ^ chunk) & heard).bit_count(), name, start, decisive)
                for chunk, name, start, decisive in chunks)
            scores[label] = (errors / size, name, start, decisive)
        if not scores:
            return
        ranked = sorted(scores.items(), key=lambda item: item[1][0])
        label, (ber, name, start, decisive) = ranked[0]
        runner_up = ranked[1][1][0] if len(ranked) > 1 else 0.5
        lag = self.frames - start          # the same while the announcement plays on
        # as much sound heard as the reference holds up to the match (±25 %)
        heard_enough = self.frames - self._onset >= 0.75 * (start + self.window)
        if decisive and heard_enough and ber <= p.max_ber and runner_up >= ber + p.margin:
            last, last_lag, count = self._streak
            count = count + 1 if last == label and abs(lag - last_lag) <= p.lag_slack else 1
            self._streak = (label, lag, count)
            if count >= p.confirm:
                self.result = Verdict(label, True, self.heard_ms, round(ber, 3), name)
        else:
            self._streak = ("", 0, 0)
