"""Uploaded files kept under <data_dir>/documents/<random key>: the company's documents
(models.library.documents) and each customer's (models.crm.customer_documents). The user's file
name is never part of the path."""
from __future__ import annotations

import os
import secrets
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import NotFound
from models.schema import Document, User
from models.values import Invalid, Missing, clean_text

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
_CHUNK = 64 * 1024
# Served with their own type; anything else (HTML, SVG, scripts...) as a plain download.
SAFE_CONTENT_TYPES = {
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain",
    "text/csv", "application/zip", "application/msword", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def documents_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "documents"


def clean_filename(name: Any) -> str:
    """The uploaded file's own name, kept only for display and download: no folders,
    no control characters, at most 200 characters."""
    text = "" if name is None else str(name)
    text = PureWindowsPath(PurePosixPath(text).name).name
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(text) > 200:
        stem, dot, ext = text.rpartition(".")
        text = (stem[:200 - len(ext) - 1] + "." + ext) if dot and len(ext) < 20 else text[:200]
    return text or "document"


def safe_content_type(declared: Any) -> str:
    kind = str(declared or "").split(";")[0].strip().lower()
    return kind if kind in SAFE_CONTENT_TYPES else "application/octet-stream"


def store_document(session: Session, actor: User, data_dir: Path | str, stream: BinaryIO | None,
                   filename: Any, *, customer_id: int | None = None, title: Any = None,
                   content_type: Any = None, clock=SYSTEM_CLOCK) -> Document:
    """Save an upload under <data_dir>/documents/<random key> as a company document, or a
    customer's (`customer_id`: the caller checked the actor may). The user's file name is
    never part of the path. Refused (and nothing kept) when empty or over 20 MB."""
    if stream is None or not str(filename or "").strip():
        raise Invalid("admin.no_file")
    original = clean_filename(filename)
    title = clean_text(title, "title", 200) or original
    folder = documents_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    target = folder / key
    partial = folder / (key + ".part")
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
    document = Document(customer_id=customer_id, title=title, filename=original,
                        content_type=safe_content_type(content_type), size=size,
                        storage_key=key, uploaded_by_id=actor.id, created_at=clock.now())
    session.add(document)
    try:
        session.flush()
    except Exception:
        target.unlink(missing_ok=True)
        raise
    return document


def document_file(data_dir: Path | str, document: Document) -> Path:
    """The stored file of a document; refused when its key would lead outside the
    documents folder or the file is gone."""
    root = documents_dir(data_dir).resolve()
    key = document.storage_key or ""
    if not key or "\x00" in key or os.path.isabs(key) or "\\" in key:
        raise Missing("admin.document_missing")
    path = (root / key).resolve()
    if path == root or not path.is_relative_to(root) or not path.is_file():
        raise Missing("admin.document_missing")
    return path


def delete_document_row(session: Session, data_dir: Path | str, document: Document) -> Path | None:
    """Delete a document's row (company or customer); returns its stored file, if any, for
    the caller to remove once the transaction is committed."""
    try:
        path = document_file(data_dir, document)
    except NotFound:
        path = None
    session.delete(document)
    session.flush()
    return path


def remove_stored_file(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)
