"""Training examples (优秀录音/典型案例, issue 16): GET /recordings/examples lists them by tag for
everybody; POST /recordings/<id>/example marks one, .../example/delete unmarks it (reviewers
and managers)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.quality import examples as rules

from ..context import clock, current_user, db
from ..forms import local_dt
from . import bp


@bp.route("/recordings/examples")
def examples():
    session = db()
    tag = (request.args.get("tag") or "").strip() or None
    rows = rules.examples(session, tag)
    tags = rules.all_tags(session)
    session.commit()
    return render_template("recordings/examples.html", rows=rows, tags=tags, tag=tag,
                           local_dt=local_dt)


@bp.route("/recordings/<int:recording_id>/example", methods=["POST"])
def mark_example(recording_id):
    rules.mark_example(db(), current_user(), recording_id, request.form.get("tags", ""),
                       request.form.get("note"), clock=clock())
    db().commit()
    flash(_("Marked as a training example."), "success")
    return redirect(url_for("recordings.show", recording_id=recording_id) + "#example")


@bp.route("/recordings/<int:recording_id>/example/delete", methods=["POST"])
def unmark_example(recording_id):
    rules.unmark_example(db(), current_user(), recording_id)
    db().commit()
    flash(_("No longer a training example."), "success")
    return redirect(url_for("recordings.show", recording_id=recording_id) + "#example")
