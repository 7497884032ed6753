"""What the simulated PBX does with an Originate: data, not code.

* ``Scenario`` says which number gets which outcome (exact numbers, prefixes, or seeded random
  rates) and how long things take (ring, talk, ...).
* ``SCRIPTS`` are the event sequences, one per outcome, written down from the transcripts
  recorded on a real Asterisk 22.10.1 (tests/fixtures/asterisk/ami-originate-*.txt,
  ami-dial.txt, ami-queue.txt). Each step names an AMI event, the channel it is about and what
  changes on that channel; ``agi.pbxsim.ami_server`` renders the steps into bytes.

Legs: ``o1`` is the originated Local ;1 (Uniqueid = our ChannelId), ``o2`` its ;2 half that runs
the far side (Uniqueid = OtherChannelId); ``a1``/``a2`` are the agent's Local pair in the
``dial`` and ``queue`` scripts. Text values may use ``{name}`` fields of the call (see
``ami_server.Call.fields``).

A failed Originate of ``PJSIP/<number>@<trunk>`` plays a SIP trunk instead (``sip_script``, from
real-run-2026-12/ami-sip-causes and ami-a5): one channel ``PJSIP/<trunk>-N`` (Uniqueid = our
ChannelId, no ;2 half), OriginateResponse Reason 0 for every failure, the cause only in the
Hangup (with the SIP response as TechCause). Outcomes ``sip-486`` etc. name a SIP response.

Where the sequences are recorded, they are replayed exactly (same order, same headers). Modelled,
not recorded (keep them plausible, do not rely on their order): ``answer`` with a ring time > 0,
``cause-N`` for other causes, and teardown after a Hangup action.
``dial`` and ``queue`` emit the screen-pop subset that the trimmed transcripts keep (Newchannel,
Newstate, Dial*, Bridge*, Hangup, OriginateResponse, Queue*/Agent*, MusicOnHold*, VarSet of
DIALSTATUS/BRIDGEPEER/QUEUEPOSITION), not the Newexten/LocalBridge/DeviceStateChange chatter.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, Union

# --- Q.850 causes as Asterisk names them (Cause-txt) -------------------------------------
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    2: "No route to specified transmit network",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    22: "Number changed",
    26: "Answered elsewhere",
    27: "Destination out of order",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    44: "Requested channel not available",
    102: "Recovery on timer expiry",
    127: "Interworking, unspecified",
}

STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}

# OriginateResponse Reason codes (README "Key facts"): 0 failed, 1 hung up, 3 ring timeout,
# 4 answered, 5 busy, 8 congestion.
# --- outcomes the dialer can meet, as the README's table records them ----------------------
OUTCOMES = ("answer", "machine", "busy", "congestion", "noanswer", "unallocated", "absent", "invalid")
# An Originate that plays a call of another shape: an inbound call to an agent (dial, queue),
# a caller who gives up in the queue, a click-to-call (the agent's phone, then the customer);
# "manual" is an agent dialling from the phone (AMIServer.phone_call, no Originate).
SCRIPTED_CALLS = ("dial", "queue", "queue_abandon", "click", "manual")

DEFAULT_RATES = {  # a plausible cold-calling day; every campaign simulation sets its own
    "answer": 0.30, "machine": 0.05, "noanswer": 0.25, "busy": 0.10,
    "absent": 0.12, "unallocated": 0.10, "invalid": 0.03, "congestion": 0.05,
}

# fixed seconds, uniform(lo, hi) per call, or a function of the call's seeded Random
Duration = Union[float, tuple[float, float], Callable[[random.Random], float]]

# Defaults reproduce the recorded timings. setup_time: before the far side reacts; ring_time:
# ringing before the answer; answer_delay: Answer() with no media takes 0.5 s; talk_time: the far
# side's Wait() before it hangs up; noanswer_wait: the far side's Wait() (AppData only).
DEFAULT_TIMING: dict[str, dict[str, Duration]] = {
    "answer": {"setup_time": 0.0, "ring_time": 0.0, "answer_delay": 0.5, "talk_time": 3.0,
               "agent_ring": 2.0},   # agent_ring: outbound_agents' phone before it answers
    "busy": {"setup_time": 0.0},
    "congestion": {"setup_time": 0.0, "cause_lag": 0.0},   # cause_lag: ;1 Hangup → ;2 Hangup
    "noanswer": {"setup_time": 0.0, "noanswer_wait": 60.0},
    "unallocated": {"setup_time": 0.0},
    "absent": {"setup_time": 0.0},
    "invalid": {"setup_time": 0.0},
    "cause": {"setup_time": 0.0},
    "sip": {"setup_time": 1.0},      # the SIP carrier's final response, 1 s after it rang
    "dial": {"ring_time": 2.0, "answer_delay": 0.5, "talk_time": 4.0},
    "queue": {"ring_time": 2.0, "answer_delay": 0.5, "talk_time": 4.0},
    "queue_abandon": {"queue_wait": 3.0},                     # ami-queue-members: HoldTime 3
    "click": {"agent_ring": 1.0, "ring_time": 2.0, "talk_time": 4.0,    # ami-click-to-call
              "setup_time": 1.0, "noanswer_wait": 60.0},   # the customer's failure; Dial(...,60)
    "manual": {"ring_time": 2.0, "talk_time": 4.0},
}
DEFAULT_TIMING["machine"] = DEFAULT_TIMING["answer"]

# What the originated ;1 leg runs after the answer, per target Context (only Newexten events
# come of it). The two recorded contexts; any other context runs nothing visible.
DEFAULT_DIALPLAN: dict[str, list[tuple[str, str]]] = {
    "tx-orig-target": [("NoOp", "originate target on {o1}"), ("Wait", "10")],
    "tx-caller": [("NoOp", "caller side on {o1}"), ("Wait", "15")],
}


@dataclass
class Scenario:
    seed: int = 0
    rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    numbers: dict[str, str] = field(default_factory=dict)    # exact number → outcome
    prefixes: dict[str, str] = field(default_factory=dict)   # number prefix → outcome (longest wins)
    contexts: dict[str, str] = field(default_factory=lambda: {
        "tx-dial-in": "dial", "tx-queue-in": "queue", "tx-queue-abandon": "queue_abandon",
        "cap-phones": "click"})
    timing: dict[str, dict[str, Duration]] = field(default_factory=dict)  # merged over DEFAULT_TIMING
    dialplan: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: dict(DEFAULT_DIALPLAN))
    dial_agent: str = "Local/agent@agents"       # what Dial() rings in the "dial" call
    queue: str = "sales"
    queue_member: str = "Local/agent1@agents/n"  # the queue's static member
    # The PBX's queues (name → strategy), dialplan/queues_dialfunnel.conf's; once a queue has
    # members added by QueueAdd, its callers go to those (agi.pbxsim.ami_queues).
    queue_strategies: dict[str, str] = field(default_factory=lambda: {"sales": "rrmemory"})
    # Congestion(): "late-cause" (ami-a5: OriginateResponse, ;1 Hangup 0, then the ;2 Hangup 34
    # after cause_lag) or "transcript" (ami-originate-congestion.txt: the ;2 Hangup comes first)
    congestion_order: str = "late-cause"
    trunk_context: str = "dialfunnel-inbound"    # the PJSIP trunk endpoint's context
    # Extensions of agents: when given, each dial/queue call rings one of them (drawn per call:
    # Local/<ext>@agents), instead of dial_agent / queue_member.
    agents: list[str] = field(default_factory=list)
    # An answered Originate into dialfunnel-outbound, when no FastAGI server runs the dialplan,
    # is put through to one of these extensions' phones (PJSIP/<ext>), as the outbound
    # handler's TRANSFER agent:<ext> does; empty: the customer talks alone and hangs up.
    outbound_agents: list[str] = field(default_factory=list)
    # What the callee keys in an outbound flow (a voice campaign's IVR, ivr_flows/*.yaml with
    # ``outbound: true``): the dialled number's entry in outbound_keys, else one drawn per call
    # from outbound_key_choices [(weight, keys)]; each keys as agi_driver.Scenario's (an entry
    # per command that listens for digits, "" or None: none). Neither: the callee keys nothing.
    outbound_keys: dict[str, Sequence[str | None]] = field(default_factory=dict)
    outbound_key_choices: list[tuple[float, Sequence[str | None]]] = field(default_factory=list)
    carrier_context: str = "cap-carrier"         # where a click-to-call's Dial reaches the customer
    # Click-to-call as the project does it (agi/dialer/click_to_call.py): an Originate of an
    # agent's phone PJSIP/<ext> into this context plays a CLICK_* script by the phone's state:
    # phones[ext] = "answer" (default), "busy" (declines: 486), "noanswer" (rings past the
    # Originate's Timeout), "unavailable" (not registered), "inuse" (on another call: only
    # ExtensionState shows it; an Originate to it is answered like "answer").
    click_context: str = "dialfunnel-click-to-call"
    phones: dict[str, str] = field(default_factory=dict)
    hint_context: str = "dialfunnel-hints"       # ExtensionState knows the phones' hints here
    hint_pattern: str = r"80\d\d"               # the dialplan's exten => _80XX,hint,PJSIP/${EXTEN}
    # The dialplan's DF_CONF_AGENT_LEAVES: "stay" (the others talk on when the agent leaves the
    # three-way room) or "end" (they are hung up with the agent).
    agent_leaves: str = "stay"
    # The call controls (agi/pbxsim/ami_console.py): extensions ExtensionState reports InUse
    # though no channel of theirs is live (a colleague on a call elsewhere), and the features.conf
    # atxfer code ("": none configured, Atxfer is refused).
    busy_extensions: set[str] = field(default_factory=set)
    atxfer_code: str = "*2"
    # What a transfer context's Dial rings ({exten}: the transfer's exten); any other context
    # rings PJSIP/{exten} (an outside number: the trunk).
    transfer_dials: dict[str, str] = field(default_factory=lambda: {
        "cap-xfer": "Local/{exten}@cap-phones", "dialfunnel-transfer": "PJSIP/{exten}"})

    def outcome_for(self, number: str, context: str, rng: random.Random) -> str:
        """``dial``/``queue`` for the inbound contexts; else the number's outcome: listed number,
        a number that IS an outcome name (``Local/busy@...`` as in the transcripts, ``cause-21``),
        longest listed prefix, then a seeded draw from ``rates``."""
        if context in self.contexts:
            return self.contexts[context]
        if number in self.numbers:
            return self.numbers[number]
        if number in OUTCOMES or parse_cause(number) is not None or parse_sip(number) is not None:
            return number
        for prefix in sorted(self.prefixes, key=len, reverse=True):
            if number.startswith(prefix):
                return self.prefixes[prefix]
        names = [k for k, v in self.rates.items() if v > 0]
        return rng.choices(names, weights=[self.rates[k] for k in names])[0] if names else "answer"

    def keys_for(self, number: str, rng: random.Random) -> tuple[str | None, ...]:
        """The callee's keys in an outbound flow (see outbound_keys)."""
        if number in self.outbound_keys:
            return tuple(self.outbound_keys[number])
        choices = [(w, keys) for w, keys in self.outbound_key_choices if w > 0]
        if not choices:
            return ()
        return tuple(rng.choices([keys for _, keys in choices], [w for w, _ in choices])[0])

    def click_outcome(self, extension: str, number: str) -> str:
        """The script an Originate of this agent's phone into ``click_context`` plays: the
        phone's, then the customer's when ``numbers`` lists the number dialled (busy, noanswer,
        congestion, absent); any other customer answers."""
        state = self.phones.get(extension, "answer")
        if state not in ("answer", "inuse"):
            return "click_" + state
        customer = self.numbers.get(number)
        return f"click_customer_{customer}" if customer in ("busy", "noanswer", "congestion", "absent") \
            else "click_answer"

    def durations(self, outcome: str, rng: random.Random) -> dict[str, float]:
        kind = "cause" if parse_cause(outcome) is not None else \
            "sip" if parse_sip(outcome) is not None else \
            "click" if outcome.startswith("click_") else outcome
        spec = {**DEFAULT_TIMING.get(kind, {}), **self.timing.get(kind, {})}
        out = {}
        for name in sorted(spec):
            value = spec[name]
            if callable(value):
                out[name] = float(value(rng))
            else:
                out[name] = rng.uniform(*value) if isinstance(value, tuple) else float(value)
        return out


