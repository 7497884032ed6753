"""Pacing: how many new lines the dialer places now (pure code, no database, no I/O).

The engine builds a Snapshot about once a second and whenever an agent becomes ready, asks
``lines_to_launch`` and reports what happens through the ``on_*`` calls. Modes (make_pacer):
  predictive     ours (pacing_predictive.PredictivePacer, docs/pacing.md)
  progressive    one line per ready agent, minus lines in flight and calls waiting
  adapt_tapered  reference: our reading of VICIdial's ADAPT_TAPERED dial method
  naive          reference: k * (free agents + half of those free within 15 s) / answer rate
  preview        no automatic lines (the agent dials)
  voice          no agents (an IVR flow answers): every line the campaign and the trunk allow
Every mode stays within ``Snapshot.free_lines`` (the campaign's and the trunk's line limits).
"""
from __future__ import annotations

import inspect
import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from agi.dialer.pacing_estimators import WrapModel
from agi.dialer.pacing_predictive import PredictivePacer

RESULT_KINDS = ("live", "machine", "dead", "busy", "noanswer", "congestion", "failed")


@dataclass(frozen=True)
class AgentView:
    state: str               # "ready" | "on_call" | "wrap_up"
    seconds_in_state: float


@dataclass(frozen=True)
class Snapshot:
    now: float                   # epoch seconds from the injected clock
    agents: tuple[AgentView, ...]
    lines: tuple[float, ...]     # age (s) of each dialled, not yet answered line
    waiting: int                 # answered live calls waiting for an agent
    abandon_cap: float           # fraction, e.g. 0.03
    ring_timeout: float          # seconds
    at_cap: bool = False         # the campaign's 24 h abandon rate has reached the cap
    free_lines: int | None = None  # lines the campaign's and the trunk's limits still allow


class Pacer(Protocol):
    name: str

    def lines_to_launch(self, snap: Snapshot) -> int: ...
    def on_result(self, now: float, kind: str, ring_seconds: float) -> None: ...
    def on_connected(self, now: float, wait_seconds: float) -> None: ...
    def on_abandoned(self, now: float) -> None: ...
    def on_talk_end(self, now: float, talk_seconds: float) -> None: ...
    def on_wrap_end(self, now: float, wrap_seconds: float) -> None: ...


def count_states(snap: Snapshot) -> dict[str, int]:
    counts = {"ready": 0, "on_call": 0, "wrap_up": 0}
    for agent in snap.agents:
        counts[agent.state] = counts.get(agent.state, 0) + 1
    return counts


def launch(pacer, snap: Snapshot) -> int:
    """The pacer's lines, but never more than one per ready agent while the campaign is at its
    abandon cap (the pacer's own model may lag: a restart, agents who left with lines out)."""
    wanted = max(0, int(pacer.lines_to_launch(snap)))
    if snap.at_cap:
        wanted = min(wanted, ProgressivePacer().lines_to_launch(snap))
    if snap.free_lines is not None:
        wanted = min(wanted, max(0, snap.free_lines))
    return wanted


class _Quiet:
    """Feedback a pacer does not use."""

    def on_result(self, now: float, kind: str, ring_seconds: float) -> None:
        pass

    def on_connected(self, now: float, wait_seconds: float) -> None:
        pass

    def on_abandoned(self, now: float) -> None:
        pass

    def on_talk_end(self, now: float, talk_seconds: float) -> None:
        pass

    def on_wrap_end(self, now: float, wrap_seconds: float) -> None:
        pass


class PreviewPacer(_Quiet):
    name = "preview"

    def lines_to_launch(self, snap: Snapshot) -> int:
        return 0


class VoicePacer(_Quiet):
    """A voice campaign: its calls need no agent, so every free line is dialled."""
    name = "voice"

    def lines_to_launch(self, snap: Snapshot) -> int:
        return max(0, snap.free_lines or 0)


class ProgressivePacer(_Quiet):
    name = "progressive"

    def lines_to_launch(self, snap: Snapshot) -> int:
        ready = count_states(snap)["ready"]
        return max(0, ready - snap.waiting - len(snap.lines))


class NaivePacer(_Quiet):
    """Lines in flight = k * (free agents + half of the wrap-ups ending within 15 s) / answer
    rate, the answer rate measured over the last results (prior 0.3)."""
    name = "naive"

    def __init__(self, *, k: float = 0.45, soon: float = 15.0, window: int = 1000):
        self.k = k
        self.soon = soon
        self.results: deque = deque(maxlen=window)
        self.wrap = WrapModel()

    def on_result(self, now: float, kind: str, ring_seconds: float) -> None:
        self.results.append(kind == "live")

    def on_wrap_end(self, now: float, wrap_seconds: float) -> None:
        self.wrap.add(wrap_seconds)

    def answer_rate(self) -> float:
        return (sum(self.results) + 6.0) / (len(self.results) + 20.0)

    def lines_to_launch(self, snap: Snapshot) -> int:
        wrap = self.wrap.mean()
        free = count_states(snap)["ready"] - snap.waiting
        soon = sum(1 for a in snap.agents if a.state == "wrap_up" and wrap - a.seconds_in_state <= self.soon)
        target = self.k * (max(0, free) + 0.5 * soon) / max(0.02, self.answer_rate())
        return max(0, int(target + 0.5) - len(snap.lines))


