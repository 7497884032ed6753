"""Click-to-call (点击拨号, issue 13): the user clicks a number, the agent's phone rings, then the
customer's.

The browser names which number of which customer (``phone``, ``mobile``), contact
(``contact:<id>:phone``) or unanswered call (``call:<id>``, its caller's number), never the
number itself (number masking keeps it off the page). ``request_call`` resolves it and refuses,
queueing nothing, when: the user may not see the customer (or the unanswered call), the number
is on the do-not-call list, the company forbids manual calls at this hour, the user has no
extension, or the user is already on a click-to-call.

The dialer process (agi/dialer/click_to_call.py) claims queued requests (``claim_requests``: a
conditional UPDATE, so two dialers never take the same one), asks the PBX whether the phone is
free, Originates ``PJSIP/<ext>`` into ``dialfunnel-click-to-call`` with ChannelId =
``channel_id`` (the agent leg's Uniqueid, hence the call's linkedid in the call log), and moves
the request along as AMI reports the call:

  queued → dialing → ringing_agent → ringing_customer → talking → ended
         ↘ failed (reason: a message key)       (from any state but ended)

Every move writes an ``Event(kind="call_request")`` for the user (the web's event stream).
"""
from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import NamedTuple

import phonenumbers
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import get_setting, set_setting
from models.crm.visibility import get_visible_customer
from models.dialer.campaigns import HHMM
from models.dialer.dialing import within_calling_hours
from models.dialer.dnc import is_blocked
from models.errors import DomainError, NotFound
from models.phones import normalize_phone
from models.schema import Contact, Customer, Event, User
from models.schema.calls import Call, CallRequest
from models.telephony.call_history import unanswered_filter

KIND = "call_request"
PREFIX = "c2c-"     # every click-to-call's ChannelId (its linkedid) starts so
ACTIVE = ("queued", "dialing", "ringing_agent", "ringing_customer", "talking")
FINAL = ("ended", "failed")
_ORDER = {state: n for n, state in enumerate(ACTIVE + ("ended",))}
QUEUE_LIMIT = dt.timedelta(seconds=60)   # a request no dialer took by then is dropped, not dialled late
FIELDS = ("phone", "mobile")

# Company settings (models.company): manual calls allowed only within these hours (the
# customer's local time, as the dialer's campaign hours), when ``calls.manual_hours_only`` is 1.
SETTING_DEFAULTS = {"calls.manual_hours_only": "0", "calls.manual_hours_start": "08:00",
                    "calls.manual_hours_end": "21:00"}


class Claimed(NamedTuple):
    id: int
    channel_id: str
    extension: str
    number: str          # E.164
    user_id: int


def _setting(session: Session, key: str) -> str:
    try:
        return get_setting(session, key)
    except KeyError:
        return SETTING_DEFAULTS[key]


def dialable(e164: str) -> str:
    """The digits the dialplan dials (what an agent would key in from China): 13800138000,
    02155550000, 0016505550100."""
    parsed = phonenumbers.parse(e164, None)
    text = phonenumbers.format_out_of_country_calling_number(parsed, "CN")
    return "".join(ch for ch in text if ch.isdigit())


def _target(session: Session, user: User, customer_id: int | None,
            target: str) -> tuple[Customer | None, Contact | None, Call | None, str | None]:
    """What the browser named: (customer, contact, unanswered call, raw number)."""
    target = (target or "").strip()
    if target.startswith("call:"):
        call_id = target[5:]
        call = session.scalar(select(Call).where(Call.id == int(call_id), unanswered_filter(user))) \
            if call_id.isdigit() else None
        if call is None:
            raise NotFound("click_to_call.no_such_call")
        customer = session.get(Customer, call.customer_id) if call.customer_id else None
        return customer, None, call, call.from_number
    if customer_id is None:
        raise NotFound("customer.not_found", id="")
    customer = get_visible_customer(session, user, customer_id)
    if target in FIELDS:
        return customer, None, None, getattr(customer, target)
    parts = target.split(":")
    if len(parts) == 3 and parts[0] == "contact" and parts[1].isdigit() and parts[2] in FIELDS:
        contact = session.get(Contact, int(parts[1]))
        if contact is None or contact.customer_id != customer.id:
            raise NotFound("contact.not_found")
        return customer, contact, None, getattr(contact, parts[2])
    raise DomainError("click_to_call.bad_target")


