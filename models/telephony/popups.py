"""Screen pops (来电弹屏, T3): what an agent's browser shows when a call rings their phone.

``build_pop`` is the rule: the caller's number, normalised to E.164, finds the customers whose
phone, mobile, fax or a contact's number it is. For each match the agent MAY OPEN (visibility,
C2: shared, or one of its operators, or a manager/admin) the pop carries the details: stage,
ownership, contacts, the latest contact records, calls (models.telephony.call_history, each
recording marked playable or not for this agent) and recordings. A match the agent may NOT open
(another agent's personal or collaborative customer) is only counted: the pop says "a known
customer, owned by a colleague" and reveals no name, id or detail, and offers no quick-create
(that would make a duplicate). No match at all: a quick-create form prefilled with the number.

The payload is JSON (it is stored in the event row and streamed to the browser as is).
``create_pop_event`` writes it as an ``Event(kind="screen_pop")`` for the agent; the AMI
listener (agi/ami/listener.py), the FastAGI ``popup`` handler and the dialer (a campaign call put
through to an agent, models.dialer.agent_states) call it. ``call.direction`` says whether the agent
takes a call (``inbound``, the default) or one placed for them (``outbound``); a campaign's pop
also carries ``campaign`` (id, name, attempt, customer).

号码隐藏: a masking agent's cards hold masked numbers (``customer_card``); the stored event keeps
the caller's number (the panel is rebuilt from it), which ``refresh_pop`` and the event stream
mask on the way to the browser (``masked_pop``).
"""
from __future__ import annotations

import collections
import copy
import datetime as dt

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.customers import ids_with_number
from models.crm.recordings import recording_summary, recordings_of_customer
from models.crm.visibility import can_open, is_operator
from models.errors import NotFound
from models.org.masking import mask, masks, shown
from models.phones import normalize_phone
from models.schema import Contact, ContactRecord, Customer, CustomerOperator, Event, User
from models.telephony.call_history import calls_of

KIND = "screen_pop"
VERSION = 1
MAX_CONTACTS = 8
MAX_RECORDS = 5
MAX_RECORDINGS = 5
MAX_CALLS = 5
MAX_NOTE = 120
MAX_CONTENT = 300
# What Asterisk and carriers put in CallerIDNum when there is no number.
WITHHELD = {"", "<unknown>", "unknown", "anonymous", "restricted", "private", "unavailable", "s"}
DIRECTIONS = ("inbound", "outbound")


def clean_number(raw: str | None) -> str | None:
    """The caller's number as Asterisk gave it, or None when it is withheld."""
    text = (raw or "").strip()
    if text.lower() in WITHHELD or not any(ch.isdigit() for ch in text):
        return None
    return text[:40]


def user_for_extension(session: Session, extension: str | None) -> User | None:
    """The active user whose phone extension this is."""
    if not extension:
        return None
    return session.scalar(select(User).where(User.extension == extension, User.active.is_(True)))


_USERS = User.__table__.c
_EXTENSION_USER = select(_USERS.id, _USERS.full_name, _USERS.extension).where(
    _USERS.extension == bindparam("extension"), _USERS.active.is_(True))


def extension_user(session: Session, extension: str | None):
    """user_for_extension's id, full_name and extension, without loading the user."""
    if not extension:
        return None
    return session.execute(_EXTENSION_USER, {"extension": extension}).first()


def agent_extensions(session: Session, among_extensions=None) -> dict[str, int]:
    """Every active user's extension (or those of ``among_extensions``) → user id:
    user_for_extension for many at once (the user form keeps extensions unique; were two to
    share one, the lower id wins)."""
    query = agent_extensions_query()
    if among_extensions is not None:
        query = query.where(User.extension.in_(list(among_extensions)))
    return dict(session.execute(query).all())


def agent_extensions_query():
    """agent_extensions' query: (extension, user id) rows, the lower id last (it wins in a
    dict); narrow it with ``.where``."""
    return (select(User.extension, User.id).where(User.active.is_(True), User.extension.is_not(None))
            .order_by(User.id.desc()))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


