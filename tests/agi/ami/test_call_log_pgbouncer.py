"""The call log's writer through a real PgBouncer (Debian's package) in transaction pooling,
as production runs it (setting database_pgbouncer): its batch's reads go as one psycopg
pipeline and its write as one statement outside a transaction, which PgBouncer may hand to a
server connection another client used a moment before. PostgreSQL pass only."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dialfunnel.local_pgbouncer import LocalPgBouncer, find_binary
from models.db import make_engine
from models.schema.calls import Call

from tests.agi.ami.test_call_log import (agents, check_three_calls, pbx, phone,  # noqa: F401
                                         simclock, three_calls, write_one_batch)


def test_a_batch_through_pgbouncer_writes_the_calls(db_url, engine, Session, agents, pbx, phone,
                                                    session, clock, make_customer):
    if not db_url.startswith("postgresql"):
        pytest.skip("PgBouncer sits in front of PostgreSQL: runs with DIALFUNNEL_TEST_DATABASE_URL")
    if find_binary() is None:
        pytest.skip("the pgbouncer binary is missing (apt-get install pgbouncer; make test-deps)")
    seen, handles, attempt = three_calls(pbx, phone, session, clock, make_customer)
    # one server connection, shared with another client's statements between ours
    with LocalPgBouncer(db_url, pool_size=1) as bouncer:
        pooled = make_engine(bouncer.url, pgbouncer=True)
        try:
            with pooled.connect() as other, pooled.connect() as connection:
                for n in range(2):      # the second batch is a replay: no new rows
                    other.exec_driver_sql("SELECT count(*) FROM calls")
                    other.commit()      # the server connection goes back to the pool
                    done = write_one_batch(Session, connection, seen)
                    assert done.stats.get("errors", 0) == 0
        finally:
            pooled.dispose()
    check_three_calls(Session, handles, agents, attempt)
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 3
