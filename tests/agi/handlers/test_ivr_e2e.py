"""The IVR end to end: the FastAGI server over real TCP sockets, driven by the simulated
Asterisk (agi/pbxsim), walking the shipped ivr_flows/main.yaml and after_hours.yaml against
the database (SQLite, or PostgreSQL with DIALFUNNEL_TEST_DATABASE_URL)."""
from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from agi.fastagi.dispatch import Registry
from agi.fastagi.server import FastAGIServer
from agi.handlers.ivr import make_ivr_handler
from agi.pbxsim.agi_driver import Scenario, run_call
from ivr_flows import load_flows
from models.crm.contact_records import emit_due_reminders
from models.crm.sales import create_order, update_order_status
from models.schema import ContactRecord, Customer, Event
from models.schema.calls import Call
from models.schema.ivr import IVRCall
from models.telephony.calls import Chan, channel_seen
from models.telephony.ivr import CALLBACK_PROGRESS, IVR_SOURCE, unassigned_callbacks

HOST = "127.0.0.1"
SH = dt.timezone(dt.timedelta(hours=8))
ITEM = [dict(product_name="工业除湿机", quantity=2, unit_price=3800)]
MEDIA = ("ANSWER", "STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "SAY DIGITS")


def shanghai(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(dt.timezone.utc)


@pytest.fixture
def results():
    return {}


@pytest.fixture
def ivr_server(Session, clock, results):
    lock = threading.Lock()

    def keep(agi, result):
        with lock:
            results[agi.uniqueid] = result

    registry = Registry()
    registry.register("ivr", make_ivr_handler(clock=clock, on_result=keep))
    server = FastAGIServer(registry, Session, port=0, hangup_grace=0.3, env_timeout=2.0,
                           close_wait=0.5).start()
    yield server
    server.shutdown(grace=5)


_numbers = iter(range(1, 10 ** 9))


def call(server, keys=(), *, caller="13800138000", flow="main", uniqueid=None, name=None,
         **scenario):
    uniqueid = uniqueid or f"1790000000.{next(_numbers)}"
    result = run_call(HOST, server.port, f"ivr?flow={flow}", callerid=caller, calleridname=name,
                      env={"agi_uniqueid": uniqueid}, scenario=Scenario(keys=keys, **scenario))
    result.uniqueid = uniqueid
    assert result.error == "", result.error
    return result


def row(Session, uniqueid) -> IVRCall:
    with Session() as s:
        return s.scalars(select(IVRCall).where(IVRCall.uniqueid == uniqueid)).one()


def streamed(result) -> list[str]:
    return [c.split()[2].split("/")[-1] for c in result.commands if c.startswith("STREAM FILE")]


# -- the journeys ---------------------------------------------------------------------------

def test_callback_request_reminds_the_customers_operator(ivr_server, Session, users, clock,
                                                          make_customer):
    customer = make_customer("杭州恒远机电", phone="0571-8765 4321", mobile="13800138000",
                             owner="tm")
    result = call(ivr_server, ["3"], caller="13800138000")
    assert result.status == "CALLBACK" and result.hungup
    assert streamed(result)[-2:] == ["callback-confirmed", "goodbye"]
    assert result.commands[-2] == "HANGUP"
    logged = row(Session, result.uniqueid)
    assert (logged.outcome, logged.customer_id, logged.callback_user_id, logged.callback_number) == (
        "CALLBACK", customer.id, users["tm"].id, "+8613800138000")
    assert logged.path == ["welcome", "office_hours", "main_menu", "callback",
                           "callback_confirmed", "goodbye"]
    assert logged.digits == [["main_menu", "3"]] and logged.duration_ms >= 0
    with Session() as s:
        record = s.get(ContactRecord, logged.callback_record_id)
        assert (record.user_id, record.customer_id, record.progress, record.remind) == (
            users["tm"].id, customer.id, CALLBACK_PROGRESS, True)
        assert record.next_callback_at == clock.now()
        assert emit_due_reminders(s, clock=clock) == 1
        s.commit()
        event = s.scalars(select(Event)).one()
    assert (event.kind, event.user_id, event.payload["customer_id"], event.payload["customer_name"]) == (
        "reminder", users["tm"].id, customer.id, "杭州恒远机电")
    assert ivr_server.wait_idle() and ivr_server.active_calls == 0


def test_callback_from_an_unknown_number_is_logged_unassigned(ivr_server, Session, users,
                                                               make_customer):
    owned = make_customer(phone="13911112222", owner="rep")
    # caller ID withheld: the flow asks for a number
    result = call(ivr_server, ["3", "13600001111#"], caller=None)
    assert result.status == "CALLBACK"
    assert "GET DATA dialfunnel/enter-callback-number 8000 13" in result.commands
    assert streamed(result)[2:] == ["callback-confirmed", "goodbye"]
    logged = row(Session, result.uniqueid)
    assert logged.path[3:6] == ["callback", "callback_number", "callback_typed"]
    assert (logged.caller_id, logged.callback_number, logged.callback_record_id) == (
        None, "+8613600001111", None)
    with Session() as s:
        assert [r.uniqueid for r in unassigned_callbacks(s)] == [result.uniqueid]
    # a number typed by a withheld caller that belongs to a customer reaches its operator
    result = call(ivr_server, ["3", "13911112222#"], caller="")
    logged = row(Session, result.uniqueid)
    assert (logged.customer_id, logged.callback_user_id) == (owned.id, users["rep"].id)
    # a wrong number twice: goodbye, nothing booked
    result = call(ivr_server, ["3", "12#", "999#"], caller=None)
    assert result.status == "COMPLETED"
    assert streamed(result).count("callback-number-invalid") == 2
    assert row(Session, result.uniqueid).callback_number is None


def inbound_call(Session, clock, caller: str) -> str:
    """The call log's row of an inbound call from `caller` (its first channel, the trunk's,
    written by the listener's writer as Newchannel would); returns its linkedid."""
    linkedid = f"1790000100.{next(_numbers)}"
    with Session() as s:
        channel_seen(s, Chan(channel=f"PJSIP/trunk-{linkedid}", uniqueid=linkedid,
                             linkedid=linkedid, state=4, caller_num=caller, exten="4008001234",
                             context="dialfunnel-inbound"), clock.now())
        s.commit()
    return linkedid


def test_unknown_caller_asking_for_a_callback_becomes_a_reserve_customer(ivr_server, Session,
                                                                          users, clock):
    linkedid = inbound_call(Session, clock, "13800008000")
    result = call(ivr_server, ["3"], caller="13800008000", linkedid=linkedid)
    assert result.status == "CALLBACK"
    assert 'GET FULL VARIABLE "${CHANNEL(linkedid)}"' in result.commands
    logged = row(Session, result.uniqueid)
    with Session() as s:
        customer = s.scalars(select(Customer)).one()
        assert (customer.name, customer.mobile, customer.source, customer.stage,
                customer.ownership, customer.created_by_id) == (
            "来电客户 138****8000", "+8613800008000", IVR_SOURCE, "reserve", "shared", None)
        assert customer.next_callback_at == logged.callback_at == clock.now()
        assert s.scalar(select(Call.customer_id).where(Call.linkedid == linkedid)) == customer.id
        assert [r.uniqueid for r in unassigned_callbacks(s)] == [result.uniqueid]
    assert (logged.customer_id, logged.callback_number, logged.callback_record_id) == (
        customer.id, "+8613800008000", None)
    # the same caller again: the same customer, on this call too
    clock.advance(minutes=5)
    linkedid = inbound_call(Session, clock, "13800008000")
    again = call(ivr_server, ["3"], caller="13800008000", linkedid=linkedid, name="王先生")
    assert row(Session, again.uniqueid).customer_id == customer.id
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1
        assert s.scalar(select(Call.customer_id).where(Call.linkedid == linkedid)) == customer.id


def test_a_caller_id_name_names_the_customer_and_two_calls_at_once_make_one(ivr_server,
                                                                             Session, users):
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda _: call(ivr_server, ["3"], caller="02088886666",
                                            name="Zhang Wei"), range(4)))
    assert {r.status for r in done} == {"CALLBACK"}
    with Session() as s:
        customer = s.scalars(select(Customer)).one()
        assert (customer.name, customer.phone_e164) == ("Zhang Wei", "+862088886666")
    assert {row(Session, r.uniqueid).customer_id for r in done} == {customer.id}


