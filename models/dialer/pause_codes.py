"""Pause codes (小休原因): why an agent pauses, one table the admin edits (issue 14), read alike by
the agent's pause (models.dialer.agent_states), the queues (the code is QueuePause's Reason:
agi.dialer.queue_members) and the reports (models.dialer.state_time).

A productive code (training, a meeting) counts as work in the reports' utilisation; every pause
is out of occupancy alike. Codes never change once made (agent_state_log keeps them); a code is
retired by making it inactive, so old spans keep their label. The defaults (the six fixed
reasons of old) are models.setup's."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import InvalidValue, NotFound
from models.schema import PauseCode
from models.values import as_bool

CODE = re.compile(r"[a-z][a-z0-9_]{1,31}")
MAX_LABEL = 40
FLAGS = ("productive", "active")
def all_codes(session: Session) -> list[PauseCode]:
    """Every pause code, active or not, in the admin's order."""
    return list(session.scalars(select(PauseCode).order_by(PauseCode.position, PauseCode.code)))


def active_codes(session: Session) -> list[PauseCode]:
    return [p for p in all_codes(session) if p.active]


def label(code: PauseCode, lang: str = "zh_CN") -> str:
    return code.label_en if lang == "en" else code.label_zh


def labels(session: Session, lang: str = "zh_CN") -> dict[str, str]:
    return {p.code: label(p, lang) for p in all_codes(session)}


def productive_codes(session: Session) -> set[str]:
    return set(session.scalars(select(PauseCode.code).where(PauseCode.productive.is_(True))))


def get_code(session: Session, code: str) -> PauseCode:
    row = session.get(PauseCode, code) if isinstance(code, str) else None
    if row is None:
        raise NotFound("pause_code.unknown", code=str(code)[:40])
    return row


def check_active(session: Session, code: str | None) -> PauseCode:
    """The reason an agent picked for a pause: refused when missing, unknown or retired."""
    row = session.get(PauseCode, code) if isinstance(code, str) and code else None
    if row is None:
        raise InvalidValue("agent_state.reason_required")
    if not row.active:
        raise InvalidValue("pause_code.inactive", label=row.label_zh)
    return row


def _clean(values: dict) -> dict:
    out = {}
    for name in ("label_zh", "label_en"):
        text = str(values.get(name) or "").strip()
        # the Chinese label is QueuePause's Reason: an AMI header holds no line break
        if not text or len(text) > MAX_LABEL or any(ord(c) < 32 for c in text):
            raise InvalidValue("pause_code.label_required", max=MAX_LABEL)
        out[name] = text
    for flag in FLAGS:
        out[flag] = as_bool(values.get(flag))
    try:
        out["position"] = max(0, min(9999, int(values.get("position") or 0)))
    except (TypeError, ValueError):
        raise InvalidValue(field="position") from None
    return out


def create_code(session: Session, values: dict) -> PauseCode:
    code = str(values.get("code") or "").strip()
    if not CODE.fullmatch(code):
        raise InvalidValue("pause_code.bad_code")
    if session.get(PauseCode, code) is not None:
        raise InvalidValue("pause_code.duplicate_code", code=code)
    row = PauseCode(code=code, **_clean(values))
    session.add(row)
    session.flush()
    return row


def update_code(session: Session, code: str, values: dict) -> PauseCode:
    row = get_code(session, code)
    for name, value in _clean(values).items():
        setattr(row, name, value)
    session.flush()
    return row
