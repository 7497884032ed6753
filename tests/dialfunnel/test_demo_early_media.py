"""The demo hears the carrier: `dialfunnel run --demo` starts the dialer's early-media listener
and points the PBX simulator's carrier at it, so a dead number of the demo campaign ends by its
announcement (空号), before the carrier's own cause. Real sockets and the real clock, as the
demo runs: the PBX simulator, AMI, the listener and the dialer of dialfunnel.cli."""
from __future__ import annotations

import dataclasses
import random
import socket
import threading
import time

from sqlalchemy import select

from agi.dialer.process import EARLY_MEDIA_CONTEXT
from agi.pbxsim.ami_scenarios import demo_scenario
from agi.pbxsim.ami_server import AMIServer, split_dial
from agi.pbxsim.early_media import CARRIER_TIMING
from config.settings import Settings
from dialfunnel.cli import start_pbx_and_listener
from models.clock import SYSTEM_CLOCK
from models.dialer import agent_states, campaigns
from models.schema import CampaignLead, Customer, DialAttempt


def demo_number(outcome: str) -> str:
    """A number the demo's PBX fails with `outcome` on its first attempt (the draw is seeded)."""
    scenario = demo_scenario()
    for n in range(10_000):
        number = f"+86139{n:08d}"
        _, exten, context = split_dial(Settings().dialer_trunk.format(number=number))
        if scenario.outcome_for(exten, context, random.Random(f"{scenario.seed}:{exten}:0")) == outcome:
            return number
    raise AssertionError(f"no demo number fails with {outcome}")


def campaign_on(Session, users, number: str) -> int:
    with Session() as s:
        admin = s.merge(users["admin"])
        now = SYSTEM_CLOCK.now()
        s.add(Customer(name="空号客户", ownership="shared", stage="target", phone=number[3:],
                       phone_e164=number, created_at=now, updated_at=now))
        s.flush()
        campaign = campaigns.create_campaign(s, admin, name="演示早媒体", mode="progressive",
                                             filter_stage="target")
        campaigns.update_campaign(s, admin, campaign.id, hours_start="00:00", hours_end="23:59",
                                  skip_holidays=False)
        tm = s.merge(users["tm"])
        tm.extension = "8100"
        campaigns.set_team(s, admin, campaign.id, [tm.id])
        campaigns.refresh_leads(s, campaign)
        campaigns.change_status(s, admin, campaign.id, "start")
        agent_states.set_state(s, tm, "ready", campaign_id=campaign.id)
        s.commit()
        return campaign.id


def ended(Session, campaign_id, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session() as s:
            attempt = s.scalar(select(DialAttempt).where(DialAttempt.campaign_id == campaign_id,
                                                         DialAttempt.ended_at.is_not(None)))
            if attempt is not None:
                return attempt, s.scalar(select(CampaignLead))
        time.sleep(0.1)
    raise AssertionError(f"no attempt ended within {timeout} s")


def test_the_demo_dialer_ends_a_dead_number_by_its_announcement(Session, users, tmp_path):
    number = demo_number("unallocated")
    campaign_id = campaign_on(Session, users, number)
    settings = dataclasses.replace(Settings(), data_dir=tmp_path, ami_host="127.0.0.1", ami_port=0,
                                   dialer_id="demo-early-media", call_log_process=False)
    stop = threading.Event()
    started = list(start_pbx_and_listener(settings, Session, stop, simulate=True))
    try:
        lines = "\n".join(line for line, _ in started)
        pbx = next(stopper.__self__ for line, stopper in started if line.startswith("PBX simulator"))
        assert isinstance(pbx, AMIServer)
        listening = next(line for line, _ in started if line.startswith("early-media listener on "))
        host, port = listening.split()[3].rsplit(":", 1)
        assert pbx.early_media.address == (host, int(port)) and host == "127.0.0.1"
        socket.create_connection((host, int(port)), timeout=2).close()
        # the carrier speaks before it clears the call: its cause comes 14 s or more after the dial
        assert pbx.scenario.timing["unallocated"] == CARRIER_TIMING["unallocated"]
        # wait until the carrier's cause would surely have come (its latest, and a margin for a
        # loaded machine); whether the announcement ended the call first is asserted below
        attempt, lead = ended(Session, campaign_id, timeout=CARRIER_TIMING["unallocated"]
                              ["setup_time"][1] + 5)
        [originate] = pbx.actions("Originate")
        played = dict(pbx.early_media.played)
    finally:
        for _, stopper in reversed(started):
            stopper()
    assert "predictive dialer on AMI" in lines
    assert originate.get("EarlyMedia") == "true" and originate.get("Context") == EARLY_MEDIA_CONTEXT
    assert played == {attempt.channel_id: "unallocated"}
    assert (attempt.outcome, attempt.cause, attempt.heard) == ("unallocated", 1, "unallocated")
    assert (attempt.ended_at - attempt.started_at).total_seconds() < CARRIER_TIMING[
        "unallocated"]["setup_time"][0]
    assert lead.status == "dead"
