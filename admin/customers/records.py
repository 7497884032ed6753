"""Contact records list (联系记录): my records (managers: everybody's), edit and delete."""
from __future__ import annotations

from flask import flash, render_template, request
from flask_babel import gettext as _

from models.crm.contact_records import delete_contact_record, update_contact_record
from models.crm.lists import editable_record, records_page, user_names

from ..context import back, clock, current_user, db
from ..forms import guarded, local_dt, parse_local_datetime
from ..paging import page_number, page_size
from . import bp


@bp.route("/records")
def records():
    user = current_user()
    everyone = user.role.can_manage and request.args.get("tab", "all") == "all"
    page, customer_names = records_page(db(), user, everyone=everyone, page=page_number(),
                                        per_page=page_size())
    names = user_names(db(), {r.user_id for r in page.items})
    return render_template("customers/records.html", page=page, customer_names=customer_names,
                           names=names, tab="all" if everyone else "mine")


@bp.route("/records/<int:record_id>/edit", methods=["GET", "POST"])
def record_edit(record_id):
    session, user = db(), current_user()
    record = guarded(editable_record, session, user, record_id)
    if request.method == "POST":
        form = request.form
        changes = dict(
            method=form.get("method", record.method), content=form.get("content", "").strip(),
            progress=form.get("progress", "").strip()[:200] or None,
            next_callback_at=parse_local_datetime(form.get("callback_date"),
                                                  form.get("callback_time"), "next_callback_at"),
            remind=form.get("remind") == "1")
        update_contact_record(session, user, record_id, changes, clock=clock())
        session.commit()
        flash(_("Contact record saved."), "success")
        return back("customers.records")
    return render_template("customers/record_edit.html", r=record,
                           callback_date=local_dt(record.next_callback_at, "%Y-%m-%d"),
                           callback_time=local_dt(record.next_callback_at, "%H:%M"),
                           next=request.args.get("next", ""))


@bp.route("/records/<int:record_id>/delete", methods=["POST"])
def record_delete(record_id):
    session, user = db(), current_user()
    guarded(editable_record, session, user, record_id)
    delete_contact_record(session, user, record_id, clock=clock())
    session.commit()
    flash(_("Contact record deleted."), "success")
    return back("customers.records")
