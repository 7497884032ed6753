"""The agent's call controls (issue 14): what may be asked of the current call, queued for the
dialer process's console runner (agi/console/commands.py), which runs each over AMI.

  request_command (web) --> "queued" --claim_commands (runner, conditional UPDATE)--> "running"
                        --> finish_command: "done" | "failed" (the PBX's message)

The agent's current call is the call log's (models/telephony/calls.py): a call that is up in
which the agent's leg is still up. What the call is doing now (held, muted, consulting a
transfer target) follows from the controls already done on it, in order (``call_status``): the
web refuses at once what cannot apply, before anything is queued. One control at a time per
call: a second one is refused while the first is queued or running.

Transfer targets (``args``: ``kind`` and ``target``) are resolved here into the dialplan's
context and exten (dialplan/extensions_dialfunnel.conf):
  extension  an active user's extension             dialfunnel-transfer,<ext>
  user       a colleague by user id or name         dialfunnel-transfer,<his ext>
  queue      one of TRANSFER_QUEUES                 dialfunnel-transfer,<name>
  number     an outside number, E.164, not on the   dialfunnel-transfer,<digits>
             do-not-call list

Three-way (T6, agi/console/conference.py): ``conference`` rings a party (a colleague, the
agent's manager: kind ``manager``, or an outside number) into the call's room
(room_for_call: the call's id) and, once answered, moves the agent and the customer in;
``add_party`` rings one more; ``drop_party`` kicks a party (``args["leg"]``: the id of one of
the call's live legs, ``parties``). While in the room, hold and transfers are refused; the
agent's hang-up only leaves the room (dialplan DF_CONF_AGENT_LEAVES).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.dialer.dnc import is_blocked
from models.errors import DomainError
from models.phones import normalize_phone
from models.schema import Event, User
from models.schema.call_commands import CallCommand
from models.schema.calls import Call, CallLeg
from models.telephony.supervision import may_supervise

KIND = "call_bar"                 # the events (admin/events stream) the call bar listens to
TRANSFER_CONTEXT = "dialfunnel-transfer"
HOLD_CONTEXT = "dialfunnel-hold"
TRANSFER_QUEUES = ("sales",)      # queues of dialplan/queues_dialfunnel.conf an agent may pick
TARGET_KINDS = ("extension", "user", "queue", "number")
TRANSFERS = ("blind_transfer", "attended_transfer")
PARTY_KINDS = ("extension", "user", "manager", "number")     # who may join a three-way call
PARTY_ADDS = ("conference", "add_party")
ACTIONS = ("hangup", "hold", "resume", "mute", "unmute", "blind_transfer",
           "attended_transfer", "complete_transfer", "cancel_transfer",
           "conference", "add_party", "drop_party")
NOT_IN_ROOM = ("hold", "resume", "blind_transfer", "attended_transfer", "conference")
OPEN_STATES = ("queued", "running")
# A control nobody took by then (no dialer process) or that never finished (the runner died
# mid-command; a three-way party rings at most a minute) no longer blocks the next one.
QUEUED_LIMIT = dt.timedelta(seconds=30)
RUNNING_LIMIT = dt.timedelta(seconds=120)


@dataclasses.dataclass
class CallStatus:
    """The agent's current call as the controls see it."""
    call: Call
    agent_leg: CallLeg
    customer_leg: CallLeg | None
    held: bool = False
    muted: bool = False
    consulting: bool = False
    in_room: bool = False                  # a three-way call (its room) is up
    pending: CallCommand | None = None     # a control queued or running


def current_leg(session: Session, user_id: int) -> CallLeg | None:
    """The agent's leg of the agent's live call (the newest, if the log shows more)."""
    return session.scalars(
        select(CallLeg).join(Call, Call.id == CallLeg.call_id)
        .where(CallLeg.user_id == user_id, CallLeg.role == "agent", CallLeg.ended_at.is_(None),
               Call.state != "ended")
        .order_by(CallLeg.started_at.desc(), CallLeg.id.desc()).limit(1)).first()


