"""Chinese text uses full-width punctuation: ，：；！？（） next to Chinese characters, never
, : ; ! ? ( ) (which stay between Latin letters and digits: 09:00, (0573), {field}). The one
check, over every text a Chinese reader sees: the catalogs and the message tables."""
from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from tests.repo_paths import ROOT

CHINESE = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef“”‘’—…]")


def half_width_next_to_chinese(text: str) -> list[str]:
    """The half-width marks of `text` that touch a Chinese character (with their neighbours)."""
    found = []
    for i, ch in enumerate(text):
        if ch not in ",:;!?()":
            continue
        before, after = text[i - 1:i], text[i + 1:i + 2]
        near = CHINESE.match(before) or (CHINESE.match(after) and not before.isdigit())
        if near:
            found.append(text[max(0, i - 4):i + 5])
    return found


def test_the_rule():
    assert half_width_next_to_chinese("第 1–50 条,共 53 条") == ["50 条,共 53"]
    assert half_width_next_to_chinese("客户上转:已完成。") and half_width_next_to_chinese("上限(20个)")
    assert half_width_next_to_chinese("%(action)s:已完成。") == ["on)s:已完成。"]
    assert half_width_next_to_chinese("第 1–50 条，共 53 条：09:00 (0573) {field}") == []


def catalog_texts():
    for po in sorted((ROOT / "admin" / "i18n").glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale="zh_CN"):
                if message.id and message.string:
                    yield f"{po.name}: {message.id}", message.string


def table_texts():
    from models.dialer.campaigns import FIELD_NAMES as CAMPAIGN_FIELDS
    from models.fields import FIELD_LABELS
    from models.messages import MESSAGES, OPERATOR_NAMES, PARAM_NAMES
    from models.values import FIELD_NAMES as ADMIN_FIELDS
    from recordings.prompts import MESSAGES as AUDIO_MESSAGES
    for name, table in (("messages", MESSAGES), ("audio", AUDIO_MESSAGES),
                        ("fields", FIELD_LABELS), ("params", PARAM_NAMES),
                        ("operators", OPERATOR_NAMES), ("admin fields", ADMIN_FIELDS),
                        ("campaign fields", CAMPAIGN_FIELDS)):
        for key, (zh, _en) in table.items():
            yield f"{name}: {key}", zh


@pytest.mark.parametrize("source", [catalog_texts, table_texts])
def test_chinese_texts_use_full_width_punctuation(source):
    wrong = {where: marks for where, text in source()
             if (marks := half_width_next_to_chinese(text))}
    assert not wrong, "\n".join(f"{where}: {marks}" for where, marks in sorted(wrong.items()))


def test_english_texts_keep_half_width_punctuation():
    from models.messages import MESSAGES
    wrong = {key: en for key, (_zh, en) in MESSAGES.items() if re.search("[，：；！？（）]", en)}
    assert not wrong, wrong
