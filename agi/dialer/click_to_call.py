"""Click-to-call's originating side (issue 13), driven by the dialer process's loop.

Every ``poll()`` claims the queued requests (models.dialer.click_to_call.claim_requests: one
dialer each), asks the PBX whether the agent's phone is free (AMI ``ExtensionState`` in the
dialplan's ``dialfunnel-hints``: 0 Idle goes ahead, 4 Unavailable is a phone not registered,
any other known state a phone in use; -1, no hint, goes ahead and lets the Originate tell), then
sends an async Originate: ``PJSIP/<ext>`` rings first, then ``dialfunnel-click-to-call`` dials
the customer. Its ChannelId is the request's ``channel_id``: the agent leg's Uniqueid, so every
event of the call carries it as Uniqueid (agent leg) or Linkedid (customer leg).

Events (queued by the AMI thread, handled in ``step()``) move the request:
  DialState RINGING / Newstate 5 of the agent leg        → ringing_agent
  DialBegin from the agent leg (the customer dialled)    → ringing_customer
  DialEnd ANSWER from the agent leg                      → talking
  Hangup of the agent leg                                → ended, or failed with the reason
  OriginateResponse Failure                              → failed once the agent leg's Hangup
                                                           came (its cause), or at once if no
                                                           channel was ever made
A hang-up pressed on the page reaches ``poll()`` (hangups_wanted) and is sent as AMI Hangup.
With several Asterisk servers (agi.dialer.servers), ExtensionState, Originate and Hangup go to
the server of the agent's extension, and every server's events are heard.
"""
from __future__ import annotations

import logging
import queue
from dataclasses import dataclass

from agi.ami.client import AMIActionError, AMIError
from agi.dialer.servers import PBX, ami_for_extension
from models.clock import SYSTEM_CLOCK
from models.dialer import click_to_call as c2c

log = logging.getLogger(__name__)

CONTEXT = "dialfunnel-click-to-call"
HINTS = "dialfunnel-hints"
RING_SECONDS = 30            # the agent's phone rings this long (the Originate's Timeout)
POLL_SECONDS = 0.5
FAILURE_WAIT = 5.0           # after a failed OriginateResponse, the longest wait for the Hangup
_FREE = (0, -1)
_UNREGISTERED = 4
# Q.850 cause of the agent leg → why the agent's phone did not take the call.
_AGENT_CAUSES = {17: "click_to_call.phone_busy", 21: "click_to_call.phone_busy",
                 18: "click_to_call.agent_no_answer", 19: "click_to_call.agent_no_answer",
                 20: "click_to_call.phone_unregistered"}
_ORIGINATE_REASONS = {3: "click_to_call.agent_no_answer", 5: "click_to_call.phone_busy",
                      1: "click_to_call.agent_no_answer"}
# DialEnd status of the customer's leg → why the customer did not talk.
_CUSTOMER_STATUS = {"BUSY": "click_to_call.customer_busy", "NOANSWER": "click_to_call.customer_no_answer",
                    "CHANUNAVAIL": "click_to_call.customer_unreachable",
                    "CONGESTION": "click_to_call.customer_unreachable"}


@dataclass
class Live:
    request_id: int
    channel_id: str
    agent_answered: bool = False
    customer_status: str | None = None
    failed_reason: int | None = None      # OriginateResponse Reason of a failure
    failed_at: float | None = None
    hangup_sent: bool = False
    seen: bool = False                    # an event about the agent leg came (it exists)
    ami: object = None                    # the AMI client of the agent's server


