"""Recordings (录音, T5): the rows, their links to the call, dialer attempt, agent, customer and
contact record, who may hear them, and retention.

Links come from two paths that complement each other (agi/ami/listener.py): the dialplan's
recording_done handler, which stores the recording first, and the AMI listener at the
channel's Hangup, which fills what is still missing (complete_links). A contact record belongs
to a recording by one rule (``belongs``), applied when the recording is stored and when the
record is written (add_contact_record → link_contact_record).

Who may hear a recording: the agent of the call (its ``user_id``), an agent whose phone had a
leg in the call (the call log: a transfer's or a three-way room's colleague), or anybody whose
role has "may hear others' recordings" (managers and admins by default); a recording marked as
a training example (issue 16), everybody. The audio is kept for the
retention period (app setting ``dialfunnel.retention_days``, default 365, 0 = for ever); the
retention job (recordings/retention.py) removes the audio and keeps the row (``deleted_at``).
"""
from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, object_session

from models.clock import SYSTEM_CLOCK
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import AppSetting, ContactRecord, Customer, DialAttempt, TrainingExample, User
from models.schema.calls import Call, CallLeg
from models.schema.recordings import DIRECTIONS, Recording

RETENTION_KEY = "dialfunnel.retention_days"
DEFAULT_RETENTION_DAYS = 365
# A contact record its agent writes during a call or this long after belongs to its recording.
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


# --- kinds -----------------------------------------------------------------------------------
def kind_for_context(context: str | None, *, outbound: tuple[str, ...] = ("dialfunnel-outbound",),
                     agent: tuple[str, ...] = ("dialfunnel-trunk-out",)) -> str:
    """The kind (DIRECTIONS) of a recorded channel by its dialplan context, for the AMI listener;
    the dialplan names it itself to recording_done."""
    context = context or ""
    if context.startswith(tuple(agent)):
        return "agent"
    if context.startswith(tuple(outbound)):
        return "outbound"
    return "inbound"


# --- creating and linking ---------------------------------------------------------------------
def customer_for_number(session: Session, number: str | None) -> int | None:
    """The one customer with this phone number (None when none or several match)."""
    from models.crm.customers import ids_by_phone
    found = ids_by_phone(session, number, limit=2)
    return found[0] if len(found) == 1 else None


def attempt_for_call(session: Session, uniqueid: str | None, attempt_id: int | None = None,
                     campaign_id: int | None = None) -> DialAttempt | None:
    """The dialer attempt of a recorded channel: DIALFUNNEL_ATTEMPT (when it belongs to
    DIALFUNNEL_CAMPAIGN, if that is given), else the attempt whose Originate ChannelId is the
    channel's Uniqueid (the dialer's channel records the call)."""
    if attempt_id:
        attempt = session.get(DialAttempt, attempt_id)
        if attempt is not None and campaign_id in (None, attempt.campaign_id):
            return attempt
    if uniqueid:
        return session.scalar(select(DialAttempt).where(DialAttempt.channel_id == uniqueid[:64]))
    return None


def belongs(session: Session, rec: Recording, record: ContactRecord,
            window: dt.timedelta = LINK_WINDOW) -> bool:
    """The one rule linking a contact record to a recording (both directions): the call's agent
    wrote it on the call's customer (or, while the recording has no customer, on a customer
    with the call's number) between the call's start and ``window`` after the recording was
    stored."""
    if not rec.user_id or rec.user_id != record.user_id:
        return False
    start = rec.started_at or rec.created_at
    if not start <= record.created_at <= rec.created_at + window:
        return False
    if rec.customer_id is not None:
        return rec.customer_id == record.customer_id
    from models.crm.customers import find_by_phone
    return any(c.id == record.customer_id for c in find_by_phone(session, rec.caller_number or ""))


def _linked_records():
    return select(Recording.contact_record_id).where(Recording.contact_record_id.is_not(None))


