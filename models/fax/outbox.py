"""Sending faxes: the queue, its pacing by the fax lines, retries and results.

A fax to send is a row in status queued with its fax TIFF (tiff_key). The sender (agi/fax_sender.py)
takes the due ones, at most as many as fax lines are free (``claim_due``), and originates
each into the dialplan's dialfunnel-fax,send; the result comes back either as the Originate's
failure (busy, no answer... : ``originate_failed``) or from the hangup handler after SendFAX
(``send_result``). A failed attempt is queued again ``retry_wait`` later until
``max_attempts`` have been made; a number that does not exist is not tried again."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.contact_records import write_contact_record
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue
from models.fax.inbox import fax_of_channel, get_fax, match_sender
from models.phones import normalize_phone
from models.schema import Customer, Fax, User

# Originate failures (AMI OriginateResponse Reason) worth another try: 1 hung up at once, 3 no
# answer, 5 busy, 8 congestion; 0 (no such number/unallocated) is final.
RETRY_REASONS = frozenset({1, 3, 5, 8})
REASON_TEXT = {0: "NO_ROUTE", 1: "HANGUP", 3: "NO_ANSWER", 5: "BUSY", 8: "CONGESTION"}
MAX_BATCH = 1000   # numbers one broadcast may hold
# A fax on the line whose result never came (the sender or the AGI server stopped) counts as a
# failed attempt this long after it was originated: its line is free again.
SENDING_LIMIT = dt.timedelta(minutes=30)


def fax_number(raw) -> str:
    """A number to fax: its E.164 form, or refused."""
    e164 = normalize_phone(str(raw or "").strip())
    if not e164:
        raise InvalidValue(field="number")
    return e164


def queue_fax(session: Session, actor: User, *, number, tiff_key: str, pdf_key: str | None,
              pages: int, customer_id: int | None = None, subject: str = "",
              max_attempts: int = 3, broadcast: str | None = None, source_id: int | None = None,
              draft: bool = False, clock=SYSTEM_CLOCK) -> Fax:
    """Queue one fax for sending now (or keep it as the actor's draft: ``send_draft`` queues
    it). A customer must be one the actor may open."""
    e164 = fax_number(number)
    if customer_id is not None:
        customer_id = get_visible_customer(session, actor, int(customer_id)).id
    now = clock.now()
    fax = Fax(direction="out", status="draft" if draft else "queued", number=e164,
              customer_id=customer_id,
              subject=(subject or "")[:200], pages=pages, tiff_key=tiff_key, pdf_key=pdf_key,
              user_id=actor.id, attempts=0, max_attempts=max(1, int(max_attempts)),
              next_attempt_at=now, broadcast=broadcast, source_id=source_id, note="",
              created_at=now)
    session.add(fax)
    session.flush()
    return fax


def get_draft(session: Session, actor: User, fax_id) -> Fax:
    """The actor's own fax still being prepared."""
    fax = get_fax(session, actor, fax_id)
    if fax.direction != "out" or fax.status != "draft" or fax.user_id != actor.id:
        raise InvalidValue(field="status")
    return fax


def send_draft(session: Session, actor: User, fax_id, *, pages: int | None = None,
               clock=SYSTEM_CLOCK) -> Fax:
    """Queue a draft: it is sent now."""
    fax = get_draft(session, actor, fax_id)
    fax.status, fax.next_attempt_at = "queued", clock.now()
    if pages is not None:
        fax.pages = pages
    session.flush()
    return fax


def queue_broadcast(session: Session, actor: User, *, targets, tiff_key: str, pdf_key: str | None,
                    pages: int, subject: str = "", max_attempts: int = 3,
                    clock=SYSTEM_CLOCK) -> tuple[str, list[Fax], list[str]]:
    """群发: one fax to many. ``targets``: (number or None, customer_id or None) pairs (a list
    typed in, or the customers of a query: their fax number, else their phone). Returns
    (the batch key, the faxes queued, the targets refused with why). The sender paces the
    batch by the fax lines like any other fax."""
    key = "b-" + secrets.token_hex(6)
    queued, refused, seen = [], [], set()
    for number, customer_id in list(targets)[:MAX_BATCH]:
        if number is None and customer_id is not None:
            customer = get_visible_customer(session, actor, int(customer_id))
            number = customer.fax_e164 or customer.fax or customer.phone_e164
        try:
            e164 = fax_number(number)
        except InvalidValue:
            refused.append(str(number or customer_id))
            continue
        if e164 in seen:
            continue
        seen.add(e164)
        queued.append(queue_fax(session, actor, number=e164, tiff_key=tiff_key, pdf_key=pdf_key,
                                pages=pages, customer_id=customer_id, subject=subject,
                                max_attempts=max_attempts, broadcast=key, clock=clock))
    return key, queued, refused


