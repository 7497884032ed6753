"""The PBX simulator's queues (app_queue): the manager actions QueueAdd, QueueRemove, QueuePause
and QueueStatus, with the responses and events of a real Asterisk 22.10.1
(tests/fixtures/asterisk/captures-2026-12/ami-queue-members.txt), and which member a queued
caller is offered to.

What the capture shows and this reproduces:
  * QueueAdd → "Added interface to queue", then DeviceStateChange ``Queue:<q>_pause_<iface>``,
    QueueMemberAdded, DeviceStateChange ``Queue:<q>_avail``; QueuePause → "Interface (un)paused
    successfully", the ``_pause_`` and ``_avail`` device states, QueueMemberPause; QueueRemove →
    "Removed interface from queue", QueueMemberRemoved, ``_avail``. The ``_avail`` device state
    (NOT_INUSE while some member is unpaused, INUSE otherwise) is sent only when it changes.
  * The member block: Queue, MemberName, Interface, StateInterface, Membership dynamic, Penalty,
    CallsTaken, LastCall, LastPause, LoginTime, InCall, Status, Paused, PausedReason (raw
    UTF-8), Ringinuse, Wrapuptime. Unpausing empties PausedReason and keeps LastPause.
  * QueueStatus: QueueParams, a QueueMember per member (Name/Location, no Ringinuse), a
    QueueEntry per waiting caller — no Privilege, ActionID last — then QueueStatusComplete
    (ActionID second; ListItems counts QueueParams too).
A caller is offered only to a member who is not paused and not on a queue call; with none, it
waits (joinempty=yes, as in the capture) and gives up (the ``queue_abandon`` script).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from agi.ami.wire import Message, encode

FALSE_WORDS = ("no", "false", "n", "f", "0", "off")


@dataclass
class Member:
    interface: str
    name: str
    state_interface: str
    penalty: int
    login_time: int
    paused: bool = False
    reason: str = ""
    last_pause: int = 0
    calls_taken: int = 0
    last_call: int = 0
    in_call: bool = False


@dataclass
class Queue:
    name: str
    strategy: str = "ringall"
    ringinuse: bool = False
    members: dict[str, Member] = field(default_factory=dict)   # by interface, in join order
    callers: list = field(default_factory=list)                # (call, leg, joined_at)
    completed: int = 0
    abandoned: int = 0

    def available(self) -> bool:
        return any(not m.paused for m in self.members.values())


def _paused_value(value: str | None) -> bool | None:
    """QueuePause/QueueAdd's Paused: ast_true / ast_false; None when neither."""
    text = (value or "").strip().lower()
    if text in ("yes", "true", "y", "t", "1", "on"):
        return True
    if text in FALSE_WORDS:
        return False
    return None


