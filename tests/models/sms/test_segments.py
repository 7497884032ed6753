"""Segment counting: GSM-7 160/153, UCS-2 70/67 (Chinese), double-width characters never split."""
from models.sms.segments import count, split


def test_gsm7_fits_160_then_153_a_part():
    assert count("a" * 160)["segments"] == 1
    assert count("a" * 161)["segments"] == 2
    assert count("a" * 306)["segments"] == 2
    assert count("a" * 307)["segments"] == 3
    assert count("a" * 160)["encoding"] == "gsm7"


def test_chinese_is_ucs2_70_then_67():
    assert count("你" * 70) == {"encoding": "ucs2", "length": 70, "segments": 1,
                                 "per_segment": 70, "left": 0}
    assert count("你" * 71)["segments"] == 2
    assert count("你" * 134)["segments"] == 2
    assert count("你" * 135)["segments"] == 3
    assert count("abc你")["encoding"] == "ucs2"


def test_extension_characters_and_emoji_take_two_units_and_stay_whole():
    assert count("€" * 80)["segments"] == 1
    assert count("€" * 81)["segments"] == 2
    encoding, parts = split("a" + "€" * 80)
    assert encoding == "gsm7" and "".join(parts) == "a" + "€" * 80
    assert all(sum(2 if c == "€" else 1 for c in p) <= 153 for p in parts)
    encoding, parts = split("😀" * 36)          # 72 UTF-16 units
    assert encoding == "ucs2" and len(parts) == 2 and parts[0] == "😀" * 33


def test_empty_text_is_no_sms():
    assert count("")["segments"] == 0
