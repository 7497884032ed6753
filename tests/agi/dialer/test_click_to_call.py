"""Click-to-call's originating side (agi/dialer/click_to_call.py) over real AMI sockets against
the PBX simulator, with the call log's listener running: the request → ExtensionState →
Originate of the agent's phone → the customer dialled → the calls row; a phone that is busy,
does not answer, is not registered or is in use fails the request with its reason."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from agi.ami.client import AMIClient
from agi.dialer.click_to_call import ClickToCall
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from models.clock import SYSTEM_CLOCK
from models.schema import Event
from models.schema.calls import CallLeg, CallRequest
from models.dialer import click_to_call as c2c

from tests.agi.ami.test_call_log import ended_call, run, start_listener, wait_for

T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)   # 10:00 in Shanghai
PHONES = {"8002": "busy", "8003": "noanswer", "8004": "unavailable", "8005": "inuse"}
CUSTOMERS = {"13900000006": "busy", "13900000007": "noanswer"}


@pytest.fixture
def simclock():
    return SimClock(T0)


@pytest.fixture
def agents(session, users):
    for name, ext in (("tm", "8001"), ("tm2", "8002"), ("rep", "8003"), ("mgr", "8004"),
                      ("admin", "8005")):
        users[name].extension = ext
    session.commit()
    return users


@pytest.fixture
def pbx(simclock):
    server = AMIServer(scenario=Scenario(seed=3, phones=dict(PHONES), numbers=dict(CUSTOMERS)), clock=simclock,
                       auth_fail_delay=0, channel_seq=0).start()
    yield server
    server.stop()


@pytest.fixture
def listener(Session, pbx, simclock, agents):
    listener = start_listener(Session, pbx, simclock)
    yield listener
    listener.stop()


@pytest.fixture
def click(Session, pbx, simclock):
    ami = AMIClient("127.0.0.1", pbx.port, "dialfunnel", "dialfunnel-secret", events="call,user",
                    reconnect=False)
    c = ClickToCall(Session, ami, dialer_id="d1", clock=simclock, ring_seconds=5)
    c.attach()
    ami.connect()
    yield c
    ami.close()


def request(Session, users, name, customer_id, target="mobile", clock=None):
    with Session() as s:
        r = c2c.request_call(s, s.merge(users[name]), customer_id, target, clock=clock or SYSTEM_CLOCK)
        s.commit()
        return r.id, r.channel_id


def state_of(Session, request_id):
    with Session() as s:
        r = s.get(CallRequest, request_id)
        return r.state, r.reason


def settle(click, Session, request_id, wanted, timeout=10.0):
    def done():
        click.step()
        return state_of(Session, request_id)[0] == wanted
    wait_for(done, timeout)


def test_a_click_to_call_rings_the_agent_then_the_customer_and_ends(
        Session, agents, pbx, listener, click, simclock, make_customer):
    customer = make_customer("上海浦东物流有限公司", owner="tm", mobile="13900000001")
    request_id, channel_id = request(Session, agents, "tm", customer.id, clock=simclock)
    click.poll(force=True)
    [asked] = pbx.actions("ExtensionState")
    assert (asked["Exten"], asked["Context"]) == ("8001", "dialfunnel-hints")
    [orig] = pbx.actions("Originate")
    assert (orig["Channel"], orig["Context"], orig["Exten"], orig["ChannelId"]) == (
        "PJSIP/8001", "dialfunnel-click-to-call", "13900000001", channel_id)
    assert "DIALFUNNEL_AGENT=8001" in orig.get_all("Variable")
    assert pbx.scheduler.settle()
    settle(click, Session, request_id, "ringing_agent")
    run(pbx, 1.0)                                   # the agent's phone answers
    settle(click, Session, request_id, "ringing_customer")
    run(pbx, 2.0)                                   # the customer answers
    settle(click, Session, request_id, "talking")
    run(pbx, 4.0)                                   # talks, hangs up
    settle(click, Session, request_id, "ended")
    call = ended_call(Session, channel_id)
    assert (call.direction, call.user_id, call.customer_id, call.to_number, call.from_number) == (
        "click_to_call", agents["tm"].id, customer.id, "+8613900000001", "8001")
    assert call.answered_at is not None and call.talk_seconds == pytest.approx(4.0, abs=0.6)
    with Session() as s:
        roles = sorted(leg.role for leg in s.scalars(select(CallLeg).where(CallLeg.call_id == call.id)))
        status = c2c.status(s, s.merge(agents["tm"]), request_id)
    assert roles == ["agent", "customer"]
    assert (status["state"], status["call_id"]) == ("ended", call.id)
    with Session() as s:   # the agent's phone rang for the call they clicked: no screen pop
        assert s.scalar(select(func.count()).select_from(Event).where(Event.kind == "screen_pop")) == 0


def test_the_user_hangs_up_from_the_page(Session, agents, pbx, listener, click, simclock, make_customer):
    customer = make_customer(owner="tm", mobile="13900000002")
    request_id, channel_id = request(Session, agents, "tm", customer.id, clock=simclock)
    click.poll(force=True)
    assert pbx.scheduler.settle()
    run(pbx, 3.0)
    settle(click, Session, request_id, "talking")
    with Session() as s:
        c2c.request_hangup(s, s.merge(agents["tm"]), request_id)
        s.commit()
    click.poll(force=True)
    [hangup] = pbx.actions("Hangup")
    assert hangup["Channel"] == channel_id
    assert pbx.scheduler.settle()
    settle(click, Session, request_id, "ended")
    assert ended_call(Session, channel_id).direction == "click_to_call"


@pytest.mark.parametrize("user, seconds, reason, originated", [
    ("tm2", 2.0, "click_to_call.phone_busy", True),              # declines: SIP 486, cause 17
    ("rep", 6.0, "click_to_call.agent_no_answer", True),         # rings past the 5 s Timeout
    ("mgr", 0.0, "click_to_call.phone_unregistered", False),     # ExtensionState 4 Unavailable
    ("admin", 0.0, "click_to_call.phone_busy", False),           # ExtensionState 1 InUse
])
def test_the_agents_phone_that_cannot_take_the_call_fails_the_request(
        Session, agents, pbx, listener, click, simclock, make_customer, user, seconds, reason, originated):
    customer = make_customer(owner=None, mobile="13900000003")
    request_id, _ = request(Session, agents, user, customer.id, clock=simclock)
    click.poll(force=True)
    assert bool(pbx.actions("Originate")) == originated
    assert pbx.scheduler.settle()
    run(pbx, seconds)
    settle(click, Session, request_id, "failed")
    assert state_of(Session, request_id) == ("failed", reason)


@pytest.mark.parametrize("number, seconds, reason", [
    ("13900000006", 3.0, "click_to_call.customer_busy"),
    ("13900000007", 62.0, "click_to_call.customer_no_answer"),   # dialfunnel-trunk-out's Dial(,60)
])
def test_a_customer_who_does_not_answer_fails_the_request_and_the_call_is_logged(
        Session, agents, pbx, listener, click, simclock, make_customer, number, seconds, reason):
    customer = make_customer(owner="tm", mobile=number)
    request_id, channel_id = request(Session, agents, "tm", customer.id, clock=simclock)
    click.poll(force=True)
    assert pbx.scheduler.settle()
    run(pbx, 1.0)
    settle(click, Session, request_id, "ringing_customer")
    run(pbx, seconds)
    settle(click, Session, request_id, "failed")
    assert state_of(Session, request_id) == ("failed", reason)
    call = ended_call(Session, channel_id)
    assert (call.direction, call.customer_id, call.answered_at) == ("click_to_call", customer.id, None)


def test_an_originate_to_a_phone_that_is_gone_fails_without_a_hangup(
        Session, agents, pbx, click, simclock, make_customer, session):
    """A phone with no hint (ExtensionState -1: unknown, so the Originate is tried) that is not
    registered: the Originate fails and no channel, hence no Hangup, ever comes."""
    agents["tm"].extension = "9001"
    session.commit()
    pbx.scenario.phones["9001"] = "unavailable"
    customer = make_customer(owner=None, mobile="13900000004")
    request_id, _ = request(Session, agents, "tm", customer.id, clock=simclock)
    click.poll(force=True)
    assert pbx.actions("Originate")[0]["Channel"] == "PJSIP/9001"
    assert pbx.scheduler.settle()
    settle(click, Session, request_id, "failed")
    assert state_of(Session, request_id) == ("failed", "click_to_call.phone_unregistered")


def test_the_dialer_process_places_click_to_calls(Session, agents, make_customer):
    """start_dialer (what `dialfunnel run` and `dialfunnel dialer` start) runs click-to-call in
    its loop: a request made on the web is dialled and followed to its end, in real time."""
    import dataclasses

    from agi.dialer.process import start_dialer
    from config.settings import Settings

    customer = make_customer(owner="tm", mobile="13900000005")
    timing = {"click": {"agent_ring": 0.2, "ring_time": 0.2, "talk_time": 0.3}}
    with AMIServer(scenario=Scenario(timing=timing), auth_fail_delay=0) as server:
        dialer, thread = start_dialer(dataclasses.replace(Settings(), dialer_id="p"), Session,
                                      port=server.port, secret="dialfunnel-secret")
        try:
            request_id, _ = request(Session, agents, "tm", customer.id)
            wait_for(lambda: state_of(Session, request_id)[0] == "ended", 10)
        finally:
            dialer.stop()
            thread.join(10)
    assert server.actions("Originate")[0]["Channel"] == "PJSIP/8001"
