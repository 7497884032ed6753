"""Promote, demote and the stage marks (C1, C3, C4); `set_stage`, the one writer of a
customer's stage, which logs every change to stage_history (the bulk writers, the Excel
import and the demo data, log theirs with `log_new_stages` / `log_stage_rows`)."""
from __future__ import annotations

from sqlalchemy import Integer, insert, literal, update
from sqlalchemy.orm import Session, object_session

from models.clock import SYSTEM_CLOCK
from models.crm.history import set_operators
from models.crm.stage_rules import RANK, check_stage, require, rule_for, rule_key
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue, StageRuleForbids
from models.schema import Customer, Opportunity, StageHistory, User

CONTACT_MARKS = ("not_contacted", "contacted")
TRACKING_MARKS = ("tracking", "paused")


def promote(session: Session, actor: User, customer_id: int, to_stage: str, *,
            clock=SYSTEM_CLOCK) -> Customer:
    """上转 to any higher stage."""
    to_stage = check_stage(to_stage)
    customer = get_visible_customer(session, actor, customer_id)
    require(session, customer.stage, "promote")
    if to_stage is None or RANK[to_stage] <= RANK[customer.stage]:
        raise InvalidValue("stage.not_higher")
    set_stage(session, customer, to_stage, actor=actor, kind="promote", now=clock.now())
    session.flush()
    return customer


def demote(session: Session, actor: User, customer_id: int, to_stage: str | None, *,
           clock=SYSTEM_CLOCK) -> Customer:
    """下放 to any lower stage; to reserve the customer becomes shared, to the archive
    (None) it loses its stage."""
    to_stage = check_stage(to_stage)
    customer = get_visible_customer(session, actor, customer_id)
    require(session, customer.stage, "demote")
    if RANK[to_stage] >= RANK[customer.stage]:
        raise InvalidValue("stage.not_lower")
    now = clock.now()
    set_stage(session, customer, to_stage, actor=actor, kind="demote", now=now)
    if to_stage == "reserve" and customer.ownership != "shared":
        set_operators(session, customer, actor, "demote_to_reserve", [], now)
    session.flush()
    return customer


def raise_stage_automatically(customer: Customer, to_stage: str, now, *,
                              actor: User | None = None, rule: str | None = None) -> None:
    """C4: records (opportunity, order) lift a customer that is lower; never lower it.
    The move is logged as kind 'rule:<rule>' (default: the stage reached), made by `actor`."""
    if RANK[customer.stage] < RANK[to_stage]:
        set_stage(object_session(customer), customer, to_stage, actor=actor,
                  kind=f"rule:{rule or to_stage}", now=now)


def set_stage(session: Session, customer: Customer, to_stage: str | None, *,
              actor: User | None, kind: str, now) -> None:
    """THE writer of `Customer.stage` (None: the archive): sets it with stage_changed_at and
    updated_at, and logs one stage_history row (kind: 'create', 'promote', 'demote',
    'screen', 'rule:<name>'...; actor None for the system). Nothing is logged when the stage
    stays the same (a new customer without a stage, for one). A new customer must already
    be in the session: its row gets its id when flushed."""
    from_stage = customer.stage
    customer.stage = to_stage
    customer.stage_changed_at = now
    customer.updated_at = now
    if from_stage == to_stage:
        return
    session.add(StageHistory(customer=customer, from_stage=from_stage, to_stage=to_stage,
                             actor_id=actor.id if actor is not None else None, kind=kind,
                             at=now))


def log_stage_rows(session: Session, rows: list[dict]) -> None:
    """Bulk writers (demo data): log stage changes of customers they inserted themselves,
    one dict per change with the keys of stage_history (customer_id, from_stage, to_stage,
    actor_id, kind, at)."""
    if rows:
        session.execute(insert(StageHistory), rows, execution_options={"render_nulls": True})


def log_new_stages(session: Session, id_select, to_stage: str | None, *,
                   actor_id: int | None, kind: str, now) -> None:
    """Bulk writers (the Excel import): log the first stage of the new customers whose ids
    `id_select` (a SELECT of one column) finds, in one INSERT ... SELECT."""
    if to_stage is None:
        return
    table = StageHistory.__table__
    session.execute(insert(table).from_select(
        ["customer_id", "from_stage", "to_stage", "actor_id", "kind", "at"],
        id_select.add_columns(literal(None, table.c.from_stage.type), literal(to_stage),
                              literal(actor_id, Integer), literal(kind),
                              literal(now, table.c.at.type))))


def _mark_rule(session: Session, customer: Customer, mark: str) -> None:
    if mark not in rule_for(session, customer.stage).marks:
        raise StageRuleForbids("mark.not_allowed", action=mark, stage=rule_key(customer.stage))


def set_contact_mark(session: Session, actor: User, customer_id: int, mark: str, *,
                     clock=SYSTEM_CLOCK) -> Customer:
    """联系标记: not contacted / contacted (reserve and target)."""
    if mark not in CONTACT_MARKS:
        raise InvalidValue("mark.bad_value", value=mark)
    customer = get_visible_customer(session, actor, customer_id)
    _mark_rule(session, customer, "contact")
    customer.contact_mark, customer.updated_at = mark, clock.now()
    session.flush()
    return customer


def set_tracking_mark(session: Session, actor: User, customer_id: int, mark: str, *,
                      clock=SYSTEM_CLOCK) -> Customer:
    """跟踪标记: tracking / paused. Pausing an opportunity customer pauses its selling
    opportunities (C4)."""
    if mark not in TRACKING_MARKS:
        raise InvalidValue("mark.bad_value", value=mark)
    customer = get_visible_customer(session, actor, customer_id)
    _mark_rule(session, customer, "tracking")
    now = clock.now()
    customer.tracking_mark, customer.updated_at = mark, now
    if mark == "paused" and customer.stage == "opportunity":
        session.execute(update(Opportunity)
                        .where(Opportunity.customer_id == customer.id,
                               Opportunity.state == "selling")
                        .values(state="paused", updated_at=now)
                        .execution_options(synchronize_session="fetch"))
    session.flush()
    return customer
