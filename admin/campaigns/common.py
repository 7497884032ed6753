"""What the campaign pages share: the names of states, outcomes, dispositions, pauses, modes
and statuses (also for campaigns.js), the idle reason in words, and the managers-only check.
Rules are in models.dialer.campaigns, models.dialer.agent_states and models.dialer.campaign_stats."""
from __future__ import annotations

import datetime as dt

from flask import abort, g
from flask_babel import gettext as _

from models.dialer.pause_codes import labels as pause_code_labels
from models.schema.campaigns import AGENT_STATES, CAMPAIGN_STATUSES, DIAL_OUTCOMES
from models.telephony.dispositions import labels as disposition_labels

from ..context import current_user, db, lang
from ..forms import local_dt
from . import bp


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
    """The admin's label of a disposition code (models.telephony.dispositions), read once a
    request."""
    if "disposition_labels" not in g:
        g.disposition_labels = disposition_labels(db(), lang())
    return g.disposition_labels.get(value, value)


def pause_label(value: str | None) -> str:
    """The admin's label of a pause code (models.dialer.pause_codes, read once a request), or
    the words of a preview step / a queue call."""
    if "pause_code_labels" not in g:
        g.pause_code_labels = pause_code_labels(db(), lang())
    if value in g.pause_code_labels:
        return g.pause_code_labels[value]
    return {"preview": _("Previewing"), "dial": _("Waiting for the dialer…"),
            "dialling": _("Dialling…"), "inbound": _("Inbound queue call")}.get(value, value or "")


def mode_label(mode: str) -> str:
    return {"preview": _("Preview"), "progressive": _("Progressive"),
            "predictive": _("Predictive"), "voice": _("Voice (no agents)")}.get(mode, mode)


def status_label(status: str) -> str:
    return {"draft": _("Draft"), "running": _("Running"), "paused": _("Paused"),
            "stopped": _("Stopped"), "finished": _("Finished")}.get(status, status)


def machine_action_label(action: str) -> str:
    return {"message": _("Wait for the beep, leave the message"), "retry": _("Hang up and retry"),
            "hangup": _("Hang up")}.get(action, action)


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
                reasons={r: pause_label(r) for r in [*pause_code_labels(db(), lang()),
                                                     "preview", "dial", "dialling", "inbound"]},
                statuses={s: status_label(s) for s in CAMPAIGN_STATUSES},
                over_cap=_("over the cap"), within_cap=_("within the cap"),
                announcement=_("Announcement"),
                announced=_("Ended by the carrier's announcement, not by its cause"))


def manager_only():
    """Managers and admins only (the campaign settings, reports and the do-not-call list)."""
    if not current_user().role.can_manage:
        abort(403)
