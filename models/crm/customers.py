"""Creating, editing, finding duplicates of and deleting customers (C1, C3, C4).

Customers the system creates itself (an IVR caller who asked for a callback:
models.telephony.ivr) have no actor: `created_by_id` is NULL and `source` says where they came
from; the stage and operator history rows get actor NULL, which those logs already read as "the
system". No built-in user exists: nothing could log in as it, and no report or user list shows
it as a person."""
from __future__ import annotations

from sqlalchemy import delete, func, or_, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from models.clock import SYSTEM_CLOCK
from models.crm.history import set_operators
from models.crm.ownership import check_new_customer
from models.crm.stage_rules import rule_for
from models.crm.stages import set_stage
from models.crm.visibility import get_visible_customer
from models.db import among, key_chunks
from models.errors import DuplicateName, FieldLocked, InvalidValue, PermissionDenied, SharedEditForbidden
from models.fields import CUSTOMER_DATA_FIELDS, PHONE_COLUMNS
from models.names import name_key
from models.org.masking import kept
from models.phones import is_valid_phone, normalize_phone
from models.schema import Contact, ContactRecord, Customer, Document, Opportunity, Order, User

BOOL_TRUE = {"1", "true", "yes", "y", "是", "on"}
BOOL_FALSE = {"0", "false", "no", "n", "否", "off", ""}


def clean_value(field: str, value):
    """Coerce one form/import value for a customer data field."""
    kind = CUSTOMER_DATA_FIELDS.get(field)
    if kind is None:
        raise InvalidValue("customer.unknown_field", field=field)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value or "").strip().lower()
        if text in BOOL_TRUE:
            return True
        if text in BOOL_FALSE:
            return False
        raise InvalidValue(field=field)
    if value is None:
        return None
    text = str(value).strip()
    limit = Customer.__table__.c[field].type.length
    if limit and len(text) > limit:
        raise InvalidValue(field=field)
    if kind == "phone" and text and not is_valid_phone(text):
        raise InvalidValue("customer.bad_phone", field=field, value=text)
    if field == "time_zone":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidValue(field=field) from None
    return text or None


def _apply(customer: Customer, values: dict) -> None:
    for field, value in values.items():
        setattr(customer, field, value)
        if field in PHONE_COLUMNS:
            setattr(customer, PHONE_COLUMNS[field], normalize_phone(value))


def _name_taken(session: Session, name: str, except_id: int | None = None) -> bool:
    """Another customer has this name, up to width, case and spaces (models.names)."""
    stmt = select(Customer.id).where(Customer.name_key == name_key(name))
    if except_id is not None:
        stmt = stmt.where(Customer.id != except_id)
    return session.scalar(stmt) is not None


def _flush_unique_name(session: Session, name: str) -> None:
    """Flush inside a savepoint: a concurrent insert of the same name becomes DuplicateName."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise DuplicateName(name=name) from None


def create_customer(session: Session, actor: User | None, data: dict, *,
                    stage: str | None = "reserve", operator_ids: list[int] | None = None,
                    ownership: str = "personal", clock=SYSTEM_CLOCK) -> Customer:
    """Add a customer. `ownership` personal (default operator: the actor), collaborative
    (operator_ids, 2+) or shared; who may be the operator is models.crm.ownership's
    check_new_customer, as for an import. Duplicate names are refused. `actor` None: the
    system creates it (see the module's docstring); only a shared customer then."""
    if actor is None and ownership != "shared":
        raise PermissionDenied()
    stage, operators = check_new_customer(session, actor, stage=stage, ownership=ownership,
                                          operator_ids=operator_ids)
    values = {field: clean_value(field, value) for field, value in data.items()}
    name = values.get("name")
    if not name:
        raise InvalidValue("customer.name_required")
    if _name_taken(session, name):
        raise DuplicateName(name=name)
    now = clock.now()
    customer = Customer(ownership="shared", created_by_id=actor.id if actor else None,
                        created_at=now,
                        updated_at=now, contact_mark="not_contacted",
                        tracking_mark="tracking", time_zone="Asia/Shanghai", do_not_call=False,
                        number_status="unknown")
    _apply(customer, values)
    # Operators given before the first flush: the history then shows no earlier mode, as an
    # import's does. A concurrent insert of the same name still becomes DuplicateName.
    try:
        with session.begin_nested():
            session.add(customer)
            set_stage(session, customer, stage, actor=actor, kind="create", now=now)
            set_operators(session, customer, actor, "create", operators, now)
    except IntegrityError:
        raise DuplicateName(name=name) from None
    return customer


def update_customer(session: Session, actor: User, customer_id: int, changes: dict,
                    *, clock=SYSTEM_CLOCK) -> Customer:
    """Save edited fields. Only fields the stage rule lists may change (admins excepted);
    shared customers need the role's "may edit shared customers"."""
    customer = get_visible_customer(session, actor, customer_id)
    if customer.ownership == "shared" and not actor.role.can_edit_shared:
        raise SharedEditForbidden()
    changes = {f: kept(actor, getattr(customer, f), v) if f in PHONE_COLUMNS else v
               for f, v in changes.items()}   # a masking user's form holds 138****8000
    values = {field: clean_value(field, value) for field, value in changes.items()}
    changed = {f: v for f, v in values.items() if getattr(customer, f) != v}
    if not changed:
        return customer
    if not actor.role.is_admin:
        allowed = set(rule_for(session, customer.stage).editable_fields)
        locked = sorted(set(changed) - allowed)
        if locked:
            raise FieldLocked(fields=", ".join(locked))
    if "name" in changed:
        if not changed["name"]:
            raise InvalidValue("customer.name_required")
        if _name_taken(session, changed["name"], except_id=customer.id):
            raise DuplicateName(name=changed["name"])
    _apply(customer, changed)
    customer.updated_at = clock.now()
    _flush_unique_name(session, customer.name)
    return customer


def find_duplicates(session: Session, *, name: str | None = None, keyword: str | None = None,
                    phone: str | None = None, limit: int = 20) -> list[dict]:
    """Customers that clash with a name, keyword or phone being typed (C4).

    Only id, name and stage are returned, so a clash never reveals another agent's data."""
    conditions = []
    if name and name.strip():
        conditions.append(Customer.name_key == name_key(name))
    if keyword and keyword.strip():
        conditions.append(Customer.keyword == keyword.strip())
    e164 = normalize_phone(phone)
    if e164:
        conditions += [Customer.phone_e164 == e164, Customer.mobile_e164 == e164,
                       Customer.fax_e164 == e164]
        contact_hit = select(Contact.customer_id).where(
            or_(Contact.phone_e164 == e164, Contact.mobile_e164 == e164))
        conditions.append(Customer.id.in_(contact_hit))
    if not conditions:
        return []
    rows = session.execute(select(Customer.id, Customer.name, Customer.stage, Customer.ownership)
                           .where(or_(*conditions)).order_by(Customer.id).limit(limit))
    return [dict(id=r.id, name=r.name, stage=r.stage, ownership=r.ownership) for r in rows]


def find_by_phone(session: Session, raw: str, *, operators: bool = True) -> list[Customer]:
    """Customers whose phone, mobile, fax or a contact's number is `raw` (screen pops, IVR).

    A union of five indexed lookups: as one OR over the columns and the contacts PostgreSQL
    scanned the whole table (19 ms at 300k customers; 0.14 ms this way). `operators=False`:
    their operator links are read only if used (one query fewer for the IVR's lookups)."""
    ids = _phone_union(raw)
    if ids is None:
        return []
    stmt = select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id)
    if not operators:
        stmt = stmt.options(lazyload(Customer.operator_links))
    return list(session.scalars(stmt))


