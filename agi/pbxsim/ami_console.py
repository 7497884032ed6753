"""The PBX simulator's call controls (issue 14): the AMI actions an agent's call bar uses, with
the responses and event order of a real Asterisk 22.10.1 (tests/fixtures/asterisk/
captures-2026-12: ami-hold-moh.txt, ami-blind-transfer.txt, ami-atxfer.txt; main/manager.c and
res/res_mutestream.c for the refusals).

They act on a bridged call of the simulator (``ami_server.Call``: ``o1`` the agent's side, the
channel in the bridge; ``c1`` the customer's, as in the click-to-call script). Once an action
moves a call, its script stops (``Call.interrupt``): from then on the parties stay until a
Hangup action (or a transfer) ends them. The chatter the call log ignores (VarSet, Newexten,
DeviceStateChange, NewCallerid, LocalBridge, DialState) is not emitted.

    Redirect     one bridged leg into the hold context: BridgeLeave ×2, MusicOnHoldStart, BridgeDestroy
    Bridge       BridgeCreate, BridgeEnter Channel1, MusicOnHoldStop (Channel2), BridgeEnter Channel2
    MuteAudio    an ack, no event
    BlindTransfer  Unhold, BlindTransfer, the transferer hung up, the transferee dials the target
    Atxfer       DTMFEnd * 2, Hold, MusicOnHoldStart, DTMFEnd digits, the consultation bridge;
                 a Hangup of the transferer completes it (BridgeMerge ... AttendedTransfer)
    CancelAtxfer DTMFEnd * 1, back to the first bridge, MusicOnHoldStop, Unhold, the target hung up
    ExtensionState  Idle (0), or InUse (1) while the extension has a live channel or is listed
                 in ``Scenario.busy_extensions``
"""
from __future__ import annotations

import re
import uuid

ABORT_CODE = "*1"       # features.conf atxferabort
FEATURE_SECONDS = 0.26  # Atxfer/CancelAtxfer: the queued DTMF is detected this much later
DIGITS_SECONDS = 0.24   # then the target's exten, and the target is dialled


def _bridge(call, kind: str, bridge_id: str, count: int, leg: str | None = None) -> None:
    headers = call.bridge_headers(count, bridge_id) + (call.chan(leg) if leg else [])
    if bridge_id == call.bridge_id:
        call.track_bridge(kind, leg)
    call.server.emit(kind, headers)


def _new_bridge(call) -> str:
    return str(uuid.UUID(int=call.rng.getrandbits(128), version=4))


def _leg_of(server, session, aid, name: str | None, missing: str, unknown: str):
    if not name:
        session.respond(aid, "Error", missing)
        return None
    found = server.find_leg(name)
    if not found:
        session.respond(aid, "Error", unknown)
        return None
    return found


def _peer(call, leg: str) -> str | None:
    """The other party in the call's bridge (the customer of a click-to-call or a dialer call
    put through to an agent, or the agent)."""
    others = [member for member in call.bridge_members if member != leg]
    return others[0] if others else None


def _phone_legs(call, context: str, exten: str, prefix: str) -> tuple[str, str | None]:
    """The phone a transfer context's Dial rings (``Scenario.transfer_dials``): a Local pair
    (``prefix``1/2; the rig's cap-phones) or one channel (PJSIP/<ext>-N; an outside number: the
    trunk). Returns (the leg that answers, its ;2 half or None)."""
    server = call.server
    dial = server.scenario.transfer_dials.get(context, "PJSIP/{exten}").format(exten=exten)
    if dial.startswith("Local/"):
        local_exten, _, local_context = dial[len("Local/"):].partition("@")
        call._pair(prefix, dial, local_context, local_exten, server.new_uniqueid(call.t),
                   server.new_uniqueid(call.t), call.channel_id)
        return prefix + "1", prefix + "2"
    device = dial if re.fullmatch(r"PJSIP/\d{3,6}", dial) else "PJSIP/dialfunnel-trunk"
    call._single(prefix + "1", f"{device}-{server.next_channel_seq():08x}", context, exten,
                 call.channel_id)
    return prefix + "1", None


def _target_legs(call, context: str, exten: str) -> tuple[str, str]:
    """The Atxfer feature dials ``Local/<exten>@<context>`` (k1 joins the consultation bridge,
    k2 runs the context; not t1/t2, an agent's own call's customer)."""
    server = call.server
    call._pair("k", f"Local/{exten}@{context}", context, exten, server.new_uniqueid(call.t),
               server.new_uniqueid(call.t), call.channel_id)
    return "k1", "k2"


