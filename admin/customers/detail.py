"""Customer detail (客户详情): the edit form under the stage rules, its sections and buttons,
its contacts (add, edit, delete) and documents (upload, download), a new customer with the
live duplicate check, and deletion with its confirmation."""
from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from models.crm.contacts import CONTACT_FIELDS, add_contact, delete_contact, get_contact, update_contact
from models.crm.customer_documents import (
    customer_document_file,
    delete_customer_document,
    get_customer_document,
    may_delete_document,
    store_customer_document,
    stored_files,
)
from models.crm.customers import (
    count_dependents,
    create_customer,
    delete_customer,
    find_duplicates,
    update_customer,
)
from models.crm.lists import active_users, customer_sections, user_names, visible_names
from models.crm.ownership import claim, force_release, reassign, release, screen, set_collaborators
from models.crm.stage_rules import RANK, rule_for
from models.crm.stages import (
    CONTACT_MARKS,
    TRACKING_MARKS,
    demote,
    promote,
    set_contact_mark,
    set_tracking_mark,
)
from models.crm.visibility import get_visible_customer, is_operator
from models.errors import DomainError
from models.fields import CUSTOMER_DATA_FIELDS
from models.schema import STAGES
from models.stored_files import MAX_DOCUMENT_BYTES, remove_stored_file, safe_content_type
from models.telephony.call_history import customer_calls

from ..context import back, clock, current_user, db, lang, local_path, refusal_text
from ..forms import guarded, parse_ids, parse_int
from ..labels import stage_label
from ..masking import shown_values
from . import bp
from .forms import customer_form_data

FORM_FIELDS = tuple(CUSTOMER_DATA_FIELDS)
LONG_FIELDS = ("address", "profile")


def visible(customer_id: int):
    return guarded(get_visible_customer, db(), current_user(), customer_id)


def customer_view(customer) -> dict:
    """What the detail and tracking screens show about a customer besides its sections:
    locked fields, the stage moves and marks its rule allows, who may do what."""
    session, user = db(), current_user()
    rule = rule_for(session, customer.stage)
    may_save = customer.ownership != "shared" or user.role.can_edit_shared
    editable = set(FORM_FIELDS) if user.role.is_admin else set(rule.editable_fields)
    rank = RANK[customer.stage]
    return dict(
        rule=rule, may_save=may_save,
        locked={f for f in FORM_FIELDS if f not in editable or not may_save},
        higher=[s for s in STAGES if RANK[s] > rank],
        lower=[s for s in reversed(STAGES) if RANK[s] < rank] + (["archive"] if rank else []),
        mine=is_operator(user, customer),
        contact_marks=CONTACT_MARKS if "contact" in rule.marks else (),
        tracking_marks=TRACKING_MARKS if "tracking" in rule.marks else (),
        operators=user_names(session, customer.operator_ids),
        document_max_mb=MAX_DOCUMENT_BYTES // (1024 * 1024),
    )


@bp.route("/customers/<int:customer_id>")
def detail(customer_id):
    session = db()
    customer = get_visible_customer(session, current_user(), customer_id)
    sections = customer_sections(session, current_user(), customer_id)
    names = user_names(session, _people(customer, sections))
    return render_template("customers/detail.html", c=customer, s=sections, names=names,
                           calls=customer_calls(session, current_user(), customer_id),
                           fields=FORM_FIELDS, long_fields=LONG_FIELDS,
                           values=shown_values({f: getattr(customer, f) for f in FORM_FIELDS}),
                           users=active_users(session) if _picks_users(customer) else [],
                           **customer_view(customer))


def _people(customer, sections) -> set:
    ids = set(customer.operator_ids)
    ids |= {r.user_id for r in sections["records"]}
    ids |= {o.owner_id for o in sections["opportunities"]}
    ids |= {o.seller_id for o in sections["orders"]} | {o.follower_id for o in sections["orders"]}
    for h in sections["history"]:
        ids |= {h.actor_id, *h.from_operators, *h.to_operators}
    ids |= {d.uploaded_by_id for d in sections["documents"]}
    ids |= {h.actor_id for h in sections["stage_history"]}
    return ids


def _picks_users(customer) -> bool:
    """Managers reassign; managers and the customer's operators set collaborators."""
    user = current_user()
    return user.role.can_manage or is_operator(user, customer)


@bp.route("/customers/<int:customer_id>", methods=["POST"])
def save(customer_id):
    """Save the form. The model refuses locked fields and unsaveable shared customers;
    the refusal is flashed and nothing changes."""
    visible(customer_id)
    update_customer(db(), current_user(), customer_id, customer_form_data(request.form),
                    clock=clock())
    db().commit()
    flash(_("Saved."), "success")
    return back()


