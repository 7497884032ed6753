"""CRM scale benchmark: load a large fake customer base, then time the CRM's hot paths.

Loads N customers (dialfunnel.fakedata), their operators and M contact records into a fresh
schema, then times, with the project's own functions and on a warm cache:

  a. an agent's dashboard counts (models.crm.dashboard.dashboard_counts), day / week / month;
  b. a stage list page (target stage): the *mine* tab by updated_at desc, and the *shared*
     tab by name at offset 1000, each with the pager's total count;
  c. a three-condition query-builder search (models.crm.query.compile_query) within what the
     agent may see (models.crm.visibility.visible_filter), ordered by id, 50 rows;
  d. a claim of a shared target customer (models.crm.ownership.claim) and its commit.

It prints load times and, per database, the median / p95 / max in ms of each operation and
whether the median meets the goal (< 150 ms; the goal is set for PostgreSQL at 1M customers,
the SQLite figures are for comparison).

Run it from the project root, in the project's venv:

    . .venv/bin/activate
    python bench/crm_scale.py                       # PostgreSQL 1M/5M, then SQLite 100k/500k
    python bench/crm_scale.py --only pg --skip-load --explain    # reuse the loaded data
    python bench/crm_scale.py --customers-pg 100000 --records-pg 500000 --only pg   # quick

The PostgreSQL database (default dialfunnel_bench on the local socket) is created when
missing and its public schema is dropped and recreated by every load. Claims change the
data: a rerun with --skip-load claims other customers.

Loading: the schema comes from the migration; the secondary indexes of the three bulk tables
are dropped during the load and rebuilt after it (faster than loading with them), rows go in
by COPY on PostgreSQL (foreign-key triggers off for the loading session; the generated data
is consistent) and by executemany in one transaction on SQLite. The data is generated for a
fixed "now" (the latest 16:00 Asia/Shanghai, stored as an app setting) and the timed runs use
a FakeClock at that moment, so --skip-load reruns see the same today/tomorrow.

Timings are wall-clock latencies: anything else running on the machine (a test suite, say)
shows up in them, hence the load average printed next to each table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, and_, event, func, select, text, update
from sqlalchemy.engine import make_url

from dialfunnel import fakedata
from models.clock import FakeClock
from models.company import day_bounds
from models.crm.dashboard import dashboard_counts
from models.crm.ownership import claim
from models.crm.query import compile_query
from models.crm.visibility import mine_filter, shared_filter, visible_filter
from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from models.org.users import create_user
from models.schema import AppSetting, ContactRecord, Customer, CustomerOperator, Role, User
from models.setup import install_defaults

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # run as a script: bench/ is not installed
from bench.world_flags import COUNT, NATURAL, check  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg:///dialfunnel_bench?host=/var/run/postgresql"
GOAL_MS = 150.0
SEED = 20261126
CHUNK = 20_000                 # customers generated and written per batch
WARMUP = 3                     # untimed runs of each operation before the timed ones
REF_NOW_KEY = "bench.reference_now"   # app setting: the "now" the data was generated for
TZ = ZoneInfo("Asia/Shanghai")

# ~50 users over the four roles, mostly agents (who operate customers and log calls).
USER_MIX = (("telemarketer", 32), ("sales_rep", 14), ("sales_manager", 3), ("admin", 1))
AGENT_ROLES = ("telemarketer", "sales_rep")

# Relative number of contact records per customer by stage; shared customers get half.
RECORD_WEIGHT = {None: 1.0, "reserve": 0.5, "target": 4.0, "potential": 8.0,
                 "opportunity": 12.0, "closed": 10.0}
SHARED_RECORD_FACTOR = 0.5
HISTORY_DAYS = 180
ACTIVE_STAGES = ("target", "potential", "opportunity", "closed")
CONTACT_MARK_STAGES = ("reserve", "target")       # stages whose rule has the contact mark

# Query-builder search (c): a common city and industry and a frequent name fragment.
SEARCH_CITY, SEARCH_INDUSTRY, SEARCH_FRAGMENT = "上海", "制造", "机械"

RECORD_COLUMNS = ("id", "customer_id", "user_id", "method", "content", "progress",
                  "contacted_at", "next_callback_at", "remind", "remind_at", "created_at",
                  "updated_at")
BULK_TABLES = (Customer.__table__, CustomerOperator.__table__, ContactRecord.__table__)


# ------------------------------------------------------------------------------------------
# 1. schema, defaults, users

def fresh_database(kind: str, url: str) -> None:
    """An empty database: the bench PG database's public schema recreated, or no SQLite file."""
    if kind == "sqlite":
        path = make_url(url).database
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    name = make_url(url).database
    maintenance = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    admin = make_engine(maintenance, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text('CREATE DATABASE "%s"' % name))
    admin.dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def reference_now() -> dt.datetime:
    """The "now" the data is made for: the latest 16:00 in the company's time zone, so that
    "today" holds most of a working day whatever the hour the bench runs at."""
    local = dt.datetime.now(TZ)
    at = local.replace(hour=16, minute=0, second=0, microsecond=0)
    if at > local:
        at -= dt.timedelta(days=1)
    return at.astimezone(dt.timezone.utc)


