"""Screen pops (T3): the pop rule (models.telephony.popups), the AMI listener (agi.ami.listener) against the PBX
simulator over real AMI TCP, reconnects, recordings made at hangup, the FastAGI variant, and
the pop panel on the web."""
from __future__ import annotations

import json
import queue
import time

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.ami.listener import ScreenPopListener, agent_endpoint
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from models.crm.contact_records import add_contact_record
from models.crm.contacts import add_contact
from models.schema import Customer, Event, Recording
from models.telephony.popups import KIND, build_pop, clean_number, create_pop_event
from recordings.store import RecordingStore

from tests.recordings.test_recordings_store import make_wav
from tests.web_helpers import post

SECRET = "dialfunnel-secret"


@pytest.fixture
def agents(session, users):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    users["mgr"].extension = "8009"
    session.commit()
    return users


# --- the rule -------------------------------------------------------------------------------
def test_known_customer_pops_with_details(session, agents, clock, make_customer):
    c = make_customer("苏州工业园区精密机械有限公司", owner="tm", phone="0512-62881234",
                      contact_person="周经理", city="苏州")
    add_contact(session, agents["admin"], c.id, dict(name="钱工", title="采购", mobile="13912345678"))
    for i in range(7):
        clock.advance(minutes=1)
        add_contact_record(session, agents["tm"], c.id, content=f"第{i}次联系", progress=f"进程{i}",
                           clock=clock)
    session.commit()
    for number in ("051262881234", "+86 512 6288 1234", "0512-62881234", "13912345678"):
        pop = build_pop(session, agents["tm"], number, caller_name="Zhou", clock=clock)
        assert pop["status"] == "known" and pop["hidden"] == 0, number
        card = pop["customers"][0]
        assert (card["id"], card["name"], card["stage"], card["ownership"], card["mine"]) == \
            (c.id, c.name, "target", "personal", True)
    assert card["contacts"][0]["name"] == "钱工"
    assert [r["progress"] for r in card["records"]] == ["进程6", "进程5", "进程4", "进程3", "进程2"]
    assert card["records"][0]["user"] == "李红光" and card["operators"] == ["李红光"]
    assert pop["call"]["e164"] == "+8613912345678" and "quick_create" not in pop
    json.dumps(pop)  # the payload goes into a JSON column and the event stream as it is


def test_colleagues_personal_customer_pops_without_details(session, agents, clock, make_customer):
    c = make_customer("无锡小天鹅电器销售部", owner="tm2", phone="0510-81234567",
                      contact_person="孙女士")
    add_contact_record(session, agents["tm2"], c.id, content="秘密报价 98 万", clock=clock)
    session.commit()
    pop = build_pop(session, agents["tm"], "051081234567", clock=clock)
    assert pop["status"] == "restricted" and pop["hidden"] == 1 and pop["customers"] == []
    text = json.dumps(pop, ensure_ascii=False)
    for secret in (c.name, "孙女士", "秘密报价", "张军", '"id"'):
        assert secret not in text
    assert "quick_create" not in pop  # offering to create it again would make a duplicate
    # the owner, a manager and (once shared) everybody see it
    assert build_pop(session, agents["tm2"], "051081234567", clock=clock)["status"] == "known"
    assert build_pop(session, agents["mgr"], "051081234567", clock=clock)["status"] == "known"
    c.ownership = "shared"
    c.operator_links.clear()
    session.commit()
    assert build_pop(session, agents["tm"], "051081234567", clock=clock)["status"] == "known"


def test_mixed_matches_show_only_what_the_agent_may_open(session, agents, clock, make_customer):
    mine = make_customer("我的客户公司", owner="tm", mobile="13800138000")
    make_customer("同事的客户公司", owner="tm2", phone="13800138000")
    make_customer("协同客户公司", owner=["tm2", "rep"], phone="+8613800138000")
    pop = build_pop(session, agents["tm"], "13800138000", clock=clock)
    assert pop["status"] == "known" and pop["hidden"] == 2
    assert [c["id"] for c in pop["customers"]] == [mine.id]
    assert "同事的客户公司" not in json.dumps(pop, ensure_ascii=False)


