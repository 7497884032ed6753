"""The PBX simulator's AMI side: a TCP server that speaks like Asterisk 22.10.1's manager.

    server = AMIServer(scenario=Scenario(seed=7), clock=FakeClock()).start()
    ... AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret") ...
    server.stop()

Actions: Login (``Events: on|off|<classes>``; a wrong secret is refused after
``auth_fail_delay`` real seconds, then the connection is closed, like Asterisk), Logoff (Goodbye,
"Thanks for all the fish.", close), Ping, Originate (async: answered at once with
"Originate successfully queued", then the outcome's events from ``ami_scenarios``; sync: answered
when the call is answered or fails), Hangup (``Cause``), ExtensionState (the agents' phones, see
``Scenario.phones``), QueueAdd/QueueRemove/QueuePause/QueueStatus (``ami_queues``: a queue
caller goes to a free unpaused member), Redirect (ExtraChannel) into a three-way room,
ConfbridgeList / Kick / Mute / Unmute and Originate into ChanSpy (``rooms.py``), the call bar's
Redirect (to hold), Bridge, MuteAudio, BlindTransfer, Atxfer, CancelAtxfer (``ami_console``),
Filter (the session's event filters, ``ami_filters``; needs the ``system`` write class;
a user's manager.conf ``eventfilter`` lines apply from login on: ``manager_conf``).
Anything else gets
"Invalid/unknown command"; any action but Login/Logoff before login gets "Permission denied".

Everything that acts on time runs on one scheduler thread driven by the given clock (see
``clock.py``), so with a FakeClock a test moves time by hand and the events come out in the same
order every run; random choices come from ``Scenario.seed`` (per number and attempt), so a run
is reproducible.

With ``fastagi=(host, port)``, an answered Originate into ``dialfunnel-outbound`` runs that
context of the dialplan with its FastAGI calls, as a real Asterisk does (``outbound_dialplan``);
without it the call only plays its script (the far side talks, then hangs up). An agent's own
call (``phone_call``, a click-to-call of a PJSIP phone) records the customer's channel through
dialfunnel-trunk-out's pre-dial handler, and that channel's hangup handler calls
recording_done over FastAGI when it hangs up, wherever the call bar moved it
(``customer_recording``). A queue member added as a device (``PJSIP/<ext>``) rings one
``PJSIP/<ext>-<seq>`` channel (``QUEUE_PHONE``); a Local member a ;1/;2 pair.

Test hooks: ``received`` (every action, in order), ``wait_handled()`` (every action received
was answered and what it schedules is queued), ``duplicate_events``, ``record_events`` +
``replay()``, ``phone_call()`` (an agent dials from the phone), ``drop_connections()``,
``refuse_connections`` (accept and close at once), ``drop_on_next(action)`` (close the session
instead of answering that action).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import random
import re
import socket
import threading
import time
import uuid
from typing import Callable

from agi.ami.wire import Message, Parser, encode
from agi.pbxsim import ami_console
from agi.pbxsim.ami_filters import EventFilters, FilterError
from agi.pbxsim import clock as simclock
from agi.pbxsim import customer_recording
from agi.pbxsim import fax
from agi.pbxsim import outbound_dialplan
from agi.pbxsim.ami_queues import QueueBook
from agi.pbxsim.ami_scenarios import (CAUSE_TEXT, DIALER_AGENT, PHONE_SCRIPTS, QUEUE_PHONE,
                                      STATE_DESC, Scenario, click_script, script_for, sip_script)
from agi.pbxsim.rooms import Rooms

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
DEFAULT_USERS = {"dialfunnel": "dialfunnel-secret"}

PRIVILEGE = {
    "Newexten": "dialplan,all", "VarSet": "dialplan,all",
    "QueueCallerJoin": "agent,all", "QueueCallerLeave": "agent,all", "QueueMemberStatus": "agent,all",
    "QueueCallerAbandon": "agent,all", "QueueMemberAdded": "agent,all",
    "QueueMemberPause": "agent,all", "QueueMemberRemoved": "agent,all",
    "AgentCalled": "agent,all", "AgentConnect": "agent,all", "AgentComplete": "agent,all",
    "FullyBooted": "system,all", "SuccessfulAuth": "security,all", "UserEvent": "user,all",
    "HangupHandlerPush": "dialplan,all", "HangupHandlerRun": "dialplan,all",
}
# The write classes each action needs (main/manager.c and the modules registering them): any one
# of them is enough; Ping needs none.
ACTION_AUTHORITY = {
    "ping": set(), "originate": {"originate"}, "hangup": {"system", "call"},
    "userevent": {"user"}, "coreshowchannels": {"system", "reporting"},
    "queueadd": {"agent"}, "queueremove": {"agent"}, "queuepause": {"agent"},
    "confbridgelist": {"reporting"}, "confbridgekick": {"call"},
    "confbridgemute": {"call"}, "confbridgeunmute": {"call"},
    "redirect": {"call"}, "bridge": {"call"}, "muteaudio": {"system"}, "blindtransfer": {"call"},
    "atxfer": {"call"}, "cancelatxfer": {"call"}, "extensionstate": {"call", "reporting"},
    "filter": {"system"},
}
CHANNEL_FIELDS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
                  "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
                  "Exten", "Priority", "Uniqueid", "Linkedid")


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "y", "t", "1", "on")


def parse_callerid(value: str | None) -> tuple[str, str]:
    """``"Tx Test" <5550100>`` → ("5550100", "Tx Test"); missing parts are ``<unknown>``."""
    if not value:
        return "<unknown>", "<unknown>"
    m = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', value)
    if m:
        return m.group(2) or "<unknown>", m.group(1) or "<unknown>"
    return value.strip(), "<unknown>"


def split_dial(dial: str) -> tuple[str, str, str]:
    """``Local/busy@tx-outcomes/n`` → (channel base ``Local/busy@tx-outcomes``, exten, context)."""
    tech, _, data = dial.partition("/")
    main = data.split("/")[0]
    exten, _, context = main.partition("@")
    return f"{tech}/{main}", exten, context


def _secs(value: float) -> str:
    return f"{value:g}"


def _tech_cause(args: dict) -> list[tuple[str, str]]:
    """A SIP trunk's Hangup and HangupRequest also carry the SIP response."""
    return [("TechCause", str(args["tech_cause"]))] if args.get("tech_cause") else []


