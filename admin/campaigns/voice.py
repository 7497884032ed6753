"""What the campaign pages add for voice campaigns (T9): the flows a campaign may play, the
live line figures and the report's dial section (models.dialer.voice_stats)."""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from ivr_flows import FlowError, FlowLibrary
from models.dialer.voice_stats import voice_live

from ..context import clock

_library: dict = {}


def flow_names() -> list[str]:
    """The flows of ivr_flows/ (or IVR_FLOWS_DIR); none when they do not load."""
    folder = current_app.config.get("IVR_FLOWS_DIR")
    library = _library.setdefault(str(folder), FlowLibrary(folder))
    try:
        return sorted(library.get().flows)
    except (FlowError, OSError):
        return []


def trunk_lines() -> int:
    settings = current_app.config.get("DIALFUNNEL_SETTINGS")
    return getattr(settings, "dialer_trunk_lines", 0) or 0


def live_figures(session, campaign) -> dict:
    """The voice figures flattened as voice_<key> (the live page's data-stat names)."""
    figures = voice_live(session, campaign.id, trunk_lines=trunk_lines(), clock=clock())
    return {f"voice_{key}": value for key, value in figures.items()}


def dial_columns() -> list[tuple[str, str]]:
    return [("day", _("Date")), ("dialled", _("Dialled")), ("answered", _("Answered")),
            ("machine", _("Answering machine")), ("no_answer", _("No answer or busy")),
            ("dead", _("Dead numbers")), ("failed", _("Failed")),
            ("answer_rate", _("Answer rate")), ("line_minutes", _("Line-minutes")),
            ("answered_minutes", _("Answered minutes"))]