_NAMES = select(_USERS.id, _USERS.full_name).where(_USERS.id.in_(bindparam("ids", expanding=True)))


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(_NAMES, {"ids": sorted(ids)}).all())


# What a card shows of a customer, and what can_open / is_operator read (operator_ids).
_CARD_FIELDS = ("id", "name", "stage", "ownership", "contact_person", "phone", "mobile", "city",
                "industry", "contact_mark", "tracking_mark", "do_not_call", "next_callback_at",
                "last_contacted_at")
CardCustomer = collections.namedtuple("CardCustomer", (*_CARD_FIELDS, "operator_ids"))
_CUSTOMERS, _OPERATORS = Customer.__table__.c, CustomerOperator.__table__.c
# find_by_phone's customers with their operators, in one statement: a row per operator.
_MATCHES = (select(*(_CUSTOMERS[f] for f in _CARD_FIELDS), _OPERATORS.user_id)
            .outerjoin_from(Customer.__table__, CustomerOperator.__table__,
                            _OPERATORS.customer_id == _CUSTOMERS.id)
            .where(_CUSTOMERS.id.in_(ids_with_number(bindparam("e164"))))
            .order_by(_CUSTOMERS.id, _OPERATORS.user_id))


def _matching_customers(session: Session, e164: str | None) -> list[CardCustomer]:
    """find_by_phone's customers (by id) as the cards read them, operator ids ascending."""
    if not e164:
        return []
    found: dict[int, CardCustomer] = {}
    for *fields, operator_id in session.execute(_MATCHES, {"e164": e164}):
        customer = found.get(fields[0])
        if customer is None:
            customer = found[fields[0]] = CardCustomer(*fields, [])
        if operator_id is not None:
            customer.operator_ids.append(operator_id)
    return list(found.values())


_CONTACTS, _RECORDS = Contact.__table__.c, ContactRecord.__table__.c
_CARD_CONTACTS = (select(_CONTACTS.id, _CONTACTS.name, _CONTACTS.title, _CONTACTS.phone,
                         _CONTACTS.mobile)
                  .where(_CONTACTS.customer_id == bindparam("customer_id"))
                  .order_by(_CONTACTS.id).limit(MAX_CONTACTS))
_CARD_RECORDS = (select(_RECORDS.id, _RECORDS.contacted_at, _RECORDS.method, _RECORDS.progress,
                        _RECORDS.content, _RECORDS.user_id, _RECORDS.next_callback_at)
                 .where(_RECORDS.customer_id == bindparam("customer_id"))
                 .order_by(_RECORDS.contacted_at.desc(), _RECORDS.id.desc()).limit(MAX_RECORDS))


def call_item(entry) -> dict:
    """One of a card's calls (a call_history.CallEntry): when, who, direction, duration,
    outcome, disposition, note, and its recordings with whether the agent may hear them."""
    call = entry.call
    return dict(id=call.id, started_at=_iso(call.started_at), user=entry.agent,
                direction=call.direction, seconds=round(entry.seconds, 1), outcome=entry.outcome,
                disposition=call.disposition, note=(call.note or "")[:MAX_NOTE] or None,
                recordings=[dict(id=h.recording.id, may_hear=h.may_hear,
                                 removed=h.recording.deleted_at is not None)
                            for h in entry.recordings])


