"""Demo data (dialfunnel.demo) and the fake-data generators behind it (dialfunnel.fakedata)."""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import time
from collections import Counter, defaultdict

import phonenumbers
import pytest
from sqlalchemy import func, select

from dialfunnel import fakedata as fd
from dialfunnel.demo import DEMO_USERS, load_demo
from models.clock import FakeClock
from models.company import company_tz, day_bounds
from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from models.phones import normalize_phone
from models.schema import (
    STAGES,
    Campaign,
    CallScript,
    Competitor,
    Contact,
    ContactRecord,
    Customer,
    CustomerOperator,
    Document,
    OperatorHistory,
    Opportunity,
    OpportunityItem,
    Order,
    OrderFollowUp,
    OrderItem,
    Product,
    ResourceSite,
    Role,
    User,
)
from models.setup import install_defaults

NOW = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)   # 10:00 in Shanghai


def _valid_cn(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed)


# ------------------------------------------------------------------------------------------------
# fakedata


def test_company_names_unique_for_200000():
    rng = random.Random(1)
    names = [fd.company_name(i, fd.city(rng)) for i in range(200_000)]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"\w+(有限公司|有限责任公司)", n) for n in names[:2000])


def test_company_names_unique_past_the_name_space():
    rng = random.Random(2)
    space = fd.NAME_SPACE
    indexes = [k * space + i for k in (0, 1, 5) for i in range(500)]
    names = [fd.company_name(i, fd.city(rng)) for i in indexes]
    assert len(set(names)) == len(names)
    assert fd.company_name(space + 3, "上海").endswith("第二分公司")
    # the first NAME_SPACE indexes need no disambiguator at all
    assert space > 2_000_000
    assert "分公司" not in fd.company_name(space - 1, "上海")
    # the same index always gives the same name
    assert fd.company_name(12345, "北京") == fd.company_name(12345, "北京")


