"""Promote, demote and the stage marks (C1, C3, C4)."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from .clock import SYSTEM_CLOCK
from .errors import InvalidValue, StageRuleForbids
from .history import set_operators
from .schema import Customer, Opportunity, User
from .stage_rules import RANK, check_stage, require, rule_for, rule_key
from .visibility import get_visible_customer

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
    _set_stage(customer, to_stage, clock.now())
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
    _set_stage(customer, to_stage, now)
    if to_stage == "reserve" and customer.ownership != "shared":
        set_operators(session, customer, actor, "demote_to_reserve", [], now)
    session.flush()
    return customer


def raise_stage_automatically(customer: Customer, to_stage: str, now) -> None:
    """C4: records (opportunity, order) lift a customer that is lower; never lower it."""
    if RANK[customer.stage] < RANK[to_stage]:
        _set_stage(customer, to_stage, now)


def _set_stage(customer: Customer, stage: str | None, now) -> None:
    customer.stage = stage
    customer.stage_changed_at = now
    customer.updated_at = now


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
