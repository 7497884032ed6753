"""The wrap-up (话后处理) of every answered call (issue 13): the agent who took it says what it
came to (a disposition, models.telephony.dispositions), may type a note and, for a callback,
picks when.

``apply_wrap_up`` is the one path for every call, the dialer's included
(models.dialer.wrap_up calls it when the agent leaves wrap-up):
- the call's row gets the disposition and the note (once: a second wrap-up of one call is
  refused; a call with no customer keeps only these);
- the call's customer gets ONE contact record (method phone, progress = the disposition's
  label, content = a short summary of the call and the note, the callback with a reminder),
  linked to the call's recording(s) (by linkedid; models.crm.recordings);
- the disposition's actions are done (do-not-call, dead number, stage change or suggestion);
- a dialer call makes a shared customer the agent's when the disposition ``claims`` (the
  daily quota applies like a claim; a refusal loses nothing and is returned). A colleague's
  personal customer stays his: the record is written all the same, and the call stays in
  the customer's call history for the owner too (models.telephony.call_history).

Pending wrap-ups: the calls a user answered that ended with no disposition. A dialer call the
agent is still on or wrapping up in the dialer panel is not pending (the panel wraps it up);
once the agent left the panel's wrap-up without one (logged out), it is."""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.contact_records import write_contact_record
from models.crm.ownership import claim
from models.crm.recordings import link_call_recordings
from models.errors import DomainError, InvalidValue, NotFound, PermissionDenied
from models.schema import AgentState, ContactRecord, Customer, Disposition, User
from models.schema.calls import Call
from models.telephony.dispositions import apply_actions, claims, get_active

MAX_NOTE = 2000
DIRECTION_TEXT = {"inbound": "呼入", "dialer": "外呼", "manual": "手动外呼",
                  "click_to_call": "点击拨号", "internal": "内部"}


@dataclasses.dataclass
class WrapUpDone:
    disposition: Disposition
    record: ContactRecord | None = None
    customer_id: int | None = None
    claimed: bool = False
    claim_refused: DomainError | None = None
    stage_made: str | None = None
    stage_refused: DomainError | None = None
    suggestion: tuple[str, str] | None = None   # (promote | demote, stage)


def length_text(seconds: float | None) -> str:
    seconds = int(round(seconds or 0))
    return f"{seconds // 60}分{seconds % 60:02d}秒"


def call_summary(call: Call) -> str:
    return f"{DIRECTION_TEXT.get(call.direction, '')}通话，{length_text(call.talk_seconds)}。"


def outside_number(call: Call) -> str | None:
    """The number of the other party: the caller of an inbound call, else the number dialled."""
    return call.from_number if call.direction == "inbound" else call.to_number


def check_wrap_up(session: Session, code: str | None, note: str | None,
                  callback_at: dt.datetime | None, clock=SYSTEM_CLOCK) -> tuple[Disposition, str]:
    """The disposition row and the cleaned note, or the refusal (nothing is written)."""
    disposition = get_active(session, code)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise InvalidValue("wrap_up.note_too_long", max=MAX_NOTE)
    if disposition.callback_required and callback_at is None:
        raise InvalidValue("wrap_up.callback_needs_time", label=disposition.label_zh)
    if callback_at is not None and callback_at <= clock.now():
        raise InvalidValue("wrap_up.callback_in_past")
    return disposition, note


def _mark_call(session: Session, call_filter, disposition: Disposition, note: str) -> int:
    """Write the disposition on the call row(s) not yet wrapped up; how many were."""
    return session.execute(
        update(Call).where(call_filter, Call.disposition.is_(None))
        .values(disposition=disposition.code, note=note or None)
        .execution_options(synchronize_session="fetch")).rowcount