ACTIONS = {
    "claim": lambda s, u, cid, f, c: claim(s, u, cid, clock=c),
    "release": lambda s, u, cid, f, c: release(s, u, cid, clock=c),
    "screen": lambda s, u, cid, f, c: screen(s, u, cid, f.get("to_stage", ""), clock=c),
    "promote": lambda s, u, cid, f, c: promote(s, u, cid, f.get("to_stage", ""), clock=c),
    "demote": lambda s, u, cid, f, c: demote(s, u, cid, f.get("to_stage", ""), clock=c),
    "contact_mark": lambda s, u, cid, f, c: set_contact_mark(s, u, cid, f.get("mark", ""),
                                                             clock=c),
    "tracking_mark": lambda s, u, cid, f, c: set_tracking_mark(s, u, cid, f.get("mark", ""),
                                                               clock=c),
    "pause": lambda s, u, cid, f, c: set_tracking_mark(s, u, cid, "paused", clock=c),
    "force_release": lambda s, u, cid, f, c: force_release(s, u, cid, clock=c),
    "reassign": lambda s, u, cid, f, c: reassign(s, u, cid, parse_int(f.get("user_id"), "user"),
                                                 clock=c),
    "collaborators": lambda s, u, cid, f, c: set_collaborators(
        s, u, cid, parse_ids(f.getlist("user_ids")), clock=c),
}


def action_label(action: str) -> str:
    return {"claim": _("Claim"), "release": _("Release"), "screen": _("Screen"),
            "promote": _("Promote"), "demote": _("Demote"), "contact_mark": _("Contact mark"),
            "tracking_mark": _("Tracking mark"), "pause": _("Pause"),
            "force_release": _("Force release"), "reassign": _("Reassign"),
            "collaborators": _("Set collaborators")}.get(action, action)


@bp.route("/customers/<int:customer_id>/do/<action>", methods=["POST"])
def act(customer_id, action):
    """The buttons of the detail and tracking screens; each calls its rule in models/."""
    if action not in ACTIONS:
        abort(404)
    visible(customer_id)
    ACTIONS[action](db(), current_user(), customer_id, request.form, clock())
    db().commit()
    flash(_("%(action)s: done.", action=action_label(action)), "success")
    return back()


@bp.route("/customers/<int:customer_id>/contacts", methods=["POST"])
def add_contact_view(customer_id):
    visible(customer_id)
    data = {f: request.form.get(f, "") for f in CONTACT_FIELDS}
    add_contact(db(), current_user(), customer_id, data, clock=clock())
    db().commit()
    flash(_("Contact added."), "success")
    return back()


