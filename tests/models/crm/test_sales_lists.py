"""models.crm.sales_lists: the C7 list variants, sorting, paging, visibility and the sheet data."""
import datetime as dt
from decimal import Decimal

import pytest

from models.crm.contact_records import add_contact_record
from models.crm.ownership import reassign
from models.crm.sales import create_opportunity, create_order, update_order_status
from models.crm.sales_lists import (
    get_opportunity,
    get_order,
    list_opportunities,
    list_orders,
    may_update_order,
    opportunity_counts,
    order_counts,
    order_variants_for,
    set_opportunity_callback,
    tracking_sheet,
)
from models.errors import InvalidValue, NotFound, NotYours, PermissionDenied
from models.schema import Contact


def item(price, quantity=1, name="座席"):
    return [dict(product_name=name, quantity=quantity, unit_price=price)]


@pytest.fixture
def world(session, users, clock, make_customer):
    """Customers of every ownership mode with opportunities and orders on them."""
    tm, tm2, admin = users["tm"], users["tm2"], users["admin"]
    c = dict(tm=make_customer("甲-个人", owner="tm", stage="potential"),
             tm2=make_customer("丁-别人", owner="tm2", stage="potential"),
             shared=make_customer("丙-共享", owner=None, stage="potential"),
             collab=make_customer("乙-协同", owner=["tm", "rep"], stage="potential"),
             moved=make_customer("戊-调走", owner="tm", stage="potential"))
    o = {}

    def opp(key, actor, customer, state, amount):
        o[key] = create_opportunity(session, actor, c[customer].id, key, amount=amount,
                                    state=state, clock=clock)

    opp("o1", tm, "tm", "selling", 300)
    opp("o2", tm, "tm", "paused", 100)
    opp("o3", tm, "shared", "selling", 200)
    opp("o4", tm2, "tm2", "selling", 50)
    opp("o5", tm2, "shared", "paused", 70)
    opp("o6", tm, "tm", "ended", 10)
    opp("o7", tm, "moved", "selling", 999)   # tm's, but the customer goes to tm2
    opp("o8", users["rep"], "collab", "selling", 20)

    def order(key, customer, seller, follower, state, price):
        row = create_order(session, admin, c[customer].id, item(price),
                           seller_id=users[seller].id, follower_id=users[follower].id,
                           clock=clock)
        if state != "in_progress":
            update_order_status(session, admin, row.id, state=state, clock=clock)
        o[key] = row

    order("A", "tm", "tm", "tm", "in_progress", 500)
    order("B", "tm", "tm", "tm", "paused", 400)
    order("C", "tm", "tm", "tm", "done", 300)
    order("D", "shared", "tm2", "tm", "in_progress", 200)
    order("E", "shared", "tm", "tm2", "in_progress", 100)
    order("F", "tm2", "tm2", "tm", "in_progress", 900)  # tm follows, but may not see it
    order("G", "moved", "tm", "tm", "in_progress", 800)
    reassign(session, users["mgr"], c["moved"].id, tm2.id, clock=clock)
    session.commit()
    return c, o


def titles(page):
    return [row.opportunity.title for row in page.rows]


def numbers(page, o):
    names = {v.id: k for k, v in o.items()}
    return [names[row.order.id] for row in page.rows]


def test_opportunity_variants(session, users, world):
    tm, tm2, mgr = users["tm"], users["tm2"], users["mgr"]
    assert sorted(titles(list_opportunities(session, tm, "selling"))) == ["o1", "o3"]
    assert titles(list_opportunities(session, tm, "paused")) == ["o2"]
    assert sorted(titles(list_opportunities(session, tm, "all"))) == ["o1", "o2", "o3", "o5",
                                                                     "o6", "o8"]
    assert sorted(titles(list_opportunities(session, tm2, "all"))) == ["o3", "o4", "o5", "o7"]
    assert sorted(titles(list_opportunities(session, tm2, "selling"))) == ["o4"]
    assert len(list_opportunities(session, mgr, "all").rows) == 8
    assert opportunity_counts(session, tm) == {"selling": 2, "paused": 1, "all": 6}
    with pytest.raises(InvalidValue):
        list_opportunities(session, tm, "everything")


def test_order_variants(session, users, world):
    _, o = world
    tm, tm2, mgr = users["tm"], users["tm2"], users["mgr"]
    assert sorted(numbers(list_orders(session, tm, "follow_up"), o)) == ["A", "D"]
    assert sorted(numbers(list_orders(session, tm, "follow_up_all"), o)) == ["A", "B", "D"]
    assert sorted(numbers(list_orders(session, tm, "mine"), o)) == ["A", "B", "C", "E"]
    assert sorted(numbers(list_orders(session, tm2, "follow_up"), o)) == ["E"]
    assert sorted(numbers(list_orders(session, tm2, "mine"), o)) == ["D", "F"]
    with pytest.raises(PermissionDenied):
        list_orders(session, tm, "all")
    assert sorted(numbers(list_orders(session, mgr, "all"), o)) == list("ABCDEFG")
    assert order_variants_for(tm) == ("follow_up", "follow_up_all", "mine")
    assert order_variants_for(mgr)[-1] == "all"
    assert order_counts(session, tm) == {"follow_up": 2, "follow_up_all": 3, "mine": 4}


