"""A customer's contacts (联系人)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from .clock import SYSTEM_CLOCK
from .errors import InvalidValue, SharedEditForbidden
from .phones import normalize_phone
from .schema import Contact, User
from .visibility import get_visible_customer

CONTACT_FIELDS = ("name", "title", "department", "phone", "mobile", "email", "qq", "im", "note")
PHONE_FIELDS = {"phone": "phone_e164", "mobile": "mobile_e164"}


def _clean(field: str, value) -> str | None:
    text = str(value).strip() if value is not None else ""
    limit = Contact.__table__.c[field].type.length
    if limit and len(text) > limit:
        raise InvalidValue(field=field)
    return text or None


def add_contact(session: Session, actor: User, customer_id: int, data: dict, *,
                clock=SYSTEM_CLOCK) -> Contact:
    """Add a contact person to a customer the actor may open. Like editing the customer, a
    shared one needs the role's "may edit shared customers". Phones are kept in E.164 too,
    so screen pops find the contact's number."""
    unknown = set(data) - set(CONTACT_FIELDS)
    if unknown:
        raise InvalidValue(field=", ".join(sorted(unknown)))
    customer = get_visible_customer(session, actor, customer_id)
    if customer.ownership == "shared" and not actor.role.can_edit_shared:
        raise SharedEditForbidden()
    values = {field: _clean(field, value) for field, value in data.items()}
    if not values.get("name"):
        raise InvalidValue(field="name")
    contact = Contact(customer_id=customer.id, created_at=clock.now(), **values)
    for field, e164 in PHONE_FIELDS.items():
        setattr(contact, e164, normalize_phone(values.get(field)))
    session.add(contact)
    session.flush()
    return contact


def contact_of(session: Session, customer_id: int, contact_id: int) -> Contact | None:
    """The contact if it belongs to that customer (a record names only its own contacts)."""
    contact = session.get(Contact, contact_id)
    return contact if contact is not None and contact.customer_id == customer_id else None
