import datetime as dt

import pytest
from sqlalchemy import select

from models.crm.contact_records import (
    add_contact_record,
    delete_contact_record,
    emit_due_reminders,
    update_contact_record,
)
from models.errors import InvalidValue, NotYours, PermissionDenied
from models.schema import Event

UTC = dt.timezone.utc


def test_record_updates_customer_and_marks(session, users, clock, make_customer):
    c = make_customer(stage="target")
    cb = clock.now() + dt.timedelta(days=1)
    rec = add_contact_record(session, users["tm"], c.id, content="客户需要报价", progress="需求确认",
                             next_callback_at=cb, clock=clock)
    session.commit()
    assert (c.last_contacted_at, c.next_callback_at, c.contact_mark) == (clock.now(), cb, "contacted")
    clock.advance(hours=1)
    later = add_contact_record(session, users["tm"], c.id, content="已发报价", clock=clock)
    assert c.next_callback_at is None and c.last_contacted_at == clock.now()
    delete_contact_record(session, users["tm"], later.id, clock=clock)
    assert c.next_callback_at == cb and c.last_contacted_at == rec.contacted_at


def test_record_rights(session, users, clock, make_customer):
    c = make_customer(stage="target", owner=["tm", "tm2"])
    rec = add_contact_record(session, users["tm"], c.id, content="x", clock=clock)
    with pytest.raises(PermissionDenied):
        update_contact_record(session, users["tm2"], rec.id, {"content": "y"}, clock=clock)
    with pytest.raises(NotYours):
        add_contact_record(session, users["rep"], c.id, content="x", clock=clock)
    update_contact_record(session, users["mgr"], rec.id, {"content": "经理修改"}, clock=clock)
    assert rec.content == "经理修改"
    with pytest.raises(InvalidValue):
        update_contact_record(session, users["tm"], rec.id, {"user_id": 1}, clock=clock)
    with pytest.raises(InvalidValue):
        add_contact_record(session, users["tm"], c.id, content="x", remind=True, clock=clock)
    with pytest.raises(InvalidValue):
        add_contact_record(session, users["tm"], c.id, content="x", method="telepathy", clock=clock)


def test_reminders_become_events_once(session, users, clock, make_customer):
    c = make_customer(stage="potential", owner="tm")
    at = clock.now() + dt.timedelta(minutes=30)
    rec = add_contact_record(session, users["tm"], c.id, content="约好下午再打", progress="跟进",
                             next_callback_at=at, remind=True, clock=clock)
    session.commit()
    assert emit_due_reminders(session, clock=clock) == 0
    clock.advance(minutes=30)
    assert emit_due_reminders(session, clock=clock) == 1
    assert emit_due_reminders(session, clock=clock) == 0
    session.commit()
    event = session.scalars(select(Event)).one()
    assert (event.kind, event.user_id, event.payload["record_id"]) == ("reminder", users["tm"].id, rec.id)
    # moving the reminder re-arms it
    update_contact_record(session, users["tm"], rec.id,
                          {"remind_at": clock.now() + dt.timedelta(hours=1)}, clock=clock)
    clock.advance(hours=1)
    assert emit_due_reminders(session, clock=clock) == 1


def test_order_follow_up_reminder_becomes_event(session, users, clock, make_customer):
    from models.crm.sales import add_order_follow_up, create_order
    c = make_customer(stage="closed", owner="tm")
    order = create_order(session, users["tm"], c.id, [dict(product_name="安装", quantity=1,
                                                           unit_price=100)], clock=clock)
    add_order_follow_up(session, users["tm"], order.id, "确认到货",
                        next_callback_at=clock.now() + dt.timedelta(hours=2), remind=True,
                        clock=clock)
    session.commit()
    clock.advance(hours=1)
    assert emit_due_reminders(session, clock=clock) == 0
    clock.advance(hours=1)
    assert emit_due_reminders(session, clock=clock) == 1
    assert emit_due_reminders(session, clock=clock) == 0
    session.commit()
    event = session.scalars(select(Event)).one()
    assert (event.user_id, event.payload["order_number"], event.payload["customer_name"]) == (
        users["tm"].id, order.number, c.name)
