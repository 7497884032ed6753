"""C2 concurrency: real concurrent transactions on separate connections (CI runs this file
on PostgreSQL too)."""
import threading

from sqlalchemy import func, select

from models.crm.ownership import claim
from models.db import make_engine, make_sessionmaker
from models.errors import DomainError
from models.org.users import create_user
from models.schema import ClaimLog, Customer, Role, User

WORKERS = 24


def run_workers(db_url, jobs):
    """Run each (user_id, customer_id) claim on its own connection, all released at once."""
    engine = make_engine(db_url, pool_size=WORKERS + 2, max_overflow=0) \
        if not db_url.startswith("sqlite") else make_engine(db_url)
    maker = make_sessionmaker(engine)
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def work(i, user_id, customer_id):
        with maker() as s:
            user = s.get(User, user_id)
            s.commit()
            barrier.wait()
            try:
                claim(s, user, customer_id)
                s.commit()
                outcomes[i] = "won"
            except DomainError as exc:
                s.rollback()
                outcomes[i] = exc.key

    threads = [threading.Thread(target=work, args=(i, u, c)) for i, (u, c) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    engine.dispose()
    return outcomes


def test_many_agents_one_customer_exactly_one_wins(db_url, session, users, clock, make_customer):
    agents = [create_user(session, f"agent{i}", f"坐席{i}", "pw", "telemarketer", clock=clock).id
              for i in range(WORKERS)]
    session.commit()
    for round_ in range(3):
        c = make_customer(stage="target", owner=None)
        outcomes = run_workers(db_url, [(a, c.id) for a in agents])
        assert outcomes.count("won") == 1, outcomes
        assert set(outcomes) == {"won", "claim.not_shared"}
        session.expire_all()
        fresh = session.get(Customer, c.id)
        winner = agents[outcomes.index("won")]
        assert (fresh.ownership, fresh.operator_ids) == ("personal", [winner])
        assert session.scalar(select(func.count()).select_from(ClaimLog)
                              .where(ClaimLog.customer_id == c.id)) == 1


def test_one_agent_parallel_claims_never_exceed_quota(db_url, session, users, clock, make_customer):
    tm = users["tm"]
    session.get(Role, tm.role_id).daily_claim_quota = 5
    session.commit()
    pool = [make_customer(stage="target", owner=None).id for _ in range(WORKERS)]
    outcomes = run_workers(db_url, [(tm.id, cid) for cid in pool])
    assert outcomes.count("won") == 5, outcomes
    assert outcomes.count("claim.quota_exceeded") == WORKERS - 5
    session.expire_all()
    mine = session.scalar(select(func.count()).select_from(Customer)
                          .where(Customer.id.in_(pool), Customer.ownership == "personal"))
    assert mine == 5
