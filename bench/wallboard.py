"""Wallboard latency benchmark: call-log commit -> wallboard SSE event received, p50 / p99.

Starts `dialfunnel web` (gunicorn with gevent workers unless --server threaded) on a fresh demo
database (a temporary data folder, SQLite unless --database-url names an empty database),
gives the demo's sales manager a running campaign whose team is --agents new agents (each with
a phone extension, ready in the dialer), and opens --viewers wallboard streams
(/wallboard/stream) logged in as that manager. Then, for --duration seconds, it plays the
agents' activity: --calls-per-agent-hour calls per agent (Poisson arrivals, to an idle agent),
half hand-dialled, half inbound through the "sales" queue; each ring, answer and hang-up is
written through the call log's writer (models/telephony/calls.py: the functions the AMI
listener calls for Newchannel, DialBegin, DialEnd, QueueCallerJoin/Leave, AgentConnect and
Hangup, one commit per event; the AMI socket and the listener's parsing are not in the
measured path). The clock starts when the writer's commit returns; a sample is the moment a
viewer's stream shows the change: the call's number on its agent (ringing), then its
answered_at (up). Every viewer measures every change.

Run it from the project root, in the project's venv, with nothing else busy on the machine:

    python bench/wallboard.py                                    # 200 agents, 20 viewers, 30 s
    python bench/wallboard.py --server threaded --tick-ms 250
    python bench/wallboard.py --database-url 'postgresql+psycopg:///bench?host=/var/run/postgresql'

Only loopback addresses are used; every loop is bounded by --duration.
"""
from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import web_load  # noqa: E402  (the web bench's client and server helpers)

from config.settings import load_settings  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.schema import AgentState, Campaign, CampaignAgent, User  # noqa: E402
from models.telephony import calls  # noqa: E402
from models.telephony.calls import Chan  # noqa: E402

from bench.world_flags import COUNT, NATURAL, NON_NEGATIVE, POSITIVE, check  # noqa: E402


def prepare(env: dict, agents: int) -> tuple[dict, list[tuple[int, str]]]:
    """The demo's manager (his login) and `agents` new agents on his running campaign."""
    from models.org.auth import hash_password
    import models.org.users as users

    logins = json.loads((Path(env["DIALFUNNEL_DATA_DIR"]) / "demo-logins.json").read_text())
    manager = next(u for u in logins if u["role"] == "sales_manager")
    hashed = hash_password("bench-agent")
    users.hash_password = lambda _p: hashed
    maker = make_sessionmaker(make_engine(settings_of(env).db_url))
    now = dt.datetime.now(dt.timezone.utc)
    made = []
    with maker.begin() as s:
        boss = s.query(User).filter_by(username=manager["username"]).one()
        campaign = Campaign(name="wallboard bench", status="running", mode="predictive",
                            created_by_id=boss.id, created_at=now, started_at=now, retry_rules={})
        s.add(campaign)
        s.flush()
        for n in range(1, agents + 1):
            user = users.create_user(s, f"wb{n:03d}", f"Agent {n}", "bench-agent", "telemarketer",
                                     extension=f"7{n:03d}")
            s.add(CampaignAgent(campaign_id=campaign.id, user_id=user.id))
            s.add(AgentState(user_id=user.id, campaign_id=campaign.id, state="ready", since=now))
            made.append((user.id, f"7{n:03d}"))
    return manager, made


def settings_of(env: dict):
    return load_settings({k: v for k, v in env.items() if k.startswith("DIALFUNNEL_")})


