"""The FastAGI server (SPEC T1) and the classic stdin/stdout AGI entry point.

    python -m agi.fastagi.server                       # FastAGI on agi_host:agi_port (127.0.0.1:4573)
    python -m agi.fastagi.server --port 0 --import my.handlers
    python -m agi.fastagi.server --workers 1           # one process (default: one per CPU, up to 4)
    python -m agi.fastagi.server --stdin [SCRIPT]      # classic AGI: one call over stdin/stdout

Worker processes: the socket is opened once, then `--workers` processes are forked; each
accepts on it with its own call threads and its own database engine (pool), and the idle one takes
the next connection. One process is held to one CPU by the GIL (the IVR benchmark measured
one process at 97-105% of a CPU); the `Supervisor` replaces a worker that dies and stops the
whole server when they keep dying.

In each worker, one thread per call, at most `max_calls` at once; as `python -m agi.fastagi.server`
the threads are gevent's green threads (greenlets on one OS thread, `monkey.patch_all()`
before anything is imported), in-process (tests, `dialfunnel run --demo`) plain threads. The
code is the same: handlers use pyst2 and the blocking models/ functions as they are, and the
patched sockets, locks and sleeps make them wait cooperatively. Chosen by measurement
(bench/agi_load.py, 2 vCPU, main.yaml with its lookup, 1,000 channels at ~320 calls/s): with
OS threads the p99 per command was 15 ms to 2.5 s from run to run, because hundreds of threads
queued for the GIL, for the logging lock and behind the group-commit writer (itself waiting
for the GIL while it held SQLite's write lock); with green threads 4.4-5.2 ms at 100, 500 and
1,000 channels. asyncio would have needed the handlers rewritten or run in threads again.
What must not block a green worker: SQLite's own busy handler sleeps in C, so writes take
the lock with `models.db.begin_immediate` (a Python, hence cooperative, retry); psycopg waits
cooperatively under gevent by itself.

Every read is bounded: the environment block by time, size and line count, each reply by its
command's bound (agi/fastagi/reply_timeouts.py: seconds for ordinary commands, the arguments' own
timeouts and a media allowance for prompts and recordings, `result_timeout` only for EXEC Dial
and the like), each write by `write_timeout`, and the database by the pool / connect /
statement timeouts of `make_agi_engine`. A peer that goes silent loses its slot within seconds.

Slots per address: one address (IPv6: one /64) holds at most `peer_max_calls` of a worker's
slots, by default all but an eighth, so a client elsewhere that fills its share cannot starve
an Asterisk at another address, while the real Asterisk, one address with many calls and
usually the only client, keeps 7/8 of `max_calls` (size --max-calls for that). It cannot tell
the PBX from another client at the same address (loopback, where Asterisk usually is, and where
any local user can pick 127.x.y.z addresses at will): there the bound is the timeouts above.

SIGTERM/SIGINT: stop accepting, let calls in progress finish within `--grace` seconds, then
cut the remaining connections, and exit 0 (with workers: the supervisor closes its copy of
the socket and passes SIGTERM on to every worker, which does the same).
"""
import sys

if __name__ == "__main__" and "--stdin" not in sys.argv[1:]:
    from gevent import monkey  # first: the call threads, sockets, locks and sleeps go green

    monkey.patch_all()

import argparse
import gc
import importlib
import ipaddress
import itertools
import logging
import os
import selectors
import signal
import socket
import threading
import time
from collections import Counter

from agi.fastagi.channel import HANGUP_GRACE, AGIChannel
from agi.fastagi.dispatch import Registry, logfmt, run_call
from agi.fastagi.protocol import ENV_TIMEOUT, AGIProtocolError, Transport, collect_args, read_env
from agi.fastagi.reply_timeouts import ReplyTimeouts

log = logging.getLogger("agi.fastagi.server")

DEFAULT_PORT = 4573


