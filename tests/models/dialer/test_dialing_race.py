"""Several dialers on one database (T4): each thread has its own connection and calls
pick_leads / finish_attempt as a dialer process would. No number and no lead is ever in two
calls at once, and the per-number caps hold exactly (CI runs this file on PostgreSQL too)."""
import datetime as dt
import random
import threading
from collections import Counter, defaultdict

from sqlalchemy import select

from models.db import make_engine, make_sessionmaker
from models.dialer.campaigns import change_status, create_campaign
from models.dialer.dialing import finish_attempt, open_attempts, pick_leads
from models.schema import CampaignLead, DialAttempt

DIALERS = 4
OUTCOMES = [(5, 17), (3, 19), (8, 34), (0, None)]     # busy, noanswer, congestion, failed


def setup_campaigns(session, users, clock, make_customer, **fields):
    """Two running campaigns over the same 40 customers, who share 30 numbers."""
    for i in range(40):
        make_customer(mobile="138%08d" % (i % 30))
    made = []
    for name in ("A", "B"):
        c = create_campaign(session, users["mgr"], clock=clock, name=name,
                            agent_ids=[users["tm"].id], **fields)
        change_status(session, users["mgr"], c.id, "start", clock=clock)
        made.append(c.id)
    session.commit()
    return made


def run_dialers(db_url, work):
    """Run work(session, dialer_id, rng) in DIALERS threads, each with its own connection."""
    engine = make_engine(db_url) if db_url.startswith("sqlite") else \
        make_engine(db_url, pool_size=DIALERS + 1, max_overflow=0)
    maker = make_sessionmaker(engine)
    barrier = threading.Barrier(DIALERS)
    errors = []

    def main(i):
        rng = random.Random(i)
        with maker() as s:
            barrier.wait()
            try:
                work(s, "dialer-%d" % i, rng)
            except Exception as exc:      # reported by the assertion below
                s.rollback()
                errors.append(repr(exc))

    threads = [threading.Thread(target=main, args=(i,)) for i in range(DIALERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    engine.dispose()
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def check_leads(session):
    """Every lead counted its attempts; dialling leads have exactly one open attempt."""
    session.expire_all()
    attempts = session.scalars(select(DialAttempt)).all()
    per_lead = Counter(a.lead_id for a in attempts)
    open_per_lead = Counter(a.lead_id for a in attempts if a.ended_at is None)
    for lead in session.scalars(select(CampaignLead)):
        assert lead.attempts == per_lead[lead.id]
        assert open_per_lead[lead.id] == (lead.status == "dialling")
    return attempts


def test_pickers_never_open_a_number_or_lead_twice(db_url, session, users, clock, make_customer):
    campaigns = setup_campaigns(session, users, clock, make_customer)

    def work(s, dialer_id, rng):
        idle = 0
        while idle < 3:
            got = pick_leads(s, rng.choice(campaigns), rng.randint(1, 4), dialer_id=dialer_id,
                             clock=clock)
            s.commit()
            idle = 0 if got else idle + 1

    run_dialers(db_url, work)
    assert pick_leads(session, campaigns[0], 10, dialer_id="x", clock=clock) == []
    assert pick_leads(session, campaigns[1], 10, dialer_id="x", clock=clock) == []
    session.rollback()
    attempts = check_leads(session)
    # nothing was hung up, so a second attempt for a number would have been a double dial
    assert sorted(Counter(a.number for a in attempts).values()) == [1] * 30
    assert len(open_attempts(session)) == 30
    assert {a.dialer_id for a in attempts} <= {"dialer-%d" % i for i in range(DIALERS)}


def test_dialers_picking_and_hanging_up_keep_the_caps(db_url, session, users, clock,
                                                      make_customer):
    """Calls end at once and retry a minute later while the clock runs: numbers come back
    quickly, so every dialer keeps hitting the 5-minute and 24-hour caps."""
    rules = {o: {"delay_min": 1, "max": 20} for o in ("busy", "noanswer", "congestion", "failed")}
    campaigns = setup_campaigns(session, users, clock, make_customer, max_attempts_24h=6,
                                max_attempts_5min=2, retry_rules=rules)
    start = clock.now()

    def work(s, dialer_id, rng):
        for _ in range(30):
            got = pick_leads(s, rng.choice(campaigns), rng.randint(1, 3), dialer_id=dialer_id,
                             clock=clock)
            s.commit()
            mine = [a.channel_id for a in got]
            if rng.random() < 0.3:        # also close one another dialer placed (crash recovery)
                mine += [a.channel_id for a in open_attempts(s)[:1]]
                s.commit()
            for channel_id in mine:
                reason, cause = rng.choice(OUTCOMES)
                finish_attempt(s, channel_id, reason=reason, cause=cause, clock=clock)
                s.commit()
            clock.advance(seconds=rng.randint(5, 40))

    run_dialers(db_url, work)
    attempts = check_leads(session)
    assert clock.now() - start < dt.timedelta(hours=24)
    by_number = defaultdict(list)
    for a in attempts:
        by_number[a.number].append(a.started_at)
    assert max(len(times) for times in by_number.values()) == 6      # the caps were reached
    for times in by_number.values():
        for t in times:
            within = [u for u in times if t - dt.timedelta(minutes=5) < u <= t]
            assert len(within) <= 2, sorted(times)
    assert open_attempts(session) == []