def create_schema_and_users(engine, now: dt.datetime) -> dict[str, list[int]]:
    """Migrate, install the defaults and create the users; {role code: [user ids]}."""
    upgrade(engine)
    clock = FakeClock(now)
    users: dict[str, list[int]] = {}
    with make_sessionmaker(engine).begin() as session:
        install_defaults(session)
        session.add(AppSetting(key=REF_NOW_KEY, value=now.isoformat()))
        number = 0
        for role, count in USER_MIX:
            for _ in range(count):
                number += 1
                user = create_user(session, "user%02d" % number, "%s %d" % (role, number),
                                   "bench-password", role, extension=str(8000 + number),
                                   clock=clock)
                users.setdefault(role, []).append(user.id)
    return users


def prepare_for_timing(engine) -> tuple[dt.datetime, list[int]]:
    """The reference "now" of the loaded data and the agents' ids; quotas set out of reach."""
    with make_sessionmaker(engine).begin() as session:
        session.execute(update(Role).values(daily_claim_quota=100_000))
        now = dt.datetime.fromisoformat(
            session.scalar(select(AppSetting.value).where(AppSetting.key == REF_NOW_KEY)))
        agents = list(session.scalars(select(User.id).join(User.role)
                                      .where(Role.code.in_(AGENT_ROLES)).order_by(User.id)))
    return now, agents


# ------------------------------------------------------------------------------------------
# 2. generating and bulk loading the data

def mean_record_weight() -> float:
    """Expected RECORD_WEIGHT (shared factor included) of a customer from fakedata's funnel."""
    total = 0.0
    for stage, p_stage in fakedata.STAGE_WEIGHTS:
        shared = fakedata.OWNERSHIP_WEIGHTS[stage][2]
        total += p_stage * RECORD_WEIGHT[stage] * (1 - shared + shared * SHARED_RECORD_FACTOR)
    return total


