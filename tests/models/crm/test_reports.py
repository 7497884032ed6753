"""C10 aggregations (models.crm.reports) on hand-made data with exact numbers.

Timestamps are UTC in the database; days, weeks and months are Shanghai's (or the company
zone's) calendar."""
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from models.company import set_setting
from models.crm.contact_records import add_contact_record
from models.crm.customers import create_customer
from models.crm.ownership import claim
from models.crm.reports import (
    METRICS,
    check_range,
    customers_by,
    default_report_range,
    offset_segments,
    report,
    resolve_scope,
    review_counts,
    review_lists,
    review_range,
    stage_funnel,
    weekly_sales,
)
from models.crm.sales import create_opportunity, create_order
from models.crm.stages import demote, promote
from models.errors import InvalidValue, NotFound, PermissionDenied

UTC = dt.timezone.utc
SH = ZoneInfo("Asia/Shanghai")
D = dt.date


def sh(month, day, hour, minute=0, second=0):
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=SH)


def only(rows):
    """The metrics of a report row, without the zero ones."""
    return {k: v for k, v in rows.values.items() if v}


@pytest.fixture
def world(session, users, clock, make_customer):
    """tm works customer A through November; tm2 works B around the October/November turn;
    rep sells to shared C; mgr's personal D is nobody else's."""
    tm, tm2, rep = users["tm"], users["tm2"], users["rep"]
    clock.set(sh(11, 2, 9))                       # Monday
    a = create_customer(session, tm, {"name": "甲公司", "city": "上海", "industry": "软件",
                                      "source": "展会"}, stage="target", clock=clock)
    clock.set(sh(10, 31, 23, 59, 59))
    b = create_customer(session, tm2, {"name": "乙公司", "city": "深圳", "industry": "物流",
                                       "source": "展会"}, stage="potential", clock=clock)
    add_contact_record(session, tm2, b.id, content="十月最后一秒", clock=clock)
    clock.set(sh(11, 1, 0, 0, 0))                 # UTC: still 31 October
    add_contact_record(session, tm2, b.id, content="十一月第一秒", clock=clock)
    clock.set(sh(11, 25, 23, 30))
    add_contact_record(session, tm, a.id, content="晚上", clock=clock)
    clock.set(sh(11, 26, 0, 30))                  # UTC: 25 November 16:30
    add_contact_record(session, tm, a.id, content="凌晨", clock=clock)
    clock.set(sh(11, 26, 9))
    create_opportunity(session, tm, a.id, "CRM", amount="1000.50", clock=clock)
    clock.set(sh(11, 26, 9, 30))
    create_order(session, tm, a.id, [dict(product_name="座席", quantity=2, unit_price="150")],
                 clock=clock)
    clock.set(sh(11, 20, 15))
    c = create_customer(session, users["admin"], {"name": "丙公司", "city": "上海",
                                                  "industry": "软件"},
                        stage="opportunity", ownership="shared", clock=clock)
    create_opportunity(session, rep, c.id, "呼叫中心", amount=5000, clock=clock)
    clock.set(sh(11, 20, 15, 30))
    create_order(session, rep, c.id, [dict(product_name="培训", quantity=1, unit_price=800)],
                 clock=clock)
    clock.set(sh(11, 26, 10))
    d = make_customer("丁公司", stage="closed", owner="mgr", city="北京", industry="金融",
                      source="朋友介绍")
    session.commit()
    return dict(a=a, b=b, c=c, d=d)


def test_day_report_for_me_follows_the_shanghai_calendar(session, users, world):
    tm = users["tm"]
    rows = report(session, resolve_scope(session, tm, "me"), "day", D(2026, 11, 24),
                  D(2026, 11, 26))
    assert [(r.bucket, r.user_id) for r in rows] == [
        (D(2026, 11, 24), tm.id), (D(2026, 11, 25), tm.id), (D(2026, 11, 26), tm.id),
        (None, tm.id)]
    assert only(rows[0]) == {}
    assert only(rows[1]) == {"contact_records": 1}
    # the opportunity lifted A from target, then the order from opportunity: two moves
    assert only(rows[2]) == {"contact_records": 1, "opportunities": 1,
                             "opportunity_amount": Decimal("1000.50"), "orders": 1,
                             "order_value": Decimal("300.00"), "to_opportunity": 1,
                             "to_closed": 1}
    assert only(rows[3]) == {"contact_records": 2, "opportunities": 1,
                             "opportunity_amount": Decimal("1000.50"), "orders": 1,
                             "order_value": Decimal("300.00"), "to_opportunity": 1,
                             "to_closed": 1}


