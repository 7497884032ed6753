"""Leaving wrap-up after a dialer call (T4 → C6): the call leaves its trace on the customer.

The agent picks what the call came to (agent_states.DISPOSITIONS), may type a note, and for
"call back later" picks when: one contact record is written for the attempt's customer (who,
when, how long, the disposition, the note; models.crm.recordings links the call's recording to
it), its callback becomes the customer's callback date with a reminder, and a shared customer
may be claimed by the agent (the daily quota applies: a refused claim does not lose the
record). Then the agent moves on (ready, paused or logged out) through agent_states."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.contact_records import write_contact_record
from models.crm.ownership import claim
from models.dialer.agent_states import DISPOSITIONS, current, set_state
from models.errors import DomainError, InvalidValue
from models.schema import Campaign, ContactRecord, Customer, DialAttempt, User

MAX_NOTE = 2000
# The disposition as the contact record's progress (跟踪进程): data in the company's language.
DISPOSITION_TEXT = {"interested": "有意向", "not_interested": "没有意向", "callback": "稍后回访",
                    "wrong_person": "找错人", "other": "其他"}


def call_summary(attempt: DialAttempt, campaign_name: str | None) -> str:
    seconds = int(round(attempt.talk_seconds or 0))
    length = f"{seconds // 60}分{seconds % 60:02d}秒"
    where = f"外呼活动「{campaign_name}」" if campaign_name else "外呼"
    return f"{where}通话，{length}。"


def finish_wrap_up(session: Session, user: User, state: str, *, disposition: str | None,
                   note: str = "", callback_at: dt.datetime | None = None,
                   claim_customer: bool = False, reason: str | None = None,
                   clock=SYSTEM_CLOCK) -> dict:
    """The agent leaves wrap-up to `state`. Returns what was done: `record` (the contact
    record or None), `claimed` (bool) and `claim_refused` (a DomainError or None)."""
    seen = current(session, user.id)
    done = dict(record=None, claimed=False, claim_refused=None)
    attempt = session.get(DialAttempt, seen.attempt_id) \
        if seen.state == "wrap_up" and seen.attempt_id else None
    customer = session.get(Customer, attempt.customer_id) \
        if attempt is not None and attempt.customer_id else None
    if seen.state == "wrap_up" and state != "logged_out":
        if disposition not in DISPOSITIONS:
            raise DomainError("agent_state.disposition_required")
        note = (note or "").strip()
        if len(note) > MAX_NOTE:
            raise InvalidValue("wrap_up.note_too_long", max=MAX_NOTE)
        if disposition == "callback" and callback_at is None:
            raise InvalidValue("wrap_up.callback_needs_time")
        if callback_at is not None and callback_at <= clock.now():
            raise InvalidValue("wrap_up.callback_in_past")
        if customer is not None:
            done["record"] = _record(session, user, attempt, customer, disposition, note,
                                     callback_at, clock)
            if claim_customer and customer.ownership == "shared":
                try:
                    with session.begin_nested():
                        claim(session, user, customer.id, clock=clock)
                    done["claimed"] = True
                except DomainError as exc:
                    done["claim_refused"] = exc
    set_state(session, user, state, reason=reason, disposition=disposition, clock=clock)
    return done


def _record(session: Session, user: User, attempt: DialAttempt, customer: Customer,
            disposition: str, note: str, callback_at, clock) -> ContactRecord:
    name = session.get(Campaign, attempt.campaign_id).name if attempt.campaign_id else None
    content = call_summary(attempt, name) + (note and "\n" + note)
    return write_contact_record(session, user, customer, content=content, method="phone",
                                progress=DISPOSITION_TEXT[disposition],
                                next_callback_at=callback_at, remind=callback_at is not None,
                                clock=clock)
