"""Dispositions (通话结果) under /manage/dispositions: list, add, edit, deactivate and
activate again (models.telephony.dispositions). Codes never change once made."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.errors import DomainError
from models.schema import STAGES
from models.schema.dispositions import STAGE_ACTIONS
from models.telephony import dispositions as rules

from ..context import db
from ..labels import stage_label
from . import bp
from .index import refusal

FIELDS = ("code", "label_zh", "label_en", "position", "stage_action", "stage_target") + rules.FLAGS


def stage_action_label(action: str) -> str:
    return {"none": _("No stage change"), "suggest": _("Suggest a stage to the agent"),
            "make": _("Change the stage")}.get(action, action)


def _page(row, values: dict, error: str | None = None):
    return render_template("manage/disposition_form.html", row=row, values=values, error=error,
                           flags=rules.FLAGS, actions=STAGE_ACTIONS, stages=STAGES,
                           stage_label=stage_label, stage_action_label=stage_action_label,
                           max_label=rules.MAX_LABEL), (400 if error else 200)


def _values_of(row) -> dict:
    return {f: getattr(row, f) for f in FIELDS}


def _form() -> dict:
    return {f: request.form.get(f, "") for f in FIELDS}


@bp.route("/dispositions")
def dispositions():
    return render_template("manage/dispositions.html", rows=rules.all_dispositions(db()),
                           stage_label=stage_label, stage_action_label=stage_action_label)


@bp.route("/dispositions/new", methods=["GET", "POST"])
def dispositions_new():
    if request.method == "GET":
        return _page(None, {"active": True, "claims_customer": True, "stage_action": "none",
                            "position": 100})
    values = _form()
    try:
        row = rules.create_disposition(db(), values)
        db().commit()
    except DomainError as exc:
        return _page(None, values, refusal(exc))
    flash(_("Disposition %(label)s added.", label=row.label_zh), "success")
    return redirect(url_for("manage.dispositions"))


@bp.route("/dispositions/<code>", methods=["GET", "POST"])
def dispositions_edit(code):
    row = rules.get_disposition(db(), code)
    if request.method == "GET":
        return _page(row, _values_of(row))
    values = _form()
    try:
        rules.update_disposition(db(), code, values)
        db().commit()
    except DomainError as exc:
        return _page(rules.get_disposition(db(), code), dict(values, code=code), refusal(exc))
    flash(_("Saved."), "success")
    return redirect(url_for("manage.dispositions"))


@bp.route("/dispositions/<code>/active", methods=["POST"])
def dispositions_active(code):
    """Deactivate (agents no longer see it; past calls keep its label) or activate again."""
    active = request.form.get("active") == "1"
    rules.set_active(db(), code, active)
    db().commit()
    flash(_("Activated.") if active else _("Deactivated."), "success")
    return redirect(url_for("manage.dispositions"))
