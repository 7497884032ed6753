"""One wallboard builder per web process, for every open wallboard stream.

Why this is not "polling the database per agent": the builder (one thread per process, alive
while a wallboard stream is open, or the event stream of a manager who set alerts: the pops
must reach him on any page) rebuilds the whole board every tick (settings.wallboard_tick_ms,
default 500 ms) with a fixed handful of set-based queries (models.dialer.wallboard: under
twenty statements, the same for 5 agents or 50, counted by tests/models/dialer/
test_wallboard.py), reading what the AMI listener and the dialer write (the call log,
agent_states, dial_attempts). It hands a board to the streams only when something in it
changed; each viewer's part and diff is cut from it in memory, once per viewer and board
however many screens show it (`message`). So the database load is one build per tick per
process, whatever the number of agents and viewers, and a change reaches the browser within a
tick plus the build (bench/wallboard.py: p99 about 0.6-0.7 s with 200 agents). Waking on a
PostgreSQL NOTIFY instead would need every writer to send one and does not exist on SQLite.

Alerts are evaluated on each build; the rare write (a new occurrence) goes through its own
session. Under gunicorn's gevent workers the thread and queues are green, as the event hub's
(admin/events/hub.py)."""
from __future__ import annotations

import json
import logging
import queue
import threading
import time

from models.db import begin_read
from models.dialer.wallboard import Wallboard, diff, view

log = logging.getLogger(__name__)


class BoardHub:
    def __init__(self, maker, clock, tick: float):
        self.maker, self.clock, self.tick = maker, clock, tick
        self.wallboard = Wallboard()
        self._lock = threading.Lock()
        self._subscribers: set[queue.Queue] = set()
        self._watchers = 0   # managers' pages open elsewhere: their alerts must still pop
        self._thread: threading.Thread | None = None
        self._key: str | None = None
        self.latest: dict | None = None
        self.builds = 0
        self._messages: dict[tuple, tuple[dict, str | None]] = {}

    def subscribe(self) -> queue.Queue:
        """A queue that gets each new board (the latest one first, when there is one)."""
        q: queue.Queue = queue.Queue()
        with self._lock:
            if self.latest is not None:
                q.put(self.latest)
            self._subscribers.add(q)
            self._start()
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            self._subscribers.discard(q)

    def watch(self) -> None:
        """Keep building (for the alerts) while a manager with alerts has a page open."""
        with self._lock:
            self._watchers += 1
            self._start()

    def unwatch(self) -> None:
        with self._lock:
            self._watchers -= 1

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wallboard", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._subscribers and not self._watchers:
                    self._thread = self.latest = self._key = None
                    return
            started = time.monotonic()
            try:
                self.build()
            except Exception:   # a dead database: the streams wait, the next tick tries again
                log.exception("wallboard: building the board failed")
            time.sleep(max(0.0, self.tick - (time.monotonic() - started)))

    def build(self) -> dict:
        now = self.clock.now()
        with self.maker() as s:
            begin_read(s)
            board = self.wallboard.build(s, now)
            new = self.wallboard.evaluate_alerts(s, board, now)
            s.rollback()
        if new:
            with self.maker() as s:
                self.wallboard.fire(s, new, now)
                s.commit()
        self.builds += 1
        key = json.dumps({k: v for k, v in board.items() if k != "now"}, sort_keys=True,
                         default=str)
        if key != self._key:
            self._key = key
            board["serial"] = self.builds
            with self._lock:
                self.latest = board
                targets = list(self._subscribers)
            for q in targets:
                q.put(board)
        return board


    def message(self, before: dict | None, board: dict, viewer, sent: dict | None) -> tuple[dict, str | None]:
        """(the viewer's part of `board`, the SSE message to send after `before`), computed
        once for every stream of the same viewer that was at the same board (the usual case:
        a wall of screens, a manager with two tabs)."""
        key = (before["serial"] if before else None, board["serial"], viewer.id,
               viewer.role.is_admin, viewer.role.mask_numbers)
        with self._lock:
            found = self._messages.get(key)
        if found is not None:
            return found
        part = view(board, viewer)
        if sent is None:
            text = _sse("board", part)
        else:
            change = diff(sent, part)
            text = _sse("diff", change) if change is not None else None
        with self._lock:
            if any(k[1] != board["serial"] for k in self._messages):   # only the newest board's
                self._messages = {k: v for k, v in self._messages.items()
                                  if k[1] == board["serial"]}
            self._messages[key] = (part, text)
        return part, text


def _sse(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def board_for(app) -> BoardHub:
    hub = app.extensions.get("dialfunnel.wallboard")
    if hub is None:
        hub = app.extensions["dialfunnel.wallboard"] = BoardHub(
            app.extensions["dialfunnel.sessionmaker"], app.extensions["dialfunnel.clock"],
            app.config.get("WALLBOARD_TICK_SECONDS", 0.5))
    return hub