class FastAGIServer:
    """Accepts FastAGI connections and runs each call in its own thread.

        server = FastAGIServer(registry, sessionmaker, port=0).start()
        ... server.port ...
        server.shutdown(grace=10)
    """

    def __init__(self, registry: Registry, sessionmaker, host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, *, max_calls: int = 256, peer_max_calls: int = 0,
                 env_timeout: float = ENV_TIMEOUT, command_timeout: float = 10.0,
                 media_timeout: float = 300.0, result_timeout: float | None = 4 * 3600,
                 write_timeout: float = 30.0, overload_wait: float = 2.0,
                 close_wait: float = 1.0, hangup_grace: float = HANGUP_GRACE,
                 listener: socket.socket | None = None):
        self.registry = registry
        self.sessionmaker = sessionmaker
        self.host = host
        self.port = port
        self.max_calls = max_calls
        self.peer_max_calls = peer_max_calls or default_peer_max_calls(max_calls)
        self.env_timeout = env_timeout
        # result_timeout: EXEC Dial/Queue can legitimately last hours
        self.timeouts = ReplyTimeouts(command_timeout, media_timeout, result_timeout)
        self.write_timeout = write_timeout
        self.overload_wait = overload_wait
        self.close_wait = close_wait
        self.hangup_grace = hangup_grace
        self.stats: Counter = Counter()
        self.peak_calls = 0
        self._slots = threading.BoundedSemaphore(max_calls)
        self._lock = threading.Lock()
        self._calls: dict[threading.Thread, socket.socket] = {}
        self._per_peer: Counter = Counter()
        self._stopping = threading.Event()
        self._numbers = itertools.count(1)
        self._listener: socket.socket | None = listener  # given: a worker's shared socket
        self._acceptor: threading.Thread | None = None
        self._wake_r = self._wake_w = None

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> "FastAGIServer":
        if self._listener is None:
            self._listener = listen(self.host, self.port)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._acceptor = threading.Thread(target=self._accept_loop, name="agi-accept", daemon=True)
        self._acceptor.start()
        log.info("listening host=%s port=%d max_calls=%d peer_max_calls=%d", self.host,
                 self.port, self.max_calls, self.peer_max_calls)
        return self

    def __enter__(self):
        return self.start() if self._acceptor is None else self

    def __exit__(self, *exc):
        self.shutdown()

    @property
    def active_calls(self) -> int:
        with self._lock:
            return len(self._calls)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no call thread is alive. True if that happened within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._calls)
            if not threads:
                return True
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._lock:
                    return not self._calls

    def shutdown(self, grace: float = 30.0) -> int:
        """Stop accepting; wait up to `grace` s for calls in progress; cut the rest.
        Returns how many calls had to be cut."""
        if self._acceptor is None:
            return 0
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._acceptor.join()
        self._listener.close()
        for sock in (self._wake_r, self._wake_w):
            sock.close()
        self._acceptor = None
        deadline = time.monotonic() + grace
        with self._lock:
            threads = list(self._calls)
        if threads:
            log.info("shutdown waiting calls=%d grace=%.1f", len(threads), grace)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = dict(self._calls)
        for thread, sock in left.items():
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the call's next read sees end of stream
            except OSError:
                pass
        for thread in left:
            thread.join(5.0)
        log.info("stopped calls_cut=%d peak_calls=%d", len(left), self.peak_calls)
        return len(left)

    # -- accepting ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, addr = self._listener.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:  # EMFILE and friends: back off, do not spin
                        log.error("accept failed: %s", exc)
                        time.sleep(0.1)
                        continue
                    self._start_call(conn, addr)
        finally:
            selector.close()

    def _start_call(self, conn: socket.socket, addr) -> None:
        peer = "%s:%s" % addr[:2]
        key = peer_key(addr[0])
        with self._lock:
            held = self._per_peer[key]
            if held < self.peer_max_calls:
                self._per_peer[key] += 1
        if held >= self.peer_max_calls:
            self._count("peer_limit")
            log.warning("peer_limit peer=%s calls=%d (connection closed: AGISTATUS=FAILURE)",
                        peer, held)
            conn.close()
            return
        if not self._slots.acquire(timeout=self.overload_wait):
            self._leave(key)
            self._count("overload")
            log.warning("overload peer=%s max_calls=%d (connection closed: AGISTATUS=FAILURE)",
                        peer, self.max_calls)
            conn.close()
            return
        thread = threading.Thread(target=self._serve, args=(conn, peer, key),
                                  name="agi-call-%d" % next(self._numbers), daemon=True)
        with self._lock:
            self._calls[thread] = conn
            self.peak_calls = max(self.peak_calls, len(self._calls))
        try:
            thread.start()
        except RuntimeError as exc:  # cannot start a thread
            with self._lock:
                del self._calls[thread]
            self._slots.release()
            self._leave(key)
            log.error("cannot start a call thread: %s", exc)
            conn.close()

    def _leave(self, key: str) -> None:
        with self._lock:
            self._per_peer[key] -= 1
            if self._per_peer[key] <= 0:
                del self._per_peer[key]

    # -- one call ----------------------------------------------------------------------------

    def _serve(self, conn: socket.socket, peer: str, key: str) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            transport = Transport.from_socket(conn, self.write_timeout)
            try:
                env = read_env(transport, self.env_timeout)
            except AGIProtocolError as exc:
                self._count("rejected")
                log.warning("reject peer=%s reason=%s", peer, logfmt(exc))
                return
            channel = AGIChannel(transport, env, timeouts=self.timeouts,
                                 hangup_grace=self.hangup_grace)
            report = run_call(channel, self.registry, self.sessionmaker, peer=peer)
            self._count(report.status)
            if not channel.closed:
                self._close_gracefully(conn, transport)
        except Exception:
            self._count("crashed")
            log.exception("call thread failed peer=%s", peer)
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self._lock:
                self._calls.pop(threading.current_thread(), None)
            self._slots.release()
            self._leave(key)

    def _close_gracefully(self, conn: socket.socket, transport: Transport) -> None:
        """Half-close like the recorded sessions, let Asterisk send its closing `HANGUP` and
        close its end, within `close_wait` seconds."""
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            return
        deadline = time.monotonic() + self.close_wait
        received = 0
        try:
            while received < 65536:
                line = transport.readline(max(0.0, deadline - time.monotonic()))
                if not line:
                    return
                received += len(line)
        except AGIProtocolError:
            return

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1


