"""A three-way call from the call bar in a real Chromium page: the agent is on a call the PBX
simulator plays over real AMI TCP; the agent adds the manager (the bar's "My manager"), the
console runner rings the manager's phone and moves the call into its room, the bar lists the
three; the agent hangs up and leaves; the customer and the manager still talk; the call log
keeps one call with every leg."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.ami.listener import ScreenPopListener
from agi.console import conference
from agi.console.commands import CommandRunner, run_forever
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from models.schema import Campaign, CampaignAgent
from models.schema.calls import Call, CallLeg

from tests.browser.chromium import log_in, shot
from tests.browser.test_call_bar_browser import SECRET, T0, advance, web  # noqa: F401

CUSTOMER = "13800000004"


@pytest.fixture
def pbx():
    scenario = Scenario(seed=3, numbers={"8009": "answer"},
                        timing={"manual": {"ring_time": 1.0, "talk_time": 3600.0}})
    server = AMIServer(scenario=scenario, clock=SimClock(T0), auth_fail_delay=0,
                       timestamp_events=True).start()
    yield server
    server.stop()


@pytest.fixture
def console(Session, pbx, users, session, clock):
    users["tm"].extension, users["mgr"].extension = "8001", "8009"
    campaign = Campaign(name="sales-a", created_at=clock.now(), created_by_id=users["mgr"].id)
    session.add(campaign)
    session.flush()
    session.add(CampaignAgent(campaign_id=campaign.id, user_id=users["tm"].id))
    session.commit()
    listener = ScreenPopListener(Session, host="127.0.0.1", port=pbx.port, username="dialfunnel",
                                 secret=SECRET, client_options=dict(backoff_initial=0.05, backoff_max=0.2)).start()
    assert listener.wait_connected(5)
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET)    # events: OriginateResponse
    client.connect()
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(CommandRunner(Session, client, runner_id="b"), stop),
                              kwargs=dict(interval=0.05), daemon=True)
    thread.start()
    yield listener
    stop.set()
    thread.join(5)
    client.close()
    listener.stop()


def members(pbx, room):
    found = pbx.rooms.rooms.get(conference.conference_name(room))
    return sorted(m.call.legs[m.leg]["Channel"].rsplit("-", 1)[0] for m in found.members) if found else []


def until(pbx, condition, seconds=20.0):
    """Move the simulator's clock half a second at a time until ``condition()``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        advance(pbx, 0.5)
        time.sleep(0.05)


def test_agent_adds_the_manager_then_leaves_and_the_others_talk_on(
        live_server, browser_page, Session, pbx, console, users):
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.wait_for_function("document.documentElement.dataset.liveStream === 'open'")
    call = pbx.phone_call("8001", CUSTOMER)
    advance(pbx, 2)
    page.wait_for_selector("#call-bar .call-bar-number", timeout=5_000)
    with Session() as s:
        call_id = s.scalar(select(Call.id).where(Call.linkedid == call.channel_id))
    room = conference.room_for_call(call_id)

    page.select_option('#call-bar-transfer [name="kind"]', "manager")
    page.click('#call-bar button[data-action="conference"]')
    until(pbx, lambda: len(members(pbx, room)) == 3)
    assert members(pbx, room) == ["PJSIP/8001", "PJSIP/8009", "PJSIP/dialfunnel-trunk"]
    page.wait_for_function("document.querySelectorAll('#call-bar-parties .call-bar-party').length === 3",
                           timeout=5_000)
    chips = page.inner_text("#call-bar-parties")
    assert "王经理" in chips and "客户" in chips
    assert page.is_disabled('#call-bar button[data-action="hold"]')
    shot(page, "call-bar-three-way")

    page.click('#call-bar button[data-action="hangup"]')          # the agent leaves the room
    until(pbx, lambda: "PJSIP/8001" not in members(pbx, room))
    page.wait_for_function("document.querySelector('#call-bar-call').textContent.trim() === '无通话'",
                           timeout=5_000)
    advance(pbx, 5)
    assert members(pbx, room) == ["PJSIP/8009", "PJSIP/dialfunnel-trunk"]   # they talk on
    with Session() as s:
        row = s.get(Call, call_id)
        legs = {leg.channel.rsplit("-", 1)[0]: leg for leg in
                s.scalars(select(CallLeg).where(CallLeg.call_id == call_id))}
    assert row.state == "up" and row.user_id == users["tm"].id
    assert sorted(legs) == ["PJSIP/8001", "PJSIP/8009", "PJSIP/dialfunnel-trunk"]
    assert legs["PJSIP/8001"].ended_at is not None
    assert legs["PJSIP/8009"].ended_at is None and legs["PJSIP/8009"].user_id == users["mgr"].id
    assert legs["PJSIP/dialfunnel-trunk"].ended_at is None