def test_week_report_buckets_start_on_monday(session, users, world):
    tm = users["tm"]
    rows = report(session, resolve_scope(session, tm, "me"), "week", D(2026, 11, 1),
                  D(2026, 11, 26))
    assert [r.bucket for r in rows] == [D(2026, 10, 26), D(2026, 11, 2), D(2026, 11, 9),
                                        D(2026, 11, 16), D(2026, 11, 23), None]
    assert only(rows[1]) == {"new_customers": 1}
    assert only(rows[4])["contact_records"] == 2
    assert [only(r) for r in rows[0:1] + rows[2:4]] == [{}, {}, {}]


def test_team_month_report_per_agent_and_total(session, users, world):
    mgr, tm, tm2, rep = users["mgr"], users["tm"], users["tm2"], users["rep"]
    rows = report(session, resolve_scope(session, mgr, "team"), "month", D(2026, 10, 1),
                  D(2026, 11, 30))
    table = {(r.bucket, r.user_name): only(r) for r in rows}
    assert [(r.bucket, r.user_name) for r in rows] == [
        (D(2026, 10, 1), "张军"), (D(2026, 10, 1), None),
        (D(2026, 11, 1), "张军"), (D(2026, 11, 1), "李红光"), (D(2026, 11, 1), "管理员"),
        (D(2026, 11, 1), "罗文冲"), (D(2026, 11, 1), None),
        (None, "张军"), (None, "李红光"), (None, "管理员"), (None, "罗文冲"), (None, None)]
    assert table[(D(2026, 10, 1), "张军")] == {"contact_records": 1, "new_customers": 1}
    assert table[(D(2026, 11, 1), "张军")] == {"contact_records": 1}
    assert table[(D(2026, 11, 1), "李红光")] == {
        "contact_records": 2, "new_customers": 1, "opportunities": 1,
        "opportunity_amount": Decimal("1000.50"), "orders": 1, "order_value": Decimal("300.00"),
        "to_opportunity": 1, "to_closed": 1}
    # admin created the shared C and made D (for mgr) at creation: no stage move
    assert table[(D(2026, 11, 1), "管理员")] == {"new_customers": 2}
    # rep's order moved shared C (operated by nobody) to closed: the move is rep's
    assert table[(D(2026, 11, 1), "罗文冲")] == {
        "opportunities": 1, "opportunity_amount": Decimal("5000.00"), "orders": 1,
        "order_value": Decimal("800.00"), "to_closed": 1}
    assert table[(D(2026, 11, 1), None)] == {
        "contact_records": 3, "new_customers": 3, "opportunities": 2,
        "opportunity_amount": Decimal("6000.50"), "orders": 2, "order_value": Decimal("1100.00"),
        "to_opportunity": 1, "to_closed": 2}
    assert table[(None, None)] == {
        "contact_records": 4, "new_customers": 4, "opportunities": 2,
        "opportunity_amount": Decimal("6000.50"), "orders": 2, "order_value": Decimal("1100.00"),
        "to_opportunity": 1, "to_closed": 2}
    year = report(session, resolve_scope(session, mgr, f"user:{tm2.id}"), "year",
                  D(2026, 1, 1), D(2026, 12, 31))
    assert [(r.bucket, r.user_id, only(r)) for r in year] == [
        (D(2026, 1, 1), tm2.id, {"contact_records": 2, "new_customers": 1}),
        (None, tm2.id, {"contact_records": 2, "new_customers": 1})]