def test_a_number_several_customers_share_gets_no_new_customer_and_no_guess(
        ivr_server, Session, users, clock, make_customer):
    one = make_customer("甲公司", phone="13500001111", owner=None)
    make_customer("乙公司", mobile="13500001111", owner=None)
    linkedid = inbound_call(Session, clock, "13500001111")
    result = call(ivr_server, ["3"], caller="13500001111", linkedid=linkedid)
    assert result.status == "CALLBACK"
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 2
        assert s.scalar(select(Call.customer_id).where(Call.linkedid == linkedid)) is None
        assert [r.uniqueid for r in unassigned_callbacks(s)] == [result.uniqueid]
    assert row(Session, result.uniqueid).customer_id == one.id   # the first, as the page shows


def test_order_status_by_order_number(ivr_server, Session, session, users, clock, make_customer):
    customer = make_customer("苏州凯达", phone="0512-6666 8888", stage="closed", owner="tm")
    order = create_order(session, users["tm"], customer.id, ITEM, clock=clock)
    update_order_status(session, users["tm"], order.id, shipping_status="shipped",
                        payment_status="partial", clock=clock)
    session.commit()
    assert order.number == "SO20261126-0001"
    result = call(ivr_server, ["1", "202611260001#", None], caller="13300000000")
    assert result.status == "COMPLETED"
    speech = result.commands[result.commands.index(
        "STREAM FILE dialfunnel/order-number-is \"\" 0"):]
    assert speech[:6] == [
        'STREAM FILE dialfunnel/order-number-is "" 0', 'SAY DIGITS "202611260001" ""',
        'STREAM FILE dialfunnel/order-status-is "" 0',
        'STREAM FILE dialfunnel/order-state-in-progress "" 0',
        'STREAM FILE dialfunnel/order-shipping-shipped "" 0',
        'STREAM FILE dialfunnel/order-payment-partial "" 0']
    assert 'GET DATA dialfunnel/enter-order-number 8000 16' in result.commands
    logged = row(Session, result.uniqueid)
    assert logged.customer_id == customer.id and logged.digits[1] == ["order_by_number", "202611260001"]
    # a short form of the same number, then one that does not exist
    result = call(ivr_server, ["1", "2026112601#", "9", "1", "202611269999#", "0"])
    assert result.status == "TRANSFER"
    assert streamed(result).count("order-state-in-progress") == 1
    assert "order-not-found" in streamed(result)


