"""psycopg's waits on a green server: a moment blocking, then cooperative.

Under gevent psycopg waits for its socket with the patched poll: every wait, even for a socket
already writable or a reply 0.1 ms away, goes round the hub behind every other call's ready
socket. A query is two or three such waits, so at 1,000 channels a caller-ID lookup that costs
PostgreSQL 0.1-0.3 ms took 11-18 ms (median) to come back to its call. Here each wait first
polls the socket with the real, blocking poll for at most `spin` seconds (the whole worker
waits, as it does for SQLite), and only a reply slower than that (a lock, a busy backend)
waits cooperatively, so no slow query can hold the other calls for more than `spin`.

When the machine is short of CPU the backend often misses the spin, and every miss is `spin`
of the whole worker lost: then (more than one wait in MISS_LIMIT ran past it, recently) the
waits go green at once, and one in PROBE_EVERY still spins to see whether replies come back
quickly again.
"""
from __future__ import annotations

import logging
import select
from time import monotonic

from psycopg import errors, waiting

log = logging.getLogger(__name__)

SPIN_S = 0.002   # default; setting agi_db_spin_ms
MISS_LIMIT = 0.1    # the share of recent spins that ran out, past which spinning stops
PROBE_EVERY = 20    # while stopped, one wait in this many spins anyway
_DECAY = 0.05       # weight of the latest spin in the running share

_MASKS = {waiting.WAIT_R: select.POLLIN, waiting.WAIT_W: select.POLLOUT,
          waiting.WAIT_RW: select.POLLIN | select.POLLOUT}
_BAD = select.POLLERR | select.POLLHUP | select.POLLNVAL


def _ready(events: list) -> int:
    if not events:
        return waiting.READY_NONE
    ev = events[0][1]
    ready = (waiting.READY_R if ev & select.POLLIN else 0) | (waiting.READY_W if ev & select.POLLOUT else 0)
    if not ready and ev & _BAD:
        raise errors.OperationalError("connection socket closed")
    return ready or waiting.READY_NONE


def make_wait(blocking_poll, green_poll, spin: float = SPIN_S):
    """A psycopg wait function (``psycopg.waiting.wait``'s signature): `blocking_poll` and
    `green_poll` are poll-object factories (the unpatched ``select.poll`` and gevent's)."""
    spin_ms = max(0, int(round(spin * 1000)))
    stats = {"misses": 0.0, "skipped": 0}   # the running share of spins that ran out

    def spinning() -> bool:
        if not spin_ms:
            return False
        if stats["misses"] <= MISS_LIMIT:
            return True
        stats["skipped"] += 1
        return stats["skipped"] % PROBE_EVERY == 0

    def spun(missed: bool) -> None:
        stats["misses"] += _DECAY * ((1.0 if missed else 0.0) - stats["misses"])

    def wait(gen, fileno: int, interval: float = 0.0, timeout: float | None = None):
        if interval is None:
            raise ValueError("indefinite wait not supported anymore")
        deadline = None if timeout is None else monotonic() + timeout
        interval_ms = max(0, int(interval * 1000))
        quick, slow = blocking_poll(), None
        try:
            state = next(gen)
            quick.register(fileno, _MASKS[state])
            while True:
                events = []
                if slow is None and spinning():
                    events = quick.poll(spin_ms)
                    spun(not events)
                if not events:
                    if slow is None:
                        slow = green_poll()
                        slow.register(fileno, _MASKS[state])
                    left = interval_ms if deadline is None else \
                        int(max(0.0, min(interval, deadline - monotonic())) * 1000)
                    events = slow.poll(left)
                state = gen.send(_ready(events))
                (quick if slow is None else slow).modify(fileno, _MASKS[state])
                if deadline is not None and monotonic() >= deadline:
                    raise errors._WaitTimeout("wait timeout expired")
        except StopIteration as stop:
            return stop.value

    wait.stats = stats
    return wait


def install(spin: float = SPIN_S) -> None:
    """Make psycopg wait this way in this (gevent-patched) process."""
    from gevent import monkey
    from gevent import select as green_select

    waiting.wait = make_wait(monkey.get_original("select", "poll"), green_select.poll, spin)
    log.info("database waits: blocking up to %g ms before going green", spin * 1000)
