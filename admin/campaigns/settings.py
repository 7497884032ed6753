"""Outbound campaigns (T4) in the browser: list, settings form, start / pause / stop, the live
view (server-sent events), reports. The do-not-call list is in dnc.py and the agent's
dialer widget in dialer.py. Rules are in models.dialer.campaigns, models.dialer.agent_states and
models.dialer.campaign_stats; telemarketers see only the campaigns whose team they are on."""
from __future__ import annotations

import datetime as dt
import json
import time

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from models.dialer import campaigns as rules
from models.dialer.agent_states import DISPOSITIONS, PAUSE_REASONS
from models.dialer.campaign_stats import REPORTS, live_stats, report, visible_campaign, visible_campaigns
from models.errors import DomainError, InvalidValue
from models.schema import OWNERSHIP_MODES, STAGES, Campaign, User
from models.schema.campaigns import AGENT_STATES, CAMPAIGN_STATUSES, DIAL_MODES, DIAL_OUTCOMES

from ..context import clock, current_user, db, refusal_text
from ..forms import local_dt
from ..labels import ownership_label, stage_label
from ..spreadsheet import export_response
from . import bp


EXPORT_FORMATS = ("xlsx", "csv")
SETTINGS = ("name", "mode", "filter_stage", "filter_ownership", "filter_query", "caller_id",
            "ring_timeout_s", "abandon_cap_pct", "hours_start", "hours_end", "max_attempts_24h",
            "max_attempts_5min", "abandon_cooldown_h", "machine_action", "machine_message",
            "abandon_message", "schedule_start_at", "schedule_end_at")


# -- labels ---------------------------------------------------------------------------------

def state_label(state: str) -> str:
    return {"logged_out": _("Logged out"), "ready": _("Ready"), "on_call": _("On a call"),
            "wrap_up": _("Wrap-up"), "paused": _("Paused")}.get(state, state)


def outcome_label(outcome: str) -> str:
    return {"answered": _("Answered"), "abandoned": _("Abandoned"),
            "machine": _("Answering machine"), "busy": _("Busy"), "rejected": _("Call rejected"),
            "noanswer": _("No answer"), "absent": _("Powered off / unreachable"),
            "unallocated": _("Unallocated number"), "changed": _("Number changed"),
            "invalid": _("Invalid number"), "dead": _("Dead number"), "noroute": _("No route"),
            "congestion": _("Congestion"), "failed": _("Failed")}.get(outcome, outcome)


def disposition_label(value: str) -> str:
    return {"interested": _("Interested"), "not_interested": _("Not interested"),
            "callback": _("Call back later"), "wrong_person": _("Wrong person"),
            "other": _("Other")}.get(value, value)


def pause_label(value: str | None) -> str:
    return {"break": _("Break"), "meal": _("Meal"), "meeting": _("Meeting"),
            "training": _("Training"), "paperwork": _("Paperwork"),
            "other": _("Other"), "preview": _("Previewing"), "dial": _("Waiting for the dialer…"),
            "dialling": _("Dialling…")}.get(value, value or "")


def mode_label(mode: str) -> str:
    return {"preview": _("Preview"), "progressive": _("Progressive"),
            "predictive": _("Predictive")}.get(mode, mode)


def status_label(status: str) -> str:
    return {"draft": _("Draft"), "running": _("Running"), "paused": _("Paused"),
            "stopped": _("Stopped"), "finished": _("Finished")}.get(status, status)


def machine_action_label(action: str) -> str:
    return {"message": _("Leave the message"), "retry": _("Hang up and retry")}.get(action, action)


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f}%"


def number(value) -> str:
    return "—" if value is None else f"{value:g}"


def idle_text(idle: dict | None) -> str:
    """Why the dialer calls nobody now (models.dialer.campaign_stats.why_idle), for a person."""
    if not idle:
        return ""
    at = idle.get("at")
    at = local_dt(dt.datetime.fromisoformat(at) if isinstance(at, str) else at) if at else ""
    return {
        "not_running": _("The campaign is not running: nobody is called."),
        "not_scheduled_yet": _("The campaign's schedule starts at %(at)s: nobody is called before.", at=at),
        "schedule_over": _("The campaign's schedule is over: nobody is called."),
        "no_leads": _("No customer is left to call: add customers that match the campaign or change its filter."),
        "waiting_retries": _("Every customer left is waiting for a retry: the next one is due at %(at)s.", at=at),
        "outside_hours": _("Outside the calling hours: calls start again at %(at)s.", at=at)
        if at else _("Outside the calling hours."),
        "all_capped": _("Every number due now is capped, on the do-not-call list or cooling down after an abandon."),
        "no_agent_ready": _("No agent is ready: calls start when an agent is ready."),
    }.get(idle["reason"], idle["reason"])


@bp.app_context_processor
def _campaign_globals():
    return dict(state_label=state_label, outcome_label=outcome_label, idle_text=idle_text,
                disposition_label=disposition_label, pause_label=pause_label,
                mode_label=mode_label, campaign_status_label=status_label, percent=percent,
                number=number)


def live_labels() -> dict:
    """What campaigns.js needs to draw the live figures in the page's language."""
    return dict(states={s: state_label(s) for s in AGENT_STATES},
                outcomes={o: outcome_label(o) for o in DIAL_OUTCOMES},
                reasons={r: pause_label(r) for r in PAUSE_REASONS + ("preview", "dial", "dialling")},
                statuses={s: status_label(s) for s in CAMPAIGN_STATUSES},
                over_cap=_("over the cap"), within_cap=_("within the cap"))


def _manager():
    if not current_user().role.can_manage:
        abort(403)


