"""Clocks for the PBX simulator: the same ``now() -> aware datetime`` as ``models.clock``, so the
dialer and the simulator can share one clock, plus a way for the simulator's scheduler to know
how long to sleep in real time.

* ``models.clock.SystemClock``: real time.
* ``FakeClock`` (here): a ``models.clock.FakeClock`` that wakes the simulator when advanced —
  tests and the eight-hour campaign simulation move it by hand, nothing waits.
* ``ScaledClock``: runs ``speed`` times faster than real time (demo, benchmark).
A plain ``models.clock.FakeClock`` works too; the scheduler then polls it every 10 ms.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Callable

from models.clock import FakeClock as _ModelsFakeClock
from models.clock import SystemClock

__all__ = ["SystemClock", "FakeClock", "ScaledClock", "real_timeout", "subscribe", "epoch"]


class FakeClock(_ModelsFakeClock):
    """Moves only when told to; tells subscribers (the simulator's scheduler) when it moves."""

    def __init__(self, start: dt.datetime | None = None):
        super().__init__(start)
        self._subscribers: list[Callable[[], None]] = []
        self._sub_lock = threading.Lock()

    def subscribe(self, callback: Callable[[], None]) -> None:
        with self._sub_lock:
            self._subscribers.append(callback)

    def _notify(self) -> None:
        with self._sub_lock:
            callbacks = list(self._subscribers)
        for cb in callbacks:
            cb()

    def advance(self, **kwargs) -> dt.datetime:
        now = super().advance(**kwargs)
        self._notify()
        return now

    def set(self, when: dt.datetime) -> None:
        super().set(when)
        self._notify()


class ScaledClock:
    """Simulated time = start + speed × elapsed real time."""

    def __init__(self, speed: float = 60.0, start: dt.datetime | None = None):
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._start = start or dt.datetime.now(dt.timezone.utc)
        self._t0 = time.monotonic()

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=(time.monotonic() - self._t0) * self.speed)


def epoch(clock) -> float:
    return clock.now().timestamp()


def subscribe(clock, callback: Callable[[], None]) -> bool:
    """Ask ``clock`` to call ``callback`` whenever it jumps; False if it cannot."""
    sub = getattr(clock, "subscribe", None)
    if sub is None:
        return False
    sub(callback)
    return True


def real_timeout(clock, seconds: float) -> float | None:
    """Real seconds to sleep until ``seconds`` of simulated time have passed on ``clock``
    (None: sleep until the clock notifies)."""
    seconds = max(0.0, seconds)
    if isinstance(clock, _ModelsFakeClock):
        if seconds == 0:
            return 0.0
        return None if hasattr(clock, "subscribe") else 0.01
    if isinstance(clock, ScaledClock):
        return seconds / clock.speed
    return seconds
