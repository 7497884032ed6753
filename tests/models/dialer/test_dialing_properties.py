"""Properties of the hopper over random campaigns, leads, call histories and clock times:
pick_leads returns exactly the leads an independent reading of the rules allows (never a
do-not-call, dead, out-of-hours, capped or cooling-down number; never one already open) and no
fewer than it could. Each example runs in one transaction that is rolled back."""
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from models.clock import FakeClock
from models.dialer.campaigns import create_campaign
from models.dialer.dialing import pick_leads
from models.holidays import CN_PUBLIC_HOLIDAYS
from models.schema import Campaign, CampaignLead, Customer, DialAttempt, DoNotCall
from models.schema.campaigns import DEAD_OUTCOMES

ZONES = ["Asia/Shanghai"] * 5 + ["Asia/Urumqi", "America/New_York", "Europe/London", "Asia/Kolkata",
                               "Pacific/Chatham", "Australia/Sydney"]
DAYS = [dt.date(2026, 11, 26)] * 3 + [dt.date(2026, 10, 8), dt.date(2026, 2, 14),   # work days
                                      dt.date(2026, 10, 1), dt.date(2026, 2, 23)]     # holidays
HOURS = [("08:00", "21:00"), ("08:00", "21:00"), ("09:30", "18:00"), ("00:00", "23:59"),
         ("12:00", "13:30")]
# minutes before now; the edges of the 5-minute, 24-hour and 72/96-hour windows included
AGES = st.one_of(st.integers(0, 12), st.integers(0, 100 * 60),
                 st.sampled_from([4, 5, 6, 1439, 1440, 1441, 72 * 60 - 1, 72 * 60, 72 * 60 + 1,
                                  72 * 60 + 2, 96 * 60, 96 * 60 + 1]))

past_attempts = st.lists(st.tuples(AGES, st.sampled_from(["busy", "abandoned", "noanswer"]),
                                   st.integers(0, 3), st.booleans()), max_size=4)
rarely = st.sampled_from([False] * 9 + [True])
leads = st.lists(st.fixed_dictionaries({
    "zone": st.sampled_from(ZONES),
    "flag": rarely,
    "listed": rarely,
    "status": st.sampled_from(["unknown"] * 7 + ["absent", "unallocated", "invalid", "changed"]),
    "due": st.none() | st.integers(-300, 60),       # next_attempt_at, minutes from now
    "history": past_attempts,
    "open": rarely,                                  # in flight in another campaign
}), min_size=3, max_size=12)
campaigns = st.fixed_dictionaries({
    "mode": st.sampled_from(["preview", "progressive", "predictive"]),
    "max_attempts_24h": st.integers(1, 6),
    "max_attempts_5min": st.integers(1, 3),
    "abandon_cooldown_h": st.sampled_from([72, 96]),
    "hours": st.sampled_from(HOURS),
    "skip_holidays": st.booleans(),
})
office = st.sampled_from(range(8 * 60, 21 * 60, 7))       # minutes of the day, Shanghai
edges = st.sampled_from([h * 60 + m for h, m in ((7, 59), (8, 0), (9, 29), (9, 30), (12, 0),
                                                   (13, 29), (13, 30), (17, 59), (18, 0),
                                                   (20, 59), (21, 0), (23, 59))])
moments = st.tuples(st.sampled_from(DAYS), office | edges | st.integers(0, 24 * 60 - 1))


def allowed(spec: dict, lead: dict, now: dt.datetime) -> bool:
    """The rules of the issue, read independently of models.dialer.dialing."""
    local = now.astimezone(ZoneInfo(lead["zone"]))
    start, end = spec["hours"]
    if not start <= local.strftime("%H:%M") < end:
        return False
    if spec["skip_holidays"] and local.date() in CN_PUBLIC_HOLIDAYS:
        return False
    if lead["flag"] or lead["listed"] or lead["status"] in DEAD_OUTCOMES or lead["open"]:
        return False
    if lead["due"] is not None and lead["due"] > 0:
        return False
    ages = [age for age, *_ in lead["history"]] + ([1] if lead["open"] else [])
    if sum(age < 24 * 60 for age in ages) >= spec["max_attempts_24h"]:
        return False
    if sum(age < 5 for age in ages) >= spec["max_attempts_5min"]:
        return False
    if spec["mode"] != "preview":
        cooldown = spec["abandon_cooldown_h"] * 60
        if any(outcome == "abandoned" and age - length < cooldown
               for age, outcome, length, _ in lead["history"]):
            return False
    return True


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=campaigns, specs=leads, moment=moments, n=st.integers(1, 14))
def test_pick_returns_exactly_the_compliant_leads(session, users, spec, specs, moment, n):
    day, minute = moment
    now = (dt.datetime.combine(day, dt.time(minute // 60, minute % 60), ZoneInfo("Asia/Shanghai"))
           .astimezone(dt.timezone.utc))
    spec = {**spec, "max_attempts_5min": min(spec["max_attempts_5min"], spec["max_attempts_24h"])}
    try:
        start, end = spec["hours"]
        campaign = create_campaign(
            session, users["mgr"], clock=FakeClock(now), name="prop", mode=spec["mode"],
            max_attempts_24h=spec["max_attempts_24h"], max_attempts_5min=spec["max_attempts_5min"],
            abandon_cooldown_h=spec["abandon_cooldown_h"], hours_start=start, hours_end=end,
            skip_holidays=spec["skip_holidays"])
        campaign.status = "running"
        other = Campaign(name="other", status="running", created_at=now, retry_rules={})
        session.add(other)
        session.flush()
        expected = set()
        for i, lead in enumerate(specs):
            number = "+86138%08d" % i
            customer = Customer(name="客户%d" % i, stage="target", ownership="shared",
                                time_zone=lead["zone"], do_not_call=lead["flag"],
                                number_status=lead["status"], mobile_e164=number,
                                created_at=now, updated_at=now)
            session.add(customer)
            if lead["listed"]:
                session.add(DoNotCall(number=number, added_at=now))
            session.flush()
            due = None if lead["due"] is None else now + dt.timedelta(minutes=lead["due"])
            row = CampaignLead(campaign_id=campaign.id, customer_id=customer.id, number=number,
                               status="queued", attempts=0, next_attempt_at=due)
            session.add(row)
            for age, outcome, length, here in lead["history"]:
                started = now - dt.timedelta(minutes=age)
                session.add(DialAttempt(
                    campaign_id=campaign.id if here else other.id, number=number,
                    channel_id=str(uuid.uuid4()), started_at=started,
                    ended_at=started + dt.timedelta(minutes=length), outcome=outcome,
                    talk_seconds=0.0))
            if lead["open"]:
                session.add(DialAttempt(campaign_id=other.id, number=number,
                                        channel_id=str(uuid.uuid4()),
                                        started_at=now - dt.timedelta(minutes=1), talk_seconds=0.0))
            session.flush()
            if allowed(spec, lead, now):
                expected.add(row.id)

        got = pick_leads(session, campaign.id, n, dialer_id="prop", clock=FakeClock(now))
        event("compliant leads: %s" % ("none" if not expected else
                                       "all" if len(expected) == len(specs) else "some"))

        ids = [a.lead_id for a in got]
        assert len(ids) == len(set(ids)) == min(n, len(expected))
        assert set(ids) <= expected
        assert all(a.ended_at is None and a.started_at == now for a in got)
    finally:
        session.rollback()
