"""Finding a customer by what a person types: a name, a keyword, a contact person, or a phone
number in any format (138 0013 8000, +86 138…, 0573-12345678; a part of one works too).

`customer_search(q)` is the one WHERE clause for it: the list search box and the quick search
of the top bar both use it, always inside what the user may see (the caller adds that)."""
from __future__ import annotations

import re

from sqlalchemy import ColumnElement, exists, or_, select

from models.crm.visibility import visible_filter
from models.phones import normalize_phone
from models.schema import Contact, Customer

PHONE_TEXT = re.compile(r"[\d\s+\-().（）－]+")
MIN_PHONE_DIGITS = 4
MAX_QUERY = 100


def phone_digits(q: str) -> set[str]:
    """Digit strings to look for in stored E.164 numbers when `q` is a phone number or a part
    of one (empty when it is not): its E.164 form, and its digits as typed with and without
    the leading trunk 0 (0573-… is stored as +86573…)."""
    if not PHONE_TEXT.fullmatch(q):
        return set()
    raw = re.sub(r"\D", "", q)
    e164 = normalize_phone(q)
    found = {raw, raw.lstrip("0"), (e164 or "").lstrip("+")}
    return {d for d in found if len(d) >= MIN_PHONE_DIGITS}


def customer_search(q: str) -> ColumnElement[bool]:
    """Customers whose name, keyword or contact person contains `q`, or one of whose
    numbers (the customer's, its contacts') contains the digits of `q`."""
    q = q.strip()[:MAX_QUERY]
    text = [Customer.name.contains(q, autoescape=True),
            Customer.keyword.contains(q, autoescape=True),
            Customer.contact_person.contains(q, autoescape=True),
            exists().where(Contact.customer_id == Customer.id,
                           Contact.name.contains(q, autoescape=True))]
    digits = phone_digits(q)
    if not digits:
        return or_(*text)
    columns = (Customer.phone_e164, Customer.mobile_e164, Customer.fax_e164)
    numbers = [column.contains(d, autoescape=True) for column in columns for d in digits]
    contact = exists().where(Contact.customer_id == Customer.id, or_(*(
        column.contains(d, autoescape=True)
        for column in (Contact.phone_e164, Contact.mobile_e164) for d in digits)))
    return or_(*text, *numbers, contact)


def quick_search(session, user, q: str, *, limit: int = 50) -> tuple[list[Customer], bool]:
    """The top bar's search: customers `user` may see matching `q`, by name; (rows, more)."""
    q = q.strip()
    if not q:
        return [], False
    rows = list(session.scalars(select(Customer).where(visible_filter(user), customer_search(q))
                                .order_by(Customer.name, Customer.id).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
