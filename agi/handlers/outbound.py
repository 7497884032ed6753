"""outbound: a call the dialer placed was answered (dialplan context dialfunnel-outbound).

    same => n,AGI(agi://127.0.0.1:4573/outbound)

The channel's Uniqueid is the ChannelId the dialer gave Originate, so it names the attempt.
First answering-machine detection (agi.handlers.amd; "unsure" counts as a person; none in preview
mode, where the agent who chose the call hears it). A person in a voice campaign hears the
campaign's IVR flow; in other campaigns a ready agent of the campaign's team is taken
(models.dialer.agent_states.take_ready_agent, atomic across processes) for up to HOLD_SECONDS.
Statuses the dialplan acts on:
  IVR       a voice campaign: DIALFUNNEL_IVR=<the campaign's flow>
  TRANSFER  DIALFUNNEL_TRANSFER=agent:<extension>
  MACHINE   an answering machine; DIALFUNNEL_MESSAGE names the campaign's message (or is empty:
            hang up). Before a message the machine's greeting is waited out (its beep).
  ABANDON   nobody free in time: the abandon message plays (DIALFUNNEL_MESSAGE)
  NOATTEMPT the channel is not a dialer call we know
"""
from __future__ import annotations

import time
from pathlib import Path

from agi.handlers.registry import register
from models.clock import SYSTEM_CLOCK
from agi.dialer.servers import team_on_server
from models.dialer import agent_states, dialing
from models.schema import Campaign

HOLD_SECONDS = 2.0
POLL_SECONDS = 0.1
_config: dict = {"clock": SYSTEM_CLOCK, "spool_dir": None, "detect": None, "sleep": time.sleep,
                 "servers": None}


def configure(**kwargs) -> None:
    """Tests and embedding: clock, spool_dir (where RECORD FILE writes), detect (AMD function),
    sleep (the wait between two looks for an agent; the PBX simulator's under a fake clock),
    servers (config.settings.Server list; None: the settings')."""
    _config.update(kwargs)


def _servers():
    """The Asterisk servers: an answered call goes only to an agent whose phone is on its own."""
    if _config["servers"] is None:
        from config.settings import load_settings
        _config["servers"] = load_settings().ami_servers
    return _config["servers"]


def spool_dir() -> Path:
    """Where Asterisk's RECORD FILE writes the AMD steps: the MixMonitor folder of the settings."""
    if _config["spool_dir"] is not None:
        return Path(_config["spool_dir"])
    from config.settings import load_settings
    return load_settings().recordings_incoming_path


def _detect(agi):
    detect = _config["detect"]
    if detect is None:
        from agi.handlers.amd import detect
    return detect(agi, spool_dir=spool_dir())


@register("outbound")
def outbound(agi, session, args):
    clock = _config["clock"]
    attempt = dialing.mark_answered(session, agi.uniqueid, clock=clock)
    if attempt is None:
        return "NOATTEMPT"
    campaign = session.get(Campaign, attempt.campaign_id)
    preview = attempt.agent_id is not None  # the agent chose this call and is waiting for it
    session.commit()  # no transaction stays open while the audio is analysed
    if not preview:
        result = _detect(agi)
        dialing.record_amd(session, agi.uniqueid, result.label)
        session.commit()
        if result.cause == "HANGUP" or agi.hungup:
            return "HANGUP"
    if not preview and result.label == "machine":
        message = campaign.machine_message if campaign.machine_action == "message" else None
        session.commit()  # nothing held while the greeting is waited out
        if message:
            from agi.handlers.amd import wait_for_beep
            if wait_for_beep(agi, spool_dir=spool_dir()) == "hangup":
                return "HANGUP"
        agi.set_variable("DIALFUNNEL_MESSAGE", message or "")
        return "MACHINE"
    if campaign.mode == "voice":
        agi.set_variable("DIALFUNNEL_IVR", campaign.ivr_flow or "")
        return "IVR"
    among = team_on_server(session, _servers(), attempt.server, attempt.campaign_id)
    polls = round(HOLD_SECONDS / POLL_SECONDS)  # counted, not timed: `sleep` may be simulated
    for poll in range(polls + 1):
        agent = agent_states.take_ready_agent(session, attempt, clock=clock, among=among)
        extension = agent.extension if agent else None
        session.commit()
        if agent is not None and extension:
            agi.set_variable("DIALFUNNEL_TRANSFER", f"agent:{extension}")
            return "TRANSFER"
        if poll < polls:
            _config["sleep"](POLL_SECONDS)
    agi.set_variable("DIALFUNNEL_MESSAGE", campaign.abandon_message or "")
    return "ABANDON"