def test_unknown_and_withheld_numbers(session, agents, clock):
    pop = build_pop(session, agents["tm"], "13600001111", caller_name="Wang", clock=clock)
    assert pop["status"] == "unknown" and pop["customers"] == []
    assert pop["quick_create"] == {"phone": "13600001111", "contact_person": "Wang"}
    for withheld in (None, "", "<unknown>", "anonymous", "s"):
        pop = build_pop(session, agents["tm"], withheld, caller_name="<unknown>", clock=clock)
        assert pop["status"] == "unknown" and pop["call"]["withheld"] is True
        assert pop["quick_create"] == {"phone": "", "contact_person": ""}
    assert clean_number(" 010-6552 9988 ") == "010-6552 9988"
    # a colleague calling from their extension is not a customer to create
    pop = build_pop(session, agents["tm"], "8002", clock=clock)
    assert pop["status"] == "internal" and pop["colleague"] == {"name": "张军", "extension": "8002"}
    assert "quick_create" not in pop


def test_channel_names_that_ring_an_agent():
    assert agent_endpoint("PJSIP/8001-0000000a") == ("8001", None)
    assert agent_endpoint("PJSIP/8001") == ("8001", None)
    assert agent_endpoint("SIP/agent-8001-0000001f") == ("agent-8001", None)
    assert agent_endpoint("Local/agent@agents-00000011;1") == ("agent", "agents")
    assert agent_endpoint("Local/agent1@agents/n") == ("agent1", "agents")
    assert agent_endpoint("Local/8001@from-internal-00000abc;1") == ("8001", "from-internal")
    assert agent_endpoint("Local/agent@agents-00000011;2") is None  # the dialplan half
    assert agent_endpoint("Local/s@tx-dial-in-00000010;1") == ("s", "tx-dial-in")
    for other in (None, "", "Message/ast_msg_queue", "ConfBridge/room", "garbage"):
        assert agent_endpoint(other) is None


# --- the listener over real AMI TCP ---------------------------------------------------------
@pytest.fixture
def store(app):
    return RecordingStore(app.config["DATA_DIR"] / "recordings").ensure()


@pytest.fixture
def pbx():
    scenario = Scenario(seed=3, dial_agent="Local/8001@agents", queue_member="Local/8001@agents/n")
    server = AMIServer(scenario=scenario, clock=SimClock(), auth_fail_delay=0).start()
    yield server
    server.stop()


def make_listener(Session, pbx, clock, store, **kw):
    pops, recs = queue.Queue(), queue.Queue()
    listener = ScreenPopListener(
        Session, host="127.0.0.1", port=pbx.port, username="dialfunnel", secret=SECRET,
        clock=clock, store=store, settle_seconds=0.05, connect_backoff=(0.05, 2.0, 0.2),
        client_options=dict(backoff_initial=0.05, backoff_max=0.2),
        on_pop=lambda *a: pops.put(a), on_recording=recs.put, **kw)
    listener.pops, listener.recs = pops, recs
    return listener


@pytest.fixture
def listener(Session, pbx, clock, store, agents):
    listener = make_listener(Session, pbx, clock, store).start()
    assert listener.wait_connected(5)
    yield listener
    listener.stop()


@pytest.fixture
def caller(pbx):
    """Plays the calling side: an Originate into tx-dial-in / tx-queue-in rings the agent."""
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False,
                       backoff_initial=0.05, backoff_max=0.2)
    client.connect()

    def ring(number, name="Alice Example", context="tx-dial-in", **kw):
        return client.originate(f"Local/s@{context}", context="tx-caller", exten="s",
                                caller_id=f'"{name}" <{number}>', **kw)
    yield ring
    client.close()


def pop_events(session, user_id=None):
    session.commit()
    stmt = select(Event).where(Event.kind == KIND).order_by(Event.id)
    if user_id is not None:
        stmt = stmt.where(Event.user_id == user_id)
    rows = list(session.scalars(stmt))
    session.commit()
    return rows