class AdaptTaperedPacer(_Quiet):
    """VICIdial's ADAPT_TAPERED as publicly described (docs/pacing.md): once a second a sample
    of ready agents minus waiting calls; every 15 s the dial level is multiplied by
    1 + mean(differential) / mean(agents), capped at `max_level`, floored at 1.0; when the day's
    drop % (abandons / live answers, after 50 dials) passes the cap, the level is multiplied by
    the share of `taper_hours` left before `shift_end` (1.0 once past it). Lines wanted =
    level * (ready + on-call agents) - (lines in flight + waiting calls + calls with agents)."""
    name = "adapt_tapered"

    def __init__(self, *, max_level: float = 3.0, shift_hours: float = 8.0, shift_end: float | None = None,
                 taper_hours: float = 10.0, period: float = 15.0, samples: int = 15, dl_diff_target: float = 0.0,
                 available_only: bool = True):
        self.level = 1.0
        self.available_only = available_only
        self.max_level = max_level
        self.shift_hours = shift_hours
        self.shift_end = shift_end
        self.taper_hours = taper_hours
        self.period = period
        self.dl_diff_target = dl_diff_target
        self.samples: deque = deque(maxlen=samples)
        self.last_sample = -math.inf
        self.last_adjust = None
        self.cap = 0.03
        self.dials = self.answers = self.drops = 0
        self.minute: deque = deque()  # (time, "dial" | "live" | "drop")

    def on_result(self, now: float, kind: str, ring_seconds: float) -> None:
        self.dials += 1
        self.minute.append((now, "dial"))
        if kind == "live":
            self.answers += 1
            self.minute.append((now, "live"))

    def on_abandoned(self, now: float) -> None:
        self.drops += 1
        self.minute.append((now, "drop"))

    def lines_to_launch(self, snap: Snapshot) -> int:
        now = snap.now
        self.cap = snap.abandon_cap
        if self.shift_end is None:
            self.shift_end = now + self.shift_hours * 3600.0
        if self.last_adjust is None:
            self.last_adjust = now
        counts = count_states(snap)
        if now - self.last_sample >= 1.0:
            self.last_sample = now
            self.samples.append((counts["ready"] - snap.waiting, len(snap.agents)))
        if now - self.last_adjust >= self.period and self.samples:
            self.last_adjust = now
            self._adjust(now)
        if self.available_only:
            goal = self.level * counts["ready"]
            active = len(snap.lines) + snap.waiting
        else:
            goal = self.level * (counts["ready"] + counts["on_call"])
            active = len(snap.lines) + snap.waiting + counts["on_call"]
        return max(0, int(goal + 0.5) - active)

    def _adjust(self, now: float) -> None:
        diff = sum(s[0] for s in self.samples) / len(self.samples)
        agents = sum(s[1] for s in self.samples) / len(self.samples)
        if agents > 0:
            self.level *= 1.0 + (diff + self.dl_diff_target) / agents
        self.level = min(self.max_level, max(1.0, self.level))
        while self.minute and self.minute[0][0] < now - 60.0:
            self.minute.popleft()
        dials = sum(1 for _, e in self.minute if e == "dial")
        lives = sum(1 for _, e in self.minute if e == "live")
        drops = sum(1 for _, e in self.minute if e == "drop")
        if dials > 20 and lives and drops / lives > 0.5:
            self.level /= 2.0
        if self.dials > 50 and self.answers and self.drops / self.answers > self.cap:
            left = (self.shift_end - now) / 3600.0
            self.level = 1.0 if left < 0 else self.level * min(1.0, left / self.taper_hours)
        self.level = max(1.0, self.level)


PACERS = {"predictive": PredictivePacer, "progressive": ProgressivePacer,
          "adapt_tapered": AdaptTaperedPacer, "naive": NaivePacer, "preview": PreviewPacer,
          "voice": VoicePacer}


def make_pacer(mode: str, **options) -> Pacer:
    """A new pacer for `mode`. Options a mode's pacer does not take are left out (the engine
    passes one set of options for every mode); an option no pacer takes is an error."""
    try:
        cls = PACERS[mode]
    except KeyError:
        raise ValueError(f"unknown pacing mode {mode!r}") from None
    unknown = set(options).difference(*(_options(c) for c in PACERS.values()))
    if unknown:
        raise TypeError(f"unknown pacer options: {', '.join(sorted(unknown))}")
    accepted = _options(cls)
    return cls(**{k: v for k, v in options.items() if k in accepted})


def _options(cls) -> set[str]:
    if "__init__" not in cls.__dict__:
        return set()
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