def manual_hours(session: Session) -> dict:
    """The company's rule for manual calls: {"only": bool, "start": "HH:MM", "end": "HH:MM"}."""
    return dict(only=_setting(session, "calls.manual_hours_only") in ("1", "true", "yes"),
                start=_setting(session, "calls.manual_hours_start"),
                end=_setting(session, "calls.manual_hours_end"))


def set_manual_hours(session: Session, *, only: bool, start: str, end: str) -> None:
    """An admin sets the rule (start before end, HH:MM as the campaigns' hours)."""
    start, end = (start or "").strip(), (end or "").strip()
    if not (HHMM.fullmatch(start) and HHMM.fullmatch(end)) or start >= end:
        raise DomainError("campaign.bad_hours")
    set_setting(session, "calls.manual_hours_only", "1" if only else "0")
    set_setting(session, "calls.manual_hours_start", start)
    set_setting(session, "calls.manual_hours_end", end)


def manual_hours_refusal(session: Session, customer: Customer | None, now: dt.datetime) -> str | None:
    """"click_to_call.outside_hours" when the company forbids manual calls now (the dialer's
    calling-hours rule, in the customer's zone, else the company's)."""
    rule = manual_hours(session)
    if not rule["only"]:
        return None
    hours = SimpleNamespace(hours_start=rule["start"], hours_end=rule["end"], skip_holidays=False)
    zone = customer.time_zone if customer is not None else get_setting(session, "company.time_zone")
    return None if within_calling_hours(hours, zone, now) else "click_to_call.outside_hours"


def request_call(session: Session, user: User, customer_id: int | None, target: str, *,
                 clock=SYSTEM_CLOCK) -> CallRequest:
    """Queue a click-to-call for the dialer process, or raise a DomainError (nothing queued)."""
    customer, contact, source, raw = _target(session, user, customer_id, target)
    e164 = normalize_phone(raw) if raw else None
    if e164 is None:
        raise DomainError("click_to_call.no_number")
    if is_blocked(session, e164, customer):
        raise DomainError("click_to_call.do_not_call")
    now = clock.now()
    refusal = manual_hours_refusal(session, customer, now)
    if refusal:
        raise DomainError(refusal)
    if not user.extension:
        raise DomainError("click_to_call.no_extension")
    busy = session.scalar(select(CallRequest.id).where(CallRequest.user_id == user.id,
                                                       CallRequest.state.in_(ACTIVE)))
    if busy is not None:
        raise DomainError("click_to_call.already_calling")
    request = CallRequest(user_id=user.id, customer_id=customer.id if customer else None,
                          contact_id=contact.id if contact else None,
                          source_call_id=source.id if source else None, target=target[:32],
                          number=e164, extension=user.extension, state="queued",
                          channel_id=f"{PREFIX}{uuid.uuid4()}", hangup_wanted=False,
                          created_at=now, updated_at=now)
    session.add(request)
    session.flush()
    _publish(session, request, now)
    return request


def is_click_to_call(linkedid: str | None) -> bool:
    """Whether a call is a click-to-call (the user asked for it on the page: no screen pop)."""
    return bool(linkedid) and linkedid.startswith(PREFIX)


def _publish(session: Session, request: CallRequest, now: dt.datetime) -> None:
    session.add(Event(kind=KIND, user_id=request.user_id, created_at=now, payload=dict(
        id=request.id, state=request.state, reason=request.reason, call_id=request.call_id)))