def test_dial_to_agent_pops_the_customer(session, agents, listener, caller, make_customer):
    c = make_customer("上海浦东物流有限公司", owner="tm", mobile="13800138000")
    handle = caller("13800138000", name="Li Lei")
    event_id, user_id, payload = listener.pops.get(timeout=5)
    assert user_id == agents["tm"].id
    assert payload["status"] == "known" and payload["customers"][0]["id"] == c.id
    call = payload["call"]
    assert (call["number"], call["name"], call["linkedid"], call["source"], call["queue"]) == \
        ("13800138000", "Li Lei", handle.channel_id, "DialBegin", None)
    assert call["uniqueid"] == handle.other_channel_id  # the calling channel (;2 of the caller)
    [event] = pop_events(session)
    assert (event.id, event.user_id, event.payload["status"]) == (event_id, agents["tm"].id, "known")


def test_queue_member_pops_once(session, agents, listener, caller, make_customer):
    caller("02088886666", context="tx-queue-in")
    event_id, user_id, payload = listener.pops.get(timeout=5)
    assert user_id == agents["tm"].id and payload["call"]["queue"] == "sales"
    assert payload["call"]["source"] == "AgentCalled" and payload["status"] == "unknown"
    time.sleep(0.3)  # DialBegin for the same ring follows AgentCalled: no second pop
    assert listener.pops.empty() and len(pop_events(session)) == 1
    assert listener.stats["duplicates"] == 1


def test_a_call_the_dialer_already_popped_does_not_pop_again_when_it_rings(
        session, agents, listener, caller, clock, make_customer):
    """The dialer pops a campaign call when it picks the agent; the same call then rings the
    agent's phone and the listener sees it: one pop per call and agent."""
    c = make_customer("无锡新区电子有限公司", owner="tm", mobile="13800138000")
    first = create_pop_event(session, agents["tm"], "13800138000", clock=clock, call=dict(
        uniqueid="df-attempt-7", linkedid="df-attempt-7", direction="outbound",
        source="campaign"))
    session.commit()
    caller("13800138000", channel_id="df-attempt-7")
    event_id, user_id, payload = listener.pops.get(timeout=5)
    assert (event_id, user_id, payload["call"]["source"]) == (first.id, agents["tm"].id, "campaign")
    assert [e.id for e in pop_events(session)] == [first.id]
    caller("13800138000")  # another call from the same number pops again
    event_id, _, payload = listener.pops.get(timeout=5)
    assert event_id != first.id and payload["customers"][0]["id"] == c.id
    assert len(pop_events(session)) == 2


def test_one_pop_per_call_and_agent_within_the_window(session, agents, clock):
    call = dict(linkedid="1764120000.42", direction="inbound")
    first = create_pop_event(session, agents["tm"], "13800138000", clock=clock, call=call)
    assert create_pop_event(session, agents["tm"], "13800138000", clock=clock, call=call) is first
    other_agent = create_pop_event(session, agents["tm2"], "13800138000", clock=clock, call=call)
    other_call = create_pop_event(session, agents["tm"], "13800138000", clock=clock,
                                  call=dict(call, linkedid="1764120000.43"))
    no_linkedid = [create_pop_event(session, agents["tm"], "13800138000", clock=clock)
                   for _ in range(2)]
    assert len({first.id, other_agent.id, other_call.id, *(e.id for e in no_linkedid)}) == 5
    clock.advance(minutes=11)
    assert create_pop_event(session, agents["tm"], "13800138000", clock=clock, call=call) \
        is not first


def test_pjsip_phone_and_who_gets_no_pop(session, agents, pbx, listener, caller):
    pbx.scenario.dial_agent = "PJSIP/8002"
    caller("13311112222")
    _, user_id, _ = listener.pops.get(timeout=5)
    assert user_id == agents["tm2"].id
    pbx.scenario.dial_agent = "PJSIP/7777"  # nobody's extension
    caller("13311112223")
    agents["tm2"].active = False
    session.commit()
    pbx.scenario.dial_agent = "PJSIP/8002"  # an inactive user's
    caller("13311112224")
    time.sleep(0.5)
    assert listener.pops.empty() and len(pop_events(session)) == 1


def test_agent_contexts_filter_local_channels(Session, session, agents, pbx, clock, store, caller):
    listener = make_listener(Session, pbx, clock, store, agent_contexts={"dialfunnel-agents"}).start()
    try:
        assert listener.wait_connected(5)
        caller("13311113333")  # Local/8001@agents: not an agent context here
        pbx.scenario.dial_agent = "Local/8001@dialfunnel-agents"
        caller("13311113334")
        _, _, payload = listener.pops.get(timeout=5)
        assert payload["call"]["number"] == "13311113334"
        time.sleep(0.3)
        assert listener.pops.empty()
    finally:
        listener.stop()