def parse_cause(outcome: str) -> int | None:
    """``cause-21`` → 21 (a far side that hangs up with that Q.850 cause)."""
    if outcome.startswith("cause-") and outcome[6:].isdigit():
        return int(outcome[6:])
    return None


def parse_sip(outcome: str) -> int | None:
    """``sip-486`` → 486 (a SIP carrier answering with that final response)."""
    if outcome.startswith("sip-") and outcome[4:].isdigit() and int(outcome[4:]) in SIP_RESPONSES:
        return int(outcome[4:])
    return None


# --- steps ----------------------------------------------------------------------------------
Step = tuple[str, Any, dict]


def _step(kind: str, leg: Any = None, **args) -> Step:
    return (kind, leg, args)


def newchannel(leg):                     return _step("Newchannel", leg)
def newstate(leg, state, **kw):          return _step("Newstate", leg, state=state, **kw)
def newcallerid(leg, **kw):              return _step("NewCallerid", leg, **kw)
def newconnectedline(leg, **kw):         return _step("NewConnectedLine", leg, **kw)
def hangup(leg, cause, **kw):            return _step("Hangup", leg, cause=cause, **kw)
def hangup_request(leg, cause, **kw):    return _step("HangupRequest", leg, cause=cause, **kw)
def soft_hangup_request(leg, cause):     return _step("SoftHangupRequest", leg, cause=cause)
def varset(leg, variable, value, **kw):  return _step("VarSet", leg, variable=variable, value=value, **kw)
def device(state):                       return _step("DeviceStateChange", None, state=state)
def localbridge(one, two):               return _step("LocalBridge", (one, two))
def originate_response(response, reason): return _step("OriginateResponse", None, response=response, reason=reason)
def wait(name):                          return _step("wait", None, name=name)
def set_(leg, **fields):                 return _step("set", leg, fields=fields)
def target(emit=True):                   return _step("target", "o1", emit=emit)
def pre_dial(leg):                       return _step("PreDial", leg)   # customer_recording
def bridge(event, leg=None, count=0):    return _step(event, leg, count=count)
def member_status(status, taken, last_call="0"):
    return _step("QueueMemberStatus", None, status=status, taken=taken, last_call=last_call)


