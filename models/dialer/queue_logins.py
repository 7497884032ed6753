"""Which inbound queues each agent is logged in to (agent_queues), and what Asterisk's queue
membership should be from it (``desired_members``, which agi.dialer.queue_members applies).

The queues an agent may log in to are the installation's ``queues`` setting, given by the
caller. A member is available in the queues only while the agent is ready; paused otherwise, so
a queue never offers a call to an agent the dialer could not give one to either. The pause's
Reason (Asterisk's PausedReason, what queue_log and a wallboard show) is the pause code's
Chinese label (``午饭``; the code itself when it has none), or the state (on_call, wrap_up)."""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.schema import AgentQueue, AgentState, PauseCode, User


class Member(NamedTuple):
    queue: str
    interface: str          # PJSIP/<extension>
    name: str               # MemberName: the agent's name
    paused: bool
    reason: str             # QueuePause Reason: the pause code's label, or the state


def interface_of(extension: str) -> str:
    return f"PJSIP/{extension}"


def queues_of(session: Session, user_id: int) -> list[str]:
    return list(session.scalars(select(AgentQueue.queue).where(AgentQueue.user_id == user_id)
                                .order_by(AgentQueue.queue)))


def replace_queues(session: Session, user_id: int, queues: list[str], now: dt.datetime) -> None:
    have = set(queues_of(session, user_id))
    gone = have - set(queues)
    if gone:
        session.execute(delete(AgentQueue).where(AgentQueue.user_id == user_id,
                                                 AgentQueue.queue.in_(gone))
                        .execution_options(synchronize_session=False))
    for name in sorted(set(queues) - have):
        session.add(AgentQueue(user_id=user_id, queue=name, since=now))
    session.flush()


def desired_members(session: Session) -> list[Member]:
    """Every queue membership Asterisk should have now, by (queue, interface)."""
    rows = session.execute(
        select(AgentQueue.queue, User.extension, User.full_name, User.username, AgentState.state,
               AgentState.reason, PauseCode.label_zh)
        .join(User, User.id == AgentQueue.user_id)
        .outerjoin(AgentState, AgentState.user_id == AgentQueue.user_id)
        .outerjoin(PauseCode, PauseCode.code == AgentState.reason)
        .where(User.active.is_(True), User.extension.is_not(None), User.extension != "")
        .order_by(AgentQueue.queue, User.extension)).all()
    out = []
    for queue, ext, full_name, username, state, reason, label in rows:
        state = state or "logged_out"
        if state == "logged_out":
            continue
        paused = state != "ready"
        why = (label or reason or "") if state == "paused" else ("" if not paused else state)
        out.append(Member(queue, interface_of(ext), full_name or username, paused, why))
    return out
