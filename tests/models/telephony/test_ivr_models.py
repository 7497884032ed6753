"""models/telephony/ivr.py: order status for callers, callback requests and the IVR call log."""
from __future__ import annotations

import datetime as dt

import pytest

from sqlalchemy import select

from models.crm.contact_records import add_contact_record, emit_due_reminders
from models.crm.sales import create_order, update_order_status
from models.schema import ContactRecord, Event, StageHistory
from models.schema.ivr import IVRCall
from models.telephony.ivr import (
    CALLBACK_PROGRESS,
    IVR_SOURCE,
    log_ivr_call,
    masked_number,
    order_number_candidates,
    order_status,
    orders_for_caller,
    pick_operator,
    request_callback,
    unassigned_callbacks,
)

ITEM = [dict(product_name="安装服务", quantity=1, unit_price=100)]


def test_order_number_candidates_from_keypad_digits():
    assert order_number_candidates("202611260001") == ["202611260001", "SO20261126-0001"]
    assert order_number_candidates("2026112601") == ["2026112601", "SO20261126-01",
                                                     "SO20261126-0001"]
    assert order_number_candidates("12") == ["12"]
    assert order_number_candidates("") == [] and order_number_candidates("#") == []


def test_order_status_by_number_and_by_caller(session, users, clock, make_customer):
    c = make_customer("上海明远贸易", stage="opportunity", phone="021-6234 5678", owner="tm")
    first = create_order(session, users["tm"], c.id, ITEM, clock=clock)
    clock.advance(days=1)
    second = create_order(session, users["tm"], c.id, ITEM, clock=clock)
    update_order_status(session, users["tm"], second.id, shipping_status="shipped",
                        payment_status="paid", clock=clock)
    update_order_status(session, users["tm"], first.id, state="done", clock=clock)
    session.commit()
    assert first.number == "SO20261126-0001"
    status = order_status(session, "202611260001")
    assert (status.number, status.digits, status.words) == (
        "SO20261126-0001", "202611260001", ["state-done"])
    assert order_status(session, "2026112701").words == [
        "state-in-progress", "shipping-shipped", "payment-paid"]
    assert order_status(session, "202611269999") is None
    customer, statuses = orders_for_caller(session, "02162345678")
    assert customer.id == c.id
    assert [s.number for s in statuses] == [second.number, first.number]  # open ones first
    assert orders_for_caller(session, "13900000000") == (None, [])
    assert orders_for_caller(session, "unknown") == (None, [])


def test_orders_for_a_number_several_customers_share(session, users, clock, make_customer):
    """One statement finds every customer with the number (their own numbers or a contact's)
    and the latest orders among all of them: open before done, newest first, at most `limit`;
    the call is about the first order's customer, or with no order about the operated,
    most recently contacted customer."""
    shared = make_customer("共享客户", phone="13800138000", owner=None)
    older = make_customer("老客户", mobile="13800138000", owner="tm")
    newer = make_customer("新客户", owner="tm2")
    add_contact_record(session, users["tm"], older.id, content="联系",
                       clock=clock)
    clock.advance(days=1)
    add_contact_record(session, users["tm2"], newer.id, content="联系",
                       clock=clock)
    session.commit()
    assert orders_for_caller(session, "13800138000")[0].id == older.id   # newer has not the number
    from models.crm.contacts import add_contact
    add_contact(session, users["admin"], newer.id, {"name": "王经理", "mobile": "138 0013 8000"})
    session.commit()
    customer, statuses = orders_for_caller(session, "+86 138-0013-8000")
    assert (customer.id, customer.ownership, statuses) == (newer.id, "personal", [])
    open_old = create_order(session, users["tm"], older.id, ITEM, clock=clock)
    clock.advance(days=1)
    newest = create_order(session, users["admin"], shared.id, ITEM, clock=clock)
    clock.advance(days=1)
    done = create_order(session, users["tm"], older.id, ITEM, clock=clock)
    update_order_status(session, users["tm"], done.id, state="done", clock=clock)
    session.commit()
    customer, statuses = orders_for_caller(session, "13800138000", limit=2)
    assert customer.id == shared.id
    assert [(s.number, s.customer_id) for s in statuses] == [(newest.number, shared.id),
                                                             (open_old.number, older.id)]
    clock.advance(days=-10)
    backdated = create_order(session, users["tm"], older.id, ITEM, clock=clock)  # a later id
    session.commit()
    _, statuses = orders_for_caller(session, "13800138000", limit=4)
    assert [s.number for s in statuses] == [newest.number, open_old.number, backdated.number,
                                            done.number]