def customer_card(session: Session, agent: User, customer: Customer | CardCustomer) -> dict:
    """The details of a customer the agent may open (callers check can_open first)."""
    contacts = session.execute(_CARD_CONTACTS, {"customer_id": customer.id}).all()
    records = session.execute(_CARD_RECORDS, {"customer_id": customer.id}).all()
    recordings = recordings_of_customer(session, agent, customer.id, limit=MAX_RECORDINGS)
    names = _names(session, {r.user_id for r in records} | set(customer.operator_ids)
                   | {r.user_id for r in recordings})
    return dict(
        id=customer.id, name=customer.name, stage=customer.stage, ownership=customer.ownership,
        mine=is_operator(agent, customer), may_open=True,
        operators=[names.get(i, "") for i in customer.operator_ids],
        contact_person=customer.contact_person, phone=shown(agent, customer.phone),
        mobile=shown(agent, customer.mobile),
        city=customer.city, industry=customer.industry, contact_mark=customer.contact_mark,
        tracking_mark=customer.tracking_mark, do_not_call=customer.do_not_call,
        next_callback_at=_iso(customer.next_callback_at),
        last_contacted_at=_iso(customer.last_contacted_at),
        contacts=[dict(id=c.id, name=c.name, title=c.title, phone=shown(agent, c.phone),
                       mobile=shown(agent, c.mobile)) for c in contacts],
        records=[dict(id=r.id, contacted_at=_iso(r.contacted_at), method=r.method,
                      progress=r.progress, content=(r.content or "")[:MAX_CONTENT],
                      user=names.get(r.user_id, ""),
                      next_callback_at=_iso(r.next_callback_at)) for r in records],
        recordings=[dict(recording_summary(r, agent), user=names.get(r.user_id, ""))
                    for r in recordings],
        calls=[call_item(e) for e in calls_of(session, agent, customer.id, limit=MAX_CALLS)],
    )


def build_pop(session: Session, agent: User, number: str | None, *, caller_name: str | None = None,
              call: dict | None = None, clock=SYSTEM_CLOCK) -> dict:
    """The pop payload for a call from ``number`` ringing ``agent``.

    status: ``known`` (at least one match the agent may open: ``customers`` holds their
    cards), ``restricted`` (matches exist, none the agent may open), ``unknown`` (no match:
    ``quick_create`` holds the number), ``internal`` (the number is a colleague's extension:
    ``colleague`` names them). ``hidden`` counts matches the agent may not open."""
    raw = clean_number(number)
    e164 = normalize_phone(raw) if raw else None
    colleague = extension_user(session, raw) if raw and len(raw) <= 32 else None
    matches = _matching_customers(session, e164) if raw and colleague is None else []
    cards, hidden = [], 0
    for customer in matches:
        if can_open(agent, customer):
            cards.append(customer_card(session, agent, customer))
        else:
            hidden += 1
    status = ("internal" if colleague else "known" if cards else "restricted" if hidden
              else "unknown")
    name = (caller_name or "").strip()
    call = dict(call or {})
    direction = call.get("direction") if call.get("direction") in DIRECTIONS else "inbound"
    payload = dict(
        v=VERSION, status=status, hidden=hidden, customers=cards,
        call=dict(number=raw, e164=e164, withheld=raw is None,
                  name=None if name.lower() in WITHHELD else name[:80],
                  uniqueid=call.get("uniqueid"), linkedid=call.get("linkedid"),
                  queue=call.get("queue"), direction=direction,
                  source=call.get("source"), rung_at=clock.now().isoformat()),
    )
    if colleague is not None:
        payload["colleague"] = dict(name=colleague.full_name, extension=colleague.extension)
    if status == "unknown":
        payload["quick_create"] = dict(phone=raw or "", contact_person=payload["call"]["name"] or "")
    return payload


def refresh_pop(session: Session, agent: User, stored: dict, *, clock=SYSTEM_CLOCK) -> dict:
    """A stored pop built afresh for ``agent``: the customers as the visibility rules show them
    now; the call (number, direction, time of the ring) and a campaign call's ``campaign`` as
    the event recorded them, the campaign's customer first."""
    call = dict(stored.get("call") or {})
    fresh = build_pop(session, agent, call.get("number"), caller_name=call.get("name"),
                      call=call, clock=clock)
    fresh["call"]["rung_at"] = call.get("rung_at") or fresh["call"]["rung_at"]
    if stored.get("campaign"):
        with_campaign(fresh, stored["campaign"])
    return shown_pop(agent, fresh)


