"""Mandarin values (ivr_flows/say_zh.py): examples people would say, and properties checked by
hypothesis against a reader of Chinese numerals written here independently."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr_flows import say_zh
from ivr_flows.say_zh import (MAX_NUMBER, date_text, digits_text, money_text, number_text,
                              percent_text, segment_texts, segments, speak, time_text)

VALUES = {"零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
          "六": 6, "七": 7, "八": 8, "九": 9}
SMALL = {"十": 10, "百": 100, "千": 1000}


def read_number(text: str) -> int:
    """Chinese numeral -> int, the way a listener adds it up."""
    if text.startswith("负"):
        return -read_number(text[1:])
    result = section = digit = 0
    for char in text:
        if char in VALUES:
            digit = VALUES[char]
        elif char in SMALL:
            section += (digit or 1) * SMALL[char]
            digit = 0
        elif char == "万":
            section = (section + digit) * 10 ** 4
            digit = 0
        elif char == "亿":
            result = (result + section + digit) * 10 ** 8
            section = digit = 0
        else:
            raise AssertionError(f"unexpected {char!r} in {text!r}")
    return result + section + digit


EXAMPLES = [
    (0, "零"), (1, "一"), (2, "二"), (10, "十"), (12, "十二"), (20, "二十"), (100, "一百"),
    (101, "一百零一"), (110, "一百一十"), (1005, "一千零五"), (1205, "一千二百零五"),
    (1050, "一千零五十"), (2000, "两千"), (2222, "两千二百二十二"), (12000, "一万两千"),
    (10005, "一万零五"), (10010, "一万零一十"), (20000, "两万"), (100050, "十万零五十"),
    (120000, "十二万"), (100000005, "一亿零五"), (100010000, "一亿零一万"),
    (200000000, "两亿"), (10 ** 12, "一万亿"), (1_0005_0000_0000, "一万零五亿"),
    (1234_5678_9012_3456, "一千二百三十四万五千六百七十八亿九千零一十二万三千四百五十六"),
    (-35, "负三十五"),
]


@pytest.mark.parametrize("value, text", EXAMPLES)
def test_integers_read_as_people_say_them(value, text):
    assert number_text(value) == text


@given(st.integers(-MAX_NUMBER, MAX_NUMBER))
def test_every_integer_reads_back_to_itself(value):
    text = number_text(value)
    assert read_number(text) == value
    assert "零零" not in text and not (text.endswith("零") and value != 0)
    assert not text.lstrip("负").startswith("一十")
    # 两 only before 千, 万, 亿 (两千, 两万, 两亿)
    assert all(text[i + 1:i + 2] in ("千", "万", "亿") for i, c in enumerate(text) if c == "两")
    assert segments(text)


@given(st.integers(min_value=MAX_NUMBER + 1) | st.integers(max_value=-MAX_NUMBER - 1))
def test_numbers_too_large_are_refused(value):
    with pytest.raises(ValueError):
        number_text(value)


@pytest.mark.parametrize("value, text", [
    ("1205.3", "一千二百零五元三角"), (1205, "一千二百零五元整"), ("1205.05", "一千二百零五元零五分"),
    ("1205.35", "一千二百零五元三角五分"), ("0.05", "五分"), ("0.5", "五角"), (0, "零元"),
    ("2,000.00", "两千元整"), ("9.999", "十元整"), ("-3", "负三元整"),
])
def test_money(value, text):
    assert money_text(value) == text


def read_money(text: str) -> Decimal:
    sign = -1 if text.startswith("负") else 1
    text = text.lstrip("负").removesuffix("整")
    match = re.fullmatch(r"(?:(.+)元)?零?(?:(.)角)?(?:(.)分)?", text)
    yuan, jiao, fen = match.groups()
    total = Decimal(read_number(yuan) if yuan else 0)
    total += Decimal(VALUES[jiao] if jiao else 0) / 10 + Decimal(VALUES[fen] if fen else 0) / 100
    return sign * total


@given(st.decimals(min_value=-10 ** 12, max_value=10 ** 12, places=2, allow_nan=False))
def test_every_amount_reads_back_to_itself(amount):
    text = money_text(amount)
    assert read_money(text) == amount
    assert text.endswith(("元整", "角", "分")) or text == "零元"
    assert ("整" in text) == (amount == amount.to_integral_value() and amount != 0)
    assert "零零" not in text
    assert segments(text)


@given(st.dates(min_value=dt.date(1000, 1, 1)))
def test_every_date(day):
    text = date_text(day)
    year, month, rest = re.fullmatch(r"(.{4})年(.+)月(.+)日", text).groups()
    assert int("".join(str(VALUES[c]) for c in year)) == day.year
    assert (read_number(month), read_number(rest)) == (day.month, day.day)
    assert date_text(day, year=False) == f"{month}月{rest}日"
    assert "两" not in text


def test_dates_and_times_examples():
    assert date_text("2026-12-07") == "二〇二六年十二月七日"
    assert date_text(dt.datetime(2026, 12, 7, 9), year=False) == "十二月七日"
    assert time_text("14:05") == "十四点零五分"
    assert time_text(dt.time(10, 0)) == "十点整"
    assert time_text("2:00") == "两点整"
    assert time_text("22:30") == "二十二点三十分"
    for bad in ("24:00", "7", "12:60", "abc"):
        with pytest.raises(ValueError):
            time_text(bad)


@given(st.times())
def test_every_time(moment):
    text = time_text(moment)
    hour, minute = re.fullmatch(r"(.+)点(.+)", text).groups()
    assert read_number(hour) == moment.hour
    assert (minute == "整") == (moment.minute == 0)
    if moment.minute:
        assert read_number(minute.removesuffix("分")) == moment.minute


@pytest.mark.parametrize("value, text", [
    ("12.5", "百分之十二点五"), (100, "百分之一百"), ("0.5%", "百分之零点五"), (3, "百分之三"),
    ("-2.25", "负百分之二点二五"),
])
def test_percentages(value, text):
    assert percent_text(value) == text


def test_order_numbers_digit_by_digit_in_chinese():
    assert digits_text("SO20261126-0001") == "二〇二六一一二六〇〇〇一"
    assert digits_text("SO20261126-0001", yao=True) == "二〇二六幺幺二六〇〇〇幺"
    assert speak("id", "2026") == ["say-2", "say-0", "say-2", "say-6"]
    assert speak("phone", "+86 138-0013") == ["say-8", "say-6", "say-yao", "say-3", "say-8",
                                              "say-0", "say-0", "say-yao", "say-3"]
    with pytest.raises(ValueError):
        digits_text("SO-")


@given(st.text(alphabet="0123456789-SO "), st.text(alphabet="0123456789", min_size=1))
def test_every_digit_string(prefix, digits):
    value = prefix + digits
    text = digits_text(value)
    assert [VALUES[c] for c in text] == [int(d) for d in value if d.isdigit()]


def test_speak_and_segments():
    assert speak("money", "1205.3") == ["say-1", "say-qian", "say-2", "say-bai", "say-0",
                                        "say-5", "say-yuan", "say-3", "say-jiao"]
    assert speak("number", "3.14") == ["say-3", "say-dian", "say-1", "say-4"]
    assert speak("percent", 50) == ["say-bai", "say-fen", "say-zhi", "say-5", "say-shi"]
    for kind, bad in (("money", "abc"), ("date", "2026-13-01"), ("number", "NaN"),
                      ("shoe", 1)):
        with pytest.raises(ValueError):
            speak(kind, bad)
    # every segment has a text the generator speaks, and every id is a prompt id
    texts = segment_texts()
    assert set(texts) == set(say_zh.SEGMENTS.values())
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", k) for k in texts)
    assert texts["say-0"] == "零"
