"""Runs the call bar's controls (models/telephony/call_commands.py) over AMI.

    runner = CommandRunner(sessionmaker, ami_client, runner_id="host-1")
    runner.run_once()      # from the dialer process's loop (agi/dialer/engine.py)

Each queued control is claimed by one runner (a conditional UPDATE), committed as "running",
then run; it ends "done", or "failed" with the PBX's message (or ours: a busy colleague). A new
control is one function registered in ``ACTIONS`` (``@action("name")``): it gets the AMI client
and the command's ``args`` (the agent's and the customer's channels, the resolved target) and
raises ``Refused`` or AMIActionError to fail.

What each control does (the captures in tests/fixtures/asterisk/captures-2026-12):
  hangup     ends the call for the agent: Hangup of the agent's channel. The customer's side
             then ends with it (the bridge breaks), a transfer already made goes on; a
             customer on hold is hung up too (no bridge to break).
  hold       Redirect of the customer's channel into dialfunnel-hold (MusicOnHold); the agent's
             leg stays in the dialplan (Dial option g, dialplan/README.md).
  resume     the AMI Bridge action: the agent's and the customer's channels bridged again.
  mute       MuteAudio of the agent's channel, direction in (the customer no longer hears the
             agent); unmute the same with State off.
  blind_transfer     ExtensionState first for a colleague (busy → refused, nothing moves), then
             BlindTransfer of the agent's channel: its bridge peer, the customer, runs
             dialfunnel-transfer,<exten>; the agent's channel is hung up by the PBX.
  attended_transfer  the same check, then Atxfer of the agent's channel to the target: the
             customer hears music while the agent consults.
  complete_transfer  the agent's channel hangs up: the target takes the agent's place.
  cancel_transfer    CancelAtxfer: the agent is back with the customer, the target hung up.
  conference the same check, then the party is rung into the call's room (Originate,
             agi/console/conference.py); the command stays "running" while it rings (the
             runner looks again each round): answered → the agent and the customer are moved
             into the room (Redirect with ExtraChannel), done; not answered → failed with the
             reason, nothing moved: the call goes on as before. A call gone meanwhile: failed,
             the party hung up.
  add_party  the same check, then one more party rung into the room; done once answered.
  drop_party ConfbridgeKick of the party's channel (the dialplan hangs it up).

With several Asterisk servers (agi.dialer.servers) a control goes to the server of the agent's
phone, where the agent's calls are.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select

from agi.ami.client import AMIActionError, AMIError, Originate
from agi.console import conference as rooms
from agi.dialer.servers import PBX, ami_for_extension
from models.clock import SYSTEM_CLOCK
from models.telephony import call_commands
from models.schema import User
from models.telephony.call_commands import HOLD_CONTEXT

log = logging.getLogger(__name__)

AMI_TIMEOUT = 5.0
STATUS_CONTEXT = "dialfunnel-hints"   # where the agents' hints are (ExtensionState)
IDLE = "0"


class Refused(Exception):
    """A control the PBX must not run (the reason is shown to the agent)."""


@dataclass
class Ringing:
    """A party being rung: the control ends when the Originate's answer comes; ``then`` runs
    once the party answered."""
    party: Originate
    then: Callable[[], None] | None = None


# OriginateResponse's Reason (Asterisk's AST_CONTROL_* codes)
NO_ANSWER = {"0": "failed", "1": "hung up", "3": "no answer", "5": "busy", "8": "congested"}


ACTIONS: dict[str, Callable] = {}


def action(name: str):
    def register(fn):
        ACTIONS[name] = fn
        return fn
    return register


def _send(ami, name: str, headers: list[tuple[str, object]]):
    return ami.send_action(name, headers, timeout=AMI_TIMEOUT, check=True)


@action("hangup")
def hangup(ami, args: dict) -> None:
    _send(ami, "Hangup", [("Channel", args["agent_channel"])])
    if args.get("held") and args.get("customer_channel"):   # not left alone with the music
        _send(ami, "Hangup", [("Channel", args["customer_channel"])])


@action("hold")
def hold(ami, args: dict) -> None:
    _send(ami, "Redirect", [("Channel", args["customer_channel"]), ("Context", HOLD_CONTEXT),
                            ("Exten", "s"), ("Priority", 1)])


@action("resume")
def resume(ami, args: dict) -> None:
    _send(ami, "Bridge", [("Channel1", args["agent_channel"]),
                          ("Channel2", args["customer_channel"])])


def _mute(ami, args: dict, state: str) -> None:
    _send(ami, "MuteAudio", [("Channel", args["agent_channel"]), ("Direction", "in"),
                             ("State", state)])


action("mute")(lambda ami, args: _mute(ami, args, "on"))
action("unmute")(lambda ami, args: _mute(ami, args, "off"))


def _check_free(ami, args: dict) -> None:
    """A colleague must be idle before the customer is sent to him."""
    if not args.get("user_id"):
        return
    state = _send(ami, "ExtensionState", [("Exten", args["exten"]), ("Context", STATUS_CONTEXT)])
    if (state.get("Status") or "").strip() != IDLE:
        raise Refused(f"{args['label']}: {state.get('StatusText') or 'busy'}")


@action("blind_transfer")
def blind_transfer(ami, args: dict) -> None:
    _check_free(ami, args)
    _send(ami, "BlindTransfer", [("Channel", args["agent_channel"]),
                                 ("Context", args["context"]), ("Exten", args["exten"])])


@action("attended_transfer")
def attended_transfer(ami, args: dict) -> None:
    _check_free(ami, args)
    _send(ami, "Atxfer", [("Channel", args["agent_channel"]), ("Exten", args["exten"]),
                          ("Context", args["context"])])


@action("complete_transfer")
def complete_transfer(ami, args: dict) -> None:
    _send(ami, "Hangup", [("Channel", args["agent_channel"])])


@action("cancel_transfer")
def cancel_transfer(ami, args: dict) -> None:
    _send(ami, "CancelAtxfer", [("Channel", args["agent_channel"])])


def _ring(ami, args: dict, then=None) -> Ringing:
    _check_free(ami, args)
    return Ringing(rooms.add_party(ami, args["room"], args["exten"]), then)


@action("conference")
def conference(ami, args: dict) -> Ringing:
    return _ring(ami, args, lambda: rooms.start_conference(
        ami, args["agent_channel"], args["customer_channel"], args["room"]))


@action("add_party")
def add_party(ami, args: dict) -> Ringing:
    return _ring(ami, args)


@action("drop_party")
def drop_party(ami, args: dict) -> None:
    rooms.drop_party(ami, args["room"], args["channel"])


class CommandRunner:
    def __init__(self, sessionmaker, ami, *, runner_id: str, clock=SYSTEM_CLOCK,
                 servers: list[PBX] | None = None):
        self.servers = servers or [PBX("default", ami)]
        self.ami = self.servers[0].ami
        self.Session, self.runner_id, self.clock = sessionmaker, runner_id, clock
        self.ringing: dict[int, tuple[Ringing, dict, object]] = {}   # command id → the party rung, its AMI

    def run_once(self) -> int:
        """Claim the queued controls and run them, end those whose party answered or not;
        returns how many were claimed."""
        with self.Session() as s:
            for command_id, (ringing, args, ami) in list(self.ringing.items()):
                if ringing.party.done:
                    del self.ringing[command_id]
                    reason = self._answered(ringing, args, ami)
                    command = s.get(call_commands.CallCommand, command_id)
                    call_commands.finish_command(s, command, reason, clock=self.clock)
                    s.commit()
            claimed = call_commands.claim_commands(s, self.runner_id)
            s.commit()
            for command in claimed:
                args = dict(command.args)
                ami = self._ami_of(s, command.user_id)
                reason = self._run(command.action, args, ami)
                if isinstance(reason, Ringing):
                    self.ringing[command.id] = (reason, args, ami)
                    continue
                call_commands.finish_command(s, command, reason, clock=self.clock)
                s.commit()
            return len(claimed)

    def _ami_of(self, session, user_id: int):
        """The AMI client of the agent's server."""
        if len(self.servers) == 1:
            return self.ami
        return ami_for_extension(self.servers, session.scalar(
            select(User.extension).where(User.id == user_id)))

    def _answered(self, ringing: Ringing, args: dict, ami) -> str | None:
        try:
            event = ringing.party.result(0)
        except AMIError as error:
            return f"{args.get('label')}: {error}"
        if event.get("Response") != "Success":
            why = NO_ANSWER.get((event.get("Reason") or "").strip(), "not answered")
            return f"{args.get('label')}: {why}"
        if ringing.then is None:
            return None
        reason = self._run(lambda _ami, a: ringing.then(), args, ami)
        if reason and event.get("Channel"):       # not left alone in the room
            try:
                ami.hangup(event["Channel"], timeout=AMI_TIMEOUT)
            except AMIError as error:
                log.warning("three-way: hanging up %s: %s", event["Channel"], error)
        return reason

    def _run(self, name, args: dict, ami) -> str | Ringing | None:
        """None when done, a Ringing while a party rings, else why it failed."""
        fn = name if callable(name) else ACTIONS.get(name)
        if fn is None:
            return f"unknown control {name}"
        try:
            ringing = fn(ami, args)
            if isinstance(ringing, Ringing):
                return ringing
        except Refused as refused:
            return str(refused)
        except AMIActionError as error:
            return _named(error.response.get("Message") or "refused by the PBX", args)
        except rooms.ConferenceError as error:
            return _named(str(error), args)
        except AMIError as error:
            log.warning("call control %s: %s", name, error)
            return _named(f"PBX: {error}", args)
        return None


def _named(reason: str, args: dict) -> str:
    """The PBX's message with the channels called by their part (a channel's name may hold the
    customer's number, which the agent's role may not see)."""
    for key, word in (("customer_channel", "customer"), ("agent_channel", "agent")):
        if args.get(key):
            reason = reason.replace(args[key], word)
    return reason


def run_forever(runner: CommandRunner, stop, *, interval: float = 0.2) -> None:
    """The dialer process's console loop: the controls queued are run within ``interval``."""
    while not stop.wait(interval):
        try:
            runner.run_once()
        except Exception:
            log.exception("call controls: a round failed")
