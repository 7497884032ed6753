"""Contact records (联系记录), callbacks and reminders (C6)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.recordings import link_contact_record
from models.crm.stage_rules import rule_for
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import ContactRecord, Customer, Event, Order, OrderFollowUp, User

METHODS = ("phone", "visit", "email", "sms", "fax", "qq", "wechat", "other")


def _check(method: str, next_callback_at, remind: bool, remind_at):
    if method not in METHODS:
        raise InvalidValue(field="method")
    for value in (next_callback_at, remind_at):
        if value is not None and value.tzinfo is None:
            raise InvalidValue(field="next_callback_at")
    if remind and next_callback_at is None and remind_at is None:
        raise InvalidValue("record.reminder_needs_callback")


def add_contact_record(session: Session, actor: User, customer_id: int, *, content: str,
                       method: str = "phone", progress: str | None = None,
                       next_callback_at=None, remind: bool = False, remind_at=None,
                       contact_id: int | None = None, clock=SYSTEM_CLOCK) -> ContactRecord:
    """Log a contact; the customer's next callback becomes this record's, reserve or target
    customers get the contact mark "contacted", and the author's recording of the call it is
    about gets linked to it (models.crm.recordings.link_contact_record)."""
    _check(method, next_callback_at, remind, remind_at)
    customer = get_visible_customer(session, actor, customer_id)
    return write_contact_record(session, actor, customer, content=content, method=method,
                                progress=progress, next_callback_at=next_callback_at,
                                remind=remind, remind_at=remind_at, contact_id=contact_id,
                                clock=clock)


def write_contact_record(session: Session, actor: User | None, customer: Customer, *, content: str,
                         method: str = "phone", progress: str | None = None,
                         next_callback_at=None, remind: bool = False, remind_at=None,
                         contact_id: int | None = None, clock=SYSTEM_CLOCK) -> ContactRecord:
    """add_contact_record once the caller knows the actor may write on `customer`: also a
    call the actor really had with it (models.dialer.wrap_up), whoever's customer it is.
    `actor` None: the system logged it (an SMS reply from a number nobody texted, a received
    fax: models.fax.inbox)."""
    _check(method, next_callback_at, remind, remind_at)
    now = clock.now()
    record = ContactRecord(customer_id=customer.id, user_id=actor.id if actor else None,
                           contact_id=contact_id,
                           method=method, content=content or "", progress=progress,
                           contacted_at=now, next_callback_at=next_callback_at, remind=remind,
                           remind_at=(remind_at or next_callback_at) if remind else None,
                           created_at=now, updated_at=now)
    session.add(record)
    session.flush()
    link_contact_record(session, record)
    _refresh_customer(session, customer, now)
    return record


def write_system_record(session: Session, customer: Customer, *, content: str, progress: str,
                        method: str = "phone", clock=SYSTEM_CLOCK) -> ContactRecord:
    """A contact the system had with the customer (an outbound voice call): no author, and
    the customer's next callback carried over, so the record that is now the latest leaves
    the callbacks people planned as they were."""
    now = clock.now()
    record = ContactRecord(customer_id=customer.id, user_id=None, method=method, content=content,
                           progress=progress, contacted_at=now,
                           next_callback_at=customer.next_callback_at, remind=False,
                           created_at=now, updated_at=now)
    session.add(record)
    session.flush()
    _refresh_customer(session, customer, now)
    return record


def _editable_record(session: Session, actor: User, record_id: int) -> ContactRecord:
    record = session.get(ContactRecord, record_id)
    if record is None:
        raise NotFound("record.not_found")
    get_visible_customer(session, actor, record.customer_id)
    if record.user_id != actor.id and not actor.role.can_manage:
        raise PermissionDenied("record.not_author")
    return record


def update_contact_record(session: Session, actor: User, record_id: int, changes: dict, *,
                          clock=SYSTEM_CLOCK) -> ContactRecord:
    record = _editable_record(session, actor, record_id)
    allowed = {"method", "content", "progress", "next_callback_at", "remind", "remind_at"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidValue(field=", ".join(sorted(unknown)))
    merged = {f: changes.get(f, getattr(record, f)) for f in allowed}
    if merged["remind"] and merged["remind_at"] is None:
        merged["remind_at"] = merged["next_callback_at"]
    _check(merged["method"], merged["next_callback_at"], merged["remind"], merged["remind_at"])
    if not merged["remind"]:
        merged["remind_at"] = None
    if merged["remind_at"] != record.remind_at:
        record.reminded_at = None
    for field, value in merged.items():
        setattr(record, field, value)
    now = clock.now()
    record.updated_at = now
    session.flush()
    _refresh_customer(session, session.get(Customer, record.customer_id), now)
    return record


def delete_contact_record(session: Session, actor: User, record_id: int, *,
                          clock=SYSTEM_CLOCK) -> None:
    record = _editable_record(session, actor, record_id)
    customer = session.get(Customer, record.customer_id)
    session.delete(record)
    session.flush()
    _refresh_customer(session, customer, clock.now())


def _refresh_customer(session: Session, customer: Customer, now) -> None:
    """Keep the customer's last contact and next callback equal to its latest record's."""
    latest = session.execute(
        select(ContactRecord.contacted_at, ContactRecord.next_callback_at)
        .where(ContactRecord.customer_id == customer.id)
        .order_by(ContactRecord.contacted_at.desc(), ContactRecord.id.desc()).limit(1)).first()
    customer.last_contacted_at = latest.contacted_at if latest else None
    customer.next_callback_at = latest.next_callback_at if latest else None
    if latest and "contact" in rule_for(session, customer.stage).marks:
        customer.contact_mark = "contacted"
    customer.updated_at = now
    session.flush()


def emit_due_reminders(session: Session, *, clock=SYSTEM_CLOCK, limit: int = 500) -> int:
    """Turn reminders whose time has come (contact records and order follow-ups) into
    `reminder` events for their author."""
    now = clock.now()
    due = list(session.scalars(
        select(ContactRecord).where(ContactRecord.remind.is_(True),
                                    ContactRecord.remind_at <= now,
                                    ContactRecord.reminded_at.is_(None))
        .order_by(ContactRecord.remind_at).limit(limit).with_for_update(skip_locked=True)))
    for record in due:
        name = session.scalar(select(Customer.name).where(Customer.id == record.customer_id))
        session.add(Event(kind="reminder", user_id=record.user_id, created_at=now,
                          payload=dict(record_id=record.id, customer_id=record.customer_id,
                                       customer_name=name, progress=record.progress,
                                       callback_at=record.remind_at.isoformat())))
        record.reminded_at = now
    follow_ups = list(session.scalars(
        select(OrderFollowUp).where(OrderFollowUp.remind.is_(True),
                                    OrderFollowUp.remind_at <= now,
                                    OrderFollowUp.reminded_at.is_(None))
        .order_by(OrderFollowUp.remind_at).limit(limit).with_for_update(skip_locked=True)))
    for follow_up in follow_ups:
        order = session.get(Order, follow_up.order_id)
        name = session.scalar(select(Customer.name).where(Customer.id == order.customer_id))
        session.add(Event(kind="reminder", user_id=follow_up.user_id, created_at=now,
                          payload=dict(order_id=order.id, order_number=order.number,
                                       customer_id=order.customer_id, customer_name=name,
                                       progress=follow_up.content[:100],
                                       callback_at=follow_up.remind_at.isoformat())))
        follow_up.reminded_at = now
    session.flush()
    return len(due) + len(follow_ups)
