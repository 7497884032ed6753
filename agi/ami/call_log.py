"""The call log fed from the AMI event stream (issue 13): every call's row in ``calls``.

    log = CallLog(sessionmaker, client).start()   # the ScreenPopListener starts one by itself
    ...
    log.stop()

The AMI client's dispatcher thread only queues the events (with the time they arrived); one
writer thread applies them in arrival order through models.telephony.calls and commits in
small batches: it takes whatever is queued (up to ``max_batch`` events) into one transaction,
so under load many events share a commit and when idle each event is committed at once (no
waiting for more). A batch that fails is rolled back and its events are applied one by one, so
a bad event loses only itself.

On SQLite a batch's reads run in a read (deferred) transaction beside the other writers, and
the write lock is taken only to apply and write (the screen pops' writes hold it often). What
was read stays right under the lock: the event columns and the legs are written by this writer
only, the columns others write (the dialer's status, a customer attached, the wrap-up) are kept
by the UPDATE (``COALESCE`` or not written at all); a call or leg another writer added since the
read breaks the unique key, and the batch is applied again one event at a time under the lock;
the dialer's outcomes, which it may write meanwhile, are read again under the lock
(models.telephony.calls.reread_outcomes).

On connect and every reconnect the writer asks for ``CoreShowChannels``; the list (events of
the same stream, applied in order) reconciles the database with the live channels
(models.telephony.calls.reconcile): calls whose channels are gone are closed, live channels the
database does not know are added.
"""
from __future__ import annotations

import collections
import datetime as dt
import logging
import queue
import threading
import time
import uuid
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError

from agi.ami.client import AMIClient, AMIError
from agi.ami.wire import Message
from models.clock import SYSTEM_CLOCK
from models.crm.recordings import kind_for_context
from models.db import begin_one_statement, begin_read
from models.telephony import calls
from models.telephony.calls import Chan

log = logging.getLogger(__name__)

EVENTS = ("Newchannel", "DialBegin", "DialEnd", "BridgeEnter", "BridgeLeave", "Hangup",
          "QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave", "AgentConnect",
          "MusicOnHoldStart", "MusicOnHoldStop", "CoreShowChannel", "CoreShowChannelsComplete",
          "ConfbridgeJoin")
_SNAPSHOT = "snapshot"
# The events whose writes are more than the batch's one write statement (a three-way call's
# legs moved, a reconcile): a batch with one runs in a transaction on PostgreSQL (``_write``).
_MANY_WRITES = {"ConfbridgeJoin", "CoreShowChannel", "CoreShowChannelsComplete"}
# The events whose numbers may name the call's customer (a new call's first channel, a Dial);
# a number another event brings is looked up when needed (models.telephony.calls._customer).
_NUMBERED = {"Newchannel", "DialBegin", "CoreShowChannel"}
# The headers that may name an agent's phone (a channel, an interface, a phone's caller ID):
# their agents are looked up once per batch (models.telephony.calls.agent_of).
_AGENT_NAMED = {"Newchannel": ("channel",), "BridgeEnter": ("channel",), "BridgeLeave": ("channel",),
                "DialBegin": ("channel", "destchannel", "calleridnum"), "CoreShowChannel": ("channel",),
                "AgentConnect": ("destchannel", "interface")}


def headers(msg: Message) -> dict[str, str]:
    """An event's headers by lower-cased name (the first of each), read once."""
    out: dict[str, str] = {}
    for key, value in msg.headers:
        out.setdefault(key.lower(), value)
    return out


