"""The do-not-call list. A number is blocked when it is on the list (E.164) or its customer
carries the do_not_call flag. Anyone may add a number (a callee asked not to be called);
managers and admins remove numbers and import lists. Also dead numbers (mark_dead): never
dialled again either. This module sits below models.telephony (docs/architecture.md): a
wrap-up of any call may put its number here."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import InvalidValue, PermissionDenied
from models.phones import normalize_phone
from models.schema import CampaignLead, Customer, DoNotCall, User
from models.schema.campaigns import DEAD_OUTCOMES

MAX_REASON = 200


def dial_number(customer: Customer) -> str | None:
    """The number a campaign dials for this customer: mobile first, else the landline."""
    return customer.mobile_e164 or customer.phone_e164


def mark_dead(session: Session, number: str, status: str, customer: Customer | None = None) -> None:
    """The number is dead for good (status one of DEAD_OUTCOMES: 空号, 改号, 错号...): when it
    is the number `customer` is dialled on, the customer's number_status says so; queued leads
    with it become "dead" (leads a dialer has locked are left alone: waiting could deadlock with
    its insert of this number; their customer's number_status keeps them from being dialled)."""
    if status not in DEAD_OUTCOMES:
        raise ValueError(f"not a dead-number status: {status!r}")
    if customer is not None and dial_number(customer) == number:
        customer.number_status = status
    queued = (select(CampaignLead.id)
              .where(CampaignLead.number == number, CampaignLead.status == "queued")
              .with_for_update(skip_locked=True))
    session.execute(update(CampaignLead).where(CampaignLead.id.in_(queued))
                    .values(status="dead"))


def _number(raw) -> str:
    number = normalize_phone(raw) if isinstance(raw, str) else None
    if number is None:
        raise InvalidValue("dnc.bad_number", number=str(raw)[:40])
    return number


def _reason(reason) -> str | None:
    text = str(reason).strip() if reason is not None else ""
    if len(text) > MAX_REASON:
        raise InvalidValue("dnc.reason_too_long", max=MAX_REASON)
    return text or None


def _manager(actor: User) -> None:
    if not actor.role.can_manage:
        raise PermissionDenied()


def on_list(number: ColumnElement) -> ColumnElement[bool]:
    """SQL: the (E.164) number is on the list."""
    return exists().where(DoNotCall.number == number)


def not_blocked(number: ColumnElement, customer_flag: ColumnElement) -> ColumnElement[bool]:
    """SQL: the number is not on the list and its customer's flag is off."""
    return and_(customer_flag.is_(False), ~on_list(number))


def is_blocked(session: Session, number: str | None, customer: Customer | None = None) -> bool:
    if customer is not None and customer.do_not_call:
        return True
    e164 = normalize_phone(number) if number else None
    if e164 is None:
        return False
    return session.get(DoNotCall, e164) is not None


def _block_leads(session: Session, numbers: list[str]) -> None:
    if numbers:
        session.execute(update(CampaignLead)
                        .where(CampaignLead.number.in_(numbers), CampaignLead.status == "queued")
                        .values(status="dnc")
                        .execution_options(synchronize_session=False))


def add_number(session: Session, actor: User | None, number: str, *, reason: str | None = None,
               clock=SYSTEM_CLOCK) -> DoNotCall:
    """Put a number on the list (idempotent); queued leads with it become "dnc".
    `actor` None is the system (an opt-out pressed in an outbound IVR)."""
    e164, text = _number(number), _reason(reason)
    row = session.get(DoNotCall, e164)
    if row is None:
        row = DoNotCall(number=e164, reason=text, added_by_id=actor.id if actor else None,
                        added_at=clock.now())
        session.add(row)
        session.flush()
    _block_leads(session, [e164])
    return row


def remove_number(session: Session, actor: User, number: str) -> bool:
    """Take a number off the list; its "dnc" leads whose customer is not flagged are queued
    again. False when it was not listed."""
    _manager(actor)
    e164 = _number(number)
    row = session.get(DoNotCall, e164)
    if row is None:
        return False
    session.delete(row)
    flagged = select(Customer.id).where(Customer.do_not_call.is_(True))
    session.execute(update(CampaignLead)
                    .where(CampaignLead.number == e164, CampaignLead.status == "dnc",
                           CampaignLead.customer_id.not_in(flagged))
                    .values(status="queued")
                    .execution_options(synchronize_session=False))
    session.flush()
    return True


@dataclass
class ImportResult:
    added: int = 0
    already_listed: int = 0
    invalid: list[str] = field(default_factory=list)


MAX_IMPORT = 100_000
CHUNK = 500


def import_numbers(session: Session, actor: User, lines: Iterable[str], *,
                   reason: str | None = None, clock=SYSTEM_CLOCK) -> ImportResult:
    """Add many numbers (one per line); invalid lines are reported, not fatal."""
    _manager(actor)
    text = _reason(reason)
    result, numbers = ImportResult(), []
    for i, line in enumerate(lines):
        if i >= MAX_IMPORT:
            raise InvalidValue("dnc.too_many", max=MAX_IMPORT)
        raw = str(line).strip()
        if not raw:
            continue
        e164 = normalize_phone(raw)
        if e164 is None:
            result.invalid.append(raw[:40])
        else:
            numbers.append(e164)
    unique = list(dict.fromkeys(numbers))
    now = clock.now()
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start:start + CHUNK]
        listed = set(session.scalars(select(DoNotCall.number).where(DoNotCall.number.in_(chunk))))
        fresh = [n for n in chunk if n not in listed]
        session.add_all(DoNotCall(number=n, reason=text, added_by_id=actor.id, added_at=now)
                        for n in fresh)
        session.flush()
        _block_leads(session, fresh)
        result.added += len(fresh)
    result.already_listed = len(unique) - result.added
    return result
