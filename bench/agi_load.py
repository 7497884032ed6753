"""FastAGI load benchmark: how many IVR calls the FastAGI server takes, and at what latency.
Prints figures; it is not a test.

    python bench/agi_load.py                          # SQLite with the demo company
    python bench/agi_load.py --levels 100 --classic-calls 10 --duration 6
    python bench/agi_load.py --database-url postgresql+psycopg:///dialfunnel_bench
    python bench/agi_load.py --database-url postgresql+psycopg:///dialfunnel_bench \
        --via direct pgbouncer --levels 1000 --modes paced     # both ways (apt-get install pgbouncer)

What runs, all on this machine (loopback only; every loop is bounded in time):
  server   `python -m agi.fastagi.server --workers 2 --max-calls 1100` (--workers: processes on one
           listening socket), a fresh one per row, on a database holding the demo company
           (dialfunnel.demo.load_demo).
  handler  `ivr?flow=main` when agi/handlers registers an `ivr` handler (the callers press
           --ivr-keys); otherwise `bench_ivr` below, which does what ivr_flows/main.yaml's
           "order status by caller ID" branch does: 6 AGI commands and one indexed lookup
           (models.crm.customers.find_by_phone); the server adds SET VARIABLE DIALFUNNEL_STATUS (7).
  callers  --client-procs separate processes (default 2) of simulated Asterisk channels, each
           process one event loop over non-blocking sockets (a thread per channel made the
           callers' GIL and thread switches part of every latency and took CPU the server
           needed): the env block one line per write, replies from
           agi.pbxsim.agi_driver.SimChannel (the replies a real Asterisk 22 gives, see
           tests/fixtures/asterisk), the closing HANGUP.
  classic  the same handler as classic AGI, one `python -m agi.fastagi.server --stdin bench_ivr` process
           per call fed over pipes (what Asterisk does for AGI(script)), for comparison.

Two modes per number of channels:
  paced    every caller spends --rate-derived seconds in the prompts (channels / rate, with
           jitter, starts staggered), so N sessions are held at once while about `rate` calls a
           second arrive: the goal "1,000 concurrent sessions held, >= 300 IVR calls/s".
  max      callers answer at once: the server's capacity (calls/s) and latency under saturation.

Figures (steady state: the calls that end between the ramp-up and the deadline):
  calls/s             completed calls per second
  ms/cmd p50 / p99    added latency per AGI command: from the caller's reply (or the env block)
                      to the kernel's receipt of the server's next command (SO_TIMESTAMPNS;
                      its close: when the caller reads it), i.e. what the server adds
  lookup p99          the same for the command right after the database lookup
  log p99             the same for the closing DIALFUNNEL_STATUS, which waits for the call-log
                      row's commit (agi/fastagi/group_commit.py)
  late p99            what the callers add on top, not in the figures above: from the kernel's
                      receipt of the server's line to the caller's loop reading it
  held                sessions open at once: the callers' max, and the server's (the sum of
                      each worker's peak of calls in progress, from its closing log line)
  OS thr              the server's OS threads, max (its call threads are green: gevent)
  RSS MB              the server's peak resident memory (VmHWM, summed over its processes)
  DB conns            peak database connections of the server (SQLite: open handles on the file;
                      PostgreSQL: pg_stat_activity)
  cmds/call           AGI commands per call (with the closing SET VARIABLE DIALFUNNEL_STATUS)
  server, caller      CPU time (user+sys) per call of the server processes and of the callers
  db                  the same of the PostgreSQL backends serving the server, and of the
                      PgBouncer this script started when the row goes through it
  CPU % srv/cli/db/oth  how the machine's CPUs were used meanwhile: the server, the callers,
                      the PostgreSQL backends serving the server (and PgBouncer), and
                      processes that are not part of the benchmark (a shared machine makes
                      the figures worse, never better)
"""
from __future__ import annotations

import argparse
import errno
import heapq
import json
import os
import random
import re
import selectors
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agi.handlers import register  # noqa: E402
from bench.world_flags import COUNT, NATURAL, PERCENT, POSITIVE, check  # noqa: E402

MENU_PROMPT = "dialfunnel/main-menu"


def _register_ivr_open() -> None:
    """The production `ivr` handler (agi/handlers/ivr.py, ivr_flows/main.yaml) with its clock
    pinned inside office hours (Thursday 10:00 Asia/Shanghai), so the main menu, not the
    after-hours flow, answers whatever the time of the run."""
    from agi.handlers.ivr import make_ivr_handler
    from models.clock import FakeClock

    register("ivr_open", make_ivr_handler(clock=FakeClock()))


if os.environ.get("AGI_LOAD_IVR") == "open":
    _register_ivr_open()

SUCCESS = {"OK", "COMPLETED", "TRANSFER", "CALLBACK", "VOICEMAIL", "FAX"}


