"""Bulk SMS for managers: a job to a list of customers (their ids) or a query's result (stage,
city, or the query builder's JSON), scheduled, within sending hours, at a rate; its progress
and report (models.sms.bulk)."""
from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.errors import DomainError, InvalidValue, NotFound, PermissionDenied
from models.sms import bulk as rules
from models.sms.templates import list_templates

from ..context import clock, current_user, db, lang
from ..forms import parse_local_datetime
from . import bp


def _manager() -> None:
    if not current_user().sees_all:
        abort(403)


def _source(form) -> dict:
    ids = [part for part in form.get("ids", "").replace(",", " ").split() if part]
    if ids:
        if not all(part.isdigit() for part in ids):
            raise InvalidValue(field="ids")
        return {"ids": [int(part) for part in ids]}
    conditions = []
    for name in ("stage", "city"):
        if form.get(name, "").strip():
            conditions.append({"field": name, "op": "eq", "value": form[name].strip()})
    if form.get("query", "").strip():
        try:
            conditions.append(json.loads(form["query"]))
        except ValueError:
            raise InvalidValue("query.invalid") from None
    if not conditions:
        raise InvalidValue("sms.no_recipients")
    return {"query": {"all": conditions}}


@bp.route("/bulk")
def bulk_jobs():
    _manager()
    jobs = rules.list_jobs(db())
    return render_template("sms/bulk_jobs.html", jobs=jobs,
                           reports={j.id: rules.progress(db(), j.id) for j in jobs})


@bp.route("/bulk/new", methods=["GET", "POST"])
def bulk_new():
    _manager()
    values = {"rate_per_minute": 60, "hours_start": "09:00", "hours_end": "20:00",
              "query": request.args.get("query", ""), "stage": request.args.get("stage", "")}
    error = None
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            job = rules.create_job(
                db(), current_user(), name=values.get("name"), body=values.get("body"),
                source=_source(values), template_id=values.get("template_id") or None,
                scheduled_at=parse_local_datetime(values.get("date"), values.get("time"), "at"),
                rate_per_minute=values.get("rate_per_minute"),
                hours_start=values.get("hours_start"), hours_end=values.get("hours_end"),
                clock=clock())
            db().commit()
            flash(_("Bulk SMS scheduled."), "success")
            return redirect(url_for("sms.bulk_job", job_id=job.id))
        except (NotFound, PermissionDenied):
            raise
        except DomainError as exc:
            db().rollback()
            error = exc.message(lang())
    return render_template("sms/bulk_new.html", values=values, error=error,
                           templates=list_templates(db(), active_only=True)), 400 if error else 200


@bp.route("/bulk/<int:job_id>")
def bulk_job(job_id):
    _manager()
    return render_template("sms/bulk_job.html", report=rules.progress(db(), job_id))


@bp.route("/bulk/<int:job_id>/<action>", methods=["POST"])
def bulk_action(job_id, action):
    _manager()
    rules.set_status(db(), current_user(), job_id, action, clock=clock())
    db().commit()
    return redirect(url_for("sms.bulk_job", job_id=job_id))
