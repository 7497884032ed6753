"""Shared fixtures. The database is SQLite in a temp dir unless
DIALFUNNEL_TEST_DATABASE_URL points at another (CI runs the suite again on PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import text

from models.clock import FakeClock
from models.db import Base, make_engine, make_sessionmaker
from models.migrate import upgrade
from models.org.users import create_user
from models.setup import install_defaults

PG_URL = os.environ.get("DIALFUNNEL_TEST_DATABASE_URL")

# Browser fixtures (one Chromium for the whole run): live_server, chromium, browser_page.
pytest_plugins = ["tests.browser.chromium"]


def pytest_collection_modifyitems(items):
    """Every test that reaches the database is marked `db` (CI reruns them on PostgreSQL)."""
    for item in items:
        if "engine" in getattr(item, "fixturenames", ()) or "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    return PG_URL or "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def engine(db_url):
    eng = make_engine(db_url)
    if eng.dialect.name == "postgresql":
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(eng)
    yield eng
    eng.dispose()


# Tables a test used: rows left, or an id sequence drawn from (ids restart at 1 for the next).
_USED_SEQUENCES = text(
    "SELECT t.relname FROM pg_sequences ps"
    " JOIN pg_class s ON s.relname = ps.sequencename AND s.relkind = 'S'"
    " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
    " JOIN pg_class t ON t.oid = d.refobjid"
    " WHERE ps.schemaname = current_schema() AND ps.last_value IS NOT NULL")


def _wipe(engine):
    """Empty the tables that hold rows. PostgreSQL: TRUNCATE (a DELETE was tried: far cheaper,
    but the next test's rows then fill the freed slots of a page, so a SELECT with no ORDER BY
    returned them out of insertion order and tests that read such lists failed at random);
    SQLite: DELETE, children first (its rowids restart, so the order is kept)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})" for t in tables)
    with engine.begin() as conn:
        used = {row[0] for row in conn.execute(text(probe))}
        if engine.dialect.name == "postgresql":
            used |= {row[0] for row in conn.execute(_USED_SEQUENCES)} & set(tables)
            if used:
                conn.execute(text("TRUNCATE %s RESTART IDENTITY CASCADE"
                                  % ", ".join(t for t in tables if t in used)))
            return
        for name in tables:
            if name in used:
                conn.execute(text("DELETE FROM %s" % name))


@pytest.fixture
def Session(engine):
    """A sessionmaker on a database that holds the defaults and nothing else."""
    maker = make_sessionmaker(engine)
    with maker.begin() as s:
        install_defaults(s)
    yield maker
    _wipe(engine)


@pytest.fixture
def session(Session):
    with Session() as s:
        yield s


@pytest.fixture
def clock():
    # 10:00 in Shanghai on 2026-11-26
    return FakeClock(dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc))


_HASHES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch):
    """scrypt costs ~50 ms a password and every login verifies one: tests hash with a lower
    cost (still real scrypt, the cost is stored in the hash) and reuse one hash per password."""
    import models.org.auth
    import models.org.users
    from models.org.auth import hash_password
    monkeypatch.setattr(models.org.auth, "_N", 2 ** 10)

    def cached(password):
        if password not in _HASHES:
            _HASHES[password] = hash_password(password)
        return _HASHES[password]
    monkeypatch.setattr(models.org.users, "hash_password", cached)


@pytest.fixture
def users(session, clock):
    """One user per role plus a second telemarketer."""
    made = {
        "tm": create_user(session, "tm", "李红光", "pw-tm", "telemarketer", clock=clock),
        "tm2": create_user(session, "tm2", "张军", "pw-tm2", "telemarketer", clock=clock),
        "rep": create_user(session, "rep", "罗文冲", "pw-rep", "sales_rep", clock=clock),
        "mgr": create_user(session, "mgr", "王经理", "pw-mgr", "sales_manager", clock=clock),
        "admin": create_user(session, "admin", "管理员", "pw-admin", "admin", clock=clock),
    }
    session.commit()
    return made


@pytest.fixture
def make_customer(session, users, clock):
    """make_customer('名称', stage=..., owner='tm' | None (shared) | ['tm', 'rep'])"""
    from models.crm.customers import create_customer

    counter = iter(range(1, 10 ** 6))

    def make(name=None, *, stage="target", owner="tm", **data):
        actor = users["admin"]
        if owner is None:
            kw = dict(ownership="shared")
        elif isinstance(owner, list):
            kw = dict(ownership="collaborative", operator_ids=[users[o].id for o in owner])
        else:
            kw = dict(ownership="personal", operator_ids=[users[owner].id])
        data["name"] = name or "测试公司%d" % next(counter)
        customer = create_customer(session, actor, data, stage=stage, clock=clock, **kw)
        session.commit()
        return customer

    return make


PASSWORDS = {"tm": "pw-tm", "tm2": "pw-tm2", "rep": "pw-rep", "mgr": "pw-mgr", "admin": "pw-admin"}


@pytest.fixture
def app(Session, users, clock, tmp_path):
    from admin import create_app
    from config.settings import Settings

    flask_app = create_app(Settings(data_dir=tmp_path, secret_key="test-secret"), Session,
                           clock=clock, testing=True)
    flask_app.config.update(SSE_MAX_SECONDS=2, SSE_POLL_SECONDS=0.1)
    return flask_app


@pytest.fixture
def as_user(app):
    """as_user('tm') -> a test client logged in as that user (through the real form)."""
    from tests.web_helpers import login

    def make(name):
        client = app.test_client()
        response = login(client, name, PASSWORDS[name])
        assert response.status_code == 302, response.get_data(as_text=True)
        return client
    return make