def test_order_status_by_caller_id_speaks_each_order(ivr_server, Session, session, users, clock,
                                                     make_customer):
    customer = make_customer("无锡鼎新", mobile="13812345678", stage="closed", owner="tm2")
    first = create_order(session, users["tm2"], customer.id, ITEM, clock=clock)
    update_order_status(session, users["tm2"], first.id, state="done", clock=clock)
    clock.advance(days=1)
    create_order(session, users["tm2"], customer.id, ITEM, clock=clock)
    session.commit()
    result = call(ivr_server, ["2", "0"], caller="+86 138 1234 5678")
    assert result.status == "TRANSFER"
    said = [c for c in result.commands if c.startswith("SAY DIGITS")]
    assert said == ['SAY DIGITS "202611270001" ""', 'SAY DIGITS "202611260001" ""']  # open first
    words = [s for s in streamed(result) if s.startswith("order-")]
    assert words == ["order-number-is", "order-status-is", "order-state-in-progress",
                     "order-shipping-unshipped", "order-payment-unpaid",
                     "order-number-is", "order-status-is", "order-state-done"]
    assert result.variables["DIALFUNNEL_TRANSFER"] == "queue:sales"
    assert result.variables["DIALFUNNEL_CUSTOMER_ID"] == str(customer.id)  # for the screen pop
    logged = row(Session, result.uniqueid)
    assert (logged.outcome, logged.exit_to, logged.customer_id) == ("TRANSFER", "queue:sales", customer.id)
    # a caller with no orders hears so and is back in the main menu
    result = call(ivr_server, ["2", "0"], caller="13999999999")
    assert streamed(result)[2:4] == ["order-not-found-by-caller", "main-menu"]


