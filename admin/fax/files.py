"""What the fax pages share: the fax folder of the settings, the user's source document as
fax TIFF (an upload, a company document of the sales library, a sheet the system prints),
the cover page."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Response, abort, current_app, request
from flask_babel import gettext as _

from faxdocs import convert, cover
from faxdocs.store import FaxStore, store_for
from models.company import get_setting
from models.errors import InvalidValue
from models.library.documents import get_company_document
from models.stored_files import document_file

from ..context import clock, current_user, db

MAX_SOURCE = 20 * 1024 * 1024
MAX_STAMP = 2 * 1024 * 1024


def store() -> FaxStore:
    return store_for(current_app.config["DIALFUNNEL_SETTINGS"])


def fax_options() -> dict:
    settings = current_app.config["DIALFUNNEL_SETTINGS"]
    return dict(fine=settings.fax_resolution == "fine", compression=settings.fax_compression)


def attempts() -> int:
    return current_app.config["DIALFUNNEL_SETTINGS"].fax_attempts


def source_bytes(form, files) -> tuple[bytes | None, str]:
    """The document chosen on the send form: (PDF or image bytes, a subject for it). None when
    none was chosen: the cover page alone is the fax (refused without one)."""
    upload = files.get("file")
    if upload is not None and upload.filename:
        data = upload.read(MAX_SOURCE + 1)
        if len(data) > MAX_SOURCE:
            raise InvalidValue(field="file")
        return data, upload.filename[:200]
    document_id = form.get("document_id", "").strip()
    if document_id:
        doc = get_company_document(db(), document_id)
        return document_file(current_app.config["DATA_DIR"], doc).read_bytes(), doc.title
    sheet, _sep, sheet_id = form.get("sheet", "").partition(":")
    if sheet and sheet_id.isdigit():
        from ..sales import sheets
        views = {"quotation": (sheets.quotation_pdf, _("Quotation")),
                 "opportunity": (sheets.opportunity_sheet_pdf, _("Opportunity coordination sheet")),
                 "order": (sheets.order_sheet_pdf, _("Order coordination sheet"))}
        if sheet in views:
            view, title = views[sheet]
            return view(int(sheet_id)).get_data(), title   # the printed sheet, as it is downloaded
    if wants("cover"):
        return None, ""
    raise InvalidValue(field="file")


def make_fax_tiff(data: bytes | None, tiff: Path, *, with_cover: bool, to: str, number: str,
                  subject: str, note: str) -> list[convert.Page]:
    """The document (after the cover page when asked; no document: the cover page alone) as
    fax TIFF at ``tiff``, and its PDF beside it (``.pdf``)."""
    with tempfile.TemporaryDirectory() as tmp:
        cover_pdf = None
        if with_cover:
            cover_pdf = Path(tmp) / "cover.pdf"
            company = get_setting(db(), "company.name") or ""
            cover.render_cover(cover_pdf, to=to, fax=number, subject=subject, note=note,
                               sender=f"{current_user().full_name} {company}".strip(),
                               date=clock().now().strftime("%Y-%m-%d"))
        try:
            if data is None:
                pages = convert.to_fax_tiff([cover_pdf], tiff, **fax_options())
            else:
                pages = convert.document_to_fax_tiff(data, tiff, cover=cover_pdf, **fax_options())
            convert.tiff_to_pdf(tiff, tiff.with_suffix(".pdf"))
        except convert.ConversionError:
            raise InvalidValue(field="file") from None
        return pages


def file_response(path: Path, mimetype: str) -> Response:
    if not path.is_file():
        abort(404)
    return Response(path.read_bytes(), mimetype=mimetype,
                    headers={"Cache-Control": "private, no-store",
                             "Content-Disposition": "inline; filename=fax" + path.suffix})


def wants(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "yes")


STATUS_LABELS = {"new": lambda: _("New"), "read": lambda: _("Read"), "draft": lambda: _("Draft"),
                 "queued": lambda: _("Waiting to send"), "sending": lambda: _("Sending"),
                 "sent": lambda: _("Sent"), "failed": lambda: _("Failed")}


def status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)
    return label() if label else status
