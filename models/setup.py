"""Default rows every installation starts with: roles, stage rules, queryable fields,
dispositions, pause codes."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.fields import QUERYABLE_FIELDS
from models.schema import Disposition, PauseCode, QueryableField, Role, StageRule

DEFAULT_ROLES = [
    dict(code="telemarketer", name_zh="电话营销", name_en="Telemarketer", daily_claim_quota=20),
    dict(code="sales_rep", name_zh="销售人员", name_en="Sales rep", daily_claim_quota=20,
         can_edit_shared=True, can_export=True),
    dict(code="sales_manager", name_zh="销售经理", name_en="Sales manager", daily_claim_quota=50,
         can_edit_shared=True, can_delete=True, can_export=True, can_hear_others_recordings=True,
         can_manage=True),
    dict(code="admin", name_zh="系统管理员", name_en="Administrator", daily_claim_quota=100,
         can_edit_shared=True, can_delete=True, can_export=True, can_hear_others_recordings=True,
         can_manage=True, is_admin=True),
]

# C3, the seed company's rules ("archive" = no stage).
DEFAULT_STAGE_RULES = [
    dict(stage="archive", editable_fields=[], claim_allowed=True, release_allowed=True,
         promote_allowed=False, demote_allowed=False, marks=[]),
    dict(stage="reserve",
         editable_fields=["contact_person", "phone", "mobile", "fax", "industry", "website",
                          "address", "category", "source", "profile"],
         claim_allowed=False, release_allowed=False, promote_allowed=False, demote_allowed=False,
         marks=["contact"]),
    dict(stage="target",
         editable_fields=["contact_person", "title", "city", "industry", "phone", "mobile", "fax",
                          "qq", "im", "website"],
         claim_allowed=True, release_allowed=True, promote_allowed=True, demote_allowed=True,
         marks=["contact"]),
    dict(stage="potential", editable_fields=[], marks=["tracking"]),
    dict(stage="opportunity", editable_fields=[], marks=["tracking", "sales"]),
    dict(stage="closed", editable_fields=[], marks=["tracking", "order"]),
]

DEFAULT_QUERYABLE = ["name", "keyword", "contact_person", "phone", "mobile", "province", "city",
                     "industry", "category", "source", "address", "stage", "ownership",
                     "contact_mark", "tracking_mark", "number_status", "created_at",
                     "next_callback_at", "last_contacted_at"]

# What a call came to: the dialer's first five, then the two that act on the number.
DEFAULT_DISPOSITIONS = [
    dict(code="interested", label_zh="有意向", label_en="Interested", counts_as_success=True),
    dict(code="not_interested", label_zh="没有意向", label_en="Not interested"),
    dict(code="callback", label_zh="稍后回访", label_en="Call back later", callback_required=True),
    dict(code="wrong_person", label_zh="找错人", label_en="Wrong person", claims_customer=False),
    dict(code="other", label_zh="其他", label_en="Other"),
    dict(code="do_not_call", label_zh="要求不再来电", label_en="Asked not to be called",
         add_to_dnc=True, claims_customer=False),
    dict(code="dead_number", label_zh="空号/错号", label_en="Dead or wrong number",
         mark_dead=True, claims_customer=False),
]

# The six fixed reasons of old, with their old translations (models.dialer.pause_codes).
DEFAULT_PAUSE_CODES = [
    dict(code="break", label_zh="休息", label_en="Break"),
    dict(code="meal", label_zh="用餐", label_en="Meal"),
    dict(code="meeting", label_zh="开会", label_en="Meeting", productive=True),
    dict(code="training", label_zh="培训", label_en="Training", productive=True),
    dict(code="paperwork", label_zh="整理资料", label_en="Paperwork", productive=True),
    dict(code="other", label_zh="其他", label_en="Other"),
]


def install_defaults(session: Session) -> None:
    """Insert the defaults that are missing; never overwrite what an admin changed."""
    have = set(session.scalars(select(Role.code)))
    for spec in DEFAULT_ROLES:
        if spec["code"] not in have:
            session.add(Role(**{"can_edit_shared": False, "can_delete": False, "can_export": False,
                                "can_hear_others_recordings": False, "can_manage": False,
                                "mask_numbers": False, "is_admin": False, **spec}))
    have = set(session.scalars(select(StageRule.stage)))
    for spec in DEFAULT_STAGE_RULES:
        if spec["stage"] not in have:
            session.add(StageRule(**{"claim_allowed": True, "release_allowed": True,
                                     "promote_allowed": True, "demote_allowed": True, **spec}))
    have = set(session.scalars(select(QueryableField.field)))
    for order, field in enumerate(QUERYABLE_FIELDS):
        if field not in have:
            session.add(QueryableField(field=field, enabled=field in DEFAULT_QUERYABLE,
                                       sort_order=order))
    have = set(session.scalars(select(Disposition.code)))
    for position, spec in enumerate(DEFAULT_DISPOSITIONS):
        if spec["code"] not in have:
            session.add(Disposition(**{"callback_required": False, "add_to_dnc": False,
                                       "mark_dead": False, "stage_action": "none",
                                       "stage_target": None, "counts_as_success": False,
                                       "claims_customer": True,
                                       "active": True, "position": (position + 1) * 10,
                                       **spec}))
    have = set(session.scalars(select(PauseCode.code)))
    for position, spec in enumerate(DEFAULT_PAUSE_CODES):
        if spec["code"] not in have:
            session.add(PauseCode(**{"productive": False, "active": True,
                                     "position": (position + 1) * 10, **spec}))
    session.flush()