class Generator:
    """Customers with their operators and contact records, in batches.

    Each customer's records are made together with it, so its next_callback_at,
    last_contacted_at, contact_mark and updated_at follow its latest record without any
    UPDATE afterwards. Datetimes are naive UTC, as the UTCDateTime columns store them."""

    def __init__(self, customers: int, records: int, agents: list[int], now: dt.datetime):
        self.rng = random.Random(SEED)
        self.customers = customers
        self.agents = agents
        self.now = now                                   # aware, for fakedata
        self.now_naive = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
        self.records_per_weight = records / customers / mean_record_weight()
        self.next_record_id = 1
        today = now.astimezone(TZ).date()
        self.today = tuple(t.replace(tzinfo=None) for t in day_bounds(TZ, today))
        self.tomorrow = tuple(t.replace(tzinfo=None)
                              for t in day_bounds(TZ, today + dt.timedelta(days=1)))

    def batches(self):
        """(customer rows, operator rows, record rows) per CHUNK customers."""
        for start in range(0, self.customers, CHUNK):
            customers, operators, records = [], [], []
            for index in range(start, min(start + CHUNK, self.customers)):
                self.customer(index, customers, operators, records)
            yield customers, operators, records

    def customer(self, index: int, customers: list, operators: list, records: list) -> None:
        r = self.rng.random
        row = fakedata.customer_row(self.rng, index, self.now)
        cid = index + 1
        for key in ("created_at", "updated_at", "stage_changed_at"):
            row[key] = row[key].replace(tzinfo=None)
        stage, ownership = row["stage"], row["ownership"]
        if ownership == "personal":
            ops = [self.agents[int(r() * len(self.agents))]]
        elif ownership == "collaborative":
            ops = self.rng.sample(self.agents, 2 if r() < 0.7 else 3)
        else:
            ops = []
        row["created_by_id"] = ops[0] if ops else self.agents[int(r() * len(self.agents))]
        operators.extend((cid, uid) for uid in ops)

        weight = RECORD_WEIGHT[stage] * (1 if ops else SHARED_RECORD_FACTOR)
        count = int(2 * weight * self.records_per_weight * r() + r())   # mean: the weight's
        if count:
            self.records(cid, row, ops, count, records)
        row["id"] = cid
        customers.append(row)

    def records(self, cid: int, row: dict, ops: list[int], count: int, out: list) -> None:
        r = self.rng.random
        stage, now = row["stage"], self.now_naive
        start = max(row["created_at"], now - dt.timedelta(days=HISTORY_DAYS))
        span = (now - start).total_seconds()
        offsets = sorted(int(r() * span) for _ in range(count))
        person = row["contact_person"]
        agents = self.agents
        for n, offset in enumerate(offsets):
            at = start + dt.timedelta(seconds=offset)
            if ops and r() < 0.9:
                uid = ops[int(r() * len(ops))]
            else:
                uid = agents[int(r() * len(agents))]
            latest = n == count - 1
            callback = self.latest_callback(stage, ops) if latest else (
                at + dt.timedelta(seconds=int(3600 + r() * 14 * 86400)) if r() < 0.5 else None)
            remind = latest and callback is not None and callback > now and r() < 0.3
            out.append((self.next_record_id, cid, uid, fakedata.contact_method(self.rng),
                        fakedata.contact_note(self.rng, stage, person),
                        fakedata.progress(self.rng, stage), at, callback, remind,
                        callback if remind else None, at, at))
            self.next_record_id += 1
        row["last_contacted_at"] = at
        row["next_callback_at"] = callback
        row["updated_at"] = max(row["updated_at"], at)
        if stage in CONTACT_MARK_STAGES:
            row["contact_mark"] = "contacted"

    def latest_callback(self, stage, ops) -> dt.datetime | None:
        """The next callback of a customer's latest record: operated customers in a working
        stage mostly have one, some today or tomorrow, some overdue."""
        r = self.rng.random
        if not (ops and stage in ACTIVE_STAGES):
            if r() < 0.1:
                return self.now_naive + dt.timedelta(seconds=int((r() * 60 - 30) * 86400))
            return None
        x = r()
        if x < 0.12:
            lo, hi = self.today
        elif x < 0.24:
            lo, hi = self.tomorrow
        elif x < 0.32:
            lo, hi = self.now_naive - dt.timedelta(days=14), self.today[0]
        elif x < 0.82:
            lo, hi = self.tomorrow[1], self.tomorrow[1] + dt.timedelta(days=28)
        else:
            return None
        return lo + dt.timedelta(seconds=int(r() * (hi - lo).total_seconds()))


def drop_indexes(engine) -> None:
    """Secondary indexes off while loading (rebuilding them afterwards is faster)."""
    with engine.begin() as conn:
        for table in BULK_TABLES:
            for index in table.indexes:
                index.drop(conn)


def create_indexes(kind: str, engine) -> None:
    with engine.begin() as conn:
        if kind == "pg":
            conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for table in BULK_TABLES:
            for index in table.indexes:
                index.create(conn)


def copy_rows(cursor, table: str, columns, rows) -> None:
    with cursor.copy("COPY %s (%s) FROM STDIN" % (table, ", ".join(columns))) as copy:
        for row in rows:
            copy.write_row(row)


