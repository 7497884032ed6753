"""A call's recording → a reference announcement of its carrier (issue 17).

POST /recordings/<id>/early-media   label, carrier, start_s, end_s: "this was a 关机
                                    announcement" (from start_s to end_s of the recording)

The stretch is decoded to 8 kHz, fingerprinted (recordings.early_media.references) and stored
(models.dialer.early_media.add_reference); the dialer's listener loads these at its start.
"""
from __future__ import annotations

import logging

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _

from models.crm.recordings import get_audible
from models.dialer import early_media
from models.errors import DomainError, PermissionDenied
from recordings.early_media import references
from recordings.store import UnsafePath

from ..context import current_user, db
from . import bp
from .views import recording_store

log = logging.getLogger(__name__)
LABELS = {  # what a manager picks: the announcement's words
    "unallocated": "空号", "suspended": "停机", "switched_off": "关机", "busy": "忙",
    "unreachable": "无法接通", "restricted": "呼叫受限"}
MAX_SECONDS = 30


@bp.app_template_global()
def early_media_labels():
    return LABELS


@bp.app_template_global()
def may_mark_early_media():
    user = current_user()
    return user is not None and early_media.may_add_reference(user)


def _ms(name: str) -> int:
    try:
        value = float(request.form.get(name) or 0)
    except ValueError:
        raise DomainError("early_media.bad_stretch") from None
    if not 0 <= value <= 24 * 3600:
        raise DomainError("early_media.bad_stretch")
    return round(value * 1000)


@bp.route("/recordings/<int:recording_id>/early-media", methods=["POST"])
def mark_early_media(recording_id):
    session, user = db(), current_user()
    rec = get_audible(session, user, recording_id)
    if not early_media.may_add_reference(user):
        raise PermissionDenied()
    label, carrier = request.form.get("label", ""), request.form.get("carrier", "")
    start_ms, end_ms = _ms("start_s"), _ms("end_s")
    if end_ms <= start_ms or end_ms - start_ms > MAX_SECONDS * 1000 or rec.deleted_at:
        raise DomainError("early_media.bad_stretch")
    try:
        with recording_store().open(rec.file_key) as fh:
            pcm = references.decode(fh, rec.format)
        piece = pcm[start_ms * 16:end_ms * 16]      # 16 bytes a ms at 8 kHz
        ref = references.from_pcm(label, carrier, piece)
    except (UnsafePath, FileNotFoundError, NotADirectoryError, references.ReferenceError) as exc:
        log.info("recording %s: no reference: %s", recording_id, exc)
        raise DomainError("early_media.bad_label" if label not in LABELS
                          else "early_media.bad_fingerprint") from None
    early_media.add_reference(session, user, label=label, carrier=carrier,
                              fingerprint=references.to_text(ref.bits), recording_id=rec.id,
                              start_ms=start_ms, end_ms=end_ms)
    session.commit()
    flash(_("Saved: the dialer will recognise this announcement after its restart."), "success")
    return redirect(url_for("recordings.show", recording_id=recording_id))