def test_10000_phone_numbers_are_valid_and_normalise_like_the_app():
    rng = random.Random(3)
    numbers = [fd.mobile(rng) for _ in range(4000)]
    numbers += [fd.landline(rng) for _ in range(4000)]
    numbers += [fd.landline(rng, c) for c in fd.CITIES for _ in range(2000 // len(fd.CITIES) + 1)]
    assert len(numbers) >= 10_000
    for number in numbers:
        assert _valid_cn(number), number
        assert fd.e164(number) == normalize_phone(number), number
    mobiles = numbers[:4000]
    assert all(len(m) == 11 and m[:3] in fd.MOBILE_PREFIXES for m in mobiles)
    for c in fd.CITIES:       # area code + subscriber number of the right length
        number = fd.landline(rng, c)
        code, sub = number.split("-")
        assert code == c.area_code and len(sub) == c.subscriber_len


def test_cities_and_other_tables():
    assert ("上海", "上海") in fd.PROVINCE_CITIES and ("广东", "深圳") in fd.PROVINCE_CITIES
    assert fd.AREA_CODES["上海"] == "021" and fd.AREA_CODES["深圳"] == "0755"
    for industry in ("软件", "制造", "贸易", "教育", "医疗", "物流", "餐饮", "建筑", "金融", "广告"):
        assert industry in fd.INDUSTRIES
    for src in ("网上收集", "展会", "资料购买", "朋友介绍", "广告", "老客户介绍"):
        assert src in fd.SOURCES
    rng = random.Random(4)
    name = fd.person_name(rng)
    assert 2 <= len(name) <= 4 and name[:1] in "".join(fd.SURNAMES)
    assert fd.title(rng) in fd.TITLES
    assert fd.qq(rng).isdigit()
    for stage in (None,) + STAGES:
        assert fd.contact_note(rng, stage, "王经理")
        assert fd.progress(rng, stage) in fd.PROGRESS_PHRASES
    assert fd.product_name(rng)


def test_customer_row_is_complete_and_fast():
    rng = random.Random(5)
    columns = {c.name for c in Customer.__table__.columns} - {"id"}
    start = time.perf_counter()
    rows = [fd.customer_row(rng, i, NOW) for i in range(20_000)]
    elapsed = time.perf_counter() - start
    assert elapsed < 5, elapsed          # ~10 s per million on a laptop
    assert set(rows[0]) == columns
    assert len({r["name"] for r in rows}) == len(rows)
    for row in rows[:3000]:
        for col in ("phone", "mobile", "fax"):
            assert row[col + "_e164"] == normalize_phone(row[col])
            if row[col]:
                assert _valid_cn(row[col])
        assert row["created_at"] <= NOW and row["created_at"].tzinfo is not None
        assert row["stage"] in (None,) + STAGES
        assert row["ownership"] in ("personal", "collaborative", "shared")
        assert row["city"] in fd.AREA_CODES
        if row["phone"]:
            assert row["phone"].startswith(fd.AREA_CODES[row["city"]] + "-")
    assert {r["stage"] for r in rows} == {None, *STAGES}
    again = fd.customer_row(random.Random(5), 0, NOW)
    assert again == rows[0]
    fixed = fd.customer_row(rng, 7, NOW, stage="closed", ownership="personal")
    assert fixed["stage"] == "closed" and fixed["ownership"] == "personal"


# ------------------------------------------------------------------------------------------------
# demo


def _digest(session) -> str:
    """A fingerprint of the demo data that does not depend on ids or on the database's
    collation (rows are sorted in Python)."""
    users = dict(session.execute(select(User.id, User.username)).all())
    ops = defaultdict(list)
    for cid, uid in session.execute(select(CustomerOperator.customer_id, CustomerOperator.user_id)):
        ops[cid].append(users[uid])
    names = dict(session.execute(select(Customer.id, Customer.name)).all())
    parts = []
    for c in session.scalars(select(Customer)):
        parts.append(repr(("customer", c.name, c.stage, c.ownership, c.phone, c.mobile, c.fax,
                           c.contact_person, c.city, c.industry, sorted(ops[c.id]),
                           c.contact_mark, c.tracking_mark, c.next_callback_at,
                           c.last_contacted_at, c.created_at)))
    for rec in session.scalars(select(ContactRecord)):
        parts.append(repr(("record", names[rec.customer_id], users.get(rec.user_id),
                           rec.contacted_at, rec.content, rec.next_callback_at, rec.remind_at)))
    for order in session.scalars(select(Order)):
        parts.append(repr(("order", order.number, names[order.customer_id], str(order.amount),
                           order.state, users.get(order.seller_id), order.ordered_on)))
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def test_same_seed_and_clock_give_the_same_data(Session, tmp_path):
    clock = FakeClock(NOW)
    with Session() as s:
        first = load_demo(s, seed=7, customers=600, clock=clock)
        s.commit()
        digest1 = _digest(s)
    other = make_engine("sqlite:///" + str(tmp_path / "second.db"))
    try:
        upgrade(other)
        with make_sessionmaker(other)() as s:
            install_defaults(s)
            second = load_demo(s, seed=7, customers=600, clock=FakeClock(NOW))
            s.commit()
            digest2 = _digest(s)
            with pytest.raises(ValueError):      # only into an empty database
                load_demo(s, seed=7, customers=10, clock=clock)
    finally:
        other.dispose()
    assert first == second
    assert digest1 == digest2


def test_another_seed_gives_other_data(Session, tmp_path):
    with Session() as s:
        load_demo(s, seed=1, customers=200, clock=FakeClock(NOW))
        s.flush()
        digest1 = _digest(s)
        s.rollback()
        load_demo(s, seed=2, customers=200, clock=FakeClock(NOW))
        s.flush()
        assert _digest(s) != digest1


def test_load_demo_does_not_commit(Session):
    with Session() as s:
        summary = load_demo(s, customers=100, clock=FakeClock(NOW))
        assert summary["customers"] == 100
        s.rollback()
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        assert s.scalar(select(func.count()).select_from(User)) == 0


def _check_demo(s, summary, now, customers, *, full=True):
    """Everything a demo database must satisfy; `full` adds checks on the spread of values
    that only a full-size demo is sure to show."""
    tz = company_tz(s)
    today = now.astimezone(tz).date()
    day_start, day_end = day_bounds(tz, today)

    # users: >= 8 over the four roles, extensions 8001..., passwords in the summary
    users = s.scalars(select(User).order_by(User.id)).all()
    assert len(users) >= 8 and len(users) == len(DEMO_USERS)
    roles = Counter(u.role.code for u in users)
    assert set(roles) == {"admin", "sales_manager", "sales_rep", "telemarketer"}
    assert roles["telemarketer"] >= 3 and roles["sales_rep"] >= 2
    assert [u.extension for u in users] == [str(8001 + n) for n in range(len(users))]
    assert all(u.username.isascii() and not u.full_name.isascii() for u in users)
    assert {u["username"] for u in summary["users"]} == {u.username for u in users}
    assert all(len(u["password"]) >= 8 for u in summary["users"])
    from models.org.auth import authenticate
    first = summary["users"][0]
    assert authenticate(s, first["username"], first["password"]) is not None
    user_role = {u.id: u.role.code for u in users}

    # customers: every stage incl. the archive, a funnel, every ownership mode
    cust = s.scalars(select(Customer)).all()
    assert len(cust) == customers == summary["customers"]
    stages = Counter(c.stage for c in cust)
    assert set(stages) == {None, *STAGES}
    assert stages["reserve"] > stages["target"] > stages["potential"] > stages["opportunity"] \
        > stages["closed"] > 0
    modes = Counter(c.ownership for c in cust)
    assert set(modes) == {"personal", "collaborative", "shared"}
    reserve_modes = Counter(c.ownership for c in cust if c.stage == "reserve")
    assert reserve_modes["shared"] > 0.7 * stages["reserve"]
    assert len({c.name for c in cust}) == len(cust)

    # operator rows agree with the ownership mode
    ops = defaultdict(list)
    for cid, uid in s.execute(select(CustomerOperator.customer_id, CustomerOperator.user_id)):
        ops[cid].append(uid)
    for c in cust:
        n = len(ops[c.id])
        if c.ownership == "personal":
            assert n == 1, c.name
        elif c.ownership == "collaborative":
            assert n >= 2, c.name
        else:
            assert n == 0, c.name

    # a 'create' history row per customer, at its creation
    hist = {h.customer_id: h for h in s.scalars(select(OperatorHistory))}
    assert len(hist) == len(cust)
    for c in cust:
        h = hist[c.id]
        assert (h.action, h.to_mode, h.at) == ("create", c.ownership, c.created_at)
        assert sorted(h.to_operators) == sorted(ops[c.id])

    # every stored phone is a valid Chinese number, and its E.164 is the app's
    contacts = s.scalars(select(Contact)).all()
    for holder in list(cust) + list(contacts):
        for col in ("phone", "mobile") + (("fax",) if isinstance(holder, Customer) else ()):
            number = getattr(holder, col)
            if number is not None:
                assert _valid_cn(number), (col, number)
                assert getattr(holder, col + "_e164") == normalize_phone(number)
    assert sum(1 for c in cust if c.phone) > 0.8 * len(cust)

    # contact records: the latest one sets the customer's callback and contact time
    recs = defaultdict(list)
    for rec in s.scalars(select(ContactRecord)):
        recs[rec.customer_id].append(rec)
        assert rec.contacted_at <= now
        assert rec.next_callback_at is None or rec.next_callback_at > rec.contacted_at
        if rec.remind:
            assert rec.remind_at is not None
        if rec.reminded_at is not None:
            assert rec.reminded_at <= now
    by_id = {c.id: c for c in cust}
    for c in cust:
        mine = recs.get(c.id)
        if not mine:
            assert c.contact_mark == "not_contacted" and c.next_callback_at is None
            assert c.last_contacted_at is None
            continue
        latest = max(mine, key=lambda r: r.contacted_at)
        assert c.contact_mark == "contacted"
        assert c.next_callback_at == latest.next_callback_at, c.name
        assert c.last_contacted_at == latest.contacted_at, c.name
        assert all(r.contacted_at >= c.created_at for r in mine)
        for r in mine:   # by an operator, or anyone for a shared customer
            if c.ownership != "shared":
                assert r.user_id in ops[c.id]
    for st in ("potential", "opportunity", "closed"):
        assert all(recs.get(c.id) for c in cust if c.stage == st)
    assert sum(1 for rs in recs.values() for r in rs if r.remind) > 0
    assert sum(1 for rs in recs.values() for r in rs
               if r.remind and r.remind_at > now and r.reminded_at is None) > 0
    assert min(r.contacted_at for rs in recs.values() for r in rs) >= now - dt.timedelta(days=61)

    # every agent has callbacks today and has contacted customers today
    agents = [u.id for u in users if user_role[u.id] in ("telemarketer", "sales_rep")]
    for agent in agents:
        callbacks_today = [c for c in cust if agent in ops[c.id] and c.ownership != "shared"
                           and c.next_callback_at and day_start <= c.next_callback_at < day_end]
        assert callbacks_today, agent
        contacted_today = [r for rs in recs.values() for r in rs
                           if r.user_id == agent and day_start <= r.contacted_at < day_end]
        assert contacted_today, agent
        assert any(agent in ops[r.customer_id] and by_id[r.customer_id].ownership != "shared"
                   for r in contacted_today)
    # callbacks clustered around today: yesterday, today, tomorrow, this week, this month
    days = Counter((c.next_callback_at.astimezone(tz).date() - today).days
                   for c in cust if c.next_callback_at)
    assert days[0] > 0
    if full:
        for d in (-1, 1):
            assert days[d] > 0, d
        assert sum(n for d, n in days.items() if 2 <= d <= 6) > 0
        assert sum(n for d, n in days.items() if 7 <= d <= 30) > 0

    # contacts
    per_customer = Counter(ct.customer_id for ct in contacts)
    assert per_customer and max(per_customer.values()) <= 3
    assert len(per_customer) > 0.4 * len(cust)

    # products, opportunities, orders
    products = s.scalars(select(Product)).all()
    assert 10 <= len(products) <= 20 and all(p.price > 0 for p in products)
    opps = s.scalars(select(Opportunity)).all()
    assert opps and {o.state for o in opps} <= {"selling", "paused", "ended"}
    if full:
        assert {o.state for o in opps} == {"selling", "paused", "ended"}
    for o in opps:
        assert by_id[o.customer_id].stage in ("opportunity", "closed")
        assert o.items and o.amount == sum(i.quantity * i.unit_price for i in o.items)
    assert any(by_id[o.customer_id].stage == "closed" for o in opps)
    orders = s.scalars(select(Order)).all()
    assert orders and {o.state for o in orders} <= {"in_progress", "paused", "done"}
    if full:
        assert {o.state for o in orders} == {"in_progress", "paused", "done"}
    assert len({o.number for o in orders}) == len(orders)
    for o in orders:
        assert by_id[o.customer_id].stage == "closed"
        assert re.fullmatch(r"SO\d{8}-\d{4}", o.number)
        assert o.number[2:10] == o.ordered_on.strftime("%Y%m%d")
        assert o.ordered_on <= today
        assert o.seller_id and o.follower_id
        assert o.items and o.amount == sum(i.quantity * i.unit_price for i in o.items)
        if o.state == "done":
            assert o.payment_status == "paid" and o.shipping_status == "shipped"
        if o.paid_on:
            assert o.ordered_on <= o.paid_on <= today
        if o.shipped_on:
            assert o.ordered_on <= o.shipped_on <= today
        if o.opportunity_id is not None:
            assert s.get(Opportunity, o.opportunity_id).state == "paused"
    followups = s.scalars(select(OrderFollowUp)).all()
    assert {f.order_id for f in followups} == {o.id for o in orders}
    assert s.scalar(select(func.count()).select_from(OrderItem)) >= len(orders)
    assert s.scalar(select(func.count()).select_from(OpportunityItem)) >= len(opps)

    # sales-assistant material
    scripts = s.scalars(select(CallScript)).all()
    reference = [sc for sc in scripts if sc.kind == "reference"]
    assert len(reference) >= 5 and {sc.stage for sc in reference} >= set(STAGES)
    assert any(sc.kind == "personal" and sc.owner_id for sc in scripts)
    assert all(len(sc.body) > 60 for sc in reference)
    assert s.scalar(select(func.count()).select_from(Competitor)) >= 5
    sites = s.scalars(select(ResourceSite)).all()
    assert len(sites) >= 5 and any("1688.com" in site.url for site in sites)
    docs = s.scalars(select(Document)).all()
    assert docs and all(d.customer_id is None and d.storage_key.startswith("demo/")
                        for d in docs)

    # the summary tells the truth
    assert summary["contact_records"] == sum(len(v) for v in recs.values())
    assert summary["contacts"] == len(contacts)
    assert summary["orders"] == len(orders) and summary["opportunities"] == len(opps)
    assert summary["stages"]["archive"] == stages[None]


def test_full_default_demo(Session):
    clock = FakeClock(NOW)
    with Session() as s:
        start = time.perf_counter()
        summary = load_demo(s, clock=clock)
        s.commit()
        elapsed = time.perf_counter() - start
    assert elapsed < 30, elapsed      # ~1.5 s on SQLite, ~3 s on PostgreSQL
    with Session() as s:
        _check_demo(s, summary, clock.now(), 5000)
        assert s.scalar(select(func.count()).select_from(Role)) == 4
        voice = s.scalar(select(Campaign).where(Campaign.mode == "voice"))
        assert (voice.ivr_flow, voice.max_lines, voice.status) == ("payment_reminder", 10, "draft")
        closed = s.scalar(select(func.count()).select_from(Customer).where(Customer.stage == "closed"))
        assert 0.9 * closed <= summary["voice_campaign_leads"] <= closed   # those with a number to dial


@pytest.mark.parametrize("when", [
    dt.datetime(2026, 11, 26, 16, 5, tzinfo=dt.timezone.utc),    # 00:05 in Shanghai
    dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.timezone.utc),   # 23:30 in Shanghai
    dt.datetime(2027, 3, 1, 9, 17, 42, 123456, tzinfo=dt.timezone.utc),
])
def test_small_demo_at_odd_hours(Session, when):
    clock = FakeClock(when)
    with Session() as s:
        summary = load_demo(s, seed=11, customers=300, clock=clock)
        s.commit()
    with Session() as s:
        _check_demo(s, summary, when, 300, full=False)
