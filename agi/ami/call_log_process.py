"""The call log's writer (agi/ami/call_log.py) in a process of its own, with its own AMI
connection: the worker starts one per Asterisk server beside its screen-pop listener.

    writer = CallLogProcess(db_url, host=..., port=5038, username=..., secret=...).start()
    ...
    writer.stop()

Why a process: in one with the screen pops, the parsing of every AMI event (~3,500 a second
for 600 calls) and the call log's writes took turns at one interpreter lock, and a Hangup
waited for them (README, "Call log"). Here the connection logs in with ``Events: call,agent``
and asks Asterisk for the call log's events only (the ``Filter`` action; refused without the
``system`` write class, then the login's classes are all it gets; or, logged in as the
manager.conf user whose own eventfilter lines do it, ``asterisk_filters``), so this process parses
about half the stream and writes, while the listener parses only the pops' events, each on
its own CPU. Asterisk takes several logins of one user.

The parent talks to the process over a pipe (``status``, ``sync``, ``stop``); ``reports``, a
multiprocessing queue, gets after each commit ``(events, committed_at, hangup_stamps)``: how
many events, when (epoch seconds) and the ``Timestamp`` of each Hangup in it (benchmarks).
"""
from __future__ import annotations

import logging
import multiprocessing
import random
import threading
import time

log = logging.getLogger(__name__)

EVENT_CLASSES = "call,agent"   # the classes of every event the call log reads
PING_IDLE_S = 10.0             # a database connection idle this long is pinged before use


class CallLogProcess:
    def __init__(self, db_url: str, *, host: str = "127.0.0.1", port: int = 5038,
                 username: str = "", secret: str = "", pgbouncer: bool = False,
                 reports=None, log_level: str | int = logging.INFO,
                 client_options: dict | None = None, restart_delay: float = 2.0,
                 asterisk_filters: bool = False):
        """``restart_delay``: seconds before a process that died is started again.
        ``asterisk_filters``: the user's own eventfilter lines in manager.conf choose its events
        (the snippet's ``dialfunnel-calllog``): no Filter action is sent."""
        self.options = dict(db_url=db_url, host=host, port=port, username=username,
                            secret=secret, pgbouncer=pgbouncer, log_level=log_level,
                            client_options=client_options or {},
                            asterisk_filters=asterisk_filters)
        self.reports = reports
        self._ctx = multiprocessing.get_context("spawn")
        self._process = None
        self._conn = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.restart_delay = restart_delay
        self.restarts = 0
        self._watcher: threading.Thread | None = None

    def start(self) -> "CallLogProcess":
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="call-log-watch", daemon=True)
        self._watcher.start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            self._conn, child = self._ctx.Pipe()
            self._process = self._ctx.Process(target=run, args=(self.options, child, self.reports),
                                              name="call-log-writer", daemon=True)
            self._process.start()
            child.close()

    def _watch(self) -> None:
        """A process that died (killed, out of memory) is started again: the new one
        reconciles with Asterisk's live channels when it logs in, so no call stays open."""
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            process.join(0.5)
            if process.is_alive() or self._stopping.is_set():
                continue
            log.error("call log process exited (code %s); starting it again in %g s",
                      process.exitcode, self.restart_delay)
            if self._stopping.wait(self.restart_delay):
                return
            self.restarts += 1
            self._spawn()

    def _ask(self, *request, timeout: float = 30.0):
        with self._lock:
            self._conn.send(request)
            if not self._conn.poll(timeout):
                raise TimeoutError(f"the call log's process did not answer {request[0]}")
            return self._conn.recv()

    def status(self, timeout: float = 30.0) -> dict:
        """``connected``, ``filtered`` (its event filter was accepted), ``queued`` (events not
        yet written), the writer's ``stats`` and the process's CPU seconds (``cpu_s``)."""
        return self._ask("status", timeout=timeout)

    def sync(self, timeout: float = 10.0) -> bool:
        """Wait until every event the process has received is committed."""
        return self._ask("sync", timeout, timeout=timeout + 5)

    def stop(self, timeout: float = 15.0) -> dict:
        """Stop the writer (what it has queued is committed first); its last stats."""
        stats: dict = {}
        self._stopping.set()
        self._watcher.join(self.restart_delay + 30)   # it starts nothing once stopping is set
        if self._process is None:
            return stats
        try:
            if self._process.is_alive():
                stats = self._ask("stop", timeout=timeout)
        except (OSError, EOFError, TimeoutError):
            log.warning("call log process: no answer to stop", exc_info=True)
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._conn.close()
        self._process = None
        return stats


def run(options: dict, conn, reports) -> None:
    """The process: the database, the AMI connection, the writer; answers the pipe until stop
    (or until the parent is gone)."""
    from agi.ami.call_log import EVENTS, CallLog
    from agi.ami.client import AMIClient, AMIError
    from agi.ami.collector import calm_collector
    from models.db import make_sessionmaker

    logging.basicConfig(level=options["log_level"],
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = writer_engine(options["db_url"], pgbouncer=options["pgbouncer"])
    client = AMIClient(options["host"], options["port"], options["username"], options["secret"],
                       events=EVENT_CLASSES,
                       event_filter=None if options["asterisk_filters"] else EVENTS,
                       **options["client_options"])
    on_commit = None
    if reports is not None:
        def on_commit(events, _committed):
            reports.put((len(events), time.time(),
                         [msg.get("Timestamp") for msg, _ in events if msg.name == "Hangup"]))
    writer = CallLog(make_sessionmaker(engine), client, on_commit=on_commit).start()
    connector = threading.Thread(target=_connect, args=(client,), name="call-log-connect",
                                 daemon=True)
    connector.start()
    calm_collector()
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break                       # the parent is gone
            what = request[0]
            if what == "status":
                conn.send(dict(connected=client.connected,
                               filtered=client.filtered or options["asterisk_filters"],
                               queued=writer._queue.qsize(), stats=dict(writer.stats),
                               cpu_s=time.process_time()))
            elif what == "sync":
                conn.send(writer.sync(request[1]))
            elif what == "stop":
                break
    finally:
        try:
            client.close()
        except AMIError:
            pass
        writer.stop()
        try:
            conn.send(dict(writer.stats))
        except OSError:
            pass
        engine.dispose()


def writer_engine(db_url: str, *, pgbouncer: bool = False):
    """The writer's engine. Its session gives the connection back at every commit: a
    connection is pinged only after ``PING_IDLE_S`` idle (models.db.ping_when_idle), not at
    every batch (a round trip each)."""
    from models.clock import SYSTEM_CLOCK
    from models.db import make_engine, ping_when_idle

    if db_url.startswith("sqlite"):
        return make_engine(db_url)
    engine = make_engine(db_url, pgbouncer=pgbouncer, pool_pre_ping=False)
    ping_when_idle(engine, PING_IDLE_S, SYSTEM_CLOCK)
    return engine


def _connect(client) -> None:
    """The first login, retried until it succeeds (Asterisk may start after us); the client
    reconnects by itself after that."""
    from agi.ami.client import AMIAuthError, AMIClosed, AMIError, backoff_delays
    for delay in backoff_delays(0.5, 2.0, 30.0, random.Random()):
        try:
            client.connect()
            log.info("call log connected to AMI %s:%s (filtered: %s)", client.host, client.port,
                     client.filtered)
            return
        except AMIClosed:
            return
        except AMIAuthError as exc:
            log.error("call log: %s", exc)
        except AMIError as exc:
            log.warning("call log: %s (retrying)", exc)
        time.sleep(delay)