def originate_vars(leg, reverse=False):  return _step("OriginateVars", leg, reverse=reverse)


def newexten(leg, app, data="", priority=None, **kw):
    return _step("Newexten", leg, app=app, data=data, priority=priority, **kw)


def dial(event, dest, status=None, caller=None, dialstring=None, **kw):
    """DialBegin/DialState/DialEnd: the caller's channel headers (absent for the DialBegin/End
    that Originate itself publishes), the Dest* headers, then DialString or DialStatus."""
    return _step(event, dest, status=status, caller=caller, dialstring=dialstring, **kw)


def queue_event(event, leg, extra):
    return _step(event, leg, extra=extra)


def agent_event(event, caller, dest, extra, **kw):
    return _step(event, caller, dest=dest, extra=extra, **kw)


CID = {"CallerIDNum": "{cid_num}", "CallerIDName": "{cid_name}"}
CONNECTED = {"ConnectedLineNum": "{cid_num}", "ConnectedLineName": "{cid_name}"}
PRES = [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]

# Every Originate of a Local channel starts like this (all seven outcome transcripts).
PROLOGUE = [
    newchannel("o1"),
    newchannel("o2"),
    newexten("o1", "AppDial2", "(Outgoing Line)"),
    newcallerid("o1", set=CID, extra=PRES),
    newconnectedline("o1", set=CONNECTED),
    newcallerid("o2", set={**CID, **CONNECTED}, extra=PRES),
    newconnectedline("o2"),
    localbridge("o1", "o2"),
    dial("DialBegin", "o1", dialstring="{dialstring}"),
    wait("setup_time"),
]

HANGUP_BOTH_NORMAL = [  # the far side hangs up after talking (answer transcript)
    soft_hangup_request("o2", 16),
    hangup_request("o1", 16),
    hangup("o2", 16),
    soft_hangup_request("o1", 16),
    hangup("o1", 16),
    device("NOT_INUSE"),
    device("NOT_INUSE"),
]