def test_stage_moves_count_every_promotion_for_who_made_it(session, users, clock,
                                                          make_customer):
    tm, tm2 = users["tm"], users["tm2"]
    clock.set(sh(11, 2, 9))
    up = make_customer("上转", stage="target", owner="tm")
    both = make_customer("协同", stage="target", owner=["tm", "tm2"])
    down = make_customer("下放", stage="opportunity", owner="tm")
    clock.set(sh(11, 3, 9))
    promote(session, tm, up.id, "potential", clock=clock)
    promote(session, tm, both.id, "opportunity", clock=clock)
    demote(session, tm, down.id, "target", clock=clock)   # a demotion is no conversion
    clock.set(sh(11, 4, 9))
    promote(session, tm, up.id, "opportunity", clock=clock)  # Monday's move stays
    promote(session, tm2, both.id, "closed", clock=clock)
    session.commit()
    mine = report(session, resolve_scope(session, tm, "me"), "day", D(2026, 11, 3),
                  D(2026, 11, 4))
    assert [only(r) for r in mine] == [{"to_potential": 1, "to_opportunity": 1},
                                       {"to_opportunity": 1},
                                       {"to_potential": 1, "to_opportunity": 2}]
    team = report(session, resolve_scope(session, users["mgr"], "team"), "month",
                  D(2026, 11, 1), D(2026, 11, 30))
    month = [("张军", {"to_closed": 1}),             # tm2's own move on the shared-work one
             ("李红光", {"to_potential": 1, "to_opportunity": 2}),
             ("管理员", {"new_customers": 3}),      # make_customer creates as admin
             (None, {"new_customers": 3, "to_potential": 1, "to_opportunity": 2,
                     "to_closed": 1})]
    assert [(r.user_name, only(r)) for r in team] == month + month


def test_company_zone_with_daylight_saving(session, users, clock, make_customer):
    set_setting(session, "company.time_zone", "Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    c = make_customer(stage="target", owner="tm")
    # summer time starts 2026-03-29 02:00 (UTC+1 -> UTC+2)
    for wall in (dt.datetime(2026, 3, 28, 23, 30), dt.datetime(2026, 3, 29, 0, 30),
                 dt.datetime(2026, 3, 29, 23, 30), dt.datetime(2026, 3, 30, 0, 30)):
        clock.set(wall.replace(tzinfo=berlin))
        add_contact_record(session, users["tm"], c.id, content="x", clock=clock)
    session.commit()
    rows = report(session, resolve_scope(session, users["tm"], "me"), "day", D(2026, 3, 28),
                  D(2026, 3, 30))
    assert [r.values["contact_records"] for r in rows] == [1, 2, 1, 4]


def test_offset_segments_cut_at_the_exact_transition():
    berlin = ZoneInfo("Europe/Berlin")
    lo = dt.datetime(2026, 3, 1, tzinfo=UTC)
    hi = dt.datetime(2026, 12, 1, tzinfo=UTC)
    assert offset_segments(berlin, lo, hi) == [
        (lo, dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 3600),
        (dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
         7200),
        (dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC), hi, 3600)]
    assert offset_segments(SH, lo, hi) == [(lo, hi, 28800)]


def test_review_counts_and_lists(session, users, world):
    tm, mgr = users["tm"], users["mgr"]
    start, end = review_range(session, "today", world["d"].created_at)
    assert (start, end) == (D(2026, 11, 26), D(2026, 11, 26))
    me = resolve_scope(session, tm, "me")
    assert review_counts(session, me, start, end) == dict(
        new_customers=0, contact_records=1, opportunities=1,
        opportunity_amount=Decimal("1000.50"), orders=1, order_value=Decimal("300.00"))
    month = review_range(session, "month", world["d"].created_at)
    assert month == (D(2026, 11, 1), D(2026, 11, 26))
    assert review_counts(session, me, *month)["contact_records"] == 2
    assert review_counts(session, me, *month)["new_customers"] == 1
    assert review_range(session, "week", world["d"].created_at) == (D(2026, 11, 23),
                                                                      D(2026, 11, 26))
    lists = review_lists(session, tm, me, *month)
    assert [r["content"] for r in lists["records"]] == ["凌晨", "晚上"]
    assert [r["customer_name"] for r in lists["customers"]] == ["甲公司"]
    assert [(r["title"], r["amount"]) for r in lists["opportunities"]] == [
        ("CRM", Decimal("1000.50"))]
    assert [r["number"] for r in lists["orders"]] == ["SO20261126-0001"]
    team = resolve_scope(session, mgr, "team")
    assert review_counts(session, team, *month) == dict(
        new_customers=3, contact_records=3, opportunities=2,
        opportunity_amount=Decimal("6000.50"), orders=2, order_value=Decimal("1100.00"))


