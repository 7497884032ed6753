"""C3 stage rules: what each stage allows (read by every rule that moves a customer) and the
admin's editing of them."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import InvalidValue, StageRuleForbids
from models.fields import CUSTOMER_DATA_FIELDS
from models.schema import STAGES, StageRule
from models.values import Invalid, as_bool

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


# ---- stage rules (C3) ------------------------------------------------------------------------

RULE_STAGES = (ARCHIVE,) + STAGES
MARKS = ("contact", "tracking", "sales", "order")
RULE_ACTIONS = ("claim", "release", "promote", "demote")
# Fields a stage rule may make editable: every customer data field except the name.
EDITABLE_FIELDS = tuple(f for f in CUSTOMER_DATA_FIELDS if f != "name")


def list_stage_rules(session: Session) -> list[StageRule]:
    rules = {rule.stage: rule for rule in session.scalars(select(StageRule))}
    return [rules[stage] for stage in RULE_STAGES if stage in rules]


def update_stage_rule(session: Session, stage: Any, *, editable_fields: list, marks: list,
                      **allowed: Any) -> StageRule:
    """`allowed` holds claim / release / promote / demote (absent = not allowed)."""
    if stage not in RULE_STAGES:
        raise Invalid("admin.unknown_stage", value=stage)
    unknown = set(allowed) - set(RULE_ACTIONS)
    if unknown:
        raise Invalid("admin.unknown_field", value=", ".join(sorted(unknown)))
    chosen = set()
    for field in editable_fields or ():
        if field == "name":
            raise Invalid("admin.name_not_editable")
        if field not in CUSTOMER_DATA_FIELDS:
            raise Invalid("admin.unknown_field", value=field)
        chosen.add(field)
    chosen_marks = set()
    for mark in marks or ():
        if mark not in MARKS:
            raise Invalid("admin.unknown_mark", value=mark)
        chosen_marks.add(mark)
    rule = session.get(StageRule, stage)
    if rule is None:
        rule = StageRule(stage=stage)
        session.add(rule)
    rule.editable_fields = [f for f in EDITABLE_FIELDS if f in chosen]
    rule.marks = [m for m in MARKS if m in chosen_marks]
    for action in RULE_ACTIONS:
        setattr(rule, f"{action}_allowed", as_bool(allowed.get(action)))
    session.flush()
    return rule
