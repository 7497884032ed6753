"""Recordings (录音, T5): the rows, their links to the call, customer and contact record, who
may hear them, and retention.

Who may hear a recording: the agent of the call (its ``user_id``), or anybody whose role has
"may hear others' recordings" (managers and admins by default). The audio is kept for the
retention period (app setting ``dialfunnel.retention_days``, default 365, 0 = for ever); the
retention job (recordings/retention.py) removes the audio and keeps the row (``deleted_at``).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .clock import SYSTEM_CLOCK
from .errors import InvalidValue, NotFound, PermissionDenied
from .schema import AppSetting, ContactRecord, Customer, User
from .schema.recordings import DIRECTIONS, Recording

RETENTION_KEY = "dialfunnel.retention_days"
DEFAULT_RETENTION_DAYS = 365
# A contact record written this long after (or during) a call belongs to its recording.
LINK_WINDOW = dt.timedelta(hours=2)


# --- retention setting ------------------------------------------------------------------------
def retention_days(session: Session) -> int:
    """Days the audio is kept; 0 = for ever."""
    value = session.scalar(select(AppSetting.value).where(AppSetting.key == RETENTION_KEY))
    try:
        days = int(value) if value not in (None, "") else DEFAULT_RETENTION_DAYS
    except ValueError:
        days = DEFAULT_RETENTION_DAYS
    return max(0, days)


def expiry_for(created_at: dt.datetime, days: int) -> dt.datetime | None:
    return created_at + dt.timedelta(days=days) if days > 0 else None


def set_retention_days(session: Session, days: int) -> int:
    """Change the retention period; recordings that still have audio get the new expiry.
    Returns how many rows changed."""
    if not isinstance(days, int) or days < 0 or days > 36500:
        raise InvalidValue(field=RETENTION_KEY)
    row = session.get(AppSetting, RETENTION_KEY)
    if row is None:
        session.add(AppSetting(key=RETENTION_KEY, value=str(days)))
    else:
        row.value = str(days)
    session.flush()
    changed = 0
    for rec in session.scalars(select(Recording).where(Recording.deleted_at.is_(None))):
        new = expiry_for(rec.created_at, days)
        if new != rec.expires_at:
            rec.expires_at = new
            changed += 1
    session.flush()
    return changed


# --- creating and linking ---------------------------------------------------------------------
def customer_for_number(session: Session, number: str | None) -> int | None:
    """The one customer with this phone number (None when none or several match)."""
    from .customers import find_by_phone
    found = find_by_phone(session, number or "")
    return found[0].id if len(found) == 1 else None


def contact_record_for_call(session: Session, user_id: int | None, customer_id: int | None,
                            since: dt.datetime | None) -> int | None:
    """The agent's newest contact record on the customer written since the call began and not
    yet linked to a recording."""
    if not user_id or not customer_id or since is None:
        return None
    linked = select(Recording.contact_record_id).where(Recording.contact_record_id.is_not(None))
    return session.scalar(
        select(ContactRecord.id).where(ContactRecord.user_id == user_id,
                                       ContactRecord.customer_id == customer_id,
                                       ContactRecord.created_at >= since,
                                       ContactRecord.id.not_in(linked))
        .order_by(ContactRecord.created_at.desc(), ContactRecord.id.desc()).limit(1))


def create_recording(session: Session, *, uniqueid: str, file_key: str, fmt: str,
                     duration_ms: int, size_bytes: int, direction: str = "inbound",
                     linkedid: str | None = None, caller_number: str | None = None,
                     customer_id: int | None = None, contact_record_id: int | None = None,
                     user_id: int | None = None, started_at: dt.datetime | None = None,
                     clock=SYSTEM_CLOCK) -> Recording:
    """Add the row of a stored recording. The customer defaults to the one customer with the
    caller's number, the contact record to the agent's record written since the call began."""
    if direction not in DIRECTIONS:
        raise InvalidValue(field="direction")
    if not uniqueid:
        raise InvalidValue(field="uniqueid")
    now = clock.now()
    if customer_id is None and caller_number:
        customer_id = customer_for_number(session, caller_number)
    if contact_record_id is None:
        contact_record_id = contact_record_for_call(session, user_id, customer_id, started_at)
    rec = Recording(uniqueid=uniqueid[:64], linkedid=(linkedid or None) and linkedid[:64],
                    file_key=file_key, format=fmt, duration_ms=int(duration_ms),
                    size_bytes=int(size_bytes), direction=direction,
                    caller_number=(caller_number or None) and caller_number[:40],
                    customer_id=customer_id, contact_record_id=contact_record_id, user_id=user_id,
                    started_at=started_at, created_at=now,
                    expires_at=expiry_for(now, retention_days(session)))
    session.add(rec)
    session.flush()
    return rec


def by_uniqueid(session: Session, uniqueid: str) -> Recording | None:
    return session.scalar(select(Recording).where(Recording.uniqueid == uniqueid))


def link_contact_record(session: Session, record: ContactRecord,
                        window: dt.timedelta = LINK_WINDOW) -> int:
    """Attach a new contact record to the author's unlinked recordings of that customer made
    within ``window`` before it (call the moment a record is saved). Returns how many."""
    if not record.user_id:
        return 0
    result = session.execute(
        update(Recording)
        .where(Recording.user_id == record.user_id, Recording.contact_record_id.is_(None),
               or_(Recording.customer_id == record.customer_id, Recording.customer_id.is_(None)),
               Recording.created_at >= record.contacted_at - window,
               Recording.created_at <= record.contacted_at + dt.timedelta(minutes=5))
        .values(contact_record_id=record.id, customer_id=record.customer_id)
        .execution_options(synchronize_session="fetch"))
    session.flush()
    return result.rowcount or 0


def attach(session: Session, actor: User, recording_id: int, *, customer_id: int | None = None,
           contact_record_id: int | None = None) -> Recording:
    """Link a recording by hand (the agent of the call, or a manager)."""
    rec = session.get(Recording, recording_id)
    if rec is None:
        raise NotFound()
    if rec.user_id != actor.id and not actor.role.can_manage:
        raise PermissionDenied()
    if contact_record_id is not None:
        record = session.get(ContactRecord, contact_record_id)
        if record is None:
            raise NotFound("record.not_found")
        rec.contact_record_id = record.id
        rec.customer_id = record.customer_id
    elif customer_id is not None:
        if session.get(Customer, customer_id) is None:
            raise NotFound("customer.not_found", id=customer_id)
        rec.customer_id = customer_id
    session.flush()
    return rec


# --- who may hear -----------------------------------------------------------------------------
def can_hear(user: User, rec: Recording) -> bool:
    return rec.user_id == user.id or bool(user.role.can_hear_others_recordings)


def get_audible(session: Session, user: User, recording_id: int) -> Recording:
    """The recording if ``user`` may hear it; NotFound / PermissionDenied otherwise."""
    rec = session.get(Recording, recording_id)
    if rec is None:
        raise NotFound()
    if not can_hear(user, rec):
        raise PermissionDenied()
    return rec


def audible_filter(user: User):
    if user.role.can_hear_others_recordings:
        return Recording.id.is_not(None)
    return Recording.user_id == user.id


def recordings_of_customer(session: Session, user: User, customer_id: int,
                           limit: int = 10) -> list[Recording]:
    """The customer's recordings ``user`` may hear, newest first (open the customer first:
    this does not check that the user may see the customer)."""
    return list(session.scalars(
        select(Recording).where(Recording.customer_id == customer_id, audible_filter(user))
        .order_by(Recording.created_at.desc(), Recording.id.desc()).limit(limit)))


def recording_summary(rec: Recording, user: User | None = None) -> dict:
    """What pages and pops show of a recording (JSON-safe)."""
    return dict(id=rec.id, uniqueid=rec.uniqueid, created_at=rec.created_at.isoformat(),
                duration_ms=rec.duration_ms, direction=rec.direction, format=rec.format,
                has_audio=rec.deleted_at is None,
                deleted_at=rec.deleted_at.isoformat() if rec.deleted_at else None,
                contact_record_id=rec.contact_record_id, user_id=rec.user_id,
                may_hear=can_hear(user, rec) if user is not None else None)


# --- retention --------------------------------------------------------------------------------
def due_for_purge(session: Session, now: dt.datetime, limit: int = 500) -> list[Recording]:
    return list(session.scalars(
        select(Recording).where(Recording.deleted_at.is_(None), Recording.expires_at.is_not(None),
                                Recording.expires_at <= now)
        .order_by(Recording.expires_at, Recording.id).limit(limit)
        .with_for_update(skip_locked=True)))


def mark_deleted(session: Session, rec: Recording, now: dt.datetime) -> None:
    rec.deleted_at = now
    session.flush()
