"""Leaving wrap-up after a dialer call (T4 → C6): the call leaves its trace on the customer.

The agent picks what the call came to (a disposition, models.telephony.dispositions), may type
a note, and for a callback picks when; models.telephony.wrap_ups.apply_wrap_up does the rest,
as for every answered call: the attempt's call row gets the disposition and note, one contact
record on the attempt's customer (linked to the call's recording), the callback with a
reminder, the disposition's actions, and the claim of a shared customer (automatic unless the
disposition does not claim: wrong person, do-not-call, dead number; the daily quota applies
and a refused claim does not lose the record). Then the agent moves on (ready, paused or
logged out) through agent_states; logging out skips the wrap-up (the call is then pending on
the agent's list of wrap-ups)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.dialer.agent_states import current, set_state
from models.schema import Campaign, Customer, DialAttempt, User
from models.telephony.wrap_ups import WrapUpDone, check_wrap_up, length_text, wrap_up_dialer_call


def call_summary(attempt: DialAttempt, campaign_name: str | None) -> str:
    where = f"外呼活动「{campaign_name}」" if campaign_name else "外呼"
    return f"{where}通话，{length_text(attempt.talk_seconds)}。"


def finish_wrap_up(session: Session, user: User, state: str, *, disposition: str | None,
                   note: str = "", callback_at: dt.datetime | None = None,
                   reason: str | None = None, clock=SYSTEM_CLOCK) -> WrapUpDone | None:
    """The agent leaves wrap-up to `state`. Returns what the wrap-up did (None when there was
    none: not in wrap-up, or logging out)."""
    seen = current(session, user.id)
    done = None
    if seen.state == "wrap_up" and state != "logged_out":
        row, note = check_wrap_up(session, disposition, note, callback_at, clock)
        attempt = session.get(DialAttempt, seen.attempt_id) if seen.attempt_id else None
        if attempt is not None:
            customer = session.get(Customer, attempt.customer_id) if attempt.customer_id else None
            name = session.get(Campaign, attempt.campaign_id).name if attempt.campaign_id else None
            done = wrap_up_dialer_call(session, user, row, note, attempt_id=attempt.id,
                                       customer=customer, number=attempt.number,
                                       summary=call_summary(attempt, name),
                                       callback_at=callback_at, clock=clock)
    set_state(session, user, state, reason=reason, disposition=disposition, clock=clock)
    return done
