"""自动索取: the sheets callers may request in the IVR (DIALFUNNEL_FAX_DOCUMENT=<name>). A
manager uploads a PDF (or a picture); it is converted to fax TIFF into the folder the dialplan
sends from (DF_FAX_DOCUMENTS = settings.fax_documents_dir)."""
from __future__ import annotations

import os

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from faxdocs import convert
from models.errors import InvalidValue
from models.fax import documents as rules

from ..context import clock, current_user, db, requires
from . import bp
from .files import MAX_SOURCE, MAX_STAMP, fax_options, file_response, store


@bp.route("/faxes/documents")
@requires("can_manage")
def documents():
    return render_template("fax/documents.html", documents=rules.list_documents(db()),
                           folder=store().documents, has_stamp=store().company_stamp.is_file())


@bp.route("/faxes/company-stamp", methods=["POST"])
@requires("can_manage")
def upload_stamp():
    """The company's stamp (公章) every user may place on the faxes they send."""
    upload = request.files.get("stamp")
    data = upload.read(MAX_STAMP + 1) if upload and upload.filename else b""
    if not data or len(data) > MAX_STAMP:
        raise InvalidValue(field="stamp")
    try:
        png = convert.clean_stamp(data)
    except convert.ConversionError:
        raise InvalidValue(field="stamp") from None
    path = store().company_stamp
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".part").write_bytes(png)
    os.replace(path.with_suffix(".part"), path)
    flash(_("Company stamp saved."), "success")
    return redirect(url_for("fax.documents"))


@bp.route("/faxes/company-stamp.png")
def company_stamp():
    return file_response(store().company_stamp, "image/png")


@bp.route("/faxes/documents", methods=["POST"])
@requires("can_manage")
def upload_document():
    session, user = db(), current_user()
    name = rules.check_name(request.form.get("name"))
    upload = request.files.get("file")
    data = upload.read(MAX_SOURCE + 1) if upload and upload.filename else b""
    if not data or len(data) > MAX_SOURCE:
        raise InvalidValue(field="file")
    target = store().document_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.tif")
    try:
        pages = convert.document_to_fax_tiff(data, partial, **fax_options())
    except convert.ConversionError:
        partial.unlink(missing_ok=True)
        raise InvalidValue(field="file") from None
    rules.save_document(session, user, name=name, title=request.form.get("title", ""),
                        pages=len(pages), clock=clock())
    os.replace(partial, target)   # Asterisk never reads half a file
    session.commit()
    flash(_("Fax-on-demand sheet %(name)s saved (%(pages)d pages).", name=name, pages=len(pages)),
          "success")
    return redirect(url_for("fax.documents"))


@bp.route("/faxes/documents/<int:doc_id>/delete", methods=["POST"])
@requires("can_manage")
def delete_document(doc_id: int):
    name = rules.delete_document(db(), current_user(), doc_id)
    store().document_path(name).unlink(missing_ok=True)
    db().commit()
    flash(_("Deleted."), "success")
    return redirect(url_for("fax.documents"))