def apply_wrap_up(session: Session, user: User, disposition: Disposition, note: str, *,
                  callback_at: dt.datetime | None, customer: Customer | None,
                  number: str | None, summary: str, linkedid: str | None,
                  dialer: bool, clock=SYSTEM_CLOCK) -> WrapUpDone:
    """Everything a checked wrap-up does (see the module docstring) but writing the call row,
    which the caller did."""
    done = WrapUpDone(disposition, customer_id=customer.id if customer is not None else None)
    if customer is not None:
        done.record = write_contact_record(
            session, user, customer, content=summary + (note and "\n" + note), method="phone",
            progress=disposition.label_zh, next_callback_at=callback_at,
            remind=callback_at is not None, clock=clock)
        if linkedid:
            link_call_recordings(session, done.record, linkedid)
        if dialer and claims(disposition) and customer.ownership == "shared":
            try:
                with session.begin_nested():
                    claim(session, user, customer.id, clock=clock)
                done.claimed = True
            except DomainError as exc:
                done.claim_refused = exc
    applied = apply_actions(session, user, disposition, number=number, customer=customer,
                            clock=clock)
    done.stage_made, done.stage_refused = applied.stage_made, applied.stage_refused
    done.suggestion = applied.suggestion
    return done


def wrap_up_dialer_call(session: Session, user: User, disposition: Disposition, note: str, *,
                        attempt_id: int, customer: Customer | None, number: str,
                        summary: str, callback_at: dt.datetime | None,
                        clock=SYSTEM_CLOCK) -> WrapUpDone:
    """The dialer panel's wrap-up of a dial attempt (models.dialer.wrap_up): the attempt's call
    row (when the call log has it) gets the disposition and note."""
    linkedid = session.scalar(select(Call.linkedid).where(Call.attempt_id == attempt_id).limit(1))
    _mark_call(session, Call.attempt_id == attempt_id, disposition, note)
    return apply_wrap_up(session, user, disposition, note, callback_at=callback_at,
                         customer=customer, number=number, summary=summary, linkedid=linkedid,
                         dialer=True, clock=clock)


def _in_dialer_wrap_up(session: Session, user_id: int):
    """The dial attempt the agent is on or wrapping up in the dialer panel (or None)."""
    return session.scalar(select(AgentState.attempt_id).where(
        AgentState.user_id == user_id, AgentState.state.in_(("on_call", "wrap_up"))))


def _pending_filter(session: Session, user: User):
    where = [Call.user_id == user.id, Call.answered_at.is_not(None), Call.state == "ended",
             Call.disposition.is_(None), Call.direction != "internal"]
    busy = _in_dialer_wrap_up(session, user.id)
    if busy is not None:
        where.append((Call.attempt_id.is_(None)) | (Call.attempt_id != busy))
    return where


def pending_wrap_ups(session: Session, user: User, limit: int = 100) -> list[Call]:
    """The calls `user` answered that still wait for a wrap-up, oldest first."""
    return list(session.scalars(select(Call).where(*_pending_filter(session, user))
                                .order_by(Call.ended_at, Call.id).limit(limit)))


def pending_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(Call)
                          .where(*_pending_filter(session, user)))


def call_to_wrap_up(session: Session, user: User, call_id: int) -> Call:
    """The call `user` may wrap up now, or the refusal."""
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound("wrap_up.call_not_found")
    if call.user_id != user.id:
        raise PermissionDenied("wrap_up.not_your_call")
    if call.answered_at is None or call.state != "ended":
        raise DomainError("wrap_up.not_ended")
    if call.disposition is not None:
        raise DomainError("wrap_up.already_done")
    if call.attempt_id is not None and call.attempt_id == _in_dialer_wrap_up(session, user.id):
        raise DomainError("wrap_up.in_dialer_panel")
    return call


def wrap_up_call(session: Session, user: User, call_id: int, disposition: str | None,
                 note: str | None = "", callback_at: dt.datetime | None = None,
                 clock=SYSTEM_CLOCK) -> WrapUpDone:
    """The wrap-up of one answered call by the agent who took it (see the module docstring)."""
    call = call_to_wrap_up(session, user, call_id)
    row, note = check_wrap_up(session, disposition, note, callback_at, clock)
    if _mark_call(session, Call.id == call.id, row, note) != 1:
        raise DomainError("wrap_up.already_done")     # a second submit won the race
    customer = session.get(Customer, call.customer_id) if call.customer_id else None
    return apply_wrap_up(session, user, row, note, callback_at=callback_at, customer=customer,
                         number=outside_number(call), summary=call_summary(call),
                         linkedid=call.linkedid, dialer=call.direction == "dialer", clock=clock)