def contact_record_for(session: Session, rec: Recording) -> ContactRecord | None:
    """The newest unlinked contact record that belongs to the recording (see ``belongs``)."""
    if not rec.user_id:
        return None
    candidates = session.scalars(
        select(ContactRecord).where(ContactRecord.user_id == rec.user_id,
                                    ContactRecord.created_at >= (rec.started_at or rec.created_at),
                                    ContactRecord.id.not_in(_linked_records()))
        .order_by(ContactRecord.created_at.desc(), ContactRecord.id.desc()).limit(20))
    return next((r for r in candidates if belongs(session, rec, r)), None)


def _link(rec: Recording, record: ContactRecord) -> None:
    rec.contact_record_id = record.id
    rec.customer_id = record.customer_id


def link_contact_record(session: Session, record: ContactRecord,
                        window: dt.timedelta = LINK_WINDOW) -> int:
    """Attach a new contact record to the author's unlinked recordings it belongs to (see
    ``belongs``); models.crm.contact_records calls it for every record written. Returns how many."""
    if not record.user_id:
        return 0
    candidates = session.scalars(
        select(Recording).where(Recording.user_id == record.user_id,
                                Recording.contact_record_id.is_(None),
                                Recording.created_at >= record.created_at - window)
        .order_by(Recording.created_at.desc(), Recording.id.desc()).limit(50))
    linked = [rec for rec in candidates if belongs(session, rec, record, window)]
    for rec in linked:
        _link(rec, record)
    session.flush()
    return len(linked)


def link_call_recordings(session: Session, record: ContactRecord, linkedid: str) -> int:
    """Attach the still unlinked recordings of one call (by its ``linkedid``) to the contact
    record its wrap-up wrote (models.telephony.wrap_ups). Returns how many."""
    found = list(session.scalars(select(Recording).where(Recording.linkedid == linkedid,
                                                         Recording.contact_record_id.is_(None))))
    for rec in found:
        _link(rec, record)
    session.flush()
    return len(found)


def _call_links(session: Session, *, uniqueid: str | None, attempt_id: int | None,
                campaign_id: int | None, caller_number: str | None, customer_id: int | None,
                user_id: int | None, started_at: dt.datetime | None) -> dict:
    """What is known of a recorded call, completed from its dialer attempt and the number: the
    attempt's customer and dialled number win over a caller ID (on a dialer call that is the
    company's own), the agent who answered over the agent the attempt was given."""
    attempt = attempt_for_call(session, uniqueid, attempt_id, campaign_id)
    if attempt is not None:
        caller_number = attempt.number
        customer_id = customer_id or attempt.customer_id
        user_id = user_id or attempt.agent_id
        started_at = started_at or attempt.started_at
    if customer_id is None and caller_number:
        customer_id = customer_for_number(session, caller_number)
    return dict(attempt_id=attempt.id if attempt is not None else None,
                caller_number=(caller_number or None) and caller_number[:40],
                customer_id=customer_id, user_id=user_id, started_at=started_at)


def create_recording(session: Session, *, uniqueid: str, file_key: str, fmt: str,
                     duration_ms: int, size_bytes: int, direction: str = "inbound",
                     linkedid: str | None = None, caller_number: str | None = None,
                     customer_id: int | None = None, contact_record_id: int | None = None,
                     user_id: int | None = None, started_at: dt.datetime | None = None,
                     attempt_id: int | None = None, campaign_id: int | None = None,
                     clock=SYSTEM_CLOCK) -> Recording:
    """Add the row of a stored recording, linked to its dialer attempt, customer (the
    attempt's, else the one customer with the caller's number), agent and contact record
    (``belongs``)."""
    if direction not in DIRECTIONS:
        raise InvalidValue(field="direction")
    if not uniqueid:
        raise InvalidValue(field="uniqueid")
    now = clock.now()
    links = _call_links(session, uniqueid=uniqueid, attempt_id=attempt_id,
                        campaign_id=campaign_id, caller_number=caller_number,
                        customer_id=customer_id, user_id=user_id, started_at=started_at)
    if links["started_at"] is None:
        links["started_at"] = now - dt.timedelta(milliseconds=int(duration_ms))
    rec = Recording(uniqueid=uniqueid[:64], linkedid=(linkedid or None) and linkedid[:64],
                    file_key=file_key, format=fmt, duration_ms=int(duration_ms),
                    size_bytes=int(size_bytes), direction=direction, created_at=now,
                    expires_at=expiry_for(now, retention_days(session)), **links)
    session.add(rec)
    session.flush()
    if contact_record_id is not None:
        rec.contact_record_id = contact_record_id
    else:
        record = contact_record_for(session, rec)
        if record is not None:
            _link(rec, record)
    session.flush()
    return rec


