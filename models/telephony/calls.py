"""The call log's one writer (issue 13): ``calls`` and ``call_legs`` from what Asterisk reports.

The AMI listener (agi/ami/call_log.py) calls these functions, one per event, in arrival order;
the dialer (``attempt_closed``) and later the FastAGI handlers call them too. Every function is
idempotent: rows are found by their unique keys (the call's ``linkedid``, the channel's
``uniqueid``), every time is written once (the first write wins), and nothing changes a call
once it ended, so a duplicated or replayed event never makes a second row or moves a time.

What a call is (decided when its first channel, the one whose Uniqueid is the Linkedid, is
seen, and refined by its Dials):
  dialer         the first channel's Uniqueid is a dial attempt's Originate ChannelId;
  click_to_call  the first channel is an agent's phone being rung by an Originate (created in
                 state Down, or the ;1 half of a Local channel: an outgoing channel), which then
                 dials the customer;
  manual         the first channel is an agent's phone that rang in (state Ring), or a channel
                 dials out from the agents' outbound context (``dialfunnel-trunk-out``);
  internal       a manual call whose Dial rings another agent's phone;
  inbound        anything else: a caller rang the company.
The agent is the phone's user for click_to_call/manual, else the agent who answered (DialEnd
ANSWER or AgentConnect on an agent's phone); the customer is the dial attempt's, else the one
customer with the outside number (models.crm.recordings.customer_for_number, the screen pop's
lookup). A call ends when its last known leg hung up.

Functions never commit (the caller owns the transaction). They cache the rows they touch in
``session.info`` (one long-lived session per writer thread); after a rollback call ``forget``.
An agent whose call is answered or whose leg ends gets a ``call_bar`` event (the web's call
bar asks for the call again); written once, as the times are. The call's agent also hears
when a party joins its three-way room or leaves the call.
A writer applying events in batches calls ``prefetch`` first, applies them under
``session.no_autoflush`` and calls ``write_batch`` before committing: the batch then costs a
few reads, one UPDATE per table and the flush's INSERTs (SQLite), or on PostgreSQL its reads
in one round trip and one write statement (``one_write`` tells whether that is all it writes).
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import json
import re
from typing import NamedTuple

from sqlalchemy import String, any_, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from models.crm.customers import by_phones_query, ids_by_phones, phone_owners
from models.db import UTCDateTime, among, key_chunks, read_pipelined
from models.crm.recordings import attempt_for_call, customer_for_number
from models.phones import normalize_phone
from models.schema import DialAttempt, Event, User
from models.schema.calls import Call, CallLeg
from models.telephony.channels import agent_endpoint
from models.telephony.popups import (agent_extensions, agent_extensions_query, clean_number,
                                     user_for_extension)

DOWN, RING = 0, 4          # Asterisk channel states (ChannelState)
MAX_CACHED = 4000          # rows of each kind kept in session.info (the live calls, and some)
AGENTS_EVERY = 50          # prefetch reads the agents' extensions again every this many batches


@dataclasses.dataclass(frozen=True)
class Chan:
    """One channel as an AMI event shows it (``<prefix>Channel``, ``<prefix>Uniqueid``, ...)."""
    channel: str
    uniqueid: str
    linkedid: str
    state: int | None = None
    caller_num: str | None = None
    connected_num: str | None = None
    context: str | None = None
    exten: str | None = None

    @property
    def local_half(self) -> bool:
        return self.channel.startswith("Local/") and self.channel.endswith(";2")


def number(raw: str | None) -> str | None:
    """E.164 of a number when it is one, else the digits as given (an extension: 8001)."""
    text = clean_number(raw)
    if text is None:
        return None
    return normalize_phone(text) or text


# --- the cache --------------------------------------------------------------------------------
def _cache(session: Session) -> dict:
    """calls/legs: rows by key; absent_*: keys known not to be in the database (``prefetch``,
    this batch only); open: linkedid → uniqueids of the call's legs still up; agents: extension
    → user id (every active user's, loaded by ``prefetch`` every ``AGENTS_EVERY`` batches, and
    the batch's other extensions in one query: an agent given one since is found);
    not_agents: the extensions that query did not find (this batch only); outcomes: dial
    attempt id → its outcome (``prefetch``, this batch only)."""
    cache = session.info.get("call_log")
    if cache is None:
        cache = session.info["call_log"] = dict(
            calls=collections.OrderedDict(), legs=collections.OrderedDict(), agents={},
            agents_batches=0, absent_calls=set(), absent_legs=set(), open={}, attempts={},
            customers={}, outcomes={}, not_agents=set())
    return cache


def prefetch(session: Session, linkedids, uniqueids, numbers=(), channels=()) -> None:
    """Load what a batch of events is about (its calls and legs, the dial attempts of its new
    calls and the outcomes of its dialer calls, the customers of the numbers it names, the
    agents among its channels and caller numbers (``channels``: channel names and extensions),
    every ``AGENTS_EVERY`` batches all agents' extensions), and note which keys are not in the
    database, so that applying the batch asks nothing more (group commit). On PostgreSQL the
    reads go in one round trip (``_pg_prefetch``); elsewhere a few queries.
    (One statement for them all, CTEs side by side, cost more on PostgreSQL: planning it and
    loading its wide rows took more than the round trips it saved.)"""
    cache = _cache(session)
    cache["attempts"], cache["customers"], cache["outcomes"] = {}, {}, {}
    missing = {store: sorted({k for k in keys if k and k not in cache[store]})
               for store, keys in (("calls", linkedids), ("legs", uniqueids))}
    reload_agents = cache["agents_batches"] % AGENTS_EVERY == 0
    cache["agents_batches"] += 1
    e164s = sorted({n for raw in numbers if (n := number(raw)) and n.startswith("+")})
    if session.get_bind().dialect.name == "postgresql":
        _pg_prefetch(session, cache, missing, set(linkedids), channels, reload_agents, e164s)
        return
    for model, column, store, absent in ((Call, Call.linkedid, "calls", "absent_calls"),
                                         (CallLeg, CallLeg.uniqueid, "legs", "absent_legs")):
        _load_rows(session, model, column, missing[store])
        cache[absent] = set(missing[store]) - set(cache[store])
    new_calls = sorted(cache["absent_calls"])
    cache["attempts"] = dict.fromkeys(new_calls)
    for chunk in key_chunks(session, new_calls):
        for attempt in session.scalars(select(DialAttempt).where(
                among(session, DialAttempt.channel_id, chunk))):
            cache["attempts"][attempt.channel_id] = attempt
            cache["outcomes"][attempt.id] = attempt.outcome
    _read_outcomes(session, _open_attempts(cache, linkedids))
    if reload_agents:
        cache["agents"] = agent_extensions(session)
    agents = cache["agents"]
    asked = sorted({ext for name in channels if (ext := _extension(name)) and ext not in agents})
    for chunk in key_chunks(session, asked):
        agents.update(agent_extensions(session, chunk))
    cache["not_agents"] = set(asked) - set(agents)
    cache["customers"] = ids_by_phones(session, e164s)


class _Attempt(NamedTuple):
    """What a new call takes from its dial attempt (``_classify``)."""
    id: int
    campaign_id: int | None
    customer_id: int | None
    number: str


def _pg_prefetch(session: Session, cache: dict, missing: dict, linkedids: set, channels,
                 reload_agents: bool, e164s: list) -> None:
    """prefetch's reads on PostgreSQL, sent together (one round trip, models.db.read_pipelined):
    which of the missing keys have a call or a leg, the dial attempts by the missing linkedids,
    the outcomes of the cached calls' open attempts, the agents, the customers. The rows of
    calls and legs found (only those this writer no longer caches, or another wrote) are then
    loaded as rows of the session, with their calls' open outcomes: a second round trip, rare."""
    agents = cache["agents"]
    asked = sorted({ext for name in channels if (ext := _extension(name)) and ext not in agents})
    sql = _pg_reads(session.get_bind().dialect)
    wanted = {name: keys for name, keys in (
        ("calls", missing["calls"]), ("legs", missing["legs"]), ("attempts", missing["calls"]),
        ("outcomes", _open_attempts(cache, linkedids)), ("agents", asked), ("customers", e164s))
        if keys}
    if reload_agents:
        wanted["all_agents"] = []
    rows = dict(zip(wanted, read_pipelined(session, [(sql[name], {"keys": keys})
                                                      for name, keys in wanted.items()])))
    for model, column, store, absent in ((Call, Call.linkedid, "calls", "absent_calls"),
                                         (CallLeg, CallLeg.uniqueid, "legs", "absent_legs")):
        found = sorted(key for key, in rows.get(store, ()))
        _load_rows(session, model, column, found)
        cache[absent] = set(missing[store]) - set(found)
    absent = cache["absent_calls"]
    cache["attempts"] = dict.fromkeys(sorted(absent))
    for channel_id, id_, campaign_id, customer_id, number_, outcome in rows.get("attempts", ()):
        if channel_id in absent:
            cache["attempts"][channel_id] = _Attempt(id_, campaign_id, customer_id, number_)
            cache["outcomes"][id_] = outcome
    cache["outcomes"].update(rows.get("outcomes", ()))
    if missing["calls"] and len(absent) < len(missing["calls"]):
        _read_outcomes(session, _open_attempts(cache, set(missing["calls"]) - absent))
    if reload_agents:
        agents = cache["agents"] = dict(rows["all_agents"])
    agents.update(rows.get("agents", ()))
    cache["not_agents"] = set(asked) - set(agents)
    cache["customers"] = phone_owners(e164s, rows.get("customers", ()))


@functools.cache
def _pg_reads(dialect) -> dict[str, str]:
    """The SQL of ``_pg_prefetch``'s reads, each of one array parameter ``keys`` (always the
    same text: psycopg prepares them)."""
    def among_keys(column):
        return column == any_(bindparam("keys", type_=ARRAY(column.type)))

    attempt = DialAttempt
    statements = dict(
        calls=select(Call.linkedid).where(among_keys(Call.linkedid)),
        legs=select(CallLeg.uniqueid).where(among_keys(CallLeg.uniqueid)),
        attempts=select(attempt.channel_id, attempt.id, attempt.campaign_id, attempt.customer_id,
                        attempt.number, attempt.outcome).where(among_keys(attempt.channel_id)),
        outcomes=select(attempt.id, attempt.outcome).where(among_keys(attempt.id)),
        agents=agent_extensions_query().where(among_keys(User.extension)),
        all_agents=agent_extensions_query(),
        customers=by_phones_query(among_keys))
    return {name: str(statement.compile(dialect=dialect)) for name, statement in statements.items()}


def _load_rows(session: Session, model, column, keys: list) -> None:
    """The rows of ``model`` with these keys, loaded and cached."""
    store = _cache(session)["calls" if model is Call else "legs"]
    for chunk in key_chunks(session, keys):
        for row in session.scalars(select(model).where(among(session, column, chunk))):
            _remember(store, row.linkedid if model is Call else row.uniqueid, row)


def _open_attempts(cache: dict, linkedids) -> list[int]:
    """The dial attempts of these cached calls whose status the call has not got yet."""
    calls = cache["calls"]
    return sorted({call.attempt_id for key in linkedids if (call := calls.get(key)) is not None
                   and call.attempt_id and call.dial_status is None})


def _read_outcomes(session: Session, attempt_ids: list[int]) -> None:
    outcomes = _cache(session)["outcomes"]
    for chunk in key_chunks(session, attempt_ids):
        outcomes.update(session.execute(select(DialAttempt.id, DialAttempt.outcome)
                                        .where(among(session, DialAttempt.id, chunk))).all())


def reread_outcomes(session: Session) -> None:
    """The outcomes ``prefetch`` found still open, read again (one query, when there are any):
    after a read made outside the write lock, the dialer may have closed those attempts since
    (its ``attempt_closed`` finds no row for a call this batch adds)."""
    outcomes = _cache(session)["outcomes"]
    _read_outcomes(session, sorted(key for key, outcome in outcomes.items() if outcome is None))


def _attempt(session: Session, uniqueid: str) -> DialAttempt | None:
    attempts = _cache(session)["attempts"]
    if uniqueid in attempts:
        return attempts[uniqueid]
    return attempt_for_call(session, uniqueid)


def _customer(session: Session, e164: str | None) -> int | None:
    """The one customer with this number (models.crm.recordings.customer_for_number)."""
    if not e164:
        return None
    known = _cache(session)["customers"].get(e164)
    if known is not None:
        return known[0] if len(known) == 1 else None
    return customer_for_number(session, e164)


# What the events decide (only this module writes them; the dialer writes dial_status, the
# wrap-up disposition and note): ``write_batch`` sends them all with every changed row.
_EVENT_COLUMNS = {
    Call: ("direction", "state", "from_number", "to_number", "started_at", "ringing_at",
           "answered_at", "ended_at", "queued_at", "ring_seconds", "queue_seconds",
           "talk_seconds", "hold_seconds", "hangup_cause", "queue", "abandoned"),
    CallLeg: ("channel", "role", "number", "user_id", "started_at", "answered_at", "ended_at",
              "cause", "hold_since"),
}
# Set once by the events, and written by others too (the dialer's status, the customer an IVR
# caller became: ``attach_customer``): the row's value, once it has one, stays.
_FIRST_WINS = {Call: ("customer_id", "user_id", "campaign_id", "attempt_id", "dial_status"),
               CallLeg: ()}


def _update_statement(model):
    table = model.__table__
    values = {c: bindparam(c) for c in _EVENT_COLUMNS[model]}
    values.update({c: func.coalesce(table.c[c], bindparam(c)) for c in _FIRST_WINS[model]})
    return update(table).where(table.c.id == bindparam("_id")).values(values)


_UPDATES = {model: _update_statement(model) for model in _EVENT_COLUMNS}


def write_batch(session: Session) -> None:
    """Before a batch's commit: its changes to rows already written go out in one UPDATE per
    table, of every column above, always the same statement (the flush would send one per
    combination of changed columns, and psycopg parses each new text); those rows are then
    clean. On PostgreSQL the batch's new rows go in the same statement (``_pg_write``: one
    round trip for the batch's calls and legs)."""
    with session.no_autoflush:
        changed = {model: _changed_rows(session, model) for model in _EVENT_COLUMNS}
        if session.get_bind().dialect.name == "postgresql":
            _pg_write(session, changed)
            return
        for model, params in changed.items():
            if params:
                session.execute(_UPDATES[model], [dict(p, _id=p["id"]) for p in params])


def one_write(session: Session) -> bool:
    """Whether all the batch left to write is ``write_batch``'s one statement on PostgreSQL:
    new calls, legs and events, and changes of the columns it sends; nothing deleted, no other
    row, no other column (the flush would send those apart)."""
    if session.deleted or any(type(obj) not in (Call, CallLeg, Event) for obj in session.new):
        return False
    for obj in session.dirty:
        allowed = _EVENT_COLUMNS.get(type(obj), ()) + _FIRST_WINS.get(type(obj), ())
        if not set(instance_state(obj).committed_state) <= set(allowed):
            return False
    return True


def _changed_rows(session: Session, model) -> list[dict]:
    """The values of the changed rows of ``model`` (the objects are then clean)."""
    out = []
    columns = ("id", *_EVENT_COLUMNS[model], *_FIRST_WINS[model])
    allowed = set(columns)
    for obj in list(session.dirty):
        if type(obj) is not model:
            continue
        state = instance_state(obj)
        changed = [key for key in state.committed_state if key in model.__table__.c]
        if not changed or not set(changed) <= allowed:
            continue      # nothing to write, or a column only the flush knows how to send
        out.append({c: state.dict.get(c) for c in columns})
        for key in changed:
            set_committed_value(obj, key, state.dict.get(key))
    return out


def _recordset(model, columns, name: str, extra: str = "") -> str:
    """``json_to_recordset(CAST(:name AS JSON)) AS v(column type, ...)``: the rows given as one
    JSON array of objects (a parameter psycopg sends as one string: cheaper than an array per
    column, each dumped in Python, and a statement of few parameters)."""
    dialect = postgresql.dialect()
    table = model.__table__
    defs = ", ".join(f"{c} {table.c[c].type.compile(dialect=dialect)}" for c in columns)
    return f"json_to_recordset(CAST(:{name} AS JSON)) AS v({defs}{extra})"


def _json_rows(rows: list[dict]) -> str:
    return json.dumps(rows, default=_json_value, separators=(",", ":"))


def _json_value(value):
    if isinstance(value, dt.datetime):       # as UTCDateTime stores it: naive UTC
        return UTCDateTime().process_bind_param(value, None).isoformat()
    raise TypeError(f"not a column value: {value!r}")


def _update_columns(model) -> tuple[str, ...]:
    return ("id", *_EVENT_COLUMNS[model], *_FIRST_WINS[model])


def _insert_columns(model) -> tuple[str, ...]:
    return tuple(c.name for c in model.__table__.columns if c.name != "id")


@functools.cache
def _pg_write_statement():
    """One statement for a batch: the changed calls and legs updated from JSON rows
    (``UPDATE ... FROM json_to_recordset``; the first-written columns as ``COALESCE(row,
    ours)``, so what the dialer or an IVR wrote stays), the new calls inserted, then the new
    legs, whose ``call_id`` is their call's id, or the new call's by its linkedid; it returns
    the new rows' ids by key; the batch's events for the call bars (``_tell_agent``) are
    inserted too. Always the same text (empty arrays: nothing to do)."""
    ctes = []
    for model, name in ((Call, "uc"), (CallLeg, "ul")):
        columns = _update_columns(model)
        sets = ", ".join(f"{c} = COALESCE(t.{c}, v.{c})" if c in _FIRST_WINS[model]
                         else f"{c} = v.{c}" for c in columns[1:])
        ctes.append(f"{name} AS (UPDATE {model.__tablename__} AS t SET {sets}"
                    f" FROM {_recordset(model, columns, name)} WHERE t.id = v.id)")
    columns = _insert_columns(Call)
    ctes.append(f"ic AS (INSERT INTO calls ({', '.join(columns)})"
                f" SELECT {', '.join('v.' + c for c in columns)}"
                f" FROM {_recordset(Call, columns, 'ic')} RETURNING linkedid, id)")
    columns = _insert_columns(CallLeg)
    values = ", ".join("COALESCE(v.call_id, ic.id)" if c == "call_id" else f"v.{c}"
                       for c in columns)
    ctes.append(f"il AS (INSERT INTO call_legs ({', '.join(columns)}) SELECT {values}"
                f" FROM {_recordset(CallLeg, columns, 'il', ', _linkedid VARCHAR(64)')}"
                f" LEFT JOIN ic ON ic.linkedid = v._linkedid RETURNING uniqueid, id)")
    columns = _insert_columns(Event)
    ctes.append(f"ie AS (INSERT INTO events ({', '.join(columns)})"
                f" SELECT {', '.join('v.' + c for c in columns)}"
                f" FROM {_recordset(Event, columns, 'ie')})")
    return text(f"WITH {', '.join(ctes)} SELECT 'call' AS kind, linkedid AS key, id FROM ic"
                f" UNION ALL SELECT 'leg', uniqueid, id FROM il")


def _pg_write(session: Session, changed: dict) -> None:
    """Write the batch's changed rows (``changed``: ``_changed_rows`` by model) and its new
    calls and legs and its events in one statement, then make the new calls and legs
    persistent as if loaded (the commit's flush has nothing left to send for them); the events,
    never read again, leave the session."""
    new = {Call: [], CallLeg: [], Event: []}
    for obj in session.new:
        if type(obj) in new:
            new[type(obj)].append(obj)
    if not any(changed.values()) and not any(new.values()):
        return
    rows = {"uc": changed[Call], "ul": changed[CallLeg]}
    for model, name in ((Call, "ic"), (CallLeg, "il"), (Event, "ie")):
        table = model.__table__
        defaults = {c: table.c[c].default.arg if table.c[c].default is not None
                    and table.c[c].default.is_scalar else None for c in _insert_columns(model)}
        rows[name] = [{c: state.get(c, default) for c, default in defaults.items()}
                      for state in (instance_state(obj).dict for obj in new[model])]
    for leg, row in zip(new[CallLeg], rows["il"]):
        row["call_id"], row["_linkedid"] = leg.call.id, leg.call.linkedid
    params = {name: _json_rows(value) for name, value in rows.items()}
    ids = {(kind, key): id_ for kind, key, id_ in session.execute(_pg_write_statement(), params)}
    for obj in new[Call]:
        obj.id = ids["call", obj.linkedid]
    for leg in new[CallLeg]:
        leg.id, leg.call_id = ids["leg", leg.uniqueid], leg.call.id
    for obj in new[CallLeg] + new[Call] + new[Event]:
        session.expunge(obj)
    for obj in new[Call] + new[CallLeg]:
        make_transient_to_detached(obj)
        session.add(obj)


def forget(session: Session) -> None:
    """Drop the cached rows (after a rollback: rows added in it were never written)."""
    session.info.pop("call_log", None)


def _remember(store: collections.OrderedDict, key: str, row) -> None:
    store[key] = row
    store.move_to_end(key)
    while len(store) > MAX_CACHED:
        store.popitem(last=False)


def find_call(session: Session, linkedid: str) -> Call | None:
    cache = _cache(session)
    calls = cache["calls"]
    call = calls.get(linkedid)
    if call is None and linkedid not in cache["absent_calls"]:
        call = session.scalar(select(Call).where(Call.linkedid == linkedid))
        if call is not None:
            _remember(calls, linkedid, call)
    return call


def find_leg(session: Session, uniqueid: str) -> CallLeg | None:
    cache = _cache(session)
    legs = cache["legs"]
    leg = legs.get(uniqueid)
    if leg is None and uniqueid not in cache["absent_legs"]:
        leg = session.scalar(select(CallLeg).where(CallLeg.uniqueid == uniqueid))
        if leg is not None:
            _remember(legs, uniqueid, leg)
    return leg


def agent_of(session: Session, channel: str | None, caller_num: str | None = None) -> int | None:
    """The user whose phone this channel is (by its name), else whose extension the caller-ID
    number is (``caller_num``: a phone's own channel in the agents' context)."""
    cache = _cache(session)
    agents = cache["agents"]
    for ext in (_extension(channel), _extension(caller_num)):
        if not ext or ext in cache["not_agents"]:
            continue
        if ext not in agents:     # not prefetched: asked alone
            user = user_for_extension(session, ext)
            if user is None:
                cache["not_agents"].add(ext)
                continue
            agents[ext] = user.id
        return agents[ext]
    return None


def _extension(name: str | None) -> str | None:
    """The extension a channel name (or a bare caller number) may be an agent's phone by."""
    if not name:
        return None
    endpoint = agent_endpoint(name) if "/" in name else (name, None)
    ext = endpoint[0] if endpoint else None
    return ext if ext and len(ext) <= 32 else None


# --- rows -------------------------------------------------------------------------------------
# Given as None when a row is made, so that the row in memory holds every column: reading one
# after the INSERT asks the database nothing.
_UNSET_CALL = ("from_number", "to_number", "ringing_at", "answered_at", "ended_at", "queued_at",
               "customer_id", "user_id", "campaign_id", "attempt_id", "hangup_cause",
               "dial_status", "queue", "disposition", "note")
_UNSET_LEG = ("number", "answered_at", "ended_at", "cause", "hold_since")
def _new_call(session: Session, ch: Chan, started: dt.datetime) -> Call:
    call = Call(linkedid=ch.linkedid, direction="inbound", state="ringing", started_at=started,
                ring_seconds=0.0, queue_seconds=0.0, talk_seconds=0.0, hold_seconds=0.0,
                abandoned=False, **dict.fromkeys(_UNSET_CALL))
    session.add(call)
    cache = _cache(session)
    _remember(cache["calls"], ch.linkedid, call)
    cache["open"][ch.linkedid] = set()
    return call


def _open_legs(session: Session, call: Call) -> set[str]:
    """The uniqueids of the call's legs still up (kept in memory; read once per call)."""
    store = _cache(session)["open"]
    if call.linkedid not in store:
        store[call.linkedid] = set(session.scalars(
            select(CallLeg.uniqueid).where(CallLeg.call_id == call.id, CallLeg.ended_at.is_(None))))
        while len(store) > MAX_CACHED:
            store.pop(next(iter(store)))
    return store[call.linkedid]


def _classify(session: Session, call: Call, ch: Chan, leg: CallLeg) -> None:
    """What the call is, from its first channel (see the module's docstring)."""
    attempt = _attempt(session, ch.uniqueid)
    if attempt is not None:
        call.direction, leg.role = "dialer", "customer"
        call.attempt_id, call.campaign_id = attempt.id, attempt.campaign_id
        call.customer_id = attempt.customer_id
        call.to_number = number(attempt.number)
        leg.number = call.to_number
        return
    if leg.user_id is not None:
        rung = ch.state == DOWN or (ch.channel.startswith("Local/") and ch.channel.endswith(";1"))
        call.direction = "click_to_call" if rung else "manual"
        call.user_id = leg.user_id
        extension = agent_endpoint(ch.channel)[0]
        call.from_number = number(extension)
        if call.direction == "manual" and ch.exten not in (None, "", "s", extension):
            call.to_number = number(ch.exten)     # what the phone dialled
            if call.to_number:
                call.customer_id = _customer(session, call.to_number)
        return
    leg.role = "caller"
    call.to_number = number(ch.exten)
    _caller_number(session, call, leg, ch)


def _caller_number(session: Session, call: Call, leg: CallLeg, ch: Chan) -> None:
    call.from_number = leg.number = number(ch.caller_num)
    if call.from_number and call.customer_id is None:
        call.customer_id = _customer(session, call.from_number)


def _leg(session: Session, ch: Chan, now: dt.datetime, started: dt.datetime | None = None,
         ) -> tuple[Call, CallLeg] | None:
    """The call and leg of a channel, made when first seen; None when the call already ended
    (a late or replayed event)."""
    call = find_call(session, ch.linkedid)
    leg = find_leg(session, ch.uniqueid)
    if leg is not None and leg.call is not call:
        call = leg.call     # a third party moved into a three-way call (conference_joined)
    if call is None:
        call = _new_call(session, ch, started or now)
    if call.state == "ended":
        return None
    if leg is None:
        user_id = None if ch.local_half else agent_of(session, ch.channel)
        role = "agent" if user_id else "local" if ch.local_half else "other"
        leg = CallLeg(call=call, uniqueid=ch.uniqueid, channel=ch.channel[:128], role=role,
                      user_id=user_id, started_at=started or now, **dict.fromkeys(_UNSET_LEG))
        _open_legs(session, call).add(ch.uniqueid)
        session.add(leg)
        _remember(_cache(session)["legs"], ch.uniqueid, leg)
        if ch.uniqueid == ch.linkedid:
            _classify(session, call, ch, leg)
        if started is not None and started < call.started_at:
            call.started_at = started
    elif leg.role == "caller" and call.from_number is None and clean_number(ch.caller_num):
        _caller_number(session, call, leg, ch)   # an Originate's channel gets its ID later
    return call, leg


def _seconds(later: dt.datetime | None, earlier: dt.datetime | None) -> float:
    if later is None or earlier is None:
        return 0.0
    return max(0.0, (later - earlier).total_seconds())


# --- events -----------------------------------------------------------------------------------
def channel_seen(session: Session, ch: Chan, now: dt.datetime, *,
                 started: dt.datetime | None = None) -> CallLeg | None:
    """Newchannel (or a channel CoreShowChannels lists: ``started`` = now − its Duration)."""
    found = _leg(session, ch, now, started)
    return found[1] if found else None


def dial_begin(session: Session, caller: Chan | None, dest: Chan, now: dt.datetime, *,
               from_agent_context: bool = False) -> None:
    """DialBegin. ``caller`` is None for the Dial an Originate makes itself;
    ``from_agent_context``: the calling channel runs the agents' outbound context."""
    found = _leg(session, dest, now)
    if found is None:
        return
    call, dest_leg = found
    if call.ringing_at is None:
        call.ringing_at = now
    if caller is None:
        return
    found = _leg(session, caller, now)
    if found is None:
        return
    if from_agent_context and call.direction == "inbound":
        call.direction = "manual"
        call.user_id = call.user_id or agent_of(session, caller.channel, caller.caller_num)
        call.from_number = call.from_number or number(caller.caller_num)
    if call.direction not in ("manual", "click_to_call"):
        return
    if dest_leg.role == "agent":
        if call.direction == "manual":
            call.direction = "internal"
            call.to_number = call.to_number or number(agent_endpoint(dest.channel)[0])
        return
    if dest_leg.role == "other":
        dest_leg.role = "customer"
    if call.to_number is None:
        call.to_number = number(caller.exten)
        dest_leg.number = call.to_number
        if call.to_number and call.customer_id is None:
            call.customer_id = _customer(session, call.to_number)


def dial_end(session: Session, caller: Chan | None, dest: Chan, status: str,
             now: dt.datetime) -> None:
    """DialEnd: an ANSWER answers the dialled leg. It answers the call when a person of the
    call answered: for an inbound call an agent (not the IVR or the queue answering the
    caller), for a click-to-call the customer (not the agent's phone answering the Originate)."""
    if status != "ANSWER":
        return
    found = _leg(session, dest, now)
    if found is None:
        return
    call, leg = found
    if leg.answered_at is None:
        leg.answered_at = now
        if leg.role == "agent" and call.answered_at is not None:   # joins a call going on
            _tell_agent(session, leg.user_id, call.linkedid, "answered", now)
    if leg.role == "agent" and call.user_id is None:
        call.user_id = leg.user_id
    if call.direction == "inbound" and leg.role != "agent":
        return
    if caller is None and call.direction == "click_to_call":
        return
    _answer(session, call, now)


def _answer(session: Session, call: Call, now: dt.datetime) -> None:
    if call.answered_at is None:
        call.answered_at = now
        call.state = "up"
        _tell_agent(session, call.user_id, call.linkedid, "answered", now)


def _tell_agent(session: Session, user_id: int | None, linkedid: str, change: str,
                now: dt.datetime) -> None:
    """The agent's call bar hears that the call changed (admin/console)."""
    if user_id is not None:
        session.add(Event(kind="call_bar", user_id=user_id, created_at=now,
                          payload=dict(linkedid=linkedid, change=change)))


def agent_connect(session: Session, caller: Chan, agent_channel: str | None,
                  now: dt.datetime) -> None:
    """AgentConnect: a queue put the caller through to a member."""
    found = _leg(session, caller, now)
    if found is None:
        return
    call, _ = found
    if call.user_id is None:
        call.user_id = agent_of(session, agent_channel)
    _answer(session, call, now)


def queue_joined(session: Session, ch: Chan, queue: str | None, now: dt.datetime) -> None:
    found = _leg(session, ch, now)
    if found is None:
        return
    call, _ = found
    if call.queued_at is None:
        call.queued_at, call.queue = now, (queue or "")[:64] or None


def queue_left(session: Session, ch: Chan, now: dt.datetime, *, abandoned: bool = False,
               hold_time: float | None = None) -> None:
    """QueueCallerLeave, or QueueCallerAbandon (``abandoned``; it comes first)."""
    found = _leg(session, ch, now)
    if found is None:
        return
    call, _ = found
    if abandoned:
        call.abandoned = True
    if call.queue_seconds == 0:
        call.queue_seconds = (_seconds(now, call.queued_at) if call.queued_at
                              else float(hold_time or 0))


def hold(session: Session, ch: Chan, on: bool, now: dt.datetime) -> None:
    """MusicOnHoldStart/Stop. Music before the answer is the queue's, not a hold."""
    found = _leg(session, ch, now)
    if found is None:
        return
    call, leg = found
    if on:
        if call.answered_at is not None and leg.hold_since is None:
            leg.hold_since = now
    else:
        _end_hold(call, leg, now)


def _end_hold(call: Call, leg: CallLeg, now: dt.datetime) -> None:
    if leg.hold_since is not None:
        call.hold_seconds += _seconds(now, leg.hold_since)
        leg.hold_since = None


def channel_ended(session: Session, ch: Chan, cause: int | None, now: dt.datetime) -> None:
    """Hangup: the leg ends; the call ends with its last leg."""
    found = _leg(session, ch, now)
    if found is None:
        return
    call, leg = found
    if leg.ended_at is not None:
        return
    _end_leg(call, leg, cause, now)
    if leg.role == "agent":
        _tell_agent(session, leg.user_id, call.linkedid, "ended", now)
    open_legs = _open_legs(session, call)
    open_legs.discard(leg.uniqueid)
    if not open_legs:
        _close(session, call, now)
    elif leg.role != "local" and leg.user_id != call.user_id:   # a party left (a three-way)
        _tell_agent(session, call.user_id, call.linkedid, "left", now)


ROOM = re.compile(r"dialfunnel-(\d+)")   # a three-way room: dialfunnel-<the call's id>


def conference_joined(session: Session, ch: Chan, conference: str | None, now: dt.datetime) -> None:
    """ConfbridgeJoin. The room dialfunnel-<n> belongs to call n (agi/console/conference.py
    names it so): a channel of another call that joins it (a colleague or an outside number
    originated into the room, with its own linkedid) is moved into call n with every leg of its
    own call, whose row goes; later events of those legs find call n through the leg. So the
    three-way call keeps every leg and ends with its last one."""
    match = ROOM.fullmatch(conference or "")
    if not match:
        return
    call = session.get(Call, int(match.group(1)))
    if call is None or call.state == "ended":
        return
    found = _leg(session, ch, now)
    if found is None or found[0] is call:
        return
    other = found[0]
    session.flush()
    moved = list(session.scalars(select(CallLeg).where(CallLeg.call_id == other.id)))
    opened = _open_legs(session, call)
    for leg in moved:
        leg.call = call
        if leg.ended_at is None:
            opened.add(leg.uniqueid)
    cache = _cache(session)
    cache["open"].pop(other.linkedid, None)
    _remember(cache["calls"], other.linkedid, call)
    session.delete(other)
    _tell_agent(session, call.user_id, call.linkedid, "joined", now)


def _end_leg(call: Call, leg: CallLeg, cause: int | None, now: dt.datetime) -> None:
    leg.ended_at, leg.cause = now, cause
    _end_hold(call, leg, now)
    if cause and not call.hangup_cause:
        call.hangup_cause = cause


def _close(session: Session, call: Call, now: dt.datetime) -> None:
    call.ended_at, call.state = now, "ended"
    _cache(session)["open"].pop(call.linkedid, None)
    if call.hangup_cause is None:
        call.hangup_cause = 0
    call.ring_seconds = _seconds(call.answered_at or now, call.ringing_at or call.started_at)
    call.talk_seconds = _seconds(now, call.answered_at)
    if call.attempt_id is not None and call.dial_status is None:
        outcomes = _cache(session)["outcomes"]
        call.dial_status = (outcomes[call.attempt_id] if call.attempt_id in outcomes else
                            session.scalar(select(DialAttempt.outcome)
                                           .where(DialAttempt.id == call.attempt_id)))


_CLOSE_CALLS = (update(Call.__table__).where(Call.__table__.c.attempt_id == bindparam("attempt"))
                .values(dial_status=bindparam("status")))   # built once: it runs for every attempt


def attempt_closed(session: Session, attempt: DialAttempt) -> None:
    """The dialer closed an attempt: its call (if logged already) gets the status word."""
    session.execute(_CLOSE_CALLS, {"attempt": attempt.id, "status": attempt.outcome})


def attach_customer(session: Session, linkedid: str | None, customer_id: int) -> bool:
    """The customer of a call found while it runs (an IVR caller who became one): set when
    the call has none yet. Safe beside the listener: it writes ``customer_id`` only from the
    events (a value, never None over a value), and its flushes send only changed columns."""
    if not linkedid:
        return False
    done = session.execute(update(Call).where(Call.linkedid == linkedid,
                                              Call.customer_id.is_(None))
                           .values(customer_id=customer_id)
                           .execution_options(synchronize_session=False))
    return done.rowcount == 1


def reconcile(session: Session, live: list[tuple[Chan, float]], now: dt.datetime,
              since: dt.datetime) -> tuple[int, int]:
    """After a (re)connect, from CoreShowChannels taken at ``since``: ``live`` holds each live
    channel and its age in seconds. Unknown live channels are added (started = now − age);
    legs of calls still open that began before ``since`` and are not live are ended, and a
    call without a live leg left is closed. Returns (legs added, calls closed)."""
    alive = {ch.uniqueid for ch, _ in live}
    prefetch(session, {ch.linkedid for ch, _ in live}, alive)
    added = 0
    for ch, age in live:
        if find_leg(session, ch.uniqueid) is None:
            if channel_seen(session, ch, now, started=now - dt.timedelta(seconds=age)):
                added += 1
    session.flush()
    closed = 0
    for call in session.scalars(select(Call).where(Call.state != "ended")):
        if call.started_at >= since:
            continue
        _remember(_cache(session)["calls"], call.linkedid, call)
        legs = list(session.scalars(select(CallLeg).where(CallLeg.call_id == call.id)))
        for leg in legs:
            if leg.ended_at is None and leg.uniqueid not in alive and leg.started_at < since:
                _end_leg(call, leg, None, now)
        _cache(session)["open"].pop(call.linkedid, None)
        if all(leg.ended_at is not None for leg in legs):
            _close(session, call, now)
            closed += 1
    return added, closed