# ---------------------------------------------------------------------------------- scheduler
class Scheduler:
    """Runs callbacks at simulated times, one at a time, in (time, insertion) order."""

    def __init__(self, clock):
        self.clock = clock
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)     # the loop waits on it: a new first task
        self._idle = threading.Condition(self._lock)   # settle() waits on it: a task or activity ended
        self._stopped = False
        self._busy = False
        self._active = 0   # threads working outside the scheduler (see activity())
        simclock.subscribe(clock, self._wake)
        self._thread = threading.Thread(target=self._loop, name="pbxsim-scheduler", daemon=True)
        self._thread.start()

    def now(self) -> float:
        return simclock.epoch(self.clock)

    def at(self, when: float, fn: Callable[[float], None]) -> None:
        """Run ``fn(when)`` once the clock reaches ``when`` (epoch seconds)."""
        with self._cv:
            item = (when, next(self._seq), fn)
            heapq.heappush(self._heap, item)
            if self._heap[0] is item:   # a later task cannot change how long the loop waits
                self._cv.notify_all()

    def _wake(self) -> None:
        with self._cv:
            self._cv.notify_all()
            self._idle.notify_all()

    def next_due(self) -> float | None:
        """When the earliest pending task is due (epoch seconds), None when nothing is pending."""
        with self._cv:
            return self._heap[0][0] if self._heap else None

    def activity(self) -> None:
        """Count a thread that acts for the simulator outside the scheduler (a dialplan running a
        FastAGI call): ``settle()`` waits for it, except while it waits in ``sleep()``. Call it
        from a scheduled task (so no settle() slips in before); ``done()`` when it ends."""
        with self._cv:
            self._active += 1

    def done(self) -> None:
        with self._cv:
            self._active -= 1
            self._idle.notify_all()

    def sleep(self, seconds: float) -> bool:
        """Block the calling thread for ``seconds`` of the clock's time (simulated under a
        FakeClock, real under a SystemClock); False if the scheduler stopped meanwhile."""
        woken = threading.Event()

        def wake(when: float) -> None:
            with self._cv:
                self._active += 1  # before settle() can see the scheduler idle
            woken.set()

        self.at(self.now() + max(0.0, seconds), wake)  # queued first: settle() sees it pending
        with self._cv:
            self._active -= 1
            self._idle.notify_all()
        while not woken.wait(0.2):
            if self._stopped:
                with self._cv:
                    self._active += 1
                return False
        return True

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until every task due by now has run and every activity waits in sleep() (for a
        clock moved by hand)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while (self._busy or self._active > 0
                   or (self._heap and self._heap[0][0] - self.now() <= 1e-6)):
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
            self._idle.notify_all()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while True:
                    if self._stopped:
                        return
                    timeout = None
                    if self._heap:
                        wait = self._heap[0][0] - self.now()
                        if wait <= 1e-6:  # float sums of due times vs the clock
                            when, _, fn = heapq.heappop(self._heap)
                            self._busy = True
                            break
                        timeout = simclock.real_timeout(self.clock, wait)
                    self._cv.wait(timeout)
            try:
                fn(when)
            except Exception:
                log.exception("pbxsim: scheduled task failed")
            finally:
                with self._cv:
                    self._busy = False
                    self._idle.notify_all()


# ---------------------------------------------------------------------------------- calls
class _Fields(dict):
    """Format fields of a call; ``{now}`` is the call's current simulated second."""

    def __init__(self, call: "Call", **kw):
        super().__init__(**kw)
        self.call = call

    def __missing__(self, key: str) -> str:
        if key == "now":
            return str(int(self.call.t))
        if key in self.call.legs:
            return self.call.legs[key]["Channel"]
        raise KeyError(key)


