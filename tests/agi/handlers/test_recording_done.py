"""The dialplan's recording_done handler over a real FastAGI socket.

It runs as a hangup handler: the channel is already down (Scenario hangup_before=0) and the
variables the dialplan left on it are read with GET VARIABLE, as on the real PBX
(tests/fixtures/asterisk/real-run-2026-12: ami-a4q, ami-a5, ami-a6agent)."""
import logging

import pytest
from sqlalchemy import select

from agi.fastagi.server import FastAGIServer
from agi.handlers import recording_done, registry
from agi.pbxsim.agi_driver import Scenario, run_call
from models.crm.contact_records import add_contact_record
from models.schema import Campaign, DialAttempt, Recording
from recordings.store import RecordingStore

from tests.recordings.test_recordings_store import make_wav

SPOOL = "/var/spool/asterisk/monitor/dialfunnel"
COMPANY_CALLER_ID = "+862155550000"


@pytest.fixture
def store(tmp_path, clock):
    store = RecordingStore(tmp_path / "recordings", tmp_path / "monitor")
    store.incoming.mkdir(parents=True)
    recording_done.configure(store, clock=clock)
    yield store
    recording_done.configure(None)


@pytest.fixture
def server(Session, store):
    server = FastAGIServer(registry, Session, port=0).start()
    yield server
    server.shutdown(5)


@pytest.fixture
def agents(session, users):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    session.commit()
    return users


def hangup_handler(server, store, uniqueid, kind, *, callerid=None, variables=None,
                   linkedid=None, seconds=1.0):
    """The dialplan's dialfunnel-recording-done handler on a hung-up channel."""
    make_wav(store.incoming / f"{uniqueid}.wav", seconds=seconds)
    return run_call("127.0.0.1", server.port, "recording_done",
                    args=(f"{SPOOL}/{uniqueid}.wav", kind), callerid=callerid,
                    env={"agi_uniqueid": uniqueid},
                    scenario=Scenario(hangup_before=0, variables=variables or {},
                                      linkedid=linkedid))


def stored(session, uniqueid):
    """The row as it is now (detached; no transaction stays open to lock SQLite)."""
    session.commit()
    rec = session.scalar(select(Recording).where(Recording.uniqueid == uniqueid))
    if rec is not None:
        session.expunge(rec)
    session.commit()
    return rec


def test_finished_recording_is_stored_once(Session, session, store, make_customer):
    c = make_customer("广州录音测试有限公司", stage="target", owner="tm", mobile="13812345678")
    wav = make_wav(store.incoming / "1700000000.7.wav", seconds=2.0)
    server = FastAGIServer(registry, Session, port=0).start()
    try:
        first = run_call("127.0.0.1", server.port, "recording_done",
                         args=(f"/var/spool/asterisk/monitor/dialfunnel/{wav.name}", "inbound"),
                         callerid="13812345678", env={"agi_uniqueid": "1700000000.7"})
        again = run_call("127.0.0.1", server.port, "recording_done",
                         args=(f"/var/spool/asterisk/monitor/dialfunnel/{wav.name}", "inbound"),
                         callerid="13812345678", env={"agi_uniqueid": "1700000000.7"})
        empty = run_call("127.0.0.1", server.port, "recording_done", args=())
    finally:
        server.shutdown(5)
    assert first.variables["DIALFUNNEL_STATUS"] == "STORED"
    assert again.variables["DIALFUNNEL_STATUS"] == "SKIPPED"
    assert empty.variables["DIALFUNNEL_STATUS"] == "ERROR"
    assert not wav.exists()  # taken out of the incoming folder
    rows = session.scalars(select(Recording)).all()
    assert len(rows) == 1
    assert (rows[0].uniqueid, rows[0].customer_id, rows[0].direction) == (
        "1700000000.7", c.id, "inbound")
    assert 1900 <= rows[0].duration_ms <= 2100