@register("bench_ivr")
def bench_ivr(agi, session, args):
    """ivr_flows/main.yaml's order-status-by-caller-ID branch, as AGI commands."""
    from models.crm.customers import find_by_phone

    agi.answer()                                                        # 1
    key = agi.stream_file(MENU_PROMPT, "0123456789*#")                  # 2 (caller presses 1)
    if key != "1":
        agi.set_variable("DIALFUNNEL_TRANSFER", "queue:sales")
        return None
    customers = find_by_phone(session, agi.env.get("agi_callerid", ""))  # indexed lookup
    customer_id = customers[0].id if customers else 0
    session.commit()  # hand the connection back to the pool before playing more prompts
    agi.say_digits(customer_id)                                         # 3
    agi.stream_file("dialfunnel/order-status" if customers else "dialfunnel/not-found", "")  # 4
    agi.set_variable("DIALFUNNEL_CUSTOMER", customer_id)                # 5
    agi.set_variable("DIALFUNNEL_TRANSFER", "queue:sales")             # 6
    return None


# -- the callers (run in their own process: `agi_load.py _client <json>`) ----------------------

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value; Python does not name it
CALL_TIMEOUT = 60.0  # a call that waits this long for the server fails ("timeout")


class _Call:
    """One simulated channel in a caller process's event loop (``_Callers``)."""

    def __init__(self, callers: "_Callers", rng: random.Random, number: int):
        from agi.pbxsim.agi_driver import Scenario, SimChannel, build_env

        spec = callers.spec
        self.callers, self.rng = callers, rng
        self.delays: dict[int, float] = {}
        if spec["hold"]:
            total = spec["hold"] * rng.uniform(0.8, 1.2)
            self.delays = {1: total * 0.6, 3: total * 0.4}  # the menu and the answer prompts
        keys = spec["keys"]
        self.keys = keys
        self.env = build_env(spec["host"], spec["port"], spec["script"],
                             callerid=rng.choice(spec["phones"]),
                             channel="PJSIP/dialfunnel-trunk-%08x" % number,
                             uniqueid="%d.%d" % (time.time(), number))
        self.sim = SimChannel(Scenario(keys=list(keys), delays=self.delays, timeout=60.0),
                              dict(self.env))
        self.gaps: list[float] = []   # the server's turn: our reply -> its next line arriving
        self.late: list[float] = []   # its line arriving -> our loop reading it
        self.lookup_at: int | None = None
        self.error = ""
        self.index = 0
        self.buf = b""
        self.sent = 0.0
        self.busy_until = 0.0         # playing a prompt: the next line waits for it
        self.t0 = time.monotonic()
        self.last = self.t0
        self.done = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        code = self.sock.connect_ex((spec["host"], spec["port"]))
        if code not in (0, errno.EINPROGRESS):
            self.finish(f"connect: {os.strerror(code)}")
            return
        callers.selector.register(self.sock, selectors.EVENT_WRITE, self.connected)

    def connected(self) -> None:
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.finish(f"connect: {os.strerror(code)}")
            return
        self.callers.selector.modify(self.sock, selectors.EVENT_READ, self.readable)
        try:
            for key, value in self.env:  # as Asterisk writes it: a line per write
                self.sock.send(f"{key}: {value}\n".encode())
            self.sock.send(b"\n")
        except OSError as exc:
            self.finish(f"{exc.__class__.__name__}")
            return
        self.sent = time.time()

    def readable(self) -> None:
        try:
            chunk, ancillary, _flags, _addr = self.sock.recvmsg(65536, 64)
        except BlockingIOError:
            return
        except OSError:
            chunk, ancillary = b"", []
        now = time.time()
        arrived = now
        for _level, kind, data in ancillary:
            if kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", data[:16])
                arrived = seconds + nanoseconds / 1e9
        self.last = time.monotonic()
        if not chunk:  # the server closed: its last turn
            self.gaps.append(max(0.0, now - self.sent))
            self.finish("")
            return
        self.buf += chunk
        while b"\n" in self.buf and not self.done:
            raw, self.buf = self.buf.split(b"\n", 1)
            self.gaps.append(max(0.0, arrived - self.sent))
            self.late.append(max(0.0, now - arrived))
            delay = self.delays.get(self.index)
            if delay:  # the prompt plays before Asterisk answers
                self.callers.later(delay, lambda line=raw.decode(): self.reply(line))
            else:
                self.reply(raw.decode())

    def reply(self, line: str) -> None:
        if self.done:
            return
        index = self.index
        replies, hangs_up = self.sim.handle(index, line)
        if self.lookup_at is None and self.keys and self.keys[0] and \
                replies[0].startswith("200 result=%d " % ord(self.keys[0][0])):
            self.lookup_at = index + 1  # the key that starts the lookup was pressed
        out = "".join(r + "\n" for r in replies)
        if hangs_up and not self.sim.dead:  # the handler hung up: Asterisk says HANGUP
            self.sim.dead = True
            out += "HANGUP\n"
        self.index += 1
        try:
            self.sock.sendall(out.encode())
        except OSError as exc:
            self.finish(f"{exc.__class__.__name__}")
            return
        self.sent = time.time()
        self.last = time.monotonic()
        if self.index >= 64:
            self.finish("")

    def finish(self, error: str) -> None:
        if self.done:
            return
        self.done = True
        self.error = self.error or error
        try:
            self.callers.selector.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        if not error:
            try:
                self.sock.send(b"HANGUP\n")
            except OSError:
                pass
        self.sock.close()
        self.callers.ended(self)