def test_callback_for_a_personal_customer_reminds_its_operator(session, users, clock, make_customer):
    c = make_customer("北京华信", phone="13800138000", owner="tm")
    at = clock.now() + dt.timedelta(minutes=30)
    done = request_callback(session, "+86 138-0013-8000", at=at, flow="main", clock=clock)
    session.commit()
    assert done.assigned and done.operator.id == users["tm"].id and done.customer.id == c.id
    record = done.record
    assert (record.user_id, record.customer_id, record.progress, record.remind,
            record.next_callback_at, record.remind_at) == (
        users["tm"].id, c.id, CALLBACK_PROGRESS, True, at, at)
    assert "13800138000" in record.content and "IVR" in record.content
    # the same caller again before the reminder fired: no second record
    again = request_callback(session, "13800138000", clock=clock)
    assert again.reused and again.record.id == record.id
    assert session.scalar(select(ContactRecord.id).where(ContactRecord.id != record.id)) is None
    assert emit_due_reminders(session, clock=clock) == 0
    clock.advance(minutes=30)
    assert emit_due_reminders(session, clock=clock) == 1
    session.commit()
    event = session.scalars(select(Event)).one()
    assert (event.kind, event.user_id, event.payload["customer_id"]) == ("reminder", users["tm"].id, c.id)


def test_collaborative_customer_goes_to_the_operator_who_last_worked_it(session, users, clock,
                                                                         make_customer):
    c = make_customer(phone="13911112222", owner=["tm", "rep"])
    assert pick_operator(session, c).id == users["tm"].id          # nobody worked it yet: lowest id
    add_contact_record(session, users["rep"], c.id, content="报价", clock=clock)
    clock.advance(minutes=1)
    assert pick_operator(session, c).id == users["rep"].id
    users["rep"].active = False
    session.flush()
    assert pick_operator(session, c).id == users["tm"].id          # inactive operators skipped


def test_unknown_caller_becomes_a_reserve_customer_and_stays_unassigned(session, users, clock,
                                                                         make_customer):
    shared = make_customer(phone="13722223333", owner=None)
    assert request_callback(session, "unknown", clock=clock) is None
    assert request_callback(session, "12", clock=clock) is None
    at = clock.now() + dt.timedelta(minutes=30)
    nobody = request_callback(session, "13600001111", at=at, clock=clock)
    assert not nobody.assigned and nobody.created and nobody.number == "+8613600001111"
    new = nobody.customer
    assert (new.name, new.mobile, new.mobile_e164, new.phone, new.source) == (
        "来电客户 136****1111", "+8613600001111", "+8613600001111", None, IVR_SOURCE)
    assert (new.stage, new.ownership, new.operator_ids, new.created_by_id) == (
        "reserve", "shared", [], None)
    assert new.next_callback_at == at
    history = session.scalars(select(StageHistory).where(StageHistory.customer_id == new.id)).one()
    assert (history.to_stage, history.actor_id, history.kind) == ("reserve", None, "create")
    on_shared = request_callback(session, "13722223333", clock=clock)
    assert not on_shared.assigned and on_shared.customer.id == shared.id and not on_shared.created
    assert session.scalar(select(ContactRecord.id)) is None
    again = request_callback(session, "+86 136 0000 1111", clock=clock)
    assert (again.customer.id, again.created) == (new.id, False)
    for n, cb in enumerate((nobody, on_shared)):
        log_ivr_call(session, uniqueid=f"u{n}", flow="main", outcome="CALLBACK",
                     started_at=clock.now(), duration_ms=1200, caller_id=cb.number, callback=cb)
    session.commit()
    rows = unassigned_callbacks(session)
    assert {r.callback_number for r in rows} == {"+8613600001111", "+8613722223333"}
    assert {r.customer_id for r in rows} == {new.id, shared.id}


def test_new_customer_names(session, users, clock, make_customer):
    assert masked_number("+8613800008000") == "138****8000"
    assert masked_number("+862088886666") == "20****6666"     # masking's rule: 4 digits hidden
    make_customer("来电客户 138****8000", phone="13900008000")
    make_customer("王先生")
    named = request_callback(session, "13800008000", caller_name="王先生", clock=clock)
    assert named.customer.name == "王先生 138****8000"
    plain = request_callback(session, "13811118000", caller_name="13811118000", clock=clock)
    assert plain.customer.name == "来电客户 138****8000 (2)"
    landline = request_callback(session, "020-8888 6666", caller_name="unknown", clock=clock)
    assert (landline.customer.name, landline.customer.phone) == ("来电客户 20****6666",
                                                                 "+862088886666")
    assert request_callback(session, "13822223333", caller_name="李四",
                            clock=clock).customer.name == "李四"


def test_callback_prefers_an_operated_customer_among_several(session, users, clock, make_customer):
    make_customer("共享公司", phone="13500001111", owner=None)
    mine = make_customer("个人公司", phone="13500001111", owner="tm2")
    done = request_callback(session, "13500001111", clock=clock)
    assert done.customer.id == mine.id and done.operator.id == users["tm2"].id


