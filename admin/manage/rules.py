"""Role permissions, stage rules (C3), queryable fields (C8) and company settings."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models import company
from models.crm import query_fields
from models.crm import stage_rules as stage_rule_admin
from models.errors import DomainError
from models.org import users as org_users

from ..context import db
from . import bp
from .index import refusal


def _saved_or_refused(action, endpoint: str, **url_kwargs):
    """Run a model update; commit and say so, or flash the refusal. Back to the page."""
    try:
        action()
        db().commit()
        flash(_("Saved."), "success")
    except DomainError as exc:
        flash(refusal(exc), "danger")
    return redirect(url_for(endpoint, **url_kwargs))


# ---- roles -----------------------------------------------------------------------------------

@bp.route("/roles")
def roles():
    return render_template("manage/roles.html", roles=org_users.list_roles(db()),
                           flags=org_users.ROLE_FLAGS, max_quota=org_users.MAX_QUOTA)


@bp.route("/roles/<code>", methods=["POST"])
def role_save(code):
    form = request.form
    return _saved_or_refused(
        lambda: org_users.update_role(db(), code, daily_claim_quota=form.get("daily_claim_quota"),
                                      **{f: form.get(f) for f in org_users.ROLE_FLAGS}),
        "manage.roles")


# ---- stage rules -----------------------------------------------------------------------------

@bp.route("/stage-rules")
def stage_rules():
    return render_template("manage/stage_rules.html", rules=stage_rule_admin.list_stage_rules(db()),
                           fields=stage_rule_admin.EDITABLE_FIELDS, actions=stage_rule_admin.RULE_ACTIONS,
                           marks=stage_rule_admin.MARKS)


@bp.route("/stage-rules/<stage>", methods=["POST"])
def stage_rule_save(stage):
    form = request.form
    return _saved_or_refused(
        lambda: stage_rule_admin.update_stage_rule(
            db(), stage, editable_fields=form.getlist("editable_fields"),
            marks=form.getlist("marks"), **{a: form.get(a) for a in stage_rule_admin.RULE_ACTIONS}),
        "manage.stage_rules", _anchor="rule-" + stage if stage in stage_rule_admin.RULE_STAGES else None)


# ---- queryable fields ------------------------------------------------------------------------

@bp.route("/fields", methods=["GET", "POST"])
def queryable_fields():
    if request.method == "POST":
        form = request.form
        orders = {key[len("order-"):]: value for key, value in form.items()
                  if key.startswith("order-")}
        return _saved_or_refused(
            lambda: query_fields.update_queryable_fields(db(), form.getlist("enabled"), orders),
            "manage.queryable_fields")
    return render_template("manage/fields.html", rows=query_fields.list_queryable_fields(db()))


# ---- company settings ------------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
def settings():
    values, error, status = company.company_settings(db()), None, 200
    if request.method == "POST":
        try:
            company.update_company_settings(db(), company_name=request.form.get("company_name"),
                                              time_zone=request.form.get("time_zone"))
            db().commit()
            flash(_("Saved."), "success")
            return redirect(url_for("manage.settings"))
        except DomainError as exc:
            error, values, status = refusal(exc), request.form, 400
    return render_template("manage/settings.html", values=values, error=error,
                           zones=company.time_zone_names()), status
