"""A small, thread-safe AMI client for Asterisk 22 (used by the dialer and the event listener).

Why not pyst2's ``asterisk.manager`` (0.5.1, installed): it matches responses to actions by
arrival order instead of ``ActionID`` (two threads sending at once can swap replies), waits for a
response forever, puts ``ActionID`` last (Asterisk echoes it second; we keep the recorded order),
cannot send ``Events:`` on Login nor ``ChannelId``/``OtherChannelId`` on Originate, starts its
threads once in ``__init__`` so it cannot reconnect, and still has Python 2 code
(``headers.has_key``). Wrapping it would mean replacing most of it, so this is a small client of its
own (the wire format lives in agi.ami.wire, shared with the PBX simulator).

Threads: the caller's thread sends; one reader thread per client reads, answers waiting actions
(by ActionID) and, when the connection drops, reconnects with capped exponential backoff and
jitter, then logs in again; one dispatcher thread calls event callbacks in arrival order.

Never sent twice: an action is written at most once. If the connection is down it waits (at most
``reconnect_wait`` seconds) for the next login and is written then, or fails with
:class:`AMIConnectionError` without having been written. If the connection drops after it was
written and before its response, it fails with :class:`AMIConnectionLost` and is NOT resent:
Asterisk may have run it (an Originate may be ringing); the caller reconciles by ChannelId.
"""
from __future__ import annotations

import itertools
import logging
import os
import queue
import random
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from agi.ami.wire import Message, Parser, encode

log = logging.getLogger(__name__)

EventCallback = Callable[[Message], None]


class AMIError(Exception):
    """Base class of every AMI client error."""


class AMIAuthError(AMIError):
    """Login refused (wrong user or secret, or not permitted from this address)."""


class AMIConnectionError(AMIError):
    """Not connected; the action was not sent."""


class AMIConnectionLost(AMIError):
    """The connection dropped after the action was sent; it was not resent."""


class AMITimeout(AMIError):
    """No response in time (the action was sent; its outcome is unknown)."""


class AMIClosed(AMIError):
    """The client was closed."""


class AMIActionError(AMIError):
    """Asterisk answered ``Response: Error``."""

    def __init__(self, message: Message):
        self.response = message
        super().__init__(f"{message.get('Message', 'error')} (ActionID {message.action_id})")


@dataclass
class Originate:
    """An async Originate that Asterisk accepted ("Originate successfully queued").

    ``result()`` waits for the OriginateResponse event (matched by ActionID). Asterisk puts our
    ChannelId in its ``Uniqueid``; Hangup events carry ChannelId (the ;1 leg) and
    OtherChannelId (the ;2 leg, the far side of a Local channel).
    """

    action_id: str
    channel_id: str
    other_channel_id: str
    response: Message | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _event: Message | None = field(default=None, repr=False)
    _error: AMIError | None = field(default=None, repr=False)
    _conn: object = field(default=None, repr=False)  # the connection it was written on

    def result(self, timeout: float | None = None) -> Message:
        if not self._done.wait(timeout):
            raise AMITimeout(f"no OriginateResponse for ActionID {self.action_id} within {timeout}s")
        if self._error is not None:
            raise self._error
        assert self._event is not None
        return self._event

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _resolve(self, event: Message | None, error: AMIError | None = None) -> None:
        if not self._done.is_set():
            self._event, self._error = event, error
            self._done.set()


class _Pending:
    __slots__ = ("action_id", "action", "conn", "sent", "sent_at", "done", "response", "error")

    def __init__(self, action_id: str, action: str, conn: "_Connection"):
        self.action_id, self.action, self.conn = action_id, action, conn
        self.sent = False
        self.sent_at = 0.0   # time.monotonic() once written: the response's timeout runs from it
        self.done = threading.Event()
        self.response: Message | None = None
        self.error: AMIError | None = None

    def finish(self, response: Message | None = None, error: AMIError | None = None) -> None:
        if not self.done.is_set():
            self.response, self.error = response, error
            self.done.set()


