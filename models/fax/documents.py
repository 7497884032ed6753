"""The fax-on-demand sheets (自动索取): the names the IVR may give in DIALFUNNEL_FAX_DOCUMENT.

The dialplan keeps only the characters -a-zA-Z0-9_ of that name and sends
<DF_FAX_DOCUMENTS>/<name>.tif; a name here is refused unless it is already made of them."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import FaxDocument, User

NAME = re.compile(r"[-a-zA-Z0-9_]{1,40}")


def check_name(name) -> str:
    name = str(name or "").strip()
    if not NAME.fullmatch(name):
        raise InvalidValue(field="name")
    return name


def list_documents(session: Session) -> list[FaxDocument]:
    return list(session.scalars(select(FaxDocument).order_by(FaxDocument.name)))


def save_document(session: Session, actor: User, *, name, title: str, pages: int,
                  clock=SYSTEM_CLOCK) -> FaxDocument:
    """Add a sheet or replace the one of that name (its TIFF is the caller's to write)."""
    if not actor.sees_all:
        raise PermissionDenied()
    name = check_name(name)
    doc = session.scalar(select(FaxDocument).where(FaxDocument.name == name))
    if doc is None:
        doc = FaxDocument(name=name)
        session.add(doc)
    doc.title, doc.pages = (title or "")[:200], pages
    doc.user_id, doc.created_at = actor.id, clock.now()
    session.flush()
    return doc


def delete_document(session: Session, actor: User, doc_id) -> str:
    """Remove a sheet; returns its name (the caller removes the file)."""
    if not actor.sees_all:
        raise PermissionDenied()
    doc = session.get(FaxDocument, int(doc_id)) if str(doc_id).isdigit() else None
    if doc is None:
        raise NotFound()
    name = doc.name
    session.delete(doc)
    session.flush()
    return name
