"""The call figures (models/telephony/call_reports.py) on calls written through the call log's
writer, around a Shanghai midnight that is not a UTC one, per agent, team, campaign and period."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from models.crm.contact_records import add_contact_record
from models.errors import InvalidValue
from models.schema import AgentStateLog
from models.telephony.call_reports import (
    NO_CAMPAIGN,
    Figures,
    Filters,
    call_figures,
    success_codes,
    totals_for,
    visible_user_ids,
)

from tests.call_helpers import (
    abandoned_call,
    answered_call,
    dialer_call,
    manual_call,
    set_disposition,
)
from tests.models.dialer.test_agent_states import make_attempt, make_campaign

SH = ZoneInfo("Asia/Shanghai")
D = dt.date


def sh(month, day, hour, minute=0, second=0):
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=SH)


def figures(rows):
    """{(key, bucket): the figures that are not zero}."""
    out = {}
    for r in rows:
        f = r.figures
        values = {m: getattr(f, m) for m in (
            "calls_made", "calls_answered", "total_calls", "talk_seconds", "hold_seconds",
            "wrap_up_seconds", "handle_seconds", "customers_reached", "contact_records",
            "successes")}
        values = {m: v for m, v in values.items() if v}
        if f.dispositions:
            values["dispositions"] = f.dispositions
        out[(r.key, r.bucket)] = values
    return out


@pytest.fixture
def world(session, users, clock, make_customer):
    """tm (8001): a manual call at 23:50 on the 25th (answered, 60 s, 20 s on hold), one at
    00:10 on the 26th (the same UTC day; not answered), an inbound call answered on the 26th
    (interested), a contact record; tm2 (8002): a dialer call of campaign 二组 on the 26th
    (not interested) with a 20 s wrap-up. An abandoned call belongs to nobody. Teams: 一组 is
    tm, 二组 is tm and tm2."""
    tm, tm2 = users["tm"], users["tm2"]
    tm.extension, tm2.extension = "8001", "8002"
    a = make_customer("甲公司", owner="tm", mobile="13800138000")
    b = make_customer("乙公司", owner="tm", mobile="13900139000")
    one = make_campaign(session, clock, [tm], name="一组")
    two = make_campaign(session, clock, [tm, tm2], name="二组")
    manual_call(session, "8001", "13800138000", start=sh(11, 25, 23, 50), talk=60, hold=20)
    manual_call(session, "8001", "13800138000", start=sh(11, 26, 0, 10), answered=False)
    inbound = answered_call(session, clock, "13900139000", "8001", talk=120, start=sh(11, 26, 9))
    set_disposition(session, inbound, "interested")
    attempt = make_attempt(session, clock, two, customer=b, started=sh(11, 26, 10),
                           outcome="answered", agent=tm2, ended=True, talk=30.0)
    set_disposition(session, dialer_call(session, attempt, "8002", talk=30), "not_interested")
    session.add(AgentStateLog(user_id=tm2.id, campaign_id=two.id, state="wrap_up",
                              disposition="not_interested", started_at=sh(11, 26, 10, 0, 40),
                              ended_at=sh(11, 26, 10, 1, 0)))
    abandoned_call(session, clock, "13900139000", start=sh(11, 26, 11))
    clock.set(sh(11, 26, 0, 5))
    add_contact_record(session, tm, a.id, content="凌晨", clock=clock)
    session.commit()
    return dict(one=one, two=two, a=a, b=b)


def test_per_agent_per_day_across_the_local_midnight(session, users, world):
    tm, tm2 = users["tm"].id, users["tm2"].id
    rows = call_figures(session, Filters(D(2026, 11, 25), D(2026, 11, 26)), group="agent",
                        period="day")
    assert figures(rows) == {
        (tm, D(2026, 11, 25)): dict(calls_made=1, total_calls=1, talk_seconds=60,
                                    hold_seconds=20, handle_seconds=60, customers_reached=1),
        (tm, D(2026, 11, 26)): dict(calls_made=1, calls_answered=1, total_calls=2,
                                    talk_seconds=120, handle_seconds=120, customers_reached=1,
                                    contact_records=1, successes=1,
                                    dispositions={"interested": 1}),
        (tm2, D(2026, 11, 26)): dict(calls_made=1, total_calls=1, talk_seconds=30,
                                     wrap_up_seconds=20, handle_seconds=50, customers_reached=1,
                                     dispositions={"not_interested": 1}),
        (tm, None): dict(calls_made=2, calls_answered=1, total_calls=3, talk_seconds=180,
                         hold_seconds=20, handle_seconds=90, customers_reached=2,
                         contact_records=1, successes=1, dispositions={"interested": 1}),
        (tm2, None): dict(calls_made=1, total_calls=1, talk_seconds=30, wrap_up_seconds=20,
                          handle_seconds=50, customers_reached=1,
                          dispositions={"not_interested": 1}),
        (None, None): dict(calls_made=3, calls_answered=1, total_calls=4, talk_seconds=210,
                           hold_seconds=20, wrap_up_seconds=20, handle_seconds=77,
                           customers_reached=2, contact_records=1, successes=1,
                           dispositions={"interested": 1, "not_interested": 1})}
    assert [r.name for r in rows[:3]] == ["李红光", "张军", "李红光"]
    day = call_figures(session, Filters(D(2026, 11, 26), D(2026, 11, 26)), period=None)
    assert figures(day)[(tm, None)]["calls_made"] == 1      # the 23:50 call is the 25th's


def test_per_team_campaign_week_and_month(session, users, world):
    tm, tm2 = users["tm"].id, users["tm2"].id
    one, two = world["one"].id, world["two"].id
    nov = Filters(D(2026, 11, 1), D(2026, 11, 30))
    week = figures(call_figures(session, nov, group="team", period="week"))
    assert week[(one, D(2026, 11, 23))]["total_calls"] == 3        # tm's
    assert week[(two, D(2026, 11, 23))]["total_calls"] == 4        # tm's and tm2's
    assert week[(None, None)]["total_calls"] == 4                  # tm counted once
    assert set(week) == {(one, D(2026, 11, 23)), (two, D(2026, 11, 23)), (one, None),
                         (two, None), (None, None)}
    month = call_figures(session, nov, group="campaign", period="month")
    got = figures(month)
    assert got[(two, D(2026, 11, 1))] == dict(
        calls_made=1, total_calls=1, talk_seconds=30, wrap_up_seconds=20, handle_seconds=50,
        customers_reached=1, dispositions={"not_interested": 1})
    assert got[(NO_CAMPAIGN, D(2026, 11, 1))]["total_calls"] == 3
    assert all(r.figures.contact_records is None for r in month)   # not per campaign
    year = figures(call_figures(session, nov, group=None, period="year", totals=False))
    assert year == {(None, D(2026, 1, 1)): week[(None, None)]}


def test_filters(session, users, world):
    tm, tm2 = users["tm"].id, users["tm2"].id
    nov = dict(start=D(2026, 11, 1), end=D(2026, 11, 30))
    inbound = totals_for(session, Filters(**nov, directions=("inbound",)))
    assert (inbound.calls_made, inbound.calls_answered, inbound.talk_seconds) == (0, 1, 120)
    manual = totals_for(session, Filters(**nov, directions=("manual",)))
    assert (manual.calls_made, manual.calls_answered, manual.wrap_up_seconds) == (2, 0, 0)
    mine = totals_for(session, Filters(**nov, user_ids=(tm2,)))
    assert (mine.total_calls, mine.wrap_up_seconds, mine.contact_records) == (1, 20, 0)
    team_one = totals_for(session, Filters(**nov, team_id=world["one"].id))
    assert (team_one.total_calls, team_one.contact_records) == (3, 1)
    campaign = totals_for(session, Filters(**nov, campaign_id=world["two"].id))
    assert (campaign.total_calls, campaign.contact_records) == (1, None)
    agents = figures(call_figures(session, Filters(**nov, team_id=world["two"].id),
                                  group="team", period=None))
    assert set(agents) == {(world["two"].id, None), (None, None)}   # only the team asked for
    october = totals_for(session, Filters(D(2026, 10, 1), D(2026, 10, 31)))
    assert october == Figures()


def test_refusals_and_rules(session, users, world):
    nov = Filters(D(2026, 11, 1), D(2026, 11, 30))
    for kwargs in (dict(group="department"), dict(period="hour")):
        with pytest.raises(InvalidValue):
            call_figures(session, nov, **kwargs)
    with pytest.raises(InvalidValue):
        totals_for(session, Filters(D(2026, 11, 1), D(2026, 11, 30), directions=("internal",)))
    with pytest.raises(InvalidValue):
        call_figures(session, Filters(D(2026, 11, 30), D(2026, 11, 1)))
    with pytest.raises(InvalidValue):
        Figures().value("1; DROP TABLE calls")
    assert success_codes(session) == {"interested"}
    assert visible_user_ids(users["tm"]) == (users["tm"].id,)
    assert visible_user_ids(users["mgr"]) is None


def test_template_specs_are_whitelisted_and_run_for_the_viewer(session, users, clock, world):
    from models.errors import PermissionDenied
    from models.telephony.report_templates import (
        clean_spec,
        date_range,
        run_args,
        save_template,
    )
    raw = dict(rows="team", period="week", range="last_month",
               columns=["successes", "calls_made", "calls_made"], directions=["manual"],
               team_id=str(world["two"].id), user_id="")
    spec = clean_spec(session, raw)
    assert spec == dict(rows="team", period="week", range="last_month",
                        columns=["calls_made", "successes"], directions=["manual"],
                        team_id=world["two"].id)
    now = sh(12, 3, 0, 30)                          # UTC: still 2 December
    assert date_range(session, spec, now) == (D(2026, 11, 1), D(2026, 11, 30))
    assert date_range(session, {**spec, "range": "this_week"}, now) == (D(2026, 11, 30),
                                                                         D(2026, 12, 3))
    filters, group, period = run_args(session, users["tm"], spec, now)
    assert (filters.user_ids, filters.team_id, filters.directions, group, period) == (
        (users["tm"].id,), world["two"].id, ("manual",), "team", "week")
    with pytest.raises(PermissionDenied):           # a salesperson names a colleague
        run_args(session, users["tm"], {**spec, "user_id": users["tm2"].id}, now)
    for bad in (dict(columns=[]), dict(columns="calls_made"), dict(columns=["id"]),
                dict(rows="calls.user_id"), dict(period="hour"), dict(range="custom"),
                dict(range="custom", **{"from": "2026-11-30", "to": "2026-11-01"}),
                dict(directions=["internal"]), dict(team_id="99999"), dict(user_id="1 OR 1=1")):
        with pytest.raises(InvalidValue):
            clean_spec(session, {**raw, **bad})
    with pytest.raises(PermissionDenied):
        save_template(session, users["tm"], "我的", raw, clock=clock)
    with pytest.raises(InvalidValue):
        save_template(session, users["mgr"], "x" * 101, raw, clock=clock)
    assert save_template(session, users["mgr"], " 周报 ", raw, clock=clock).name == "周报"


def test_days_follow_a_zone_with_daylight_saving(session, users, clock):
    """New York springs forward on 8 March 2026: that day has 23 hours."""
    from models.company import set_setting
    set_setting(session, "company.time_zone", "America/New_York")
    users["tm"].extension = "8001"
    ny = ZoneInfo("America/New_York")
    for when in (dt.datetime(2026, 3, 7, 23, 30, tzinfo=ny),     # UTC 04:30 on the 8th
                 dt.datetime(2026, 3, 8, 23, 30, tzinfo=ny),     # UTC 03:30 on the 9th
                 dt.datetime(2026, 3, 9, 0, 30, tzinfo=ny)):
        manual_call(session, "8001", "13800138000", start=when, answered=False)
    rows = call_figures(session, Filters(D(2026, 3, 7), D(2026, 3, 9)), period="day",
                        totals=False)
    assert [(r.bucket, r.figures.calls_made) for r in rows] == [
        (D(2026, 3, 7), 1), (D(2026, 3, 8), 1), (D(2026, 3, 9), 1)]
