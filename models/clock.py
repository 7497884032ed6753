"""Injectable clocks: every time-driven rule asks a clock, never datetime.now()."""
from __future__ import annotations

import datetime as dt
import threading


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class FakeClock:
    """A clock that only moves when told to (tests and simulations)."""

    def __init__(self, start: dt.datetime | None = None):
        start = start or dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, **kwargs) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(**kwargs)
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = when


SYSTEM_CLOCK = SystemClock()
