"""Voice campaigns' flows (T9): an admin edits a flow's YAML and previews, for a chosen
customer, the text its callee would hear. A change is saved only when the whole flow folder
still checks (ivr_flows.check_directory); otherwise the errors are shown beside the text as
typed, and the running IVR keeps the flows it has."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ivr_flows import check_directory
from ivr_flows.flows import DEFAULT_DIR, FLOW_NAME
from ivr_flows.preview import preview
from models.crm.visibility import get_visible_customer
from models.dialer.voice import customer_variables
from models.errors import DomainError

from ..context import current_user, db
from . import bp

MAX_FLOW_BYTES = 64 * 1024


def flows_dir() -> Path:
    return Path(current_app.config.get("IVR_FLOWS_DIR") or DEFAULT_DIR)


def _voice_flows():
    flows, issues = check_directory(flows_dir())
    if flows is None:
        return {}, issues
    return {n: f for n, f in sorted(flows.flows.items()) if f.outbound}, issues


def check_change(name: str, text: str) -> list[str]:
    """The errors the folder would have with `name`.yaml holding `text` (none: it may be
    saved)."""
    with tempfile.TemporaryDirectory(prefix="dialfunnel-flows-") as tmp:
        for path in flows_dir().glob("*.yaml"):
            shutil.copy(path, tmp)
        Path(tmp, f"{name}.yaml").write_text(text, encoding="utf-8")
        flows, issues = check_directory(tmp)
    errors = [str(i) for i in issues if i.severity == "error"]
    if flows is not None and not getattr(flows.flows.get(name), "outbound", False):
        errors.append(_("A voice campaign's flow must say `outbound: true`."))
    return errors


def save(name: str, text: str) -> None:
    target = flows_dir() / f"{name}.yaml"
    tmp = target.with_suffix(f".yaml.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


@bp.route("/voice-flows")
def voice_flows():
    flows, issues = _voice_flows()
    return render_template("manage/voice_flows.html", flows=flows,
                           errors=[str(i) for i in issues if i.severity == "error"])


@bp.route("/voice-flows/<name>", methods=["GET", "POST"])
def voice_flow(name):
    path = flows_dir() / f"{name}.yaml"
    flows, _issues = _voice_flows()
    if not FLOW_NAME.match(name) or name not in flows or not path.is_file():
        abort(404)
    text, errors, status = path.read_text(encoding="utf-8"), [], 200
    if request.method == "POST":
        text = request.form.get("text", "").replace("\r\n", "\n")
        if len(text.encode("utf-8")) > MAX_FLOW_BYTES:
            errors = [_("The flow is too long (at most %(n)d KB).", n=MAX_FLOW_BYTES // 1024)]
        else:
            errors = check_change(name, text)
        if not errors:
            save(name, text)
            flash(_("Flow %(name)s saved.", name=name), "success")
            return redirect(url_for("manage.voice_flow", name=name,
                                    customer=request.form.get("customer") or None))
        status = 400
    customer, variables, lines, refusal = None, {}, [], None
    raw = (request.values.get("customer") or "").strip()
    if raw:
        try:
            customer = get_visible_customer(db(), current_user(), int(raw))
        except (ValueError, DomainError):
            refusal = _("No customer %(id)s.", id=raw)
    variables = customer_variables(db(), customer) if customer else {}
    checked, _all = check_directory(flows_dir())
    if checked is not None and name in checked.flows:
        lines = preview(checked, name, variables)
    return render_template("manage/voice_flow.html", name=name, flow=flows[name], text=text,
                           errors=errors, customer=customer, customer_raw=raw, refusal=refusal,
                           variables=variables, lines=lines), status
