"""Chinese first, English second. Message ids are English; `admin/i18n/*.po` hold the
Simplified Chinese (one catalog per area of the app), merged and compiled at start-up into
the data folder (compiled catalogs are build output and never enter git)."""
from __future__ import annotations

import functools
import io
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
    sources = tuple((str(po), po.stat().st_mtime_ns) for po in sorted(SOURCE.glob("*.po")))
    compiled = _merged(sources)
    # Babel names the locale zh_Hans_CN; plain gettext looks for zh_CN.
    for folder in ("zh_Hans_CN", "zh_CN"):
        out = target / folder / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        (out / "messages.mo").write_bytes(compiled)
    return target


@functools.lru_cache(maxsize=2)
def _merged(sources: tuple[tuple[str, int], ...]) -> bytes:
    """The compiled catalog of these files as last changed (once a process: each app the tests
    create would merge them again, 50 ms)."""
    merged = Catalog(locale="zh_CN", domain="messages")
    for path, _changed in sources:
        with open(path, "rb") as fh:
            for message in read_po(fh, locale="zh_CN"):
                if message.id and message.string:
                    merged.add(message.id, message.string)
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    return buffer.getvalue()


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