class Viewer(threading.Thread):
    """One wallboard tab: reads its stream and notes when each change first shows."""

    def __init__(self, port: int, cookie: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.cookie, self.stop = port, cookie, stop
        self.seen: dict[tuple[str, str], float] = {}
        self.events = 0

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
        sock.sendall(f"GET /wallboard/stream HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                     f"Cookie: {self.cookie}\r\nAccept: text/event-stream\r\n\r\n".encode())
        buffer = b""
        try:
            while not self.stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    return
                at = time.monotonic()
                buffer += chunk
                *messages, buffer = buffer.split(b"\n\n")
                for message in messages:
                    self._read(message.decode(), at)
        finally:
            sock.close()

    def _read(self, message: str, at: float) -> None:
        kind = data = None
        for line in message.splitlines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if kind == "board":
            rows = data["agents"].values()
        elif kind == "diff":
            rows = data.get("agents", {}).get("changed", {}).values()
        else:
            return
        self.events += 1
        for row in rows:
            call = row.get("call")
            if call:
                self.seen.setdefault((call["number"], "ringing"), at)
                if call["answered_at"]:
                    self.seen.setdefault((call["number"], "up"), at)


class Floor:
    """The agents' calls, written through the call log's writer as the AMI listener would."""

    def __init__(self, maker, agents, calls_per_hour, ring, talk, seed):
        self.maker, self.agents = maker, agents
        self.rate = len(agents) * calls_per_hour / 3600.0
        self.ring, self.talk = ring, talk
        self.random = random.Random(seed)
        self.idle = list(agents)
        self.committed: dict[tuple[str, str], float] = {}
        self.serial = 0
        self.written = 0

    def run(self, duration: float) -> None:
        started = time.monotonic()
        heap: list = [(started + self.random.expovariate(self.rate), 0, "start", None)]
        with self.maker() as s:
            while heap:
                at, _n, step, call = heapq.heappop(heap)
                if step == "start" and at - started > duration:
                    continue
                time.sleep(max(0.0, at - time.monotonic()))
                now = dt.datetime.now(dt.timezone.utc)
                if step == "start":
                    self.serial += 1
                    heapq.heappush(heap, (at + self.random.expovariate(self.rate), self.serial,
                                          "start", None))
                    if not self.idle:
                        continue
                    agent = self.idle.pop(self.random.randrange(len(self.idle)))
                    call = self._dial(s, agent, now)
                    key = "ringing"
                    heapq.heappush(heap, (at + self.random.uniform(*self.ring), self.serial,
                                          "answer", call))
                elif step == "answer":
                    self._answer(s, call, now)
                    key = "up"
                    heapq.heappush(heap, (at + self.random.uniform(*self.talk), call["n"],
                                          "hangup", call))
                else:
                    for ch in call["chans"]:
                        calls.channel_ended(s, ch, 16, now)
                    key = None
                    self.idle.append(call["agent"])
                s.commit()
                self.written += 1
                if key:
                    self.committed[(call["number"], key)] = time.monotonic()

    def _dial(self, s, agent, now) -> dict:
        n = self.serial
        user_id, extension = agent
        number = f"+86139{n:08d}"
        linkedid = f"9000.{n}"
        phone = Chan(f"PJSIP/{extension}-{n:08x}", f"9001.{n}", linkedid, 0, extension, None,
                     "dialfunnel-agents", "s")
        if n % 2:   # hand-dialled
            phone = Chan(phone.channel, linkedid, linkedid, 4, extension, None,
                         "dialfunnel-agents", number)
            far = Chan(f"PJSIP/dialfunnel-trunk-{n:08x}", f"9001.{n}", linkedid, 0, number, None,
                       "dialfunnel-trunk-out", "s")
            calls.channel_seen(s, phone, now)
            calls.dial_begin(s, phone, far, now, from_agent_context=True)
            return dict(n=n, agent=agent, number=number, inbound=False, caller=phone, dest=far,
                        chans=(far, phone))
        caller = Chan(f"PJSIP/carrier-{n:08x}", linkedid, linkedid, 4, number, None,
                      "dialfunnel-inbound", "4008001234")
        calls.channel_seen(s, caller, now)
        calls.queue_joined(s, caller, "sales", now)
        calls.dial_begin(s, caller, phone, now)
        return dict(n=n, agent=agent, number=number, inbound=True, caller=caller, dest=phone,
                    chans=(phone, caller))

    def _answer(self, s, call, now) -> None:
        calls.dial_end(s, call["caller"], call["dest"], "ANSWER", now)
        if call["inbound"]:
            calls.queue_left(s, call["caller"], now)
            calls.agent_connect(s, call["caller"], call["dest"].channel, now)


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    ms = [v * 1000 for v in values]
    return (f"{name}: n={len(ms)} p50={web_load.percentile(ms, 0.5):.0f} ms "
            f"p99={web_load.percentile(ms, 0.99):.0f} ms max={max(ms):.0f} ms "
            f"mean={statistics.mean(ms):.0f} ms")


def run(args) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="wallboard-bench-"))
    env = {**os.environ, "DIALFUNNEL_DATA_DIR": str(data_dir),
           "DIALFUNNEL_WEB_SERVER": args.server, "DIALFUNNEL_WEB_WORKERS": str(args.workers),
           "DIALFUNNEL_WEB_HOST": "127.0.0.1", "DIALFUNNEL_WEB_PORT": str(web_load.free_port()),
           "DIALFUNNEL_WALLBOARD_TICK_MS": str(args.tick_ms), "DIALFUNNEL_LOG_LEVEL": "WARNING"}
    if args.database_url:
        env["DIALFUNNEL_DATABASE_URL"] = args.database_url
    env.pop("DIALFUNNEL_CONFIG", None)
    web = None
    stop = threading.Event()
    try:
        subprocess.run([sys.executable, "-m", "dialfunnel.cli", "demo", "--customers", "200"],
                       env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        manager, agents = prepare(env, args.agents)
        web, port = web_load.start_web(env)
        viewers = []
        for _ in range(args.viewers):
            client = web_load.Client(port)
            client.login(manager["username"], manager["password"])
            client.close()
            viewers.append(Viewer(port, client.cookie, stop))
        for viewer in viewers:
            viewer.start()
        time.sleep(2)   # every stream open and past its first board
        floor = Floor(make_sessionmaker(make_engine(settings_of(env).db_url)), agents,
                      args.calls_per_agent_hour, args.ring, args.talk, args.seed)
        cpu_before = web_load.tree_cpu_s(web.pid)
        started = time.monotonic()
        floor.run(args.duration)
        time.sleep(2)   # the last changes reach the viewers
        wall = time.monotonic() - started
        cpu = web_load.tree_cpu_s(web.pid) - cpu_before
        stop.set()
        for viewer in viewers:
            viewer.join(3)
        by_kind: dict[str, list[float]] = {"ringing": [], "up": []}
        missed = 0
        for viewer in viewers:
            for key, committed in floor.committed.items():
                shown = viewer.seen.get(key)
                if shown is None:
                    missed += 1
                else:
                    by_kind[key[1]].append(max(0.0, shown - committed))
        everything = by_kind["ringing"] + by_kind["up"]
        db = "PostgreSQL" if args.database_url else "SQLite"
        print(f"wallboard bench: {db}, {args.server} x{args.workers}, {args.agents} agents, "
              f"{args.calls_per_agent_hour} calls/agent/h, {args.viewers} viewers, "
              f"tick {args.tick_ms} ms, {args.duration:.0f} s")
        print(f"writer commits: {floor.written} ({floor.written / args.duration:.1f}/s), "
              f"changes measured: {len(floor.committed)}, viewer events: "
              f"{sum(v.events for v in viewers)}, web CPU: {cpu:.1f} s in {wall:.0f} s")
        print(summary("commit -> SSE (ringing)", by_kind["ringing"]))
        print(summary("commit -> SSE (answered)", by_kind["up"]))
        print(summary("commit -> SSE (all)", everything))
        print(f"changes never seen by a viewer: {missed}")
        ok = everything and web_load.percentile(everything, 0.99) < 1.0 and missed == 0
        print("goal p99 < 1 s:", "met" if ok else "NOT met")
        return 0 if ok else 1
    finally:
        stop.set()
        if web is not None:
            web.terminate()
            try:
                web.wait(15)
            except subprocess.TimeoutExpired:
                web.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--calls-per-agent-hour", type=float, default=60.0)
    parser.add_argument("--viewers", type=int, default=20, help="open wallboard streams")
    parser.add_argument("--tick-ms", type=int, default=500, help="settings.wallboard_tick_ms")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of activity")
    parser.add_argument("--ring", type=float, nargs=2, default=(1.0, 4.0), metavar=("MIN", "MAX"))
    parser.add_argument("--talk", type=float, nargs=2, default=(5.0, 40.0), metavar=("MIN", "MAX"))
    parser.add_argument("--server", choices=("gunicorn", "threaded"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: SQLite in the temporary folder)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    check(parser, args, {"agents": COUNT, "calls_per_agent_hour": POSITIVE, "viewers": NATURAL,
                         "tick_ms": COUNT, "duration": POSITIVE, "ring": NON_NEGATIVE,
                         "talk": POSITIVE, "workers": COUNT}, pairs=["ring", "talk"])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
