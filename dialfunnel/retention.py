"""The retention job: remove the audio of recordings past their expiry, keep the rows.

    purged = purge_expired(session, store, clock=clock)   # one round, caller commits
    retention_loop(sessionmaker, store, stop_event, interval=3600)

Order of work, per recording: delete the file first, then set ``deleted_at``. If the process
dies in between, the row still says "audio present" and the page finds the file missing (it
says so); the next round deletes nothing and marks the row. The other order could leave audio
on disk that no row points at any more, which is what retention is there to prevent.

(This module reaches the database through models.crm.recordings; the rest of recordings/ needs
only the standard library and pydub.)
"""
from __future__ import annotations

import logging
import threading

from models.clock import SYSTEM_CLOCK
from models.crm.recordings import due_for_purge, mark_deleted
from recordings.store import RecordingStore, UnsafePath

log = logging.getLogger(__name__)


def purge_expired(session, store: RecordingStore, *, clock=SYSTEM_CLOCK, limit: int = 500) -> int:
    """Delete the audio of expired recordings (at most ``limit``); returns how many rows were
    marked. The caller commits."""
    now = clock.now()
    count = 0
    for rec in due_for_purge(session, now, limit=limit):
        try:
            store.delete(rec.file_key)
        except UnsafePath:
            # A key that is not ours, or a symlink planted under it: never follow it, but the
            # recording's audio is no longer reachable through us either way.
            log.warning("recording %s: refused to delete %r (unsafe); marked deleted", rec.id,
                        rec.file_key)
        except OSError as exc:
            log.error("recording %s: cannot delete %r: %s (will retry)", rec.id, rec.file_key, exc)
            continue
        mark_deleted(session, rec, now)
        count += 1
    return count


def run_once(sessionmaker, store: RecordingStore, *, clock=SYSTEM_CLOCK, batch: int = 500) -> int:
    total = 0
    while True:
        with sessionmaker.begin() as session:
            n = purge_expired(session, store, clock=clock, limit=batch)
        total += n
        if n < batch:
            return total


def retention_loop(sessionmaker, store: RecordingStore, stop: threading.Event, *,
                   interval: float = 3600.0, clock=SYSTEM_CLOCK) -> None:
    """Run the job every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            n = run_once(sessionmaker, store, clock=clock)
            if n:
                log.info("recordings: audio of %d expired recordings removed", n)
        except Exception:  # a dead database must not kill the worker
            log.exception("recording retention round failed")
        stop.wait(interval)
