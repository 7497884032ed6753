"""Per-request plumbing: the database session, the logged-in user, permission checks and
how a refusal from models/ is shown."""
from __future__ import annotations

import functools

from flask import (abort, current_app, flash, g, jsonify, redirect, render_template, request,
                   session, url_for)
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from models.db import begin_read
from models.errors import DomainError, NotFound, PermissionDenied
from models.schema import User

PUBLIC_ENDPOINTS = {"auth.login", "auth.set_language", "static", "bootstrap.static", "home.favicon"}
# The page's own files, the same for everyone: served without reading the user (a dozen a page).
FILE_ENDPOINTS = {"static", "bootstrap.static", "home.favicon"}


def db():
    """The request's database session (one per request, closed at teardown)."""
    if "db" not in g:
        g.db = current_app.extensions["dialfunnel.sessionmaker"]()
    return g.db


def clock():
    return current_app.extensions["dialfunnel.clock"]


def current_user() -> User | None:
    return g.get("user")


def lang() -> str:
    user = current_user()
    return user.language if user else session.get("lang", "zh_CN")


def refusal_text(exc: DomainError) -> str:
    return exc.message(lang())


def requires(*permissions: str):
    """Route decorator: the user's role must have every named flag (e.g. "can_manage")."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            user = current_user()
            if user is None or not all(getattr(user.role, p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)
        return inner
    return wrap


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None. `//host` and `/\\host` are other
    sites to a browser (it reads a backslash as a slash); so is anything with a control
    character in it."""
    if not target:
        return None
    if target.startswith(request.host_url):
        target = "/" + target[len(request.host_url):]
    if (not target.startswith("/") or target.startswith(("//", "/\\"))
            or any(ord(ch) < 32 or ch == "\x7f" for ch in target)):
        return None
    return target


def back(default: str = "home.index"):
    """Redirect to the page the form came from (same site only)."""
    return redirect(local_path(request.form.get("next") or request.referrer)
                    or url_for(default))


def _load_user():
    g.user = None
    uid = session.get("uid")
    if uid is None or request.endpoint in FILE_ENDPOINTS:
        return
    # A read beside any writer (an import's batch): on SQLite every other transaction holds
    # the write lock (BEGIN IMMEDIATE), and the read ends at once.
    begin_read(db())
    user = db().scalar(select(User).where(User.id == uid))
    db().commit()
    if user is None or not user.active or session.get("pwv") != user.password_hash[-12:]:
        session.clear()
        return
    g.user = user


def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if current_user() is None:
        if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
            return jsonify(error="login required"), 401
        return redirect(url_for("auth.login", next=request.full_path))
    return None


def _teardown(exc):
    session_ = g.pop("db", None)
    if session_ is not None:
        session_.rollback()
        session_.close()


def _on_domain_error(exc: DomainError):
    db().rollback()
    status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, PermissionDenied) else 400
    text = refusal_text(exc)
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(error=exc.key, message=text), status
    if request.method == "GET":
        return render_template("error.html", status=status, message=text), status
    flash(text, "danger")
    return back()


def _on_http_error(exc: HTTPException):
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error=exc.name), exc.code
    return render_template("error.html", status=exc.code, message=exc.description), exc.code


def init_app(app):
    app.before_request(_load_user)
    app.before_request(_require_login)
    app.teardown_appcontext(_teardown)
    app.register_error_handler(DomainError, _on_domain_error)
    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, _on_http_error)

    @app.context_processor
    def _globals():
        return dict(current_user=current_user(), lang=lang())

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
