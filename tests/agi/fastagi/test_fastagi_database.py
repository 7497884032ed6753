"""The FastAGI server's database path: read transactions that take no SQLite write lock
(models.db.begin_read) and the call log's group commit (agi/fastagi/group_commit.py)."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from agi.fastagi.group_commit import GroupCommit
from models.db import begin_read, make_engine, make_sessionmaker
from models.schema.ivr import IVRCall
from models.telephony.ivr import insert_ivr_calls, ivr_call_values

NOW = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)


def values(n: int, **extra) -> dict:
    return ivr_call_values(uniqueid=f"u{n}", flow="main", outcome="COMPLETED", started_at=NOW,
                           duration_ms=n, caller_id="13800138000", **extra)


# -- begin_read ------------------------------------------------------------------------------

@pytest.fixture
def sqlite_maker(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}", connect_args={"timeout": 0.2})
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t (id) VALUES (1)"))
    yield engine, make_sessionmaker(engine)
    engine.dispose()


def test_a_read_transaction_reads_beside_a_writer_that_holds_the_lock(sqlite_maker):
    engine, maker = sqlite_maker
    with engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE: the write lock, held
        writer.execute(text("INSERT INTO t (id) VALUES (2)"))
        with maker() as session:
            started = time.monotonic()
            begin_read(session)
            assert session.scalar(text("SELECT count(*) FROM t")) == 1  # the committed state
            session.commit()
            assert time.monotonic() - started < 0.15
        with maker() as session, pytest.raises(OperationalError, match="locked"):
            session.scalar(text("SELECT count(*) FROM t"))  # default: BEGIN IMMEDIATE waits
        writer.rollback()


def test_begin_read_is_for_one_transaction_and_leaves_an_open_one_alone(sqlite_maker):
    engine, maker = sqlite_maker
    with maker() as session:
        session.execute(text("INSERT INTO t (id) VALUES (3)"))
        begin_read(session)  # a write transaction is open: unchanged
        session.execute(text("INSERT INTO t (id) VALUES (4)"))
        session.commit()
        begin_read(session)
        session.scalar(text("SELECT 1"))
        session.commit()
        session.execute(text("INSERT INTO t (id) VALUES (5)"))  # the next one writes again
        with engine.connect() as other:
            with pytest.raises(OperationalError, match="locked"):
                other.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: we hold the lock
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM t")) == 4


def test_a_read_on_postgresql_runs_without_a_transaction_and_the_next_one_has_one(Session):
    """begin_read on PostgreSQL: autocommit (no BEGIN/COMMIT round trips), for one
    transaction of the session only."""
    with Session() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: on SQLite begin_read is a deferred BEGIN (tests above)")
        begin_read(session)
        first = session.scalar(text("SELECT transaction_timestamp()"))
        time.sleep(0.01)
        assert session.scalar(text("SELECT transaction_timestamp()")) > first  # a new one each
        session.commit()
        first = session.scalar(text("SELECT transaction_timestamp()"))
        time.sleep(0.01)
        assert session.scalar(text("SELECT transaction_timestamp()")) == first  # one transaction
        session.commit()


# -- begin_immediate -------------------------------------------------------------------------

def test_a_writer_takes_the_lock_within_milliseconds_of_its_release(tmp_path):
    """SQLite's busy handler, having waited 328 ms, sleeps until 428 ms: released at ~340 ms it
    would take the lock ~90 ms late. Ours retries every <= 2 ms."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}", connect_args={"timeout": 5})
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    took = {}

    def writer():
        with engine.begin() as conn:  # waits in begin_immediate
            took["at"] = time.monotonic()
            conn.execute(text("INSERT INTO t (id) VALUES (2)"))

    with engine.connect() as holder:
        holder.begin()
        holder.execute(text("INSERT INTO t (id) VALUES (1)"))
        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.34)
        assert "at" not in took
        releasing = time.monotonic()
        holder.commit()
        released = time.monotonic()
    thread.join(5)
    # the writer may run before this thread reads the clock again after commit
    assert took["at"] >= releasing
    assert took["at"] - released < 0.05
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM t")) == 2
        # the connection's busy timeout is back to what it was configured with
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_a_writer_gives_up_after_the_configured_timeout(sqlite_maker):
    engine, maker = sqlite_maker  # timeout 0.2 s
    with engine.connect() as holder:
        holder.begin()
        with maker() as session:
            started = time.monotonic()
            with pytest.raises(OperationalError, match="locked"):
                session.execute(text("INSERT INTO t (id) VALUES (9)"))
            assert 0.19 < time.monotonic() - started < 0.6
            session.rollback()
            holder.rollback()
            session.execute(text("INSERT INTO t (id) VALUES (9)"))  # the same connection, later
            session.commit()
    with maker() as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 2


# -- group commit ----------------------------------------------------------------------------

def count(Session) -> int:
    with Session() as s:
        return s.scalar(select(func.count()).select_from(IVRCall))


def test_concurrent_calls_share_transactions_and_every_row_is_committed(Session):
    slow = threading.Event()

    def insert(session, rows):
        insert_ivr_calls(session, rows)
        slow.wait(0.02)  # a writer that takes a while: the others queue meanwhile

    log = GroupCommit(insert)
    errors = []

    def call(n):
        with Session() as session:
            try:
                log.write(session, [values(n)])
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert count(Session) == 40
    assert log.batches < 20


