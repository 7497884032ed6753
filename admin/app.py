"""Application factory."""
from __future__ import annotations

import importlib
import pkgutil
import secrets
from pathlib import Path

from flask import Flask
from flask_bootstrap import Bootstrap5
from flask_wtf.csrf import CSRFProtect

from models.clock import SYSTEM_CLOCK

from . import (analysis, auth, calls, campaigns, console, context, customers, events, fax, finder,
               home, i18n, imports, labels, manage, masking, paging, popups, recordings, sales, sms,
               wallboard)

# In this order: the registration order is the order Flask looks for a template.
BLUEPRINTS = (auth, home, events, customers, sales, finder, imports, analysis, manage, popups,
              recordings, campaigns, calls, console, wallboard, sms, fax)

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
        RECORDINGS_DIR=settings.recordings_path,
        PROMPTS_DIR=settings.prompts_path,
        RECORDINGS_INCOMING=settings.recordings_incoming_path,
        SSE_POLL_SECONDS=0.25,  # ring -> pop p99 about 0.3 s (tests/browser/test_screen_pop_browser.py)
        WALLBOARD_TICK_SECONDS=settings.wallboard_tick_ms / 1000.0,
    )
    app.extensions["dialfunnel.sessionmaker"] = sessionmaker
    app.extensions["dialfunnel.clock"] = clock
    csrf.init_app(app)
    bootstrap.init_app(app)
    i18n.init_app(app)
    context.init_app(app)
    labels.init_app(app)
    masking.init_app(app)
    paging.init_app(app)

    for package in BLUEPRINTS:   # every route first: a view may import another area's views
        load_views(package)
    for package in BLUEPRINTS:
        app.register_blueprint(package.bp)
    from .imports.views import notice_at_start
    notice_at_start(app)  # import jobs whose worker died with an earlier process
    return app


def load_views(package) -> None:
    """Import every module of a blueprint package: importing a view module adds its routes to
    the package's blueprint (the package itself imports none of them)."""
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
