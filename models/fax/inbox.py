"""Received faxes: filing, matching the sender, the inbox rules.

Who sees a received fax: the operators of its customer; a fax no customer matched (or whose
customer has no operator) is in the shared inbox, which managers see and assign to a user.
Whoever a fax is assigned or forwarded to sees it too. Managers and admins see all."""
from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.contact_records import write_contact_record
from models.crm.customers import ids_by_phone
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.phones import normalize_phone
from models.schema import Customer, CustomerOperator, Event, Fax, User

POP_KIND = "fax"


def match_sender(session: Session, number: str | None, station_id: str | None) -> int | None:
    """The one customer whose phone, mobile, fax or contact number is the caller ID, else the
    station id the fax machine sent (often the fax number); None when none or several match."""
    for raw in (number, station_id):
        found = ids_by_phone(session, raw, limit=2) if normalize_phone(raw) else []
        if len(found) == 1:
            return found[0]
    return None


def _operators(session: Session, customer_id: int | None) -> list[int]:
    if customer_id is None:
        return []
    return list(session.scalars(select(CustomerOperator.user_id)
                                .where(CustomerOperator.customer_id == customer_id)
                                .order_by(CustomerOperator.user_id)))


def _managers(session: Session) -> list[int]:
    from models.schema import Role
    return list(session.scalars(select(User.id).join(Role, User.role_id == Role.id)
                                .where(User.active.is_(True), Role.can_manage.is_(True))
                                .order_by(User.id)))


def fax_of_channel(session: Session, uniqueid: str) -> Fax | None:
    """The fax filed for this channel already, if any."""
    return session.scalar(select(Fax).where(Fax.uniqueid == uniqueid))


def file_received(session: Session, *, uniqueid: str, number: str | None,
                  station_id: str | None, pages: int, fax_status: str | None,
                  fax_error: str | None = None, fax_statusstr: str | None = None,
                  resolution: str | None = None, rate: int | None = None,
                  tiff_key: str | None = None, pdf_key: str | None = None,
                  clock=SYSTEM_CLOCK) -> tuple[Fax, bool]:
    """One row per received fax call (by the channel's uniqueid): (the fax, whether it is new).
    A failed reception is filed too (status, error, the pages that came); the customer's
    operators, or the managers when the fax is unmatched, get a pop; a matched fax is logged
    as a contact record (method fax) of the customer."""
    found = fax_of_channel(session, uniqueid)
    if found is not None:
        return found, False
    now = clock.now()
    e164 = normalize_phone(number)
    customer_id = match_sender(session, number, station_id)
    fax = Fax(direction="in", status="new", uniqueid=uniqueid, number=e164 or number,
              station_id=station_id, pages=pages, fax_status=fax_status, fax_error=fax_error,
              fax_statusstr=fax_statusstr, resolution=resolution, rate=rate, tiff_key=tiff_key,
              pdf_key=pdf_key, customer_id=customer_id, created_at=now, finished_at=now,
              subject="", note="", attempts=1, max_attempts=1)
    session.add(fax)
    session.flush()
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        record = write_contact_record(session, None, customer, method="fax",
                                      content=f"收到传真 {pages} 页（传真 #{fax.id}）", clock=clock)
        fax.contact_record_id = record.id
    _pop(session, fax, _operators(session, customer_id) or _managers(session), now)
    return fax, True


def _pop(session: Session, fax: Fax, user_ids: list[int], now) -> None:
    customer = session.get(Customer, fax.customer_id) if fax.customer_id else None
    payload = dict(fax_id=fax.id, pages=fax.pages, status=fax.fax_status,
                   customer_id=fax.customer_id, customer=customer.name if customer else None)
    for user_id in user_ids:
        session.add(Event(kind=POP_KIND, user_id=user_id, payload=payload, created_at=now))
    session.flush()


def shared_filter() -> ColumnElement[bool]:
    """Received faxes in the shared inbox: nobody's yet (no assignee, no customer operator)."""
    return (Fax.direction == "in") & Fax.user_id.is_(None) & ~exists().where(
        CustomerOperator.customer_id == Fax.customer_id)


def visible_filter(user: User) -> ColumnElement[bool]:
    """The faxes (either way) `user` may list and open."""
    if user.sees_all:
        return true()
    return or_(Fax.user_id == user.id,
               exists().where(CustomerOperator.customer_id == Fax.customer_id,
                              CustomerOperator.user_id == user.id))


def inbox(session: Session, user: User, *, box: str = "in", limit: int = 200) -> list[Fax]:
    """A page of faxes, newest first: box "in" (received), "out" (sent), "shared" (the
    unassigned inbox: managers only)."""
    if box == "shared":
        if not user.sees_all:
            raise PermissionDenied()
        where = shared_filter()
    elif box in ("in", "out"):
        where = (Fax.direction == box) & visible_filter(user)
    else:
        raise InvalidValue(field="box")
    return list(session.scalars(select(Fax).where(where)
                                .order_by(Fax.created_at.desc(), Fax.id.desc()).limit(limit)))


def unread_count(session: Session, user: User) -> int:
    from sqlalchemy import func
    return session.scalar(select(func.count(Fax.id)).where(
        Fax.direction == "in", Fax.status == "new", visible_filter(user))) or 0


def get_fax(session: Session, user: User, fax_id) -> Fax:
    try:
        fax_id = int(fax_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    fax = session.scalar(select(Fax).where(Fax.id == fax_id, visible_filter(user)))
    if fax is None:
        raise NotFound()
    return fax


def mark_read(session: Session, user: User, fax_id, *, clock=SYSTEM_CLOCK) -> Fax:
    fax = get_fax(session, user, fax_id)
    if fax.direction == "in" and fax.status == "new":
        fax.status, fax.read_at = "read", clock.now()
        session.flush()
    return fax


def assign(session: Session, actor: User, fax_id, user_id, *, clock=SYSTEM_CLOCK) -> Fax:
    """A manager files a received fax in a user's inbox (the shared inbox's work)."""
    if not actor.sees_all:
        raise PermissionDenied()
    fax = get_fax(session, actor, fax_id)
    target = _active_user(session, user_id)
    if fax.direction != "in":
        raise InvalidValue(field="fax")
    fax.user_id = target.id
    _pop(session, fax, [target.id], clock.now())
    return fax


def forward_to_user(session: Session, actor: User, fax_id, user_id, *, note: str = "",
                    clock=SYSTEM_CLOCK) -> Fax:
    """转发 to a colleague's inbox: a copy of the received fax (same files) that is theirs."""
    source = get_fax(session, actor, fax_id)
    target = _active_user(session, user_id)
    now = clock.now()
    copy = Fax(direction="in", status="new", number=source.number, station_id=source.station_id,
               customer_id=source.customer_id, subject=source.subject, pages=source.pages,
               resolution=source.resolution, rate=source.rate, fax_status=source.fax_status,
               fax_error=source.fax_error, fax_statusstr=source.fax_statusstr,
               tiff_key=source.tiff_key, pdf_key=source.pdf_key, user_id=target.id,
               source_id=source.id, note=(note or "")[:2000], attempts=0, max_attempts=0,
               created_at=now, finished_at=now)
    session.add(copy)
    session.flush()
    _pop(session, copy, [target.id], now)
    return copy


def _active_user(session: Session, user_id) -> User:
    try:
        user = session.get(User, int(user_id))
    except (TypeError, ValueError):
        user = None
    if user is None or not user.active:
        raise InvalidValue(field="user")
    return user