def test_listener_reconnects_after_ami_drops(session, agents, pbx, listener, caller):
    caller("13500000001")
    listener.pops.get(timeout=5)
    pbx.drop_connections()  # Asterisk restarts; the caller's client reconnects too
    deadline = time.monotonic() + 10
    while listener.client.connects < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listener.client.connects == 2 and listener.client.connected
    time.sleep(0.3)  # let the caller's client log in again as well
    caller("13500000002")
    _, _, payload = listener.pops.get(timeout=5)
    assert payload["call"]["number"] == "13500000002"
    # down for a while (connections refused), then back: still pops
    pbx.refuse_connections = True
    pbx.drop_connections()
    time.sleep(0.5)
    assert not listener.client.connected
    pbx.refuse_connections = False
    deadline = time.monotonic() + 10
    while not listener.client.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listener.client.connected
    time.sleep(0.3)
    caller("13500000003")
    _, _, payload = listener.pops.get(timeout=5)
    assert payload["call"]["number"] == "13500000003"
    assert [e.payload["call"]["number"] for e in pop_events(session)] == \
        ["13500000001", "13500000002", "13500000003"]


def test_listener_waits_for_asterisk_to_come_up(Session, session, agents, pbx, clock, store, caller):
    pbx.refuse_connections = True
    listener = make_listener(Session, pbx, clock, store).start()
    try:
        time.sleep(0.4)
        assert not listener.connected.is_set()
        pbx.refuse_connections = False
        assert listener.wait_connected(5)
        caller("13500000009")
        assert listener.pops.get(timeout=5)[2]["call"]["number"] == "13500000009"
    finally:
        listener.stop()


# --- recordings made by the listener at hangup ----------------------------------------------
def _mixmonitor(pbx, handle, path):
    """What MixMonitor() on the caller's channel reports (ami-mixmonitor.txt): VarSet of
    MIXMONITOR_FILENAME, then MixMonitorStart."""
    call = pbx.calls[handle.channel_id]
    pbx.emit("VarSet", call.chan("o2") + [("Variable", "MIXMONITOR_FILENAME"), ("Value", path)])
    pbx.emit("MixMonitorStart", call.chan("o2"))


def test_recording_is_stored_and_linked_at_hangup(session, agents, pbx, listener, caller, clock,
                                                  store, make_customer):
    c = make_customer("杭州阿里巴巴客服中心", owner="tm", phone="0571-85022088")
    handle = caller("057185022088")
    listener.pops.get(timeout=5)
    uid = handle.other_channel_id
    make_wav(store.incoming / f"dialfunnel-{uid}.wav", seconds=3)
    _mixmonitor(pbx, handle, f"/var/spool/asterisk/monitor/dialfunnel-{uid}.wav")
    record = add_contact_record(session, agents["tm"], c.id, content="来电咨询", clock=clock)
    session.commit()
    pbx.clock.advance(seconds=30)  # answered, talk, hang up
    rec_id = listener.recs.get(timeout=15)
    rec = session.get(Recording, rec_id)
    assert (rec.uniqueid, rec.linkedid, rec.user_id, rec.customer_id, rec.contact_record_id) == \
        (uid, handle.channel_id, agents["tm"].id, c.id, record.id)
    assert rec.duration_ms == 3000 and rec.direction == "inbound" and rec.caller_number == "057185022088"
    assert store.exists(rec.file_key) and rec.file_key.endswith(".mp3")
    assert not (store.incoming / f"dialfunnel-{uid}.wav").exists()
    session.commit()


