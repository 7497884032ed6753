"""Call scripts (C11): the admin's reference scripts per stage and each salesperson's own."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.stage_rules import ARCHIVE
from models.errors import NotFound
from models.schema import STAGES, CallScript, User
from models.values import Invalid, clean_text, get_row


def _script_values(title: Any, body: Any, stage: Any) -> tuple[str, str, str | None]:
    title = clean_text(title, "title", 200, required=True)
    body = clean_text(body, "body", 20000, required=True)
    stage = None if stage in (None, "", ARCHIVE) else stage
    if stage is not None and stage not in STAGES:
        raise Invalid("admin.unknown_stage", value=stage)
    return title, body, stage


def reference_scripts(session: Session, stage: str | None = None) -> list[CallScript]:
    """Reference scripts (set by the admin); with `stage`, those for it or for any stage."""
    stmt = select(CallScript).where(CallScript.kind == "reference")
    if stage is not None:
        stmt = stmt.where((CallScript.stage == stage) | CallScript.stage.is_(None))
    return list(session.scalars(stmt.order_by(CallScript.stage, CallScript.title, CallScript.id)))


def personal_scripts(session: Session, owner: User) -> list[CallScript]:
    return list(session.scalars(select(CallScript).where(
        CallScript.kind == "personal", CallScript.owner_id == owner.id)
        .order_by(CallScript.title, CallScript.id)))


def get_reference_script(session: Session, script_id: Any) -> CallScript:
    script = get_row(session, CallScript, script_id)
    if script.kind != "reference":
        raise NotFound()
    return script


def get_personal_script(session: Session, owner: User, script_id: Any) -> CallScript:
    """Only the owner reaches a personal script; for anyone else it does not exist."""
    script = get_row(session, CallScript, script_id)
    if script.kind != "personal" or script.owner_id != owner.id:
        raise NotFound()
    return script


def save_reference_script(session: Session, script_id: Any = None, *, title: Any, body: Any,
                          stage: Any = None, clock=SYSTEM_CLOCK) -> CallScript:
    values = _script_values(title, body, stage)
    script = get_reference_script(session, script_id) if script_id is not None else None
    return _save_script(session, script, "reference", None, values, clock.now())


def save_personal_script(session: Session, owner: User, script_id: Any = None, *, title: Any,
                         body: Any, stage: Any = None, clock=SYSTEM_CLOCK) -> CallScript:
    values = _script_values(title, body, stage)
    script = get_personal_script(session, owner, script_id) if script_id is not None else None
    return _save_script(session, script, "personal", owner.id, values, clock.now())


def _save_script(session, script, kind, owner_id, values, now) -> CallScript:
    if script is None:
        script = CallScript(kind=kind, owner_id=owner_id, created_at=now)
        session.add(script)
    script.title, script.body, script.stage = values
    script.updated_at = now
    session.flush()
    return script


def delete_reference_script(session: Session, script_id: Any) -> None:
    session.delete(get_reference_script(session, script_id))
    session.flush()


def delete_personal_script(session: Session, owner: User, script_id: Any) -> None:
    session.delete(get_personal_script(session, owner, script_id))
    session.flush()