def complete_links(session: Session, rec: Recording, *, linkedid: str | None = None,
                   caller_number: str | None = None, user_id: int | None = None,
                   attempt_id: int | None = None, campaign_id: int | None = None,
                   started_at: dt.datetime | None = None) -> bool:
    """Fill the links a stored recording still lacks from what another path knows of the call
    (the AMI listener after the dialplan's hangup handler, or the other way round). Links
    already there stay. Returns whether anything changed."""
    links = _call_links(session, uniqueid=rec.uniqueid, attempt_id=rec.attempt_id or attempt_id,
                        campaign_id=None if rec.attempt_id else campaign_id,
                        caller_number=rec.caller_number or caller_number,
                        customer_id=rec.customer_id, user_id=rec.user_id or user_id,
                        started_at=rec.started_at or started_at)
    links["linkedid"] = (linkedid or None) and linkedid[:64]
    changed = False
    for field, value in links.items():
        if getattr(rec, field) is None and value is not None:
            setattr(rec, field, value)
            changed = True
    if rec.contact_record_id is None:
        record = contact_record_for(session, rec)
        if record is not None:
            _link(rec, record)
            changed = True
    session.flush()
    return changed


def by_uniqueid(session: Session, uniqueid: str) -> Recording | None:
    return session.scalar(select(Recording).where(Recording.uniqueid == uniqueid))


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
def _calls_with_leg_of(user_id: int):
    """The linkedids of the calls the user's phone had a leg in (the call log): a colleague who
    took a transfer or joined a three-way room hears the call's one recording too."""
    return (select(Call.linkedid).join(CallLeg, CallLeg.call_id == Call.id)
            .where(CallLeg.user_id == user_id))


_HEARD_CALL = (_calls_with_leg_of(bindparam("user_id"))
               .where(Call.linkedid == bindparam("linkedid")).limit(1))


def can_hear(user: User, rec: Recording) -> bool:
    if rec.user_id == user.id or user.role.can_hear_others_recordings:
        return True
    session = object_session(rec)
    return bool(session is not None and rec.linkedid and session.scalar(
        _HEARD_CALL, {"user_id": user.id, "linkedid": rec.linkedid}))


def get_audible(session: Session, user: User, recording_id: int) -> Recording:
    """The recording if ``user`` may hear it, or it is a training example (everybody may hear
    those: models.quality.examples); NotFound / PermissionDenied otherwise."""
    rec = session.get(Recording, recording_id)
    if rec is None:
        raise NotFound()
    if not can_hear(user, rec) and not is_example(session, rec.id):
        raise PermissionDenied()
    return rec


def is_example(session: Session, recording_id: int) -> bool:
    return session.scalar(select(TrainingExample.id)
                          .where(TrainingExample.recording_id == recording_id)) is not None


def audible_filter(user: User):
    return _audible(user.role.can_hear_others_recordings, user.id)


def _audible(hears_others: bool, user_id):
    """audible_filter for a user id (a value or a bind parameter)."""
    if hears_others:
        return Recording.id.is_not(None)
    return (Recording.user_id == user_id) | Recording.linkedid.in_(_calls_with_leg_of(user_id))


@functools.cache
def _customer_recordings(hears_others: bool, limit: int):
    """recordings_of_customer's statement, built once per shape."""
    return (select(Recording)
            .where(Recording.customer_id == bindparam("customer_id"),
                   _audible(hears_others, bindparam("user_id")))
            .order_by(Recording.created_at.desc(), Recording.id.desc()).limit(limit))


def recordings_of_customer(session: Session, user: User, customer_id: int,
                           limit: int = 10) -> list[Recording]:
    """The customer's recordings ``user`` may hear, newest first (open the customer first:
    this does not check that the user may see the customer)."""
    return list(session.scalars(_customer_recordings(user.role.can_hear_others_recordings, limit),
                                {"customer_id": customer_id, "user_id": user.id}))


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
