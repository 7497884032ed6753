"""The FastAGI server's connection pool on PostgreSQL: a connection is checked with a round trip
only after it sat idle (models.db.ping_when_idle), not at each of a call's checkouts."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from agi.fastagi.server import PING_IDLE_S, make_agi_engine
from models.clock import FakeClock


@pytest.fixture
def pg_url(db_url, engine):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite's engine is in-process: no connection to lose, none pinged")
    return db_url


@pytest.fixture
def counted(pg_url, monkeypatch):
    clock = FakeClock()
    agi_engine = make_agi_engine(pg_url, pool_size=2, clock=clock)
    pings = []
    real = agi_engine.dialect.do_ping
    monkeypatch.setattr(agi_engine.dialect, "do_ping", lambda conn: pings.append(1) or real(conn))
    yield agi_engine, clock, pings
    agi_engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(counted):
    agi_engine, clock, pings = counted
    for _ in range(10):
        with agi_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        clock.advance(seconds=PING_IDLE_S / 2)
    assert pings == []
    clock.advance(seconds=PING_IDLE_S)
    with agi_engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert pings == [1]


def test_an_idle_connection_the_database_cut_is_replaced_before_use(counted, engine):
    agi_engine, clock, pings = counted
    with agi_engine.connect() as conn:
        first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with engine.connect() as admin:
        assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
    clock.advance(seconds=PING_IDLE_S + 1)
    with agi_engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
    assert pings == [1]