ANSWER = PROLOGUE + [
    newexten("o2", "Answer"),
    newstate("o2", 6),
    device("INUSE"),
    newstate("o1", 6),
    dial("DialEnd", "o1", status="ANSWER"),
    originate_response("Success", 4),
    target(),
    device("INUSE"),
    wait("answer_delay"),
    newexten("o2", "Wait", "{talk_time}", priority=2),
    wait("talk_time"),
    newexten("o2", "Hangup", "", priority=3),
] + HANGUP_BOTH_NORMAL

# Modelled: the far side runs Ringing(), Wait(ring), Answer(), Wait(talk), Hangup(); the
# ringing part is the noanswer transcript's, the rest the answer transcript's.
ANSWER_AFTER_RING = PROLOGUE + [
    newexten("o2", "Ringing"),
    newstate("o1", 5),
    newexten("o2", "Wait", "{ring_time}", priority=2),
    dial("DialState", "o1", status="RINGING"),
    device("INUSE"),
    wait("ring_time"),
    newexten("o2", "Answer", priority=3),
    newstate("o2", 6),
    device("INUSE"),
    newstate("o1", 6),
    dial("DialEnd", "o1", status="ANSWER"),
    originate_response("Success", 4),
    target(),
    device("INUSE"),
    wait("answer_delay"),
    newexten("o2", "Wait", "{talk_time}", priority=4),
    wait("talk_time"),
    newexten("o2", "Hangup", "", priority=5),
] + HANGUP_BOTH_NORMAL

BUSY = PROLOGUE + [
    newexten("o2", "Busy"),
    newstate("o2", 7),
    dial("DialEnd", "o1", status="BUSY"),
    hangup_request("o2", 0),
    device("INUSE"),
    hangup("o1", 0),
    soft_hangup_request("o2", 16),
    hangup("o2", 17),
    originate_response("Failure", 5),
    device("NOT_INUSE"),
    device("NOT_INUSE"),
]

CONGESTION = PROLOGUE + [
    newexten("o2", "Congestion"),
    newstate("o2", 7),
    dial("DialEnd", "o1", status="CONGESTION"),
    hangup_request("o2", 0),
    soft_hangup_request("o2", 16),
    originate_response("Failure", 8),
    hangup("o2", 34),
    hangup("o1", 0),
    device("INUSE"),
    device("NOT_INUSE"),
    device("NOT_INUSE"),
]

# Congestion() as ami-a5 recorded it: the OriginateResponse before the far side even ran, our
# ;1 leg gone with cause 0, and only then the ;2 Hangup with the cause.
CONGESTION_LATE_CAUSE = PROLOGUE + [
    originate_response("Failure", 8),
    newexten("o2", "Congestion"),
    newstate("o2", 7),
    dial("DialEnd", "o1", status="CONGESTION"),
    hangup_request("o2", 0),
    device("INUSE"),
    hangup("o1", 0),
    device("NOT_INUSE"),
    wait("cause_lag"),
    soft_hangup_request("o2", 16),
    hangup("o2", 34),
    device("NOT_INUSE"),
]

NOANSWER = PROLOGUE + [
    newexten("o2", "Ringing"),
    newstate("o1", 5),
    newexten("o2", "Wait", "{noanswer_wait}", priority=2),
    dial("DialState", "o1", status="RINGING"),  # and no DialEnd at all (2 of 2 recorded runs)
    device("INUSE"),
    wait("timeout"),                              # the Originate's Timeout
    hangup_request("o2", 19),
    originate_response("Failure", 3),
    soft_hangup_request("o2", 16),
    hangup("o2", 19),
    hangup("o1", 19),
    device("NOT_INUSE"),
    device("NOT_INUSE"),
]


def _far_hangup(cause: int, order: str, dial_status: str) -> list[Step]:
    """The far side runs Hangup(cause). ``order``: the recorded interleaving of the four events
    that vary between runs (R = OriginateResponse, D = DialEnd, H = Hangup o2)."""
    head = PROLOGUE + [newexten("o2", "Hangup", str(cause))]
    parts = {"R": [originate_response("Failure", 0)], "D": [dial("DialEnd", "o1", status=dial_status)],
             "H": [hangup("o2", cause)], "S": [soft_hangup_request("o2", 16), hangup_request("o1", cause)]}
    body = [step for key in order for step in parts[key]]
    return head + body + [hangup("o1", cause), device("NOT_INUSE"), device("NOT_INUSE")]


UNALLOCATED = _far_hangup(1, "RSHD", "NOANSWER")
ABSENT = _far_hangup(20, "SHRD", "CHANUNAVAIL")
INVALID = _far_hangup(28, "SDRH", "NOANSWER")


def cause_script(cause: int) -> list[Step]:
    """Modelled for causes not recorded: the invalid-number sequence with this cause."""
    status = {17: "BUSY", 34: "CONGESTION", 20: "CHANUNAVAIL"}.get(cause, "NOANSWER")
    return _far_hangup(cause, "SDRH", status)


# --- a SIP trunk (real-run-2026-12/ami-sip-causes, ami-a5) --------------------------------------
# SIP final response → (Q.850 cause, DialEnd DialStatus, the recorded order of what follows the
# ringing: Q HangupRequest, R OriginateResponse (Failure, Reason 0), D DialEnd, H Hangup).
SIP_RESPONSES = {
    486: (17, "BUSY", "QRDH"), 404: (1, "NOANSWER", "QDRH"), 480: (19, "NOANSWER", "RQDH"),
    484: (28, "NOANSWER", "QRDH"), 503: (34, "CONGESTION", "QRDH"), 603: (21, "NOANSWER", "QRDH"),
    410: (22, "NOANSWER", "QDRH"), 408: (18, "NOANSWER", "QDRH"),
}
# The Local-channel outcomes over a SIP trunk. No response arrives as 20: a carrier's 关机 is 480.
SIP_FOR = {"busy": 486, "unallocated": 404, "absent": 480, "invalid": 484, "congestion": 503}

