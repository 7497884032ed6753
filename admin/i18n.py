"""Chinese first, English second. Message ids are English; `admin/i18n/*.po` hold the
Simplified Chinese (one catalog per area of the app), merged and compiled at start-up into
the data folder (compiled catalogs are build output and never enter git)."""
from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g, session
from flask_babel import Babel

LANGUAGES = {"zh_CN": "简体中文", "en": "English"}
SOURCE = Path(__file__).with_name("i18n")


def compile_catalogs(target: Path) -> Path:
    """Merge every admin/i18n/*.po into one compiled Simplified Chinese catalog."""
    merged = Catalog(locale="zh_CN", domain="messages")
    for po in sorted(SOURCE.glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale="zh_CN"):
                if message.id and message.string:
                    merged.add(message.id, message.string)
    # Babel names the locale zh_Hans_CN; plain gettext looks for zh_CN.
    for folder in ("zh_Hans_CN", "zh_CN"):
        out = target / folder / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        with (out / "messages.mo").open("wb") as fh:
            write_mo(fh, merged)
    return target


def _locale():
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    return session.get("lang") if session.get("lang") in LANGUAGES else "zh_CN"


def init_app(app) -> None:
    translations = compile_catalogs(Path(app.config["DATA_DIR"]) / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations)
    app.config["BABEL_DEFAULT_LOCALE"] = "zh_CN"
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Shanghai"
    Babel(app, locale_selector=_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