def call_status(session: Session, user_id: int) -> CallStatus | None:
    """None when the agent has no live call."""
    leg = current_leg(session, user_id)
    if leg is None:
        return None
    call = session.get(Call, leg.call_id)
    customer = session.scalars(
        select(CallLeg).where(CallLeg.call_id == call.id, CallLeg.ended_at.is_(None),
                              CallLeg.role.in_(("customer", "caller")))
        .order_by(CallLeg.id).limit(1)).first()
    status = CallStatus(call, leg, customer)
    for command in session.scalars(select(CallCommand).where(
            CallCommand.call_id == call.id, CallCommand.user_id == user_id,
            CallCommand.state.in_(("done",) + OPEN_STATES)).order_by(CallCommand.id)):
        if command.state != "done":
            status.pending = status.pending or command
            continue
        _apply(status, command.action)
    return status


def _apply(status: CallStatus, action: str) -> None:
    if action in ("hold", "resume"):
        status.held = action == "hold"
    elif action in ("mute", "unmute"):
        status.muted = action == "mute"
    elif action == "attended_transfer":
        status.consulting = True
    elif action in ("complete_transfer", "cancel_transfer"):
        status.consulting = False
    elif action == "conference":
        status.in_room = True


def _refusal(status: CallStatus, action: str) -> str | None:
    """Why ``action`` cannot apply to the call now (message key), or None."""
    if status.call.state != "up":
        return "call_bar.not_up"
    if status.pending is not None:
        return "call_bar.pending"
    if action == "hangup":
        # during a consultation the agent's hang-up would complete the transfer (Asterisk's
        # atxfer): the agent completes or cancels it by name instead
        return "call_bar.consulting" if status.consulting else None
    if status.customer_leg is None:
        return "call_bar.no_customer"
    if status.in_room and action in NOT_IN_ROOM:
        return "call_bar.in_conference"
    rules = {
        "hold": (not status.held and not status.consulting, "call_bar.already_held"),
        "resume": (status.held, "call_bar.not_held"),
        "mute": (not status.muted, "call_bar.already_muted"),
        "unmute": (status.muted, "call_bar.not_muted"),
        "blind_transfer": (not status.held and not status.consulting, "call_bar.held_or_consulting"),
        "attended_transfer": (not status.held and not status.consulting,
                              "call_bar.held_or_consulting"),
        "complete_transfer": (status.consulting, "call_bar.not_consulting"),
        "cancel_transfer": (status.consulting, "call_bar.not_consulting"),
        "conference": (not status.held and not status.consulting, "call_bar.held_or_consulting"),
        "add_party": (status.in_room, "call_bar.not_in_conference"),
        "drop_party": (status.in_room, "call_bar.not_in_conference"),
    }
    allowed, key = rules[action]
    return None if allowed else key


def allowed_actions(status: CallStatus | None) -> list[str]:
    """The controls the call bar enables."""
    if status is None:
        return []
    return [a for a in ACTIONS if _refusal(status, a) is None]


def _colleague(session: Session, user: User, target: str) -> User:
    text = (target or "").strip()
    if not text:
        raise DomainError("call_bar.target_required")
    query = select(User).where(User.active.is_(True))
    if text.isdigit():
        query = query.where(or_(User.id == int(text), User.extension == text))
    else:
        query = query.where(or_(User.full_name == text, User.username == text))
    found = session.scalars(query.order_by(User.id)).all()
    if not found:
        raise DomainError("call_bar.unknown_colleague", name=text)
    if len(found) > 1:
        raise DomainError("call_bar.ambiguous_colleague", name=text)
    return found[0]