def _phone_union(raw: str | None):
    e164 = normalize_phone(raw)
    if not e164:
        return None
    return ids_with_number(e164)


def ids_with_number(e164):
    """The ids of the customers with number `e164` (a value or a bind parameter); on the
    tables, so that a statement around it may run as Core."""
    customers, contacts = Customer.__table__.c, Contact.__table__.c
    return union(
        select(customers.id).where(customers.phone_e164 == e164),
        select(customers.id).where(customers.mobile_e164 == e164),
        select(customers.id).where(customers.fax_e164 == e164),
        select(contacts.customer_id).where(contacts.phone_e164 == e164),
        select(contacts.customer_id).where(contacts.mobile_e164 == e164))


def ids_by_phones(session: Session, e164s) -> dict[str, list[int]]:
    """find_by_phone for many E.164 numbers at once: number → its customers' ids (ascending)."""
    numbers = sorted({n for n in e164s if n})
    found = []
    for chunk in key_chunks(session, numbers):
        found += session.execute(by_phones_query(lambda column: among(session, column, chunk)))
    return phone_owners(numbers, found)


def by_phones_query(matching):
    """ids_by_phones' query: (number, customer id) of every customer and contact number that
    ``matching(column)`` selects."""
    return union(*(select(column, owner).where(matching(column))
                   for column, owner in ((Customer.phone_e164, Customer.id),
                                         (Customer.mobile_e164, Customer.id),
                                         (Customer.fax_e164, Customer.id),
                                         (Contact.phone_e164, Contact.customer_id),
                                         (Contact.mobile_e164, Contact.customer_id))))


def phone_owners(numbers, rows) -> dict[str, list[int]]:
    """ids_by_phones' answer from its query's rows."""
    found: dict[str, set[int]] = {n: set() for n in numbers}
    for number, customer_id in rows:
        found[number].add(customer_id)
    return {n: sorted(ids) for n, ids in found.items()}


def ids_by_phone(session: Session, raw: str | None, limit: int = 2) -> list[int]:
    """The ids of find_by_phone's customers (at most ``limit``), without loading them."""
    ids = _phone_union(raw)
    if ids is None:
        return []
    return list(session.scalars(select(ids.subquery().c[0]).limit(limit)))


DEPENDENTS = {"contacts": Contact, "contact_records": ContactRecord,
              "opportunities": Opportunity, "orders": Order, "documents": Document}


def count_dependents(session: Session, customer_id: int) -> dict[str, int]:
    """What deleting the customer would remove, for the confirmation dialog."""
    return {name: session.scalar(select(func.count()).select_from(model)
                                 .where(model.customer_id == customer_id))
            for name, model in DEPENDENTS.items()}


def delete_customer(session: Session, actor: User, customer_id: int) -> dict[str, int]:
    """Delete a customer and everything hanging off it; returns what was removed."""
    if not actor.role.can_delete:
        raise PermissionDenied()
    customer = get_visible_customer(session, actor, customer_id)
    removed = count_dependents(session, customer.id)
    session.expunge(customer)
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.flush()
    removed["customers"] = 1
    return removed
