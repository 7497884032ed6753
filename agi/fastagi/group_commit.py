"""Group commit: rows from many calls written in one transaction.

    CALL_LOG = GroupCommit(insert_ivr_calls, one_statement=True)
    CALL_LOG.write(session, [values])       # returns once the rows are committed

A call that finds no write in progress leads: with its own session it writes what is queued (its
own rows among them) in one transaction and commits; calls that queue meanwhile wait, then the
first of them leads the next batch. So SQLite's single writer serves a batch per turn instead of
one call per turn, and waiting threads sleep on an Event instead of in SQLite's busy handler
(which retries after 1, 2, 5 ... 100 ms while holding a pooled connection). On PostgreSQL it
saves a commit per call, and with `one_statement` (the insert writes its rows in one statement)
the batch runs in autocommit (models.db.begin_one_statement): one round trip, not BEGIN,
INSERT and COMMIT. No thread of its own: nothing to start, stop or leak.

Every wait is bounded (`wait` seconds queued, then the leader's own bounded database waits);
a failure raises SQLAlchemyError (DBERROR for the dialplan). When a batch fails, its calls are
retried one by one so a bad row fails only its own call.
"""
from __future__ import annotations

import threading
import weakref
from typing import Callable

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from models.db import begin_one_statement


class _Entry:
    __slots__ = ("rows", "done", "lead", "taken", "error")

    def __init__(self, rows: list):
        self.rows = rows
        self.done = threading.Event()
        self.lead = False      # woken to lead the next batch
        self.taken = False     # in a batch being written
        self.error: BaseException | None = None


class _Lane:
    """The queue of one database."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queue: list[_Entry] = []
        self.leading = False


class GroupCommit:
    def __init__(self, insert: Callable[[object, list], None], *, wait: float = 5.0,
                 max_batch: int = 200, one_statement: bool = False):
        self.insert = insert
        self.one_statement = one_statement
        self.wait = wait
        self.max_batch = max_batch
        self.batches = 0
        self._lock = threading.Lock()
        self._lanes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> _Lane

    def write(self, session, rows: list) -> None:
        lane = self._lane(session)
        entry = _Entry(rows)
        with lane.lock:
            lane.queue.append(entry)
            lead = not lane.leading
            lane.leading = True
        if not lead:
            self._await(lane, entry)
            if not entry.lead:
                if entry.error is not None:
                    raise entry.error
                return
            entry.done.clear()  # it woke us to lead; now it means "written" again
        self._lead(lane, session, entry)
        if entry.error is not None:
            raise entry.error

    def _lane(self, session) -> _Lane:
        """Rows only share a transaction with rows bound for the same database."""
        bind = session.get_bind()
        engine = getattr(bind, "engine", bind)
        with self._lock:
            lane = self._lanes.get(engine)
            if lane is None:
                lane = self._lanes[engine] = _Lane()
            return lane

    def _await(self, lane: _Lane, entry: _Entry) -> None:
        if entry.done.wait(self.wait):
            return
        with lane.lock:
            if not entry.taken and not entry.done.is_set():
                lane.queue.remove(entry)
                raise OperationalError("group commit", None,
                                       TimeoutError(f"not written within {self.wait:g} s"))
        # A leader is writing it: its database waits are bounded; allow for them.
        if not entry.done.wait(2 * self.wait):
            raise OperationalError("group commit", None,
                                   TimeoutError("the batch writer did not finish"))

    def _lead(self, lane: _Lane, session, mine: _Entry) -> None:
        """Write batches from the head of the queue until `mine` is written, then hand the
        lead to the next queued call (or give it up)."""
        try:
            while not mine.done.is_set():
                with lane.lock:
                    batch = lane.queue[:self.max_batch]
                    del lane.queue[:self.max_batch]
                    for entry in batch:
                        entry.taken = True
                try:
                    self._write(session, batch)
                finally:
                    for entry in batch:
                        entry.done.set()
        finally:
            with lane.lock:
                if lane.queue:
                    heir = lane.queue[0]
                    heir.lead = True
                    heir.done.set()
                else:
                    lane.leading = False

    def _write(self, session, batch: list[_Entry]) -> None:
        self.batches += 1
        try:
            self._begin(session)
            self.insert(session, [row for entry in batch for row in entry.rows])
            session.commit()
            return
        except SQLAlchemyError as exc:
            _rollback(session)
            if len(batch) == 1:
                batch[0].error = exc
                return
        except BaseException as exc:
            _rollback(session)
            for entry in batch:
                entry.error = exc
            raise
        for entry in batch:  # one by one: find the call whose row the database refuses
            try:
                self._begin(session)
                self.insert(session, entry.rows)
                session.commit()
            except SQLAlchemyError as exc:
                _rollback(session)
                entry.error = exc


    def _begin(self, session) -> None:
        if self.one_statement:
            begin_one_statement(session)


def _rollback(session) -> None:
    try:
        session.rollback()
    except Exception:  # the connection may be gone too; the pool recovers
        pass
