"""Login, logout and the language switch."""
from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from models.org.auth import authenticate

from ..context import back, current_user, db
from ..i18n import LANGUAGES
from . import bp



def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = authenticate(db(), request.form.get("username", "").strip(),
                            request.form.get("password", ""))
        if user is not None:
            session.clear()
            session["uid"] = user.id
            session["pwv"] = user.password_hash[-12:]
            return redirect(_safe_next(request.form.get("next")))
        error = _("Wrong user name or password.")
    return render_template("login.html", error=error, next=request.args.get("next", "")), \
        (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def set_language():
    chosen = request.form.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        user = current_user()
        if user is not None:
            user.language = chosen
            db().commit()
    return back("auth.login")
