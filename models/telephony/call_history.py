"""What people see of the call log (issue 13): a customer's calls with their recordings, and the
unanswered inbound calls to call back.

A customer's calls are shown to whoever may open the customer (models.crm.visibility); each
recording of a call (joined by ``linkedid``, see models/schema/calls.py) says whether the user
may hear it (models.crm.recordings.can_hear). Unanswered inbound calls are listed to managers
and admins, and to the operators of the customer the caller's number matched."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from models.crm.recordings import can_hear
from models.crm.visibility import get_visible_customer
from models.schema import Customer, CustomerOperator, Recording, User
from models.schema.calls import Call

# outcome: answered, abandoned (left the queue), no_answer, in_progress, or for a dialer call
# the attempt's status word (models.schema.campaigns.DIAL_OUTCOMES).


@dataclasses.dataclass
class HeardRecording:
    recording: Recording
    may_hear: bool          # the user may hear it and its audio is still kept


@dataclasses.dataclass
class CallEntry:
    call: Call
    agent: str | None       # the agent's full name
    outcome: str
    seconds: float          # talk time when answered, else how long the call lasted
    recordings: list[HeardRecording]


def outcome(call: Call) -> str:
    if call.direction == "dialer" and call.dial_status:
        return call.dial_status
    if call.answered_at is not None:
        return "answered"
    if call.state != "ended":
        return "in_progress"
    if call.abandoned:
        return "abandoned"
    return "no_answer"


def _seconds(call: Call) -> float:
    if call.answered_at is not None:
        return call.talk_seconds or 0.0
    if call.ended_at is not None:
        return max(0.0, (call.ended_at - call.started_at).total_seconds())
    return 0.0


_AGENT_NAMES = select(User.id, User.full_name).where(User.id.in_(bindparam("ids", expanding=True)))
_CALLS_RECORDINGS = (select(Recording)
                     .where(Recording.linkedid.in_(bindparam("linkedids", expanding=True)))
                     .order_by(Recording.created_at, Recording.id))


def _entries(session: Session, user: User, rows: list[Call]) -> list[CallEntry]:
    names = dict(session.execute(_AGENT_NAMES, {
        "ids": sorted({c.user_id for c in rows if c.user_id})}).all()) if rows else {}
    by_call: dict[str, list[HeardRecording]] = {}
    linkedids = [c.linkedid for c in rows]
    if linkedids:
        for rec in session.scalars(_CALLS_RECORDINGS, {"linkedids": linkedids}):
            by_call.setdefault(rec.linkedid, []).append(
                HeardRecording(rec, can_hear(user, rec) and rec.deleted_at is None))
    return [CallEntry(c, names.get(c.user_id), outcome(c), _seconds(c), by_call.get(c.linkedid, []))
            for c in rows]


def customer_calls(session: Session, user: User, customer_id: int,
                   limit: int = 50) -> list[CallEntry]:
    """The customer's calls, newest first; NotFound / NotYours when the user may not open it."""
    customer = get_visible_customer(session, user, customer_id)
    return calls_of(session, user, customer.id, limit=limit)


def calls_of(session: Session, user: User, customer_id: int, limit: int = 50) -> list[CallEntry]:
    """customer_calls for a caller that checked already that the user may open the customer
    (the screen pop's cards)."""
    rows = list(session.scalars(_customer_calls(limit), {"customer_id": customer_id}))
    return _entries(session, user, rows)


@functools.cache
def _customer_calls(limit: int):
    """calls_of's statement, built once per limit."""
    return (select(Call).where(Call.customer_id == bindparam("customer_id"))
            .order_by(Call.started_at.desc(), Call.id.desc()).limit(limit))


def unanswered_filter(user: User):
    """Inbound calls that ended with nobody of the company answering (abandoned in the queue,
    hung up in the IVR or after hours, left a voicemail), that ``user`` may see."""
    where = ((Call.direction == "inbound") & (Call.state == "ended")
             & Call.answered_at.is_(None))
    if user.sees_all:
        return where
    return where & exists().where(CustomerOperator.customer_id == Call.customer_id,
                                  CustomerOperator.user_id == user.id)


def unanswered_inbound(session: Session, user: User, *, since: dt.datetime | None = None,
                       limit: int = 100, offset: int = 0) -> list[tuple[CallEntry, str | None]]:
    """The unanswered inbound calls ``user`` may see, newest first, each with its customer's
    name (None when the number matched no customer)."""
    stmt = select(Call).where(unanswered_filter(user))
    if since is not None:
        stmt = stmt.where(Call.started_at >= since)
    rows = list(session.scalars(stmt.order_by(Call.started_at.desc(), Call.id.desc())
                                .offset(offset).limit(limit)))
    ids = sorted({c.customer_id for c in rows if c.customer_id})
    names = dict(session.execute(select(Customer.id, Customer.name)
                                 .where(Customer.id.in_(ids))).all()) if ids else {}
    return [(entry, names.get(entry.call.customer_id))
            for entry in _entries(session, user, rows)]
