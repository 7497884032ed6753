"""A recording's page with its review (issue 16): the player with a waveform, seek and speed;
comments pinned to moments; the reviewer's scorecard; the agent's acknowledgement or dispute;
a manager's settlement.

GET  /recordings/<id>              the page
GET  /recordings/<id>/peaks        the waveform's peaks (JSON), computed once from the audio
GET  /recordings/<id>/download     the audio as a file: who may hear it and whose role may export
POST /recordings/<id>/comments     a comment at a moment (at_ms)
POST /recordings/<id>/review       a scorecard (form_id, item_<id> = mark, summary)
POST /reviews/<id>/acknowledge | dispute (reason) | settle (outcome, note)
GET  /reviews/mine                 the reviews of the user's own calls
GET  /reviews/disputes             the open disputes (managers)
"""
from __future__ import annotations

import logging

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from models.crm.recordings import get_audible
from models.crm.visibility import can_open
from models.errors import InvalidValue
from models.quality import reviews as rules
from models.quality.examples import example_of
from models.quality.forms import active_forms, get_form, sections_of
from models.quality.talk import peaks_of, save_peaks
from models.schema import ContactRecord, Customer, RecordingAnalysis, ReviewForm, User
from recordings.audio import AudioError
from recordings.peaks import peaks_of_file
from recordings.store import UnsafePath

from ..context import clock, current_user, db
from ..forms import local_dt, parse_int
from . import bp
from .views import recording_store, send_audio

log = logging.getLogger(__name__)


def _names(session, ids) -> dict[int, str]:
    ids = sorted({i for i in ids if i})
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}


@bp.route("/recordings/<int:recording_id>")
def show(recording_id):
    session, user = db(), current_user()
    rec = get_audible(session, user, recording_id)
    customer = session.get(Customer, rec.customer_id) if rec.customer_id else None
    record = session.get(ContactRecord, rec.contact_record_id) if rec.contact_record_id else None
    # A customer the viewer may not open is named only as "a colleague's customer".
    customer_visible = customer is not None and can_open(user, customer)
    comments = rules.comments_of(session, user, rec.id)
    reviews = rules.reviews_of_recording(session, user, rec.id)
    forms = {f.id: f for f in session.scalars(select(ReviewForm).where(
        ReviewForm.id.in_([r.form_id for r in reviews])))} if reviews else {}
    sheets = {r.id: (sections_of(session, r.form_id), rules.answers_of(session, r.id)) for r in reviews}
    may_review = rules.may_review(user, rec)
    scorecards = [(f, sections_of(session, f.id)) for f in active_forms(session)] if may_review else []
    names = _names(session, [rec.user_id] + [c.author_id for c in comments]
                   + [r.reviewer_id for r in reviews] + [r.settled_by_id for r in reviews])
    example = example_of(session, rec.id)
    analysis = session.get(RecordingAnalysis, rec.id)
    session.commit()
    return render_template("recordings/show.html", rec=rec, customer=customer,
                           customer_visible=customer_visible, record=record,
                           agent=names.get(rec.user_id), comments=comments, reviews=reviews,
                           forms=forms, sheets=sheets, scorecards=scorecards, names=names,
                           may_review=may_review, example=example, analysis=analysis,
                           may_download=bool(user.role.can_export), local_dt=local_dt)


@bp.route("/recordings/<int:recording_id>/peaks")
def peaks(recording_id):
    session, user = db(), current_user()
    rec = get_audible(session, user, recording_id)
    found = peaks_of(session, rec.id)
    key, fmt, deleted = rec.file_key, rec.format, rec.deleted_at is not None
    session.commit()
    if found is None and not deleted:
        try:
            with recording_store().open(key) as fh:
                found = peaks_of_file(fh, fmt)
        except (FileNotFoundError, NotADirectoryError, UnsafePath, AudioError) as exc:
            log.warning("recording %s: no waveform: %s", recording_id, exc)
            found = []
        if found:
            save_peaks(session, recording_id, found, clock=clock())
            session.commit()
    return jsonify(peaks=found or [], duration_ms=rec.duration_ms)


@bp.route("/recordings/<int:recording_id>/download")
def download(recording_id):
    if not current_user().role.can_export:
        abort(403)
    return send_audio(recording_id, attachment=True)


def _show(recording_id: int, anchor: str = ""):
    return redirect(url_for("recordings.show", recording_id=recording_id) + anchor)


@bp.route("/recordings/<int:recording_id>/comments", methods=["POST"])
def comment(recording_id):
    at_ms = parse_int(request.form.get("at_ms", "0"), "at_ms")
    rules.add_comment(db(), current_user(), recording_id, at_ms, request.form.get("text", ""),
                      clock=clock())
    db().commit()
    flash(_("Comment added."), "success")
    return _show(recording_id, "#comments")


@bp.route("/recordings/<int:recording_id>/review", methods=["POST"])
def review(recording_id):
    session = db()
    form = get_form(session, parse_int(request.form.get("form_id"), "form_id"))
    answers = {}
    for view in sections_of(session, form.id):
        for item in view.items:
            text = request.form.get(f"item_{item.id}", "")
            if text.strip() == "":
                raise InvalidValue("quality.answer_missing")
            answers[item.id] = parse_int(text, "answers")
    done = rules.submit_review(session, current_user(), recording_id, form.id, answers,
                               request.form.get("summary"), clock=clock())
    session.commit()
    flash(_("Review saved: %(score)s points.", score=done.score), "success")
    return _show(recording_id, "#reviews")


@bp.route("/reviews/<int:review_id>/acknowledge", methods=["POST"])
def acknowledge(review_id):
    done = rules.acknowledge(db(), current_user(), review_id, clock=clock())
    db().commit()
    flash(_("Acknowledged."), "success")
    return _show(done.recording_id, "#reviews")


@bp.route("/reviews/<int:review_id>/dispute", methods=["POST"])
def dispute(review_id):
    done = rules.dispute(db(), current_user(), review_id, request.form.get("reason", ""),
                         clock=clock())
    db().commit()
    flash(_("Dispute sent to the managers."), "success")
    return _show(done.recording_id, "#reviews")


@bp.route("/reviews/<int:review_id>/settle", methods=["POST"])
def settle(review_id):
    done = rules.settle(db(), current_user(), review_id, request.form.get("outcome", ""),
                        request.form.get("note"), clock=clock())
    db().commit()
    flash(_("Dispute settled."), "success")
    return redirect(url_for("recordings.disputes") if request.form.get("back") == "disputes"
                    else url_for("recordings.show", recording_id=done.recording_id) + "#reviews")


@bp.route("/reviews/mine")
def my_reviews():
    session, user = db(), current_user()
    rows = rules.my_reviews(session, user)
    names = _names(session, [r.reviewer_id for r in rows])
    session.commit()
    return render_template("recordings/my_reviews.html", rows=rows, names=names, local_dt=local_dt)


@bp.route("/reviews/disputes")
def disputes():
    session, user = db(), current_user()
    rows = rules.open_disputes(session, user)
    names = _names(session, [r.reviewer_id for r in rows] + [r.agent_id for r in rows])
    session.commit()
    return render_template("recordings/disputes.html", rows=rows, names=names, local_dt=local_dt)


@bp.app_template_global()
def review_state(state: str) -> str:
    return {"submitted": _("Awaiting the agent"), "acknowledged": _("Acknowledged"),
            "disputed": _("Disputed"), "upheld": _("Dispute rejected: score stands"),
            "overturned": _("Dispute accepted: score void")}.get(state, state)