def test_invalid_keys_and_timeouts_retry_then_go_on_fail(ivr_server, Session):
    # main menu: a wrong key, silence, another wrong key -> on_fail: an agent
    result = call(ivr_server, ["7", None, None, "#"])
    assert result.status == "TRANSFER"
    assert streamed(result) == ["welcome", "main-menu", "invalid-key", "main-menu", "no-input",
                                "main-menu", "invalid-key", "transfer-agent"]
    assert result.commands.count("WAIT FOR DIGIT 6000") == 1
    assert row(Session, result.uniqueid).digits == [["main_menu", "7"], ["main_menu", ""],
                                                    ["main_menu", "#"]]
    # order number: too short, not a date, nothing -> on_fail: back to the main menu
    result = call(ivr_server, ["1", "123#", "99999999999#", None, "4"])
    assert result.status == "FAX"
    assert streamed(result).count("order-number-invalid") == 2
    assert streamed(result).count("no-input") == 1
    assert row(Session, result.uniqueid).path[3:6] == ["order_by_number", "main_menu",
                                                       "fax_on_demand"]


def test_fax_on_demand_sets_the_document_for_sendfax(ivr_server, Session):
    result = call(ivr_server, ["4"])
    assert result.status == "FAX" and result.agistatus == "SUCCESS" and not result.hungup
    assert result.variables["DIALFUNNEL_FAX_DOCUMENT"] == "product-sheet"
    assert streamed(result)[-1] == "fax-press-start"
    assert row(Session, result.uniqueid).outcome == "FAX"


def test_after_hours_branch_with_a_fake_clock(ivr_server, Session, users, clock, make_customer):
    make_customer(phone="13800138000", owner="tm")
    clock.set(shanghai("2026-11-28T20:00"))                      # Saturday evening
    result = call(ivr_server, ["1"])
    assert (result.status, result.variables["DIALFUNNEL_VOICEMAIL"]) == ("VOICEMAIL", "8000@dialfunnel")
    assert streamed(result) == ["welcome", "closed", "after-hours-menu", "voicemail-intro"]
    assert row(Session, result.uniqueid).path == [
        "welcome", "office_hours", "after_hours:closed_message", "after_hours:after_hours_menu",
        "after_hours:leave_message"]
    # a callback asked for after hours is booked for Monday 09:00
    result = call(ivr_server, ["2"])
    assert result.status == "CALLBACK"
    assert streamed(result)[-2:] == ["callback-booked-next-open", "goodbye"]
    logged = row(Session, result.uniqueid)
    monday = shanghai("2026-11-30T09:00")
    assert logged.callback_at == monday and logged.callback_user_id == users["tm"].id
    with Session() as s:
        assert s.get(ContactRecord, logged.callback_record_id).next_callback_at == monday
        assert emit_due_reminders(s, clock=clock) == 0
        clock.set(monday)
        assert emit_due_reminders(s, clock=clock) == 1
        s.commit()
    # a holiday morning is closed, a make-up Saturday (调休) afternoon is open
    clock.set(shanghai("2026-10-01T10:00"))
    assert streamed(call(ivr_server, [None, None]))[1] == "closed"
    clock.set(shanghai("2026-10-10T15:00"))
    assert streamed(call(ivr_server, ["4"]))[1] == "main-menu"
    # the after_hours flow reached directly: a callback is booked at once
    clock.set(shanghai("2026-11-28T21:00"))
    result = call(ivr_server, ["2"], flow="after_hours", caller="13600001111")
    assert row(Session, result.uniqueid).callback_at == shanghai("2026-11-28T21:00")


def test_a_database_failure_in_a_lookup_goes_to_on_error(ivr_server, Session, monkeypatch):
    import models.telephony.ivr

    def broken(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))
    monkeypatch.setattr(models.telephony.ivr, "orders_for_caller", broken)
    result = call(ivr_server, ["2"])
    assert result.status == "TRANSFER"
    assert streamed(result)[-2:] == ["system-busy", "transfer-agent"]
    logged = row(Session, result.uniqueid)
    assert logged.path[-2:] == ["system_busy", "to_agent"]
    assert "order_by_caller: OperationalError" in logged.error


