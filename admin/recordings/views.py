"""Recordings in the browser (T5): the audio of a recording, for those allowed.

GET /recordings/<id>/audio  the audio, with Range support (the <audio> element seeks with it)
(the recording's page is review.py's)

Allowed: the agent of the call, or a role with "may hear others' recordings"
(models.crm.recordings.can_hear). The URL carries only the numeric id; the file comes from the
row's key through recordings.store, which refuses anything outside the recordings folder
(``..``, absolute paths, symlinks) even if a row were tampered with.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Response, abort, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from models.crm.recordings import get_audible
from recordings.store import RecordingStore, UnsafePath, mimetype

from ..context import current_user, db
from . import bp

log = logging.getLogger(__name__)


def recording_store() -> RecordingStore:
    """The app's store: config RECORDINGS_DIR (and RECORDINGS_INCOMING), else
    DATA_DIR/recordings."""
    store = current_app.extensions.get("dialfunnel.recordings")
    if store is None:
        root = current_app.config.get("RECORDINGS_DIR") or Path(current_app.config["DATA_DIR"]) / "recordings"
        store = RecordingStore(root, current_app.config.get("RECORDINGS_INCOMING"))
        current_app.extensions["dialfunnel.recordings"] = store
    return store


def duration_text(ms: int | None) -> str:
    seconds = int(round((ms or 0) / 1000))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def direction_label(direction: str) -> str:
    return {"inbound": _("Inbound"), "outbound": _("Outbound"), "internal": _("Internal"),
            "three_way": _("Three-way")}.get(direction, direction)


@bp.app_template_global()
def recording_duration(ms):
    return duration_text(ms)


@bp.app_template_global()
def recording_direction(direction):
    return direction_label(direction)


@bp.route("/recordings/<int:recording_id>/audio")
def audio(recording_id):
    return send_audio(recording_id, attachment=False)


def send_audio(recording_id: int, *, attachment: bool):
    """The recording's file, if the user may hear it; as a download (attachment) only to roles
    that may export (checked by the caller)."""
    session, user = db(), current_user()
    rec = get_audible(session, user, recording_id)
    key, fmt, deleted = rec.file_key, rec.format, rec.deleted_at is not None
    session.commit()  # no transaction (on SQLite: no lock) while the audio streams
    if deleted:
        return Response(_("The audio of this recording was removed (retention period)."), 410,
                        mimetype="text/plain")
    try:
        fh = recording_store().open(key)
    except UnsafePath as exc:
        log.warning("recording %s: refused key %r: %s", recording_id, key, exc)
        abort(404)
    except (FileNotFoundError, NotADirectoryError):
        abort(404, _("The audio file of this recording is missing."))
    try:
        st = os.fstat(fh.fileno())
        response = Response(wrap_file(request.environ, fh), mimetype=mimetype(fmt),
                            direct_passthrough=True)
        response.content_length = st.st_size
        response.last_modified = int(st.st_mtime)
        response.set_etag(f"rec-{recording_id}-{st.st_size}-{int(st.st_mtime)}")
        response.cache_control.private = True
        response.cache_control.no_cache = True
        disposition = "attachment" if attachment else "inline"
        response.headers["Content-Disposition"] = f'{disposition}; filename="recording-{recording_id}.{fmt}"'
        return response.make_conditional(request.environ, accept_ranges=True,
                                          complete_length=st.st_size)
    except RequestedRangeNotSatisfiable:
        fh.close()
        raise
    except BaseException:
        fh.close()
        raise
