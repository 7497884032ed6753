"""Training examples (优秀录音/典型案例): a reviewer or manager marks a recording with tags and a
note; everybody, new colleagues first, browses them by tag and may hear them
(models.crm.recordings.get_audible lets everybody hear an example)."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.recordings import get_audible
from models.errors import InvalidValue, PermissionDenied
from models.schema import Recording, TrainingExample, User

from .reviews import is_reviewer

_SPLIT = re.compile(r"[,，、;；\s]+")
MAX_TAGS = 10


def clean_tags(text: str | None) -> list[str]:
    """Tags typed as one line, split on commas (either width), 、, semicolons or spaces; each
    at most 20 characters, duplicates dropped, order kept."""
    tags: list[str] = []
    for tag in _SPLIT.split(text or ""):
        tag = tag.strip()[:20]
        if tag and tag not in tags:
            tags.append(tag)
    if not tags:
        raise InvalidValue("quality.example_tags")
    if len(tags) > MAX_TAGS or len(",".join(tags)) > 200:
        raise InvalidValue(field="tags")
    return tags


def mark_example(session: Session, user: User, recording_id: int, tags: str, note: str | None,
                 clock=SYSTEM_CLOCK) -> TrainingExample:
    """Mark (or re-tag) a recording as an example: reviewers and managers who may hear it."""
    rec = get_audible(session, user, recording_id)
    if not (is_reviewer(user) or user.role.can_manage) or rec.deleted_at is not None:
        raise PermissionDenied()
    clean = clean_tags(tags)
    note = (note or "").strip()
    if len(note) > 2000:
        raise InvalidValue(field="note")
    row = example_of(session, rec.id)
    if row is None:
        row = TrainingExample(recording_id=rec.id, created_by_id=user.id, created_at=clock.now())
        session.add(row)
    row.tags, row.note = ",".join(clean), note or None
    session.flush()
    return row


def unmark_example(session: Session, user: User, recording_id: int) -> None:
    if not (is_reviewer(user) or user.role.can_manage):
        raise PermissionDenied()
    row = example_of(session, recording_id)
    if row is not None:
        session.delete(row)
        session.flush()


def example_of(session: Session, recording_id: int) -> TrainingExample | None:
    return session.scalar(select(TrainingExample).where(TrainingExample.recording_id == recording_id))


def examples(session: Session, tag: str | None = None) -> list[tuple[TrainingExample, Recording]]:
    """The examples whose audio is still kept, newest first; with ``tag``, only those with it."""
    rows = session.execute(select(TrainingExample, Recording)
                           .join(Recording, Recording.id == TrainingExample.recording_id)
                           .where(Recording.deleted_at.is_(None))
                           .order_by(TrainingExample.created_at.desc(), TrainingExample.id.desc())).all()
    return [(e, r) for e, r in rows if tag is None or tag in e.tags.split(",")]


def all_tags(session: Session) -> list[str]:
    return sorted({t for tags in session.scalars(select(TrainingExample.tags)) for t in tags.split(",")})