def default_peer_max_calls(max_calls: int) -> int:
    """All but an eighth of the slots (at least one kept for other addresses): see the module
    docstring."""
    return max(1, max_calls - max(1, max_calls // 8))


def peer_key(host: str) -> str:
    """What the per-address limit counts: an IPv4 address, or an IPv6 /64 (one host commonly
    has a whole /64 to pick addresses from)."""
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def server_options(settings) -> dict:
    """FastAGIServer's keyword arguments from the settings (config/settings.py).
    Raises ValueError for a timeout that is not positive or a negative limit."""
    for name in ("agi_command_timeout", "agi_media_timeout", "agi_result_timeout"):
        if getattr(settings, name) <= 0:
            raise ValueError(f"setting {name} must be a positive number of seconds")
    if settings.agi_peer_max_calls < 0:
        raise ValueError("setting agi_peer_max_calls must be 0 (automatic) or more")
    if settings.agi_db_pool_size < 1 or settings.agi_db_max_overflow < 0:
        raise ValueError("settings agi_db_pool_size must be at least 1, agi_db_max_overflow 0 or more")
    if not -1 <= settings.agi_db_spin_ms <= 100:
        raise ValueError("setting agi_db_spin_ms must be between 0 and 100 (or -1: the default)")
    return {"command_timeout": settings.agi_command_timeout,
            "media_timeout": settings.agi_media_timeout,
            "result_timeout": settings.agi_result_timeout,
            "peer_max_calls": settings.agi_peer_max_calls}


def listen(host: str, port: int) -> socket.socket:
    return socket.create_server((host, port), backlog=1024)


# -- database ------------------------------------------------------------------------------

PING_IDLE_S = 5.0  # a pooled connection idle this long is checked before use


def make_agi_engine(url: str, *, pool_size: int = 20, max_overflow: int = 0,
                    pool_timeout: float = 3.0, connect_timeout: int = 3,
                    statement_timeout_ms: int = 5000, pgbouncer: bool = False,
                    ping_idle_s: float = PING_IDLE_S, clock=None):
    """An engine whose every wait is bounded, so a slow or dead database gives the handler an
    error (DBERROR for the dialplan) within seconds instead of hanging the call.

    No overflow by default: an overflow connection is opened for one checkout and closed after
    it, and on PostgreSQL each opening forks a backend, the slowest thing a call could wait for.
    Behind PgBouncer (`pgbouncer`) the statement and lock timeouts cannot travel as a startup
    option (PgBouncer refuses it): its connect_query sets them (deploy/pgbouncer.ini).

    A pooled connection is pinged only after `ping_idle_s` idle (models.db.ping_when_idle),
    not at every checkout: on a busy server that saves two round trips per call."""
    from models.clock import SYSTEM_CLOCK
    from models.db import make_engine, ping_when_idle

    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": statement_timeout_ms / 1000}  # lock wait
        if ":memory:" not in url and "mode=memory" not in url:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)
    else:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)
        if url.startswith("postgresql"):
            ms = int(statement_timeout_ms)
            kwargs["connect_args"] = {"connect_timeout": connect_timeout}
            if not pgbouncer:
                kwargs["connect_args"]["options"] = f"-c statement_timeout={ms} -c lock_timeout={ms}"
        kwargs["pool_pre_ping"] = False
    engine = make_engine(url, pgbouncer=pgbouncer, **kwargs)
    if not url.startswith("sqlite"):
        ping_when_idle(engine, ping_idle_s, clock or SYSTEM_CLOCK)
    return engine


