"""Display names for the CRM's codes, and the template helpers built on them."""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import gettext as _

from models.fields import FIELD_LABELS

from .context import current_user, lang


def stage_label(stage: str | None) -> str:
    return {"reserve": _("Reserve"), "target": _("Target"), "potential": _("Potential"),
            "opportunity": _("Opportunity"), "closed": _("Closed"),
            None: _("Archive"), "archive": _("Archive")}.get(stage, stage or "")


def ownership_label(mode: str) -> str:
    return {"personal": _("Personal"), "collaborative": _("Collaborative"),
            "shared": _("Shared")}.get(mode, mode)


def mark_label(value: str) -> str:
    return {"not_contacted": _("Not contacted"), "contacted": _("Contacted"),
            "tracking": _("Tracking"), "paused": _("Paused"), "selling": _("Selling"),
            "ended": _("Ended"), "in_progress": _("In progress"), "done": _("Done"),
            "unpaid": _("Unpaid"), "partial": _("Partly"), "paid": _("Paid"),
            "unshipped": _("Not shipped"), "shipped": _("Shipped")}.get(value, value)


def period_label(period: str) -> str:
    return {"day": _("Day"), "week": _("Week"), "month": _("Month")}.get(period, period)


def column_label(column: str, period: str) -> str:
    labels = {
        "day": {"callback_now": _("Call back today"), "callback_next": _("Call back tomorrow"),
                "contacted": _("Contacted today")},
        "week": {"callback_now": _("Call back this week"), "callback_next": _("Call back next week"),
                 "contacted": _("Contacted this week")},
        "month": {"callback_now": _("Call back this month"),
                  "callback_next": _("Call back next month"), "contacted": _("Contacted this month")},
    }
    return labels.get(period, labels["day"]).get(column, column)


def field_label(field: str) -> str:
    zh, en = FIELD_LABELS.get(field, (field, field))
    return en if lang().startswith("en") else zh


def has_endpoint(name: str) -> bool:
    return name in current_app.view_functions


def customer_url_template() -> str:
    """URL of customer 0's detail page; scripts swap in the real id."""
    if has_endpoint("customers.detail"):
        return url_for("customers.detail", customer_id=0)
    return ""


NAV = [  # endpoint, label, url kwargs, role flag needed
    ("customers.stage_list", lambda: _("Customers"), {"stage": "target"}, None),
    ("sales.opportunities", lambda: _("Opportunities"), {}, None),
    ("sales.orders", lambda: _("Orders"), {}, None),
    ("finder.search", lambda: _("Find"), {}, None),
    ("imports.index", lambda: _("Import"), {}, None),
    ("analysis.review", lambda: _("Review"), {}, None),
    ("calls.unanswered", lambda: _("Unanswered calls"), {}, None),
    ("recordings.library", lambda: _("Recordings"), {}, None),
    ("campaigns.index", lambda: _("Campaigns"), {}, None),
    ("fax.inbox", lambda: _("Faxes"), {}, None),
    ("wallboard.index", lambda: _("Wallboard"), {}, "can_manage"),
    ("sms.bulk_jobs", lambda: _("Bulk SMS"), {}, "can_manage"),
    ("manage.index", lambda: _("Administration"), {}, "is_admin"),
]


def nav_items() -> list[dict]:
    user = current_user()
    items = []
    for endpoint, label, kwargs, flag in NAV:
        if not has_endpoint(endpoint) or (flag and not getattr(user.role, flag)):
            continue
        items.append(dict(url=url_for(endpoint, **kwargs), label=label()))
    return items


HELPERS = dict(stage_label=stage_label, ownership_label=ownership_label, mark_label=mark_label,
               period_label=period_label, column_label=column_label, field_label=field_label,
               has_endpoint=has_endpoint, customer_url_template=customer_url_template,
               nav_items=nav_items)


def init_app(app) -> None:
    app.jinja_env.globals.update(HELPERS)
