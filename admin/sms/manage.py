"""The admin's SMS templates (with the preview and the 70/67 counter) and SMS settings (the
【signature】, the opt-out words, the company's details templates may use)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.errors import DomainError, NotFound, PermissionDenied
from models.sms import templates as rules
from models.sms.config import sms_settings, update_sms_settings

from ..context import clock, current_user, db, lang
from . import bp


def _admin() -> None:
    if not current_user().role.is_admin:
        abort(403)


def _refusal(exc: DomainError) -> str:
    if isinstance(exc, (NotFound, PermissionDenied)):
        raise exc
    db().rollback()
    return exc.message(lang())


@bp.route("/templates")
def templates():
    _admin()
    return render_template("sms/templates.html", rows=rules.list_templates(db()))


@bp.route("/templates/new", methods=["GET", "POST"], defaults={"template_id": None})
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
def template_edit(template_id):
    _admin()
    row = rules.get_template(db(), template_id) if template_id else None
    values = {"name": row.name, "body": row.body, "gateway_code": row.gateway_code or "",
              "active": row.active} if row else {"active": True}
    error = None
    if request.method == "POST":
        values = {f: request.form.get(f, "") for f in ("name", "body", "gateway_code")}
        values["active"] = request.form.get("active") == "1"
        try:
            rules.save_template(db(), current_user(), values, template_id, clock=clock())
            db().commit()
            flash(_("Saved."), "success")
            return redirect(url_for("sms.templates"))
        except DomainError as exc:
            error = _refusal(exc)
    return render_template("sms/template_form.html", row=row, values=values, error=error,
                           variables=rules.VARIABLES), 400 if error else 200


@bp.route("/templates/<int:template_id>/delete", methods=["POST"])
def template_delete(template_id):
    _admin()
    rules.delete_template(db(), current_user(), template_id)
    db().commit()
    flash(_("Deleted."), "success")
    return redirect(url_for("sms.templates"))


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    _admin()
    values, error = sms_settings(db()), None
    if request.method == "POST":
        try:
            update_sms_settings(db(), request.form.to_dict())
            db().commit()
            flash(_("Saved."), "success")
            return redirect(url_for("sms.settings"))
        except DomainError as exc:
            error, values = _refusal(exc), request.form
    return render_template("sms/settings.html", values=values, error=error), 400 if error else 200
