"""Click-to-call in a real Chromium page, the whole path of issue 13: the tracking screen's dial
button → the dialer process Originates over real AMI TCP to the PBX simulator → the live box,
moved by the page's event stream, shows the talk with a running timer → at the hang-up the page
goes to the wrap-up of the call the call log wrote (/calls/<id>/wrap-up) → the dialplan's
hangup handler stores the recording over real FastAGI → the agent saves the wrap-up → the
customer's page lists the call with its disposition, note and playable recording, and the
contact record it made holds the recording."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from sqlalchemy import select

from agi.ami.listener import ScreenPopListener
from agi.dialer.process import start_dialer
from agi.fastagi.server import FastAGIServer
from agi.handlers import recording_done, registry
from agi.pbxsim.agi_driver import Scenario as AGIScenario
from agi.pbxsim.agi_driver import run_call
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from config.settings import Settings
from models.schema import ContactRecord, Recording
from models.schema.calls import Call
from recordings.store import RecordingStore

from tests.browser.chromium import log_in, shot
from tests.recordings.test_recordings_store import make_wav

SECRET = "dialfunnel-secret"


@pytest.fixture
def pbx():
    timing = {"click": {"agent_ring": 0.5, "ring_time": 0.5, "talk_time": 2.5}}
    with AMIServer(scenario=Scenario(timing=timing), auth_fail_delay=0) as server:
        yield server


@pytest.fixture
def fastagi(Session, tmp_path, clock):
    """The FastAGI server with the recording store, as `dialfunnel agi` runs it."""
    store = RecordingStore(tmp_path / "recordings", tmp_path / "monitor")
    store.incoming.mkdir(parents=True)
    recording_done.configure(store, clock=clock)
    server = FastAGIServer(registry, Session, port=0).start()
    yield server, store
    server.shutdown(5)
    recording_done.configure(None)


def hang_up_recording(fastagi, call, agent_extension, number):
    """The dialplan's hangup handler on the agent's leg of the click-to-call (dialfunnel-trunk-
    out records the agent's outgoing calls, kind `agent`), as a real Asterisk runs it."""
    server, store = fastagi
    uniqueid = f"{call.linkedid}-rec"
    make_wav(store.incoming / f"{uniqueid}.wav", seconds=2.0)
    result = run_call("127.0.0.1", server.port, "recording_done",
                      args=(f"/var/spool/asterisk/monitor/dialfunnel/{uniqueid}.wav", "agent"),
                      callerid="+862155550000", env={"agi_uniqueid": uniqueid},
                      scenario=AGIScenario(hangup_before=0, linkedid=call.linkedid, variables={
                          "DIALFUNNEL_AGENT": agent_extension, "DIALFUNNEL_PEER": number}))
    assert result.status == "STORED"


@pytest.fixture
def tm_phone(session, users):
    """Before the listener starts (it reads the agents' extensions when it starts)."""
    users["tm"].extension = "8001"
    session.commit()
    return users["tm"]


@pytest.fixture
def dialer(Session, pbx, tm_phone):
    listener = ScreenPopListener(Session, host="127.0.0.1", port=pbx.port, username="dialfunnel",
                                 secret=SECRET,
                                 client_options=dict(backoff_initial=0.05, backoff_max=0.2)).start()
    assert listener.wait_connected(5)
    engine, thread = start_dialer(dataclasses.replace(Settings(), dialer_id="browser"), Session,
                                  port=pbx.port, secret=SECRET)
    yield engine
    engine.stop()
    thread.join(10)
    listener.stop()


def test_click_to_call_from_the_tracking_screen_to_the_wrap_up(
        live_server, browser_page, session, users, clock, make_customer, pbx, dialer, Session,
        fastagi):
    clock.set(dt.datetime.now(dt.timezone.utc))   # the web's clock; the dialer runs on the real one
    customer = make_customer("点击拨号浏览器测试公司", owner="tm", mobile="13900000008")
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.goto(f"{live_server}/customers/{customer.id}/track")
    page.click("#track-details .dial-button[data-dial-target=mobile]")
    page.wait_for_selector("#dial-box[data-state=talking]")
    assert page.inner_text("#dial-box .dial-state") == "通话中"
    assert re.fullmatch(r"0:0\d", page.inner_text("#dial-box .dial-timer"))
    assert page.is_visible("#dial-box .dial-hangup")
    assert page.get_attribute("#dial-box", "data-stream") == "seen"   # moved by the event stream
    shot(page, "click-to-call-talking")
    page.wait_for_url(re.compile(r"/calls/\d+/wrap-up$"), timeout=15_000)
    with Session() as s:
        call = s.scalar(select(Call).where(Call.customer_id == customer.id))
    assert page.url.endswith(f"/calls/{call.id}/wrap-up")
    assert (call.direction, call.user_id) == ("click_to_call", users["tm"].id)

    hang_up_recording(fastagi, call, "8001", "13900000008")
    page.check("#disposition-interested")
    page.fill("#wrap-note", "客户要报价单，周五前发")
    page.click("#wrap-save")
    page.wait_for_url(re.compile(rf"/customers/{customer.id}$"))
    row = f'#calls-table tr[data-call="{call.id}"]'
    page.wait_for_selector(row)
    assert "有意向" in page.inner_text(row) and "客户要报价单" in page.inner_text(row)
    assert page.is_visible(f"{row} audio[data-recording]")
    shot(page, "click-to-call-on-the-customer")
    with Session() as s:
        record = s.scalar(select(ContactRecord).where(ContactRecord.customer_id == customer.id))
        rec = s.scalar(select(Recording).where(Recording.linkedid == call.linkedid))
        assert record.progress == "有意向" and "客户要报价单" in record.content
        assert (rec.customer_id, rec.user_id, rec.contact_record_id) == (
            customer.id, users["tm"].id, record.id)