def load_pg(engine, gen: Generator) -> dict[str, float]:
    """COPY each batch (FK triggers off for the session: the generated data is consistent)."""
    timings = {"generate": 0.0, "write": 0.0}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET synchronous_commit = off")
        columns = None
        t = time.perf_counter()
        for customers, operators, records in gen.batches():
            t1 = time.perf_counter()
            timings["generate"] += t1 - t
            columns = columns or list(customers[0])
            copy_rows(cur, "customers", columns, ([c[k] for k in columns] for c in customers))
            copy_rows(cur, "customer_operators", ("customer_id", "user_id"), operators)
            copy_rows(cur, "contact_records", RECORD_COLUMNS, records)
            raw.commit()
            t = time.perf_counter()
            timings["write"] += t - t1
            progress(gen, customers)
        for table in ("customers", "contact_records"):
            cur.execute("SELECT setval(pg_get_serial_sequence('%s', 'id'), "
                        "(SELECT max(id) FROM %s))" % (table, table))
        raw.commit()
        cur.execute("RESET ALL")          # FK triggers and synchronous commit back on
        raw.commit()
    finally:
        raw.close()
    return timings


def load_sqlite(engine, gen: Generator) -> dict[str, float]:
    """executemany in one transaction; datetimes in SQLAlchemy's SQLite storage format."""
    timings = {"generate": 0.0, "write": 0.0}
    to_text = DateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect)

    def value(v):
        if isinstance(v, dt.datetime):
            return to_text(v)
        if isinstance(v, bool):
            return int(v)
        return v

    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        columns = None
        t = time.perf_counter()
        for customers, operators, records in gen.batches():
            t1 = time.perf_counter()
            timings["generate"] += t1 - t
            columns = columns or list(customers[0])
            cur.executemany(insert_sql("customers", columns),
                            ([value(c[k]) for k in columns] for c in customers))
            cur.executemany(insert_sql("customer_operators", ("customer_id", "user_id")),
                            operators)
            cur.executemany(insert_sql("contact_records", RECORD_COLUMNS),
                            ([value(v) for v in rec] for rec in records))
            t = time.perf_counter()
            timings["write"] += t - t1
            progress(gen, customers)
        cur.execute("COMMIT")
    finally:
        raw.close()
    return timings


def insert_sql(table: str, columns) -> str:
    return "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(columns),
                                                ", ".join("?" * len(columns)))


def progress(gen: Generator, customers: list) -> None:
    done = customers[-1]["id"]
    if done % (CHUNK * 10) == 0 or done == gen.customers:
        print("    %9d customers, %10d records" % (done, gen.next_record_id - 1), flush=True)


def analyze(kind: str, engine) -> None:
    if kind == "pg":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) customers, customer_operators, contact_records"))
            # Flush the load's dirty pages now rather than during the timed runs.
            conn.execute(text("CHECKPOINT"))
    else:
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("ANALYZE")
        finally:
            raw.close()


def load(kind: str, engine, url: str, customers: int, records: int) -> None:
    print("  loading %s customers and ~%s contact records" % (f"{customers:,}", f"{records:,}"))
    now = reference_now()
    steps: list[tuple[str, float, int | None]] = []

    t = time.perf_counter()
    fresh_database(kind, url)
    engine.dispose()
    users = create_schema_and_users(engine, now)
    steps.append(("schema, defaults, %d users" % sum(map(len, users.values())),
                  time.perf_counter() - t, None))

    agents = [uid for role in AGENT_ROLES for uid in users[role]]
    gen = Generator(customers, records, agents, now)
    t = time.perf_counter()
    drop_indexes(engine)
    timings = (load_pg if kind == "pg" else load_sqlite)(engine, gen)
    total = time.perf_counter() - t
    engine.dispose()                      # no loading session settings left in the pool
    with engine.connect() as conn:
        operators = conn.scalar(select(func.count()).select_from(CustomerOperator))
    rows = customers + operators + gen.next_record_id - 1
    steps.append(("rows: %s customers, %s operators, %s records"
                  % (f"{customers:,}", f"{operators:,}", f"{gen.next_record_id - 1:,}"),
                  total, rows))
    steps.append(("  of which generating in Python", timings["generate"], None))
    steps.append(("  of which writing (%s)" % ("COPY" if kind == "pg" else "executemany"),
                  timings["write"], rows))

    t = time.perf_counter()
    create_indexes(kind, engine)
    steps.append(("secondary indexes rebuilt", time.perf_counter() - t, None))
    t = time.perf_counter()
    analyze(kind, engine)
    steps.append(("VACUUM ANALYZE, CHECKPOINT" if kind == "pg" else "ANALYZE",
                  time.perf_counter() - t, None))

    print()
    print("  %-66s %9s %12s" % ("load step", "seconds", "rows/s"))
    for label, seconds, count in steps:
        rate = f"{count / seconds:,.0f}" if count else ""
        print("  %-66s %9.1f %12s" % (label, seconds, rate))
    load_total = sum(s for label, s, _ in steps if not label.startswith("  "))
    print("  %-66s %9.1f %12s" % ("load total", load_total,
                                  f"{rows / load_total:,.0f}"))
    print()