class _Callers:
    """A caller process: every simulated channel on one thread, an event loop over non-blocking
    sockets (a thread per channel made the callers' GIL and thread switches part of each
    latency and took CPU the server needed). Each of ``channels`` workers places one call after
    another until the deadline."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.selector = selectors.DefaultSelector()
        self.timers: list = []
        self.seq = 0
        self.inflight = 0
        self.peak = 0
        self.live: set[_Call] = set()
        self.calls: list[tuple] = []
        self.samples: list[int] = []
        self.numbers = iter(range(spec.get("part", 0) * 10**8 + 1, 10**10))
        self.started = time.monotonic()
        self.deadline = self.started + spec["duration"]
        self.workers: dict[_Call, random.Random] = {}

    def later(self, delay: float, fn) -> None:
        self.seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self.seq, fn))

    def place(self, rng: random.Random) -> None:
        if time.monotonic() >= self.deadline:
            return
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        call = _Call(self, rng, next(self.numbers))
        if not call.done:
            self.live.add(call)
            self.workers[call] = rng

    def ended(self, call: _Call) -> None:
        self.inflight -= 1
        self.live.discard(call)
        rng = self.workers.pop(call, None) or call.rng
        self.calls.append((call.t0 - self.started, time.monotonic() - self.started,
                           call.sim.variables.get("DIALFUNNEL_STATUS") or "", call.gaps,
                           call.lookup_at, call.error, call.late))
        # the next call from the loop, not from here (a refused connect ends a call inside
        # its own start); after an error a moment later, not in a tight loop
        self.later(0.01 if call.error else 0.0, lambda: self.place(rng))

    def sample(self) -> None:
        self.samples.append(self.inflight)
        if time.monotonic() < self.deadline:
            self.later(0.05, self.sample)

    def sweep(self) -> None:
        cutoff = time.monotonic() - CALL_TIMEOUT
        for call in [c for c in self.live if c.last < cutoff]:
            call.finish("timeout")
        self.later(1.0, self.sweep)

    def run(self) -> None:
        first = self.spec.get("first_seed", 0)
        for n in range(self.spec["channels"]):
            rng = random.Random(first + n)
            self.later(rng.uniform(0, self.spec["stagger"]), lambda rng=rng: self.place(rng))
        self.sample()
        self.sweep()
        end = self.deadline + 120
        while time.monotonic() < end and (self.live or time.monotonic() < self.deadline):
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                heapq.heappop(self.timers)[2]()
            timeout = min(0.05, max(0.0, self.timers[0][0] - now)) if self.timers else 0.05
            for key, _mask in self.selector.select(timeout):
                key.data()


def _client_main(spec: dict) -> dict:
    callers = _Callers(spec)
    callers.run()
    calls = callers.calls
    warmup, duration = spec["warmup"], spec["duration"]
    window = (warmup, duration)
    steady = [c for c in calls if window[0] <= c[1] <= window[1]]  # completed within the window
    ok = [c for c in steady if c[2] in SUCCESS and not c[5]]
    statuses: dict[str, int] = {}
    for c in steady:  # outcome words of the handler (ivr: TRANSFER, COMPLETED...) or errors
        label = c[5] or c[2] or "(none)"
        statuses[label] = statuses.get(label, 0) + 1
    return {
        "calls": len(steady), "ok": len(ok), "statuses": statuses,
        "window_s": window[1] - window[0],
        "gaps": [round(g * 1000, 3) for c in ok for g in c[3]],
        "lookup": [round(c[3][c[4]] * 1000, 3) for c in ok
                   if c[4] is not None and c[4] < len(c[3])],
        "log": [round(c[3][-2] * 1000, 3) for c in ok if len(c[3]) >= 2],
        "late": [round(g * 1000, 3) for c in ok for g in c[6]],
        "commands": [len(c[3]) - 1 for c in ok],
        "peak": callers.peak, "samples": callers.samples[int(window[0] / 0.05):],
        "all_calls": len(calls),
        "client_cpu_s": time.process_time(),
    }


def merge_clients(parts: list[dict]) -> dict:
    """One result from the caller processes' results."""
    gaps = sorted(g for r in parts for g in r["gaps"])
    lookup = sorted(g for r in parts for g in r["lookup"])
    logged = sorted(g for r in parts for g in r["log"])
    late = sorted(g for r in parts for g in r["late"])
    commands = [n for r in parts for n in r["commands"]]
    statuses: dict[str, int] = {}
    for r in parts:
        for key, n in r["statuses"].items():
            statuses[key] = statuses.get(key, 0) + n
    length = min(len(r["samples"]) for r in parts)
    held = [sum(r["samples"][i] for r in parts) for i in range(length)] or [0]
    window = parts[0]["window_s"]
    ok = sum(r["ok"] for r in parts)
    return {
        "calls": sum(r["calls"] for r in parts), "ok": ok, "statuses": statuses,
        "window_s": window, "calls_per_s": ok / window,
        "ms_p50": pct(gaps, 0.50), "ms_p99": pct(gaps, 0.99), "ms_max": gaps[-1] if gaps else 0.0,
        "lookup_p99": pct(lookup, 0.99), "log_p99": pct(logged, 0.99),
        "late_p99": pct(late, 0.99),
        "commands_per_call": statistics.fmean(commands) if commands else 0,
        "lookups": len(lookup),
        "held_max": max(max(held), sum(r["peak"] for r in parts) if len(parts) == 1 else 0),
        "held_mean": statistics.fmean(held),
        "all_calls": sum(r["all_calls"] for r in parts),
        "client_cpu_s": sum(r["client_cpu_s"] for r in parts),
    }


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(p * len(values)))]


