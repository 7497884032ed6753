"""The call log under a call centre's load: the REAL AMI listener (agi.ami.listener with its call
log, agi/ami/call_log.py, and its screen pops) against the PBX simulator over a real AMI
socket, in real time.

A simulated centre of ``--agents`` agents keeps ``--calls`` calls up at once, in the ``--mix``
of inbound calls through the queue (some abandoned in it), dialer calls (Originate into
dialfunnel-outbound: answered and put through to an agent, dead numbers, busy, no answer) and
agents' manual calls from their phones; each call rings a few seconds and talks ``--talk``
seconds. Printed: the AMI events the listener received per second and the call-log events it
committed per second (sustained, after ``--warmup``), and the p50/p99/max from the moment the
simulator sent a Hangup to the commit of its row.

    python bench/call_log.py                                   # SQLite in a temp dir
    python bench/call_log.py --db-url 'postgresql+psycopg:///df?host=/var/run/postgresql'
    python bench/call_log.py --agents 200 --calls 600 --mix inbound=0.5,dialer=0.3,manual=0.2
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import logging
import multiprocessing
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, func, insert, select, text  # noqa: E402

from agi.ami.call_log_process import CallLogProcess  # noqa: E402
from agi.ami.client import AMIClient  # noqa: E402
from agi.ami.collector import YOUNG_THRESHOLD, calm_collector  # noqa: E402
from agi.ami.listener import ScreenPopListener  # noqa: E402
from agi.pbxsim.ami_scenarios import Scenario  # noqa: E402
from agi.pbxsim.ami_server import AMIServer  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.schema import Campaign, Customer, DialAttempt, Role, User  # noqa: E402
from models.schema.calls import Call, CallLeg  # noqa: E402
from models.setup import install_defaults  # noqa: E402

from bench.world_flags import COUNT, NON_NEGATIVE, POSITIVE, check  # noqa: E402

SECRET = "dialfunnel-secret"


def parse_mix(text_: str) -> dict[str, float]:
    mix = {}
    for part in text_.split(","):
        name, _, share = part.partition("=")
        if name not in ("inbound", "dialer", "manual"):
            raise ValueError(f"unknown kind {name!r} (inbound, dialer, manual)")
        mix[name] = float(share)          # ValueError: not a number
        if not mix[name] >= 0:
            raise ValueError(f"{name}={share}: a share is 0 or more")
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("the shares add up to nothing")
    return {k: v / total for k, v in mix.items()}


def fresh_database(url: str):
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    return engine


def seed(maker, agents: int, customers: int) -> tuple[list[str], int]:
    now = dt.datetime.now(dt.timezone.utc)
    with maker.begin() as s:
        install_defaults(s)
        role = s.scalar(select(Role).where(Role.code == "telemarketer"))
        s.execute(insert(User), [dict(username=f"agent{i}", full_name=f"坐席{i}", password_hash="x",
                                      role_id=role.id, extension=str(8001 + i), active=True,
                                      created_at=now, language="zh_CN", claim_serial=0)
                                 for i in range(agents)])
        s.execute(insert(Customer), [dict(
            name=f"压测客户{n}", ownership="shared", stage="target", mobile=f"139{n:08d}",
            mobile_e164=f"+86139{n:08d}", created_at=now, updated_at=now, contact_mark="not_contacted",
            tracking_mark="tracking", time_zone="Asia/Shanghai", do_not_call=False,
            number_status="unknown") for n in range(customers)])
        campaign = Campaign(name="压测活动", status="running", mode="predictive", created_at=now,
                            retry_rules={})
        s.add(campaign)
        s.flush()
        return [str(8001 + i) for i in range(agents)], campaign.id


def centre(args, db_url: str, extensions: list[str], campaign_id: int, ports, control) -> None:
    """The other side, in a process of its own (as Asterisk is): the simulated PBX, the callers,
    the phones and the dialer's Originates (each with its attempt row, as the dialer writes it),
    keeping ``--calls`` calls up until ``control`` says stop."""
    logging.basicConfig(level=logging.WARNING)
    talk = tuple(args.talk)
    scenario = Scenario(
        seed=args.seed, agents=extensions, outbound_agents=extensions,
        rates={"answer": 0.5, "unallocated": 0.2, "busy": 0.15, "absent": 0.15},
        timing={"queue": {"ring_time": (1.0, 3.0), "answer_delay": 0.0, "talk_time": talk},
                "queue_abandon": {"queue_wait": (1.0, 5.0)},
                "answer": {"setup_time": (0.5, 2.0), "ring_time": 0.0, "answer_delay": 0.0,
                           "agent_ring": (0.5, 2.0), "talk_time": talk},
                "manual": {"ring_time": (1.0, 4.0), "talk_time": talk},
                "busy": {"setup_time": (1.0, 3.0)}, "unallocated": {"setup_time": (1.0, 3.0)},
                "absent": {"setup_time": (1.0, 3.0)}})
    pbx = AMIServer(scenario=scenario, auth_fail_delay=0, timestamp_events=True).start()
    ports.put(pbx.port)
    engine = make_engine(db_url)
    attempts = make_sessionmaker(engine)
    dialer = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    dialer.connect()
    rng = random.Random(args.seed)
    mix = parse_mix(args.mix)
    kinds, weights = list(mix), [mix[k] for k in mix]
    live: list[str] = []
    started = collections.Counter()

    def place(kind: str) -> None:
        number = f"139{rng.randrange(args.customers * 2):08d}"   # half are customers
        if kind == "inbound":
            context = "tx-queue-abandon" if rng.random() < 0.1 else "tx-queue-in"
            live.append(dialer.originate(f"Local/s@{context}", context="tx-caller", exten="s",
                                         caller_id=f'"Caller" <{number}>').channel_id)
        elif kind == "dialer":
            channel_id = f"bench-{started['dialer']}-{rng.getrandbits(32):08x}"
            number = f"137{started['dialer']:08d}"      # one open attempt per number
            customer = rng.randrange(1, args.customers + 1) if rng.random() < 0.5 else None
            with attempts.begin() as s:
                s.add(DialAttempt(campaign_id=campaign_id, number="+86" + number,
                                  customer_id=customer, channel_id=channel_id, dialer_id="bench",
                                  started_at=dt.datetime.now(dt.timezone.utc), talk_seconds=0.0))
            dialer.originate(f"Local/{number}@bench-carrier", context="dialfunnel-outbound",
                             exten="s", caller_id='"Shop" <02155550000>', timeout_ms=20000,
                             channel_id=channel_id)
            live.append(channel_id)
        else:
            live.append(pbx.phone_call(rng.choice(extensions), number).channel_id)
        started[kind] += 1

    sent_mark = 0
    pbx.record_events = args.replay > 0
    while True:
        command = control.get() if not control.empty() else None
        if command == "mark":
            sent_mark = pbx.sent_count
        elif command == "stop":
            break
        live[:] = [cid for cid in live if not (pbx.calls.get(cid) and pbx.calls[cid].done)]
        for _ in range(max(0, args.calls - len(live))):
            place(rng.choices(kinds, weights)[0])
        time.sleep(0.02)
    ports.put((dict(started), pbx.sent_count - sent_mark))
    if args.replay > 0:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(not c.done for c in list(pbx.calls.values())):
            time.sleep(0.1)
        pbx.record_events = False
        ports.put(len(pbx.sent_events))
        assert control.get() == "replay"
        ports.put(replay(pbx, args.replay))
        assert control.get() == "quit"
    time.sleep(0.5)
    dialer.close()
    pbx.stop()
    engine.dispose()


def replay(pbx: AMIServer, rate: float) -> tuple[int, float]:
    """Send the recorded stream again at ``rate`` events a second, each event stamped with the
    time it is sent (so the latency is measured from there)."""
    sessions = [s for s in pbx.sessions if s.events]
    events = pbx.sent_events
    started = time.monotonic()
    sent = 0
    stamp = re.compile(rb"^(Event: [^\r]*\r\nPrivilege: [^\r]*\r\nTimestamp: )[0-9.]+")
    while sent < len(events):
        due = min(len(events), int((time.monotonic() - started) * rate) + 1)
        now = f"{time.time():.6f}".encode()
        for privilege, data in events[sent:due]:
            data = stamp.sub(lambda m: m.group(1) + now, data, count=1)
            for session in sessions:
                if session.wants(privilege, data):
                    session.send(data)
        sent = due
        time.sleep(0.005)
    return sent, time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--calls", type=int, default=600, help="calls up at once")
    parser.add_argument("--mix", default="inbound=0.5,dialer=0.3,manual=0.2")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before measuring")
    parser.add_argument("--talk", type=float, nargs=2, default=(2.0, 6.0), metavar=("MIN", "MAX"),
                        help="talk seconds, uniform")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--db-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replay", type=float, default=0.0, metavar="RATE",
                        help="then replay the recorded stream at RATE events/s into an emptied "
                             "call log (load beyond what the simulator makes live on this box)")
    parser.add_argument("--gc-threshold", type=int, default=YOUNG_THRESHOLD, metavar="N",
                        help="the listener process freezes what it loaded and collects young "
                             "objects every N allocations, as the worker does "
                             "(agi/ami/collector.py; 0: Python's defaults, 700)")
    parser.add_argument("--no-pops", action="store_true",
                        help="the call log alone on the AMI client (no screen pops)")
    parser.add_argument("--writer", choices=("process", "thread"), default="process",
                        help="the call log's writer in a process of its own with its own AMI "
                             "connection, as the worker runs it (agi/ami/call_log_process.py), "
                             "or a thread of the screen-pop listener (before)")
    args = parser.parse_args(argv)
    check(parser, args, {"agents": COUNT, "calls": COUNT, "duration": POSITIVE,
                         "warmup": NON_NEGATIVE, "talk": POSITIVE, "customers": COUNT,
                         "replay": NON_NEGATIVE, "gc_threshold": COUNT}, pairs=["talk"])
    try:
        parse_mix(args.mix)
    except ValueError as exc:
        parser.error(f"--mix: {exc}")
    logging.basicConfig(level=logging.WARNING)
    tmp = tempfile.TemporaryDirectory()
    url = args.db_url or f"sqlite:///{tmp.name}/bench.db"
    engine = fresh_database(url)
    maker = make_sessionmaker(engine)
    extensions, campaign_id = seed(maker, args.agents, args.customers)

    ctx = multiprocessing.get_context("spawn")
    ports, control = ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=centre, args=(args, url, extensions, campaign_id, ports, control))
    child.start()
    port = ports.get(timeout=60)

    latencies: list[float] = []
    committed = collections.Counter()
    measuring = threading.Event()
    lock = threading.Lock()

    def record(count: int, at: float, stamps: list) -> None:
        lat = [at - float(stamp) for stamp in stamps if stamp]
        with lock:
            if measuring.is_set():
                committed["events"] += count
                committed["batches"] += 1
                latencies.extend(lat)

    def on_commit(events, _monotonic):
        record(len(events), time.time(),
               [msg.get("Timestamp") for msg, _ in events if msg.name == "Hangup"])

    received = collections.Counter()
    if args.gc_threshold:
        calm_collector(args.gc_threshold)
    writer = Writer(args, url, maker, port, on_commit, record, received)
    time.sleep(args.warmup)
    control.put("mark")
    cpu0 = (time.process_time(), writer.cpu())
    with lock:
        measuring.set()
        t0, got0 = time.monotonic(), received["events"]
    time.sleep(args.duration)
    with lock:
        measuring.clear()
        span, got = time.monotonic() - t0, received["events"] - got0
    cpu = (time.process_time() - cpu0[0], writer.cpu() - cpu0[1])
    backlog, stats = writer.state()
    control.put("stop")
    started, sent = ports.get(timeout=60)
    print(f"database: {engine.dialect.name}   agents: {args.agents}   calls up at once: {args.calls}"
          f"   mix: {args.mix}   talk: {args.talk[0]:g}-{args.talk[1]:g} s   writer: {args.writer}")
    report("live", maker, started, span, sent, got, committed, latencies, backlog, stats)
    print(f"[live] CPU seconds: listener process {cpu[0]:.1f}, call log's process {cpu[1]:.1f} "
          f"({1000 * sum(cpu) / max(1, committed['events']):.2f} ms per call-log event committed)")

    if args.replay > 0:
        ports.get(timeout=120)      # the simulator has the whole stream recorded
        assert writer.sync(60)
        writer.stop()
        with maker.begin() as s:    # the same calls again, from nothing
            s.execute(delete(CallLeg))
            s.execute(delete(Call))
        latencies.clear()
        committed.clear()
        writer = Writer(args, url, maker, port, on_commit, record, received)
        got0 = received["events"]
        with lock:
            measuring.set()
        control.put("replay")
        count, seconds = ports.get(timeout=600)
        writer.sync(60)
        with lock:
            measuring.clear()
        got = received["events"] - got0
        print(f"replayed {count:,} recorded events at {args.replay:,.0f}/s")
        report("replay", maker, started, seconds, count, got, committed, latencies,
               *writer.state())
    writer.stop()
    control.put("quit")
    child.join(30)
    engine.dispose()
    return 0


class Writer:
    """The screen-pop listener and the call log's writer: in the listener (a thread) or in a
    process of its own (``--writer process``), started and connected (its first reconcile
    done). ``received`` counts the events the listener's connection got (in process mode the
    call log's own connection is not counted: its events are in the committed figure)."""

    def __init__(self, args, url, maker, port, on_commit, record, received):
        self.no_pops = args.no_pops
        self.process = self.reports = self.listener = None
        in_process = args.writer == "process"
        if in_process:
            self.reports = multiprocessing.get_context("spawn").Queue()
            self.process = CallLogProcess(url, port=port, username="dialfunnel", secret=SECRET,
                                          reports=self.reports, log_level=logging.WARNING).start()
            self.drain = threading.Thread(target=self._drain, args=(record,), daemon=True)
            self.drain.start()
        if not (in_process and self.no_pops):
            self.listener = ScreenPopListener(
                maker, host="127.0.0.1", port=port,
                username="dialfunnel", secret=SECRET, store=None, call_log=not in_process,
                call_log_options=None if in_process else dict(on_commit=on_commit))
            self.listener.client.on("*", lambda msg: received.update(["events"]))
            if self.no_pops:
                self.listener.client.connect()
                self.listener.call_log.start()
            else:
                self.listener.start()
                assert self.listener.wait_connected(10), "the listener did not connect"
        wait_until(lambda: self.state()[1].get("reconciles", 0) >= 1, 60)

    def _drain(self, record) -> None:
        while (item := self.reports.get()) is not None:
            record(*item)

    def state(self) -> tuple[int, dict]:
        """(events queued for the writer, the writer's stats)"""
        if self.process:
            status = self.process.status()
            return status["queued"], status["stats"]
        return self.listener.call_log._queue.qsize(), dict(self.listener.call_log.stats)

    def cpu(self) -> float:
        """The call log's process's CPU seconds so far (0 without one)."""
        return self.process.status()["cpu_s"] if self.process else 0.0

    def sync(self, timeout: float) -> bool:
        return self.process.sync(timeout) if self.process else self.listener.call_log.sync(timeout)

    def stop(self) -> None:
        if self.listener and self.no_pops:
            self.listener.call_log.stop()
            self.listener.client.close()
        elif self.listener:
            self.listener.stop()
        if self.process:
            self.process.stop()
            self.reports.put(None)
            self.drain.join(5)


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def report(phase, maker, started, span, sent, got, committed, latencies, backlog, stats) -> None:
    with maker() as s:
        calls = s.scalar(select(func.count()).select_from(Call))
        by_direction = dict(s.execute(select(Call.direction, func.count())
                                      .group_by(Call.direction)).all())
        ended = s.scalar(select(func.count()).select_from(Call).where(Call.state == "ended"))
    lat = sorted(latencies)

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    if phase == "live":
        print(f"calls placed: {started}")
    print(f"[{phase}] calls logged: {calls} {by_direction}, ended: {ended}")
    print(f"[{phase}] {span:.1f} s: the simulator sent {sent / span:,.0f} events/s, the listener "
          f"received {got / span:,.0f} events/s, the call log committed "
          f"{committed['events'] / span:,.0f} events/s in {committed['batches']} commits "
          f"({committed['events'] / max(1, committed['batches']):.1f} events/commit)")
    print(f"[{phase}] Hangup (its Timestamp) → committed row: n={len(lat)}  p50 {pct(0.5):.1f} ms"
          f"  p99 {pct(0.99):.1f} ms  max {pct(1.0):.1f} ms   (call-log queue left: {backlog})")
    print(f"[{phase}] call log writer: {stats}")


if __name__ == "__main__":
    raise SystemExit(main())
