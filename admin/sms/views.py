"""Sending one SMS to a customer (the customer's page, the tracking screen, the screen pop and
the wrap-up include sms/_send_form.html), the exact text's preview with its counter, and the
customer's SMS. A salesperson texts only customers they may open; a masking role sees masked
numbers."""
from __future__ import annotations

from flask import flash, jsonify, request
from flask_babel import gettext as _

from models.crm.visibility import get_visible_customer
from models.errors import DomainError, NotFound, PermissionDenied
from models.messages import MESSAGES, render
from models.schema import SmsMessage
from models.sms import sending
from models.sms.segments import count
from models.sms.templates import list_templates, preview as preview_text, variables_for

from ..context import back, clock, current_user, db, lang, refusal_text
from ..forms import guarded
from . import bp

SAMPLE = {"customer_name": "上海宏达贸易有限公司", "contact_name": "王先生",
          "salesperson_name": "李红光", "salesperson_phone": "021-62345678转8001",
          "order_number": "DD-2026-0001", "order_amount": "1,205.30元"}


def sms_panel(customer_id: int) -> dict | None:
    """What the send form and the SMS list of one customer show; None for a customer the
    user may not open (a wrap-up of a colleague's customer's call)."""
    session, user = db(), current_user()
    try:
        customer = get_visible_customer(session, user, customer_id)
    except (NotFound, PermissionDenied):
        return None
    recipients = [(contact.id if contact else "", contact.name if contact else customer.name,
                   number) for contact, number in sending.recipients(session, customer)]
    return dict(customer=customer, recipients=recipients,
                templates=list_templates(session, active_only=True),
                messages=sending.customer_messages(session, user, customer_id, limit=50))


@bp.app_context_processor
def _sms_globals():
    return dict(sms_panel=sms_panel, sms_status_label=status_label,
                sms_reason=reason_text, sms_review_counts=review_counts)


def reason_text(message: SmsMessage) -> str:
    """A failure's reason: ours in words (sms.opted_out...), the gateway's as it said it."""
    reason = message.reason or ""
    return render(reason, lang()) if reason in MESSAGES else reason


def status_label(message: SmsMessage) -> str:
    return {"held": _("Scheduled"), "queued": _("Queued"), "sending": _("Sending"),
            "sent": _("Sent"), "delivered": _("Delivered"), "failed": _("Failed"),
            "skipped": _("Skipped"), "received": _("Received")}.get(message.status,
                                                                      message.status)


@bp.route("/preview", methods=["POST"])
def preview():
    """The exact text and its counter: for a customer (their own data), else sample data."""
    session, user = db(), current_user()
    form = request.form
    try:
        if form.get("customer_id"):
            _customer, _contact, text = sending.compose(
                session, user, int(form["customer_id"]), form.get("body", ""),
                contact_id=form.get("contact_id") or None, order_id=form.get("order_id") or None)
            shown = {"text": text, **count(text)}
        else:
            variables = {**variables_for(session, user, None), **SAMPLE}
            shown = preview_text(session, form.get("body", ""), variables)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        return jsonify(error=exc.key, message=refusal_text(exc)), 400
    return jsonify(shown)


@bp.route("/customers/<int:customer_id>/send", methods=["POST"])
def send(customer_id):
    session, user = db(), current_user()
    guarded(get_visible_customer, session, user, customer_id)
    form = request.form
    message = sending.send_sms(session, user, customer_id, form.get("body", ""),
                               contact_id=form.get("contact_id") or None,
                               order_id=form.get("order_id") or None,
                               template_id=form.get("template_id") or None, clock=clock())
    session.commit()
    flash(_("SMS queued (%(segments)d SMS).", segments=message.segments), "success")
    return back("customers.records")


def review_counts(scope, start, end) -> dict[str, int]:
    """The review page's SMS figures for its scope and dates (analysis/review.html)."""
    from models.crm.reports import utc_range
    from models.sms.reports import sms_counts
    return sms_counts(db(), scope.user_ids, *utc_range(db(), start, end))