# -- the server and what we watch of it ------------------------------------------------------

IVR_SCRIPT = [False]  # set by main(): the server processes register ivr_open
BOUNCER_PID = [0]     # set by main(): the PgBouncer it started (its CPU counts as the database's)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def family(pid: int) -> list[int]:
    """`pid` and its worker processes (agi.fastagi.server --workers N forks them)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [pid] + [int(p) for p in fh.read().split()]
    except OSError:
        return [pid]


def busy_seconds() -> float:
    """CPU time all processes of the machine have used (/proc/stat), in seconds."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DbWatch:
    """Counts the server's database connections; on PostgreSQL also the CPU time of their
    backends (this machine's processes too: a local server)."""

    def __init__(self, url: str, pids: list[int]):
        self.url, self.pids = url, pids
        self.backends: dict[int, list[float]] = {}  # pid -> [cpu first seen, cpu last seen]
        self.path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite") else None
        self.engine = None
        if not self.path:
            from sqlalchemy import create_engine
            self.engine = create_engine(url, pool_size=1, max_overflow=0)

    def count(self) -> int:
        if self.path:
            n = 0
            for pid in self.pids:
                try:
                    for fd in os.listdir(f"/proc/{pid}/fd"):
                        try:
                            if os.readlink(f"/proc/{pid}/fd/{fd}") == self.path:
                                n += 1
                        except OSError:
                            pass
                except OSError:
                    pass
            return n
        from sqlalchemy import text
        with self.engine.connect() as conn:
            pids = conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = "
                                     "current_database() AND pid <> pg_backend_pid()")).all()
        for pid in pids:
            try:
                cpu = cpu_seconds(pid)
            except OSError:
                continue
            self.backends.setdefault(pid, [cpu, cpu])[1] = cpu
        return len(pids)

    def backend_cpu(self) -> float:
        """CPU seconds the backends used while watched (call count() once more first)."""
        return sum(last - first for first, last in self.backends.values())

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def server_env(url: str, workdir: Path, pgbouncer: bool = False) -> dict:
    env = dict(os.environ)
    env["AGI_LOAD_IVR"] = "open" if IVR_SCRIPT[0] else ""
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT)])
    env["DIALFUNNEL_DATABASE_URL"] = url
    env["DIALFUNNEL_DATABASE_PGBOUNCER"] = "true" if pgbouncer else "false"
    env["DIALFUNNEL_DATA_DIR"] = str(workdir)
    env.pop("DIALFUNNEL_CONFIG", None)
    return env


def start_server(url: str, workdir: Path, port: int, log, opts, pgbouncer: bool = False):
    workers = opts.workers
    cmd = [sys.executable, "-m", "agi.fastagi.server", "--port", str(port), "--max-calls", "1100",
           "--workers", str(workers), "--import", "agi_load"]
    if opts.db_pool_size is not None:
        cmd += ["--db-pool-size", str(opts.db_pool_size)]
    if opts.db_max_overflow is not None:
        cmd += ["--db-max-overflow", str(opts.db_max_overflow)]
    proc = subprocess.Popen(cmd, env=server_env(url, workdir, pgbouncer),
                            stdout=subprocess.DEVNULL, stderr=log, cwd=str(workdir))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            if len(family(proc.pid)) > workers - (workers == 1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited: see {log.name}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


def start_clients(spec: dict, count: int, env: dict) -> list[subprocess.Popen]:
    """`count` caller processes sharing the channels (one Python process is one CPU at most)."""
    procs = []
    for part in range(count):
        share = dict(spec, part=part, first_seed=part * 100_000,
                     channels=spec["channels"] // count + (part < spec["channels"] % count))
        out = tempfile.TemporaryFile("w+")  # a pipe would fill up and block the process
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "_client"],
                                stdin=subprocess.PIPE, stdout=out, env=env, text=True)
        proc.out = out
        proc.stdin.write(json.dumps(share))
        proc.stdin.close()
        procs.append(proc)
    return procs


