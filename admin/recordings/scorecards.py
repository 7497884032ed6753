"""Review forms for admins (issue 16): /quality/forms lists and creates them;
/quality/forms/<id> adds sections and items and turns the form on or off
(models.quality.forms); /quality/sampling sets the weekly sample's share and minimum
(models.quality.sampling)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.quality import forms as rules
from models.quality.sampling import sample_settings, set_sample_settings

from ..context import clock, current_user, db, requires
from ..forms import parse_decimal, parse_int
from . import bp


@bp.route("/quality/forms", methods=["GET", "POST"])
@requires("is_admin")
def forms():
    session = db()
    if request.method == "POST":
        form = rules.create_form(session, current_user(), request.form.get("name", ""), clock=clock())
        session.commit()
        flash(_("Review form added."), "success")
        return redirect(url_for("recordings.form_edit", form_id=form.id))
    rows = rules.all_forms(session)
    percent, minimum = sample_settings(session)
    session.commit()
    return render_template("recordings/forms.html", rows=rows, percent=percent, minimum=minimum)


@bp.route("/quality/sampling", methods=["POST"])
@requires("is_admin")
def sampling():
    set_sample_settings(db(), current_user(), request.form.get("percent", ""),
                        request.form.get("minimum", ""))
    db().commit()
    flash(_("Saved."), "success")
    return redirect(url_for("recordings.forms"))


@bp.route("/quality/forms/<int:form_id>", methods=["GET", "POST"])
@requires("is_admin")
def form_edit(form_id):
    session, user = db(), current_user()
    form = rules.get_form(session, form_id)
    if request.method == "POST":
        action = request.form.get("action")
        if action == "section":
            rules.add_section(session, user, form.id, request.form.get("title", ""))
        elif action == "item":
            kind = request.form.get("kind", "yes_no")
            weight = parse_decimal(request.form.get("weight") or "1", "weight")
            rules.add_item(session, user, parse_int(request.form.get("section_id"), "section_title"),
                           request.form.get("label", ""), kind=kind,
                           scale_max=parse_int(request.form.get("scale_max") or "1", "scale_max"),
                           weight=float(weight), critical=bool(request.form.get("critical")))
        elif action == "active":
            rules.set_active(session, user, form.id, bool(request.form.get("active")))
        session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("recordings.form_edit", form_id=form.id))
    sections = rules.sections_of(session, form.id)
    session.commit()
    return render_template("recordings/form_edit.html", form=form, sections=sections)
