"""The AMI event listener: screen pops (T3) and recordings (T5).

    listener = ScreenPopListener(sessionmaker, host=..., port=5038, username=..., secret=...,
                                 store=RecordingStore(settings.recordings_path,
                                                      settings.recordings_incoming_path)).start()
    ...
    listener.stop()

or ``python -m agi.ami.listener`` (settings as for the rest of dialfunnel).

Screen pops. A call "rings an agent" when Asterisk reports (see the transcripts in
tests/fixtures/asterisk: ami-dial.txt, ami-queue.txt):
  * ``DialBegin`` whose ``DestChannel`` is an agent's phone: ``PJSIP/<ext>-0000002a`` (also SIP/,
    IAX2/) or a Local channel ``Local/<ext>@<context>-00000011;1``;
  * ``AgentCalled`` (a queue rings a member): ``DestChannel``, else the member ``Interface``
    (``Local/agent1@agents/n``, ``PJSIP/8001``).
``<ext>`` is matched against ``User.extension`` (active users only); the caller's number is the
``CallerIDNum`` of the calling channel (``Channel`` headers), else the dialled side's
``DestConnectedLineNum`` (an Originate's DialBegin has no calling channel). A queue call gives
AgentCalled and DialBegin for the same ring: one pop per (call ``Linkedid``, agent).
The pop is ``models.telephony.popups.create_pop_event``: an ``Event(kind="screen_pop")`` row for the agent,
which admin/events/ streams to the agent's open pages. Events are handled in arrival order
on one thread of the listener (the AMI client's dispatcher only queues them); a pop costs a
few queries and one commit.

Recordings. ``VarSet MIXMONITOR_FILENAME`` (dialplan class, ami-mixmonitor*.txt) tells which file
a channel records to; when that channel hangs up (``Hangup``) or the recording is stopped
(``MixMonitorStop``), a worker thread (so pops never wait behind audio work) waits for the file
to stop growing, compresses it into the recording store (recordings/store.py: only the file's
last name component is used, looked up in the incoming folder), and adds the Recording row
linked to the call (Uniqueid, Linkedid), the agent who answered (DialEnd ANSWER /
AgentConnect), the dialer attempt (the recorded channel's Uniqueid is the Originate ChannelId),
the customer (the attempt's, else the one customer with the caller's number) and the agent's
contact record (models.crm.recordings.belongs); a channel with ``VarSet DIALFUNNEL_AGENT`` (an
agent's own call, recorded on the customer's channel) is of kind ``agent`` and that agent's.
Without the VarSet (an ``Events:`` filter without
``dialplan``), a ``<Uniqueid>.wav`` in the incoming folder is picked up at hangup all the same.
``ingest_recording`` is the same step for the FastAGI ``recording_done`` handler the dialplan
runs as a hangup handler (dialplan/extensions_dialfunnel.conf). On a real Asterisk that
handler runs BEFORE the channel's Hangup event (tests/fixtures/asterisk/real-run-2026-12), so
it stores the recording and the listener, at the Hangup, only fills the links still missing
(a uniqueid is stored once; the two paths complement each other). ``--no-recordings`` leaves
recordings to the handler alone.

Agent states (issue 14): a queue call the agent answers (``AgentConnect``) puts him on_call and
its end (``AgentComplete``) into wrap-up (models.dialer.agent_states.inbound_connected /
inbound_ended), so the dialer gives him nothing meanwhile.

The call log (issue 13): unless ``call_log=False``, the same stream keeps ``calls`` and
``call_legs`` (agi/ami/call_log.py: its own writer thread, so pops and the log do not wait for
each other). The worker gives the call log a process and a connection of its own instead
(agi/ami/call_log_process.py) and this listener ``call_log=False``: its connection then asks
Asterisk only for ``POP_EVENTS``.

Reconnects: the AMIClient reconnects with capped backoff by itself once it was connected; the
first connection is retried here (Asterisk may start after us). Events lost while disconnected
are lost (a call that rang during the gap gets no pop).
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
import os
import queue
import random
import threading
import time
from typing import Callable

from sqlalchemy.exc import IntegrityError

from agi.ami import call_log as call_log_events
from agi.ami.call_log import CallLog
from agi.ami.client import AMIAuthError, AMIClient, AMIError, backoff_delays
from agi.ami.wire import Message
from models.clock import SYSTEM_CLOCK
from models.crm.recordings import by_uniqueid, complete_links, create_recording, kind_for_context
from models.db import begin_read
from models.dialer.click_to_call import is_click_to_call
from models.dialer.agent_states import inbound_connected, inbound_ended
from models.schema import Recording, User
from models.telephony.channels import agent_endpoint
from models.telephony.popups import build_pop, clean_number, create_pop_event, user_for_extension
from recordings.analysis import analyse_incoming, remove_legs
from recordings.analysis import keep as keep_analysis
from recordings.store import RecordingStore, UnsafePath, incoming_name, safe_stem, shown, store_wav

log = logging.getLogger(__name__)

EVENTS = "call,agent,dialplan"  # Login's Events filter: Dial*/Hangup/MixMonitor*, Agent*, VarSet
# The events of the pops, agents' states and recordings: the only ones the listener's own
# connection asks for (the Filter action; with the call log in the same process, its too).
POP_EVENTS = ("DialBegin", "AgentCalled", "DialEnd", "AgentConnect", "AgentComplete", "VarSet",
              "MixMonitorStop", "Hangup")
UNKNOWN = "<unknown>"


def _value(msg: Message, key: str) -> str | None:
    v = msg.get(key)
    return None if v in (None, "", UNKNOWN) else v


@dataclasses.dataclass
class CallState:
    """What the listener knows of one call (by Linkedid)."""
    linkedid: str
    number: str | None = None
    caller_name: str | None = None
    direction: str = "inbound"
    rung_at: dt.datetime | None = None
    rung_users: list[int] = dataclasses.field(default_factory=list)
    answered_user: int | None = None
    seen: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def agent_id(self) -> int | None:
        if self.answered_user:
            return self.answered_user
        return self.rung_users[0] if len(self.rung_users) == 1 else None


@dataclasses.dataclass
class RecordingJob:
    """One finished MixMonitor file to store (the listener makes them; so does the FastAGI
    ``recording_done`` handler), or with ``filename`` None only the links of a recording
    already stored (the listener, after the dialplan's hangup handler stored it)."""
    uniqueid: str                  # the recorded channel's Uniqueid
    filename: str | None           # MIXMONITOR_FILENAME as Asterisk gave it (a path on the PBX)
    linkedid: str | None = None
    number: str | None = None      # the other party's number (customer lookup)
    direction: str = "inbound"     # models.schema.recordings.DIRECTIONS
    user_id: int | None = None     # the agent of the call
    started_at: dt.datetime | None = None  # when it rang (links the agent's contact record)
    explicit: bool = True          # False: a guessed <uniqueid>.wav, skip quietly if absent
    attempt_id: int | None = None  # DIALFUNNEL_ATTEMPT / DIALFUNNEL_CAMPAIGN of a dialer call
    campaign_id: int | None = None

    def links(self) -> dict:
        return dict(linkedid=self.linkedid, caller_number=self.number, user_id=self.user_id,
                    attempt_id=self.attempt_id, campaign_id=self.campaign_id,
                    started_at=self.started_at)


class ScreenPopListener:
    def __init__(self, sessionmaker, *, client: AMIClient | None = None, host: str = "127.0.0.1",
                 port: int = 5038, username: str = "", secret: str = "", clock=SYSTEM_CLOCK,
                 store: RecordingStore | None = None, recording_format: str = "mp3",
                 keep_wav: bool = False, agent_contexts: set[str] | None = None,
                 outbound_context_prefixes: tuple[str, ...] = ("dialfunnel-outbound",),
                 agent_context_prefixes: tuple[str, ...] = ("dialfunnel-trunk-out",),
                 dedupe_seconds: float = 300.0, max_calls: int = 10000,
                 settle_seconds: float = 0.3, settle_timeout: float = 30.0,
                 connect_backoff: tuple[float, float, float] = (0.5, 2.0, 30.0),
                 client_options: dict | None = None,
                 on_pop: Callable[[int, int, dict], None] | None = None,
                 on_recording: Callable[[int], None] | None = None,
                 call_log: bool = True, call_log_options: dict | None = None,
                 asterisk_filters: bool = False):
        """``agent_contexts``: when set, a Local channel rings an agent only in these contexts
        (PJSIP/SIP channels always count). ``on_pop(event_id, user_id, payload)`` and
        ``on_recording(recording_id)`` are called after each commit (metrics, tests).
        ``call_log``: also keep the call log (agi/ami/call_log.py) from the same stream.
        ``asterisk_filters``: the login's user filters its events by its own eventfilter lines
        in manager.conf (dialplan/manager_dialfunnel.conf: ``dialfunnel-pops``, POP_EVENTS
        only, so not with ``call_log``): no Filter action is sent."""
        self.maker = sessionmaker
        self.clock = clock
        self.store = store
        self.recording_format = recording_format
        self.keep_wav = keep_wav
        self.agent_contexts = set(agent_contexts) if agent_contexts else None
        self.outbound_prefixes = tuple(outbound_context_prefixes)
        self.agent_prefixes = tuple(agent_context_prefixes)
        self.dedupe_seconds = dedupe_seconds
        self.max_calls = max_calls
        self.settle_seconds, self.settle_timeout = settle_seconds, settle_timeout
        self.connect_backoff = connect_backoff
        self.on_pop, self.on_recording = on_pop, on_recording
        wanted = POP_EVENTS + (tuple(e for e in call_log_events.EVENTS if e not in POP_EVENTS)
                               if call_log else ())
        if asterisk_filters and call_log:
            raise ValueError("a login filtered to the pops' events cannot keep the call log")
        self.client = client or AMIClient(host, port, username, secret, events=EVENTS,
                                          event_filter=None if asterisk_filters else wanted,
                                          **(client_options or {}))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._calls: collections.OrderedDict[str, CallState] = collections.OrderedDict()
        self._popped: collections.OrderedDict[tuple[str, int], float] = collections.OrderedDict()
        self._mixmonitor: dict[str, tuple[str, str | None]] = {}  # uniqueid → (file, linkedid)
        self._agent_of: dict[str, str] = {}   # uniqueid → DIALFUNNEL_AGENT (an agent's own call)
        self._queued: collections.OrderedDict[str, None] = collections.OrderedDict()  # uniqueids
        self._jobs: queue.Queue = queue.Queue()
        self._events: queue.Queue = queue.Queue()   # AMI events for pops and recordings
        self._threads: list[threading.Thread] = []
        self.stats = collections.Counter()
        self.connected = threading.Event()
        self.call_log = CallLog(sessionmaker, self.client, clock=clock,
                                agent_context_prefixes=self.agent_prefixes,
                                **(call_log_options or {})) if call_log else None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "ScreenPopListener":
        for name in POP_EVENTS:
            self.client.on(name, self._events.put)
        if self.call_log:
            self.call_log.start()
        worker = threading.Thread(target=self._recording_worker, name="recording-ingest", daemon=True)
        worker.start()
        popper = threading.Thread(target=self._event_worker, name="screen-pops", daemon=True)
        popper.start()
        connector = threading.Thread(target=self._connect_loop, name="ami-listener-connect", daemon=True)
        connector.start()
        self._threads = [worker, popper, connector]
        return self

    def _event_worker(self) -> None:
        """Pops and recordings in arrival order, off the AMI client's dispatcher thread (which
        also feeds the call log: a slow pop must not hold the call log's events back)."""
        while True:
            msg = self._events.get()
            if msg is None:
                return
            self.handle(msg)

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(None)
        self._events.put(None)
        try:
            if self.client.connected:
                self.client.logoff()
            else:
                self.client.close()
        except AMIError:
            pass
        for t in self._threads:
            t.join(timeout=10)
        if self.call_log:
            self.call_log.stop()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.connected.wait(timeout)

    def _connect_loop(self) -> None:
        rng = random.Random()
        for delay in backoff_delays(*self.connect_backoff, rng):
            if self._stop.is_set():
                return
            try:
                self.client.connect()
                self.connected.set()
                log.info("AMI listener connected to %s:%s", self.client.host, self.client.port)
                return
            except AMIAuthError as exc:
                log.error("AMI listener: %s", exc)
            except AMIError as exc:
                log.warning("AMI listener: %s (retrying)", exc)
            if self._stop.wait(delay):
                return

    # ------------------------------------------------------------------ events
    def handle(self, msg: Message) -> None:
        """One AMI event (the listener's event thread; tests may call it directly)."""
        name = msg.name
        try:
            if name == "DialBegin":
                self._dial_begin(msg)
            elif name == "AgentCalled":
                self._agent_called(msg)
            elif name in ("DialEnd", "AgentConnect"):
                self._answered(msg)
                if name == "AgentConnect":
                    self._queue_call(msg, connected=True)
            elif name == "AgentComplete":
                self._queue_call(msg, connected=False)
            elif name == "VarSet":
                self._varset(msg)
            elif name in ("MixMonitorStop", "Hangup"):
                self._recording_done(msg, hangup=name == "Hangup")
        except Exception:
            self.stats["errors"] += 1
            log.exception("AMI listener: %s event failed", name)

    def _caller(self, msg: Message) -> tuple[str | None, str | None]:
        """(number, name) of the calling side of a Dial*/Agent* event."""
        if msg.get("Channel"):
            number = _value(msg, "CallerIDNum") or _value(msg, "ConnectedLineNum")
            return number, _value(msg, "CallerIDName")
        return (_value(msg, "DestConnectedLineNum") or _value(msg, "DestCallerIDNum"),
                _value(msg, "DestConnectedLineName"))

    def _dial_begin(self, msg: Message) -> None:
        endpoint = agent_endpoint(msg.get("DestChannel"))
        if endpoint:
            self._ring(msg, endpoint, queue_name=None, source="DialBegin")

    def _agent_called(self, msg: Message) -> None:
        endpoint = agent_endpoint(msg.get("DestChannel")) or agent_endpoint(msg.get("Interface"))
        if endpoint:
            self._ring(msg, endpoint, queue_name=msg.get("Queue"), source="AgentCalled")

    def _call_key(self, msg: Message) -> str:
        return (_value(msg, "Linkedid") or _value(msg, "DestLinkedid") or _value(msg, "Uniqueid")
                or _value(msg, "DestUniqueid") or "")

    def _direction(self, msg: Message) -> str:
        """The call's kind by its context (models.crm.recordings.kind_for_context)."""
        return kind_for_context(msg.get("Context"), outbound=self.outbound_prefixes,
                                agent=self.agent_prefixes)

    def _ring(self, msg: Message, endpoint: tuple[str, str | None], *, queue_name, source) -> None:
        extension, context = endpoint
        if context is not None and self.agent_contexts is not None and context not in self.agent_contexts:
            return
        key = self._call_key(msg)
        if is_click_to_call(key):   # the agent's own phone rung for the call they clicked
            return
        number, caller_name = self._caller(msg)
        call = dict(uniqueid=_value(msg, "Uniqueid") or _value(msg, "DestUniqueid"),
                    linkedid=key or None, queue=queue_name, direction=self._direction(msg),
                    source=source)
        with self.maker() as session:
            begin_read(session)     # the pop is read beside SQLite's write lock, not in it
            agent = user_for_extension(session, extension)
            if agent is None:
                session.rollback()
                return
            agent_id = agent.id
            # Only this (dispatcher) thread adds pops, so check now and remember after the
            # commit: a pop that failed to be written is tried again by the next event.
            with self._lock:
                self._expire(time.monotonic())
                seen = (key, agent_id) in self._popped
            if seen:
                self.stats["duplicates"] += 1
                session.rollback()
                return
            built = build_pop(session, agent, number, caller_name=caller_name, call=call,
                              clock=self.clock)
            session.rollback()
        with self.maker() as session:   # the write: the duplicate check and the insert
            event = create_pop_event(session, session.get(User, agent_id), number,
                                     caller_name=caller_name, call=call, clock=self.clock,
                                     payload=built)
            session.commit()
            event_id, payload = event.id, event.payload
        with self._lock:
            self._popped[(key, agent_id)] = time.monotonic()
            state = self._calls.get(key)
            if state is None:
                state = self._calls[key] = CallState(key, rung_at=self.clock.now())
            state.number = state.number or clean_number(number)
            state.caller_name = state.caller_name or caller_name
            state.direction = call["direction"]
            if agent_id not in state.rung_users:
                state.rung_users.append(agent_id)
        self.stats["pops"] += 1
        log.info("screen pop %s for user %s (ext %s) from %s", event_id, agent_id, extension,
                 number or "withheld")
        if self.on_pop:
            self.on_pop(event_id, agent_id, payload)

    def _answered(self, msg: Message) -> None:
        if msg.name == "DialEnd" and msg.get("DialStatus") != "ANSWER":
            return
        endpoint = agent_endpoint(msg.get("DestChannel")) or agent_endpoint(msg.get("Interface"))
        if not endpoint:
            return
        key = self._call_key(msg)
        with self._lock:
            state = self._calls.get(key)
        if state is None:
            return
        with self.maker() as session:
            begin_read(session)     # writes nothing: beside SQLite's write lock, not in it
            agent = user_for_extension(session, endpoint[0])
            agent_id = agent.id if agent is not None else None  # before the session ends
            session.rollback()
        if agent_id is not None:
            with self._lock:
                state.answered_user = agent_id

    def _queue_call(self, msg: Message, *, connected: bool) -> None:
        """The member's agent state follows his queue call (the member Interface names him)."""
        endpoint = agent_endpoint(msg.get("Interface")) or agent_endpoint(msg.get("DestChannel"))
        if not endpoint:
            return
        with self.maker() as session:
            begin_read(session)     # who it is, beside SQLite's write lock
            agent = user_for_extension(session, endpoint[0])
            agent_id = agent.id if agent is not None else None
            session.rollback()
        if agent_id is None:
            return
        with self.maker() as session:
            move = inbound_connected if connected else inbound_ended
            if move(session, agent_id, clock=self.clock):
                session.commit()
                self.stats["queue_connects" if connected else "queue_completes"] += 1
            else:
                session.rollback()

    def _expire(self, now_mono: float) -> None:
        """Under self._lock: forget old pops and calls."""
        while self._popped:
            (k, seen) = next(iter(self._popped.items()))
            if now_mono - seen < self.dedupe_seconds and len(self._popped) <= self.max_calls:
                break
            self._popped.popitem(last=False)
        while self._calls:
            state = next(iter(self._calls.values()))
            if now_mono - state.seen < 6 * 3600 and len(self._calls) <= self.max_calls:
                break
            self._calls.popitem(last=False)
        while len(self._mixmonitor) > self.max_calls:
            self._mixmonitor.pop(next(iter(self._mixmonitor)))
        while len(self._agent_of) > self.max_calls:
            self._agent_of.pop(next(iter(self._agent_of)))

    # ------------------------------------------------------------------ recordings
    def _varset(self, msg: Message) -> None:
        if self.store is None:
            return
        if msg.get("Variable") == "DIALFUNNEL_AGENT":
            # dialfunnel-trunk-out's pre-dial handler leaves it on the recorded customer's
            # channel: the recording is the agent's own call, whatever context it ends in.
            uid, agent = msg.get("Uniqueid"), (msg.get("Value") or "").strip()
            if uid and agent.isdigit():
                with self._lock:
                    self._agent_of[uid] = agent
            return
        if msg.get("Variable") != "MIXMONITOR_FILENAME":
            return
        uid, value = msg.get("Uniqueid"), msg.get("Value")
        if uid and value:
            try:
                incoming_name(value)
            except UnsafePath:
                self.stats["refused"] += 1
                log.warning("recording of %s: refused the file name %s", shown(uid, 64), shown(value))
                return
            with self._lock:
                self._mixmonitor[uid] = (value, _value(msg, "Linkedid"))

    def _recording_done(self, msg: Message, *, hangup: bool) -> None:
        if self.store is None:
            return
        uid = msg.get("Uniqueid")
        if not uid:
            return
        with self._lock:
            pending = self._mixmonitor.pop(uid, None)
        explicit = pending is not None
        if pending is None:
            if not hangup:
                return
            # No VarSet seen: pick up <Uniqueid>.wav if the dialplan names files that way;
            # else, on a call that rang an agent, complete the links of a recording the
            # dialplan's hangup handler (recording_done) stored before this Hangup.
            try:
                name = safe_stem(uid) + ".wav"
            except UnsafePath:
                return
            if os.path.exists(os.path.join(self.store.incoming, name)):
                pending = (name, _value(msg, "Linkedid"))
            else:
                with self._lock:
                    known_call = _value(msg, "Linkedid") in self._calls
                if not known_call:
                    return
                pending = (None, _value(msg, "Linkedid"))
        filename, linkedid = pending
        linkedid = linkedid or _value(msg, "Linkedid")
        with self._lock:  # MixMonitorStop and then Hangup of the same channel: one job
            if uid in self._queued:
                return
            self._queued[uid] = None
            while len(self._queued) > self.max_calls:
                self._queued.popitem(last=False)
        with self._lock:
            state = self._calls.get(linkedid or "")
            state = dataclasses.replace(state) if state else None
        if state is not None:
            number, direction, user_id, started = (state.number, state.direction, state.agent_id,
                                                   state.rung_at)
        else:
            endpoint = agent_endpoint(msg.get("Channel"))
            number = clean_number(_value(msg, "ConnectedLineNum") if endpoint
                                  else _value(msg, "CallerIDNum"))
            direction, user_id, started = self._direction(msg), None, None
            if endpoint:  # recorded on the agent's own channel: the agent is the channel's
                with self.maker() as session:
                    begin_read(session)
                    agent = user_for_extension(session, endpoint[0])
                    user_id = agent.id if agent else None
                    session.rollback()
        with self._lock:
            extension = self._agent_of.pop(uid, None)
        if extension is not None:
            direction = "agent"
            with self.maker() as session:
                begin_read(session)
                found = user_for_extension(session, extension)
                user_id = found.id if found else user_id
                session.rollback()
        self._jobs.put(RecordingJob(uid, filename, linkedid=linkedid, number=number,
                                    direction=direction, user_id=user_id, started_at=started,
                                    explicit=explicit))

    def _recording_worker(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                rec_id = self.ingest(job)
                if rec_id and self.on_recording:
                    self.on_recording(rec_id)
            except Exception:
                self.stats["recording_errors"] += 1
                log.exception("recording of %s (%s) failed; the WAV is kept", job.uniqueid,
                              job.filename)

    def _settle(self, filename: str) -> None:
        """Wait until the WAV stops growing (MixMonitor closes it just after the hangup)."""
        deadline = time.monotonic() + self.settle_timeout
        last = -1
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                with self.store.open_incoming(filename) as fh:
                    size = os.fstat(fh.fileno()).st_size
            except FileNotFoundError:
                size = -2
            if size == last and size >= 0:
                return
            last = size
            self._stop.wait(self.settle_seconds)

    def ingest(self, job: RecordingJob) -> int | None:
        """Store one finished MixMonitor WAV (see ingest_recording); returns the recording id.
        A recording already stored (by recording_done) only gets the links it lacks."""
        with self.maker() as session:
            existing = by_uniqueid(session, job.uniqueid)
            if existing is not None:
                if complete_links(session, existing, **job.links()):
                    session.commit()
                    self.stats["recordings_completed"] += 1
                    log.info("recording %s: links completed", existing.id)
                return None
            session.rollback()
        if job.filename is None:
            return None
        if self.settle_seconds > 0:
            self._settle(job.filename)
        with self.maker() as session:
            rec = ingest_recording(session, self.store, job, clock=self.clock,
                                   fmt=self.recording_format)
            if rec is None:
                return None
            key, rec_id, duration, size = rec.file_key, rec.id, rec.duration_ms, rec.size_bytes
            try:
                session.commit()
            except Exception:
                self.store.delete(key)
                raise
        if not self.keep_wav:
            self.store.remove_incoming(job.filename)
            remove_legs(self.store, job.filename)
        self.stats["recordings"] += 1
        log.info("recording %s stored: %s (%d ms, %d bytes)", rec_id, key, duration, size)
        return rec_id


def ingest_recording(session, store: RecordingStore, job: RecordingJob, *, clock=SYSTEM_CLOCK,
                     fmt: str = "mp3") -> Recording | None:
    """Compress a finished MixMonitor WAV into the store and add its Recording row (flushed;
    the caller commits, then removes the WAV with ``store.remove_incoming(job.filename)`` and
    its two sides with ``recordings.analysis.remove_legs``). The waveform's peaks and, when
    the two sides were recorded apart, the talk figures are kept with the row
    (recordings/analysis.py).

    For the listener and for a FastAGI ``recording_done`` handler alike. ``session`` must have
    nothing pending: its transaction is ended before the slow part (compression), so no
    transaction, and on SQLite no write lock, is held meanwhile. None when the uniqueid is
    already stored (idempotent: the stored row only gets the links it lacks, flushed), the file
    is not in the incoming folder or its name is unsafe (one WARNING line). On failure to add
    the row, the compressed file is removed again; the WAV is never touched here."""
    existing = by_uniqueid(session, job.uniqueid)
    if existing is not None:
        complete_links(session, existing, **job.links())
        return None
    session.rollback()
    if job.filename is None:
        return None
    try:
        source = store.open_incoming(job.filename)
    except FileNotFoundError:
        if job.explicit:
            log.warning("recording %s: %s not found in %s", shown(job.uniqueid, 64),
                        shown(job.filename), store.incoming)
        return None
    except UnsafePath:
        log.warning("recording %s: refused the file name %s", shown(job.uniqueid, 64),
                    shown(job.filename))
        return None
    with source:
        key, info = store_wav(store, source, job.uniqueid, clock.now(), fmt=fmt)
    analysis = analyse_incoming(store, job.filename, job.direction)
    try:
        with session.begin_nested():
            rec = create_recording(session, uniqueid=job.uniqueid, linkedid=job.linkedid,
                                   file_key=key, fmt=info.format, duration_ms=info.duration_ms,
                                   size_bytes=info.size_bytes, direction=job.direction,
                                   caller_number=job.number, user_id=job.user_id,
                                   started_at=job.started_at, attempt_id=job.attempt_id,
                                   campaign_id=job.campaign_id, clock=clock)
            keep_analysis(session, rec.id, analysis, clock)
            return rec
    except IntegrityError:
        # Another ingest of the same uniqueid got there first: its row owns the key.
        log.info("recording %s was already stored", job.uniqueid)
        return None
    except Exception:
        store.delete(key)
        raise


def main(argv: list[str] | None = None) -> int:
    """``python -m agi.ami.listener``: the listener with the dialfunnel settings, until SIGTERM."""
    import argparse
    import signal

    from config.settings import load_settings
    from models.db import make_engine, make_sessionmaker
    from models.migrate import upgrade

    parser = argparse.ArgumentParser(prog="agi.ami.listener", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", help="recordings folder (default: setting recordings_dir)")
    parser.add_argument("--incoming", help="where MixMonitor writes (default: setting "
                        "recordings_incoming, or <--recordings>/incoming when that is given)")
    parser.add_argument("--format", default="mp3", choices=("mp3", "ogg"))
    parser.add_argument("--no-recordings", action="store_true",
                        help="pops only (recordings come through the FastAGI recording_done handler)")
    parser.add_argument("--agent-context", action="append", default=None,
                        help="Local-channel context that rings agents (repeatable; default any)")
    args = parser.parse_args(argv)
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = make_engine(settings.db_url, pgbouncer=settings.database_pgbouncer)
    upgrade(engine)
    if args.recordings:
        store = RecordingStore(args.recordings, args.incoming)
    else:
        store = RecordingStore(settings.recordings_path,
                               args.incoming or settings.recordings_incoming_path)
    store.ensure()
    listener = ScreenPopListener(make_sessionmaker(engine), host=settings.ami_host,
                                 port=settings.ami_port, username=settings.ami_username,
                                 secret=settings.ami_secret,
                                 store=None if args.no_recordings else store,
                                 recording_format=args.format,
                                 agent_contexts=set(args.agent_context) if args.agent_context else None)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    listener.start()
    stop.wait()
    listener.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
