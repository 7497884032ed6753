"""The campaign list, the settings form (new and edit, with its team and retry rules) and
start / pause / stop (T4); telemarketers see only the campaigns whose team they are on."""
from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from models.dialer import campaigns as rules
from models.dialer.campaign_stats import visible_campaigns
from models.errors import DomainError
from models.schema import OWNERSHIP_MODES, STAGES, Campaign, User
from models.schema.campaigns import DIAL_MODES

from ..context import clock, current_user, db, refusal_text
from ..forms import local_dt
from ..labels import ownership_label, stage_label
from . import bp
from .common import machine_action_label, manager_only
from .voice import flow_names

SETTINGS = ("name", "mode", "filter_stage", "filter_ownership", "filter_query", "caller_id",
            "ring_timeout_s", "abandon_cap_pct", "hours_start", "hours_end", "max_attempts_24h",
            "max_attempts_5min", "abandon_cooldown_h", "machine_action", "machine_message",
            "abandon_message", "schedule_start_at", "schedule_end_at", "ivr_flow", "max_lines")


@bp.route("/campaigns")
def index():
    session, user = db(), current_user()
    rows = visible_campaigns(session, user)
    teams = {c.id: len(rules.team_ids(session, c.id)) for c in rows}
    session.commit()
    return render_template("campaigns/list.html", campaigns=rows, teams=teams,
                           manager=user.role.can_manage, local_dt=local_dt)


def _form_values(campaign: Campaign | None) -> dict:
    if campaign is None:
        values = dict(rules.DEFAULTS, retry_rules=rules.clean_retry_rules(None), agent_ids=[])
    else:
        values = {f: getattr(campaign, f) for f in ("name", *rules.DEFAULTS)}
        # the rules in force: a campaign saved before an outcome existed gets its default
        values["retry_rules"] = {**rules.DEFAULT_RETRY_RULES, **(campaign.retry_rules or {})}
        values["agent_ids"] = rules.team_ids(db(), campaign.id)
    for field in ("schedule_start_at", "schedule_end_at"):
        values[field] = local_dt(values[field], "%Y-%m-%dT%H:%M") if values[field] else ""
    query = values.get("filter_query")
    values["filter_query"] = json.dumps(query, ensure_ascii=False) if query else ""
    for field in ("caller_id", "machine_message", "abandon_message", "filter_stage",
                  "filter_ownership", "ivr_flow"):
        values[field] = values[field] or ""
    return values


def _posted() -> tuple[dict, list]:
    form = request.form
    fields = {f: form.get(f, "") for f in SETTINGS}
    fields["skip_holidays"] = "1" if form.get("skip_holidays") else "0"
    retry = {}
    for outcome in rules.RETRYABLE_OUTCOMES:
        delay, most = form.get(f"retry_{outcome}_delay", ""), form.get(f"retry_{outcome}_max", "")
        if delay.strip() or most.strip():
            retry[outcome] = {"delay_min": delay.strip(), "max": most.strip()}
    fields["retry_rules"] = retry
    agents = [int(v) if v.isdigit() else v for v in form.getlist("agent_ids")]
    return fields, agents


def _check_flow(fields: dict) -> None:
    """A flow that is not one of ivr_flows' is refused (the models know only its form)."""
    flows = flow_names()
    if fields.get("ivr_flow") and flows and fields["ivr_flow"] not in flows:
        raise rules.CampaignInvalid("campaign.bad_value", field="ivr_flow")


def _redisplay(fields: dict, agents: list) -> dict:
    values = dict(fields, agent_ids=[a for a in agents if isinstance(a, int)],
                  skip_holidays=fields["skip_holidays"] == "1")
    rules_in = rules.clean_retry_rules(None)
    for outcome, rule in fields["retry_rules"].items():
        rules_in[outcome] = rule
    values["retry_rules"] = rules_in
    return values


def _form_page(campaign, values, error=None, status=200):
    agents = db().scalars(select(User).where(User.active.is_(True))
                          .order_by(User.full_name, User.id)).all()
    page = render_template(
        "campaigns/form.html", campaign=campaign, values=values, error=error, agents=agents,
        modes=DIAL_MODES, stages=STAGES, ownerships=OWNERSHIP_MODES,
        stage_label=stage_label, ownership_label=ownership_label,
        retryable=rules.RETRYABLE_OUTCOMES, machine_actions=rules.MACHINE_ACTIONS,
        machine_action_label=machine_action_label, flows=flow_names())
    db().commit()
    return page, status


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new():
    manager_only()
    if request.method == "GET":
        return _form_page(None, _form_values(None))
    fields, agents = _posted()
    try:
        _check_flow(fields)
        campaign = rules.create_campaign(db(), current_user(), clock=clock(), agent_ids=agents,
                                         **fields)
        db().commit()
    except DomainError as exc:
        db().rollback()
        return _form_page(None, _redisplay(fields, agents), refusal_text(exc), 400)
    flash(_("Campaign %(name)s created.", name=campaign.name), "success")
    return redirect(url_for("campaigns.live", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
def edit(campaign_id):
    manager_only()
    campaign = rules.get_campaign(db(), campaign_id)
    if request.method == "GET":
        return _form_page(campaign, _form_values(campaign))
    fields, agents = _posted()
    try:
        _check_flow(fields)
        rules.update_campaign(db(), current_user(), campaign_id, clock=clock(), **fields)
        rules.set_team(db(), current_user(), campaign_id, agents)
        db().commit()
    except DomainError as exc:
        db().rollback()
        return _form_page(rules.get_campaign(db(), campaign_id), _redisplay(fields, agents),
                          refusal_text(exc), 400)
    flash(_("Saved."), "success")
    return redirect(url_for("campaigns.live", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/status", methods=["POST"])
def change_status(campaign_id):
    manager_only()
    action = request.form.get("action", "")
    campaign = rules.change_status(db(), current_user(), campaign_id, action, clock=clock())
    db().commit()
    flash({"start": _("Campaign %(name)s started.", name=campaign.name),
           "pause": _("Campaign %(name)s paused.", name=campaign.name),
           "stop": _("Campaign %(name)s stopped.", name=campaign.name)}[action], "success")
    return redirect(url_for("campaigns.live", campaign_id=campaign_id))
