"""Role permissions, stage rules (C3), queryable fields (C8) and company settings."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models import admin_ops
from models.errors import DomainError

from .context import db
from .manage import bp, refusal


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
    return render_template("manage/roles.html", roles=admin_ops.list_roles(db()),
                           flags=admin_ops.ROLE_FLAGS, max_quota=admin_ops.MAX_QUOTA)


@bp.route("/roles/<code>", methods=["POST"])
def role_save(code):
    form = request.form
    return _saved_or_refused(
        lambda: admin_ops.update_role(db(), code, daily_claim_quota=form.get("daily_claim_quota"),
                                      **{f: form.get(f) for f in admin_ops.ROLE_FLAGS}),
        "manage.roles")


# ---- stage rules -----------------------------------------------------------------------------

@bp.route("/stage-rules")
def stage_rules():
    return render_template("manage/stage_rules.html", rules=admin_ops.list_stage_rules(db()),
                           fields=admin_ops.EDITABLE_FIELDS, actions=admin_ops.RULE_ACTIONS,
                           marks=admin_ops.MARKS)


@bp.route("/stage-rules/<stage>", methods=["POST"])
def stage_rule_save(stage):
    form = request.form
    return _saved_or_refused(
        lambda: admin_ops.update_stage_rule(
            db(), stage, editable_fields=form.getlist("editable_fields"),
            marks=form.getlist("marks"), **{a: form.get(a) for a in admin_ops.RULE_ACTIONS}),
        "manage.stage_rules", _anchor="rule-" + stage if stage in admin_ops.RULE_STAGES else None)


# ---- queryable fields ------------------------------------------------------------------------

@bp.route("/fields", methods=["GET", "POST"])
def queryable_fields():
    if request.method == "POST":
        form = request.form
        orders = {key[len("order-"):]: value for key, value in form.items()
                  if key.startswith("order-")}
        return _saved_or_refused(
            lambda: admin_ops.update_queryable_fields(db(), form.getlist("enabled"), orders),
            "manage.queryable_fields")
    return render_template("manage/fields.html", rows=admin_ops.list_queryable_fields(db()))


# ---- company settings ------------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
def settings():
    values, error, status = admin_ops.company_settings(db()), None, 200
    if request.method == "POST":
        try:
            admin_ops.update_company_settings(db(), company_name=request.form.get("company_name"),
                                              time_zone=request.form.get("time_zone"))
            db().commit()
            flash(_("Saved."), "success")
            return redirect(url_for("manage.settings"))
        except DomainError as exc:
            error, values, status = refusal(exc), request.form, 400
    return render_template("manage/settings.html", values=values, error=error,
                           zones=admin_ops.time_zone_names()), status
