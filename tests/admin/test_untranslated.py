"""The Chinese UI speaks Chinese: every page, walked in zh_CN by each role, looks up only
msgids the catalogs translate (admin/i18n/*.po); a miss is English on a Chinese page."""
import re

import pytest
from babel.support import Translations

from tests.admin.test_route_matrix import secret, urls  # noqa: F401  (the fixture walks with real ids)

SKIP = {"events.stream", "auth.logout"}   # a stream that stays open; logout ends the walk


@pytest.fixture
def misses(monkeypatch):
    """Every msgid looked up without a Chinese translation while the fixture is active."""
    found: dict[str, set[str]] = {}
    current = {"url": ""}

    def record(original):
        def lookup(self, message, *args, **kwargs):
            result = original(self, message, *args, **kwargs)
            if message not in self._catalog and re.search("[A-Za-z]", message) and self._catalog:
                found.setdefault(message, set()).add(current["url"])
            return result
        return lookup
    monkeypatch.setattr(Translations, "gettext", record(Translations.gettext))
    monkeypatch.setattr(Translations, "ugettext", record(Translations.ugettext), raising=False)
    return found, current


def test_every_page_in_chinese_looks_up_only_translated_msgids(app, secret, as_user, misses):  # noqa: F811
    found, current = misses
    routes = [(endpoint, url) for endpoint, methods, url in urls(app, secret)
              if "GET" in methods and endpoint not in SKIP]
    assert len(routes) > 60
    for name in ("tm", "mgr", "admin"):
        client = as_user(name)
        for endpoint, url in routes:
            current["url"] = f"{name} {url}"
            client.get(url)
    assert not found, "\n".join(f"{msgid!r} on {sorted(where)[:3]}" for msgid, where in sorted(found.items()))


def test_refusals_name_fields_and_operators_in_words(as_user):
    """A refusal shows what a person calls the input, never its parameter name."""
    from models.crm.query import InvalidQuery
    from models.errors import InvalidValue

    assert InvalidValue(field="period").message("zh_CN").endswith("统计周期")
    assert InvalidValue(field="period").message("en").endswith("period")
    assert "大于或等于" in InvalidQuery("query.unknown_operator", op="ge").message("zh_CN")
    assert "“ssn”" in InvalidValue(field="ssn").message("zh_CN")     # unknown: quoted
    assert InvalidValue(field="电话号码").message("zh_CN").endswith("电话号码")  # a label: kept
    page = as_user("tm").get("/review/reports?period=fortnight").get_data(as_text=True)
    assert "统计周期" in page and "period" not in re.sub(r"<[^>]*>", "", page).split("统计周期")[0][-40:]


def test_each_msgid_has_one_translation_across_the_catalogs():
    """The catalogs are merged at start-up and a later file's translation silently replaces an
    earlier one's: a msgid two areas translate differently would show one area the other's
    words (the call report's "Rows" read 行数, the import's)."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    import admin
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po in sorted((Path(admin.__file__).parent / "i18n").glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh):
                if not message.id or not message.string:
                    continue
                first = seen.setdefault(message.id, (po.name, message.string))
                if first[1] != message.string:
                    clashes.append(f"{message.id!r}: {first} vs {(po.name, message.string)}")
    assert clashes == []
