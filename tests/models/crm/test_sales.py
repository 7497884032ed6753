from decimal import Decimal

import pytest
from sqlalchemy import select

from models.crm.sales import (
    add_order_follow_up,
    create_opportunity,
    create_order,
    set_opportunity_state,
    update_order_status,
)
from models.errors import InvalidValue, NotYours, PermissionDenied
from models.schema import Order, Product


def test_selling_opportunity_lifts_customer(session, users, clock, make_customer):
    tm = users["tm"]
    c = make_customer(stage="target")
    create_opportunity(session, tm, c.id, "试探", state="paused", amount=1, clock=clock)
    assert c.stage == "target"
    opp = create_opportunity(session, tm, c.id, "CRM 软件", items=[
        dict(product_name="CRM 标准版", quantity=2, unit_price="4999.50")], clock=clock)
    assert c.stage == "opportunity" and opp.amount == Decimal("9999.00")
    closed = make_customer(stage="closed")
    create_opportunity(session, tm, closed.id, "二次购买", amount=5, clock=clock)
    assert closed.stage == "closed"  # never lowered
    archived = make_customer(stage=None)
    create_opportunity(session, tm, archived.id, "x", amount=5, clock=clock)
    assert archived.stage == "opportunity"
    with pytest.raises(InvalidValue):
        create_opportunity(session, tm, c.id, "x", state="won", clock=clock)
    with pytest.raises(NotYours):
        create_opportunity(session, users["tm2"], c.id, "x", clock=clock)


def test_order_from_opportunity(session, users, clock, make_customer):
    tm = users["tm"]
    product = Product(name="呼叫中心座席", price=Decimal("1200.00"), unit="席")
    session.add(product)
    session.flush()
    c = make_customer(stage="potential")
    opp = create_opportunity(session, tm, c.id, "10 席", items=[
        dict(product_id=product.id, quantity=10)], clock=clock)
    order = create_order(session, tm, c.id, [], opportunity_id=opp.id, clock=clock)
    second = create_order(session, tm, c.id, [dict(product_id=product.id, quantity=1)], clock=clock)
    session.commit()
    assert (opp.state, c.stage) == ("paused", "closed")
    assert order.amount == Decimal("12000.00") and order.items[0].product_name == "呼叫中心座席"
    assert (order.number, second.number) == ("SO20261126-0001", "SO20261126-0002")
    assert (order.seller_id, order.follower_id, order.state) == (tm.id, tm.id, "in_progress")
    with pytest.raises(InvalidValue):
        create_order(session, tm, c.id, [], clock=clock)
    with pytest.raises(InvalidValue):
        create_order(session, tm, c.id, [dict(product_name="x", quantity=-1, unit_price=1)], clock=clock)


def test_order_status_and_follow_up(session, users, clock, make_customer):
    tm = users["tm"]
    c = make_customer(stage="closed", owner=["tm", "tm2"])
    order = create_order(session, tm, c.id, [dict(product_name="培训", quantity=1, unit_price=800)],
                         clock=clock)
    with pytest.raises(PermissionDenied):
        update_order_status(session, users["tm2"], order.id, state="done", clock=clock)
    with pytest.raises(InvalidValue):
        update_order_status(session, tm, order.id, payment_status="maybe", clock=clock)
    update_order_status(session, tm, order.id, payment_status="paid", paid_on=clock.now().date(),
                        state="done", clock=clock)
    fu = add_order_follow_up(session, users["tm2"], order.id, "已发货,客户确认收到",
                             next_callback_at=clock.now(), clock=clock)
    session.commit()
    row = session.scalars(select(Order)).one()
    assert (row.payment_status, row.state, row.next_callback_at) == ("paid", "done", clock.now())
    assert fu.user_id == users["tm2"].id


def test_opportunity_state_changes(session, users, clock, make_customer):
    tm = users["tm"]
    c = make_customer(stage="target")
    opp = create_opportunity(session, tm, c.id, "暂缓", state="paused", amount=1, clock=clock)
    with pytest.raises(InvalidValue):
        set_opportunity_state(session, tm, opp.id, "lost", clock=clock)
    set_opportunity_state(session, tm, opp.id, "selling", clock=clock)
    assert (opp.state, c.stage) == ("selling", "opportunity")
    set_opportunity_state(session, tm, opp.id, "ended", clock=clock)
    assert (opp.state, c.stage) == ("ended", "opportunity")