def resolve_target(session: Session, user: User, kind: str | None, target: str | None) -> dict:
    """A transfer target the dialplan can reach: {kind, context, exten, label, user_id}."""
    text = (target or "").strip()
    if kind not in TARGET_KINDS:
        raise DomainError("call_bar.bad_target_kind")
    if not text:
        raise DomainError("call_bar.target_required")
    if kind in ("extension", "user"):
        if kind == "extension":
            colleague = session.scalars(select(User).where(
                User.extension == text, User.active.is_(True))).first()
            if colleague is None:
                raise DomainError("call_bar.unknown_extension", extension=text)
        else:
            colleague = _colleague(session, user, text)
        if colleague.id == user.id:
            raise DomainError("call_bar.transfer_to_self")
        if not colleague.extension:
            raise DomainError("call_bar.colleague_no_extension", name=colleague.full_name)
        return dict(kind=kind, context=TRANSFER_CONTEXT, exten=colleague.extension,
                    label=f"{colleague.full_name} ({colleague.extension})", user_id=colleague.id)
    if kind == "queue":
        if text not in TRANSFER_QUEUES:
            raise DomainError("call_bar.unknown_queue", queue=text)
        return dict(kind=kind, context=TRANSFER_CONTEXT, exten=text, label=text,
                    user_id=None)
    e164 = normalize_phone(text)
    if e164 is None:
        raise DomainError("call_bar.bad_number", number=text)
    if is_blocked(session, e164):
        raise DomainError("call_bar.do_not_call")
    return dict(kind=kind, context=TRANSFER_CONTEXT, exten=e164.lstrip("+"), label=e164,
                user_id=None, number=e164)


def team_manager(session: Session, user: User) -> User | None:
    """The agent's manager: the first manager (not an admin) who may supervise the agent."""
    for candidate in session.scalars(select(User).where(User.active.is_(True), User.id != user.id)
                                     .order_by(User.id)):
        if (candidate.role.can_manage and not candidate.role.is_admin
                and may_supervise(session, candidate, user.id)):
            return candidate
    return None


def resolve_party(session: Session, user: User, kind: str | None, target: str | None) -> dict:
    """A third party of a three-way call: {kind, exten, label, user_id}; ``exten`` is a
    colleague's extension or an outside number's digits (conference.party_channel)."""
    if kind not in PARTY_KINDS:
        raise DomainError("call_bar.bad_party_kind")
    if kind != "manager":
        return resolve_target(session, user, kind, target)
    manager = team_manager(session, user)
    if manager is None:
        raise DomainError("call_bar.no_manager")
    if not manager.extension:
        raise DomainError("call_bar.colleague_no_extension", name=manager.full_name)
    return dict(kind=kind, context=TRANSFER_CONTEXT, exten=manager.extension,
                label=f"{manager.full_name} ({manager.extension})", user_id=manager.id)


def parties(session: Session, status: CallStatus) -> list[dict]:
    """Who is on the call now (its live legs in the call log but a Local channel's far half),
    the agent first."""
    legs = session.scalars(select(CallLeg).where(CallLeg.call_id == status.call.id,
                                                 CallLeg.ended_at.is_(None),
                                                 CallLeg.role != "local").order_by(CallLeg.id))
    found = []
    for leg in legs:
        user = session.get(User, leg.user_id) if leg.user_id else None
        found.append(dict(leg=leg.id, channel=leg.channel, role=leg.role, user_id=leg.user_id,
                          name=user.full_name if user else None,
                          me=leg.id == status.agent_leg.id,
                          customer=status.customer_leg is not None
                          and leg.id == status.customer_leg.id))
    return sorted(found, key=lambda p: not p["me"])


def expire_stale(session: Session, call_id: int, *, clock=SYSTEM_CLOCK) -> int:
    """Fail the call's controls left queued or running past their limit; how many."""
    now = clock.now()
    stale = list(session.scalars(select(CallCommand).where(
        CallCommand.call_id == call_id, or_(
            (CallCommand.state == "queued") & (CallCommand.created_at < now - QUEUED_LIMIT),
            (CallCommand.state == "running") & (CallCommand.created_at < now - RUNNING_LIMIT)))))
    for command in stale:
        finish_command(session, command, "timed out: is the dialer process running?", clock=clock)
    return len(stale)