def test_recording_without_varset_and_hostile_filename(session, agents, pbx, listener, caller,
                                                       store, tmp_path):
    # the dialplan names files <UNIQUEID>.wav and the Events filter drops VarSet: found anyway
    handle = caller("13700000001")
    listener.pops.get(timeout=5)
    make_wav(store.incoming / f"{handle.other_channel_id}.wav", seconds=1)
    # a second call whose MIXMONITOR_FILENAME tries to climb out of the incoming folder
    h2 = caller("13700000002")
    listener.pops.get(timeout=5)
    (tmp_path / "etc").mkdir()
    make_wav(tmp_path / "etc" / "passwd.wav", seconds=1)
    _mixmonitor(pbx, h2, f"{store.incoming}/../../etc/passwd.wav")
    pbx.clock.advance(seconds=30)
    rec_id = listener.recs.get(timeout=15)
    assert session.get(Recording, rec_id).uniqueid == handle.other_channel_id
    time.sleep(0.5)
    session.commit()
    assert listener.recs.empty()
    assert (tmp_path / "etc" / "passwd.wav").exists()  # looked up as incoming/passwd.wav: absent
    assert session.scalar(select(Recording).where(Recording.uniqueid == h2.other_channel_id)) is None
    session.commit()


def test_stop_mixmonitor_then_hangup_makes_one_recording(session, agents, pbx, listener, caller,
                                                        store):
    handle = caller("13700000003")
    listener.pops.get(timeout=5)
    uid = handle.other_channel_id
    make_wav(store.incoming / f"{uid}.wav", seconds=1)
    _mixmonitor(pbx, handle, f"/var/spool/asterisk/monitor/{uid}.wav")
    pbx.emit("MixMonitorStop", pbx.calls[handle.channel_id].chan("o2"))  # StopMixMonitor()
    first = listener.recs.get(timeout=15)
    pbx.clock.advance(seconds=30)  # then the hangup: the same file must not be taken twice
    time.sleep(0.5)
    assert listener.recs.empty() and listener.stats["recording_errors"] == 0
    rec = session.get(Recording, first)
    assert rec.uniqueid == uid and store.exists(rec.file_key)
    session.commit()


def _ring_also(pbx, handle, extension):
    """A ringall queue rings a second member for the same call: its AgentCalled (ami-a4q)."""
    call = pbx.calls[handle.channel_id]
    pbx.emit("AgentCalled", call.chan("o2") + [
        ("DestChannel", f"Local/{extension}@agents-0000ff01;1"), ("Queue", "sales"),
        ("Interface", f"Local/{extension}@agents/n"), ("MemberName", extension)])


def test_the_member_who_answers_gets_the_recording(session, agents, pbx, listener, caller,
                                                  store, make_customer):
    """Two members ring, one answers (AgentConnect, DialEnd ANSWER): the recording is that
    agent's, and answering does not fail in the listener."""
    c = make_customer("宁波港口物流有限公司", owner="tm", mobile="13800138111")
    handle = caller("13800138111", context="tx-queue-in")
    assert listener.pops.get(timeout=5)[1] == agents["tm"].id        # Local/8001@agents/n
    _ring_also(pbx, handle, "8002")
    assert listener.pops.get(timeout=5)[1] == agents["tm2"].id
    uid = handle.other_channel_id
    make_wav(store.incoming / f"{uid}.wav", seconds=1)
    _mixmonitor(pbx, handle, f"/var/spool/asterisk/monitor/dialfunnel/{uid}.wav")
    pbx.clock.advance(seconds=30)  # 8001 answers (AgentConnect), talks, hangs up
    rec = session.get(Recording, listener.recs.get(timeout=15))
    assert (rec.user_id, rec.customer_id, rec.linkedid) == (agents["tm"].id, c.id, handle.channel_id)
    assert listener.stats["errors"] == 0
    session.commit()


