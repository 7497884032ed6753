"""Pause codes (小休原因) under /manage/pause-codes: list, add, edit (models.dialer.pause_codes).
Codes never change once made; a code is retired by unticking Active."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.dialer import pause_codes as rules
from models.errors import DomainError

from ..context import db
from . import bp
from .index import refusal

FIELDS = ("code", "label_zh", "label_en", "position") + rules.FLAGS


def _page(row, values: dict, error: str | None = None):
    return render_template("manage/pause_code_form.html", row=row, values=values, error=error,
                           flags=rules.FLAGS, max_label=rules.MAX_LABEL), (400 if error else 200)


def _form() -> dict:
    return {f: request.form.get(f, "") for f in FIELDS}


@bp.route("/pause-codes")
def pause_codes():
    return render_template("manage/pause_codes.html", rows=rules.all_codes(db()))


@bp.route("/pause-codes/new", methods=["GET", "POST"])
def pause_codes_new():
    if request.method == "GET":
        return _page(None, {"active": True, "position": 100})
    values = _form()
    try:
        row = rules.create_code(db(), values)
        db().commit()
    except DomainError as exc:
        db().rollback()
        return _page(None, values, refusal(exc))
    flash(_("Pause code %(label)s added.", label=row.label_zh), "success")
    return redirect(url_for("manage.pause_codes"))


@bp.route("/pause-codes/<code>", methods=["GET", "POST"])
def pause_codes_edit(code):
    row = rules.get_code(db(), code)
    if request.method == "GET":
        return _page(row, {f: getattr(row, f) for f in FIELDS})
    values = _form()
    try:
        rules.update_code(db(), code, values)
        db().commit()
    except DomainError as exc:
        db().rollback()
        return _page(rules.get_code(db(), code), dict(values, code=code), refusal(exc))
    flash(_("Saved."), "success")
    return redirect(url_for("manage.pause_codes"))
