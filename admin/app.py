"""Application factory."""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask
from flask_bootstrap import Bootstrap5
from flask_wtf.csrf import CSRFProtect

from models.clock import SYSTEM_CLOCK

from . import context, i18n, labels

csrf = CSRFProtect()
bootstrap = Bootstrap5()

MAX_UPLOAD = 32 * 1024 * 1024


def _secret_key(settings) -> str:
    """The configured key, else one kept in the data folder (never in git)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(settings, sessionmaker, *, clock=SYSTEM_CLOCK, testing: bool = False) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        MAX_CONTENT_LENGTH=MAX_UPLOAD,
        BOOTSTRAP_SERVE_LOCAL=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=testing,
        DIALFUNNEL_SETTINGS=settings,
        DATA_DIR=Path(settings.data_dir),
    )
    app.extensions["dialfunnel.sessionmaker"] = sessionmaker
    app.extensions["dialfunnel.clock"] = clock
    csrf.init_app(app)
    bootstrap.init_app(app)
    i18n.init_app(app)
    context.init_app(app)
    labels.init_app(app)

    from .auth import bp as auth_bp
    from .events import bp as events_bp
    from .home import bp as home_bp
    for bp in (auth_bp, home_bp, events_bp):
        app.register_blueprint(bp)
    for name in ("customers", "sales", "finder", "imports", "analysis", "manage"):
        _register_optional(app, name)
    return app


def _register_optional(app: Flask, name: str) -> None:
    """Areas built in parallel register themselves once their module exists."""
    import importlib
    try:
        module = importlib.import_module(f"{__package__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{name}":
            raise
        return
    app.register_blueprint(module.bp)
