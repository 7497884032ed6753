"""A customer's documents (客户文档): upload and download from the customer's pages.

Stored like the company documents (models/stored_files.py): under <data_dir>/documents/ with a
random key; the uploaded name is kept only for display and download, never as a path."""
from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.visibility import get_visible_customer
from models.errors import NotFound, NotYours, PermissionDenied, SharedEditForbidden
from models.schema import Document, User
from models.stored_files import delete_document_row, document_file, store_document


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
    return store_document(session, actor, data_dir, stream, filename, customer_id=customer.id,
                          title=title, content_type=content_type, clock=clock)


def may_delete_document(actor: User, document: Document) -> bool:
    """Who uploaded it, or a role that may delete (a contract is evidence: not anyone's)."""
    return document.uploaded_by_id == actor.id or bool(actor.role.can_delete)


def delete_customer_document(session: Session, actor: User, data_dir: Path | str,
                             customer_id: int, document_id: int) -> Path | None:
    """Delete a document of a customer the actor may open; returns its stored file for the
    caller to remove after the commit."""
    document = get_customer_document(session, actor, customer_id, document_id)
    if not may_delete_document(actor, document):
        raise PermissionDenied()
    return delete_document_row(session, data_dir, document)


def stored_files(session: Session, data_dir: Path | str, customer_id: int) -> list[Path]:
    """The stored files of a customer's documents, for removal once the customer is deleted
    (the rows go with the customer; the files would stay behind)."""
    paths = []
    for document in session.scalars(select(Document).where(Document.customer_id == customer_id)):
        try:
            paths.append(document_file(data_dir, document))
        except NotFound:  # already gone, or a key that would lead outside the folder
            pass
    return paths