# ------------------------------------------------------------------------------------------
# 3. the timed operations (each takes a session and a user, returns nothing)

def op_dashboard(period: str, clock):
    def run(session, user, _rng):
        dashboard_counts(session, user, period=period, clock=clock)
    return run


def list_mine_query(user):
    where = and_(Customer.stage == "target", mine_filter(user))
    page = select(Customer).where(where).order_by(Customer.updated_at.desc()).limit(50).offset(0)
    return page, select(func.count()).select_from(Customer).where(where)


def list_shared_query(user):
    where = and_(Customer.stage == "target", shared_filter())
    page = select(Customer).where(where).order_by(Customer.name).limit(50).offset(1000)
    return page, select(func.count()).select_from(Customer).where(where)


def op_list(make_queries):
    def run(session, user, _rng):
        page, count = make_queries(user)
        session.scalars(page).all()
        session.scalar(count)
    return run


def search_query(session, user):
    tree = {"all": [{"field": "city", "op": "eq", "value": SEARCH_CITY},
                    {"field": "industry", "op": "eq", "value": SEARCH_INDUSTRY},
                    {"field": "name", "op": "contains", "value": SEARCH_FRAGMENT}]}
    return compile_query(session, tree).where(visible_filter(user)).order_by(Customer.id).limit(50)


def op_search(session, user, _rng):
    session.scalars(search_query(session, user)).all()


def op_claim(clock, customer_ids: list[int]):
    """Each run claims the next customer of `customer_ids` (shared target ones)."""
    pending = iter(customer_ids)

    def run(session, user, _rng):
        claim(session, user, next(pending), clock=clock)
        session.commit()
    return run


def time_operation(Session, run, agents: list[int], runs: int, rng: random.Random) -> list[float]:
    """Milliseconds of `runs` timed runs after WARMUP untimed ones, a random agent each run.
    Loading the agent is not timed; a session per run, as a web request would have."""
    times = []
    for n in range(WARMUP + runs):
        with Session() as session:
            user = session.get(User, rng.choice(agents))
            t = time.perf_counter()
            run(session, user, rng)
            elapsed = (time.perf_counter() - t) * 1000
            session.rollback()
        if n >= WARMUP:
            times.append(elapsed)
    return times


def claim_candidates(Session, count: int, rng: random.Random) -> list[int]:
    with Session() as session:
        ids = list(session.scalars(select(Customer.id).where(Customer.stage == "target",
                                                              shared_filter())))
    return rng.sample(ids, count)


def run_benchmarks(engine, runs: int) -> list[tuple[str, list[float]]]:
    now, agents = prepare_for_timing(engine)
    clock = FakeClock(now)
    Session = make_sessionmaker(engine)
    rng = random.Random(SEED + 1)
    operations = [
        ("dashboard counts (day)", op_dashboard("day", clock)),
        ("dashboard counts (week)", op_dashboard("week", clock)),
        ("dashboard counts (month)", op_dashboard("month", clock)),
        ("list page: target, mine tab + count", op_list(list_mine_query)),
        ("list page: target, shared tab @1000 + count", op_list(list_shared_query)),
        ("query builder: city+industry+name", op_search),
        ("claim a shared target customer + commit",
         op_claim(clock, claim_candidates(Session, WARMUP + runs, rng))),
    ]
    results = []
    for label, run in operations:
        results.append((label, time_operation(Session, run, agents, runs, rng)))
        print("    timed %s" % label, flush=True)
    return results


