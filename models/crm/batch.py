"""Batch actions on the customers ticked in a list (C6 multi-select): claim, release and
stage change (客户阶段转变), each customer in its own savepoint with its own result."""
from __future__ import annotations

from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.ownership import claim, claim_many, release, screen
from models.crm.stage_rules import RANK, check_stage
from models.crm.stages import demote, promote
from models.crm.visibility import get_visible_customer
from models.errors import DomainError, InvalidValue
from models.schema import Customer, User

BATCH_ACTIONS = ("claim", "release", "stage")
MAX_BATCH = 200


def change_stage(session: Session, actor: User, customer_id: int, to_stage: str | None, *,
                 clock=SYSTEM_CLOCK) -> Customer:
    """Move a customer to `to_stage` by the way the rules allow: a reserve customer is
    screened up (quota counted when shared), a higher stage is a promotion, a lower stage
    or the archive a demotion."""
    to_stage = check_stage(to_stage)
    customer = get_visible_customer(session, actor, customer_id)
    if customer.stage == "reserve" and RANK[to_stage] > RANK["reserve"]:
        return screen(session, actor, customer_id, to_stage, clock=clock)
    if RANK[to_stage] > RANK[customer.stage]:
        return promote(session, actor, customer_id, to_stage, clock=clock)
    return demote(session, actor, customer_id, to_stage, clock=clock)


def run_batch(session: Session, actor: User, action: str, customer_ids: list[int], *,
              to_stage: str | None = None, clock=SYSTEM_CLOCK) -> dict[int, DomainError | None]:
    """{customer id: None (done) or the refusal}, in ascending id order. Claims go through
    claim_many, so the daily quota and the one-winner rule hold per customer."""
    if action not in BATCH_ACTIONS:
        raise InvalidValue(field="action")
    if not customer_ids or len(set(customer_ids)) > MAX_BATCH:
        raise InvalidValue(field="ids")
    if action == "stage":
        to_stage = check_stage(to_stage)
    actions = {
        "claim": lambda cid: claim(session, actor, cid, clock=clock),
        "release": lambda cid: release(session, actor, cid, clock=clock),
        "stage": lambda cid: change_stage(session, actor, cid, to_stage, clock=clock),
    }
    refusals: dict[int, DomainError] = {}

    def one(cid: int) -> None:
        try:
            actions[action](cid)
        except DomainError as exc:
            refusals[cid] = exc  # keep the parameters for the message
            raise

    keys = claim_many(session, actor, customer_ids, clock=clock, action=one)
    return {cid: (refusals[cid] if key else None) for cid, key in keys.items()}