SIP_PROLOGUE = [
    newchannel("o1"),
    newexten("o1", "AppDial2", "(Outgoing Line)", set={"Language": "zh"}),
    newcallerid("o1", set=CID, extra=PRES),
    newconnectedline("o1", set=CONNECTED),
    dial("DialBegin", "o1", dialstring="{dialstring}"),
]

# Ringing past the Originate's Timeout (ami-a5, PJSIP): no DialState, no DialEnd.
SIP_NOANSWER = SIP_PROLOGUE + [
    wait("timeout"),
    hangup("o1", 19, tech_cause=480),
    originate_response("Failure", 3),
]


def sip_failure(code: int) -> list[Step]:
    cause, status, order = SIP_RESPONSES[code]
    parts = {"Q": [hangup_request("o1", cause, tech_cause=code)],
             "R": [originate_response("Failure", 0)],
             "D": [dial("DialEnd", "o1", status=status)],
             "H": [hangup("o1", cause, tech_cause=code)]}
    return SIP_PROLOGUE + [newstate("o1", 5), dial("DialState", "o1", status="RINGING"),
                           wait("setup_time")] + [step for key in order for step in parts[key]]


def sip_script(outcome: str) -> list[Step] | None:
    """What a PJSIP trunk does for this outcome; None for an answer (played as a Local call)."""
    code = parse_sip(outcome) or SIP_FOR.get(outcome)
    if code is not None:
        return sip_failure(code)
    return SIP_NOANSWER if outcome == "noanswer" else None


# --- inbound call rung to an agent: Originate → Dial(agent) (trimmed ami-dial.txt) ----------
INBOUND_START = [
    newchannel("o1"),
    newchannel("o2"),
    set_("o1", **CID, **CONNECTED),
    set_("o2", **CID, **CONNECTED),
    dial("DialBegin", "o1", dialstring="{dialstring}"),
    set_("o2", Priority="2"),
]
AGENT_HANGS_UP = [
    varset("a1", "BRIDGEPEER", ""),
    varset("o2", "BRIDGEPEER", ""),
    bridge("BridgeLeave", "a1", count=1),
    hangup("a1", 16),
]

DIAL = INBOUND_START + [
    varset("o2", "DIALSTATUS", ""),
    newchannel("a1"),
    newchannel("a2"),
    set_("a1", CallerIDNum="s", CallerIDName="{cid_name}", **CONNECTED, Exten="s"),
    set_("a2", **CID, ConnectedLineNum="s", ConnectedLineName="{cid_name}"),
    newstate("a1", 5),
    dial("DialBegin", "a1", caller="o2", dialstring="{agent_dialstring}"),
    newstate("o1", 5),
    dial("DialState", "a1", caller="o2", status="RINGING"),
    dial("DialState", "o1", status="RINGING"),
    wait("ring_time"),
    newstate("a2", 6, set={"Priority": "4"}),
    newstate("a1", 6),
    varset("o2", "DIALSTATUS", "ANSWER"),
    dial("DialEnd", "a1", caller="o2", status="ANSWER", set={"Exten": ""}),
    newstate("o2", 6),
    bridge("BridgeCreate", count=0),
    newstate("o1", 6),
    dial("DialEnd", "o1", status="ANSWER"),
    originate_response("Success", 4),
    target(emit=False),
    bridge("BridgeEnter", "a1", count=1),
    bridge("BridgeEnter", "o2", count=2),
    varset("a1", "BRIDGEPEER", "{o2}"),
    varset("o2", "BRIDGEPEER", "{a1}"),
    wait("answer_delay"),
    wait("talk_time"),
    hangup("a2", 16, set={"Priority": "6"}),
] + AGENT_HANGS_UP + [
    bridge("BridgeLeave", "o2", count=0),
    bridge("BridgeDestroy", count=0),
    varset("o2", "DIALSTATUS", "ANSWER"),
    hangup("o1", 16),
    hangup("o2", 16),
]

# --- inbound call through Queue(sales) (trimmed ami-queue.txt) -------------------------------
QUEUE_IDS = [("Queue", "{queue}"), ("Interface", "{member}"), ("MemberName", "{member_name}")]

QUEUE = INBOUND_START + [
    queue_event("QueueCallerJoin", "o2", [("Queue", "{queue}"), ("Position", "1"), ("Count", "1")]),
    queue_event("MusicOnHoldStart", "o2", [("Class", "default")]),
    newchannel("a1"),
    newchannel("a2"),
    set_("a1", **CID),
    agent_event("AgentCalled", "o2", "a1", QUEUE_IDS, dest_snap={**CONNECTED, "Exten": "s"}),
    dial("DialBegin", "a1", caller="o2", dialstring="{member}"),
    set_("a1", **CONNECTED, Exten="s"),
    set_("a2", **CID, **CONNECTED),
    newstate("a1", 5),
    dial("DialState", "a1", caller="o2", status="RINGING"),
    member_status(2, "0"),
    wait("ring_time"),
    newstate("a2", 6, set={"Priority": "4"}),
    newstate("a1", 6),
    dial("DialEnd", "a1", caller="o2", status="ANSWER"),
    queue_event("MusicOnHoldStop", "o2", []),
    queue_event("QueueCallerLeave", "o2", [("Queue", "{queue}"), ("Position", "1"), ("Count", "0")]),
    varset("o2", "QUEUEPOSITION", "1"),
    originate_response("Success", 4),
    agent_event("AgentConnect", "o2", "a1", QUEUE_IDS + [("HoldTime", "{hold_time}"), ("RingTime", "{ring_secs}")]),
    newstate("o2", 6),
    bridge("BridgeEnter", "a1", count=1),
    newstate("o1", 6),
    dial("DialEnd", "o1", status="ANSWER"),
    target(emit=False),
    bridge("BridgeEnter", "o2", count=2),
    varset("a1", "BRIDGEPEER", "{o2}"),
    varset("o2", "BRIDGEPEER", "{a1}"),
    wait("answer_delay"),
    wait("talk_time"),
    hangup("a2", 16, set={"Priority": "6"}),
] + AGENT_HANGS_UP + [
    agent_event("AgentComplete", "o2", None, QUEUE_IDS + [
        ("HoldTime", "{hold_time}"), ("TalkTime", "{talk_secs}"), ("Reason", "agent")]),
    member_status(1, "1", last_call="{now}"),
    bridge("BridgeLeave", "o2", count=0),
    hangup("o2", 16),
    hangup("o1", 16),
]

