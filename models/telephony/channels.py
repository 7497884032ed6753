"""Asterisk channel names and the channel variables that name an agent's phone.

Pure functions (no database): the AMI listener (agi/ami/listener.py) and the FastAGI
``recording_done`` handler both turn what Asterisk reports into an agent's extension here; the
extension is matched against ``User.extension`` by models.telephony.popups.user_for_extension."""
from __future__ import annotations

import re

_TECH = re.compile(r"^(?P<tech>PJSIP|SIP|IAX2|DAHDI|Console)/(?P<ext>[^/;]+?)(?:-[0-9a-fA-F]{8})?(?:;[12])?$")
_LOCAL = re.compile(r"^Local/(?P<ext>[^@/;]+)@(?P<context>[^;/]+?)(?:-[0-9a-fA-F]{8};(?P<half>[12]))?(?:/[A-Za-z]*)?$")
_TRANSFER_AGENT = re.compile(r"^agent:(?P<ext>[0-9A-Za-z_-]{1,40})$")


def agent_endpoint(channel: str | None) -> tuple[str, str | None] | None:
    """(extension, Local context or None) of a channel or interface that rings a phone.

    ``PJSIP/8001-0000000a`` → ("8001", None); ``Local/agent1@agents-00000013;1`` →
    ("agent1", "agents"); ``Local/agent1@agents/n`` → ("agent1", "agents"). The ;2 half of a
    Local channel is the dialplan side, not the phone: None."""
    if not channel:
        return None
    m = _LOCAL.match(channel)
    if m:
        if m.group("half") == "2":
            return None
        return m.group("ext"), m.group("context")
    m = _TECH.match(channel)
    if m:
        return m.group("ext"), None
    return None


def answered_extensions(*, dialed_peer: str | None = None, member_interface: str | None = None,
                        member_name: str | None = None, transfer: str | None = None) -> list[str]:
    """The extensions that may have taken a call, best first, from the variables the dialplan
    leaves on the caller's channel (tests/fixtures/asterisk/real-run-2026-12: ami-a4, ami-a4q,
    ami-a5): DIALEDPEERNAME after an answered Dial (``PJSIP/8007-0000000a``,
    ``Local/8007@phones-00000014;1``), MEMBERINTERFACE / MEMBERNAME after Queue with
    setinterfacevar=yes (``PJSIP/8002`` / ``8002``), then the transfer target the handler chose
    (DIALFUNNEL_TRANSFER=``agent:8007``), who was meant to answer."""
    found = []
    for channel in (dialed_peer, member_interface):
        endpoint = agent_endpoint(channel)
        if endpoint:
            found.append(endpoint[0])
    if member_name and re.fullmatch(r"[0-9A-Za-z_-]{1,40}", member_name):
        found.append(member_name)
    m = _TRANSFER_AGENT.match(transfer or "")
    if m:
        found.append(m.group("ext"))
    return list(dict.fromkeys(found))