class _Connection:
    """One TCP session: socket, parser (may hold messages read past the login), send lock."""

    def __init__(self, sock: socket.socket, parser: Parser, leftover: list[Message]):
        self.sock = sock
        self.parser = parser
        self.leftover = leftover
        self.send_lock = threading.Lock()
        self.alive = True
        self.banner = parser.banner

    def kill(self) -> None:
        with self.send_lock:
            self.alive = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def backoff_delays(initial: float, factor: float, maximum: float, rng: random.Random) -> Iterable[float]:
    """Capped exponential backoff with "equal jitter": each delay is uniform in [d/2, d]."""
    for attempt in itertools.count():
        ceiling = min(maximum, initial * (factor ** min(attempt, 64)))
        yield rng.uniform(ceiling / 2, ceiling)


def _encode_action(action: str, action_id: str,
                   headers: Mapping[str, object] | Iterable[tuple[str, object]]) -> bytes:
    """``Action`` first, ``ActionID`` second, then the headers in order."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return encode([("Action", action), ("ActionID", action_id)] + [(k, str(v)) for k, v in items])


DISCONNECTED, CONNECTED, CLOSED = "disconnected", "connected", "closed"


class AMIClient:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5038,
        username: str = "",
        secret: str = "",
        *,
        events: bool | str | None = True,
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        reconnect: bool = True,
        reconnect_wait: float = 30.0,
        backoff_initial: float = 0.5,
        backoff_factor: float = 2.0,
        backoff_max: float = 30.0,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
        action_id_factory: Callable[[str], str] | None = None,
        on_connect: Callable[["AMIClient"], None] | None = None,
        on_disconnect: Callable[["AMIClient", Exception | None], None] | None = None,
        event_filter: Iterable[str] | None = None,
    ):
        """``events``: True → ``Events: on``, False → ``off``, a string (``"call,agent"``) is sent
        as is, None sends no Events header. ``event_filter``: the names of the only events wanted;
        after every login one ``Filter`` action per name (``MatchCriteria: name(<event>)``), so
        Asterisk sends nothing else (list responses such as CoreShowChannel are not filtered).
        A refused Filter (it needs the ``system`` write class) leaves the session unfiltered. ``sleep`` (seconds) and ``rng`` drive the backoff so
        tests need not wait; the default sleep is interrupted by close()."""
        self.host, self.port = host, int(port)
        self.username, self.secret = username, secret
        self.events = events
        self.event_filter = tuple(event_filter or ())
        self.filtered = False   # the last login's filters were accepted
        self.connect_timeout, self.action_timeout = connect_timeout, action_timeout
        self.reconnect, self.reconnect_wait = reconnect, reconnect_wait
        self.backoff = (backoff_initial, backoff_factor, backoff_max)
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._rng = rng or random.Random()
        prefix = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}-"
        counter = itertools.count(1)
        self._next_id = action_id_factory or (lambda action: f"{prefix}{next(counter)}")
        self._on_connect, self._on_disconnect = on_connect, on_disconnect
        self._connect_callbacks: list[Callable[["AMIClient"], None]] = []

        self._cv = threading.Condition()
        self._state = DISCONNECTED
        self._conn: _Connection | None = None
        self._pending: dict[str, _Pending] = {}
        self._originates: dict[str, Originate] = {}
        self._logging_off = False
        self.last_error: Exception | None = None
        self.connects = 0  # successful logins, first one included
        self.actions_sent = 0  # actions written to a connection (a barrier knows none is in flight)

        self._callbacks: dict[str, list[EventCallback]] = {}
        self._cb_lock = threading.Lock()
        self._events: queue.Queue = queue.Queue()
        self._reader: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> str:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state == CONNECTED

    @property
    def banner(self) -> str | None:
        conn = self._conn
        return conn.banner if conn else None

    def connect(self, login_action_id: str | None = None) -> Message:
        """Connect and log in (raises AMIAuthError / AMIConnectionError), then start the threads."""
        with self._cv:
            if self._state == CLOSED:
                raise AMIClosed("client is closed")
            if self._state == CONNECTED:
                raise AMIError("already connected")
        conn, response = self._open(login_action_id)
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="ami-dispatch", daemon=True)
        self._dispatcher.start()
        self._became_connected(conn)
        self._reader = threading.Thread(target=self._reader_loop, name="ami-reader", daemon=True)
        self._reader.start()
        return response

    def on(self, event: str, callback: EventCallback) -> None:
        """Call ``callback(message)`` for every event named ``event`` ("*" = every event).
        Callbacks run on one dispatcher thread, in arrival order; exceptions are logged."""
        with self._cb_lock:
            self._callbacks.setdefault(event, []).append(callback)

    def add_on_connect(self, callback: Callable[["AMIClient"], None]) -> None:
        """Also call ``callback(client)`` after every login, the first and each reconnect (on the
        thread that logged in: it must not wait for an action's response)."""
        self._connect_callbacks.append(callback)

    def off(self, event: str, callback: EventCallback) -> None:
        with self._cb_lock:
            if callback in self._callbacks.get(event, []):
                self._callbacks[event].remove(callback)

    def send_action(
        self,
        action: str,
        headers: Mapping[str, object] | Iterable[tuple[str, object]] = (),
        *,
        action_id: str | None = None,
        timeout: float | None = None,
        check: bool = False,
        _on_sent: Callable[["_Connection"], None] | None = None,
    ) -> Message:
        """Send ``Action: <action>`` with ``ActionID`` second, then ``headers`` in order; wait for
        the response with that ActionID. ``check=True`` raises AMIActionError on ``Response: Error``."""
        action_id = action_id or self._next_id(action)
        response = self._request(action, action_id, _encode_action(action, action_id, headers), timeout,
                                 _on_sent)
        if check and response.response == "Error":
            raise AMIActionError(response)
        return response

    def ping(self, action_id: str | None = None, timeout: float | None = None) -> Message:
        return self.send_action("Ping", action_id=action_id, timeout=timeout)

    def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str | None = 1,
        application: str | None = None,
        data: str | None = None,
        timeout_ms: int | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, object] | None = None,
        account: str | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        action_id: str | None = None,
        timeout: float | None = None,
        early_media: bool = False,
    ) -> Originate:
        """Async Originate (``Async: true``); returns once Asterisk queued it. The outcome comes as
        the OriginateResponse event (``.result()``) and the Hangup causes of ChannelId /
        OtherChannelId. Raises AMIActionError if Asterisk refuses the action."""
        [outcome] = self.originate_many([dict(
            channel=channel, context=context, exten=exten, priority=priority, application=application,
            data=data, timeout_ms=timeout_ms, caller_id=caller_id, variables=variables, account=account,
            channel_id=channel_id, other_channel_id=other_channel_id, action_id=action_id,
            timeout=timeout, early_media=early_media)])
        if isinstance(outcome, AMIError):
            raise outcome
        return outcome

    def originate_many(self, requests: Iterable[Mapping[str, object]]) -> list[Originate | AMIError]:
        """Several Originates pipelined: every action is written, then the responses are collected
        (Asterisk answers a session's actions in order, an async Originate at once). Each request
        holds ``originate``'s keyword arguments; each slot of the result holds its Originate, or
        the error ``originate`` would have raised (one refused or lost does not stop the others).
        Each is written as ``originate`` writes it: after a drop the next one waits for the
        reconnect; once one could not be sent (AMIConnectionError, AMIClosed), the rest are not
        tried and hold the same error (one ``reconnect_wait`` per batch, not one per action)."""
        prepared = [self._originate_action(**request) for request in requests]
        sent: list[_Pending | AMIError] = []
        broken: AMIError | None = None
        for handle, data, _ in prepared:
            if broken is not None:
                kind = AMIClosed if isinstance(broken, AMIClosed) else AMIConnectionError
                sent.append(kind(f"Originate (ActionID {handle.action_id}) was not sent: an earlier "
                                 f"one of its batch could not be sent ({broken})"))
                continue
            with self._cv:
                self._originates[handle.action_id] = handle
            try:
                sent.append(self._send("Originate", handle.action_id, data,
                                       lambda conn, handle=handle: setattr(handle, "_conn", conn)))
            except AMIError as exc:
                sent.append(exc)
                if isinstance(exc, (AMIConnectionError, AMIClosed)):
                    broken = exc
        results: list[Originate | AMIError] = []
        for (handle, _, timeout), slot in zip(prepared, sent):
            try:
                if isinstance(slot, AMIError):
                    raise slot
                handle.response = self._wait(slot, timeout)
                if handle.response.response == "Error":
                    raise AMIActionError(handle.response)
                results.append(handle)
            except AMIError as exc:
                with self._cv:
                    self._originates.pop(handle.action_id, None)
                results.append(exc)
        return results

    def _originate_action(
        self, channel: str, *, context: str | None = None, exten: str | None = None,
        priority: int | str | None = 1, application: str | None = None, data: str | None = None,
        timeout_ms: int | None = None, caller_id: str | None = None,
        variables: Mapping[str, object] | None = None, account: str | None = None,
        channel_id: str | None = None, other_channel_id: str | None = None,
        action_id: str | None = None, timeout: float | None = None, early_media: bool = False,
    ) -> tuple[Originate, bytes, float | None]:
        """The handle, the bytes and the response timeout of one ``originate`` call."""
        action_id = action_id or self._next_id("Originate")
        handle = Originate(action_id, channel_id or str(uuid.uuid4()), other_channel_id or str(uuid.uuid4()))
        headers: list[tuple[str, object]] = [("Channel", channel)]
        if application:
            headers.append(("Application", application))
            if data is not None:
                headers.append(("Data", data))
        else:
            headers += [(k, v) for k, v in (("Context", context), ("Exten", exten), ("Priority", priority)) if v is not None]
        if timeout_ms is not None:
            headers.append(("Timeout", int(timeout_ms)))
        if caller_id:
            headers.append(("CallerID", caller_id))
        if account:
            headers.append(("Account", account))
        headers += [("Variable", f"{k}={v}") for k, v in (variables or {}).items()]
        if early_media:  # the dialplan starts on the far side's early media, before an answer
            headers.append(("EarlyMedia", "true"))
        headers += [("Async", "true"), ("ChannelId", handle.channel_id), ("OtherChannelId", handle.other_channel_id)]
        return handle, _encode_action("Originate", action_id, headers), timeout

    def hangup(self, channel: str, cause: int | None = None, timeout: float | None = None) -> Message:
        headers = [("Channel", channel)] + ([("Cause", int(cause))] if cause is not None else [])
        return self.send_action("Hangup", headers, timeout=timeout)

    def logoff(self, action_id: str | None = None, timeout: float | None = None) -> Message | None:
        """Send Logoff (Asterisk answers Goodbye and closes), then close the client."""
        response = None
        with self._cv:
            self._logging_off = True
            can_send = self._state == CONNECTED
        if can_send:
            try:
                response = self.send_action("Logoff", action_id=action_id, timeout=timeout or 2.0)
            except AMIError as exc:
                log.debug("logoff: %s", exc)
        self.close()
        return response

    def close(self) -> None:
        """Stop reconnecting, drop the socket, fail what still waits, join the threads."""
        with self._cv:
            if self._state == CLOSED:
                return
            self._state = CLOSED
            self._stop.set()
            conn = self._conn
            self._fail_all(AMIClosed("client closed"))
            self._cv.notify_all()
        if conn:
            conn.kill()
        self._events.put(None)
        me = threading.current_thread()
        for t in (self._reader, self._dispatcher):
            if t is not None and t is not me:
                t.join(timeout=5)

    def __enter__(self) -> "AMIClient":
        return self

    def __exit__(self, *exc) -> None:
        if self.connected:
            self.logoff()
        else:
            self.close()

    # ------------------------------------------------------------------ sending
    def _request(self, action: str, action_id: str, data: bytes, timeout: float | None,
                 on_sent: Callable[[_Connection], None] | None = None) -> Message:
        return self._wait(self._send(action, action_id, data, on_sent), timeout)

    def _send(self, action: str, action_id: str, data: bytes,
              on_sent: Callable[[_Connection], None] | None = None) -> _Pending:
        """Write the action once, waiting up to ``reconnect_wait`` for a connection (else
        AMIConnectionError / AMIClosed, not written). Its _Pending is registered first; a failed
        write finishes it with AMIConnectionLost."""
        deadline = time.monotonic() + self.reconnect_wait
        while True:
            with self._cv:
                # A connection killed by the reader is dead before the reader (holding no lock in
                # between) marks the state DISCONNECTED: wait for its notify, do not spin.
                while self._state != CONNECTED or not self._conn.alive:
                    if self._state == CLOSED:
                        raise AMIClosed(f"client closed; {action} (ActionID {action_id}) was not sent")
                    remaining = deadline - time.monotonic()
                    if not self.reconnect or remaining <= 0 or self._reader is None:
                        raise AMIConnectionError(
                            f"not connected to AMI {self.host}:{self.port} (waited {self.reconnect_wait}s; "
                            f"last error: {self.last_error!r}); {action} (ActionID {action_id}) was not sent")
                    self._cv.wait(remaining)
                conn = self._conn
                assert conn is not None
                if action_id in self._pending:
                    raise AMIError(f"ActionID {action_id} is already waiting for a response")
                pending = _Pending(action_id, action, conn)
                self._pending[action_id] = pending
            with conn.send_lock:
                if not conn.alive:
                    # The drop was noticed before we wrote a byte: safe to wait and try again
                    # (the wait loop above then sees the dead connection and blocks).
                    with self._cv:
                        self._pending.pop(action_id, None)
                    continue
                pending.sent = True  # from here on it is never written again
                self.actions_sent += 1
                if on_sent:
                    on_sent(conn)
                try:
                    conn.sock.sendall(data)
                except OSError as exc:
                    pending.finish(error=AMIConnectionLost(
                        f"connection lost while sending {action} (ActionID {action_id}): {exc}; not resent"))
                pending.sent_at = time.monotonic()
            return pending

    def _wait(self, pending: _Pending, timeout: float | None) -> Message:
        """The response of a written action, ``timeout`` (default ``action_timeout``) seconds
        from its write at most; AMITimeout, or its connection's error."""
        timeout = self.action_timeout if timeout is None else timeout
        finished = pending.done.wait(max(0.0, pending.sent_at + timeout - time.monotonic()))
        with self._cv:
            self._pending.pop(pending.action_id, None)
        if not finished:
            raise AMITimeout(f"no response to {pending.action} (ActionID {pending.action_id}) within {timeout}s")
        if pending.error is not None:
            raise pending.error
        assert pending.response is not None
        return pending.response

    # ------------------------------------------------------------------ connecting
    def _open(self, login_action_id: str | None = None) -> tuple[_Connection, Message]:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise AMIConnectionError(f"cannot connect to AMI {self.host}:{self.port}: {exc}") from exc
        parser = Parser(expect_banner=True)
        got: list[Message] = []
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # actions are small; send at once
            sock.settimeout(max(self.connect_timeout, self.action_timeout))
            while parser.banner is None:
                got += self._recv_into(sock, parser)
            action_id = login_action_id or self._next_id("Login")
            login = [("Action", "Login"), ("ActionID", action_id), ("Username", self.username), ("Secret", self.secret)]
            if self.events is not None:
                login.append(("Events", self.events if isinstance(self.events, str) else ("on" if self.events else "off")))
            sock.sendall(encode(login))
            while True:
                for i, msg in enumerate(got):
                    if msg.is_response and msg.action_id == action_id:
                        before, after = got[:i], got[i + 1:]
                        if msg.response != "Success":
                            raise AMIAuthError(f"AMI login as {self.username!r} refused: {msg.get('Message')}")
                        after = self._add_filters(sock, parser, after)
                        sock.settimeout(None)
                        for early in before:
                            self._handle(early)
                        return _Connection(sock, parser, after), msg
                got += self._recv_into(sock, parser)
        except AMIAuthError:
            sock.close()
            raise
        except (OSError, AMIConnectionLost) as exc:
            sock.close()
            raise AMIConnectionError(f"AMI {self.host}:{self.port} login failed: {exc}") from exc

    def _add_filters(self, sock: socket.socket, parser: Parser, got: list[Message]) -> list[Message]:
        """Send the event filters (one Filter action per name, all at once) and wait for their
        responses; returns the other messages read meanwhile, in order. A filter refused after
        others were accepted would drop events: a filter that passes every event is added."""
        self.filtered = False
        if not self.event_filter:
            return got
        ids = {}
        for name in self.event_filter:
            action_id = self._next_id("Filter")
            ids[action_id] = name
            sock.sendall(encode([("Action", "Filter"), ("ActionID", action_id), ("Operation", "Add"),
                                 ("MatchCriteria", f"action(include),name({name})")]))
        refused = []
        while ids:
            rest = []
            for msg in got:
                if msg.is_response and msg.action_id in ids:
                    name = ids.pop(msg.action_id)
                    if msg.response != "Success":
                        refused.append((name, msg.get("Message")))
                else:
                    rest.append(msg)
            got = rest
            if ids:
                got += self._recv_into(sock, parser)
        if not refused:
            self.filtered = True
        elif len(refused) == len(self.event_filter):
            log.warning("AMI %s:%s: event filter refused (%s): every event of the login's classes "
                        "is sent", self.host, self.port, refused[0][1])
        else:
            log.error("AMI %s:%s: event filters %s refused: passing every event", self.host,
                      self.port, refused)
            sock.sendall(encode([("Action", "Filter"), ("ActionID", self._next_id("Filter")),
                                 ("Operation", "Add"), ("Filter", ".*")]))
        return got

    @staticmethod
    def _recv_into(sock: socket.socket, parser: Parser) -> list[Message]:
        data = sock.recv(65536)
        if not data:
            raise AMIConnectionLost("connection closed by peer")
        return parser.feed(data)

    def _became_connected(self, conn: _Connection) -> None:
        with self._cv:
            if self._state == CLOSED:
                conn.kill()
                return
            self._conn, self._state = conn, CONNECTED
            self.last_error = None
            self.connects += 1
            self._cv.notify_all()
        if self._on_connect:
            self._safe(self._on_connect, self)
        for callback in list(self._connect_callbacks):
            self._safe(callback, self)

    # ------------------------------------------------------------------ reader thread
    def _reader_loop(self) -> None:
        while True:
            conn = self._conn
            error: Exception | None = None
            try:
                for msg in conn.leftover:
                    self._handle(msg)
                conn.leftover = []
                while True:
                    data = conn.sock.recv(65536)
                    if not data:
                        break
                    for msg in conn.parser.feed(data):
                        self._handle(msg)
            except OSError as exc:
                error = exc
            conn.kill()
            with self._cv:
                closing = self._state == CLOSED or self._logging_off
                if self._state != CLOSED:
                    self._state = DISCONNECTED
                self.last_error = error or AMIConnectionLost("connection closed by Asterisk")
                self._fail_all(AMIConnectionLost(
                    f"AMI connection lost ({self.last_error}); actions already sent were not resent"), conn)
                self._cv.notify_all()
            if not closing and self._on_disconnect:
                self._safe(self._on_disconnect, self, error)
            if closing or not self.reconnect:
                return
            if not self._reconnect_loop():
                return

    def _reconnect_loop(self) -> bool:
        for delay in backoff_delays(*self.backoff, self._rng):
            if self._stop.is_set():
                return False
            self._sleep(delay)
            if self._stop.is_set():
                return False
            try:
                conn, _ = self._open()
            except AMIError as exc:
                with self._cv:
                    self.last_error = exc
                log.warning("AMI reconnect to %s:%s failed: %s", self.host, self.port, exc)
                continue
            self._became_connected(conn)
            return self._state == CONNECTED
        return False

    def _handle(self, msg: Message) -> None:
        if msg.is_event:
            if msg.name == "OriginateResponse" and msg.action_id:
                with self._cv:
                    handle = self._originates.pop(msg.action_id, None)
                if handle:
                    handle._resolve(msg)
            self._events.put(msg)
        elif msg.action_id is not None:
            with self._cv:
                pending = self._pending.get(msg.action_id)
            if pending:
                pending.finish(msg)
            else:
                log.debug("AMI response for unknown ActionID %s", msg.action_id)

    def _fail_all(self, error: AMIError, conn: _Connection | None = None) -> None:
        """Under self._cv: fail sent actions (of ``conn``) and OriginateResponse waiters."""
        for pending in list(self._pending.values()):
            if conn is None or (pending.conn is conn and pending.sent):
                pending.finish(error=error)
        for handle in list(self._originates.values()):
            if conn is None or handle._conn is conn:
                handle._resolve(None, error if conn is None else AMIConnectionLost(
                    f"connection lost before the OriginateResponse of {handle.action_id}; the call may "
                    f"still be up: correlate by ChannelId {handle.channel_id}"))
                self._originates.pop(handle.action_id, None)

    # ------------------------------------------------------------------ dispatcher thread
    def _dispatch_loop(self) -> None:
        while True:
            msg = self._events.get()
            if msg is None:
                return
            with self._cb_lock:
                callbacks = list(self._callbacks.get(msg.name, ())) + list(self._callbacks.get("*", ()))
            for cb in callbacks:
                self._safe(cb, msg)

    @staticmethod
    def _safe(fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception:  # a broken callback must not stop the client
            log.exception("AMI callback %r failed", fn)
