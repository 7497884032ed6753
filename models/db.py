"""Engine, sessions and the column types shared by every table."""
from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time

from sqlalchemy import DateTime, any_, bindparam, create_engine, event, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy import exc as exc_mod
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (works the same on SQLite and PostgreSQL), returned aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    pass


SQLITE_BEGIN = "sqlite_begin"  # execution option: "DEFERRED" for a read-only transaction


def make_engine(url: str, *, pgbouncer: bool = False, **kwargs) -> Engine:
    """Create an engine. SQLite gets WAL, foreign keys and BEGIN IMMEDIATE so that
    concurrent writers queue instead of failing half-way (see docs/architecture.md).
    `begin_read(session)` opts one transaction out of the write lock.

    `pgbouncer`: the URL points at PgBouncer in transaction pooling (deploy/pgbouncer.ini),
    where each transaction may run on another server connection: psycopg must not prepare
    statements (a prepared statement lives on one server connection only)."""
    if pgbouncer and not url.startswith("postgresql"):
        raise ValueError("setting database_pgbouncer is for a PostgreSQL database_url")
    if url.startswith("sqlite"):
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, record):
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            record.info["busy_timeout_ms"] = cur.execute("PRAGMA busy_timeout").fetchone()[0]
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            if conn.get_execution_options().get(SQLITE_BEGIN) == "DEFERRED":
                conn.exec_driver_sql("BEGIN")
            else:
                try:
                    begin_immediate(conn.connection.dbapi_connection,
                                    conn.connection.info.get("busy_timeout_ms", 0) / 1000)
                except sqlite3.Error as exc:
                    raise exc_mod.OperationalError("BEGIN IMMEDIATE", None, exc) from None

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if pgbouncer:
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "prepare_threshold": None}
    return create_engine(url, **kwargs)


def ping_when_idle(engine: Engine, after_s: float, clock) -> None:
    """Check a pooled connection with a round trip only when it has been idle for `after_s`
    seconds (instead of pool_pre_ping's round trip at every checkout): one that was used a
    moment ago is alive, one that sat idle may have been cut (a database or PgBouncer restart,
    an idle timeout) and is replaced before the caller gets it. For engines whose every
    checkout counts (the FastAGI server: two per call)."""

    @event.listens_for(engine.pool, "checkin")
    def _checkin(dbapi_conn, record):
        record.info["idle_since"] = clock.now()

    @event.listens_for(engine.pool, "checkout")
    def _checkout(dbapi_conn, record, proxy):
        since = record.info.pop("idle_since", None)
        if since is None or (clock.now() - since).total_seconds() < after_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise exc_mod.DisconnectionError(f"idle connection lost: {exc}") from exc
        if not alive:
            raise exc_mod.DisconnectionError("idle connection lost")


WRITE_RETRY_FIRST = 0.0002  # seconds; doubled after each refusal ...
WRITE_RETRY_MAX = 0.002     # ... up to this


def begin_immediate(dbapi_conn, timeout: float) -> None:
    """BEGIN IMMEDIATE (take SQLite's write lock), waiting up to `timeout` seconds for it.

    SQLite's own busy handler retries after 1, 2, 5 ... 25, 50, 100 ms, so a writer that
    finds the lock taken sleeps long after it was freed; with several processes writing,
    those sleeps let the queues behind them grow and the next transaction last longer (a
    convoy: bench/agi_load.py, 1,000 channels). Here a refused BEGIN is retried after
    0.2 ms, doubling up to 2 ms: the lock is taken within ~2 ms of being freed."""
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout=0")
        deadline = time.monotonic() + timeout
        pause = WRITE_RETRY_FIRST
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                left = deadline - time.monotonic()
                if "locked" not in str(exc) or left <= 0:
                    raise
            time.sleep(min(left, pause * random.uniform(0.75, 1.25)))
            pause = min(pause * 2, WRITE_RETRY_MAX)
    finally:
        cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cur.close()


def expire_loaded(session: Session, model, key) -> None:
    """After an UPDATE run without the ORM: the session's copy of that row, if it holds one,
    is read again on next use."""
    loaded = session.identity_map.get(session.identity_key(model, (key,)))
    if loaded is not None:
        session.expire(loaded)


def among(session: Session, column, keys: list):
    """``column IN keys``; on PostgreSQL ``= ANY(array)``: one parameter, so the statement's
    text is the same whatever the number of keys (no long SQL to build and parse each time)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, keys, type_=ARRAY(column.type)))
    return column.in_(keys)


def key_chunks(session: Session, keys: list, size: int = 500) -> list[list]:
    """The keys in chunks for ``among`` (one on PostgreSQL: an array has no length limit)."""
    if session.get_bind().dialect.name == "postgresql":
        return [keys] if keys else []
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def is_deadlock(exc: Exception) -> bool:
    """The database chose this transaction as a deadlock's victim (PostgreSQL's 40P01; its
    savepoint can be rolled back and the work tried again)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "40P01"


def begin_read(session: Session) -> None:
    """Start the session's next transaction as a read. On SQLite it is a deferred BEGIN: in
    WAL mode it reads beside the writer instead of queueing for the write lock. Elsewhere the
    connection runs in autocommit until the transaction ends: no BEGIN and COMMIT round trips
    (each statement sees its own snapshot). Only for reads: on SQLite a write in it can fail
    at once with "database is locked". Does nothing when a transaction is already open."""
    if not session.in_transaction():
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={SQLITE_BEGIN: "DEFERRED"})
        else:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def begin_one_statement(session: Session) -> None:
    """Start the session's next transaction for a write of one statement (a multi-row INSERT).
    On PostgreSQL it runs in autocommit: one statement is atomic by itself, and the BEGIN and
    COMMIT round trips go. On SQLite BEGIN IMMEDIATE as for any write. Does nothing when a
    transaction is already open."""
    if not session.in_transaction() and session.get_bind().dialect.name != "sqlite":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def lock_key(session: Session, key: str) -> None:
    """Serialise the transactions about `key` until this one ends: a PostgreSQL advisory lock
    (for a row that does not exist yet, so no row lock can do it). SQLite's transactions that
    write hold the write lock from their BEGIN IMMEDIATE: they are serial already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": key})


def read_pipelined(session: Session, statements: list[tuple[str, dict]]) -> list[list[tuple]]:
    """Several reads sent together in the session's transaction and answered in one round
    trip (PostgreSQL with psycopg: its pipeline mode), each given as (SQL in the driver's
    paramstyle, parameters); their rows, as the driver returns them (no SQLAlchemy type
    processing: for plain columns). A driver error comes out as SQLAlchemy's, a lost connection
    invalidated, as ``session.execute`` does."""
    connection = session.connection()
    dbapi_conn = connection.connection.driver_connection
    sql = params = None
    try:
        cursors = []
        with dbapi_conn.pipeline():
            for sql, params in statements:
                cursor = dbapi_conn.cursor()
                cursor.execute(sql, params)
                cursors.append(cursor)
        return [cursor.fetchall() for cursor in cursors]
    except connection.dialect.loaded_dbapi.Error as exc:
        lost = connection.dialect.is_disconnect(exc, dbapi_conn, None)
        if lost:
            connection.invalidate(exc)
        raise exc_mod.DBAPIError.instance(sql, params, exc, connection.dialect.loaded_dbapi.Error,
                                          connection_invalidated=lost,
                                          dialect=connection.dialect) from exc