def _ring(call, caller: str | None, phone: tuple[str, str | None], dialstring: str) -> None:
    for leg in phone:
        if leg:
            call.execute("Newchannel", leg, {})
    call.execute("DialBegin", phone[0], {"caller": caller, "dialstring": dialstring})


def _answer(call, caller: str | None, phone: tuple[str, str | None]) -> None:
    if phone[1]:
        call.execute("Newstate", phone[1], {"state": 6})
    call.execute("Newstate", phone[0], {"state": 6})
    call.execute("DialEnd", phone[0], {"caller": caller, "status": "ANSWER"})


def _emit(call, kind: str, leg: str, extra=()) -> None:
    call.server.emit(kind, call.chan(leg) + list(extra))


# --- actions ---------------------------------------------------------------------------------
def redirect(server, session, msg) -> None:
    aid = msg.get("ActionID")
    name = msg.get("Channel")
    if not name:
        session.respond(aid, "Error", "Channel not specified")
        return
    for header in ("Context", "Exten", "Priority"):
        if not msg.get(header):
            session.respond(aid, "Error", f"{header} not specified")
            return
    found = server.find_leg(name)
    if not found:
        session.respond(aid, "Error", f"Channel does not exist: {name}")
        return
    call, leg = found
    session.respond(aid, "Success", "Redirect successful")

    def run(when):
        call.interrupt(when)
        peer, bridged = _peer(call, leg), call.bridged
        if bridged:
            _bridge(call, "BridgeLeave", call.bridge_id, 1, leg)
            _bridge(call, "BridgeLeave", call.bridge_id, 0, peer)
        call.legs[leg].update(Context=msg["Context"], Exten=msg["Exten"],
                              Priority=str(int(msg.get("Priority") or 1) + 1))
        _emit(call, "MusicOnHoldStart", leg, [("Class", "default")])
        if bridged:
            _bridge(call, "BridgeDestroy", call.bridge_id, 0)
        call.on_hold = leg
    server.scheduler.at(server.scheduler.now(), run)


def bridge(server, session, msg) -> None:
    aid = msg.get("ActionID")
    one, two = msg.get("Channel1"), msg.get("Channel2")
    if not one or not two:
        session.respond(aid, "Error", "Missing channel parameter in request")
        return
    first, second = server.find_leg(one), server.find_leg(two)
    if not first:
        session.respond(aid, "Error", f"Channel1 does not exist: {one}")
        return
    if not second:
        session.respond(aid, "Error", f"Channel2 does not exist: {two}")
        return
    call, leg1 = first
    leg2 = second[1]
    session.respond(aid, "Success", "Channels have been bridged")

    def run(when):
        call.interrupt(when)
        call.bridge_id = _new_bridge(call)
        _bridge(call, "BridgeCreate", call.bridge_id, 0)
        _bridge(call, "BridgeEnter", call.bridge_id, 1, leg1)
        if call.on_hold == leg2:
            _emit(call, "MusicOnHoldStop", leg2)
        _bridge(call, "BridgeEnter", call.bridge_id, 2, leg2)
        call.on_hold = None
    server.scheduler.at(server.scheduler.now(), run)


def mute_audio(server, session, msg) -> None:
    aid = msg.get("ActionID")
    for header, text in (("Channel", "Channel not specified"), ("Direction", "Direction not specified"),
                         ("State", "State not specified")):
        if not msg.get(header):
            session.respond(aid, "Error", text)
            return
    found = server.find_leg(msg["Channel"])
    if not found:
        session.respond(aid, "Error", "No such channel")
        return
    if msg["Direction"].lower() not in ("in", "out", "all"):
        session.respond(aid, "Error", "Invalid direction specified")
        return
    found[0].muted[found[1]] = msg["State"].lower() in ("on", "yes", "true", "1")
    session.respond(aid, "Success", "Audiohook has been updated")