def request_command(session: Session, user: User, action: str, args: dict | None = None, *,
                    clock=SYSTEM_CLOCK) -> CallCommand:
    """Queue a control of the user's current call, or refuse (DomainError) queueing nothing."""
    if action not in ACTIONS:
        raise DomainError("call_bar.unknown_action")
    status = call_status(session, user.id)
    if status is None:
        raise DomainError("call_bar.no_call")
    if status.pending is not None and expire_stale(session, status.call.id, clock=clock):
        status = call_status(session, user.id)
    refusal = _refusal(status, action)
    if refusal:
        raise DomainError(refusal)
    resolved: dict = {}
    if action in TRANSFERS:
        args = args or {}
        resolved = resolve_target(session, user, args.get("kind"), args.get("target"))
    elif action in PARTY_ADDS:
        args = args or {}
        resolved = resolve_party(session, user, args.get("kind"), args.get("target"))
    elif action == "drop_party":        # by the leg's id (the web never sees channel names)
        leg = str((args or {}).get("leg") or "")
        found = [p for p in parties(session, status) if not p["me"] and str(p["leg"]) == leg]
        if not found:
            raise DomainError("call_bar.not_a_party")
        resolved = dict(channel=found[0]["channel"])
    if action in PARTY_ADDS + ("drop_party",):
        resolved["room"] = str(status.call.id)
    resolved.update(agent_channel=status.agent_leg.channel,
                    customer_channel=status.customer_leg.channel if status.customer_leg else None,
                    held=status.held)
    if action in ("complete_transfer", "cancel_transfer"):
        consult = session.scalars(select(CallCommand).where(
            CallCommand.call_id == status.call.id, CallCommand.action == "attended_transfer",
            CallCommand.state == "done").order_by(CallCommand.id.desc()).limit(1)).first()
        resolved["target"] = {k: consult.args.get(k) for k in ("label", "exten", "user_id")}
    command = CallCommand(user_id=user.id, call_id=status.call.id, action=action,
                          args=resolved, state="queued", created_at=clock.now())
    session.add(command)
    session.flush()
    publish(session, command, clock=clock)
    return command


def claim_commands(session: Session, runner: str, *, limit: int = 20) -> list[CallCommand]:
    """For the runner: the queued controls, each claimed by this runner only (queued →
    running by a conditional UPDATE, so two runners never both run one). The caller commits
    at once, then runs them."""
    ids = session.scalars(select(CallCommand.id).where(CallCommand.state == "queued")
                          .order_by(CallCommand.id).limit(limit)).all()
    claimed = []
    for command_id in ids:
        won = session.execute(
            update(CallCommand).where(CallCommand.id == command_id, CallCommand.state == "queued")
            .values(state="running", runner=runner)
            .execution_options(synchronize_session=False)).rowcount == 1
        if won:
            claimed.append(session.get(CallCommand, command_id, populate_existing=True))
    return claimed


def finish_command(session: Session, command: CallCommand, reason: str | None = None, *,
                   clock=SYSTEM_CLOCK) -> None:
    """running → done, or failed with the PBX's ``reason``; the agent's bar hears of it."""
    command.state = "failed" if reason else "done"
    command.reason = reason[:500] if reason else None
    command.finished_at = clock.now()
    session.flush()
    publish(session, command, clock=clock)


def publish(session: Session, command: CallCommand, *, clock=SYSTEM_CLOCK) -> None:
    session.add(Event(kind=KIND, user_id=command.user_id, created_at=clock.now(), payload=dict(
        command_id=command.id, call_id=command.call_id, action=command.action,
        state=command.state, reason=command.reason, target=command.args.get("label"))))
