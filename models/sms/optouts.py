"""Numbers opted out of SMS (退订): a reply with an opt-out word, or an admin/manager."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.dialer.dnc import is_blocked
from models.errors import InvalidValue, PermissionDenied
from models.phones import normalize_phone
from models.schema import Customer, SmsOptOut, User


def _number(raw) -> str:
    number = normalize_phone(raw) if isinstance(raw, str) else None
    if number is None:
        raise InvalidValue("sms.bad_number", number=str(raw)[:40])
    return number


def is_opted_out(session: Session, number: str) -> bool:
    return session.get(SmsOptOut, number) is not None


def opt_out(session: Session, number: str, *, reason: str | None = None, actor: User | None = None,
            message_id: int | None = None, clock=SYSTEM_CLOCK) -> SmsOptOut:
    """Idempotent. `actor` None: the number's own reply."""
    e164 = _number(number)
    row = session.get(SmsOptOut, e164)
    if row is None:
        row = SmsOptOut(number=e164, reason=(reason or "")[:200] or None, message_id=message_id,
                        added_by_id=actor.id if actor else None, added_at=clock.now())
        session.add(row)
        session.flush()
    return row


def opt_in(session: Session, actor: User, number: str) -> bool:
    if not actor.role.can_manage:
        raise PermissionDenied()
    return bool(session.execute(delete(SmsOptOut).where(SmsOptOut.number == _number(number)))
                .rowcount)


def list_opt_outs(session: Session, limit: int = 500) -> list[SmsOptOut]:
    return list(session.scalars(select(SmsOptOut).order_by(SmsOptOut.added_at.desc())
                                .limit(limit)))


def refusal(session: Session, number: str, customer: Customer | None) -> str | None:
    """Why `number` may not be texted: "sms.opted_out", "sms.do_not_call", or None."""
    if is_opted_out(session, number):
        return "sms.opted_out"
    if is_blocked(session, number, customer):
        return "sms.do_not_call"
    return None