# --- the same queue call answered by a member logged in with QueueAdd Interface=PJSIP/<ext> ----
# A device interface rings ONE channel, PJSIP/<ext>-<seq> (no ;2 half, as a Local member has):
# a1 runs QUEUE's steps of the Local member's ;1. When the phone hangs up (its BYE), the order of
# that ;1 in ami-a4q (real-run-2026-12) follows: HangupRequest, AgentComplete (Dest = the
# member's channel), BRIDGEPEER cleared, BridgeLeave, Hangup.
_AGENT_GONE = next(i for i, (kind, leg, _) in enumerate(QUEUE) if (kind, leg) == ("Hangup", "a2"))
QUEUE_PHONE = [step for step in QUEUE[:_AGENT_GONE] if step[1] != "a2"] + [
    hangup_request("a1", 16),
    agent_event("AgentComplete", "o2", "a1", QUEUE_IDS + [
        ("HoldTime", "{hold_time}"), ("TalkTime", "{talk_secs}"), ("Reason", "agent")]),
    member_status(1, "1", last_call="{now}"),
] + AGENT_HANGS_UP + [
    bridge("BridgeLeave", "o2", count=0),
    hangup("o2", 16),
    hangup("o1", 16),
]

# --- a caller gives up in the queue (ami-queue-members.txt, captures-2026-12) -----------------
# The capture's order once the caller's half hangs up: Hangup of that half, MusicOnHoldStop,
# QueueCallerAbandon (HoldTime), QueueCallerLeave (Count 0), Hangup of the queue's half. The
# queue runs on o2 here as in QUEUE (ami-queue.txt); o1 is the caller's half.
QUEUE_ABANDON = INBOUND_START + [
    queue_event("QueueCallerJoin", "o2", [("Queue", "{queue}"), ("Position", "1"), ("Count", "1")]),
    queue_event("MusicOnHoldStart", "o2", [("Class", "default")]),
    newstate("o2", 6),
    newstate("o1", 6),
    dial("DialEnd", "o1", status="ANSWER"),
    originate_response("Success", 4),
    target(emit=False),
    wait("queue_wait"),
    soft_hangup_request("o1", 16),
    hangup_request("o2", 16),
    hangup("o1", 16),
    queue_event("MusicOnHoldStop", "o2", []),
    queue_event("QueueCallerAbandon", "o2", [("Queue", "{queue}"), ("Position", "1"),
                                             ("OriginalPosition", "1"), ("HoldTime", "{queue_secs}")]),
    queue_event("QueueCallerLeave", "o2", [("Queue", "{queue}"), ("Position", "1"), ("Count", "0")]),
    soft_hangup_request("o2", 16),
    hangup("o2", 16),
]

# --- click-to-call (ami-click-to-call.txt, captures-2026-12) ---------------------------------
# o1/o2: the agent's phone, originated (Uniqueid = ChannelId); once it answers, o1 runs the
# Originate's Context/Exten: Dial(Local/<Exten>@<carrier_context>) = c1/c2, the customer.
# OriginateResponse comes when the agent answered, after the customer's DialBegin.
CLICK = [
    newchannel("o1"),
    newchannel("o2"),
    originate_vars("o1", reverse=True),
    newcallerid("o1", set=CID, extra=PRES),
    newconnectedline("o1", set=CONNECTED),
    originate_vars("o2"),
    newcallerid("o2", set={**CID, **CONNECTED}, extra=PRES),
    newconnectedline("o2"),
    localbridge("o1", "o2"),
    dial("DialBegin", "o1", dialstring="{dialstring}"),
    newstate("o1", 5),
    dial("DialState", "o1", status="RINGING"),
    wait("agent_ring"),
    newstate("o2", 6),
    newstate("o1", 6),
    dial("DialEnd", "o1", status="ANSWER"),
    set_("o1", Context="{orig_context}", Exten="{orig_exten}", Priority="2"),
    newchannel("c1"),
    newchannel("c2"),
    set_("c1", CallerIDNum="{orig_exten}", CallerIDName="{cid_name}", **CONNECTED),
    set_("c2", **CID, ConnectedLineNum="{orig_exten}", ConnectedLineName="{cid_name}"),
    dial("DialBegin", "c1", caller="o1", dialstring="{customer_dialstring}"),
    newstate("c1", 5),
    originate_response("Success", 4),
    dial("DialState", "c1", caller="o1", status="RINGING"),
    wait("ring_time"),
    newstate("c2", 6),
    newstate("c1", 6),
    dial("DialEnd", "c1", caller="o1", status="ANSWER"),
    bridge("BridgeCreate", count=0),
    bridge("BridgeEnter", "c1", count=1),
    bridge("BridgeEnter", "o1", count=2),
    wait("talk_time"),
    hangup("c2", 16),
    bridge("BridgeLeave", "c1", count=1),
    hangup("c1", 16),
    bridge("BridgeLeave", "o1", count=0),
    bridge("BridgeDestroy", count=0),
    hangup("o2", 16),
    hangup("o1", 16),
]