# -- list, form, status ---------------------------------------------------------------------

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
                  "filter_ownership"):
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
        machine_action_label=machine_action_label)
    db().commit()
    return page, status


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new():
    _manager()
    if request.method == "GET":
        return _form_page(None, _form_values(None))
    fields, agents = _posted()
    try:
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
    _manager()
    campaign = rules.get_campaign(db(), campaign_id)
    if request.method == "GET":
        return _form_page(campaign, _form_values(campaign))
    fields, agents = _posted()
    try:
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
    _manager()
    action = request.form.get("action", "")
    campaign = rules.change_status(db(), current_user(), campaign_id, action, clock=clock())
    db().commit()
    flash({"start": _("Campaign %(name)s started.", name=campaign.name),
           "pause": _("Campaign %(name)s paused.", name=campaign.name),
           "stop": _("Campaign %(name)s stopped.", name=campaign.name)}[action], "success")
    return redirect(url_for("campaigns.live", campaign_id=campaign_id))


# -- live view ------------------------------------------------------------------------------

@bp.route("/campaigns/<int:campaign_id>")
def live(campaign_id):
    session, user = db(), current_user()
    campaign = visible_campaign(session, user, campaign_id)
    stats = live_stats(session, campaign.id, clock=clock())
    session.commit()
    return render_template("campaigns/live.html", campaign=campaign, stats=stats,
                           manager=user.role.can_manage, labels=live_labels(),
                           actions=[a for a, (sources, _t) in rules.TRANSITIONS.items()
                                    if campaign.status in sources])


def _changed(stats: dict) -> str:
    """The figures without the clock, to send only what changed."""
    return json.dumps(dict(stats, now=None, agents=[dict(a, seconds=None) for a in stats["agents"]]),
                      sort_keys=True, default=str)


@bp.route("/campaigns/<int:campaign_id>/live")
def live_stream(campaign_id):
    user = current_user()
    maker = current_app.extensions["dialfunnel.sessionmaker"]
    limit = current_app.config.get("SSE_MAX_SECONDS", 300)
    poll = current_app.config.get("CAMPAIGN_LIVE_POLL_SECONDS", 1.0)
    app_clock = clock()
    visible_campaign(db(), user, campaign_id)
    db().commit()

    def generate():
        started = sent_at = time.monotonic()
        last = None
        yield "retry: 2000\n\n"
        while time.monotonic() - started < limit:
            with maker() as s:
                stats = live_stats(s, campaign_id, clock=app_clock)
                s.commit()
            stats["idle_text"] = idle_text(stats["idle"])
            key = _changed(stats)
            if key != last or time.monotonic() - sent_at > 10:
                last, sent_at = key, time.monotonic()
                yield f"event: stats\ndata: {json.dumps(stats, ensure_ascii=False)}\n\n"
            time.sleep(poll)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- reports --------------------------------------------------------------------------------

def _date(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(field=name) from None


def report_columns(by: str) -> list[tuple[str, str]]:
    figures = [("calls", _("Calls")), ("completed", _("Completed")), ("answered", _("Answered")),
               ("abandoned", _("Abandoned")), ("machine", _("Answering machine")),
               ("dead", _("Dead numbers")), ("answer_rate", _("Answer rate")),
               ("abandon_rate", _("Abandon rate")), ("talk_minutes", _("Talk minutes")),
               ("agent_hours", _("Agent hours")),
               ("talk_per_agent_hour", _("Talk minutes per agent-hour"))]
    if by == "day":
        return [("day", _("Date"))] + figures
    if by == "agent":
        return [("name", _("Agent name")), ("calls", _("Calls")), ("talk_minutes", _("Talk minutes")),
                ("agent_hours", _("Agent hours")),
                ("talk_per_agent_hour", _("Talk minutes per agent-hour"))] + \
            [(f"disposition:{d}", disposition_label(d)) for d in DISPOSITIONS]
    return [("outcome", _("Outcome")), ("calls", _("Calls")), ("share", _("Share")),
            ("talk_minutes", _("Talk minutes"))]


def report_cell(row: dict, column: str, *, for_export: bool = False):
    if column.startswith("disposition:"):
        return row["dispositions"][column.split(":", 1)[1]]
    value = row[column]
    if column == "outcome":
        return outcome_label(value)
    if column == "day":
        return value.isoformat()
    if column in ("answer_rate", "abandon_rate", "share"):
        return value if for_export else percent(value)
    if value is None:
        return None if for_export else "—"
    return value


@bp.route("/campaigns/<int:campaign_id>/report")
def report_page(campaign_id):
    _manager()
    session, user = db(), current_user()
    campaign = visible_campaign(session, user, campaign_id)
    by = request.args.get("by", "day")
    if by not in REPORTS:
        abort(400)
    start, end = _date("from"), _date("to")
    rows = report(session, campaign.id, by, clock=clock(), start=start, end=end)
    session.commit()
    columns = report_columns(by)
    fmt = request.args.get("export")
    if fmt:
        if not user.role.can_export:
            abort(403)
        if fmt not in EXPORT_FORMATS:
            abort(400)
        return export_response([label for _c, label in columns],
                               ([report_cell(r, c, for_export=True) for c, _l in columns]
                                for r in rows),
                               f"{campaign.name}-{by}", fmt)
    dates = {k: v for k, v in (("from", start), ("to", end)) if v is not None}
    export_urls = {fmt: url_for("campaigns.report_page", campaign_id=campaign.id, by=by,
                                export=fmt, **dates) for fmt in EXPORT_FORMATS}
    return render_template("campaigns/report.html", campaign=campaign, by=by, rows=rows,
                           columns=columns, cell=report_cell, start=start, end=end,
                           reports=REPORTS, can_export=user.role.can_export,
                           export_urls=export_urls)