def test_sorting_is_whitelisted_and_paging(session, users, world):
    _, o = world
    tm, mgr = users["tm"], users["mgr"]
    page = list_opportunities(session, tm, "all", sort="amount", descending=False)
    assert [r.opportunity.amount for r in page.rows] == [Decimal(v) for v in
                                                         (10, 20, 70, 100, 200, 300)]
    down = list_opportunities(session, tm, "all", sort="customer", descending=True)
    up = list_opportunities(session, tm, "all", sort="customer", descending=False)
    assert (down.sort, down.descending, up.descending) == ("customer", True, False)
    names = [r.customer_name for r in up.rows]
    assert names == [r.customer_name for r in reversed(down.rows)] and len(set(names)) == 3
    runs = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    assert len(runs) == 3  # each customer's rows sit together
    # unknown sort keys fall back to the default order, never reach SQL
    page = list_opportunities(session, tm, "all", sort="amount; DROP TABLE customers")
    assert (page.sort, page.descending) == ("created_at", True)
    assert titles(page) == ["o8", "o6", "o5", "o3", "o2", "o1"]  # same time: newest id first
    first = list_orders(session, mgr, "all", sort="amount", descending=True, per_page=3)
    second = list_orders(session, mgr, "all", sort="amount", descending=True, per_page=3, page=2)
    last = list_orders(session, mgr, "all", sort="amount", descending=True, per_page=3, page=3)
    assert (first.total, first.pages) == (7, 3)
    assert numbers(first, o) + numbers(second, o) + numbers(last, o) == list("FGABCDE")
    assert list_orders(session, mgr, "all", per_page=10_000).per_page == 200
    assert len(list_orders(session, mgr, "all", per_page=None).rows) == 7
    by_seller = list_orders(session, tm, "mine", sort="seller")
    assert {r.seller_name for r in by_seller.rows} == {"李红光"}


def test_search_is_a_bound_contains(session, users, world):
    tm = users["tm"]
    assert sorted(titles(list_opportunities(session, tm, "all", search="共享"))) == ["o3", "o5"]
    assert titles(list_opportunities(session, tm, "all", search="%")) == []
    page = list_orders(session, tm, "mine", search="SO2026")
    assert page.total == 4


def test_get_opportunity_and_order_follow_the_customer(session, users, world, clock):
    c, o = world
    tm, tm2 = users["tm"], users["tm2"]
    assert get_opportunity(session, tm, o["o1"].id).title == "o1"
    with pytest.raises(NotYours):
        get_opportunity(session, tm2, o["o1"].id)
    with pytest.raises(NotYours):
        get_opportunity(session, tm, o["o7"].id)  # its customer was moved to tm2
    with pytest.raises(NotFound):
        get_opportunity(session, tm, 999_999)
    with pytest.raises(NotYours):
        get_order(session, tm, o["F"].id)
    with pytest.raises(NotFound):
        get_order(session, tm, 999_999)
    assert may_update_order(tm, o["A"]) and may_update_order(tm, o["D"])
    assert not may_update_order(users["rep"], o["A"])
    assert may_update_order(users["mgr"], o["A"])


def test_set_opportunity_callback(session, users, world, clock):
    _, o = world
    when = clock.now() + dt.timedelta(days=2)
    set_opportunity_callback(session, users["tm"], o["o1"].id, when, clock=clock)
    session.commit()
    session.expire_all()
    assert get_opportunity(session, users["tm"], o["o1"].id).next_callback_at == when
    with pytest.raises(NotYours):
        set_opportunity_callback(session, users["tm2"], o["o1"].id, when, clock=clock)
    with pytest.raises(InvalidValue):
        set_opportunity_callback(session, users["tm"], o["o1"].id, when.replace(tzinfo=None),
                                 clock=clock)
    set_opportunity_callback(session, users["tm"], o["o1"].id, None, clock=clock)
    assert o["o1"].next_callback_at is None


def test_tracking_sheet(session, users, world, clock):
    c, o = world
    tm = users["tm"]
    session.add(Contact(customer_id=c["tm"].id, name="陈经理", phone="010-1234", created_at=clock.now()))
    for n in range(12):
        clock.advance(minutes=1)
        add_contact_record(session, tm, c["tm"].id, content=f"第{n}次", clock=clock)
    session.commit()
    sheet = tracking_sheet(session, tm, c["tm"].id)
    assert sheet.customer.name == "甲-个人" and sheet.operator_names == ["李红光"]
    assert [x.name for x in sheet.contacts] == ["陈经理"]
    assert len(sheet.records) == 10 and sheet.records[0][1] == "李红光"
    assert sorted(x.title for x in sheet.opportunities) == ["o1", "o2"]  # o6 ended
    assert sorted(x.id for x in sheet.orders) == sorted([o["A"].id, o["B"].id])  # C done
    assert sheet.user_names[tm.id] == "李红光"
    with pytest.raises(NotYours):
        tracking_sheet(session, users["tm2"], c["tm"].id)
    assert tracking_sheet(session, users["mgr"], c["tm"].id).customer.id == c["tm"].id