def test_an_agents_own_call_is_stored_with_the_agent_and_the_dialled_customer(
        session, agents, server, store, make_customer):
    """dialfunnel-trunk-out: kind `agent`; the caller ID is the company's (or the extension),
    the agent and the dialled number are DIALFUNNEL_AGENT / DIALFUNNEL_PEER (ami-a6agent)."""
    c = make_customer("温州外呼客户有限公司", owner="tm", mobile="13900000001")
    uid, linkedid = "6e719ea6-a2a6-4ef0-b62e-1b66d1164dd1", "faf785a5-0298-4459-8e76-01a8006b6bc3"
    result = hangup_handler(server, store, uid, "agent", callerid=COMPANY_CALLER_ID,
                            linkedid=linkedid, variables={
                                "DIALFUNNEL_AGENT": "8001", "DIALFUNNEL_PEER": "13900000001",
                                "DIALEDPEERNAME": "PJSIP/dialfunnel-trunk-00000017"})
    assert result.status == "STORED" and result.hungup
    assert 'GET FULL VARIABLE "${CHANNEL(linkedid)}"' in result.commands
    rec = stored(session, uid)
    assert (rec.direction, rec.user_id, rec.customer_id, rec.caller_number, rec.linkedid) == (
        "agent", agents["tm"].id, c.id, "13900000001", linkedid)
    assert not (store.incoming / f"{uid}.wav").exists()


def dialer_attempt(session, customer, agent, clock, number="+8613900000001"):
    campaign = Campaign(name="十二月回访", caller_id=COMPANY_CALLER_ID, created_at=clock.now())
    session.add(campaign)
    session.flush()
    attempt = DialAttempt(campaign_id=campaign.id, customer_id=customer.id, number=number,
                          channel_id="df86fe70-bdad-457b-8780-c71f849d1ae4",
                          agent_id=agent.id if agent else None, started_at=clock.now())
    session.add(attempt)
    session.commit()
    return campaign, attempt


def test_a_dialer_call_is_linked_through_its_attempt_not_the_company_caller_id(
        session, agents, server, store, clock, make_customer):
    """dialfunnel-outbound (ami-a5): agi_callerid is the campaign's caller ID; the attempt
    names customer, number and campaign, DIALEDPEERNAME who answered; the record the agent
    wrote during the call is linked."""
    c = make_customer("嘉兴拨号客户有限公司", owner="tm", mobile="13900000001")
    make_customer("公司总机同号的客户", owner="tm2", phone=COMPANY_CALLER_ID)
    campaign, attempt = dialer_attempt(session, c, agents["tm2"], clock)
    clock.advance(seconds=20)
    record = add_contact_record(session, agents["tm"], c.id, content="通话中记录", clock=clock)
    session.commit()
    result = hangup_handler(server, store, attempt.channel_id, "outbound",
                            callerid=COMPANY_CALLER_ID, variables={
                                "DIALFUNNEL_ATTEMPT": str(attempt.id),
                                "DIALFUNNEL_CAMPAIGN": str(campaign.id),
                                "DIALFUNNEL_TRANSFER": "agent:8002",
                                "DIALEDPEERNAME": "Local/8001@acc-phones-00000014;1"})
    assert result.status == "STORED"
    rec = stored(session, attempt.channel_id)
    assert (rec.direction, rec.attempt_id, rec.customer_id, rec.caller_number, rec.user_id,
            rec.contact_record_id, rec.linkedid) == (
        "outbound", attempt.id, c.id, "+8613900000001", agents["tm"].id, record.id,
        attempt.channel_id)


def test_a_dialer_call_without_the_variables_is_found_by_its_channel_id(
        session, agents, server, store, clock, make_customer):
    c = make_customer("湖州客户有限公司", owner="tm", mobile="13900000002")
    _, attempt = dialer_attempt(session, c, agents["tm"], clock, number="+8613900000002")
    assert hangup_handler(server, store, attempt.channel_id, "outbound",
                          callerid=COMPANY_CALLER_ID).status == "STORED"
    rec = stored(session, attempt.channel_id)
    assert (rec.attempt_id, rec.customer_id, rec.user_id) == (attempt.id, c.id, agents["tm"].id)


