"""Company documents: upload, list and delete (admins); download (every logged-in user)."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from models import stored_files
from models.errors import DomainError
from models.library import documents as company_documents

from ..context import clock, current_user, db
from . import bp
from .index import refusal


def _data_dir():
    return current_app.config["DATA_DIR"]


@bp.route("/documents")
def documents():
    return render_template("manage/documents.html",
                           documents=company_documents.list_company_documents(db()),
                           max_mb=stored_files.MAX_DOCUMENT_BYTES // (1024 * 1024))


@bp.route("/documents/upload", methods=["POST"])
def document_upload():
    upload = request.files.get("file")
    try:
        document = company_documents.store_company_document(
            db(), current_user(), _data_dir(), upload.stream if upload else None,
            upload.filename if upload else None, title=request.form.get("title"),
            content_type=upload.mimetype if upload else None, clock=clock())
        db().commit()
    except DomainError as exc:
        flash(refusal(exc), "danger")
        return redirect(url_for("manage.documents"))
    flash(_("Uploaded %(name)s.", name=document.filename), "success")
    return redirect(url_for("manage.documents"))


@bp.route("/documents/<int:document_id>/download")
def document_download(document_id):
    document = company_documents.get_company_document(db(), document_id)
    path = stored_files.document_file(_data_dir(), document)
    return send_file(path, mimetype=stored_files.safe_content_type(document.content_type),
                     as_attachment=True, download_name=document.filename, max_age=0)


@bp.route("/documents/<int:document_id>/delete", methods=["POST"])
def document_delete(document_id):
    path = company_documents.delete_company_document(db(), _data_dir(), document_id)
    db().commit()
    stored_files.remove_stored_file(path)
    flash(_("Deleted."), "success")
    return redirect(url_for("manage.documents"))