@bp.route("/customers/<int:customer_id>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
def edit_contact_view(customer_id, contact_id):
    """GET: the contact's form; POST: save it. A refusal shows the form again with what
    was typed, so nothing is lost."""
    session, user = db(), current_user()
    customer = visible(customer_id)
    contact = guarded(get_contact, session, user, customer_id, contact_id)
    back_to = (local_path(request.values.get("next"))
               or url_for("customers.track", customer_id=customer_id))
    values = shown_values({f: getattr(contact, f) or "" for f in CONTACT_FIELDS})
    error = None
    if request.method == "POST":
        values = {f: request.form.get(f, "") for f in CONTACT_FIELDS}
        try:
            update_contact(session, user, customer_id, contact_id, values)
            session.commit()
        except DomainError as exc:
            session.rollback()
            error = refusal_text(exc)
        else:
            flash(_("Contact %(name)s saved.", name=contact.name), "success")
            return redirect(back_to)
    return render_template("customers/contact_edit.html", c=customer, p=contact, values=values,
                           error=error, next=back_to,
                           may_save=customer_view(customer)["may_save"]), (400 if error else 200)


@bp.route("/customers/<int:customer_id>/contacts/<int:contact_id>/delete", methods=["POST"])
def delete_contact_view(customer_id, contact_id):
    """Delete a contact; the contact records that named it keep their text."""
    session = db()
    name = guarded(get_contact, session, current_user(), customer_id, contact_id).name
    kept = delete_contact(session, current_user(), customer_id, contact_id)
    session.commit()
    if kept:
        flash(_("Contact %(name)s deleted; its %(n)d contact records are kept.", name=name,
                n=kept), "success")
    else:
        flash(_("Contact %(name)s deleted.", name=name), "success")
    return back()


# --- The customer's documents (stored like the company documents, admin/manage/documents.py) ---

@bp.route("/customers/<int:customer_id>/documents", methods=["POST"])
def upload_document(customer_id):
    """Attach a file; a refusal (no file, empty, too large, shared customer) is flashed."""
    visible(customer_id)
    upload = request.files.get("file")
    document = store_customer_document(
        db(), current_user(), current_app.config["DATA_DIR"], customer_id,
        upload.stream if upload else None, upload.filename if upload else None,
        title=request.form.get("title"), content_type=upload.mimetype if upload else None,
        clock=clock())
    db().commit()
    flash(_("Uploaded %(name)s.", name=document.filename), "success")
    return back()


@bp.route("/customers/<int:customer_id>/documents/<int:document_id>/download")
def download_document(customer_id, document_id):
    """The stored file under its own name; 404 unless the user may open the customer and the
    document is this customer's."""
    document, path = customer_document_file(db(), current_user(), current_app.config["DATA_DIR"],
                                            customer_id, document_id)
    return send_file(path, mimetype=safe_content_type(document.content_type),
                     as_attachment=True, download_name=document.filename, max_age=0)


bp.add_app_template_global(may_delete_document, "may_delete_document")


@bp.route("/customers/<int:customer_id>/documents/<int:document_id>/delete", methods=["POST"])
def delete_document(customer_id, document_id):
    """Its uploader or a role that may delete; the stored file goes after the commit."""
    session = db()
    document = guarded(get_customer_document, session, current_user(), customer_id, document_id)
    name = document.filename
    path = guarded(delete_customer_document, session, current_user(),
                   current_app.config["DATA_DIR"], customer_id, document_id)
    session.commit()
    remove_stored_file(path)
    flash(_("Deleted the document %(name)s.", name=name), "success")
    return back()


@bp.route("/customers/<int:customer_id>/delete", methods=["GET", "POST"])
def delete(customer_id):
    """GET: what will go with the customer; POST: delete it (role "may delete")."""
    user = current_user()
    if not user.role.can_delete:
        abort(403)
    customer = visible(customer_id)
    if request.method == "GET":
        return render_template("customers/delete.html", c=customer,
                               counts=count_dependents(db(), customer_id))
    stage, name = customer.stage or "archive", customer.name
    files = stored_files(db(), current_app.config["DATA_DIR"], customer_id)
    removed = delete_customer(db(), user, customer_id)
    db().commit()
    for path in files:
        remove_stored_file(path)
    flash(_("Deleted %(name)s with %(contacts)d contacts, %(records)d contact records, "
            "%(opportunities)d opportunities, %(orders)d orders and %(documents)d documents.",
            name=name, contacts=removed["contacts"], records=removed["contact_records"],
            opportunities=removed["opportunities"], orders=removed["orders"],
            documents=removed["documents"]), "success")
    return redirect(url_for("customers.stage_list", stage=stage))


# --- New customer ---------------------------------------------------------------------------

NEW_STAGES = (*STAGES, "archive")


@bp.route("/customers/new", methods=["GET", "POST"])
def new():
    session, user = db(), current_user()
    users = active_users(session) if user.sees_all else []
    form = dict(stage=request.args.get("stage", "reserve"), operator="me")
    error = None
    if request.method == "POST":
        data = {f: v for f, v in customer_form_data(request.form).items() if v not in ("", None)}
        form = dict(stage=request.form.get("stage", ""),
                    operator=request.form.get("operator", "me"))
        operator = form["operator"]
        try:
            if operator == "shared":
                kw = dict(ownership="shared")
            elif operator == "me":
                kw = dict(ownership="personal", operator_ids=[user.id])
            else:
                kw = dict(ownership="personal",
                          operator_ids=[parse_int(operator, "operator")])
            customer = create_customer(session, user, data, stage=form["stage"], clock=clock(),
                                       **kw)
            session.commit()
        except DomainError as exc:
            session.rollback()
            error = exc.message(lang())
        else:
            flash(_("Customer %(name)s added.", name=customer.name), "success")
            return redirect(url_for("customers.detail", customer_id=customer.id))
    values = customer_form_data(request.form)
    values["do_not_call"] = values.get("do_not_call") == "1"
    return render_template("customers/new.html", form=form, fields=FORM_FIELDS, values=values,
                           long_fields=LONG_FIELDS, stages=NEW_STAGES, users=users,
                           error=error), (400 if error else 200)


@bp.route("/customers/duplicates")
def duplicates():
    """Live duplicate check while typing (C4): id, name and stage only; a link only to a
    customer the user may open."""
    session, user = db(), current_user()
    found = find_duplicates(session, name=request.args.get("name"),
                            keyword=request.args.get("keyword"), phone=request.args.get("phone"),
                            limit=10)
    openable = visible_names(session, user, [d["id"] for d in found])
    return jsonify(matches=[
        dict(id=d["id"], name=d["name"], stage=d["stage"], stage_label=stage_label(d["stage"]),
             url=url_for("customers.detail", customer_id=d["id"]) if d["id"] in openable
             else None)
        for d in found])
