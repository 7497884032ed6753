"""models.crm.lists (list queries, Next), models.crm.contacts and models.crm.batch."""
import datetime as dt

import pytest
from sqlalchemy import select

from models.crm.batch import change_stage, run_batch
from models.crm.contact_records import add_contact_record
from models.crm.contacts import add_contact, contact_of
from models.crm.lists import (
    ListSpec,
    index_in_list,
    list_page,
    list_rows,
    next_in_list,
    position_of,
    records_page,
    side_panel,
    visible_names,
)
from models.errors import InvalidValue, NotYours, QuotaExceeded, SharedEditForbidden, StageRuleForbids
from models.schema import CallScript, ClaimLog, Customer, Document, Product, Role


def spec(user, stage="target", **args):
    return ListSpec.parse(user, stage, args)


def names(page_or_rows):
    items = page_or_rows.items if hasattr(page_or_rows, "items") else page_or_rows
    return [c.name for c in items]


def test_tabs_hold_what_the_user_may_see(session, users, make_customer):
    tm = users["tm"]
    mine = make_customer("A我的", stage="target", owner="tm")
    collab = make_customer("B协同", stage="target", owner=["tm", "rep"])
    shared = make_customer("C共享", stage="target", owner=None)
    make_customer("D别人", stage="target", owner="tm2")
    make_customer("E潜在", stage="potential", owner="tm")
    archived = make_customer("F档案", stage=None, owner="tm")
    sort = dict(sort="name")
    assert names(list_page(session, tm, spec(tm, **sort))) == [mine.name, collab.name]
    assert names(list_page(session, tm, spec(tm, tab="shared", **sort))) == [shared.name]
    # a telemarketer has no "all" tab in a stage list: it falls back to mine
    assert spec(tm, tab="all").tab == "mine"
    # the archive (客户档案) is every customer the user may see, of every stage
    everything = list_page(session, tm, spec(tm, "archive", tab="all", **sort))
    assert names(everything) == ["A我的", "B协同", "C共享", "E潜在", "F档案"]
    assert archived.name in names(list_page(session, tm, spec(tm, "archive", tab="mine")))
    # managers see everybody's in "all"
    mgr = users["mgr"]
    assert "D别人" in names(list_page(session, mgr, spec(mgr, tab="all")))
    assert "D别人" not in names(list_page(session, mgr, spec(mgr, tab="mine")))


def test_name_filter_is_text_not_sql(session, users, make_customer):
    tm = users["tm"]
    make_customer("杭州100%茶叶", stage="target", owner="tm")
    make_customer("杭州丝绸", stage="target", owner="tm", keyword="100_")
    make_customer("宁波港", stage="target", owner="tm")
    assert names(list_page(session, tm, spec(tm, q="杭州", sort="name"))) == ["杭州100%茶叶",
                                                                            "杭州丝绸"]
    assert names(list_page(session, tm, spec(tm, q="100%"))) == ["杭州100%茶叶"]
    assert names(list_page(session, tm, spec(tm, q="100_"))) == ["杭州丝绸"]  # keyword
    assert names(list_page(session, tm, spec(tm, q="' OR 1=1 --"))) == []


def test_sort_whitelist_and_paging(session, users, make_customer):
    tm = users["tm"]
    for i in range(55):
        make_customer("客户%03d" % i, stage="target", owner="tm", city="城%d" % (i % 3))
    s = spec(tm, sort="name", dir="desc")
    first = list_page(session, tm, s, 1)
    assert (first.total, first.pages, len(first.items)) == (55, 2, 50)
    assert first.items[0].name == "客户054"
    last = list_page(session, tm, s, 2)
    assert names(last) == ["客户%03d" % i for i in range(4, -1, -1)]
    assert last.first_index == 51
    assert list_page(session, tm, s, 99).page == 2  # clamped
    assert list_page(session, tm, s, -3).page == 1
    # unknown sort columns and directions fall back to the default ordering
    bad = spec(tm, sort="password_hash", dir="sideways")
    assert (bad.sort, bad.direction) == ("next_callback_at", "asc")
    by_city = names(list_rows(session, tm, spec(tm, sort="city")))
    assert by_city[:19] == ["客户%03d" % i for i in range(0, 55, 3)]