def test_review_lists_name_only_customers_the_viewer_may_see(session, users, clock, world):
    tm, tm2 = users["tm"], users["tm2"]
    # tm logs a record on shared C, then tm2 claims C: tm's count stays, C leaves tm's list
    clock.set(sh(11, 26, 11))
    add_contact_record(session, tm, world["c"].id, content="共享时联系", clock=clock)
    claim(session, tm2, world["c"].id, clock=clock)
    session.commit()
    me = resolve_scope(session, tm, "me")
    assert review_counts(session, me, D(2026, 11, 26), D(2026, 11, 26))["contact_records"] == 2
    lists = review_lists(session, tm, me, D(2026, 11, 26), D(2026, 11, 26))
    assert [r["customer_name"] for r in lists["records"]] == ["甲公司"]


def test_scope_permissions(session, users):
    tm, mgr, tm2 = users["tm"], users["mgr"], users["tm2"]
    assert resolve_scope(session, tm, None).user_ids == (tm.id,)
    assert resolve_scope(session, tm, f"user:{tm.id}").kind == "me"
    with pytest.raises(PermissionDenied):
        resolve_scope(session, tm, "team")
    with pytest.raises(PermissionDenied):
        resolve_scope(session, tm, f"user:{tm2.id}")
    with pytest.raises(InvalidValue):
        resolve_scope(session, mgr, "user:abc")
    with pytest.raises(NotFound):
        resolve_scope(session, mgr, "user:99999")
    assert resolve_scope(session, mgr, f"user:{tm2.id}").user is tm2
    assert resolve_scope(session, users["admin"], "team").user_ids is None


def test_ranges(session, clock):
    assert default_report_range(session, "day", clock.now()) == (D(2026, 11, 1), D(2026, 11, 26))
    assert default_report_range(session, "week", clock.now()) == (D(2026, 9, 7), D(2026, 11, 26))
    assert default_report_range(session, "month", clock.now()) == (D(2026, 1, 1), D(2026, 11, 26))
    assert default_report_range(session, "year", clock.now()) == (D(2022, 1, 1), D(2026, 11, 26))
    with pytest.raises(InvalidValue):
        check_range(D(2026, 11, 2), D(2026, 11, 1))
    with pytest.raises(InvalidValue):
        check_range(D(2024, 1, 1), D(2026, 1, 1), "day")
    with pytest.raises(InvalidValue):
        check_range(D(2026, 1, 1), D(2026, 1, 2), "hour")
    check_range(D(2024, 1, 1), D(2026, 1, 1), "week")


def test_charts_count_only_what_the_viewer_sees(session, users, world):
    tm, mgr = users["tm"], users["mgr"]
    # tm sees A (own) and shared C; not tm2's B nor mgr's D
    assert stage_funnel(session, tm) == [("reserve", 0), ("target", 0), ("potential", 0),
                                         ("opportunity", 0), ("closed", 2), ("archive", 0)]
    assert stage_funnel(session, mgr) == [("reserve", 0), ("target", 0), ("potential", 1),
                                          ("opportunity", 0), ("closed", 3), ("archive", 0)]
    assert customers_by(session, tm, "city") == [("上海", 2)]
    assert customers_by(session, mgr, "city") == [("上海", 2), ("北京", 1), ("深圳", 1)]
    assert customers_by(session, tm, "source") == [("展会", 1), (None, 1)]
    assert customers_by(session, mgr, "industry", limit=2) == [("软件", 2), ("物流", 1)]
    with pytest.raises(InvalidValue):
        customers_by(session, tm, "name")


def test_weekly_sales(session, users, clock, world):
    weeks = weekly_sales(session, users["tm"], clock.now())
    assert len(weeks) == 12
    assert weeks[0].week == D(2026, 9, 7) and weeks[-1].week == D(2026, 11, 23)
    assert [(w.week, w.opportunities, w.opportunity_amount, w.orders, w.order_value)
            for w in weeks if w.opportunities or w.orders] == [
        (D(2026, 11, 16), 1, Decimal("5000.00"), 1, Decimal("800.00")),
        (D(2026, 11, 23), 1, Decimal("1000.50"), 1, Decimal("300.00"))]
    # tm2 sees only shared C
    weeks = weekly_sales(session, users["tm2"], clock.now())
    assert [(w.week, w.opportunities, w.orders) for w in weeks if w.opportunities or w.orders] \
        == [(D(2026, 11, 16), 1, 1)]


def test_metrics_names():
    assert METRICS == ("contact_records", "new_customers", "to_target", "to_potential",
                       "to_opportunity", "to_closed", "opportunities", "opportunity_amount",
                       "orders", "order_value")   # calls: models.telephony.call_reports