def test_log_ivr_call_row(session, users, clock, make_customer):
    c = make_customer(phone="13800138000")
    row = log_ivr_call(session, uniqueid="1700000000.1", flow="main", outcome="TRANSFER",
                       started_at=clock.now(), duration_ms=5300, caller_id="13800138000",
                       customer_id=c.id, path=["welcome", "main_menu", "to_agent"],
                       digits=[["main_menu", "0"]], exit_to="queue:sales")
    session.commit()
    got = session.get(IVRCall, row.id)
    assert (got.caller_e164, got.customer_id, got.path, got.digits, got.exit_to, got.duration_ms) == (
        "+8613800138000", c.id, ["welcome", "main_menu", "to_agent"], [["main_menu", "0"]],
        "queue:sales", 5300)
    anonymous = log_ivr_call(session, uniqueid="x", flow="main", outcome="HANGUP",
                             started_at=clock.now(), duration_ms=-5, caller_id="anonymous")
    assert (anonymous.caller_id, anonymous.caller_e164, anonymous.duration_ms) == (None, None, 0)


def test_deleting_a_customer_keeps_its_ivr_calls(session, users, clock, make_customer):
    from models.crm.customers import delete_customer
    c = make_customer(phone="13800138000", owner="tm")
    done = request_callback(session, "13800138000", clock=clock)
    log_ivr_call(session, uniqueid="u", flow="main", outcome="CALLBACK", started_at=clock.now(),
                 duration_ms=1, caller_id="13800138000", customer_id=c.id, callback=done)
    session.commit()
    delete_customer(session, users["admin"], c.id)
    session.commit()
    row = session.scalars(select(IVRCall)).one()
    session.refresh(row)
    assert (row.customer_id, row.callback_record_id, row.callback_number) == (None, None, "+8613800138000")


def test_ivr_lookups_and_call_log_batches_reuse_their_compiled_statements(
        session, clock, make_customer):
    """The FastAGI server runs these hundreds of times a second: each must find its compiled
    SQL in the engine's cache whatever the caller or the batch size (a multi-row VALUES built
    per batch was compiled anew each time: most of a call's CPU on PostgreSQL)."""
    from sqlalchemy import event

    from models.telephony.ivr import insert_ivr_calls, ivr_call_values

    c = make_customer("上海明远贸易", phone="021-6234 5678")
    make_customer("北京华信", phone="13800138000")
    session.commit()
    engine = session.get_bind()
    hits = []

    def spy(conn, clauseelement, multiparams, params, execution_options, result):
        hits.append(result.context.cache_hit.name)  # sqlalchemy.engine.default.CacheStats

    def row(n):
        return ivr_call_values(uniqueid=f"u{n}", flow="main", outcome="COMPLETED",
                               started_at=clock.now(), duration_ms=10, caller_id="13800138000")

    orders_for_caller(session, "02162345678")
    insert_ivr_calls(session, [row(1)])          # compiled once for one row ...
    insert_ivr_calls(session, [row(2), row(3)])  # ... and once for several
    event.listen(engine, "after_execute", spy)
    try:
        assert orders_for_caller(session, "13800138000")[0].id != c.id
        assert orders_for_caller(session, "021-62345678")[0].id == c.id
        insert_ivr_calls(session, [row(4), row(5), row(6)])
        insert_ivr_calls(session, [row(7)])
    finally:
        event.remove(engine, "after_execute", spy)
    assert hits == ["CACHE_HIT"] * 4  # one lookup for each of two callers; two batches
    assert sorted(session.scalars(select(IVRCall.uniqueid))) == [f"u{n}" for n in range(1, 8)]


def test_postgresqls_caller_orders_function_runs_the_statement(engine, session, make_customer):
    """On PostgreSQL orders_for_caller runs ivr_caller_orders() (its plan kept by the backend:
    behind PgBouncer nothing is prepared), whose body is _CALLER_ORDERS: a change to the
    statement needs a migration that replaces the function (the tests above check the rows)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a function of PostgreSQL only; SQLite runs the statement")
    from sqlalchemy import event, text

    from models.telephony.ivr import _CALLER_ORDERS

    def words(sql: str) -> str:
        return " ".join(sql.split())

    body = session.scalar(text("SELECT prosrc FROM pg_proc WHERE proname = 'ivr_caller_orders'"))
    statement = (str(_CALLER_ORDERS.compile(dialect=engine.dialect))
                 .replace("%(e164)s", "p_e164").replace("%(limit)s", "p_limit")
                 .replace("%(state_1)s", "'done'"))
    assert words("RETURN QUERY " + statement + ";") in words(body)
    c = make_customer("上海明远贸易", phone="021-6234 5678")
    session.commit()
    sent = []

    def seen(conn, cursor, sql, *args):
        sent.append(sql)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert orders_for_caller(session, "02162345678")[0].id == c.id
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [words(sql) for sql in sent] == ["SELECT * FROM ivr_caller_orders(%(e164)s, %(limit)s)"]