class QueueBook:
    """Every queue of the simulated PBX (``Scenario.queue_strategies``) and its members."""

    def __init__(self, server, strategies: dict[str, str]):
        self.server = server
        self.lock = threading.RLock()
        self.queues = {name: Queue(name, strategy) for name, strategy in strategies.items()}

    # --- events -------------------------------------------------------------------------------
    def _member_block(self, queue: Queue, m: Member) -> list[tuple[str, str]]:
        return [("Queue", queue.name), ("MemberName", m.name), ("Interface", m.interface),
                ("StateInterface", m.state_interface), ("Membership", "dynamic"),
                ("Penalty", str(m.penalty)), ("CallsTaken", str(m.calls_taken)),
                ("LastCall", str(m.last_call)), ("LastPause", str(m.last_pause)),
                ("LoginTime", str(m.login_time)), ("InCall", "1" if m.in_call else "0"),
                ("Status", "2" if m.in_call else "1"), ("Paused", "1" if m.paused else "0"),
                ("PausedReason", m.reason), ("Ringinuse", "1" if queue.ringinuse else "0"),
                ("Wrapuptime", "0")]

    def _device(self, device: str, in_use: bool) -> None:
        self.server.emit("DeviceStateChange", [("Device", device),
                                               ("State", "INUSE" if in_use else "NOT_INUSE")])

    def _avail_changed(self, queue: Queue, before: bool) -> None:
        if queue.available() != before:
            self._device(f"Queue:{queue.name}_avail", not queue.available())

    # --- actions --------------------------------------------------------------------------------
    def add(self, session, msg: Message) -> None:
        aid = msg.get("ActionID")
        name, iface = msg.get("Queue"), msg.get("Interface")
        if not name or not iface:
            session.respond(aid, "Error", "'Queue' or 'Interface' not set.")
            return
        paused = _paused_value(msg.get("Paused")) or False
        try:
            penalty = int(msg.get("Penalty") or 0)
        except ValueError:
            session.respond(aid, "Error", "Invalid penalty")
            return
        now = int(self.server.scheduler.now())
        with self.lock:
            queue = self.queues.get(name)
            if queue is None:
                session.respond(aid, "Error", "Unable to add interface to queue: No such queue")
                return
            if iface in queue.members:
                session.respond(aid, "Error", "Unable to add interface: Already there")
                return
            before = queue.available()
            member = Member(iface, msg.get("MemberName") or iface,
                            msg.get("StateInterface") or iface, penalty, now, paused=paused,
                            reason=(msg.get("Reason") or "") if paused else "",
                            last_pause=now if paused else 0)
            queue.members[iface] = member
            session.respond(aid, "Success", "Added interface to queue")
            self._device(f"Queue:{name}_pause_{iface}", paused)
            self.server.emit("QueueMemberAdded", self._member_block(queue, member))
            self._avail_changed(queue, before)

    def remove(self, session, msg: Message) -> None:
        aid = msg.get("ActionID")
        name, iface = msg.get("Queue"), msg.get("Interface")
        if not name or not iface:
            session.respond(aid, "Error", "Need 'Queue' and 'Interface' parameters.")
            return
        with self.lock:
            queue = self.queues.get(name)
            if queue is None:
                session.respond(aid, "Error", "Unable to remove interface from queue: No such queue")
                return
            member = queue.members.get(iface)
            if member is None:
                session.respond(aid, "Error", "Unable to remove interface: Not there")
                return
            before = queue.available()
            del queue.members[iface]
            session.respond(aid, "Success", "Removed interface from queue")
            self.server.emit("QueueMemberRemoved", self._member_block(queue, member))
            self._avail_changed(queue, before)

    def pause(self, session, msg: Message) -> None:
        """``Queue`` given: that queue only; else every queue the interface is a member of."""
        aid = msg.get("ActionID")
        iface, paused = msg.get("Interface"), _paused_value(msg.get("Paused"))
        if not iface or paused is None:
            session.respond(aid, "Error", "Need 'Interface' and 'Paused' parameters.")
            return
        now = int(self.server.scheduler.now())
        with self.lock:
            names = [msg.get("Queue")] if msg.get("Queue") else list(self.queues)
            hits = [(self.queues[n], self.queues[n].members[iface]) for n in names
                    if n in self.queues and iface in self.queues[n].members]
            if not hits:
                session.respond(aid, "Error", "Interface not found")
                return
            changes = []
            for queue, member in hits:
                changes.append((queue, member, queue.available()))
                member.paused = paused
                member.reason = (msg.get("Reason") or "") if paused else ""
                if paused:
                    member.last_pause = now
            session.respond(aid, "Success", "Interface paused successfully" if paused
                            else "Interface unpaused successfully")
            for queue, member, before in changes:
                self._device(f"Queue:{queue.name}_pause_{iface}", paused)
                self._avail_changed(queue, before)
                self.server.emit("QueueMemberPause", self._member_block(queue, member))

    def status(self, session, msg: Message) -> None:
        aid = msg.get("ActionID")
        tail = [("ActionID", aid)] if aid is not None else []
        session.respond(aid, "Success", extra=[("EventList", "start"),
                                               ("Message", "Queue status will follow")])
        wanted, only_member = msg.get("Queue"), msg.get("Member")
        now = self.server.scheduler.now()
        items = 0
        with self.lock:
            for queue in self.queues.values():
                if wanted and queue.name != wanted:
                    continue
                session.send(encode([("Event", "QueueParams"), ("Queue", queue.name), ("Max", "0"),
                                     ("Strategy", queue.strategy), ("Calls", str(len(queue.callers))),
                                     ("Holdtime", "0"), ("TalkTime", "0"),
                                     ("Completed", str(queue.completed)),
                                     ("Abandoned", str(queue.abandoned)), ("ServiceLevel", "0"),
                                     ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"),
                                     ("Weight", "0")] + tail))
                items += 1
                for m in queue.members.values():
                    if only_member and only_member not in (m.interface, m.name):
                        continue
                    block = dict(self._member_block(queue, m))
                    session.send(encode(
                        [("Event", "QueueMember"), ("Queue", queue.name), ("Name", m.name),
                         ("Location", m.interface)]
                        + [(k, block[k]) for k in ("StateInterface", "Membership", "Penalty",
                                                   "CallsTaken", "LastCall", "LastPause",
                                                   "LoginTime", "InCall", "Status", "Paused",
                                                   "PausedReason", "Wrapuptime")] + tail))
                    items += 1
                for position, (call, leg, joined) in enumerate(queue.callers, start=1):
                    chan = dict(call.chan(leg))
                    session.send(encode(
                        [("Event", "QueueEntry"), ("Queue", queue.name), ("Position", str(position))]
                        + [(k, chan[k]) for k in ("Channel", "Uniqueid", "CallerIDNum",
                                                  "CallerIDName", "ConnectedLineNum",
                                                  "ConnectedLineName")]
                        + [("Wait", str(int(now - joined))), ("Priority", "0")] + tail))
                    items += 1
        session.send(encode([("Event", "QueueStatusComplete")] + tail
                            + [("EventList", "Complete"), ("ListItems", str(items))]))

    # --- callers ----------------------------------------------------------------------------------
    def offer(self, name: str) -> Member | None:
        """The member a new caller of queue ``name`` is put through to: the first one (in join
        order) not paused and not on a queue call; None when the queue has dynamic members but
        none is free (the caller waits), or no such queue. The member is on the call from now."""
        with self.lock:
            queue = self.queues.get(name)
            if queue is None:
                return None
            for member in queue.members.values():
                if not member.paused and not member.in_call:
                    member.in_call = True
                    return member
            return None

    def has_members(self, name: str) -> bool:
        with self.lock:
            queue = self.queues.get(name)
            return bool(queue and queue.members)

    def caller_event(self, kind: str, name: str, call, leg: str) -> None:
        """The queue's side of the caller events a call script emits."""
        with self.lock:
            queue = self.queues.get(name)
            if queue is None:
                return
            if kind == "QueueCallerJoin":
                queue.callers.append((call, leg, self.server.scheduler.now()))
            elif kind == "QueueCallerLeave":
                queue.callers = [c for c in queue.callers if c[0] is not call]
            elif kind == "QueueCallerAbandon":
                queue.abandoned += 1

    def call_done(self, name: str, interface: str) -> None:
        """The member's queue call ended (AgentComplete)."""
        with self.lock:
            queue = self.queues.get(name)
            member = queue.members.get(interface) if queue else None
            if member is not None:
                member.in_call = False
                member.calls_taken += 1
                member.last_call = int(self.server.scheduler.now())
                queue.completed += 1