def _output(proc: subprocess.Popen) -> str:
    proc.wait()
    proc.out.seek(0)
    text = proc.out.read()
    proc.out.close()
    return text


def run_level(mode: str, channels: int, opts, url: str, workdir: Path, script: str,
              phones: list[str], via: str = "direct", server_url: str | None = None) -> dict:
    """One row. `server_url`: where the server connects (PgBouncer's URL when `via` is
    pgbouncer); `url` the database itself, watched for its backends."""
    port = free_port()
    with open(workdir / f"server-{mode}-{channels}-{via}.log", "w") as log:
        server = start_server(server_url or url, workdir, port, log, opts,
                              pgbouncer=via == "pgbouncer")
        pids = family(server.pid)
        watch = DbWatch(url, pids)
        hold = channels / opts.rate if mode == "paced" else 0.0
        duration = opts.duration + (hold * 1.2 if mode == "paced" else 0.0)
        spec = {"host": "127.0.0.1", "port": port, "script": script, "channels": channels,
                "duration": duration, "hold": hold, "keys": opts.ivr_keys,
                "stagger": hold * 1.2 if mode == "paced" else 0.5,
                "warmup": hold * 1.2 + 0.5 if mode == "paced" else 1.0, "phones": phones}
        cpu0 = sum(cpu_seconds(pid) for pid in pids)
        bouncer = BOUNCER_PID[0] if via == "pgbouncer" else 0
        bouncer0 = cpu_seconds(bouncer) if bouncer else 0.0
        busy0, wall0, own0 = busy_seconds(), time.monotonic(), time.process_time()
        clients = start_clients(spec, opts.client_procs, server_env(url, workdir))
        threads = db_peak = 0
        while any(c.poll() is None for c in clients):
            try:
                threads = max(threads, sum(int(proc_status(pid)["Threads"]) for pid in pids))
                db_peak = max(db_peak, watch.count())
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.1)
        result = merge_clients([json.loads(_output(c)) for c in clients])
        wall = time.monotonic() - wall0
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
        watch.count()
        db_cpu = watch.backend_cpu() + (cpu_seconds(bouncer) - bouncer0 if bouncer else 0.0)
        own = time.process_time() - own0
        others = (busy_seconds() - busy0) - cpu - result["client_cpu_s"] - db_cpu - own
        rss = sum(int(proc_status(pid)["VmHWM"].split()[0]) for pid in pids) / 1024
        server.terminate()
        server.wait(60)
        watch.close()
    with open(workdir / f"server-{mode}-{channels}-{via}.log") as log:
        server_held = sum(int(m) for m in re.findall(r"peak_calls=(\d+)", log.read()))
    ncpu = os.cpu_count() or 1
    result.update(mode=mode, channels=channels, via=via, db_conns=db_peak,
                  server_threads=threads, server_held=server_held,
                  cmds=result["commands_per_call"],
                  others_pct=100 * max(0.0, others) / (wall * ncpu),
                  server_pct=100 * cpu / (wall * ncpu), db_pct=100 * db_cpu / (wall * ncpu),
                  client_pct=100 * result["client_cpu_s"] / (wall * ncpu),
                  rss_mb=rss, cpu_ms_per_call=1000 * cpu / max(1, result["all_calls"]),
                  client_ms_per_call=1000 * result["client_cpu_s"] / max(1, result["all_calls"]),
                  db_ms_per_call=1000 * db_cpu / max(1, result["all_calls"]),
                  hold_s=hold)
    return result


# -- classic AGI: one process per call over pipes --------------------------------------------

