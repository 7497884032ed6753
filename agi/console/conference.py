"""Three-way calls (T6) as plain functions over an AMI client.

    room = room_for_call(call.id)                       # the call log's id: the room's name
    start_conference(ami, agent_channel, customer_channel, room)
    party = add_party(ami, room, "8002")                # a colleague's phone, or
    party = add_party(ami, room, "13900000009", caller_id='"Shop" <02155550000>')  # an outside number
    answered(party, timeout=35)                         # False: did not answer / busy
    list_parties(ami, room)                             # [Party(...)]
    drop_party(ami, room, channel)                      # ConfbridgeKick
    drop_party(ami, room, agent_channel)                # the agent leaves; the others talk on
                                                        # (dialplan DF_CONF_AGENT_LEAVES)

The dialplan (dialplan/extensions_dialfunnel.conf) runs ConfBridge(dialfunnel-<room>) with the
agent as the marked user (dialfunnel-conference-agent) and everyone else in
dialfunnel-conference. Redirect with ExtraChannel is as captured from Asterisk 22
(captures ami-redirect-confbridge*.txt: "Dual Redirect successful"); ConfbridgeList, Kick and
Mute, and an Originate into the room, follow Asterisk's apps/app_confbridge.c and main/manager.c
(no capture shows them). Every refusal raises ConferenceError with Asterisk's message.
"""
from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass

from agi.ami.client import AMIActionError, AMIClient, AMIError, Originate

AGENT_CONTEXT = "dialfunnel-conference-agent"
PARTY_CONTEXT = "dialfunnel-conference"
ROOM_PREFIX = "dialfunnel-"
OUTSIDE = "Local/{number}@dialfunnel-trunk-out/n"   # recorded, with the company caller ID
_EXTENSION = re.compile(r"\d{2,6}")
_NUMBER = re.compile(r"\+?\d{3,20}")
_CHANNEL = re.compile(r"[-A-Za-z0-9/@._;]{1,128}")


class ConferenceError(Exception):
    """Asterisk refused (or never answered) a three-way action; the text is Asterisk's."""


@dataclass(frozen=True)
class Party:
    channel: str
    caller_num: str
    caller_name: str
    marked: bool        # the agent
    end_marked: bool    # hung up when the agent leaves
    muted: bool
    answered_seconds: int


def room_for_call(call_id: int) -> str:
    return str(int(call_id))


def conference_name(room: str) -> str:
    return ROOM_PREFIX + _room(room)


def _room(room) -> str:
    text = str(room)
    if not text.isdigit():
        raise ConferenceError(f"bad room {text!r}: digits only")
    return text


def _channel(channel: str) -> str:
    if not _CHANNEL.fullmatch(channel or ""):
        raise ConferenceError(f"bad channel name {channel!r}")
    return channel


def _check(response) -> None:
    if response.response != "Success":
        raise ConferenceError(response.get("Message") or "refused")


def start_conference(ami: AMIClient, agent_channel: str, customer_channel: str, room) -> None:
    """Move a live call's two legs into room ``room`` with one Redirect (ExtraChannel): the
    agent as the marked user, the customer as a party. The basic bridge goes, the room
    starts; recording goes on (each leg keeps its MixMonitor)."""
    room = _room(room)
    _check(ami.send_action("Redirect", [
        ("Channel", _channel(agent_channel)), ("Context", AGENT_CONTEXT), ("Exten", room),
        ("Priority", 1), ("ExtraChannel", _channel(customer_channel)),
        ("ExtraContext", PARTY_CONTEXT), ("ExtraExten", room), ("ExtraPriority", 1)]))


def party_channel(endpoint_or_number: str) -> str:
    """An extension rings the phone (PJSIP/<ext>); an outside number goes out through
    dialfunnel-trunk-out (the company caller ID, recorded)."""
    target = (endpoint_or_number or "").strip()
    if _EXTENSION.fullmatch(target):
        return f"PJSIP/{target}"
    if _NUMBER.fullmatch(target):
        return OUTSIDE.format(number=target)
    raise ConferenceError(f"not an extension or a phone number: {target!r}")


def add_party(ami: AMIClient, room, endpoint_or_number: str, *, caller_id: str | None = None,
              ring_seconds: int = 30) -> Originate:
    """Ring a third party; once answered it joins the room. Wait with ``answered()``."""
    room = _room(room)
    try:
        return ami.originate(party_channel(endpoint_or_number), context=PARTY_CONTEXT, exten=room,
                             priority=1, timeout_ms=ring_seconds * 1000, caller_id=caller_id)
    except AMIActionError as exc:
        raise ConferenceError(exc.response.get("Message") or "Originate refused") from exc


def answered(party: Originate, timeout: float) -> bool:
    """Whether the third party answered (OriginateResponse Success); False when the phone was
    not answered, was busy or the number failed."""
    try:
        return party.result(timeout).get("Response") == "Success"
    except AMIError:
        return False


def list_parties(ami: AMIClient, room, timeout: float = 5.0) -> list[Party]:
    """ConfbridgeList: one ConfbridgeList event per member, then ConfbridgeListComplete."""
    name = conference_name(room)
    action_id = f"confbridge-list-{uuid.uuid4().hex[:12]}"
    items, done = [], threading.Event()

    def item(msg):
        if msg.action_id == action_id:
            items.append(msg)

    def complete(msg):
        if msg.action_id == action_id:
            done.set()
    ami.on("ConfbridgeList", item)
    ami.on("ConfbridgeListComplete", complete)
    try:
        _check(ami.send_action("ConfbridgeList", [("Conference", name)], action_id=action_id,
                               timeout=timeout))
        if not done.wait(timeout):
            raise ConferenceError("ConfbridgeListComplete did not come")
    finally:
        ami.off("ConfbridgeList", item)
        ami.off("ConfbridgeListComplete", complete)
    return [Party(m.get("Channel") or "", m.get("CallerIDNum") or "", m.get("CallerIDName") or "",
                  m.get("MarkedUser") == "Yes", m.get("EndMarked") == "Yes", m.get("Muted") == "Yes",
                  int(m.get("AnsweredTime") or 0)) for m in items]


def drop_party(ami: AMIClient, room, channel: str) -> None:
    """ConfbridgeKick: the party leaves the room and is hung up (the dialplan's Hangup())."""
    _check(ami.send_action("ConfbridgeKick", [("Conference", conference_name(room)),
                                              ("Channel", _channel(channel))]))


def mute_party(ami: AMIClient, room, channel: str, mute: bool = True) -> None:
    _check(ami.send_action("ConfbridgeMute" if mute else "ConfbridgeUnmute",
                           [("Conference", conference_name(room)), ("Channel", _channel(channel))]))