@pytest.mark.parametrize("one_statement", [False, True])
def test_a_row_the_database_refuses_fails_only_its_own_call(Session, one_statement):
    """With `one_statement` (PostgreSQL: autocommit) the refused batch must have written none
    of its rows, or their calls' retries would write them twice."""
    gate = threading.Event()

    def insert(session, rows):
        gate.wait(1)
        insert_ivr_calls(session, rows)

    log = GroupCommit(insert, one_statement=one_statement)
    results = {}

    def call(n, **extra):
        with Session() as session:
            try:
                log.write(session, [values(n, **extra)])
                results[n] = "ok"
            except SQLAlchemyError as exc:
                results[n] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()  # leads, waits at the gate: the next three queue as one batch
    time.sleep(0.1)
    rest = [threading.Thread(target=call, args=(1,)),
            threading.Thread(target=call, args=(2,), kwargs={"customer_id": 999_999}),
            threading.Thread(target=call, args=(3,))]
    for t in rest:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in [first, *rest]:
        t.join(10)
    assert results[0] == results[1] == results[3] == "ok"
    assert isinstance(results[2], IntegrityError)
    with Session() as s:
        assert sorted(s.scalars(select(IVRCall.uniqueid))) == ["u0", "u1", "u3"]


def test_a_one_statement_batch_is_one_round_trip_on_postgresql(Session, engine):
    """The call log's batch on PostgreSQL: one INSERT of all its rows in autocommit, no BEGIN
    and COMMIT round trips."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's writes take BEGIN IMMEDIATE (tests above)")
    seen = []

    def spy(conn, cursor, statement, params, context, executemany):
        rows = sorted(k.rsplit("__", 1)[1] for k in params if k.startswith("uniqueid__"))
        seen.append((statement.split()[0], context.execute_style.name, rows,
                     conn.connection.dbapi_connection.autocommit))

    log = GroupCommit(insert_ivr_calls, one_statement=True)
    event.listen(engine, "before_cursor_execute", spy)
    try:
        with Session() as session:
            log.write(session, [values(1), values(2), values(3)])
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    # one cursor.execute of one statement holding the three rows (not an executemany)
    assert seen == [("INSERT", "INSERTMANYVALUES", ["0", "1", "2"], True)]
    assert count(Session) == 3


class FakeSession:
    engine = object.__new__(type("FakeEngine", (), {}))

    def __init__(self):
        self.commits = self.rollbacks = 0

    def get_bind(self):
        return self.engine

    def commit(self):
        self.commits += 1

    def rollback(self):
        self.rollbacks += 1


def test_a_queued_call_gives_up_after_its_bounded_wait_and_the_queue_recovers():
    release = threading.Event()
    written = []

    def insert(session, rows):
        release.wait(5)  # the first batch hangs (a database that does not answer)
        written.extend(rows)

    log = GroupCommit(insert, wait=0.2)
    leader = threading.Thread(target=log.write, args=(FakeSession(), ["first"]))
    leader.start()
    time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="not written within"):
        log.write(FakeSession(), ["late"])
    assert 0.15 < time.monotonic() - started < 1.0
    release.set()
    leader.join(5)
    log.write(FakeSession(), ["next"])  # a new call leads at once
    assert written == ["first", "next"]


def test_an_error_in_the_leaders_batch_reaches_every_call_of_it():
    def insert(session, rows):
        raise OperationalError("INSERT", None, Exception("disk I/O error"))

    log = GroupCommit(insert)
    session = FakeSession()
    with pytest.raises(OperationalError, match="disk I/O"):
        log.write(session, ["a"])
    assert session.rollbacks == 1 and session.commits == 0
    with pytest.raises(OperationalError):  # no lead left behind: the next call leads
        log.write(session, ["b"])


# -- the ivr handler's flow files --------------------------------------------------------------

def test_the_ivr_handler_looks_at_the_flow_files_once_a_recheck_interval(Session, monkeypatch):
    from types import SimpleNamespace

    import agi.handlers.ivr as ivr
    from ivr_flows import load_flows

    class Library:
        calls = 0
        flows = load_flows()

        def get(self):
            self.calls += 1
            return self.flows

    library = Library()
    handler = ivr.make_ivr_handler(library=library)
    agi = SimpleNamespace(query={"flow": "no_such_flow"}, env={"agi_callerid": "13800138000"},
                          uniqueid="1.1")
    with Session() as session:
        for _ in range(5):
            assert handler(agi, session, []) == "NOFLOW"
        assert library.calls == 1
        monkeypatch.setattr(ivr, "FLOWS_RECHECK", 0.0)
        assert handler(agi, session, []) == "NOFLOW"
        assert library.calls == 2
        session.commit()
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(IVRCall)
                        .where(IVRCall.outcome == "NOFLOW")) == 6


def test_rows_share_transactions_only_with_rows_for_the_same_database(tmp_path):
    makers = []
    for name in ("one", "two"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE log (db TEXT)"))
        makers.append(make_sessionmaker(engine))
    gate = threading.Event()

    def insert(session, rows):
        gate.wait(0.05)
        session.execute(text("INSERT INTO log (db) VALUES (:db)"), [{"db": r} for r in rows])

    log = GroupCommit(insert)

    def call(n):
        maker = makers[n % 2]
        with maker() as session:
            log.write(session, ["one" if n % 2 == 0 else "two"])

    threads = [threading.Thread(target=call, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    for maker, name in zip(makers, ("one", "two")):
        with maker() as s:
            assert s.scalars(text("SELECT db FROM log")).all() == [name] * 10
        maker.kw["bind"].dispose()