def test_spec_refuses_unknown_lists_and_round_trips(users):
    tm = users["tm"]
    with pytest.raises(InvalidValue):
        ListSpec.parse(tm, "vip", {})
    with pytest.raises(InvalidValue):
        ListSpec.parse(tm, "target", {"column": "everything"})
    s = spec(tm, "potential", tab="shared", sort="city", dir="desc", q="上海")
    args = s.args()
    assert args == {"list": "potential", "tab": "shared", "sort": "city", "dir": "desc",
                    "q": "上海"}
    assert ListSpec.parse(tm, args.pop("list"), args) == s


def _callbacks(session, users, clock, make_customer):
    """Five of tm's targets; callbacks: c0 +3h, c1 +1h, c2 none, c3 +1h, c4 none."""
    tm = users["tm"]
    made = [make_customer("跟进%d" % i, stage="target", owner="tm") for i in range(5)]
    for i, hours in ((0, 3), (1, 1), (3, 1)):
        add_contact_record(session, tm, made[i].id, content="约",
                           next_callback_at=clock.now() + dt.timedelta(hours=hours), clock=clock)
    session.commit()
    return made


def test_next_walks_the_ordering_and_stops_at_the_end(session, users, clock, make_customer):
    tm = users["tm"]
    c = _callbacks(session, users, clock, make_customer)
    s = spec(tm)  # next callback ascending, NULLs last, ties by id
    order = names(list_rows(session, tm, s))
    assert order == ["跟进1", "跟进3", "跟进0", "跟进2", "跟进4"]
    walked, current = [], session.scalar(select(Customer).where(Customer.name == order[0]))
    while current is not None:
        walked.append(current.name)
        assert index_in_list(session, tm, s, current.id) == (len(walked), 5)
        current = next_in_list(session, tm, s, current.id, position_of(current, s))
    assert walked == order
    # descending: NULLs still last, ties by id descending
    d = spec(tm, dir="desc")
    assert names(list_rows(session, tm, d)) == ["跟进0", "跟进3", "跟进1", "跟进4", "跟进2"]
    assert next_in_list(session, tm, d, c[0].id).name == "跟进3"
    assert next_in_list(session, tm, d, c[4].id).name == "跟进2"
    assert next_in_list(session, tm, d, c[2].id) is None


def test_next_goes_on_from_where_the_customer_stood(session, users, clock, make_customer):
    """Working a customer moves it in the ordering (new callback); Next still goes on from
    the place it had when it was opened, and never returns the customer itself."""
    tm = users["tm"]
    c = _callbacks(session, users, clock, make_customer)
    s = spec(tm)
    opened_at = position_of(c[1], s)
    add_contact_record(session, tm, c[1].id, content="下周再打",
                       next_callback_at=clock.now() + dt.timedelta(days=7), clock=clock)
    session.commit()
    assert next_in_list(session, tm, s, c[1].id, opened_at).name == "跟进3"
    assert index_in_list(session, tm, s, c[1].id, opened_at) == (1, 5)
    # without the position the customer's current place is used
    assert next_in_list(session, tm, s, c[1].id).name == "跟进2"
    # a position that is not a date is refused, not passed to SQL
    with pytest.raises(InvalidValue):
        next_in_list(session, tm, s, c[1].id, "yesterday")
    # text orderings work the same
    n = spec(tm, sort="name")
    assert next_in_list(session, tm, n, c[2].id, position_of(c[2], n)).name == "跟进3"


def test_next_skips_customers_that_left_the_list(session, users, clock, make_customer):
    tm = users["tm"]
    a = make_customer("C甲", stage="target", owner="tm")
    b = make_customer("B乙", stage="target", owner="tm")
    c = make_customer("A丙", stage="target", owner="tm")
    s = spec(tm, sort="name", dir="desc")
    assert names(list_rows(session, tm, s)) == ["C甲", "B乙", "A丙"]
    b.stage = "potential"
    session.commit()
    assert next_in_list(session, tm, s, a.id).id == c.id
    with pytest.raises(NotYours):  # another agent cannot walk someone's list
        next_in_list(session, users["tm2"], s, a.id)