class Call:
    """One Originate being played out: its legs, its script and where it is in it."""

    def __init__(self, server: "AMIServer", session: "Session", msg: Message, outcome: str,
                 durations: dict[str, float], rng: random.Random, queue_member=None):
        self.server, self.session, self.msg = server, session, msg
        self.outcome, self.durations, self.rng = outcome, durations, rng
        self.action_id = msg.get("ActionID")
        self.async_ = _true(msg.get("Async"))
        self.channel = msg["Channel"]
        data = self.channel.partition("/")[2]
        base, self.exten, self.context = split_dial(self.channel)
        click = outcome.startswith("click_")
        phone = not click and re.fullmatch(r"PJSIP/(\d+)", self.channel) and PHONE_SCRIPTS.get(outcome)
        sip = (sip_script(outcome) if self.channel.upper().startswith("PJSIP/") and not click
               and not phone else None)
        self.steps = click_script(outcome) if click else phone or sip or script_for(
            outcome, durations, congestion_order=server.scenario.congestion_order)
        self.pc = 0
        self.gen = 0
        self.t = server.scheduler.now()
        self.started = self.t
        self.done = False
        self.handed_off = False   # the rest of the call runs in outbound_dialplan
        self.answered = False
        self.originate_sent = False
        self.dial_open = False
        cid_num, cid_name = parse_callerid(msg.get("CallerID"))
        uid1 = msg.get("ChannelId") or server.new_uniqueid(self.t)
        uid2 = msg.get("OtherChannelId") or server.new_uniqueid(self.t)
        self.channel_id, self.other_channel_id = uid1, uid2
        self.legs: dict[str, dict] = {}
        seq = self._pair("o", base, self.context, self.exten, uid1, uid2, uid1)
        if sip:  # one channel named after the trunk endpoint, in the endpoint's context
            self.legs["o1"].update(Channel=f"PJSIP/{self.context}-{seq:08x}", Exten="s",
                                   Context=server.scenario.trunk_context)
        if phone:  # the phone's one channel, in the agents' endpoint context
            del self.legs["o2"]
            self.legs["o1"].update(Channel=f"{base}-{seq:08x}", Exten="s", Context="dialfunnel-agents")
        scenario = server.scenario
        dial_agent, member, agent_ext = scenario.dial_agent, scenario.queue_member, ""
        if scenario.agents and outcome in ("dial", "queue"):
            ext = rng.choice(scenario.agents)
            dial_agent, member = f"Local/{ext}@agents", f"Local/{ext}@agents/n"
        if queue_member is not None:  # a dynamic member logged in with QueueAdd
            member = queue_member.interface
        self.queue_member = queue_member
        agent = dial_agent if outcome == "dial" else member if outcome == "queue" else None
        if agent:
            a_base, a_exten, a_ctx = split_dial(agent)
            if outcome == "queue" and not a_base.startswith("Local/"):  # a phone: one channel
                self._single("a1", f"{a_base}-{server.next_channel_seq():08x}",
                             "dialfunnel-agents", "s", uid1)
                self.steps = QUEUE_PHONE
            else:
                self._pair("a", a_base, a_ctx, a_exten,
                           server.new_uniqueid(self.t), server.new_uniqueid(self.t), uid1)
        orig_exten = msg.get("Exten") or ""
        if click:   # the agent's phone, one PJSIP channel; the customer through the trunk
            del self.legs["o2"]
            agent_ext = self.exten
            self.legs["o1"].update(Channel=f"{base}-{seq:08x}", Exten="s", Context="dialfunnel-agents")
            self._single("c1", f"PJSIP/dialfunnel-trunk-{server.next_channel_seq():08x}",
                         scenario.trunk_context, "s", uid1)
        elif outcome == "click":
            ctx = scenario.carrier_context
            self._pair("c", f"Local/{orig_exten}@{ctx}", ctx, orig_exten,
                       server.new_uniqueid(self.t), server.new_uniqueid(self.t), uid1)
        elif outcome == "manual":
            del self.legs["o2"]
            self.legs["o1"].update(Channel=f"{base}-{seq:08x}", ChannelState="4",
                                   CallerIDNum=self.exten, ConnectedLineNum=orig_exten,
                                   Context="dialfunnel-agents", Exten=orig_exten)
            self._single("t1", f"PJSIP/dialfunnel-trunk-{server.next_channel_seq():08x}",
                         "dialfunnel-inbound", "s", uid1, CallerIDNum=orig_exten,
                         ConnectedLineNum=self.exten)
        elif (outcome == "answer" and scenario.outbound_agents and not server.fastagi
              and msg.get("Context") in outbound_dialplan.ANSWERED_INTO):
            agent_ext = rng.choice(scenario.outbound_agents)
            self._single("p1", f"PJSIP/{agent_ext}-{server.next_channel_seq():08x}",
                         "dialfunnel-agents", "s", uid1, CallerIDNum=agent_ext)
            self.steps = DIALER_AGENT
        ring = durations.get("ring_time", 0.0)
        talk = durations.get("talk_time", 0.0)
        self.fields = _Fields(
            self, cid_num=cid_num, cid_name=cid_name, dialstring=data, device=base,
            agent_dialstring=dial_agent.partition("/")[2],
            member=member, queue=scenario.queue,
            member_name=queue_member.name if queue_member is not None else member,
            ring_time=_secs(ring), talk_time=_secs(talk),
            noanswer_wait=_secs(durations.get("noanswer_wait", 60.0)),
            hold_time=str(int(ring)), ring_secs=str(int(ring)),
            talk_secs=str(int(durations.get("answer_delay", 0.0) + talk)),
            queue_secs=str(int(durations.get("queue_wait", 0.0))),
            orig_context=msg.get("Context") or "", orig_exten=orig_exten, agent_ext=agent_ext,
            customer_dialstring=f"{orig_exten}@{scenario.carrier_context}",
        )
        self.bridge_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        # the call controls (ami_console): who is where now
        self.bridged = False
        self.on_hold: str | None = None      # the leg a Redirect put on music on hold
        self.consulting: str | None = None   # the transferer of an Atxfer in progress
        self.recordings: dict[str, dict] = {}  # leg → its MixMonitor (customer_recording)
        self.consult_id: str | None = None
        self.target_bridge: str | None = None   # the transfer target's own bridge (t2 + phone)
        self.muted: dict[str, bool] = {}
        self.bridge_members: list[str] = []      # the legs in the bridge of bridge_id

    def _single(self, leg, channel, context, exten, linkedid, **fields):
        """A channel without a Local partner (a PJSIP phone or trunk)."""
        self.legs[leg] = {
            "Channel": channel, "ChannelState": "0", "CallerIDNum": "<unknown>",
            "CallerIDName": "<unknown>", "ConnectedLineNum": "<unknown>",
            "ConnectedLineName": "<unknown>", "Language": "en", "AccountCode": "",
            "Context": context, "Exten": exten, "Priority": "1",
            "Uniqueid": self.server.new_uniqueid(self.t), "Linkedid": linkedid, "alive": False,
            **fields}

    def _pair(self, prefix, base, context, exten, uid1, uid2, linkedid):
        seq = self.server.next_channel_seq()
        for n, uid, state in ((1, uid1, "0"), (2, uid2, "4")):
            self.legs[f"{prefix}{n}"] = {
                "Channel": f"{base}-{seq:08x};{n}", "ChannelState": state,
                "CallerIDNum": "<unknown>", "CallerIDName": "<unknown>",
                "ConnectedLineNum": "<unknown>", "ConnectedLineName": "<unknown>",
                "Language": "en", "AccountCode": "", "Context": context, "Exten": exten,
                "Priority": "1", "Uniqueid": uid, "Linkedid": linkedid, "alive": False,
            }
        return seq

    # --- running ---------------------------------------------------------------------------
    def start(self) -> None:
        self.server.scheduler.at(self.t, self._resume(self.gen))

    def _resume(self, gen: int) -> Callable[[float], None]:
        return lambda when: self.run(when) if gen == self.gen and not self.done else None

    def run(self, when: float) -> None:
        self.t = when
        while self.pc < len(self.steps):
            kind, leg, args = self.steps[self.pc]
            self.pc += 1
            if kind == "wait":
                delay = self.durations.get(args["name"], 0.0)
                if delay > 0:
                    self.server.scheduler.at(when + delay, self._resume(self.gen))
                    return
                continue
            self.execute(kind, leg, args)
            if self.handed_off:
                return
        self.finish()

    def track_bridge(self, kind: str, leg: str | None) -> None:
        """Who is in the call's bridge (the call controls act on the parties in it)."""
        if kind == "BridgeCreate":
            self.bridge_members = []
        elif kind == "BridgeEnter" and leg not in self.bridge_members:
            self.bridge_members.append(leg)
        elif kind == "BridgeLeave" and leg in self.bridge_members:
            self.bridge_members.remove(leg)
        elif kind == "BridgeDestroy":
            self.bridge_members = []
        self.bridged = len(self.bridge_members) == 2

    def interrupt(self, when: float) -> None:
        """A call control moved the call: its script stops; the parties stay until hung up."""
        self.gen += 1
        self.t = when

    def finish(self) -> None:
        self.done = True  # the call stays in server.calls (outcome, durations) for inspection
        with self.server._lock:
            self.server.live.pop(self.channel_id, None)
        if self.queue_member is not None:
            self.server.queues.call_done(self.fields["queue"], self.queue_member.interface)
            self.queue_member = None

    def fmt(self, value) -> str:
        value = str(value)
        return value.format_map(self.fields) if "{" in value else value

    def apply(self, leg: str, fields: dict | None) -> None:
        for key, value in (fields or {}).items():
            self.legs[leg][key] = self.fmt(value)

    def chan(self, leg: str, prefix: str = "", snap: dict | None = None) -> list[tuple[str, str]]:
        d = dict(self.legs[leg])
        d.update({k: self.fmt(v) for k, v in (snap or {}).items()})
        d["ChannelStateDesc"] = STATE_DESC[int(d["ChannelState"])]
        return [(prefix + k, d[k]) for k in CHANNEL_FIELDS]

    def bridge_headers(self, count: int, bridge_id: str | None = None) -> list[tuple[str, str]]:
        return [("BridgeUniqueid", bridge_id or self.bridge_id), ("BridgeType", "basic"),
                ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"),
                ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(count)),
                ("BridgeVideoSourceMode", "none")]

    def execute(self, kind: str, leg, args: dict) -> None:
        if kind == "PreDial":
            customer_recording.pre_dial(self, leg)
            return
        if kind == "Hangup" and leg in self.recordings:
            customer_recording.hangup_handler(self, leg)
        if kind == "set":
            self.apply(leg, args["fields"])
            return
        if kind == "target":
            self.run_target(args["emit"])
            return
        if kind == "OriginateVars":  # each Variable of the Originate: ;1 in reverse, ;2 in order
            pairs = [v.partition("=") for v in self.msg.get_all("Variable")]
            for name, _, value in (reversed(pairs) if args["reverse"] else pairs):
                self.server.emit("VarSet", self.chan(leg) + [("Variable", name), ("Value", value)])
            return
        if leg in self.legs:
            self.apply(leg, args.get("set"))
        extra = [(k, self.fmt(v)) for k, v in args.get("extra", ())]
        if kind == "Newchannel":
            self.legs[leg]["alive"] = True
            body = self.chan(leg)
        elif kind == "Newexten":
            if args.get("priority") is not None:
                self.legs[leg]["Priority"] = str(args["priority"])
            body = self.chan(leg) + [("Extension", self.legs[leg]["Exten"]),
                                     ("Application", args["app"]), ("AppData", self.fmt(args["data"]))]
        elif kind == "Newstate":
            self.legs[leg]["ChannelState"] = str(args["state"])
            body = self.chan(leg)
        elif kind in ("HangupRequest", "SoftHangupRequest"):
            body = self.chan(leg) + [("Cause", str(args["cause"]))] + _tech_cause(args)
        elif kind == "Hangup":
            cause = args["cause"]
            body = (self.chan(leg) + [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
                    + _tech_cause(args))
            self.legs[leg]["alive"] = False
        elif kind == "VarSet":
            body = self.chan(leg) + [("Variable", args["variable"]), ("Value", self.fmt(args["value"]))]
        elif kind == "LocalBridge":
            one, two = leg
            body = (self.chan(one, "LocalOne") + self.chan(two, "LocalTwo")
                    + [("Context", self.context), ("Exten", self.exten), ("LocalOptimization", "Yes")])
        elif kind in ("DialBegin", "DialState", "DialEnd"):
            caller = args.get("caller")
            body = (self.chan(caller) if caller else []) + self.chan(leg, "Dest")
            if kind == "DialBegin":
                body.append(("DialString", self.fmt(args["dialstring"])))
            else:
                body.append(("DialStatus", args["status"]))
            if leg == "o1" and not caller:
                self.dial_open = kind != "DialEnd"
        elif kind in ("AgentCalled", "AgentConnect", "AgentComplete"):
            body = self.chan(leg)
            if args.get("dest"):
                body += self.chan(args["dest"], "Dest", args.get("dest_snap"))
            body += extra
            extra = []
        elif kind == "QueueMemberStatus":
            member = self.fields["member"]
            body = [("Queue", self.fields["queue"]), ("MemberName", self.fields["member_name"]),
                    ("Interface", member), ("StateInterface", member),
                    ("Membership", "static" if self.queue_member is None else "dynamic"), ("Penalty", "0"),
                    ("CallsTaken", args["taken"]), ("LastCall", self.fmt(args["last_call"])),
                    ("LastPause", "0"), ("LoginTime", str(int(self.server.started_at))), ("InCall", "0"),
                    ("Status", str(args["status"])), ("Paused", "0"), ("PausedReason", ""),
                    ("Ringinuse", "1"), ("Wrapuptime", "0")]
        elif kind == "DeviceStateChange":
            body = [("Device", self.fields["device"]), ("State", args["state"])]
        elif kind in ("BridgeCreate", "BridgeDestroy", "BridgeEnter", "BridgeLeave"):
            body = self.bridge_headers(args["count"]) + (self.chan(leg) if leg else [])
            self.track_bridge(kind, leg)
        elif kind == "OriginateResponse":
            self.originate_response(args["response"], args["reason"])
            return
        else:  # channel events with extra headers: NewCallerid, QueueCallerJoin, MusicOnHold*, ...
            body = self.chan(leg)
            if kind.startswith("QueueCaller"):
                self.server.queues.caller_event(kind, self.fields["queue"], self, leg)
        self.server.emit(kind, body + extra)
        if kind == "Hangup":
            self.track_bridge("BridgeLeave", leg)
            self.server.rooms.channel_gone(self, leg)

    def run_target(self, emit: bool) -> None:
        """The ;1 leg enters the Originate's Context/Exten and runs that context's apps."""
        if self.server.rooms.handles(self):   # a three-way room or ChanSpy (rooms.py)
            self.handed_off = True
            self.legs["o1"].update(Context=self.msg.get("Context", ""), Exten=self.msg.get("Exten", ""))
            self.server.rooms.originated(self)
            return
        if self.msg.get("Application"):
            return
        o1 = self.legs["o1"]
        o1["Context"] = self.msg.get("Context", "")
        o1["Exten"] = self.msg.get("Exten", "")
        if (o1["Context"] == fax.CONTEXT and self.server.fastagi
                and self.outcome in ("answer", "machine")):
            self.handed_off = True
            fax.FaxSendCall(self, self.server.fastagi, None).start()
            return
        if (o1["Context"] in outbound_dialplan.ANSWERED_INTO and self.server.fastagi
                and self.outcome in ("answer", "machine")):
            self.handed_off = True
            outbound_dialplan.OutboundCall(self, self.server.fastagi, self.server.recordings_incoming,
                                           self.server.write_recordings).start()
            return
        apps = self.server.scenario.dialplan.get(o1["Context"], [])
        for priority, (app, data) in enumerate(apps, start=int(self.msg.get("Priority") or 1)):
            o1["Priority"] = str(priority)
            if emit:
                self.server.emit("Newexten", self.chan("o1") + [
                    ("Extension", o1["Exten"]), ("Application", app), ("AppData", self.fmt(data))])

    def originate_response(self, response: str, reason: int) -> None:
        self.originate_sent = True
        self.answered = reason == 4
        if not self.async_:
            ok = reason == 4
            self.session.respond(self.action_id, "Success" if ok else "Error",
                                 "Originate successfully queued" if ok else "Originate failed")
            return
        headers = [("ActionID", self.action_id)] if self.action_id is not None else []
        headers += [("Response", response),
                    ("Channel", self.legs["o1"]["Channel"] if response == "Success" else self.channel),
                    ("Context", self.msg.get("Context", "")), ("Exten", self.msg.get("Exten", "")),
                    ("Reason", str(reason)), ("Uniqueid", self.channel_id),
                    ("CallerIDNum", self.fields["cid_num"]), ("CallerIDName", self.fields["cid_name"])]
        self.server.emit("OriginateResponse", headers)

    def hang_up(self, leg: str, cause: int, when: float) -> None:
        """Hangup action (modelled on ami-redirect-confbridge*: SoftHangupRequest, HangupRequest
        of the other half, Hangup, ...): ends the whole call, whatever the script was doing."""
        if self.done:
            return
        self.gen += 1
        self.t = when
        if self.consulting == leg:
            ami_console.complete_atxfer(self, leg)
            return
        if self.on_hold and not self.bridged:
            self._hang_up_apart(leg, cause)
            return
        partner = leg[0] + ("2" if leg.endswith("1") else "1")
        others = [k for k in self.legs if k not in (leg, partner) and self.legs[k]["alive"]]
        if self.dial_open:
            self.execute("DialEnd", "o1", {"status": "CANCEL"})
        self.execute("SoftHangupRequest", leg, {"cause": cause})
        paired = partner in self.legs and self.legs[partner]["alive"]
        if paired:
            self.execute("HangupRequest", partner, {"cause": cause})
        self.execute("Hangup", leg, {"cause": cause})
        if not self.originate_sent:
            self.originate_response("Failure", 1)
        if paired:
            self.execute("SoftHangupRequest", partner, {"cause": cause})
            self.execute("Hangup", partner, {"cause": cause})
        for other in others:
            self.execute("Hangup", other, {"cause": cause})
        self.execute("DeviceStateChange", None, {"state": "NOT_INUSE"})
        self.execute("DeviceStateChange", None, {"state": "NOT_INUSE"})
        self.finish()


    def _hang_up_apart(self, leg: str, cause: int) -> None:
        """A Redirect took the parties apart (hold): only this channel and its Local partner
        end; the other party stays where it is (music on hold, or the agent's wait)."""
        partner = leg[0] + ("2" if leg.endswith("1") else "1")
        paired = partner in self.legs and self.legs[partner]["alive"]
        self.execute("SoftHangupRequest", leg, {"cause": cause})
        if paired:
            self.execute("HangupRequest", partner, {"cause": cause})
        self.execute("Hangup", leg, {"cause": cause})
        if paired:
            self.execute("SoftHangupRequest", partner, {"cause": cause})
            self.execute("Hangup", partner, {"cause": cause})
        if leg == self.on_hold:
            self.on_hold = None
        if not any(other["alive"] for other in self.legs.values()):
            self.finish()


# ---------------------------------------------------------------------------------- sessions
class Session:
    def __init__(self, server: "AMIServer", sock: socket.socket, addr):
        self.server, self.sock, self.addr = server, sock, addr
        self.id = next(server._session_ids)
        self.lock = threading.Lock()
        self.authenticated, self.user = False, None
        self.events: set[str] | None = None  # None: no events; {"all"}: every event
        self.filters = EventFilters()          # the Filter action's, for this session only
        self.started = server.scheduler.now()
        self.closed = False

    def send(self, data: bytes) -> None:
        with self.lock:
            self._write(data)

    def _write(self, data: bytes) -> None:
        """Under ``lock``."""
        if self.closed:
            return
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    @staticmethod
    def response(action_id: str | None, response: str, message: str | None = None,
                 extra: list[tuple[str, str]] = ()) -> bytes:
        headers = [("Response", response)]
        if action_id is not None:
            headers.append(("ActionID", action_id))
        if message is not None:
            headers.append(("Message", message))
        return encode(headers + list(extra))

    def respond(self, action_id: str | None, response: str, message: str | None = None,
                extra: list[tuple[str, str]] = ()) -> None:
        self.send(self.response(action_id, response, message, extra))

    def wants(self, privilege: str, data: bytes = b"") -> bool:
        """Whether an event of ``privilege`` (encoded as ``data``) goes to this session: the
        login's Events classes, then the session's filters."""
        if not self.authenticated or not self.events:
            return False
        if "all" not in self.events and privilege.split(",")[0] not in self.events:
            return False
        return not self.filters or self.filters.passes(data)

    def add_filter(self, msg: Message) -> None:
        """``Action: Filter`` (agi/pbxsim/ami_filters.py): only ``Operation: Add`` exists."""
        aid = msg.get("ActionID")
        if (msg.get("Operation") or "").strip().lower() != "add":
            self.respond(aid, "Error", "Unknown operation")
            return
        try:
            self.filters.add(msg.get("MatchCriteria"), msg.get("Filter"))
        except FilterError as exc:
            self.respond(aid, "Error", str(exc))
            return
        self.respond(aid, "Success", "Success")

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for fn in (lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close):
                try:
                    fn()
                except OSError:
                    pass

    def serve(self) -> None:
        parser = Parser()
        self.send(BANNER)
        try:
            while not self.closed:
                data = self.sock.recv(65536)
                if not data:
                    break
                for msg in parser.feed(data):
                    try:
                        if self.closed or not self.handle(msg):
                            return
                    finally:
                        self.server.action_done()
        except OSError:
            pass
        finally:
            self.close()
            self.server.session_ended(self)

    # --- actions -----------------------------------------------------------------------------
    def handle(self, msg: Message) -> bool:
        """Answer one action; False ends the session."""
        server = self.server
        server.record(self, msg)
        action = (msg.get("Action") or "").strip()
        aid = msg.get("ActionID")
        if server.take_drop(action):
            return False
        if not action:
            self.respond(aid, "Error", "Missing action in request")
            return True
        name = action.lower()
        if not self.authenticated and name not in ("login", "logoff", "challenge"):
            self.respond(aid, "Error", "Permission denied")
            return True
        if name == "login":
            return self.login(msg, aid)
        if name == "logoff":
            self.respond(aid, "Goodbye", "Thanks for all the fish.")
            return False
        if not server.may(self.user, name):
            self.respond(aid, "Error", "Permission denied")
            return True
        if name == "ping":
            self.respond(aid, "Success", extra=[("Ping", "Pong"), ("Timestamp", f"{server.scheduler.now():.6f}")])
        elif name == "originate":
            server.originate(self, msg)
        elif name == "hangup":
            server.hangup(self, msg)
        elif name == "userevent":
            server.user_event(self, msg)
        elif name == "coreshowchannels":
            server.core_show_channels(self, msg)
        elif name == "filter":
            self.add_filter(msg)
        elif name == "extensionstate":
            server.extension_state(self, msg)
        elif name == "queueadd":
            server.queues.add(self, msg)
        elif name == "queueremove":
            server.queues.remove(self, msg)
        elif name == "queuepause":
            server.queues.pause(self, msg)
        elif name == "queuestatus":
            server.queues.status(self, msg)
        elif name == "redirect" and server.rooms.takes_redirect(msg):
            server.rooms.redirect(self, msg)
        elif name == "confbridgelist":
            server.rooms.confbridge_list(self, msg)
        elif name == "confbridgekick":
            server.rooms.confbridge_kick(self, msg)
        elif name in ("confbridgemute", "confbridgeunmute"):
            server.rooms.confbridge_mute(self, msg, name == "confbridgemute")
        elif name in ami_console.ACTIONS:
            ami_console.ACTIONS[name](server, self, msg)
        else:
            self.respond(aid, "Error", "Invalid/unknown command")
        return True

    def login(self, msg: Message, aid: str | None) -> bool:
        server = self.server
        user = msg.get("Username") or ""
        if self.authenticated:
            self.respond(aid, "Success", "Already authenticated")
            return True
        if server.users.get(user) is None or server.users.get(user) != msg.get("Secret"):
            time.sleep(server.auth_fail_delay)  # Asterisk sleeps 1 s before refusing
            self.respond(aid, "Error", "Authentication failed")
            return False
        events = (msg.get("Events") or "on").strip().lower()
        self.events = None if events in ("off", "no", "false", "0") else (
            {"all"} if _true(events) else {e.strip() for e in events.split(",")})
        # As manager.c: the session is authenticated before its answer is written. Under the
        # write lock, so an event of something the client starts once it has the answer is
        # neither missed (it was, now and then, under load) nor written before the answer.
        with self.lock:
            self.filters = EventFilters().extend(server.event_filters.get(user, ()))
            self.authenticated, self.user = True, user
            self._write(self.response(aid, "Success", "Authentication accepted"))
        if self.events is not None:
            now = server.scheduler.now()
            up = str(int(now - server.started_at))
            self.send(encode([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", up),
                              ("LastReload", up), ("Status", "Fully Booted")]))
        local = self.sock.getsockname()
        server.emit("SuccessfulAuth", [
            ("EventTV", _tv(server.scheduler.now())), ("Severity", "Informational"), ("Service", "AMI"),
            ("EventVersion", "1"), ("AccountID", user), ("SessionID", "0x%012x" % server.rng.getrandbits(48)),
            ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
            ("RemoteAddress", f"IPV4/TCP/{self.addr[0]}/{self.addr[1]}"),
            ("UsingPassword", "0"), ("SessionTV", _tv(self.started))])
        return True


def _tv(epoch: float) -> str:
    t = time.gmtime(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03d+0000" % int((epoch % 1) * 1000)


# ---------------------------------------------------------------------------------- server
class AMIServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, users: dict[str, str] | None = None,
                 scenario: Scenario | None = None, clock=None, auth_fail_delay: float = 1.0,
                 channel_seq: int = 1, uniqueid_seq: int = 1, fastagi: tuple[str, int] | None = None,
                 recordings_incoming=None, write_recordings: bool = True,
                 write_classes: dict[str, set[str]] | None = None, timestamp_events: bool = False,
                 event_filters: dict[str, list] | None = None):
        """``write_classes``: a user's manager.conf ``write =`` classes; an action outside them is
        refused with "Permission denied" as Asterisk does (users not listed may do anything).
        ``event_filters``: a user's manager.conf ``eventfilter`` lines as ``(criteria,
        expression)``, each session's filters from its login on (agi/pbxsim/manager_conf.py).
        ``timestamp_events``: manager.conf's ``timestampevents = yes`` (a ``Timestamp`` header,
        epoch seconds, after Privilege)."""
        self.host, self._port = host, port
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.write_classes = {u: set(c) for u, c in (write_classes or {}).items()}
        self.event_filters = {u: list(f) for u, f in (event_filters or {}).items()}
        self.scenario = scenario or Scenario()
        self.clock = clock or simclock.SystemClock()
        self.auth_fail_delay = auth_fail_delay
        self.fastagi = fastagi                          # (host, port): see outbound_dialplan
        self.recordings_incoming = recordings_incoming  # where MixMonitor and RECORD FILE write
        self.write_recordings = write_recordings        # False: RECORD FILE only (benchmark)
        self.on_agi = None   # benchmarks: on_agi(script, agi_driver.CallResult) after each AGI
        self.rng = random.Random(f"server:{self.scenario.seed}")
        self.refuse_connections = False
        self.timestamp_events = timestamp_events
        self.duplicate_events = False   # test hook: every event is sent twice
        self.early_media = None         # early_media.EarlyMediaPlayer: EarlyMedia Originates play to it
        self.record_events = False      # test hook: keep what was sent, for replay()
        self.sent_count = 0             # events emitted (benchmarks)
        self.delivered_count = 0        # events written to every session that wants them
        self.sent_events: list[tuple[str, bytes]] = []
        self._running = False
        self.received: list[Message] = []
        self.handled = 0                  # actions answered (and what they schedule, queued)
        self.calls: dict[str, Call] = {}  # by ChannelId, every call since start
        self.live: dict[str, Call] = {}   # the calls not done: what a channel lookup scans
        self._lock = threading.RLock()
        self._sessions: list[Session] = []
        self._session_ids = itertools.count(1)
        self._channel_seq = itertools.count(channel_seq)
        self._uniqueid_seq = itertools.count(uniqueid_seq)
        self._attempts: dict[str, int] = {}
        self._drops: list[str] = []
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self.scheduler: Scheduler | None = None
        self.started_at = 0.0
        self.queues = QueueBook(self, self.scenario.queue_strategies)
        self.rooms = Rooms(self, self.scenario.agent_leaves)

    def may(self, user: str | None, action: str) -> bool:
        classes = self.write_classes.get(user or "")
        needed = ACTION_AUTHORITY.get(action, set())
        return classes is None or not needed or "all" in classes or bool(classes & needed)

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._listener.getsockname()[1] if self._listener else self._port

    def start(self) -> "AMIServer":
        self.scheduler = Scheduler(self.clock)
        self.started_at = self.scheduler.now()
        self._listener = socket.create_server((self.host, self._port), reuse_port=False)
        self._listener.settimeout(0.2)
        self._running = True
        self._accept_thread = threading.Thread(target=self._accept_loop, name="pbxsim-ami", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        if self._listener:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            except OSError:
                pass
        if self._accept_thread:
            self._accept_thread.join(timeout=5)
        if self._listener:
            self._listener.close()
        self.drop_connections()
        if self.scheduler:
            self.scheduler.stop()

    def __enter__(self) -> "AMIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while self._running:
            try:
                sock, addr = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.refuse_connections:
                sock.close()
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small messages, no Nagle wait
            session = Session(self, sock, addr)
            with self._lock:
                self._sessions.append(session)
            threading.Thread(target=session.serve, name=f"pbxsim-ami-{session.id}", daemon=True).start()

    # --- test hooks ----------------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Close every client connection abruptly (like a crashed or restarted Asterisk)."""
        with self._lock:
            sessions = list(self._sessions)
        for s in sessions:
            s.close()

    def drop_on_next(self, action: str) -> None:
        """Close the connection when the next ``action`` arrives, without answering it."""
        with self._lock:
            self._drops.append(action.lower())

    def take_drop(self, action: str) -> bool:
        with self._lock:
            if action.lower() in self._drops:
                self._drops.remove(action.lower())
                return True
        return False

    def action_done(self) -> None:
        with self._lock:
            self.handled += 1

    def wait_handled(self, timeout: float = 5.0) -> bool:
        """Test hook: every action received so far was handled (what it schedules is queued,
        so ``scheduler.settle()`` then waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.handled >= len(self.received):
                    return True
            time.sleep(0.005)
        return False

    def record(self, session: Session, msg: Message) -> None:
        with self._lock:
            self.received.append(msg)

    def actions(self, name: str) -> list[Message]:
        with self._lock:
            return [m for m in self.received if (m.get("Action") or "").lower() == name.lower()]

    @property
    def sessions(self) -> list[Session]:
        with self._lock:
            return [s for s in self._sessions if not s.closed]

    def session_ended(self, session: Session) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)

    # --- ids -------------------------------------------------------------------------------------
    def next_channel_seq(self) -> int:
        return next(self._channel_seq)

    def new_uniqueid(self, now: float) -> str:
        return f"{int(now)}.{next(self._uniqueid_seq)}"

    # --- events -------------------------------------------------------------------------------
    def emit(self, event: str, headers: list[tuple[str, str]]) -> None:
        privilege = PRIVILEGE.get(event, "call,all")
        stamp = [("Timestamp", f"{self.scheduler.now():.6f}")] if self.timestamp_events else []
        data = encode([("Event", event), ("Privilege", privilege)] + stamp + headers)
        with self._lock:
            sessions = list(self._sessions)
            self.sent_count += 1
            if self.record_events:
                self.sent_events.append((privilege, data))
        for s in sessions:
            if s.wants(privilege, data):
                s.send(data)
                if self.duplicate_events:
                    s.send(data)
        with self._lock:
            self.delivered_count += 1

    def replay(self, start: int = 0) -> int:
        """Send the recorded events (``record_events``) from ``start`` again, as a client that
        reconnects to a proxy replaying its buffer would see them; returns how many."""
        with self._lock:
            sent = list(self.sent_events[start:])
            sessions = list(self._sessions)
        for privilege, data in sent:
            for s in sessions:
                if s.wants(privilege, data):
                    s.send(data)
        return len(sent)

    # --- actions ------------------------------------------------------------------------------
    def originate(self, session: Session, msg: Message) -> None:
        aid = msg.get("ActionID")
        if not msg.get("Channel"):
            session.respond(aid, "Error", "Channel not specified")
            return
        if not (msg.get("Exten") or msg.get("Application")):
            session.respond(aid, "Error", "Exten not specified")
            return
        for key in ("ChannelId", "OtherChannelId"):
            if msg.get(key) and self.find_leg(msg[key]):
                session.respond(aid, "Error", "Uniqueid already in use")
                return
        _, number, context = split_dial(msg["Channel"])
        with self._lock:
            attempt = self._attempts.get(number, 0)
            self._attempts[number] = attempt + 1
        rng = random.Random(f"{self.scenario.seed}:{number}:{attempt}")
        if msg.get("Context") == self.scenario.click_context and msg["Channel"].upper().startswith("PJSIP/"):
            outcome = self.scenario.click_outcome(number, msg.get("Exten") or "")
        else:
            outcome = self.scenario.outcome_for(number, context, rng)
        durations = self.scenario.durations(outcome, rng)
        try:
            durations["timeout"] = int(msg.get("Timeout") or 30000) / 1000.0
        except ValueError:
            durations["timeout"] = 30.0
        if outcome in ("answer", "machine") and durations.get("ring_time", 0) >= durations["timeout"]:
            outcome = "noanswer"
            durations = {**self.scenario.durations(outcome, rng), "timeout": durations["timeout"]}
        if outcome == "click_answer" and durations.get("agent_ring", 0) >= durations["timeout"]:
            outcome = "click_noanswer"
        member = None
        if outcome == "queue" and self.queues.has_members(self.scenario.queue):
            member = self.queues.offer(self.scenario.queue)
            if member is None:  # every member paused or busy: the caller waits, then gives up
                outcome = "queue_abandon"
                durations = {**self.scenario.durations(outcome, rng), "timeout": durations["timeout"]}
        call = Call(self, session, msg, outcome, durations, rng, queue_member=member)
        with self._lock:
            self.calls[call.channel_id] = call
            self.live[call.channel_id] = call
        if call.async_:
            session.respond(aid, "Success", "Originate successfully queued")
        call.start()
        if self.early_media is not None and _true(msg.get("EarlyMedia")):
            self.early_media.start(call)     # the carrier's early media (pbxsim/early_media.py)

    def phone_call(self, extension: str, number: str) -> "Call":
        """An agent dials ``number`` from the phone PJSIP/<extension> (the ``manual`` script):
        no Originate, no AMI session to answer."""
        msg = Message([("Action", "Originate"), ("Channel", f"PJSIP/{extension}"),
                       ("Exten", number), ("Context", "dialfunnel-agents"), ("Async", "true")])
        rng = random.Random(f"{self.scenario.seed}:manual:{extension}:{number}")
        call = Call(self, None, msg, "manual", self.scenario.durations("manual", rng), rng)
        with self._lock:
            self.calls[call.channel_id] = call
            self.live[call.channel_id] = call
        call.start()
        return call

    def user_event(self, session: Session, msg: Message) -> None:
        """manager.c action_userevent: ack, then a UserEvent carrying the other headers."""
        aid = msg.get("ActionID")
        name = msg.get("UserEvent")
        if not name:
            session.respond(aid, "Error", "UserEvent not specified")
            return
        session.respond(aid, "Success", "Event Sent")
        extra = [(k, v) for k, v in msg.headers if k.lower() not in ("action", "actionid", "userevent")]
        self.emit("UserEvent", [("UserEvent", name)] + extra)

    def core_show_channels(self, session: Session, msg: Message) -> None:
        """A CoreShowChannel event per live channel, then CoreShowChannelsComplete; BridgeId is
        the call's bridge for the channels in it, empty for the others (a real Asterisk 22's
        list: captures-2026-12/ami-coreshowchannels.txt)."""
        aid = msg.get("ActionID")
        head = [("ActionID", aid)] if aid is not None else []
        session.respond(aid, "Success", extra=[("EventList", "start"), ("Message", "Channels will follow")])
        calls = self.live_calls()
        now = self.scheduler.now()
        count = 0
        for call in calls:
            for key in sorted(call.legs):
                if not call.legs[key]["alive"]:
                    continue
                count += 1
                seconds = int(now - call.started)
                session.send(encode([("Event", "CoreShowChannel")] + head + call.chan(key) + [
                    ("Application", "AppDial" if key.endswith("2") else "Wait"), ("ApplicationData", ""),
                    ("Duration", "%02d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)),
                    ("BridgeId", call.bridge_id if key in call.bridge_members else "")]))
        session.send(encode([("Event", "CoreShowChannelsComplete")] + head
                            + [("EventList", "Complete"), ("ListItems", str(count))]))

    def extension_state(self, session: Session, msg: Message) -> None:
        """manager.c action_extensionstate: the hint's state, from the scenario's phones and
        the calls live on them (Ringing while an Originate rings the phone, InUse once up)."""
        aid = msg.get("ActionID")
        exten = msg.get("Exten") or ""
        if not exten:
            session.respond(aid, "Error", "Extension not specified")
            return
        context = msg.get("Context") or "default"
        scenario = self.scenario
        hinted = context == scenario.hint_context and re.fullmatch(scenario.hint_pattern, exten)
        status = -1
        if hinted:
            status = {"unavailable": 4, "inuse": 1}.get(scenario.phones.get(exten, ""), 0)
            if status == 0 and exten in scenario.busy_extensions:   # on a call elsewhere
                status = 1
            if status == 0:
                status = self.phone_state(exten)
            if status == 0 and self.extension_in_use(exten):   # a Local/<ext>@... phone
                status = 1
        text = {-1: "Unknown", 0: "Idle", 1: "InUse", 4: "Unavailable", 8: "Ringing"}[status]
        session.respond(aid, "Success", "Extension Status", extra=[
            ("Exten", exten), ("Context", context), ("Hint", f"PJSIP/{exten}" if hinted else ""),
            ("Status", str(status)), ("StatusText", text)])

    def live_calls(self) -> list["Call"]:
        """The calls in progress, oldest first (not every call since start: a day has thousands)."""
        with self._lock:
            return [c for c in self.live.values() if not c.done]

    def phone_state(self, exten: str) -> int:
        """0 Idle, 8 Ringing, 1 InUse: the phone PJSIP/<exten>'s live channels."""
        calls = self.live_calls()
        states = [leg["ChannelState"] for call in calls for leg in call.legs.values()
                  if leg["alive"] and leg["Channel"].startswith(f"PJSIP/{exten}-")]
        return 0 if not states else 1 if "6" in states else 8

    def find_leg(self, name_or_uid: str) -> tuple[Call, str] | None:
        calls = self.live_calls()
        for call in calls:
            for key, leg in call.legs.items():
                if leg["alive"] and name_or_uid in (leg["Channel"], leg["Uniqueid"]):
                    return call, key
        return None

    def extension_in_use(self, extension: str) -> bool:
        """A live channel of the phone ``extension`` (PJSIP/<ext>-N or Local/<ext>@...)."""
        calls = self.live_calls()
        prefixes = (f"PJSIP/{extension}-", f"Local/{extension}@")
        return any(leg["alive"] and leg["Channel"].startswith(prefixes)
                   for call in calls for leg in call.legs.values())

    def hangup(self, session: Session, msg: Message) -> None:
        aid = msg.get("ActionID")
        name = msg.get("Channel")
        if not name:
            session.respond(aid, "Error", "No channel specified")
            return
        found = self.find_leg(name)
        if not found:
            session.respond(aid, "Error", "No such channel")
            return
        try:
            cause = int(msg.get("Cause") or 16)
        except ValueError:
            cause = 16
        call, leg = found
        session.respond(aid, "Success", "Channel Hungup")
        self.scheduler.at(self.scheduler.now(),
                          lambda when: self.rooms.hang_up(call, leg, cause, when)
                          or call.hang_up(leg, cause, when))
