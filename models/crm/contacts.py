"""A customer's contacts (联系人)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue, NotFound, SharedEditForbidden
from models.org.masking import kept
from models.phones import normalize_phone
from models.schema import Contact, ContactRecord, Customer, User

CONTACT_FIELDS = ("name", "title", "department", "phone", "mobile", "email", "qq", "im", "note",
                  "birthday")
PHONE_FIELDS = {"phone": "phone_e164", "mobile": "mobile_e164"}


def _birthday(value) -> dt.date | None:
    """生日: a date (YYYY-MM-DD) from 1900 on, or nothing."""
    if isinstance(value, dt.date) or value is None:
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(field="birthday") from None
    if day.year < 1900:
        raise InvalidValue(field="birthday")
    return day


def _clean(field: str, value):
    if field == "birthday":
        return _birthday(value)
    text = str(value).strip() if value is not None else ""
    limit = Contact.__table__.c[field].type.length
    if limit and len(text) > limit:
        raise InvalidValue(field=field)
    return text or None


def _editable_customer(session: Session, actor: User, customer_id: int) -> Customer:
    """The customer, if the actor may change its contacts: they may open it and, when it is
    shared, their role may edit shared customers (as for the customer's own fields)."""
    customer = get_visible_customer(session, actor, customer_id)
    if customer.ownership == "shared" and not actor.role.can_edit_shared:
        raise SharedEditForbidden()
    return customer


def _values(data: dict) -> dict:
    unknown = set(data) - set(CONTACT_FIELDS)
    if unknown:
        raise InvalidValue(field=", ".join(sorted(unknown)))
    return {field: _clean(field, value) for field, value in data.items()}


def _set(contact: Contact, values: dict) -> None:
    """Write the values; phones are kept in E.164 too, so screen pops find the contact."""
    for field, value in values.items():
        setattr(contact, field, value)
    for field, e164 in PHONE_FIELDS.items():
        if field in values:
            setattr(contact, e164, normalize_phone(values[field]))


def add_contact(session: Session, actor: User, customer_id: int, data: dict, *,
                clock=SYSTEM_CLOCK) -> Contact:
    """Add a contact person to a customer the actor may open. Like editing the customer, a
    shared one needs the role's "may edit shared customers"."""
    customer = _editable_customer(session, actor, customer_id)
    values = _values(data)
    if not values.get("name"):
        raise InvalidValue(field="name")
    contact = Contact(customer_id=customer.id, created_at=clock.now())
    _set(contact, values)
    session.add(contact)
    session.flush()
    return contact


def get_contact(session: Session, actor: User, customer_id: int, contact_id: int) -> Contact:
    """One of the contacts of a customer the actor may open; a contact of another customer
    is not found through this customer's id."""
    customer = get_visible_customer(session, actor, customer_id)
    return _own_contact(session, customer, contact_id)


def _own_contact(session: Session, customer: Customer, contact_id: int) -> Contact:
    contact = contact_of(session, customer.id, contact_id)
    if contact is None:
        raise NotFound("contact.not_found", id=contact_id)
    return contact


def update_contact(session: Session, actor: User, customer_id: int, contact_id: int,
                   data: dict) -> Contact:
    """Change the given fields of one of the customer's contacts (same rules as adding;
    the name cannot be emptied). A contact of another customer is not found."""
    customer = _editable_customer(session, actor, customer_id)
    contact = _own_contact(session, customer, contact_id)
    data = {f: kept(actor, getattr(contact, f), v) if f in PHONE_FIELDS else v
            for f, v in data.items()}   # a masking user's form holds 138****8000
    values = _values(data)
    if "name" in values and not values["name"]:
        raise InvalidValue(field="name")
    _set(contact, values)
    session.flush()
    return contact


def delete_contact(session: Session, actor: User, customer_id: int, contact_id: int) -> int:
    """Delete one of the customer's contacts (same rules as adding). The contact records
    that named it are kept, text and all, without the link; returns how many there were."""
    customer = _editable_customer(session, actor, customer_id)
    contact = _own_contact(session, customer, contact_id)
    unlinked = session.execute(
        update(ContactRecord).where(ContactRecord.contact_id == contact.id)
        .values(contact_id=None)).rowcount
    session.delete(contact)
    session.flush()
    return unlinked


def contact_of(session: Session, customer_id: int, contact_id: int) -> Contact | None:
    """The contact if it belongs to that customer (a record names only its own contacts)."""
    contact = session.get(Contact, contact_id)
    return contact if contact is not None and contact.customer_id == customer_id else None