def broadcast_progress(session: Session, key: str) -> dict[str, int]:
    """How many faxes of a batch are in each status."""
    rows = session.execute(select(Fax.status, func.count(Fax.id)).where(Fax.broadcast == key)
                           .group_by(Fax.status))
    return {status: count for status, count in rows}


def claim_due(session: Session, *, lines: int, clock=SYSTEM_CLOCK) -> list[Fax]:
    """The faxes to originate now: due queued ones, oldest first, no more than the fax lines
    not busy with a fax being sent. Each is moved to sending by a conditional UPDATE (two
    senders never take the same fax) and its attempt counted."""
    now = clock.now()
    busy = session.scalar(select(func.count(Fax.id)).where(Fax.direction == "out",
                                                           Fax.status == "sending")) or 0
    free = lines - busy
    if free <= 0:
        return []
    ids = list(session.scalars(select(Fax.id).where(
        Fax.direction == "out", Fax.status == "queued", Fax.next_attempt_at <= now)
        .order_by(Fax.next_attempt_at, Fax.id).limit(free)))
    taken = []
    for fax_id in ids:
        done = session.execute(update(Fax).where(Fax.id == fax_id, Fax.status == "queued")
                               .values(status="sending", attempts=Fax.attempts + 1,
                                       uniqueid=None, next_attempt_at=now + SENDING_LIMIT)
                               .execution_options(synchronize_session=False))
        if done.rowcount == 1:
            taken.append(fax_id)
    session.flush()
    return [session.get(Fax, fax_id, populate_existing=True) for fax_id in taken]


def expire_lost(session: Session, *, retry_wait: dt.timedelta = dt.timedelta(minutes=5),
                clock=SYSTEM_CLOCK) -> int:
    """Faxes left sending past SENDING_LIMIT: their attempt failed (retried while attempts
    remain). Returns how many."""
    lost = list(session.scalars(select(Fax).where(
        Fax.direction == "out", Fax.status == "sending", Fax.next_attempt_at <= clock.now())))
    for fax in lost:
        fax.fax_status, fax.fax_error = "FAILED", "LOST"
        _retry_or_fail(session, fax, True, retry_wait, clock)
    return len(lost)


def channel_id(fax: Fax) -> str:
    """The Originate ChannelId of the fax's current attempt (the channel's uniqueid)."""
    return f"fax-{fax.id}-{fax.attempts}"


def _retry_or_fail(session: Session, fax: Fax, retry: bool, retry_wait: dt.timedelta, clock) -> None:
    now = clock.now()
    if retry and fax.attempts < fax.max_attempts:
        fax.status, fax.next_attempt_at = "queued", now + retry_wait
    else:
        fax.status, fax.finished_at = "failed", now
        _log(session, fax, clock)
    session.flush()


def originate_failed(session: Session, fax_id: int, reason: int, *,
                     retry_wait: dt.timedelta = dt.timedelta(minutes=5),
                     clock=SYSTEM_CLOCK) -> Fax | None:
    """The Originate of a fax failed (AMI OriginateResponse Failure, ``reason``)."""
    fax = session.get(Fax, fax_id, populate_existing=True)
    if fax is None or fax.status != "sending":
        return fax
    fax.fax_status, fax.fax_error = "FAILED", REASON_TEXT.get(reason, f"REASON_{reason}")
    fax.fax_statusstr = None
    _retry_or_fail(session, fax, reason in RETRY_REASONS, retry_wait, clock)
    return fax


