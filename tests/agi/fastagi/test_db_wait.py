"""psycopg's wait on a green FastAGI worker (agi/fastagi/db_wait.py): a quick reply is taken
without going round the hub, a slow one lets the other calls run meanwhile."""
from __future__ import annotations

import select
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from agi.fastagi import db_wait

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def pg_url(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("psycopg's wait is PostgreSQL's: the PostgreSQL leg of CI runs it")
    return db_url


def _conninfo(db_url: str) -> str:
    url = make_url(db_url)
    parts = {"dbname": url.database, "host": url.query.get("host") or url.host,
             "user": url.username, "password": url.password, "port": url.port}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


class CountingPoll:
    """select.poll, counting the waits that went to it."""
    polls = 0

    def __init__(self):
        self.poll_obj = select.poll()

    def register(self, fd, mask):
        self.poll_obj.register(fd, mask)

    def modify(self, fd, mask):
        self.poll_obj.modify(fd, mask)

    def poll(self, timeout):
        CountingPoll.polls += 1
        return self.poll_obj.poll(timeout)


@pytest.fixture()
def connection(monkeypatch, pg_url):
    import psycopg
    from psycopg import waiting

    CountingPoll.polls = 0
    monkeypatch.setattr(waiting, "wait", db_wait.make_wait(select.poll, CountingPoll, spin=0.05))
    with psycopg.connect(_conninfo(pg_url), autocommit=True) as conn:
        yield conn


def test_a_quick_reply_never_waits_cooperatively(connection):
    for n in range(20):
        assert connection.execute("SELECT %s::int + 1", (n,)).fetchone() == (n + 1,)
    assert CountingPoll.polls == 0


def test_a_slow_reply_waits_cooperatively_past_the_spin(connection):
    assert connection.execute("SELECT pg_sleep(0.2), 7").fetchone()[1] == 7
    assert CountingPoll.polls >= 1
    # the connection is in a sane state afterwards
    assert connection.execute("SELECT 1").fetchone() == (1,)


def test_spinning_stops_while_replies_miss_it_and_probes_resume_it(pg_url, monkeypatch):
    import psycopg
    from psycopg import waiting

    wait = db_wait.make_wait(select.poll, CountingPoll, spin=0.001)
    monkeypatch.setattr(waiting, "wait", wait)
    with psycopg.connect(_conninfo(pg_url), autocommit=True) as conn:
        for _ in range(40):   # a backend slower than the spin: every spin runs out
            conn.execute("SELECT pg_sleep(0.004)")
        assert wait.stats["misses"] > db_wait.MISS_LIMIT
        CountingPoll.polls = 0
        for n in range(40):   # quick replies now wait green at once, but for the probes
            conn.execute("SELECT %s::int", (n,))
        assert 40 - 40 // db_wait.PROBE_EVERY <= CountingPoll.polls < 40
        for n in range(2000):  # the probes find quick replies: spinning resumes
            conn.execute("SELECT %s::int", (n,))
        assert wait.stats["misses"] <= db_wait.MISS_LIMIT
        CountingPoll.polls = 0
        conn.execute("SELECT 1")
        assert CountingPoll.polls == 0


def test_errors_and_a_cancelled_statement_come_through(connection):
    import psycopg

    with pytest.raises(psycopg.errors.DivisionByZero):
        connection.execute("SELECT 1 / 0")
    connection.execute("SET statement_timeout = 50")
    with pytest.raises(psycopg.errors.QueryCanceled):
        connection.execute("SELECT pg_sleep(1)")
    assert connection.execute("SELECT 2").fetchone() == (2,)


GREEN = textwrap.dedent("""
    from gevent import monkey; monkey.patch_all()
    import sys, time, gevent, psycopg
    from psycopg import waiting
    from agi.fastagi import server
    class Opts: db_pool_size = 2; db_max_overflow = 0; db_timeout = 3.0; db_pgbouncer = False; db_spin_ms = 2.0
    engine, maker = server._database(Opts, sys.argv[1])
    print("installed", waiting.wait.__module__ == "agi.fastagi.db_wait")
    ticks = []
    def ticker():
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            ticks.append(time.monotonic()); gevent.sleep(0.01)
    def slow():
        with psycopg.connect(sys.argv[2], autocommit=True) as c:
            c.execute("SELECT pg_sleep(0.3)")
    t = gevent.spawn(ticker); gevent.sleep(0); s = gevent.spawn(slow); gevent.joinall([t, s])
    print("ticks", len(ticks))
""")


def test_a_green_worker_installs_it_and_serves_others_during_a_slow_query(pg_url):
    out = subprocess.run([sys.executable, "-c", GREEN, pg_url, _conninfo(pg_url)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["installed"] == "True"
    assert int(lines["ticks"]) >= 25   # 10 ms ticks kept going during the 0.3 s query


def test_the_spin_is_two_ms_directly_and_none_behind_pgbouncer_unless_set():
    import dataclasses

    from agi.fastagi.server import db_spin_ms
    from config.settings import Settings

    settings = Settings()
    assert settings.agi_db_spin_ms == -1
    assert db_spin_ms(settings) == 2
    assert db_spin_ms(dataclasses.replace(settings, database_pgbouncer=True)) == 0
    assert db_spin_ms(dataclasses.replace(settings, database_pgbouncer=True, agi_db_spin_ms=3)) == 3
    assert db_spin_ms(settings, given=0) == 0


HANDLERS = """
from agi.handlers import register
from agi.handlers.ivr import make_ivr_handler
from models.clock import FakeClock

register("ivr_open", make_ivr_handler(clock=FakeClock()))   # office hours: the main menu
"""


def test_the_production_server_answers_ivr_calls_through_it(pg_url, Session, make_customer,
                                                           tmp_path):
    """`python -m agi.fastagi.server --workers 2` (gevent) on PostgreSQL with the default
    spin: the main menu's order status by caller ID (a lookup) and a callback request (a
    write), as the dialplan's AGI(agi://.../ivr?flow=main) runs them, each call logged."""
    import os
    import re

    from sqlalchemy import func, select

    from agi.pbxsim.agi_driver import Scenario, run_call
    from models.schema.ivr import IVRCall

    for n in range(2):
        make_customer(f"等待客户{n}", mobile=f"1390013900{n}")
    (tmp_path / "db_wait_handlers.py").write_text(HANDLERS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
               DIALFUNNEL_DATA_DIR=str(tmp_path / "var"), DIALFUNNEL_DATABASE_URL=pg_url,
               DIALFUNNEL_LOG_LEVEL="INFO")
    env.pop("DIALFUNNEL_CONFIG", None)
    env.pop("DIALFUNNEL_AGI_DB_SPIN_MS", None)
    proc = subprocess.Popen([sys.executable, "-m", "agi.fastagi.server", "--import",
                             "db_wait_handlers", "--port", "0", "--workers", "2", "--grace", "5"],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        port = None
        while port is None:
            line = proc.stderr.readline()
            assert line, f"the server exited: {lines}"
            lines.append(line)
            found = re.search(r"listening host=\S+ port=(\d+)", line)
            port = int(found.group(1)) if found else None
        results = [run_call("127.0.0.1", port, "ivr_open?flow=main", callerid=f"1390013900{n % 2}",
                            env={"agi_uniqueid": f"1791.{n}"},
                            scenario=Scenario(keys=["2" if n % 2 else "3"]))
                   for n in range(6)]
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=30)
        lines.append(rest)
    assert [r.error for r in results] == [""] * 6, lines
    assert {r.status for r in results[1::2]} <= {"COMPLETED", "TRANSFER"}
    assert {r.status for r in results[0::2]} == {"CALLBACK"}
    assert "database waits: blocking up to 2 ms" in "".join(lines)
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(IVRCall)) == 6
