"""The PBX simulator's ConfBridge rooms and ChanSpy sessions (issue 14).

    Redirect (with ExtraChannel) of a call's legs into a conference context, an Originate
    into a conference context or into ChanSpy, ConfbridgeList / Kick / Mute / Unmute, and the
    Hangup action on a channel that is in a room or spying.

Recorded (tests/fixtures/asterisk/captures-2026-12/ami-redirect-confbridge*.txt,
ami-chanspy.txt; kept events in the same order, same headers):
  * Redirect: "Dual Redirect successful" with ExtraChannel, else "Redirect successful";
    BridgeLeave (ExtraChannel first), BridgeCreate of the room (base/softmix, ConfBridge,
    the room's name), BridgeLeave of the other leg, BridgeDestroy of the basic bridge,
    ConfbridgeStart; then per leg BridgeEnter + ConfbridgeJoin (ExtraChannel first). A single
    Redirect: ConfbridgeStart comes before the peer left behind leaves the bridge and is hung
    up (16), then the redirected leg joins. An
    originated third party: ConfbridgeJoin, then BridgeEnter. BridgeNumChannels counts
    ConfBridge's announcer too. A redirected leg shows the target Context/Exten (Priority 1
    in its BridgeLeave, the ConfBridge() priority once in the room).
  * A member hung up by AMI: ConfbridgeLeave, BridgeLeave, VarSet CONFBRIDGE_RESULT=HANGUP,
    (the last: ConfbridgeEnd, BridgeDestroy), then the channel's Hangup (16) and its ;2 half.
  * ChanSpy: ChanSpyStart / ChanSpyStop with Spyer* then Spyee* headers, each followed by
    VarSet BRIDGEPEER re-emitted on the spied call's peer, then on the spied channel; a spyer
    hung up by AMI gets Cause 0 (HangupRequest of its ;2 half, Hangup, SoftHangupRequest ;2 16,
    Hangup ;2 0).
From Asterisk's source, not captured (apps/app_confbridge.c, apps/app_chanspy.c):
  * ConfbridgeList: list ack "Confbridge user list will follow", one ConfbridgeList event per
    member (no Privilege; ActionID first; Conference, CallerIDNum, CallerIDName, Channel, Admin,
    MarkedUser, WaitMarked, EndMarked, Waiting, Muted, AnsweredTime), ConfbridgeListComplete.
    Errors: "No Conference name provided.", "No active conferences.", "No Conference by that
    name found.".
  * ConfbridgeKick: "User kicked" (Channel "all": "All participants kicked"), else "No Channel
    by that name found in Conference."; the kicked member leaves with CONFBRIDGE_RESULT=KICKED
    and runs on in the dialplan (ours: Hangup(), cause 16).
  * ConfbridgeMute / Unmute: "User muted" / "User unmuted"; "No channel name provided.";
    events ConfbridgeMute / ConfbridgeUnmute (bridge, channel, Admin).
  * A marked user leaving: every end_marked member leaves (CONFBRIDGE_RESULT=ENDMARKED) and is
    hung up by the dialplan; members without end_marked stay and talk on.
  * ChanSpy with option E: when the spied channel hangs up, ChanSpyStop, then the spyer's
    dialplan goes on to Hangup() (cause 16).
Modelled: the profiles of dialplan/confbridge_dialfunnel.conf play no join sound
(announce_only_user = no), so a join is published at once.
"""
from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field

from agi.ami.wire import encode

# The dialplan's three-way contexts (dialplan/extensions_dialfunnel.conf): context → (marked,
# the priority of its ConfBridge()). The room is dialfunnel-<exten>.
CONFERENCE_CONTEXTS = {"dialfunnel-conference-agent": (True, 2), "dialfunnel-conference": (False, 6)}
ROOM_PREFIX = "dialfunnel-"
SPY_CONTEXT = "dialfunnel-spy"
# What dialfunnel-spy runs per mode (its Exten): ChanSpy's options.
SPY_OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
SPY_TARGET_VARIABLE = "DF_SPY_TARGET"
_SPY_TARGET_CHARS = re.compile(r"[^-A-Za-z0-9/@._;]")   # the dialplan's FILTER()
# A member's end_marked, per the dialplan's DF_CONF_AGENT_LEAVES (stay: the others talk on).
END_MARKED = {"stay": False, "end": True}