# --- an agent dials from the phone (ami-a6agent, real-run-2026-12, with the rig's Local phone
# replaced by the PJSIP phone a real agent has) ---------------------------------------------
# o1: PJSIP/<ext> (rang in: state Ring, its caller ID the extension) running dialfunnel-agents
# → dialfunnel-trunk-out; t1: the trunk channel to the customer, recorded by Dial's b() pre-dial
# handler (agi/pbxsim/customer_recording.py).
MANUAL = [
    newchannel("o1"),
    set_("o1", Context="dialfunnel-trunk-out"),
    newchannel("t1"),
    pre_dial("t1"),
    dial("DialBegin", "t1", caller="o1", dialstring="{orig_exten}@dialfunnel-trunk"),
    newstate("t1", 5),
    dial("DialState", "t1", caller="o1", status="RINGING"),
    wait("ring_time"),
    newstate("t1", 6),
    dial("DialEnd", "t1", caller="o1", status="ANSWER"),
    bridge("BridgeCreate", count=0),
    bridge("BridgeEnter", "t1", count=1),
    newstate("o1", 6),
    bridge("BridgeEnter", "o1", count=2),
    wait("talk_time"),
    hangup("t1", 16),
    bridge("BridgeLeave", "t1", count=1),
    bridge("BridgeLeave", "o1", count=0),
    bridge("BridgeDestroy", count=0),
    hangup("o1", 16),
]

# --- a dialer call put through to an agent without FastAGI (outbound_dialplan._to_agent's
# events, which follow ami-a5): the customer answers, the agent's phone p1 rings and answers,
# the customer hangs up after talk_time -----------------------------------------------------
DIALER_AGENT = PROLOGUE + [
    newexten("o2", "Answer"),
    newstate("o2", 6),
    device("INUSE"),
    newstate("o1", 6),
    dial("DialEnd", "o1", status="ANSWER"),
    originate_response("Success", 4),
    target(emit=False),
    newchannel("p1"),
    dial("DialBegin", "p1", caller="o1", dialstring="{agent_ext}"),
    newstate("p1", 5),
    dial("DialState", "p1", caller="o1", status="RINGING"),
    wait("agent_ring"),
    newstate("p1", 6),
    dial("DialEnd", "p1", caller="o1", status="ANSWER"),
    bridge("BridgeEnter", "p1", count=1),
    bridge("BridgeEnter", "o1", count=2),
    wait("talk_time"),
    soft_hangup_request("o2", 16),
    hangup_request("o1", 16),
    hangup("o2", 16),
    bridge("BridgeLeave", "o1", count=1),
    bridge("BridgeLeave", "p1", count=0),
    soft_hangup_request("o1", 16),
    hangup("p1", 16),
    hangup("o1", 16),
    device("NOT_INUSE"),
]

# --- click-to-call of an agent's PJSIP phone (agi/dialer/click_to_call.py) --------------------
# The capture's sequence (CLICK) with the two Local pairs replaced by what a real phone and the
# real trunk are: o1 = PJSIP/<ext>-N, one channel (Uniqueid = our ChannelId), as the SIP trunk
# of real-run-2026-12 shows an originated PJSIP channel (SIP_PROLOGUE: no ;2, no LocalBridge);
# c1 = PJSIP/dialfunnel-trunk-N, the customer, dialled by o1 from dialfunnel-trunk-out. The key
# events are the capture's without its ;2 halves (test_click_to_call_sim): OriginateResponse
# (Success, 4) after the customer's DialBegin; each leg leaves the bridge, then hangs up.
CLICK_PHONE = [
    newchannel("o1"),
    originate_vars("o1", reverse=True),
    newcallerid("o1", set=CID, extra=PRES),
    newconnectedline("o1", set=CONNECTED),
    dial("DialBegin", "o1", dialstring="{dialstring}"),
    newstate("o1", 5),
    dial("DialState", "o1", status="RINGING"),
    wait("agent_ring"),
    newstate("o1", 6),
    dial("DialEnd", "o1", status="ANSWER"),
    set_("o1", Context="dialfunnel-trunk-out", Exten="{orig_exten}", Priority="8",
         CallerIDNum="{agent_ext}", CallerIDName="<unknown>"),
    newchannel("c1"),
    set_("c1", CallerIDNum="{orig_exten}", ConnectedLineNum="{agent_ext}"),
    pre_dial("c1"),
    dial("DialBegin", "c1", caller="o1", dialstring="{orig_exten}@dialfunnel-trunk"),
    newstate("c1", 5),
    originate_response("Success", 4),
    dial("DialState", "c1", caller="o1", status="RINGING"),
    wait("ring_time"),
    newstate("c1", 6),
    dial("DialEnd", "c1", caller="o1", status="ANSWER"),
    bridge("BridgeCreate", count=0),
    bridge("BridgeEnter", "c1", count=1),
    bridge("BridgeEnter", "o1", count=2),
    wait("talk_time"),
    bridge("BridgeLeave", "c1", count=1),
    hangup("c1", 16),
    bridge("BridgeLeave", "o1", count=0),
    bridge("BridgeDestroy", count=0),
    hangup("o1", 16),
]
# Modelled, not recorded: a phone that is not registered gives no channel at all; the async
# Originate only fails.
CLICK_UNAVAILABLE = [originate_response("Failure", 0)]
_CLICK_DIALLED = CLICK_PHONE[:CLICK_PHONE.index(dial("DialState", "c1", caller="o1", status="RINGING")) + 1]


