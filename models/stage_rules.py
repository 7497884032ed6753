"""C3 stage rules, read from the stage_rules table."""
from __future__ import annotations

from sqlalchemy.orm import Session

from .errors import InvalidValue, StageRuleForbids
from .schema import STAGES, StageRule

ARCHIVE = "archive"
RANK = {None: 0, **{stage: i + 1 for i, stage in enumerate(STAGES)}}


def rule_key(stage: str | None) -> str:
    return stage or ARCHIVE


def rule_for(session: Session, stage: str | None) -> StageRule:
    rule = session.get(StageRule, rule_key(stage))
    if rule is None:
        raise InvalidValue("customer.bad_stage", stage=stage)
    return rule


def check_stage(stage: str | None) -> str | None:
    """'' and 'archive' mean no stage; anything else must be one of the five."""
    if stage in (None, "", ARCHIVE):
        return None
    if stage not in STAGES:
        raise InvalidValue("customer.bad_stage", stage=stage)
    return stage


def require(session: Session, stage: str | None, action: str) -> StageRule:
    """Refuse `action` (claim, release, promote, demote) when the stage's rule forbids it."""
    rule = rule_for(session, stage)
    if not getattr(rule, f"{action}_allowed"):
        raise StageRuleForbids(action=action, stage=rule_key(stage))
    return rule