@dataclass
class Member:
    call: object
    leg: str
    marked: bool
    end_marked: bool
    joined_at: float
    muted: bool = False


@dataclass
class Room:
    name: str
    bridge_id: str
    members: list[Member] = field(default_factory=list)

    def bridge(self, count: int) -> list[tuple[str, str]]:
        return [("BridgeUniqueid", self.bridge_id), ("BridgeType", "base"),
                ("BridgeTechnology", "softmix"), ("BridgeCreator", "ConfBridge"),
                ("BridgeName", self.name), ("BridgeNumChannels", str(count)),
                ("BridgeVideoSourceMode", "none")]

    def conference(self, count: int) -> list[tuple[str, str]]:
        return [("Conference", self.name)] + self.bridge(count)

    def find(self, channel: str) -> Member | None:
        return next((m for m in self.members if m.call.legs[m.leg]["Channel"] == channel), None)


@dataclass
class Spy:
    spyer: object     # the manager's Call
    spyer_leg: str
    spyee: object     # the spied Call
    spyee_leg: str
    options: str
    started: bool = False


class Rooms:
    def __init__(self, server, agent_leaves: str = "stay"):
        self.server = server
        self.end_marked = END_MARKED[agent_leaves]
        self.rooms: dict[str, Room] = {}
        self.spies: list[Spy] = []          # every ChanSpy started (tests read the options)
        self._lock = threading.RLock()

    # --- helpers ---------------------------------------------------------------------------
    def emit(self, event: str, headers) -> None:
        self.server.emit(event, list(headers))

    def _room_of(self, call, leg) -> tuple[Room, Member] | None:
        for room in self.rooms.values():
            for member in room.members:
                if member.call is call and member.leg == leg:
                    return room, member
        return None

    def _spy_of(self, call, leg) -> Spy | None:
        return next((s for s in self.spies if s.spyer is call and s.spyer_leg == leg
                     and call.legs[leg]["alive"]), None)

    @staticmethod
    def _partner(call, leg: str) -> str | None:
        other = leg[0] + ("2" if leg.endswith("1") else "1")
        return other if other != leg and other in call.legs and call.legs[other]["alive"] else None

    def _new_room(self, name: str) -> Room:
        room = Room(name, str(uuid.UUID(int=self.server.rng.getrandbits(128), version=4)))
        self.rooms[name] = room
        return room

    def _enter(self, room: Room, call, leg: str, context: str, originated: bool) -> None:
        marked, priority = CONFERENCE_CONTEXTS[context]
        call.legs[leg]["Priority"] = str(priority)
        room.members.append(Member(call, leg, marked, not marked and self.end_marked,
                                    self.server.scheduler.now()))
        count = len(room.members) + 1
        join = room.conference(count) + call.chan(leg) + [("Admin", "No"), ("Muted", "No")]
        enter = room.bridge(count) + call.chan(leg)
        if originated:
            self.emit("ConfbridgeJoin", join)
            self.emit("BridgeEnter", enter)
        else:
            self.emit("BridgeEnter", enter)
            self.emit("ConfbridgeJoin", join)

    def _hangup_legs(self, call, leg: str, cause: int, *, requested: bool) -> None:
        """The member's channel goes: by AMI (requested: Soft/HangupRequest first) or by the
        dialplan's Hangup() after ConfBridge() returned."""
        partner = self._partner(call, leg)
        if requested:
            call.execute("SoftHangupRequest", leg, {"cause": cause})
            if partner:
                call.execute("HangupRequest", partner, {"cause": cause})
        call.execute("Hangup", leg, {"cause": cause})
        if partner:
            call.execute("SoftHangupRequest", partner, {"cause": cause})
            call.execute("Hangup", partner, {"cause": cause})
        self._maybe_finish(call)

    @staticmethod
    def _maybe_finish(call) -> None:
        if not any(leg["alive"] for leg in call.legs.values()):
            call.finish()

    # --- Redirect ---------------------------------------------------------------------------
    @staticmethod
    def takes_redirect(msg) -> bool:
        """A Redirect into a three-way room (the call bar's hold Redirect is ami_console's)."""
        return (msg.get("Context") in CONFERENCE_CONTEXTS
                or msg.get("ExtraContext") in CONFERENCE_CONTEXTS)

    def redirect(self, session, msg) -> None:
        """manager.c action_redirect: one channel, or two with ExtraChannel ("Dual")."""
        aid = msg.get("ActionID")
        name, extra = msg.get("Channel"), msg.get("ExtraChannel")
        if not name:
            session.respond(aid, "Error", "Channel not specified")
            return
        if not msg.get("Context") or not msg.get("Exten"):
            session.respond(aid, "Error", "Context and Exten are required")   # modelled
            return
        found = self.server.find_leg(name)
        if not found:
            session.respond(aid, "Error", f"Channel does not exist: {name}")
            return
        moves = [(found, msg.get("Context"), msg.get("Exten"))]
        if extra:
            other = self.server.find_leg(extra)
            if not other:
                session.respond(aid, "Error", f"Channel does not exist: {extra}")
                return
            moves.append((other, msg.get("ExtraContext") or msg.get("Context"),
                          msg.get("ExtraExten") or msg.get("Exten")))
        session.respond(aid, "Success", "Dual Redirect successful" if extra else "Redirect successful")
        self.server.scheduler.at(self.server.scheduler.now(), lambda when: self._move(moves, when))

    def _move(self, moves, when: float) -> None:
        with self._lock:
            leaving = list(reversed(moves))       # the capture: ExtraChannel leaves first
            for (call, leg), context, exten in moves:
                call.gen += 1                     # the call's script stops: its legs move
                call.t = when
                call.legs[leg].update(Context=context, Exten=exten, Priority="1")
            names = {ROOM_PREFIX + exten for _, context, exten in moves if context in CONFERENCE_CONTEXTS}
            new_rooms = [self._new_room(n) for n in sorted(names) if n not in self.rooms]
            created = False
            for (call, leg), _, _ in leaving:
                if leg in call.bridge_members:
                    call.bridge_members.remove(leg)
                    call.execute("BridgeLeave", leg, {"count": len(call.bridge_members)})
                if not created:
                    for room in new_rooms:
                        self.emit("BridgeCreate", room.bridge(0))
                    created = True
                if (call, leg) == leaving[-1][0] and not call.bridge_members:
                    call.execute("BridgeDestroy", None, {"count": 0})
            for room in new_rooms:
                self.emit("ConfbridgeStart", room.conference(1))
            for call in {id(c): c for (c, _), _, _ in moves}.values():
                self._drop_left_behind(call)
            for (call, leg), context, exten in leaving:
                if context in CONFERENCE_CONTEXTS:
                    self._enter(self.rooms[ROOM_PREFIX + exten], call, leg, context, originated=False)

    def _drop_left_behind(self, call) -> None:
        """A single Redirect out of a two-party bridge (ami-redirect-confbridge-single.txt): the
        peer left in the bridge has no dialplan to return to and is hung up (16)."""
        for leg in list(call.bridge_members):
            call.bridge_members.remove(leg)
            call.execute("BridgeLeave", leg, {"count": len(call.bridge_members)})
            if not call.bridge_members:
                call.execute("BridgeDestroy", None, {"count": 0})
            partner = self._partner(call, leg)
            if partner:
                call.execute("HangupRequest", partner, {"cause": 16})
            call.execute("Hangup", leg, {"cause": 16})
            if partner:
                call.execute("SoftHangupRequest", partner, {"cause": 16})
                call.execute("Hangup", partner, {"cause": 16})
        self._maybe_finish(call)

    # --- an Originate answered into a conference or into ChanSpy ----------------------------
    def handles(self, call) -> bool:
        context = call.msg.get("Context") or ""
        return (context in CONFERENCE_CONTEXTS or context == SPY_CONTEXT
                or (call.msg.get("Application") or "").lower() == "chanspy")

    def originated(self, call) -> None:
        """The originated channel (o1) was answered and runs the Originate's target."""
        with self._lock:
            context = call.msg.get("Context") or ""
            exten = call.msg.get("Exten") or ""
            if context in CONFERENCE_CONTEXTS:
                name = ROOM_PREFIX + exten
                room = self.rooms.get(name)
                if room is None:
                    room = self._new_room(name)
                    self.emit("BridgeCreate", room.bridge(0))
                    self.emit("ConfbridgeStart", room.conference(1))
                self._enter(room, call, "o1", context, originated=True)
                return
            if context == SPY_CONTEXT:
                options = SPY_OPTIONS.get(exten)
                variables = dict(v.partition("=")[::2] for v in call.msg.get_all("Variable"))
                prefix = _SPY_TARGET_CHARS.sub("", variables.get(SPY_TARGET_VARIABLE, ""))
                if not options or not prefix:   # the dialplan hangs up
                    self._hangup_legs(call, "o1", 16, requested=False)
                    return
            else:
                prefix, _, options = (call.msg.get("Data") or "").partition(",")
            self._start_spy(call, prefix, options)

    def _start_spy(self, call, prefix: str, options: str) -> None:
        target = None
        calls = [c for c in self.server.live_calls() if c is not call]
        for other in calls:
            for key, leg in sorted(other.legs.items()):
                if leg["alive"] and leg["Channel"].startswith(prefix):
                    target = (other, key)
                    break
            if target:
                break
        if target is None:
            return   # ChanSpy scans on for a channel to appear (not modelled: nothing happens)
        spy = Spy(call, "o1", target[0], target[1], options, started=True)
        self.spies.append(spy)
        self.emit("ChanSpyStart", call.chan("o1", "Spyer") + target[0].chan(target[1], "Spyee"))
        self._bridgepeer(spy)

    def _bridgepeer(self, spy: Spy) -> None:
        spyee, leg = spy.spyee, spy.spyee_leg
        peers = [k for k in spyee.bridge_members if k != leg]
        if leg in spyee.bridge_members and len(peers) == 1:
            peer = peers[0]
            spyee.execute("VarSet", peer, {"variable": "BRIDGEPEER", "value": spyee.legs[leg]["Channel"]})
            spyee.execute("VarSet", leg, {"variable": "BRIDGEPEER", "value": spyee.legs[peer]["Channel"]})

    def _stop_spy(self, spy: Spy, *, reemit: bool) -> None:
        spy.started = False
        self.emit("ChanSpyStop", spy.spyer.chan(spy.spyer_leg, "Spyer")
                  + spy.spyee.chan(spy.spyee_leg, "Spyee"))
        if reemit:
            self._bridgepeer(spy)

    # --- Hangup action and channels that go ---------------------------------------------------
    def hang_up(self, call, leg: str, cause: int, when: float) -> bool:
        """The Hangup action on a room member or a spyer; False: not ours (the call's own
        teardown applies)."""
        with self._lock:
            found = self._room_of(call, leg)
            if found:
                call.t = when
                self._leave(found[0], found[1], "HANGUP", cause, requested=True)
                return True
            spy = self._spy_of(call, leg)
            if spy is None:
                return False
            call.gen += 1
            call.t = when
            if spy.started:
                self._stop_spy(spy, reemit=True)
            partner = self._partner(call, leg)
            if partner:
                call.execute("HangupRequest", partner, {"cause": 0})
            call.execute("Hangup", leg, {"cause": 0})     # ami-chanspy: Cause 0 on both halves
            if partner:
                call.execute("SoftHangupRequest", partner, {"cause": 16})
                call.execute("Hangup", partner, {"cause": 0})
            self._maybe_finish(call)
            return True

    def channel_gone(self, call, leg: str) -> None:
        """A channel hung up (its call's script, or any teardown): ChanSpy with option E ends
        and the spyer's dialplan hangs up."""
        with self._lock:
            for spy in [s for s in self.spies if s.started and s.spyee is call and s.spyee_leg == leg]:
                self._stop_spy(spy, reemit=False)
                spyer = spy.spyer
                if spyer.legs[spy.spyer_leg]["alive"]:
                    spyer.gen += 1
                    self._hangup_legs(spyer, spy.spyer_leg, 16, requested=False)

    def _leave(self, room: Room, member: Member, result: str, cause: int, *, requested: bool) -> None:
        call, leg = member.call, member.leg
        count = len(room.members) + 1
        self.emit("ConfbridgeLeave", room.conference(count) + call.chan(leg) + [("Admin", "No")])
        room.members.remove(member)
        self.emit("BridgeLeave", room.bridge(count - 1) + call.chan(leg))
        call.execute("VarSet", leg, {"variable": "CONFBRIDGE_RESULT", "value": result})
        if not room.members:
            self.emit("ConfbridgeEnd", room.conference(1))
            self.emit("BridgeDestroy", room.bridge(0))
            del self.rooms[room.name]
        self._hangup_legs(call, leg, cause, requested=requested)
        if member.marked and not any(m.marked for m in room.members):
            for other in [m for m in room.members if m.end_marked]:
                self._leave(room, other, "ENDMARKED", 16, requested=False)

    # --- ConfbridgeList / Kick / Mute -----------------------------------------------------------
    def _room_for_action(self, session, msg) -> Room | None:
        aid = msg.get("ActionID")
        name = msg.get("Conference")
        if not name:
            session.respond(aid, "Error", "No Conference name provided.")
            return None
        if not self.rooms:
            session.respond(aid, "Error", "No active conferences.")
            return None
        room = self.rooms.get(name)
        if room is None:
            session.respond(aid, "Error", "No Conference by that name found.")
        return room

    def confbridge_list(self, session, msg) -> None:
        aid = msg.get("ActionID")
        with self._lock:
            room = self._room_for_action(session, msg)
            if room is None:
                return
            session.respond(aid, "Success", extra=[("EventList", "start"),
                                                   ("Message", "Confbridge user list will follow")])
            head = [("ActionID", aid)] if aid else []
            now = self.server.scheduler.now()
            for m in room.members:
                chan = m.call.legs[m.leg]
                session.send(encode([("Event", "ConfbridgeList")] + head + [
                    ("Conference", room.name),
                    ("CallerIDNum", chan["CallerIDNum"]), ("CallerIDName", chan["CallerIDName"]),
                    ("Channel", chan["Channel"]), ("Admin", "No"),
                    ("MarkedUser", "Yes" if m.marked else "No"), ("WaitMarked", "No"),
                    ("EndMarked", "Yes" if m.end_marked else "No"), ("Waiting", "No"),
                    ("Muted", "Yes" if m.muted else "No"),
                    ("AnsweredTime", str(int(now - m.joined_at)))]))
            session.send(encode([("Event", "ConfbridgeListComplete")] + head
                                + [("EventList", "Complete"), ("ListItems", str(len(room.members)))]))

    def confbridge_kick(self, session, msg) -> None:
        aid = msg.get("ActionID")
        with self._lock:
            room = self._room_for_action(session, msg)
            if room is None:
                return
            channel = msg.get("Channel") or ""
            members = list(room.members) if channel == "all" else [m for m in [room.find(channel)] if m]
            if not members:
                session.respond(aid, "Error", "No Channel by that name found in Conference.")
                return
            session.respond(aid, "Success", "All participants kicked" if channel == "all" else "User kicked")

        def kick(when: float) -> None:
            with self._lock:
                for member in members:
                    if member in room.members:
                        member.call.t = when
                        self._leave(room, member, "KICKED", 16, requested=False)
        self.server.scheduler.at(self.server.scheduler.now(), kick)

    def confbridge_mute(self, session, msg, mute: bool) -> None:
        aid = msg.get("ActionID")
        if not msg.get("Conference"):
            session.respond(aid, "Error", "No Conference name provided.")
            return
        if not msg.get("Channel"):
            session.respond(aid, "Error", "No channel name provided.")
            return
        with self._lock:
            room = self._room_for_action(session, msg)
            if room is None:
                return
            member = room.find(msg["Channel"])
            if member is None:
                session.respond(aid, "Error", "No Channel by that name found in Conference.")
                return
            member.muted = mute
            session.respond(aid, "Success", "User muted" if mute else "User unmuted")
            self.emit("ConfbridgeMute" if mute else "ConfbridgeUnmute",
                      room.conference(len(room.members) + 1) + member.call.chan(member.leg)
                      + [("Admin", "No")])
