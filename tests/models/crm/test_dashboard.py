import datetime as dt

import pytest

from models.crm.contact_records import add_contact_record
from models.crm.dashboard import cell_customers, dashboard_counts
from models.errors import InvalidValue

UTC = dt.timezone.utc
SH = dt.timezone(dt.timedelta(hours=8))


def at(day, hour):  # Shanghai wall time on a November 2026 day
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=SH)


def test_grid_counts_day_week_month(session, users, clock, make_customer):
    tm, tm2 = users["tm"], users["tm2"]
    # clock: Thursday 2026-11-26 10:00 Shanghai
    plan = [("target", at(26, 9)), ("target", at(26, 23)), ("potential", at(27, 0)),
            ("closed", at(28, 10)), ("potential", at(30, 10)), ("opportunity", at(25, 10))]
    made = []
    for stage, callback in plan:
        c = make_customer(stage=stage, owner="tm")
        clock.set(callback - dt.timedelta(days=3))
        add_contact_record(session, tm, c.id, content="约回访", next_callback_at=callback, clock=clock)
        made.append(c)
    other = make_customer(stage="target", owner="tm2")
    clock.set(at(26, 8))
    add_contact_record(session, tm2, other.id, content="别人的", next_callback_at=at(26, 11), clock=clock)
    shared = make_customer(stage="target", owner=None)
    clock.set(at(26, 10))
    add_contact_record(session, tm, shared.id, content="共享客户今天联系", clock=clock)
    add_contact_record(session, tm, shared.id, content="第二次", clock=clock)
    session.commit()

    day = dashboard_counts(session, tm, period="day", clock=clock)
    assert day["target"] == {"callback_now": 2, "callback_next": 0, "contacted": 1}
    assert day["potential"] == {"callback_now": 0, "callback_next": 1, "contacted": 0}
    assert day["closed"] == {"callback_now": 0, "callback_next": 0, "contacted": 0}
    week = dashboard_counts(session, tm, period="week", clock=clock)  # Mon 23 .. Sun 29
    assert week["closed"]["callback_now"] == 1 and week["opportunity"]["callback_now"] == 1
    # both potential records were written this week (24th and 27th)
    assert week["potential"] == {"callback_now": 1, "callback_next": 1, "contacted": 2}
    month = dashboard_counts(session, tm, period="month", clock=clock)
    assert sum(row["callback_now"] for row in month.values()) == 6
    assert dashboard_counts(session, tm2, clock=clock)["target"]["callback_now"] == 1

    ids = [c.id for c in session.scalars(cell_customers(session, tm, "target", "callback_now",
                                                       clock=clock))]
    assert ids == [made[0].id, made[1].id]
    assert [c.id for c in session.scalars(cell_customers(session, tm, "target", "contacted",
                                                         clock=clock))] == [shared.id]
    with pytest.raises(InvalidValue):
        dashboard_counts(session, tm, period="year", clock=clock)
    with pytest.raises(InvalidValue):
        cell_customers(session, tm, "target", "bogus", clock=clock)