def blind_transfer(server, session, msg) -> None:
    aid = msg.get("ActionID")
    if msg.get("Channel") and not msg.get("Exten"):
        session.respond(aid, "Error", "No extension specified")
        return
    found = _leg_of(server, session, aid, msg.get("Channel"), "No channel specified",
                    "Channel specified does not exist")
    if not found:
        return
    call, leg = found
    if not call.bridged or leg not in call.bridge_members:
        session.respond(aid, "Error", "Transfer invalid")
        return
    session.respond(aid, "Success", "Transfer succeeded")
    context, exten = msg.get("Context") or call.legs[leg]["Context"], msg["Exten"]
    peer = _peer(call, leg)
    phone: list = []

    def run(when):
        call.interrupt(when)
        server.emit("Unhold", call.chan(leg))
        server.emit("BlindTransfer", [("Result", "Success")] + call.chan(leg, "Transferer")
                    + call.chan(peer, "Transferee") + call.bridge_headers(2)
                    + [("IsExternal", "Yes"), ("Context", context), ("Extension", exten)])
        _bridge(call, "BridgeLeave", call.bridge_id, 1, leg)
        for half in (leg, leg[0] + "2"):
            if half in call.legs and call.legs[half]["alive"]:
                call.execute("Hangup", half, {"cause": 16})
        _bridge(call, "BridgeLeave", call.bridge_id, 0, peer)
        call.legs[peer].update(Context=context, Exten=exten, Priority="1")
        phone.extend(_phone_legs(call, context, exten, "x"))
        _ring(call, peer, phone, exten)
        call.execute("Newstate", phone[0], {"state": 5})
        _bridge(call, "BridgeDestroy", call.bridge_id, 0)
        call.execute("DialState", phone[0], {"caller": peer, "status": "RINGING"})
        server.scheduler.at(when + call.durations.get("agent_ring", 1.0), answered)

    def answered(when):
        if call.done or not call.legs[peer]["alive"]:
            return
        call.t = when
        _answer(call, peer, phone)
        call.bridge_id = _new_bridge(call)
        _bridge(call, "BridgeCreate", call.bridge_id, 0)
        _bridge(call, "BridgeEnter", call.bridge_id, 1, phone[0])
        _bridge(call, "BridgeEnter", call.bridge_id, 2, peer)
    server.scheduler.at(server.scheduler.now(), run)


def atxfer(server, session, msg) -> None:
    aid = msg.get("ActionID")
    if msg.get("Channel") and not msg.get("Exten"):
        session.respond(aid, "Error", "No extension specified")
        return
    found = _leg_of(server, session, aid, msg.get("Channel"), "No channel specified",
                    "Channel specified does not exist")
    if not found:
        return
    if not server.scenario.atxfer_code:
        session.respond(aid, "Error", "No attended transfer feature code found")
        return
    call, leg = found
    session.respond(aid, "Success", "Atxfer successfully queued")
    context, exten = msg.get("Context") or call.legs[leg]["Context"], msg["Exten"]
    peer = _peer(call, leg)
    digits = server.scenario.atxfer_code + exten

    def dtmf(digit):
        _emit(call, "DTMFEnd", leg, [("Digit", digit), ("DurationMs", "0"), ("Direction", "Received")])

    phone: list = []

    def run(when):        # the feature code, ~0.26 s after the action (DTMF detection)
        call.interrupt(when)
        for digit in digits[:2]:
            dtmf(digit)
        if not call.bridged:
            return               # not in a bridge: the digits reach nobody
        server.emit("Hold", call.chan(leg))
        _emit(call, "MusicOnHoldStart", peer, [("Class", "default")])
        server.scheduler.at(when + DIGITS_SECONDS, dialled)

    def dialled(when):    # the exten collected: the target is dialled, the agent moves
        call.t = when
        for digit in digits[2:]:
            dtmf(digit)
        target = _target_legs(call, context, exten)
        for half in target:
            call.execute("Newchannel", half, {})
        call.consult_id = _new_bridge(call)
        _bridge(call, "BridgeCreate", call.consult_id, 0)
        phone.extend(_phone_legs(call, context, exten, "p"))
        _ring(call, "k2", phone, server.scenario.transfer_dials.get(context, "PJSIP/{exten}")
              .format(exten=exten).partition("/")[2])
        _bridge(call, "BridgeEnter", call.consult_id, 1, "k1")
        call.execute("Newstate", phone[0], {"state": 5})
        _bridge(call, "BridgeLeave", call.bridge_id, 1, leg)
        _bridge(call, "BridgeEnter", call.consult_id, 2, leg)
        call.execute("Newstate", "k1", {"state": 5})
        call.execute("DialState", "k1", {"status": "RINGING"})
        call.execute("DialState", phone[0], {"caller": "k2", "status": "RINGING"})
        call.consulting = leg
        server.scheduler.at(when + call.durations.get("agent_ring", 1.0), answered)

    def answered(when):
        if call.consulting != leg or not call.legs["k1"]["alive"]:
            return
        call.t = when
        _answer(call, "k2", phone)
        call.execute("Newstate", "k2", {"state": 6})
        call.target_bridge = _new_bridge(call)
        _bridge(call, "BridgeCreate", call.target_bridge, 0)
        _bridge(call, "BridgeEnter", call.target_bridge, 1, phone[0])
        call.execute("Newstate", "k1", {"state": 6})
        call.execute("DialEnd", "k1", {"status": "ANSWER"})
        _bridge(call, "BridgeEnter", call.target_bridge, 2, "k2")
    server.scheduler.at(server.scheduler.now() + FEATURE_SECONDS, run)