def _click_customer_fails(cause: int, status: str, ring: str) -> list[Step]:
    """The agent answered, the customer's trunk leg failed (the SIP trunk's order of
    ami-sip-causes: HangupRequest, DialEnd, Hangup); Dial() returns and dialfunnel-trunk-out
    hangs the agent up (16)."""
    return _CLICK_DIALLED + [
        wait(ring),
        hangup_request("c1", cause),
        dial("DialEnd", "c1", caller="o1", status=status),
        hangup("c1", cause),
        soft_hangup_request("o1", 16),
        hangup("o1", 16),
    ]


CLICK_CUSTOMER = {"busy": _click_customer_fails(17, "BUSY", "setup_time"),
                  "noanswer": _click_customer_fails(19, "NOANSWER", "noanswer_wait"),
                  "congestion": _click_customer_fails(34, "CONGESTION", "setup_time"),
                  "absent": _click_customer_fails(20, "CHANUNAVAIL", "setup_time")}


def click_script(outcome: str) -> list[Step]:
    """``click_answer``, ``click_busy`` (the phone answers 486, as the trunk of ami-sip-causes),
    ``click_noanswer`` (rings past the Timeout, as ami-a5's trunk), ``click_unavailable``."""
    if outcome.startswith("click_customer_"):
        return CLICK_CUSTOMER[outcome[len("click_customer_"):]]
    return {"click_answer": CLICK_PHONE, "click_busy": sip_failure(486),
            "click_noanswer": SIP_NOANSWER, "click_unavailable": CLICK_UNAVAILABLE}[outcome]

# --- a phone rung by an Originate (PJSIP/<extension>: a manager's phone into ChanSpy, a colleague
# into a three-way room). Modelled on ami-chanspy.txt's supervisor phone (OriginateResponse, then
# Newstate Up and DialEnd ANSWER, then the Originate's target) with one PJSIP channel instead of
# the rig's Local pair; no answer / busy as a SIP phone ends them (480 → 19, 486 → 17).
PHONE_PROLOGUE = [
    newchannel("o1"),
    dial("DialBegin", "o1", dialstring="{dialstring}"),
    newstate("o1", 5),
    dial("DialState", "o1", status="RINGING"),
]
PHONE_SCRIPTS: dict[str, list[Step]] = {
    "answer": PHONE_PROLOGUE + [
        wait("agent_ring"),
        originate_response("Success", 4),
        newstate("o1", 6),
        dial("DialEnd", "o1", status="ANSWER"),
        target(),
    ],
    "noanswer": PHONE_PROLOGUE + [
        wait("timeout"),
        dial("DialEnd", "o1", status="NOANSWER"),
        hangup("o1", 19),
        originate_response("Failure", 3),
    ],
    "busy": PHONE_PROLOGUE + [
        wait("setup_time"),
        dial("DialEnd", "o1", status="BUSY"),
        hangup("o1", 17),
        originate_response("Failure", 5),
    ],
}

SCRIPTS: dict[str, list[Step]] = {
    "answer": ANSWER,
    "machine": ANSWER,  # the same on AMI; only the audio (AMD) differs
    "busy": BUSY,
    "congestion": CONGESTION,
    "noanswer": NOANSWER,
    "unallocated": UNALLOCATED,
    "absent": ABSENT,
    "invalid": INVALID,
    "dial": DIAL,
    "queue": QUEUE,
    "queue_abandon": QUEUE_ABANDON,
    "click": CLICK,
    "manual": MANUAL,
}


def script_for(outcome: str, durations: dict[str, float], *,
               congestion_order: str = "late-cause") -> list[Step]:
    """The script of an outcome on a Local channel (a ``sip-N`` outcome: the far side hangs up
    with that response's cause)."""
    cause = parse_cause(outcome)
    if parse_sip(outcome) is not None:
        cause = SIP_RESPONSES[parse_sip(outcome)][0]
    if cause is not None:
        return cause_script(cause)
    if outcome in ("answer", "machine") and durations.get("ring_time", 0) > 0:
        return ANSWER_AFTER_RING
    if outcome == "congestion" and congestion_order == "late-cause":
        return CONGESTION_LATE_CAUSE
    return SCRIPTS[outcome]


def demo_scenario(seed: int = 0) -> Scenario:
    """Calls that look like a cold-calling day for the demo: rings of a few seconds, talks of a
    minute or so, dead numbers that fail at once (the default timing replays the transcripts);
    in a voice campaign's flow one person in twenty keys 9 (do-not-call)."""
    quick = {"setup_time": (1.0, 3.0)}
    return Scenario(seed=seed, outbound_key_choices=[(0.05, ["9"]), (0.95, [])], timing={
        "answer": {"setup_time": 0.0, "ring_time": (3.0, 12.0), "answer_delay": 0.0, "talk_time": (30.0, 120.0)},
        "machine": {"setup_time": 0.0, "ring_time": (3.0, 12.0), "answer_delay": 0.0, "talk_time": (15.0, 25.0)},
        "busy": quick, "congestion": quick, "unallocated": quick, "absent": quick, "invalid": quick,
        "noanswer": {"setup_time": 0.0, "noanswer_wait": 60.0},
        "click": {"agent_ring": (2.0, 4.0), "ring_time": (3.0, 8.0), "talk_time": (30.0, 90.0),
                  "setup_time": 1.0}})