# -- classic AGI over stdin/stdout ---------------------------------------------------------

def serve_stdin(registry: Registry, sessionmaker, script: str | None = None, *,
                read_fd: int = 0, write_fd: int = 1, env_timeout: float = ENV_TIMEOUT):
    """One call as a classic AGI script. The handler is `script` (name?query) when given, with
    every agi_arg_N as its args; otherwise agi_arg_1 names it and the rest are its args, so one
    wrapper serves every handler:

        #!/bin/sh                      (agi-bin/dialfunnel-agi; Asterisk's argv is not passed on)
        exec /opt/dialfunnel/.venv/bin/python -m agi.fastagi.server --stdin

        same => n,AGI(dialfunnel-agi,ivr?flow=main,arg1)

    Asterisk sends SIGHUP when the caller hangs up: it marks the channel, it does not kill us."""
    holder: dict = {"hungup": False, "channel": None}

    def on_sighup(signum, frame):
        holder["hungup"] = True
        if holder["channel"] is not None:
            holder["channel"].hungup = True

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, on_sighup)
    transport = Transport.from_fds(read_fd, write_fd)
    env = read_env(transport, env_timeout)
    args = collect_args(env)
    if script is None:
        script = args.pop(0) if args else ""
    channel = AGIChannel(transport, env, script=script, args=args, result_timeout=None)
    channel.hungup = holder["hungup"]
    holder["channel"] = channel
    return run_call(channel, registry, sessionmaker, peer="stdin")


# -- command line --------------------------------------------------------------------------