def test_an_inbound_call_is_linked_to_the_queue_member_who_answered(
        session, agents, server, store, clock, make_customer):
    """Queue(sales) with setinterfacevar=yes leaves MEMBERINTERFACE / MEMBERNAME (ami-a4q)."""
    c = make_customer("绍兴来电客户有限公司", owner="tm2", phone="0575-85112233")
    result = hangup_handler(server, store, "1796598600.23", "inbound", callerid="057585112233",
                            variables={"MEMBERINTERFACE": "PJSIP/8002", "MEMBERNAME": "8002",
                                       "QUEUENAME": "sales"})
    assert result.status == "STORED"
    rec = stored(session, "1796598600.23")
    assert (rec.user_id, rec.customer_id, rec.linkedid) == (agents["tm2"].id, c.id, "1796598600.23")
    # direct ring: DIALEDPEERNAME (ami-a4)
    hangup_handler(server, store, "1796598580.19", "inbound", callerid="057585112233",
                   variables={"DIALEDPEERNAME": "Local/8001@acc-phones-0000000a;1"})
    assert stored(session, "1796598580.19").user_id == agents["tm"].id


def test_a_contact_record_written_after_the_call_links_its_recording(
        session, agents, server, store, clock, make_customer):
    """Wrap-up: the record comes after the hangup handler stored the recording."""
    c = make_customer("台州客户有限公司", owner="tm", mobile="13900000003")
    other = make_customer("另一家客户", owner="tm", mobile="13900000004")
    hangup_handler(server, store, "1796598765.45", "agent", variables={
        "DIALFUNNEL_AGENT": "8001", "DIALFUNNEL_PEER": "13900000003"})
    rec = stored(session, "1796598765.45")
    assert rec.contact_record_id is None
    clock.advance(minutes=1)
    add_contact_record(session, agents["tm"], other.id, content="别的客户", clock=clock)
    session.commit()
    assert stored(session, "1796598765.45").contact_record_id is None  # not this call's customer
    clock.advance(minutes=2)
    record = add_contact_record(session, agents["tm"], c.id, content="通话后记录", clock=clock)
    session.commit()
    assert stored(session, "1796598765.45").contact_record_id == record.id
    # a call to a number no customer has yet: linked once the customer with it is written up
    hangup_handler(server, store, "1796598765.50", "agent", variables={
        "DIALFUNNEL_AGENT": "8001", "DIALFUNNEL_PEER": "13900000009"})
    assert stored(session, "1796598765.50").customer_id is None
    clock.advance(minutes=1)
    new = make_customer("新客户有限公司", owner="tm", mobile="13900000009")
    first = add_contact_record(session, agents["tm"], new.id, content="新建后记录", clock=clock)
    session.commit()
    rec = stored(session, "1796598765.50")
    assert (rec.customer_id, rec.contact_record_id) == (new.id, first.id)
    clock.advance(hours=3)  # too late for a record to belong to the call
    hangup_handler(server, store, "1796598765.60", "agent", variables={
        "DIALFUNNEL_AGENT": "8001", "DIALFUNNEL_PEER": "13900000003"})
    clock.advance(hours=3)
    add_contact_record(session, agents["tm"], c.id, content="很久以后", clock=clock)
    session.commit()
    assert stored(session, "1796598765.60").contact_record_id is None


HOSTILE = ["../../../../etc/passwd", "..\\..\\windows\\win.ini", "/tmp/" + "A" * 5000 + ".wav",
           "%2e%2e%2f%2e%2e%2fetc%2fpasswd.wav", "....//....//etc/shadow", "..", "/",
           "x.wav/" + "../" * 1500, "$(reboot).wav", "a b.wav"]


def test_hostile_file_names_are_refused_with_one_short_warning(session, server, store, caplog):
    caplog.set_level(logging.DEBUG)
    results = [run_call("127.0.0.1", server.port, "recording_done", args=(name, "inbound"),
                        env={"agi_uniqueid": f"1796000000.{n}"}, scenario=Scenario(hangup_before=0))
               for n, name in enumerate(HOSTILE * 5)]
    assert [r.status for r in results] == ["REFUSED"] * len(results)
    lines = [logging.Formatter("%(levelname)s %(name)s %(message)s").format(r)
             for r in caplog.records]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == len(results) and all(r.exc_info is None for r in warnings)
    assert len(caplog.records) <= 2 * len(results)  # the warning and the call's log line
    assert max(len(line) for line in lines) < 400
    assert session.scalar(select(Recording)) is None
    session.commit()
