"""A customer's documents (客户文档): upload and download from the customer's pages.

Stored like the company documents (models/admin_ops.py): under <data_dir>/documents/ with a
random key; the uploaded name is kept only for display and download, never as a path."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from .admin_ops import (MAX_DOCUMENT_BYTES, Invalid, clean_filename, document_file,
                        documents_dir, safe_content_type)
from .clock import SYSTEM_CLOCK
from .errors import NotFound, NotYours, SharedEditForbidden
from .schema import Document, User
from .visibility import get_visible_customer

TITLE_MAX = Document.__table__.c.title.type.length
_CHUNK = 64 * 1024


def get_customer_document(session: Session, actor: User, customer_id: int,
                          document_id: int) -> Document:
    """A document of a customer the actor may open. Not found (not even "not yours") when the
    actor may not open the customer, or the document is another customer's or the company's."""
    try:
        customer = get_visible_customer(session, actor, customer_id)
    except NotYours:
        raise NotFound("admin.document_missing") from None
    document = session.get(Document, document_id)
    if document is None or document.customer_id != customer.id:
        raise NotFound("admin.document_missing")
    return document


def customer_document_file(session: Session, actor: User, data_dir: Path | str,
                           customer_id: int, document_id: int) -> tuple[Document, Path]:
    """The document and its stored file, found by the stored key only and only inside the
    documents folder."""
    document = get_customer_document(session, actor, customer_id, document_id)
    return document, document_file(data_dir, document)


def store_customer_document(session: Session, actor: User, data_dir: Path | str,
                            customer_id: int, stream: BinaryIO | None, filename: Any, *,
                            title: Any = None, content_type: Any = None,
                            clock=SYSTEM_CLOCK) -> Document:
    """Attach an upload to a customer the actor may open (a shared one needs "may edit shared
    customers", as for its other data). Refused, and nothing kept, when empty or too large."""
    customer = get_visible_customer(session, actor, customer_id)
    if customer.ownership == "shared" and not actor.role.can_edit_shared:
        raise SharedEditForbidden()
    if stream is None or not str(filename or "").strip():
        raise Invalid("admin.no_file")
    original = clean_filename(filename)
    title = str(title or "").strip() or original
    if len(title) > TITLE_MAX:
        raise Invalid("admin.too_long", field="title", max=TITLE_MAX)
    folder = documents_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    target = folder / key
    size = _write(stream, folder / (key + ".part"), target)
    document = Document(customer_id=customer.id, title=title, filename=original,
                        content_type=safe_content_type(content_type), size=size,
                        storage_key=key, uploaded_by_id=actor.id, created_at=clock.now())
    session.add(document)
    try:
        session.flush()
    except Exception:
        target.unlink(missing_ok=True)
        raise
    return document


def _write(stream: BinaryIO, partial: Path, target: Path) -> int:
    """Copy the stream to `target` through a partial file; returns the size."""
    size = 0
    try:
        with partial.open("xb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    raise Invalid("admin.file_too_large", max=MAX_DOCUMENT_BYTES // (1024 * 1024))
                out.write(chunk)
        if size == 0:
            raise Invalid("admin.empty_file")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return size
