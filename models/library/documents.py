"""The company's documents of the sales library (C11): brochures, price lists, contracts."""
from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import NotFound
from models.schema import Document, User
from models.stored_files import delete_document_row, store_document
from models.values import get_row


def list_company_documents(session: Session) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.customer_id.is_(None))
                                .order_by(Document.created_at.desc(), Document.id.desc())))


def get_company_document(session: Session, document_id: Any) -> Document:
    document = get_row(session, Document, document_id)
    if document.customer_id is not None:
        raise NotFound()
    return document


def store_company_document(session: Session, actor: User, data_dir: Path | str,
                           stream: BinaryIO, filename: Any, *, title: Any = None,
                           content_type: Any = None, clock=SYSTEM_CLOCK) -> Document:
    return store_document(session, actor, data_dir, stream, filename, title=title,
                          content_type=content_type, clock=clock)


def delete_company_document(session: Session, data_dir: Path | str,
                            document_id: Any) -> Path | None:
    """Delete the row; returns the stored file for the caller to remove after commit."""
    return delete_document_row(session, data_dir, get_company_document(session, document_id))