DEFAULT_WORKERS = max(1, min(os.cpu_count() or 1, 4))
RESTART_LIMIT = 5       # a dead worker is replaced, at most this many times ...
RESTART_WINDOW = 60.0   # ... in this many seconds; past that the server stops (exit 1)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m agi.fastagi.server", description=__doc__.splitlines()[0])
    p.add_argument("--host", help="listen address (default: setting agi_host)")
    p.add_argument("--port", type=int, help="listen port, 0 for any free one (default: agi_port)")
    p.add_argument("--database-url", help="default: setting database_url")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                   help="processes accepting on the one listening socket, each with its own "
                        "threads and database engine (default: CPUs up to 4, here "
                        f"{DEFAULT_WORKERS})")
    p.add_argument("--max-calls", type=int, default=256,
                   help="concurrent calls per worker (default 256), of which one address may "
                        "hold 7/8 unless the setting agi_peer_max_calls says otherwise")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds calls in progress get to finish after SIGTERM (default 30)")
    p.add_argument("--env-timeout", type=float, default=ENV_TIMEOUT)
    p.add_argument("--db-pool-size", type=int,
                   help="connections kept open once used, per worker (default: setting "
                        "agi_db_pool_size)")
    p.add_argument("--db-max-overflow", type=int,
                   help="connections beyond the pool size, closed again after use, per worker "
                        "(default: setting agi_db_max_overflow)")
    p.add_argument("--db-spin-ms", type=int,
                   help="how long a green worker blocks for a PostgreSQL reply before it serves "
                        "other calls meanwhile, ms (default: setting agi_db_spin_ms; 0: never; -1: 2 "
                        "directly, 0 behind PgBouncer)")
    p.add_argument("--db-timeout", type=float, default=3.0,
                   help="pool / connect wait in seconds (default 3)")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import a module that registers more handlers (repeatable)")
    p.add_argument("--stdin", nargs="?", const="", default=None, metavar="SCRIPT",
                   help="run one classic AGI call over stdin/stdout instead of listening")
    return p


def main(argv: list[str] | None = None) -> int:
    from config.settings import SettingsError, load_settings

    opts = _parser().parse_args(argv)
    try:
        settings = load_settings()
        options = server_options(settings)
    except (SettingsError, ValueError) as exc:
        print(f"agi.fastagi.server: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")
    import agi.handlers
    for module in opts.imports:
        importlib.import_module(module)
    registry = agi.handlers.registry
    url = opts.database_url or settings.db_url
    if url.startswith("sqlite") and not opts.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if opts.db_pool_size is None:
        opts.db_pool_size = settings.agi_db_pool_size
    if opts.db_max_overflow is None:
        opts.db_max_overflow = settings.agi_db_max_overflow
    opts.db_spin_ms = db_spin_ms(settings, opts.db_spin_ms)
    opts.db_pgbouncer = settings.database_pgbouncer
    if opts.stdin is not None:
        engine, maker = _database(opts, url)
        try:
            serve_stdin(registry, maker, opts.stdin or None, env_timeout=opts.env_timeout)
        except AGIProtocolError as exc:
            log.error("stdin: %s", exc)
            return 1
        finally:
            engine.dispose()
        return 0
    host = opts.host or settings.agi_host
    listener = listen(host, settings.agi_port if opts.port is None else opts.port)
    settle_collector()
    if opts.workers <= 1:
        return _worker(opts, registry, url, listener, host, options)
    log.info("listening host=%s port=%d workers=%d", host, listener.getsockname()[1],
             opts.workers)
    return Supervisor(opts.workers, lambda: _worker(opts, registry, url, listener, host, options),
                      listener, opts.grace).run()


DB_SPIN_MS = 2   # agi_db_spin_ms -1, directly (bench/agi_load.py: p99 5.9-6.4 ms; 0: 8.2-8.4)


def db_spin_ms(settings, given: int | None = None) -> int:
    """The database spin of the workers (db_wait): --db-spin-ms, else agi_db_spin_ms; -1 is 2 ms
    directly and none behind PgBouncer, whose extra hop makes replies miss the spin (p99 at
    1,000 channels 7.4-8.8 ms without, 10.5-15.4 ms with)."""
    spin = settings.agi_db_spin_ms if given is None else given
    if spin < 0:
        return 0 if settings.database_pgbouncer else DB_SPIN_MS
    return spin
FULL_COLLECTION_AFTER = 100  # young-generation collections between two full ones (Python: 10)


