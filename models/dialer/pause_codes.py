"""Pause codes (小休原因): why an agent pauses, one table the admin edits (issue 14), read alike by
the agent's pause (models.dialer.agent_states), the queues (the code is QueuePause's Reason:
agi.dialer.queue_members) and the reports (models.dialer.state_time).

A productive code (training, a meeting) counts as work in the reports' utilisation; every pause
is out of occupancy alike. Codes never change once made (agent_state_log keeps them); a code is
retired by making it inactive, so old spans keep their label. The defaults (the six fixed
reasons of old) are models.setup's."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import InvalidValue, NotFound
from models.schema import PauseCode
from models.values import MAX_ENTRY_LABEL, add_entry, entry_fields

MAX_LABEL = MAX_ENTRY_LABEL   # the Chinese label is QueuePause's Reason: no line break in it
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


def create_code(session: Session, values: dict) -> PauseCode:
    return add_entry(session, PauseCode, values, entry_fields(values, "pause_code", FLAGS),
                     "pause_code")


def update_code(session: Session, code: str, values: dict) -> PauseCode:
    row = get_code(session, code)
    for name, value in entry_fields(values, "pause_code", FLAGS).items():
        setattr(row, name, value)
    session.flush()
    return row
