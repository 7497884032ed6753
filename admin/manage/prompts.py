"""IVR prompt audio (T2): what the IVR plays, and an admin's own recordings uploaded over it.
Any format ffmpeg reads is converted to what Asterisk plays (8 kHz mono WAV, GSM, µ-law)."""
from __future__ import annotations

import json
from pathlib import Path

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from recordings import prompt_job
from recordings.prompts import MANIFEST, PROMPT_ID, AudioError, convert_upload

from ..background import BackgroundThread
from ..context import clock, lang
from . import bp


def prompts_dir() -> Path:
    """The folder `dialfunnel prompts generate` writes and the dialplan plays from."""
    return Path(current_app.config["PROMPTS_DIR"])


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
    job = _job()
    return render_template("manage/prompts.html", prompts=sorted(manifest.items()),
                           folder=prompts_dir(), job=job)


def _job() -> dict | None:
    """The generation job as the page shows it: its state file, a dead one as interrupted."""
    state = prompt_job.read_state(prompts_dir())
    if state and state.get("state") == "running" and not prompt_job.is_running(state, clock()):
        state = dict(state, state="interrupted")
    return state


@bp.route("/prompts/generate", methods=["POST"])
def prompts_generate():
    """Speak every prompt of ivr_flows/prompts.yaml in the background (like `dialfunnel prompts
    generate`; recordings an admin uploaded are kept)."""
    from ivr_flows.flows import prompt_texts
    texts, voice = prompt_texts()
    if prompt_job.start(prompts_dir(), texts, voice, clock=clock(),
                        run=current_app.config.get("PROMPT_JOB_RUNNER", BackgroundThread)):
        flash(_("Generating %(n)d prompts in the background.", n=len(texts)), "success")
    else:
        flash(_("The prompts are being generated already."), "info")
    return redirect(url_for("manage.prompts"))


@bp.route("/prompts/generate/status")
def prompts_generate_status():
    return jsonify(_job() or {})