class ClickToCall:
    def __init__(self, sessionmaker, ami, *, dialer_id: str, clock=SYSTEM_CLOCK,
                 ring_seconds: int = RING_SECONDS, caller_id: str | None = None,
                 servers: list[PBX] | None = None):
        self.Session = sessionmaker
        self.servers = servers or [PBX("default", ami)]
        self.ami = self.servers[0].ami
        self.dialer_id = dialer_id
        self.clock = clock
        self.ring_seconds = ring_seconds
        self.caller_id = caller_id
        self.live: dict[str, Live] = {}
        self._events: queue.Queue = queue.Queue()
        self._next_poll = 0.0

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def attach(self) -> None:
        for pbx in self.servers:
            for name in ("Newstate", "DialBegin", "DialState", "DialEnd", "Hangup", "OriginateResponse"):
                pbx.ami.on(name, self._events.put)

    def _ami_for(self, extension: str):
        """The AMI client of the server the extension's phone is on (the first one if none)."""
        return ami_for_extension(self.servers, extension)

    # --- the loop ---------------------------------------------------------------------------
    def step(self) -> int:
        """Handle the queued AMI events about our calls; returns how many were ours."""
        handled = 0
        while True:
            try:
                msg = self._events.get_nowait()
            except queue.Empty:
                return handled
            handled += self._handle(msg)

    def poll(self, force: bool = False) -> None:
        """Claim and dial the queued requests, send the hang-ups asked for, settle failures
        whose Hangup never came. At most every POLL_SECONDS unless ``force``."""
        now = self._now()
        if not force and now < self._next_poll:
            return
        self._next_poll = now + POLL_SECONDS
        self.step()
        with self.Session() as s:
            claimed = c2c.claim_requests(s, self.dialer_id, clock=self.clock)
            wanted = c2c.hangups_wanted(s, self.dialer_id)
            s.commit()
        for request in claimed:
            self._dial(request)
        for channel_id in wanted:
            line = self.live.get(channel_id)
            if line is not None and not line.hangup_sent:
                line.hangup_sent = True
                try:
                    (line.ami or self.ami).hangup(channel_id, cause=16)
                except AMIError as exc:
                    log.warning("click-to-call: Hangup of %s failed: %s", channel_id, exc)
        for line in list(self.live.values()):
            if line.failed_at is not None and now - line.failed_at >= FAILURE_WAIT:
                self._end(line, _ORIGINATE_REASONS.get(line.failed_reason, "click_to_call.failed"))

    # --- dialling ---------------------------------------------------------------------------
    def _dial(self, request: c2c.Claimed) -> None:
        ami = self._ami_for(request.extension)
        refusal = self._phone_refusal(request.extension, ami)
        if refusal:
            self._move(request.channel_id, "failed", refusal)
            return
        line = Live(request.id, request.channel_id, ami=ami)
        self.live[request.channel_id] = line
        try:
            ami.originate(
                f"PJSIP/{request.extension}", context=CONTEXT, exten=c2c.dialable(request.number),
                priority=1, timeout_ms=self.ring_seconds * 1000, caller_id=self.caller_id,
                variables={"DIALFUNNEL_AGENT": request.extension, "DIALFUNNEL_CALL": request.id},
                channel_id=request.channel_id, other_channel_id=f"{request.channel_id};2")
        except AMIActionError as exc:
            log.warning("click-to-call: Originate refused for request %s: %s", request.id, exc)
            self._end(line, "click_to_call.failed")
        except AMIError as exc:
            log.warning("click-to-call: Originate of request %s failed: %s", request.id, exc)
            self._end(line, "click_to_call.pbx_unreachable")

    def _phone_refusal(self, extension: str, ami) -> str | None:
        """Why the agent's phone cannot take a call now (ExtensionState), or None."""
        try:
            reply = ami.send_action("ExtensionState", [("Exten", extension), ("Context", HINTS)],
                                         timeout=5.0, check=True)
        except AMIError as exc:
            log.warning("click-to-call: ExtensionState of %s failed: %s", extension, exc)
            return "click_to_call.pbx_unreachable"
        try:
            status = int(reply.get("Status") or -1)
        except ValueError:
            status = -1
        if status in _FREE:
            return None
        return "click_to_call.phone_unregistered" if status == _UNREGISTERED else "click_to_call.phone_busy"

    # --- events -----------------------------------------------------------------------------
    def _handle(self, msg) -> int:
        name = msg.name
        if name == "OriginateResponse":
            line = self.live.get(msg.get("Uniqueid") or "")
            if line is None:
                return 0
            if msg.get("Response") == "Success":
                line.agent_answered = True
            else:
                try:
                    line.failed_reason = int(msg.get("Reason") or 0)
                except ValueError:
                    line.failed_reason = 0
                line.failed_at = self._now()
                if not line.seen:   # no channel was made (a phone not registered): no Hangup
                    self._end(line, _ORIGINATE_REASONS.get(line.failed_reason,
                                                           "click_to_call.phone_unregistered"))
            return 1
        uid = msg.get("Uniqueid") or ""
        dest = msg.get("DestUniqueid") or ""
        if name in ("DialState", "DialBegin", "DialEnd") and not uid:
            line = self.live.get(dest)   # the Originate's own Dial of the agent's phone
            if line is None:
                return 0
            line.seen = True
            if name == "DialBegin" or msg.get("DialStatus") == "RINGING":
                self._move(line.channel_id, "ringing_agent")
            return 1
        line = self.live.get(uid)
        if line is None:
            return 0
        line.seen = True
        if name == "Newstate" and msg.get("ChannelState") == "5":
            self._move(line.channel_id, "ringing_agent")
        elif name == "DialBegin":
            line.agent_answered = True
            self._move(line.channel_id, "ringing_customer")
        elif name == "DialEnd":
            status = msg.get("DialStatus") or ""
            if status == "ANSWER":
                self._move(line.channel_id, "talking")
            else:
                line.customer_status = status
        elif name == "Hangup":
            try:
                cause = int(msg.get("Cause") or 0)
            except ValueError:
                cause = 0
            if line.agent_answered:
                reason = _CUSTOMER_STATUS.get(line.customer_status or "", "click_to_call.not_answered")
            else:
                reason = _AGENT_CAUSES.get(cause) or _ORIGINATE_REASONS.get(
                    line.failed_reason or -1, "click_to_call.agent_no_answer")
            if line.hangup_sent and not line.agent_answered:
                reason = "click_to_call.cancelled"
            self._end(line, reason)
        return 1

    def _end(self, line: Live, reason: str) -> None:
        """The call is over: ended when the customer talked (advance turns anything else into
        a failure with ``reason``)."""
        self.live.pop(line.channel_id, None)
        self._move(line.channel_id, "ended", reason)

    def _move(self, channel_id: str, state: str, reason: str | None = None) -> None:
        with self.Session() as s:
            c2c.advance(s, channel_id, state, reason=reason, clock=self.clock)
            s.commit()

    # --- recovery ---------------------------------------------------------------------------
    def settle_lost(self) -> int:
        """At start: this dialer's requests left going by a previous run end by their calls row
        (ended with it, else failed "lost"); those still up in the call log are left alone."""
        from models.schema.calls import Call
        from sqlalchemy import select
        settled = 0
        with self.Session() as s:
            for channel_id, _state, _updated in c2c.live_requests(s, self.dialer_id):
                if channel_id in self.live:
                    continue
                call = s.scalar(select(Call).where(Call.linkedid == channel_id))
                if call is not None and call.state != "ended":
                    continue
                talked = call is not None and call.answered_at is not None
                if talked:
                    c2c.advance(s, channel_id, "talking", clock=self.clock)
                c2c.advance(s, channel_id, "ended", reason="click_to_call.lost", clock=self.clock)
                settled += 1
            s.commit()
        return settled