def classic_call(url: str, workdir: Path, script: str, phone: str, keys: list[str]) -> dict:
    from agi.fastagi.protocol import Transport
    from agi.pbxsim.agi_driver import Scenario, SimChannel, build_env

    handler = script.split("?")[0]
    cmd = [sys.executable, "-m", "agi.fastagi.server", "--stdin", script, "--import", "agi_load"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=server_env(url, workdir), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(workdir))
    env = [(k, v) for k, v in build_env("", 0, handler, callerid=phone)
           if not k.startswith("agi_network")]
    env = [("agi_request", "/usr/share/asterisk/agi-bin/dialfunnel-agi") if k == "agi_request"
           else (k, v) for k, v in env]
    sim = SimChannel(Scenario(keys=list(keys)), dict(env))
    transport = Transport.from_fds(proc.stdout.fileno(), proc.stdin.fileno())
    gaps = []
    for key, value in env:
        transport.write(f"{key}: {value}\n".encode())
    transport.write(b"\n")
    sent = time.perf_counter()
    for index in range(64):
        raw = transport.readline(60.0, limit=8192)
        gaps.append(time.perf_counter() - sent)
        if not raw:
            break
        replies, _ = sim.handle(index, raw[:-1].decode())
        transport.write("".join(r + "\n" for r in replies).encode())
        sent = time.perf_counter()
    proc.stdin.close()  # (classic AGI: a hangup is SIGHUP, not a HANGUP line)
    proc.wait(60)
    proc.stdout.close()
    return {"seconds": time.perf_counter() - t0, "gaps": gaps,
            "status": sim.variables.get("DIALFUNNEL_STATUS")}


