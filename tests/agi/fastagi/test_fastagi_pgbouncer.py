"""The FastAGI server's database through a real PgBouncer (Debian's package) in transaction
pooling, as deploy/pgbouncer.ini sets it up: the PostgreSQL pass only (PgBouncer sits in
front of PostgreSQL)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import ProgrammingError

from agi.fastagi.dispatch import Registry
from agi.fastagi.server import FastAGIServer, make_agi_engine
from agi.handlers.ivr import make_ivr_handler
from agi.pbxsim.agi_driver import Scenario, run_call
from config.settings import SettingsError, load_settings
from dialfunnel.local_pgbouncer import LocalPgBouncer, find_binary
from models.db import make_engine, make_sessionmaker
from models.schema.ivr import IVRCall


@pytest.fixture
def bouncer(db_url, engine):
    if not db_url.startswith("postgresql"):
        pytest.skip("PgBouncer sits in front of PostgreSQL: runs with DIALFUNNEL_TEST_DATABASE_URL")
    if find_binary() is None:
        pytest.skip("the pgbouncer binary is missing (apt-get install pgbouncer; make test-deps)")
    # one server connection: every client's transactions share it, as under load they would
    with LocalPgBouncer(db_url, pool_size=1) as running:
        yield running


def _same_query_interleaved(engine) -> None:
    """Two client connections run the same query in turns, past psycopg's prepare threshold."""
    with engine.connect() as one, engine.connect() as two:
        for n in range(8):
            for conn in (one, two):
                conn.execute(text("SELECT count(*) FROM ivr_calls WHERE duration_ms = :n"), {"n": n})
                conn.commit()


def test_without_the_setting_prepared_statements_break_behind_pgbouncer(bouncer):
    plain = make_engine(bouncer.url)
    try:
        with pytest.raises(ProgrammingError, match="prepared statement"):
            _same_query_interleaved(plain)
    finally:
        plain.dispose()


def test_the_pgbouncer_engine_prepares_nothing_and_gets_the_timeouts_from_pgbouncer(bouncer):
    agi_engine = make_agi_engine(bouncer.url, pool_size=2, pgbouncer=True)
    try:
        _same_query_interleaved(agi_engine)
        with agi_engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "5s"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "5s"
    finally:
        agi_engine.dispose()


def test_ivr_calls_through_pgbouncer(bouncer, Session, make_customer, clock):
    for n in range(4):
        make_customer(f"客户{n}", mobile=f"1380013800{n}")
    agi_engine = make_agi_engine(bouncer.url, pool_size=3, pgbouncer=True)
    registry = Registry()
    registry.register("ivr", make_ivr_handler(clock=clock))
    server = FastAGIServer(registry, make_sessionmaker(agi_engine), port=0, hangup_grace=0.3,
                           env_timeout=2.0, close_wait=0.5).start()
    try:
        def one(n):  # 2: order status by caller ID (a lookup); 3: a callback request (a write)
            return run_call("127.0.0.1", server.port, "ivr?flow=main",
                            callerid=f"1380013800{n % 4}", env={"agi_uniqueid": f"1790.{n}"},
                            scenario=Scenario(keys=["2" if n % 2 else "3"]))

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(one, range(12)))
    finally:
        server.shutdown(grace=5)
        agi_engine.dispose()
    assert [r.error for r in results] == [""] * 12
    assert {r.status for r in results[1::2]} <= {"COMPLETED", "TRANSFER"}
    assert {r.status for r in results[0::2]} == {"CALLBACK"}
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(IVRCall)) == 12
        assert s.scalar(select(func.count()).where(IVRCall.customer_id.is_not(None))) == 12


def test_the_pgbouncer_setting_reads_true_or_false_and_wants_postgresql():
    assert load_settings({"DIALFUNNEL_DATABASE_PGBOUNCER": "true"}).database_pgbouncer is True
    assert load_settings({"DIALFUNNEL_DATABASE_PGBOUNCER": "0"}).database_pgbouncer is False
    assert load_settings({}).database_pgbouncer is False
    with pytest.raises(SettingsError, match="database_pgbouncer must be true or false"):
        load_settings({"DIALFUNNEL_DATABASE_PGBOUNCER": "maybe"})
    with pytest.raises(ValueError, match="PostgreSQL"):
        make_engine("sqlite://", pgbouncer=True)
