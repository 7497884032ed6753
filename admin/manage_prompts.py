"""IVR prompt audio (T2): what the IVR plays, and an admin's own recordings uploaded over it.
Any format ffmpeg reads is converted to what Asterisk plays (8 kHz mono WAV, GSM, µ-law)."""
from __future__ import annotations

import json
from pathlib import Path

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from recordings.prompts import MANIFEST, PROMPT_ID, AudioError, convert_upload

from .context import lang
from .manage import bp


def prompts_dir() -> Path:
    """The folder `dialfunnel prompts generate` writes and the dialplan plays from."""
    return Path(current_app.config["DATA_DIR"]) / "sounds" / "dialfunnel"


def _manifest() -> dict:
    try:
        return json.loads((prompts_dir() / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@bp.route("/prompts", methods=["GET", "POST"])
def prompts():
    if request.method == "POST":
        prompt_id = request.form.get("prompt_id", "").strip()
        upload = request.files.get("audio")
        if not PROMPT_ID.match(prompt_id):
            flash(_("A prompt name is lower-case letters, digits and hyphens."), "danger")
        elif upload is None or not upload.filename:
            flash(_("Choose an audio file."), "danger")
        else:
            try:
                convert_upload(upload.stream.read(), prompts_dir(), prompt_id)
            except AudioError as exc:
                flash(exc.text("zh" if lang().startswith("zh") else "en"), "danger")
            else:
                flash(_("The prompt %(name)s now plays your recording.", name=prompt_id), "success")
        return redirect(url_for("manage.prompts"))
    manifest = _manifest()
    return render_template("manage/prompts.html", prompts=sorted(manifest.items()),
                           folder=prompts_dir())