def run_classic(opts, url: str, workdir: Path, script: str, phones: list[str]) -> dict:
    rng = random.Random(7)
    results: list[dict] = []
    lock = threading.Lock()
    todo = list(range(opts.classic_calls))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
                phone = rng.choice(phones)
            result = classic_call(url, workdir, script, phone, opts.ivr_keys)
            with lock:
                results.append(result)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(opts.classic_concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ok = [r for r in results if r["status"] in SUCCESS]
    first = sorted(r["gaps"][0] * 1000 for r in ok)
    rest = sorted(g * 1000 for r in ok for g in r["gaps"][1:])
    return {"calls": len(results), "ok": len(ok), "calls_per_s": len(ok) / elapsed,
            "first_ms_p50": pct(first, 0.5), "ms_p50": pct(rest, 0.5), "ms_p99": pct(rest, 0.99),
            "call_ms_p50": pct(sorted(r["seconds"] * 1000 for r in ok), 0.5)}


# -- the database ----------------------------------------------------------------------------

def prepare_database(url: str, customers: int, with_orders: bool) -> list[str]:
    """Demo company in an empty database; returns caller IDs to use: 80% numbers of known
    customers (with orders when `with_orders`: the IVR's order status by caller ID finds some),
    20% unknown numbers."""
    import phonenumbers
    from sqlalchemy import func, select

    from dialfunnel.demo import load_demo
    from models.clock import SYSTEM_CLOCK
    from models.db import make_engine, make_sessionmaker
    from models.migrate import upgrade
    from models.schema import Customer, Order, User

    engine = make_engine(url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    with maker() as session:
        if not session.scalar(select(func.count()).select_from(User)):
            load_demo(session, customers=customers, clock=SYSTEM_CLOCK)
            session.commit()
        query = select(Customer.phone_e164, Customer.mobile_e164).order_by(Customer.id).limit(2000)
        if with_orders:
            query = query.where(Customer.id.in_(select(Order.customer_id)))
        rows = session.execute(query).all()
    engine.dispose()
    known = []
    for row in rows:
        for e164 in row:
            if e164:
                number = phonenumbers.parse(e164)
                known.append("".join(ch for ch in phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.NATIONAL) if ch.isdigit()))
    if not known:
        raise SystemExit(f"no customer{' with orders' if with_orders else ''} in {url}: it holds "
                         "another company's data; give an empty database")
    rng = random.Random(2026)
    unknown = ["139%08d" % rng.randrange(10**8) for _ in range(len(known) // 4)]
    return known + unknown


# -- report ----------------------------------------------------------------------------------

HEADER = (("mode", "", "<7"), ("via", "", "<10"), ("chans", "", ">6"), ("calls", "", ">7"), ("calls/s", "", ">8"),
          ("p50 ms", "/cmd", ">8"), ("p99 ms", "/cmd", ">8"), ("lookup", "p99 ms", ">8"), ("log", "p99 ms", ">8"), ("late", "p99 ms", ">8"),
          ("held", "max", ">6"), ("srv", "held", ">6"), ("OS", "thr", ">4"),
          ("RSS MB", "peak", ">7"),
          ("DB", "conns", ">6"), ("cmds", "/call", ">6"), ("server", "ms/call", ">8"),
          ("caller", "ms/call", ">8"), ("db", "ms/call", ">8"), ("CPU %", "srv/cli/db/oth", ">16"))


def print_header() -> None:
    for row in (0, 1):
        print("".join(f"{h[row]:{h[2]}}" for h in HEADER) + ("  outcomes" if row == 0 else ""))


def print_row(r: dict, note: str = "") -> None:
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items())) or "-"
    statuses = f"{note}  {statuses}" if note else statuses
    split = f"{r['server_pct']:.0f}/{r['client_pct']:.0f}/{r['db_pct']:.0f}/{r['others_pct']:.0f}"
    print(f"{r['mode']:<7}{r['via']:<10}{r['channels']:>6}{r['calls']:>7}{r['calls_per_s']:>8.1f}"
          f"{r['ms_p50']:>8.2f}{r['ms_p99']:>8.2f}{r['lookup_p99']:>8.2f}{r['log_p99']:>8.2f}"
          f"{r['late_p99']:>8.2f}"
          f"{r['held_max']:>6}{r['server_held']:>6}{r['server_threads']:>4}{r['rss_mb']:>7.0f}"
          f"{r['db_conns']:>6}"
          f"{r['cmds']:>6.1f}{r['cpu_ms_per_call']:>8.2f}{r['client_ms_per_call']:>8.2f}"
          f"{r['db_ms_per_call']:>8.2f}"
          f"{split:>16}  {statuses}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levels", type=int, nargs="+", default=[100, 500, 1000],
                   help="concurrent channels (default 100 500 1000)")
    p.add_argument("--modes", nargs="+", default=["paced", "max"], choices=["paced", "max"])
    p.add_argument("--rate", type=float, default=330.0,
                   help="paced mode: calls/s offered; each call holds channels/rate seconds")
    p.add_argument("--duration", type=float, default=8.0, help="seconds of steady load per row")
    p.add_argument("--workers", type=int, default=2,
                   help="server worker processes (agi.fastagi.server --workers; default 2)")
    p.add_argument("--db-pool-size", type=int,
                   help="per server worker (default: agi.fastagi.server's)")
    p.add_argument("--db-max-overflow", type=int,
                   help="per server worker (default: agi.fastagi.server's; PostgreSQL's max_connections "
                        "is shared)")
    p.add_argument("--client-procs", type=int, default=2,
                   help="processes the simulated channels are spread over (default 2)")
    p.add_argument("--max-other", type=float, default=10.0,
                   help="a row during which other processes used more than this %% of the CPUs "
                        "is marked DISTURBED and run again, up to --tries times (default 10)")
    p.add_argument("--tries", type=int, default=3)
    p.add_argument("--classic-calls", type=int, default=20)
    p.add_argument("--classic-concurrency", type=int, default=2)
    p.add_argument("--customers", type=int, default=5000, help="demo company size")
    p.add_argument("--database-url", help="default: a fresh SQLite file in a temp folder")
    p.add_argument("--via", nargs="+", default=["direct"], choices=["direct", "pgbouncer"],
                   help="PostgreSQL: the server connects straight to --database-url (direct) "
                        "and/or through PgBouncer in transaction pooling (pgbouncer), each row "
                        "run once per way (default direct)")
    p.add_argument("--pgbouncer-url",
                   help="a running PgBouncer in front of --database-url's database (default: "
                        "one started on a free loopback port as deploy/pgbouncer.ini sets it "
                        "up; needs `apt-get install pgbouncer`)")
    p.add_argument("--pgbouncer-pool", type=int, default=20,
                   help="the started PgBouncer's server connections (default_pool_size, 20)")
    p.add_argument("--handler", choices=["auto", "ivr", "bench_ivr"], default="auto",
                   help="auto: ivr when agi/handlers/ivr.py imports, else bench_ivr")
    p.add_argument("--ivr-keys", nargs="*",
                   help="DTMF the callers press, one entry per listening command (default: 2 for "
                        "ivr: main menu -> order status by caller ID; 1 for bench_ivr)")
    opts = p.parse_args(argv)
    check(p, opts, {"levels": COUNT, "rate": POSITIVE, "duration": POSITIVE, "workers": COUNT,
                    "db_pool_size": COUNT, "db_max_overflow": NATURAL, "client_procs": COUNT,
                    "max_other": PERCENT, "tries": COUNT, "classic_calls": NATURAL,
                    "classic_concurrency": COUNT, "customers": NATURAL, "pgbouncer_pool": COUNT})

    workdir = Path(tempfile.mkdtemp(prefix="agi-load-"))
    url = opts.database_url or f"sqlite:///{workdir / 'bench.db'}"
    use_ivr = False
    if opts.handler != "bench_ivr" and (ROOT / "agi" / "handlers" / "ivr.py").exists():
        try:
            _register_ivr_open()
            use_ivr = True
        except Exception as exc:  # noqa: BLE001 - the IVR is another issue's work in progress
            if opts.handler == "ivr":
                raise
            print(f"agi/handlers/ivr.py does not load ({exc.__class__.__name__}: {exc}); "
                  "using bench_ivr")
    IVR_SCRIPT[0] = use_ivr
    script = "ivr_open?flow=main" if use_ivr else "bench_ivr"
    if opts.ivr_keys is None:
        opts.ivr_keys = ["2"] if use_ivr else ["1"]
    kind = url.split("://")[0]
    print(f"preparing the database ({kind}, demo company of {opts.customers} customers)...", flush=True)
    phones = prepare_database(url, opts.customers, with_orders=use_ivr)
    if use_ivr:
        print(f"handler: {script}: agi/handlers/ivr.py walking ivr_flows/main.yaml, clock pinned "
              f"to office hours; callers press {' '.join(opts.ivr_keys)} (main menu -> order "
              "status by caller ID: one lookup, then the orders are read out; unknown callers "
              "go round the menu to an agent); one ivr_calls row written per call")
    else:
        print(f"handler: {script}: ANSWER, STREAM FILE menu -> '1', find_by_phone, SAY DIGITS, "
              "STREAM FILE, SET VARIABLE x2; + DIALFUNNEL_STATUS")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; "
          f"server ({opts.workers} worker processes), callers ({opts.client_procs} processes) "
          f"and this script share them; logs in {workdir}\n")
    bouncer = None
    routes = {"direct": url}
    if "pgbouncer" in opts.via:
        if not url.startswith("postgresql"):
            raise SystemExit("--via pgbouncer needs a PostgreSQL --database-url")
        if opts.pgbouncer_url:
            routes["pgbouncer"] = opts.pgbouncer_url
        else:
            from dialfunnel.local_pgbouncer import LocalPgBouncer
            bouncer = LocalPgBouncer(url, pool_size=opts.pgbouncer_pool).start()
            routes["pgbouncer"] = bouncer.url
            BOUNCER_PID[0] = bouncer.proc.pid
            print(f"PgBouncer {bouncer.url} (transaction pooling, {opts.pgbouncer_pool} server "
                  f"connections)")
    try:
        rows = run_rows(opts, url, routes, workdir, script, phones)
    finally:
        if bouncer is not None:
            bouncer.stop()
    report(opts, rows, url, workdir, script, phones)
    return 0