def send_result(session: Session, fax_id: int, *, uniqueid: str | None, fax_status: str,
                pages: int, fax_error: str | None = None, fax_statusstr: str | None = None,
                station_id: str | None = None, resolution: str | None = None,
                rate: int | None = None, retry_wait: dt.timedelta = dt.timedelta(minutes=5),
                clock=SYSTEM_CLOCK) -> Fax | None:
    """SendFAX's result (the hangup handler): SUCCESS makes the fax sent; FAILED (the line
    dropped, the far end was no fax...) is tried again while attempts remain."""
    fax = session.get(Fax, fax_id, populate_existing=True)
    if fax is None or fax.direction != "out" or fax.status != "sending":
        return fax
    fax.uniqueid = uniqueid
    fax.fax_status, fax.fax_error, fax.fax_statusstr = fax_status, fax_error, fax_statusstr
    fax.station_id, fax.resolution, fax.rate = station_id or fax.station_id, resolution, rate
    if fax_status == "SUCCESS":
        fax.status, fax.finished_at = "sent", clock.now()
        fax.pages = pages or fax.pages
        _log(session, fax, clock)
        session.flush()
        return fax
    _retry_or_fail(session, fax, True, retry_wait, clock)
    return fax


def record_on_demand(session: Session, *, uniqueid: str, number: str | None, sheet: str,
                     fax_status: str | None, pages: int, fax_error: str | None = None,
                     fax_statusstr: str | None = None, station_id: str | None = None,
                     resolution: str | None = None, rate: int | None = None,
                     clock=SYSTEM_CLOCK) -> tuple[Fax, bool]:
    """自动索取: a sheet the IVR faxed back to a caller, kept in the outbox (no sender; the
    managers and the customer's operators see it) and, for a known caller, logged as a contact
    record. One row per channel: (the fax, whether it is new)."""
    found = fax_of_channel(session, uniqueid)
    if found is not None:
        return found, False
    now = clock.now()
    e164 = normalize_phone(number)
    fax = Fax(direction="out", status="sent" if fax_status == "SUCCESS" else "failed",
              number=e164 or number, customer_id=match_sender(session, number, None),
              subject=sheet[:200], pages=pages, fax_status=fax_status, fax_error=fax_error,
              fax_statusstr=fax_statusstr, station_id=station_id, resolution=resolution,
              rate=rate, uniqueid=uniqueid, attempts=1, max_attempts=1, note="",
              created_at=now, finished_at=now)
    session.add(fax)
    session.flush()
    _log(session, fax, clock)
    return fax, True


def _log(session: Session, fax: Fax, clock) -> None:
    """The contact record of a finished fax to a customer (method fax)."""
    if fax.customer_id is None or fax.contact_record_id is not None:
        return
    customer = session.get(Customer, fax.customer_id)
    sender = session.get(User, fax.user_id) if fax.user_id else None
    done = "已发送传真" if fax.status == "sent" else "传真发送失败"
    text = f"{done} {fax.pages} 页" + (f"：{fax.subject}" if fax.subject else "")
    if fax.status != "sent" and fax.fax_error:
        text += f"（{fax.fax_error}）"
    record = write_contact_record(session, sender, customer, method="fax", content=text, clock=clock)
    fax.contact_record_id = record.id


def cancel(session: Session, actor: User, fax_id, *, clock=SYSTEM_CLOCK) -> Fax:
    """Stop a queued fax (not one on the line now)."""
    fax = get_fax(session, actor, fax_id)
    if fax.direction != "out" or fax.status != "queued":
        raise InvalidValue(field="status")
    fax.status, fax.finished_at, fax.fax_error = "failed", clock.now(), "CANCELLED"
    session.flush()
    return fax


def resend(session: Session, actor: User, fax_id, *, number=None, max_attempts: int = 3,
           clock=SYSTEM_CLOCK) -> Fax:
    """转发 to a fax number (a received fax) or send again (a sent one): the same TIFF."""
    source = get_fax(session, actor, fax_id)
    if not source.tiff_key:
        raise InvalidValue(field="fax")
    return queue_fax(session, actor, number=number or source.number, tiff_key=source.tiff_key,
                     pdf_key=source.pdf_key, pages=source.pages, customer_id=source.customer_id
                     if number is None else None, subject=source.subject,
                     max_attempts=max_attempts, source_id=source.id, clock=clock)