def test_cell_list_is_the_home_grid_cell(session, users, clock, make_customer):
    tm = users["tm"]
    due = make_customer("今天回访", stage="potential", owner="tm")
    later = make_customer("后天回访", stage="potential", owner="tm")
    make_customer("没有回访", stage="potential", owner="tm")
    add_contact_record(session, tm, due.id, content="x",
                       next_callback_at=clock.now() + dt.timedelta(hours=2), clock=clock)
    add_contact_record(session, tm, later.id, content="x",
                       next_callback_at=clock.now() + dt.timedelta(days=2), clock=clock)
    session.commit()
    cell = spec(tm, "potential", column="callback_now", period="day")
    assert cell.is_cell and names(list_page(session, tm, cell, clock=clock)) == ["今天回访"]
    week = spec(tm, "potential", column="callback_now", period="week")
    assert names(list_page(session, tm, week, clock=clock)) == ["今天回访", "后天回访"]
    assert next_in_list(session, tm, week, due.id, clock=clock).id == later.id
    assert next_in_list(session, tm, week, later.id, clock=clock) is None
    assert list_page(session, users["tm2"], cell, clock=clock).total == 0


def test_add_contact_normalises_and_checks_visibility(session, users, clock, make_customer):
    mine = make_customer(stage="target", owner="tm")
    contact = add_contact(session, users["tm"], mine.id,
                          {"name": " 王先生 ", "mobile": "138 1234 5678", "phone": "021-62345678",
                           "title": "采购经理"}, clock=clock)
    session.commit()
    assert (contact.name, contact.mobile_e164, contact.phone_e164) == (
        "王先生", "+8613812345678", "+862162345678")
    assert contact_of(session, mine.id, contact.id) is contact
    other = make_customer(stage="target", owner="tm2")
    assert contact_of(session, other.id, contact.id) is None
    with pytest.raises(NotYours):
        add_contact(session, users["tm"], other.id, {"name": "x"}, clock=clock)
    shared = make_customer(stage="target", owner=None)
    with pytest.raises(SharedEditForbidden):  # telemarketers may not edit shared customers
        add_contact(session, users["tm"], shared.id, {"name": "x"}, clock=clock)
    add_contact(session, users["rep"], shared.id, {"name": "x"}, clock=clock)
    for bad in ({"name": ""}, {"name": "x", "customer_id": 1}, {"name": "x" * 65}):
        with pytest.raises(InvalidValue):
            add_contact(session, users["tm"], mine.id, bad, clock=clock)


def test_batch_claim_respects_the_quota(session, users, clock, make_customer):
    tm = users["tm"]
    session.get(Role, tm.role_id).daily_claim_quota = 2
    session.commit()
    pool = [make_customer(stage="target", owner=None) for _ in range(4)]
    taken = make_customer(stage="target", owner="tm2")
    results = run_batch(session, tm, "claim", [c.id for c in reversed(pool)] + [taken.id],
                        clock=clock)
    session.commit()
    assert list(results) == sorted(results)  # ascending: no deadlocks between batches
    assert [results[c.id] is None for c in pool] == [True, True, False, False]
    assert isinstance(results[pool[2].id], QuotaExceeded)
    assert "2" in results[pool[2].id].message("zh_CN")
    assert results[taken.id].key == "claim.not_shared"
    session.expire_all()
    assert [session.get(Customer, c.id).ownership for c in pool] == [
        "personal", "personal", "shared", "shared"]
    assert session.scalar(select(ClaimLog.id).where(ClaimLog.customer_id == pool[2].id)) is None