def shown_pop(agent: User, payload: dict) -> dict:
    """The pop as it reaches ``agent``'s browser: every number masked for a masking role
    (号码隐藏). The stored event keeps the caller's number: the panel is rebuilt from it."""
    if not masks(agent):
        return payload
    return masked_pop(payload)


def masked_pop(payload: dict) -> dict:
    """A copy of a pop payload with every number masked (models/org/masking.py)."""
    out = copy.deepcopy(payload)
    call = out.get("call") or {}
    for key in ("number", "e164"):
        if call.get(key):
            call[key] = mask(call[key])
    if out.get("quick_create"):
        out["quick_create"]["phone"] = mask(out["quick_create"].get("phone"))
    for card in out.get("customers", ()):
        for row in (card, *card.get("contacts", ())):
            for key in ("phone", "mobile"):
                row[key] = mask(row.get(key))
    return out


def with_campaign(payload: dict, campaign: dict) -> dict:
    """A campaign call's pop: which campaign and attempt, and the customer it dialled first."""
    payload["campaign"] = dict(campaign)
    payload["customers"] = sorted(payload.get("customers", ()),
                                  key=lambda card: card["id"] != campaign.get("customer_id"))
    return payload


POP_ONCE_WINDOW = dt.timedelta(minutes=10)
_EVENTS = Event.__table__.c
_RECENT_POPS = (select(_EVENTS.id, _EVENTS.payload)
                .where(_EVENTS.kind == KIND, _EVENTS.user_id == bindparam("user_id"),
                       _EVENTS.created_at >= bindparam("since"))
                .order_by(_EVENTS.id.desc()).limit(50))


def pop_for_call(session: Session, agent: User, linkedid: str | None, *,
                 clock=SYSTEM_CLOCK) -> Event | None:
    """The pop ``agent`` already got for the call ``linkedid`` in the last few minutes."""
    if not linkedid:
        return None
    recent = session.execute(_RECENT_POPS, {"user_id": agent.id,
                                            "since": clock.now() - POP_ONCE_WINDOW})
    event_id = next((i for i, payload in recent
                     if (payload.get("call") or {}).get("linkedid") == linkedid), None)
    return session.get(Event, event_id) if event_id is not None else None


def create_pop_event(session: Session, agent: User, number: str | None, *,
                     caller_name: str | None = None, call: dict | None = None,
                     clock=SYSTEM_CLOCK, payload: dict | None = None,
                     campaign: dict | None = None) -> Event:
    """Write the pop for ``agent`` (the web streams it to their open pages). One pop per call
    and agent: the dialer pops a campaign call when it picks the agent, and the AMI listener
    then sees the same call ring the agent's phone; the second returns the first pop.
    ``payload``: build_pop's, read before this transaction (the AMI listener reads it beside
    SQLite's write lock and holds the lock only for this check and the insert).
    ``campaign``: a campaign call's (with_campaign), given to the first pop if there is one."""
    earlier = pop_for_call(session, agent, (call or {}).get("linkedid"), clock=clock)
    if earlier is not None:
        if campaign is not None:
            earlier.payload = with_campaign(dict(earlier.payload), campaign)
            session.flush()
        return earlier
    if payload is None:
        payload = build_pop(session, agent, number, caller_name=caller_name, call=call,
                            clock=clock)
    if campaign is not None:
        payload = with_campaign(payload, campaign)
    event = Event(kind=KIND, user_id=agent.id, payload=payload, created_at=clock.now())
    session.add(event)
    session.flush()
    return event


def pop_event_for(session: Session, user: User, event_id: int) -> Event:
    """A pop event of this user (anybody else's is NotFound: pops are private)."""
    event = session.get(Event, event_id)
    if event is None or event.kind != KIND or event.user_id != user.id:
        raise NotFound()
    return event


def pop_customer_ids(payload: dict) -> list[int]:
    return [c["id"] for c in payload.get("customers", ())]
