"""Click-to-call in a real Chromium page: the tracking screen's dial button → the dialer
process Originates over real AMI TCP to the PBX simulator → the live box, moved by the page's
event stream, shows the talk with a running timer → at the hang-up the page goes to the
wrap-up of the call the call log wrote (/calls/<id>/wrap-up)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from sqlalchemy import select

from agi.ami.listener import ScreenPopListener
from agi.dialer.process import start_dialer
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from config.settings import Settings
from models.schema.calls import Call

from tests.browser.chromium import log_in, shot

SECRET = "dialfunnel-secret"


@pytest.fixture
def pbx():
    timing = {"click": {"agent_ring": 0.5, "ring_time": 0.5, "talk_time": 2.5}}
    with AMIServer(scenario=Scenario(timing=timing), auth_fail_delay=0) as server:
        yield server


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
        live_server, browser_page, session, users, clock, make_customer, pbx, dialer, Session):
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