# ------------------------------------------------------------------------------------------
# 4. report

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def print_table(title: str, results, goal_note: str) -> None:
    print()
    print(title)
    header = "%-44s %10s %10s %10s   %s" % ("operation", "median ms", "p95 ms", "max ms",
                                          "median < %d ms" % GOAL_MS)
    print(header)
    print("-" * len(header))
    for label, times in results:
        median = statistics.median(times)
        print("%-44s %10.1f %10.1f %10.1f   %s" % (
            label, median, percentile(times, 95), max(times), "yes" if median < GOAL_MS else "NO"))
    print(goal_note)
    print()


def data_sizes(engine) -> str:
    with engine.connect() as conn:
        customers = conn.scalar(select(func.count()).select_from(Customer))
        records = conn.scalar(select(func.count()).select_from(ContactRecord))
    return f"{customers:,} customers, {records:,} contact records"


def explain(engine) -> None:
    """EXPLAIN ANALYZE of the statements the dashboard and the list pages actually send
    (captured as the project's functions run them)."""
    now, agents = prepare_for_timing(engine)
    clock = FakeClock(now)
    Session = make_sessionmaker(engine)
    agent = random.Random(SEED + 2).choice(agents)
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "customers" in statement:
            captured.append((statement, parameters))

    cases = [("dashboard counts (day)", op_dashboard("day", clock)),
             ("dashboard counts (month)", op_dashboard("month", clock)),
             ("list page: target, mine tab + count", op_list(list_mine_query)),
             ("list page: target, shared tab @1000 + count", op_list(list_shared_query))]
    for label, run in cases:
        with Session() as session:
            user = session.get(User, agent)
            captured.clear()
            event.listen(engine, "before_cursor_execute", capture)
            try:
                run(session, user, None)
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            statements = list(captured)
            for statement, parameters in statements:
                plan = session.connection().exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
                print("=== %s (user %d)" % (label, agent))
                print(statement)
                print("--- parameters: %r" % (parameters,))
                print("\n".join(plan))
                print()


# ------------------------------------------------------------------------------------------

def bench_database(kind: str, url: str, customers: int, records: int, args) -> None:
    name = "PostgreSQL" if kind == "pg" else "SQLite"
    print("=" * 100)
    print("%s  (%s)" % (name, url))
    engine = make_engine(url)
    if not args.skip_load:
        load(kind, engine, url, customers, records)
    sizes = data_sizes(engine)
    print("  timing on %s, %d runs each after %d warm-up runs" % (sizes, args.repeat, WARMUP))
    load_before = os.getloadavg()[0]
    results = run_benchmarks(engine, args.repeat)
    print("    load average (1 min) before / after timing: %.2f / %.2f (the bench and its "
          "server make ~2; more is other work, which skews the figures)"
          % (load_before, os.getloadavg()[0]))
    note = ("goal: median < %d ms on PostgreSQL at 1M customers" % GOAL_MS if kind == "pg"
            else "(the goal is set for PostgreSQL; SQLite figures are for comparison)")
    print_table("%s, %s" % (name, sizes), results, note)
    if args.explain and kind == "pg":
        explain(engine)
    engine.dispose()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--sqlite-path", default="/tmp/dialfunnel_bench.db")
    parser.add_argument("--customers-pg", type=int, default=1_000_000)
    parser.add_argument("--records-pg", type=int, default=5_000_000)
    parser.add_argument("--customers-sqlite", type=int, default=100_000)
    parser.add_argument("--records-sqlite", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per operation")
    parser.add_argument("--skip-load", action="store_true",
                        help="reuse the data already loaded in the databases")
    parser.add_argument("--only", choices=("pg", "sqlite"))
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of the dashboard and list queries (PG)")
    args = parser.parse_args(argv)
    check(parser, args, {"customers_pg": COUNT, "records_pg": NATURAL, "customers_sqlite": COUNT,
                         "records_sqlite": NATURAL, "repeat": COUNT})
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.only in (None, "pg"):
        bench_database("pg", args.pg_url, args.customers_pg, args.records_pg, args)
    if args.only in (None, "sqlite"):
        bench_database("sqlite", "sqlite:///" + args.sqlite_path, args.customers_sqlite,
                       args.records_sqlite, args)
    print("total run time %.1f s" % (time.perf_counter() - started))


if __name__ == "__main__":
    main()