def test_batch_release_and_stage_change(session, users, clock, make_customer):
    tm = users["tm"]
    a = make_customer(stage="target", owner="tm")
    b = make_customer(stage="target", owner="tm2")
    results = run_batch(session, tm, "release", [a.id, b.id], clock=clock)
    session.commit()
    assert results[a.id] is None and results[b.id].key == "customer.not_yours"
    assert a.ownership == "shared"
    # stage change: reserve screens up, higher promotes, lower demotes, archive clears
    r = make_customer(stage="reserve", owner=None)
    t = make_customer(stage="target", owner="tm")
    o = make_customer(stage="opportunity", owner="tm")
    results = run_batch(session, tm, "stage", [r.id, t.id, o.id], to_stage="potential",
                        clock=clock)
    session.commit()
    assert all(v is None for v in results.values())
    assert (r.stage, r.ownership, r.operator_ids) == ("potential", "personal", [tm.id])
    assert (t.stage, o.stage) == ("potential", "potential")
    change_stage(session, tm, t.id, "archive", clock=clock)
    assert t.stage is None
    session.commit()
    # the archive's rule allows no stage moves at all
    with pytest.raises(StageRuleForbids):
        change_stage(session, tm, t.id, "target", clock=clock)
    session.rollback()
    results = run_batch(session, tm, "stage", [o.id], to_stage="potential", clock=clock)
    assert results[o.id].key == "stage.not_lower"
    with pytest.raises(InvalidValue):
        run_batch(session, tm, "delete", [a.id], clock=clock)
    with pytest.raises(InvalidValue):
        run_batch(session, tm, "claim", [], clock=clock)
    with pytest.raises(InvalidValue):
        run_batch(session, tm, "stage", [a.id], to_stage="vip", clock=clock)


def test_records_page_and_names(session, users, clock, make_customer):
    tm, tm2, mgr = users["tm"], users["tm2"], users["mgr"]
    a = make_customer("甲", stage="target", owner="tm")
    b = make_customer("乙", stage="target", owner="tm2")
    for i in range(3):
        add_contact_record(session, tm, a.id, content="tm %d" % i, clock=clock)
        clock.advance(minutes=1)
    add_contact_record(session, tm2, b.id, content="tm2", clock=clock)
    session.commit()
    page, customer_names = records_page(session, tm, per_page=2)
    assert [r.content for r in page.items] == ["tm 2", "tm 1"] and page.total == 3
    assert customer_names == {a.id: "甲"}
    assert records_page(session, tm, everyone=True)[0].total == 3  # not a manager
    assert records_page(session, mgr, everyone=True)[0].total == 4
    # a record on a customer since given to someone else is no longer listed
    from models.crm.ownership import reassign
    reassign(session, mgr, a.id, tm2.id, clock=clock)
    session.commit()
    assert records_page(session, tm)[0].total == 0
    assert visible_names(session, tm, [a.id, b.id]) == {}
    assert visible_names(session, tm2, [a.id, b.id]) == {a.id: "甲", b.id: "乙"}


def test_side_panel(session, users, clock):
    tm, tm2 = users["tm"], users["tm2"]
    now = clock.now()
    session.add_all([
        CallScript(kind="reference", title="开场白", body="您好", stage=None, created_at=now,
                   updated_at=now),
        CallScript(kind="reference", title="潜在客户跟进", body="...", stage="potential",
                   created_at=now, updated_at=now),
        CallScript(kind="reference", title="成交回访", body="...", stage="closed", created_at=now,
                   updated_at=now),
        CallScript(kind="personal", owner_id=tm.id, title="我的话术", body="...", created_at=now,
                   updated_at=now),
        CallScript(kind="personal", owner_id=tm2.id, title="别人的话术", body="...",
                   created_at=now, updated_at=now),
        Product(name="呼叫中心软件", price=9800, unit="套", active=True),
        Product(name="停产产品", price=1, unit="套", active=False),
        Document(title="产品报价单", filename="price.pdf", storage_key="k1", created_at=now),
    ])
    session.commit()
    panel = side_panel(session, tm, "potential")
    assert [s.title for s in panel["reference_scripts"]] == ["开场白", "潜在客户跟进"]
    assert [s.title for s in panel["personal_scripts"]] == ["我的话术"]
    assert [p.name for p in panel["products"]] == ["呼叫中心软件"]
    assert [d.title for d in panel["documents"]] == ["产品报价单"]
    assert [s.title for s in side_panel(session, tm, None)["reference_scripts"]] == ["开场白"]