def test_unknown_flow_and_the_registered_handler(ivr_server, Session):
    result = call(ivr_server, [], flow="nosuch")
    assert result.status == "NOFLOW" and result.commands[-1].endswith('"NOFLOW"')
    assert row(Session, result.uniqueid).outcome == "NOFLOW"
    import agi.handlers.ivr  # noqa: F401
    from agi.handlers import registry
    assert "ivr" in registry


def test_many_callers_at_once(ivr_server, Session, users, make_customer):
    make_customer(phone="13800138000", owner="tm")
    journeys = [["0"], ["3"], ["4"], ["1", "202611260001#", "0"], ["2", "0"], [None, "0"]] * 5
    with ThreadPoolExecutor(max_workers=15) as pool:
        done = list(pool.map(lambda keys: call(ivr_server, keys), journeys))
    assert {r.status for r in done} == {"TRANSFER", "CALLBACK", "FAX"}
    assert ivr_server.wait_idle() and ivr_server.active_calls == 0
    with Session() as s:
        assert s.scalar(select(IVRCall.id).where(IVRCall.outcome.in_(("ERROR", "DBERROR")))) is None
        assert len(s.scalars(select(IVRCall)).all()) == len(journeys)
        # one open callback request per customer, however many times it was asked for
        assert len(s.scalars(select(ContactRecord).where(
            ContactRecord.progress == CALLBACK_PROGRESS)).all()) == 1


# -- hanging up at every step ---------------------------------------------------------------