@pytest.mark.parametrize("varset", [True, False], ids=["varset", "events-without-varset"])
def test_listener_completes_a_recording_the_hangup_handler_stored_first(
        Session, session, agents, pbx, listener, caller, clock, store, make_customer, varset):
    """On a real Asterisk recording_done (the hangup handler) runs before the Hangup event:
    the handler stores the recording with what the channel's variables say (here nothing of
    the agent), then the listener's Hangup adds the agent it saw answer, and with it the
    contact record the agent wrote during the call; also when the listener never saw the
    MIXMONITOR_FILENAME VarSet (and the WAV is gone already)."""
    from agi.fastagi.server import FastAGIServer
    from agi.handlers import recording_done, registry
    from agi.pbxsim.agi_driver import Scenario as AGIScenario
    from agi.pbxsim.agi_driver import run_call
    c = make_customer("舟山海鲜批发有限公司", owner="tm", mobile="13800138222")
    handle = caller("13800138222")
    listener.pops.get(timeout=5)
    uid = handle.other_channel_id
    path = f"/var/spool/asterisk/monitor/dialfunnel/{uid}.wav"
    make_wav(store.incoming / f"{uid}.wav", seconds=1)
    if varset:
        _mixmonitor(pbx, handle, path)
    pbx.clock.advance(seconds=2.5)  # the agent answers (DialEnd ANSWER)
    record = add_contact_record(session, agents["tm"], c.id, content="通话中", clock=clock)
    session.commit()
    recording_done.configure(store, clock=clock)
    server = FastAGIServer(registry, Session, port=0).start()
    try:
        result = run_call("127.0.0.1", server.port, "recording_done", args=(path, "inbound"),
                          callerid="13800138222", env={"agi_uniqueid": uid},
                          scenario=AGIScenario(hangup_before=0, linkedid=handle.channel_id))
    finally:
        server.shutdown(5)
        recording_done.configure(None)
    assert result.status == "STORED"
    rec = session.scalar(select(Recording).where(Recording.uniqueid == uid))
    assert (rec.customer_id, rec.user_id, rec.contact_record_id) == (c.id, None, None)
    session.commit()
    pbx.clock.advance(seconds=30)  # then the Hangup
    deadline = time.monotonic() + 10
    while listener.stats["recordings_completed"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    session.commit()
    session.expire_all()  # the test's session does not expire on commit
    rec = session.scalar(select(Recording).where(Recording.uniqueid == uid))
    assert (rec.customer_id, rec.user_id, rec.contact_record_id, rec.linkedid) == (
        c.id, agents["tm"].id, record.id, handle.channel_id)
    assert listener.recs.empty() and listener.stats["recording_errors"] == 0
    session.commit()


def test_listener_as_its_own_process(db_url, session, agents, pbx, caller, tmp_path):
    """`python -m agi.ami.listener` with the settings from the environment; SIGTERM ends it."""
    import os
    import signal
    import subprocess
    import sys
    env = dict(os.environ, DIALFUNNEL_DATABASE_URL=db_url, DIALFUNNEL_DATA_DIR=str(tmp_path),
               DIALFUNNEL_AMI_PORT=str(pbx.port), DIALFUNNEL_AMI_SECRET=SECRET,
               DIALFUNNEL_LOG_LEVEL="INFO")
    proc = subprocess.Popen([sys.executable, "-m", "agi.ami.listener"], env=env, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not [s for s in pbx.sessions if s.authenticated and s.events]:
            time.sleep(0.05)
        caller("13800000077")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not pop_events(session):
            time.sleep(0.05)
        [event] = pop_events(session)
        assert event.user_id == agents["tm"].id and event.payload["call"]["number"] == "13800000077"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "AMI listener connected" in err and "screen pop" in err


# --- the FastAGI variant --------------------------------------------------------------------
class StubAGI:
    def __init__(self, env, query=None):
        self.env, self.query, self.vars = env, query or {}, {}

    def set_variable(self, name, value):
        self.vars[name] = value


def test_fastagi_popup_handler(session, agents, make_customer):
    from agi.handlers.popup import extensions, popup
    make_customer("深圳华强电子市场", owner=None, phone="0755-83211111")
    assert extensions(["PJSIP/8001&PJSIP/8002", "8001", "Local/8009@agents/n"]) == ["8001", "8002", "8009"]
    agi = StubAGI({"agi_callerid": "075583211111", "agi_calleridname": "Huaqiang",
                   "agi_uniqueid": "1795713036.77"}, {"queue": "sales"})
    assert popup(agi, session, ["8001&8002&7777"]) is None
    assert agi.vars == {"DIALFUNNEL_POPS": "2"}
    events = pop_events(session)
    assert sorted(e.user_id for e in events) == sorted([agents["tm"].id, agents["tm2"].id])
    assert {e.payload["status"] for e in events} == {"known"}
    assert events[0].payload["call"]["queue"] == "sales" and events[0].payload["call"]["source"] == "agi"
    agi = StubAGI({"agi_callerid": "unknown", "agi_uniqueid": "1795713036.78"})
    assert popup(agi, session, ["7777"]) == "NOAGENT" and agi.vars == {"DIALFUNNEL_POPS": "0"}


# --- the pop panel on the web (test client) ---------------------------------------------------
@pytest.fixture
def web(app):
    from admin import popups, recordings
    for module in (recordings, popups):
        if module.bp.name not in app.blueprints:
            app.register_blueprint(module.bp)
    return app


def test_pop_panel_is_private_and_applies_visibility(web, as_user, session, agents, clock,
                                                     make_customer):
    c = make_customer("南京金陵饭店", owner="tm2", phone="025-84711888")
    mine = create_pop_event(session, agents["tm"], "02584711888", clock=clock)
    theirs = create_pop_event(session, agents["tm2"], "02584711888", clock=clock)
    session.commit()
    client = as_user("tm")
    html = client.get(f"/pops/{mine.id}", headers={"X-Requested-With": "fetch"}).get_data(as_text=True)
    assert 'data-status="restricted"' in html and "已有客户，由同事负责" in html
    assert c.name not in html and "<html" not in html
    internal = create_pop_event(session, agents["tm"], "8009", clock=clock)
    session.commit()
    html = client.get(f"/pops/{internal.id}?fragment=1").get_data(as_text=True)
    assert 'data-status="internal"' in html and "内部来电：王经理（分机 8009）" in html
    assert client.get(f"/pops/{theirs.id}").status_code == 404  # somebody else's pop
    page = as_user("tm2").get(f"/pops/{theirs.id}").get_data(as_text=True)
    assert c.name in page and "<html" in page and "新添联系" in page


def test_quick_create_from_the_pop(web, as_user, session, agents, clock, make_customer):
    event = create_pop_event(session, agents["tm"], "13912340000", caller_name="Wu", clock=clock)
    session.commit()
    client = as_user("tm")
    html = client.get(f"/pops/{event.id}").get_data(as_text=True)
    assert 'value="13912340000"' in html and 'value="Wu"' in html
    r = post(client, f"/pops/{event.id}/customer",
             dict(name="常州新客户有限公司", contact_person="吴先生", phone="13912340000", stage="potential"))
    assert r.status_code == 302 and r.headers["Location"].endswith("/track#new-record")
    customer = session.scalar(select(Customer).where(Customer.name == "常州新客户有限公司"))
    assert (customer.stage, customer.ownership, customer.operator_ids, customer.mobile_e164 or
            customer.phone_e164) == ("potential", "personal", [agents["tm"].id], "+8613912340000")
    session.commit()
    # the same pop now shows the customer; a duplicate name is refused on the pop page
    html = client.get(f"/pops/{event.id}").get_data(as_text=True)
    assert 'data-status="known"' in html and "常州新客户有限公司" in html
    other = create_pop_event(session, agents["tm"], "13912340001", clock=clock)
    session.commit()
    r = post(client, f"/pops/{other.id}/customer", dict(name="常州新客户有限公司"))
    assert r.status_code == 400 and "客户名称已存在" in r.get_data(as_text=True)
    # nobody creates through another agent's pop
    assert post(as_user("tm2"), f"/pops/{other.id}/customer", dict(name="X公司")).status_code == 404


def test_ingest_recording_for_a_fastagi_recording_done_handler(session, agents, store, clock,
                                                               make_customer):
    """The dialplan's hangup handler path: AGI(recording_done,<file>,<kind>) after StopMixMonitor."""
    from agi.ami.listener import RecordingJob, ingest_recording
    c = make_customer("厦门鼓浪屿旅行社", owner="tm", phone="0592-2066666")
    make_wav(store.incoming / "1795713099.12.wav", seconds=1.5)
    job = RecordingJob("1795713099.12", "/var/spool/asterisk/monitor/dialfunnel/1795713099.12.wav",
                       number="05922066666", direction="outbound", user_id=agents["tm"].id)
    rec = ingest_recording(session, store, job, clock=clock)
    session.commit()
    store.remove_incoming(job.filename)
    assert (rec.customer_id, rec.duration_ms, rec.direction) == (c.id, 1500, "outbound")
    assert store.exists(rec.file_key) and not (store.incoming / "1795713099.12.wav").exists()
    assert ingest_recording(session, store, job, clock=clock) is None  # idempotent
    assert ingest_recording(session, store, RecordingJob("x.1", "/nope/x.1.wav"), clock=clock) is None
    session.commit()