def claim_requests(session: Session, dialer_id: str, *, clock=SYSTEM_CLOCK,
                   limit: int = 20) -> list[Claimed]:
    """For the dialer process: queued requests, each taken by this dialer only (→ dialing).
    One queued past QUEUE_LIMIT fails ("expired"); one whose number went on the do-not-call
    list since fails too. The caller commits at once."""
    now = clock.now()
    rows = session.scalars(select(CallRequest).where(CallRequest.state == "queued")
                           .order_by(CallRequest.id).limit(limit)).all()
    claimed = []
    for request in rows:
        customer = session.get(Customer, request.customer_id) if request.customer_id else None
        refusal = ("click_to_call.expired" if now - request.created_at > QUEUE_LIMIT else
                   "click_to_call.do_not_call" if is_blocked(session, request.number, customer)
                   else None)
        values = dict(state="failed", reason=refusal, ended_at=now) if refusal else \
            dict(state="dialing", dialer_id=dialer_id)
        taken = session.execute(update(CallRequest)
                                .where(CallRequest.id == request.id, CallRequest.state == "queued")
                                .values(updated_at=now, **values)
                                .execution_options(synchronize_session=False)).rowcount == 1
        if not taken:
            continue
        session.refresh(request)
        _publish(session, request, now)
        if not refusal:
            claimed.append(Claimed(request.id, request.channel_id, request.extension,
                                   request.number, request.user_id))
    return claimed


def _call_id(session: Session, channel_id: str) -> int | None:
    return session.scalar(select(Call.id).where(Call.linkedid == channel_id))


def advance(session: Session, channel_id: str, state: str, *, reason: str | None = None,
            clock=SYSTEM_CLOCK) -> CallRequest | None:
    """Move the request of this Originate ChannelId forward to ``state`` (never back, never
    out of ended/failed; a request that never reached talking ends as failed). Links the
    calls row once the call log has it. Returns the request when it moved."""
    request = session.scalar(select(CallRequest).where(CallRequest.channel_id == channel_id)
                             .execution_options(populate_existing=True))
    if request is None or request.state in FINAL:
        return None
    if state == "ended" and request.state != "talking":
        state, reason = "failed", reason or "click_to_call.not_answered"
    if state != "failed" and _ORDER[state] <= _ORDER[request.state]:
        return None
    now = clock.now()
    request.state, request.updated_at = state, now
    if state == "failed":
        request.reason = (reason or "click_to_call.failed")[:48]
    if state == "talking":
        request.answered_at = now
    if state in FINAL:
        request.ended_at = now
    if request.call_id is None:
        request.call_id = _call_id(session, channel_id)
    session.flush()
    _publish(session, request, now)
    return request


def request_hangup(session: Session, user: User, request_id: int) -> CallRequest:
    """The user hangs up from the page: the dialer process sends the AMI Hangup."""
    request = _own(session, user, request_id)
    if request.state in ("queued",):
        advance(session, request.channel_id, "failed", reason="click_to_call.cancelled")
    elif request.state not in FINAL:
        request.hangup_wanted = True
        session.flush()
    return request


def hangups_wanted(session: Session, dialer_id: str) -> list[str]:
    """ChannelIds of this dialer's live requests whose user pressed hang up."""
    return list(session.scalars(select(CallRequest.channel_id).where(
        CallRequest.dialer_id == dialer_id, CallRequest.hangup_wanted.is_(True),
        CallRequest.state.in_(ACTIVE))))


def live_requests(session: Session, dialer_id: str) -> list[tuple[str, str, dt.datetime]]:
    """(channel_id, state, updated_at) of this dialer's requests still going (a restart)."""
    return list(session.execute(select(CallRequest.channel_id, CallRequest.state,
                                       CallRequest.updated_at).where(
        CallRequest.dialer_id == dialer_id, CallRequest.state.in_(ACTIVE[1:]))).all())


def _own(session: Session, user: User, request_id: int) -> CallRequest:
    request = session.get(CallRequest, request_id, populate_existing=True)
    if request is None or request.user_id != user.id:
        raise NotFound("click_to_call.not_found")
    return request


def status(session: Session, user: User, request_id: int) -> dict:
    """What the page shows of the user's own request (no number: it may be masked)."""
    request = _own(session, user, request_id)
    if request.call_id is None and request.state != "queued":
        request.call_id = _call_id(session, request.channel_id)
    return dict(id=request.id, state=request.state, reason=request.reason,
                call_id=request.call_id, customer_id=request.customer_id,
                answered_at=request.answered_at.isoformat() if request.answered_at else None,
                ended_at=request.ended_at.isoformat() if request.ended_at else None)