def chan(msg: Message | dict, prefix: str = "") -> Chan | None:
    """The channel a message is about (``Dest`` prefix: the dialled one)."""
    h = msg if isinstance(msg, dict) else headers(msg)
    p = prefix.lower()
    name, uid = h.get(p + "channel"), h.get(p + "uniqueid")
    if not name or not uid:
        return None
    state = h.get(p + "channelstate")
    return Chan(channel=name, uniqueid=uid[:64], linkedid=(h.get(p + "linkedid") or uid)[:64],
                state=int(state) if state and state.isdigit() else None,
                caller_num=h.get(p + "calleridnum"), connected_num=h.get(p + "connectedlinenum"),
                context=h.get(p + "context"), exten=h.get(p + "exten"))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _timestamp(msg: Message) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(float(msg.get("Timestamp") or ""), dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def _duration(value: str | None) -> float:
    """CoreShowChannel's ``Duration: HH:MM:SS`` in seconds."""
    try:
        h, m, s = (int(part) for part in (value or "").split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)


class CallLog:
    def __init__(self, sessionmaker, client: AMIClient, *, clock=SYSTEM_CLOCK,
                 agent_context_prefixes: tuple[str, ...] = ("dialfunnel-trunk-out",),
                 max_batch: int = 2000,
                 on_commit: Callable[[list[tuple[Message, float]], float], None] | None = None):
        """``on_commit(events, committed_at)``: after each commit, the batch's events with the
        ``time.monotonic()`` each arrived at (benchmarks, tests)."""
        self.maker = sessionmaker
        self.client = client
        self.clock = clock
        self.agent_prefixes = tuple(agent_context_prefixes)
        self.max_batch = max_batch
        self.on_commit = on_commit
        self.stats = collections.Counter()
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._snapshot: tuple[str, dt.datetime] | None = None   # (ActionID, when it was sent)
        self._live: list[tuple[Chan, float]] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "CallLog":
        for name in EVENTS:
            self.client.on(name, self.handle)
        self.client.add_on_connect(lambda _client: self._queue.put((_SNAPSHOT, None, 0.0)))
        self._thread = threading.Thread(target=self._writer, name="call-log-writer", daemon=True)
        self._thread.start()
        if self.client.connected:
            self._queue.put((_SNAPSHOT, None, 0.0))
        return self

    def stop(self) -> None:
        for name in EVENTS:
            self.client.off(name, self.handle)
        self._queue.put(None)
        if self._thread:
            self._thread.join(timeout=10)

    def handle(self, msg: Message) -> None:
        """Queue one event (the AMI dispatcher thread) with its time: the event's own
        ``Timestamp`` (manager.conf ``timestampevents = yes``), else when it arrived."""
        self._queue.put((msg, _timestamp(msg) or self.clock.now(), time.monotonic()))

    def sync(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is committed (tests)."""
        done = threading.Event()
        self._queue.put((done, None, 0.0))
        return done.wait(timeout)

    # ------------------------------------------------------------------ the writer
    def _writer(self) -> None:
        session = self.maker()
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if not self._run(session, batch):
                    return
        finally:
            session.close()

    def _run(self, session, batch: list) -> bool:
        """Apply a batch; False at the stop marker."""
        events, waiters = [], []
        for item in batch:
            if item is None:
                self._commit(session, events)
                return False
            what = item[0]
            if what == _SNAPSHOT:
                self._commit(session, events)
                events = []
                self._ask_channels()
            elif isinstance(what, threading.Event):
                waiters.append(what)
            else:
                events.append(item)
        self._commit(session, events)
        for waiter in waiters:
            waiter.set()
        return True

    def _commit(self, session, events: list) -> None:
        if not events:
            return
        sqlite = session.get_bind().dialect.name == "sqlite"
        try:
            heads = [headers(msg) for msg, _, _ in events]
            alone = not sqlite and not any(msg.name in _MANY_WRITES for msg, _, _ in events)
            if not (alone and self._write(session, events, heads, sqlite, alone=True)):
                self._write(session, events, heads, sqlite, alone=False)
        except SQLAlchemyError:
            session.rollback()
            calls.forget(session)
            self.stats["batch_retries"] += 1
            log.warning("call log: a batch of %d events failed; applying them one by one",
                        len(events), exc_info=True)
            for msg, now, _ in events:
                self._apply_alone(session, msg, now)
        committed = time.monotonic()
        self.stats["events"] += len(events)
        self.stats["batches"] += 1
        if self.on_commit:
            self.on_commit([(msg, arrived) for msg, _, arrived in events], committed)

    def _write(self, session, events: list, heads: list, sqlite: bool, *, alone: bool) -> bool:
        """Apply and commit a batch. ``alone`` (PostgreSQL): the batch's reads and its one
        write statement run without a transaction (autocommit: no BEGIN and COMMIT round trips;
        the reads see what each sees in a transaction at READ COMMITTED, the one write is atomic
        by itself); False, having written nothing, when applying the batch left more to write
        than that statement (models.telephony.calls.one_write). Applying never writes: the
        events whose functions flush on their own (``_MANY_WRITES``) always get a transaction."""
        started = time.perf_counter()
        if sqlite:
            begin_read(session)
        elif alone:
            begin_one_statement(session)
        calls.prefetch(session, {h.get(p + "linkedid") for h in heads for p in ("", "dest")},
                       {h.get(p + "uniqueid") for h in heads for p in ("", "dest")},
                       {h.get(p + k) for (msg, _, _), h in zip(events, heads)
                        if msg.name in _NUMBERED for p in ("", "dest")
                        for k in ("calleridnum", "exten")},
                       {h.get(k) for (msg, _, _), h in zip(events, heads)
                        if msg.name in _AGENT_NAMED for k in _AGENT_NAMED[msg.name]})
        read = locked = time.perf_counter()
        if sqlite:
            session.commit()
            session.connection()        # BEGIN IMMEDIATE: the write lock, only to write
            locked = time.perf_counter()
            calls.reread_outcomes(session)
        with session.no_autoflush:
            for (msg, now, _), h in zip(events, heads):
                self._apply(session, msg, now, h)
        applied = time.perf_counter()
        if alone and not calls.one_write(session):
            session.rollback()
            calls.forget(session)
            self.stats["batches_in_transaction"] += 1
            return False
        calls.write_batch(session)
        session.flush()
        written = time.perf_counter()
        session.commit()
        # where a batch's time goes: reads, waiting for the write lock (SQLite), applying
        # the events, writing, the commit
        for key, ms in (("prefetch_ms", read - started), ("lock_ms", locked - read),
                        ("apply_ms", applied - locked),
                        ("write_ms", written - applied),
                        ("commit_ms", time.perf_counter() - written)):
            self.stats[key] = round(self.stats[key] + ms * 1000, 1)
        return True

    def _apply_alone(self, session, msg: Message, now: dt.datetime, tries: int = 3) -> None:
        """One event in its own transaction. Another writer may be inserting the same call at
        that moment (PostgreSQL makes the second insert wait for the first's commit, then
        refuses it), so an event is tried again: the next time it finds the committed row."""
        for attempt in range(1, tries + 1):
            try:
                self._apply(session, msg, now)
                session.commit()
                return
            except SQLAlchemyError:
                session.rollback()
                calls.forget(session)
                if attempt == tries:
                    self.stats["errors"] += 1
                    log.exception("call log: %s event failed", msg.name)

    def _ask_channels(self) -> None:
        """Send CoreShowChannels; its list arrives as events and reconciles at the end."""
        try:
            sent_at = self.clock.now()
            action_id = f"call-log-{uuid.uuid4().hex[:12]}"
            self._snapshot, self._live = (action_id, sent_at), []
            response = self.client.send_action("CoreShowChannels", action_id=action_id)
            if response.response != "Success":
                log.warning("call log: CoreShowChannels refused: %s", response.get("Message"))
                self._snapshot = None
        except AMIError as exc:
            log.warning("call log: CoreShowChannels failed: %s", exc)
            self._snapshot = None

    # ------------------------------------------------------------------ one event
    def _apply(self, session, msg: Message, now: dt.datetime, h: dict | None = None) -> None:
        name = msg.name
        if name in ("CoreShowChannel", "CoreShowChannelsComplete"):
            self._listed(session, msg, now)
            return
        h = h or headers(msg)
        ch = chan(h)
        if name == "Newchannel" or name in ("BridgeEnter", "BridgeLeave"):
            if ch:
                calls.channel_seen(session, ch, now)
        elif name == "Hangup":
            if ch:
                calls.channel_ended(session, ch, _int(h.get("cause")), now)
        elif name in ("DialBegin", "DialEnd"):
            dest = chan(h, "Dest")
            if dest is None:
                return
            if name == "DialBegin":
                agent_ctx = bool(ch) and kind_for_context(ch.context, agent=self.agent_prefixes) == "agent"
                calls.dial_begin(session, ch, dest, now, from_agent_context=agent_ctx)
            else:
                calls.dial_end(session, ch, dest, h.get("dialstatus") or "", now)
        elif ch is None:
            return
        elif name == "QueueCallerJoin":
            calls.queue_joined(session, ch, h.get("queue"), now)
        elif name in ("QueueCallerAbandon", "QueueCallerLeave"):
            calls.queue_left(session, ch, now, abandoned=name == "QueueCallerAbandon",
                             hold_time=_int(h.get("holdtime")))
        elif name == "AgentConnect":
            calls.agent_connect(session, ch, h.get("destchannel") or h.get("interface"), now)
        elif name in ("MusicOnHoldStart", "MusicOnHoldStop"):
            calls.hold(session, ch, name == "MusicOnHoldStart", now)
        elif name == "ConfbridgeJoin":
            calls.conference_joined(session, ch, h.get("conference"), now)

    def _listed(self, session, msg: Message, now: dt.datetime) -> None:
        if self._snapshot is None or msg.action_id != self._snapshot[0]:
            return
        if msg.name == "CoreShowChannel":
            ch = chan(msg)
            if ch:
                self._live.append((ch, _duration(msg.get("Duration"))))
            return
        since = self._snapshot[1]
        added, closed = calls.reconcile(session, self._live, now, since)
        self._snapshot, self._live = None, []
        self.stats["reconciles"] += 1
        log.info("call log reconciled: %d live channels added, %d calls closed", added, closed)