def complete_atxfer(call, leg: str) -> None:
    """The transferer hangs up during the consultation: the target takes its place."""
    server = call.server
    peer = _peer(call, leg)
    server.emit("BridgeMerge", _prefixed(call.bridge_headers(1), "To")
                + _prefixed(call.bridge_headers(2, call.consult_id), "From"))
    _bridge(call, "BridgeLeave", call.consult_id, 1, "k1")
    _bridge(call, "BridgeEnter", call.bridge_id, 2, "k1")
    _bridge(call, "BridgeLeave", call.consult_id, 0, leg)
    _emit(call, "MusicOnHoldStop", peer)
    server.emit("AttendedTransfer", [("Result", "Success")] + call.chan(leg, "OrigTransferer")
                + _prefixed(call.bridge_headers(2), "Orig") + call.chan(leg, "SecondTransferer")
                + _prefixed(call.bridge_headers(0, call.consult_id), "Second")
                + call.chan(peer, "Transferee") + call.chan("k1", "TransferTarget")
                + [("IsExternal", "No"), ("DestType", "Bridge"),
                   ("DestBridgeUniqueid", call.bridge_id)])
    _bridge(call, "BridgeDestroy", call.consult_id, 0)
    for half in (leg, leg[0] + "2"):
        if half in call.legs and call.legs[half]["alive"]:
            call.execute("Hangup", half, {"cause": 16})
    call.consulting = None


def cancel_atxfer(server, session, msg) -> None:
    aid = msg.get("ActionID")
    found = _leg_of(server, session, aid, msg.get("Channel"), "No channel specified",
                    "Channel specified does not exist")
    if not found:
        return
    call, leg = found
    session.respond(aid, "Success", "CancelAtxfer successfully queued")
    peer = _peer(call, leg)

    def run(when):
        call.interrupt(when)
        for digit in ABORT_CODE:
            _emit(call, "DTMFEnd", leg, [("Digit", digit), ("DurationMs", "0"), ("Direction", "Received")])
        if call.consulting != leg:
            return
        _bridge(call, "BridgeLeave", call.consult_id, 1, leg)
        _bridge(call, "BridgeEnter", call.bridge_id, 2, leg)
        _emit(call, "MusicOnHoldStop", peer)
        server.emit("Unhold", call.chan(leg))
        _bridge(call, "BridgeLeave", call.consult_id, 0, "k1")
        _bridge(call, "BridgeDestroy", call.consult_id, 0)
        call.execute("Hangup", "k1", {"cause": 16})
        bridged = [k for k in ("k2", "p1") if k in call.legs]
        for n, half in enumerate(bridged):
            _bridge(call, "BridgeLeave", call.target_bridge, len(bridged) - n - 1, half)
            if n == len(bridged) - 1 and call.target_bridge:
                _bridge(call, "BridgeDestroy", call.target_bridge, 0)
            if half == "k2":
                call.execute("Hangup", half, {"cause": 16})
        for half in ("p1", "p2"):
            if half in call.legs and call.legs[half]["alive"]:
                call.execute("Hangup", half, {"cause": 16})
        call.consulting = None
    server.scheduler.at(server.scheduler.now() + FEATURE_SECONDS, run)


def _prefixed(headers, prefix: str):
    return [(prefix + key, value) for key, value in headers]


ACTIONS = {"redirect": redirect, "bridge": bridge, "muteaudio": mute_audio,
           "blindtransfer": blind_transfer, "atxfer": atxfer, "cancelatxfer": cancel_atxfer}