def settle_collector() -> None:
    """What is loaded so far leaves the collector's care (gc.freeze: shorter full collections,
    measured 82 -> 31 ms with 500 calls held, and workers keep sharing those pages with the
    parent), and full collections come ten times less often: at 1,000 channels each one took
    14-36 ms of CPU, every ~6 s in each worker, a pause for every call the worker held, and
    freed nothing (a call's objects go with their reference counts; the young collections,
    kept as they are, find the rare cycle)."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


def _database(opts, url: str):
    from models.db import make_sessionmaker

    if url.startswith("postgresql") and "gevent.monkey" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("select"):
            from agi.fastagi import db_wait
            db_wait.install(getattr(opts, "db_spin_ms", DB_SPIN_MS) / 1000)

    engine = make_agi_engine(url, pool_size=opts.db_pool_size, max_overflow=opts.db_max_overflow,
                             pool_timeout=opts.db_timeout,
                             connect_timeout=max(1, int(opts.db_timeout)),
                             pgbouncer=opts.db_pgbouncer)
    return engine, make_sessionmaker(engine)


def _worker(opts, registry, url: str, listener: socket.socket, host: str, options: dict) -> int:
    """Serve on `listener` until SIGTERM/SIGINT, with this process's own database engine."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    engine, maker = _database(opts, url)
    try:
        server = FastAGIServer(registry, maker, host, listener.getsockname()[1],
                               max_calls=opts.max_calls, env_timeout=opts.env_timeout,
                               listener=listener, **options)
        server.start()
        while not stop.wait(0.5):
            pass
        log.info("SIGTERM: stopping, active_calls=%d", server.active_calls)
        server.shutdown(opts.grace)
    finally:
        engine.dispose()
    return 0


class Supervisor:
    """N worker processes forked after listen(): the kernel hands each connection to one of
    them. A worker that dies is replaced (RESTART_LIMIT per RESTART_WINDOW, then everything
    stops and run() returns 1). SIGTERM/SIGINT: close the socket, pass SIGTERM on, wait for the
    workers (their `grace` plus 10 s, then SIGKILL); 0 when all of them exited 0."""

    SIGNALS = {signal.SIGTERM, signal.SIGINT}

    def __init__(self, count: int, work, listener: socket.socket, grace: float):
        self.count = count
        self.work = work            # runs in the child; returns its exit code
        self.listener = listener
        self.grace = grace
        self.workers: dict[int, int] = {}   # pid -> worker number
        self.restarts: list[float] = []
        self._signalled: list[int] = []

    def run(self) -> int:
        for signum in self.SIGNALS:
            signal.signal(signum, lambda signum, _frame: self._signalled.append(signum))
        for number in range(1, self.count + 1):
            self._spawn(number)
        failed = False
        while not self._signalled and not failed:
            failed = self._reap()
            time.sleep(0.1)
        if not failed:
            log.info("SIGTERM: stopping workers=%d", len(self.workers))
        self.listener.close()
        return self._stop() or int(failed)

    def _spawn(self, number: int) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)  # until the child has its own
        try:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    for signum in self.SIGNALS:
                        signal.signal(signum, signal.SIG_DFL)
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
                    code = self.work()
                except BaseException:
                    log.exception("worker %d failed", number)
                finally:
                    logging.shutdown()
                    os._exit(code)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
        self.workers[pid] = number
        log.info("worker %d started pid=%d", number, pid)

    def _reap(self) -> bool:
        """Replace dead workers; True when they die too often."""
        while self.workers:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return False
            number = self.workers.pop(pid, None)
            if number is None:
                continue
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW] + [now]
            code = os.waitstatus_to_exitcode(status)
            if len(self.restarts) > RESTART_LIMIT:
                log.error("worker %d pid=%d exited code=%d: %d workers died within %.0f s, "
                          "stopping", number, pid, code, len(self.restarts), RESTART_WINDOW)
                return True
            log.error("worker %d pid=%d exited code=%d: replacing it", number, pid, code)
            self._spawn(number)
        return False

    def _stop(self) -> int:
        for pid in self.workers:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace + 10
        worst = 0
        while self.workers:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                if time.monotonic() > deadline:
                    for left in self.workers:
                        log.error("worker pid=%d did not stop: killed", left)
                        _kill(left, signal.SIGKILL)
                    deadline = float("inf")
                time.sleep(0.05)
                continue
            if self.workers.pop(pid, None) is not None:
                worst = worst or abs(os.waitstatus_to_exitcode(status))
        log.info("stopped workers=%d", self.count)
        return 1 if worst else 0


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    sys.exit(main())