def run_rows(opts, url: str, routes: dict, workdir: Path, script: str, phones: list[str]) -> list:
    print_header()
    rows = []
    for mode in opts.modes:
        for channels in opts.levels:
            for via in opts.via:
                for attempt in range(1, opts.tries + 1):
                    row = run_level(mode, channels, opts, url, workdir, script, phones, via,
                                    routes[via])
                    row["disturbed"] = row["others_pct"] > opts.max_other
                    print_row(row, "DISTURBED (other load), run again" if row["disturbed"]
                              and attempt < opts.tries else "DISTURBED" if row["disturbed"] else "")
                    if not row["disturbed"]:
                        break
                rows.append(row)
    return rows


def report(opts, rows: list, url: str, workdir: Path, script: str, phones: list[str]) -> None:
    paced = [r for r in rows if r["mode"] == "paced"]
    if paced:
        print(f"\npaced: each call holds ~channels/{opts.rate:g} s of prompts "
              f"({', '.join('%d ch: %.2f s' % (r['channels'], r['hold_s']) for r in paced)})")
    classic = None
    if opts.classic_calls:
        print(f"\nclassic AGI ({opts.classic_calls} calls, {opts.classic_concurrency} at a time, "
              "one `python -m agi.fastagi.server --stdin` process per call)...", flush=True)
        classic = run_classic(opts, url, workdir, script, phones)
        print(f"classic  calls {classic['calls']} ok {classic['ok']}  {classic['calls_per_s']:.2f} calls/s  "
              f"first command after {classic['first_ms_p50']:.0f} ms (p50, process start)  "
              f"then p50 {classic['ms_p50']:.2f} / p99 {classic['ms_p99']:.2f} ms/cmd  "
              f"call p50 {classic['call_ms_p50']:.0f} ms")
    best = max((r["calls_per_s"] for r in rows), default=0.0)
    print("\ngoals (2 CPUs):")
    held = [r for r in rows if r["channels"] >= 1000]
    if held:
        r = max(held, key=lambda x: x["held_max"])
        print(f"  1,000 concurrent sessions held: {'yes' if r['held_max'] >= 1000 else 'NO'} "
              f"(max {r['held_max']} open; the server's workers held {r['server_held']} calls "
              f"on {r['server_threads']} OS threads)")
    print(f"  >= 300 IVR calls/s:             {'yes' if best >= 300 else 'NO'} (best {best:.0f}/s)")
    for r in paced:
        print(f"  p99 < 10 ms/cmd, paced {r['channels']:>4} ch {r['via']:<9}: "
              f"{'yes' if r['calls'] and r['ms_p99'] < 10 else 'NO'} ({r['ms_p99']:.2f} ms at {r['calls_per_s']:.0f} calls/s"
              f"{', DISTURBED: other load %.0f%%' % r['others_pct'] if r['disturbed'] else ''})")
    if classic and classic["calls_per_s"]:
        ratio = best / classic["calls_per_s"]
        print(f"  >= 20x classic AGI:             {'yes' if ratio >= 20 else 'NO'} ({ratio:.0f}x)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        print(json.dumps(_client_main(json.loads(sys.stdin.read()))))
        sys.exit(0)
    sys.exit(main())