def no_open_transaction(engine) -> bool:
    """Nothing left idle in a transaction (PostgreSQL) / holding the write lock (SQLite)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")).scalar() == 0
    raw = sqlite3.connect(engine.url.database, timeout=0)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        raw.close()


JOURNEYS = {   # name: (keys, caller ID, when (Shanghai), expected outcome)
    "agent": (["0"], "13800138000", None, "TRANSFER"),
    "order_found": (["1", "202611260001#", None], "13800138000", None, "COMPLETED"),
    "order_missing": (["1", "202611269999#", "0"], "13800138000", None, "TRANSFER"),
    "orders_by_caller": (["2", "9", "0"], "13800138000", None, "TRANSFER"),
    "no_orders": (["2", "0"], "13700000000", None, "TRANSFER"),
    "callback": (["3"], "13800138000", None, "CALLBACK"),
    "callback_typed": (["3", "13600001111#"], None, None, "CALLBACK"),
    "callback_bad": (["3", "1#", "2#"], None, None, "COMPLETED"),
    "fax": (["4"], "13800138000", None, "FAX"),
    "timeouts": ([None] * 6, "13800138000", None, "TRANSFER"),
    "bad_numbers": (["1", "1#", "2#", "3#", "0"], "13800138000", None, "TRANSFER"),
    "system_busy": (["2"], "13800138000", "lookup fails", "TRANSFER"),
    "closed_voicemail": (["1"], "13800138000", "2026-11-28T20:00", "VOICEMAIL"),
    "closed_callback": (["2"], "13800138000", "2026-11-28T20:00", "CALLBACK"),
    "closed_typed": (["2", "13600001111#"], None, "2026-11-28T20:00", "CALLBACK"),
    "closed_nothing": ([None, None, None], None, "2026-11-28T20:00", "COMPLETED"),
}


def test_a_hangup_at_every_step_of_the_flows_ends_cleanly(ivr_server, Session, engine, session,
                                                          users, clock, results, make_customer,
                                                          monkeypatch):
    import models.telephony.ivr

    customer = make_customer(phone="13800138000", stage="closed", owner="tm")
    create_order(session, users["tm"], customer.id, ITEM, clock=clock)
    session.commit()
    base = clock.now()
    real_orders = models.telephony.ivr.orders_for_caller
    covered: set[tuple[str, str]] = set()
    runs = 0
    for name, (keys, caller, when, outcome) in JOURNEYS.items():
        if when == "lookup fails":
            def broken(*a, **k):
                raise OperationalError("SELECT", {}, Exception("database is gone"))
            monkeypatch.setattr(models.telephony.ivr, "orders_for_caller", broken)
        else:
            monkeypatch.setattr(models.telephony.ivr, "orders_for_caller", real_orders)
        clock.set(shanghai(when) if when and when[0].isdigit() else base)
        full = call(ivr_server, keys, caller=caller, uniqueid=f"{name}-full")
        assert full.status == outcome, name
        walk = results[f"{name}-full"]
        last = len(full.commands) - 2                   # the flow's last command
        flow_steps = [(p.split(":")[0] if ":" in p else "main", p.split(":")[-1])
                      for p in walk.path]
        starts = walk.step_starts + [last + 1]
        jobs = []
        for k, step in enumerate(flow_steps):
            # the caller hangs up as the step starts, and during each of its commands
            jobs.append((step, dict(hangup_before=starts[k]),
                         "HANGUP" if starts[k] <= last else outcome))
            for index in range(starts[k], starts[k + 1]):
                final = index == last and not full.commands[index].startswith(MEDIA)
                jobs.append((step, dict(hangup_at=index), outcome if final else "HANGUP"))

        def run(job):
            step, how, expected = job
            result = call(ivr_server, keys, caller=caller,
                          uniqueid=f"{name}-{step[1]}-{'-'.join(f'{k}{v}' for k, v in how.items())}",
                          **how)
            return job, result
        with ThreadPoolExecutor(max_workers=8) as pool:
            for (step, how, expected), result in pool.map(run, jobs):
                logged = row(Session, result.uniqueid)
                assert (logged.outcome, result.status) == (expected, expected), (name, step, how)
                assert result.commands[-1] == f'SET VARIABLE "DIALFUNNEL_STATUS" "{expected}"'
                covered.add(step)
                runs += 1
        assert ivr_server.wait_idle(5) and ivr_server.active_calls == 0, name
        assert no_open_transaction(engine), name
    flows = load_flows()
    every = {(flow.name, step) for flow in flows.flows.values() for step in flow.steps
             if not flow.outbound}      # voice campaigns' flows: test_voice_e2e.py
    assert covered == every, sorted(every - covered)
    assert runs > 150
    print(f"hangup runs: {runs} over {len(every)} steps")
    stats = ivr_server.stats
    assert stats["crashed"] == 0 and stats["ERROR"] == 0 and stats["DBERROR"] == 0


def test_without_on_error_a_database_failure_is_dberror_and_still_logged(Session, clock,
                                                                         tmp_path, monkeypatch):
    import shutil

    import models.telephony.ivr
    from ivr_flows import DEFAULT_DIR

    shutil.copy(DEFAULT_DIR / "prompts.yaml", tmp_path / "prompts.yaml")
    (tmp_path / "bare.yaml").write_text(
        "start: look\nsteps:\n  look:\n    lookup: orders_by_caller\n    found: bye\n"
        "    not_found: bye\n  bye:\n    hangup: goodbye\n", encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("start: x\nsteps:\n  x:\n    meun: y\n", encoding="utf-8")
    registry = Registry()
    registry.register("ivr", make_ivr_handler(flows_dir=tmp_path, clock=clock))
    with FastAGIServer(registry, Session, port=0, hangup_grace=0.3) as server:
        # the flow directory does not check: every call is refused with ERROR, and logged
        result = call(server, [], flow="bare")
        assert result.status == "ERROR" and result.commands == [
            'SET VARIABLE "DIALFUNNEL_STATUS" "ERROR"']
        assert "broken.yaml:4:" in row(Session, result.uniqueid).error
        (tmp_path / "broken.yaml").unlink()

        def broken(*a, **k):
            raise OperationalError("SELECT", {}, Exception("database is gone"))
        monkeypatch.setattr(models.telephony.ivr, "orders_for_caller", broken)
        result = call(server, [], flow="bare")
        assert result.status == "DBERROR"
        logged = row(Session, result.uniqueid)
        assert (logged.outcome, logged.path) == ("DBERROR", ["look"])
        assert "OperationalError" in logged.error
        assert server.wait_idle() and server.active_calls == 0
