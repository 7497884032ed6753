"""One reader of the `events` table per web process, for every open stream.

Each stream used to poll the table itself (four queries a second per open page: 800 a second
for 200 agents). The hub polls once per interval for every user, and hands each new row to the
queues of that user's open streams. It runs while at least one stream is open. Under gunicorn's
gevent workers its thread and queues are green; under the threaded server, plain ones."""
from __future__ import annotations

import logging
import queue
import threading
import time

from sqlalchemy import func, select

from models.db import begin_read
from models.schema import Event

log = logging.getLogger(__name__)
BATCH = 1000


class EventHub:
    def __init__(self, maker, poll: float):
        self.maker, self.poll = maker, poll
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[queue.Queue]] = {}
        self._thread: threading.Thread | None = None
        self._last: int | None = None
        self.polls = 0

    def subscribe(self, user_id: int) -> queue.Queue:
        """A queue of (id, kind, payload) for the user's rows committed from now on; the caller
        reads what came before itself (rows may arrive twice: skip ids already sent)."""
        q: queue.Queue = queue.Queue()
        with self._lock:
            if self._last is None:   # rows from here on are the hub's; earlier ones the caller's
                with self.maker() as s:
                    begin_read(s)
                    self._last = s.scalar(select(func.max(Event.id))) or 0
                    s.rollback()
            self._subscribers.setdefault(user_id, set()).add(q)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
                self._thread.start()
        return q

    def unsubscribe(self, user_id: int, q: queue.Queue) -> None:
        with self._lock:
            mine = self._subscribers.get(user_id)
            if mine is not None:
                mine.discard(q)
                if not mine:
                    del self._subscribers[user_id]

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._subscribers:
                    self._thread = self._last = None
                    return
            try:
                self._read()
            except Exception:   # a dead database: the streams wait, the next poll tries again
                log.exception("event hub: reading the events table failed")
            time.sleep(self.poll)

    def _read(self) -> None:
        with self.maker() as s:
            begin_read(s)
            rows = s.execute(select(Event.id, Event.user_id, Event.kind, Event.payload)
                             .where(Event.id > self._last).order_by(Event.id).limit(BATCH)).all()
            s.rollback()
        self.polls += 1
        if not rows:
            return
        self._last = rows[-1].id
        with self._lock:
            targets = {user_id: list(qs) for user_id, qs in self._subscribers.items()}
        for row in rows:
            for q in targets.get(row.user_id, ()):
                q.put((row.id, row.kind, row.payload))


def hub_for(app) -> EventHub:
    hub = app.extensions.get("dialfunnel.event_hub")
    if hub is None:
        hub = app.extensions["dialfunnel.event_hub"] = EventHub(
            app.extensions["dialfunnel.sessionmaker"], app.config.get("SSE_POLL_SECONDS", 1.0))
    return hub
