"""Values spoken in Mandarin (T9): numbers, money, dates, times, percentages and order numbers
as Chinese text, then as the prompt segments that say it.

    number_text(1205)                 -> 一千二百零五
    money_text("1205.3")              -> 一千二百零五元三角       (1205 -> 一千二百零五元整)
    date_text(date(2026, 12, 7))      -> 二〇二六年十二月七日     (year=False: 十二月七日)
    time_text(time(14, 5))            -> 十四点零五分             (10:00 -> 十点整, 2:00 -> 两点整)
    percent_text("12.5")              -> 百分之十二点五
    digits_text("SO2026-0001")        -> 二〇二六〇〇〇一           (yao=True: 1 is 幺; kind
                                                                    "phone" says numbers so)
    segments("一千二百零五")           -> ["say-1", "say-qian", "say-2", "say-bai", "say-0", "say-5"]

Every character of a text is one segment (SEGMENTS), a short prompt recordings/prompts.py
speaks once like any other (ivr_flows.flows.prompt_texts lists them), so the walker plays a
value as a run of segment files. `speak(kind, value)` is the one entry the flows use; it raises
ValueError for a value that is not of its kind.

Rules: groups of four digits (万, 亿, 万亿); zeros inside a number are one 零, trailing zeros
are silent; a number starting with 10-19 says 十 not 一十; 两 before 千, 万 and 亿 (两千,
两万, 两亿) and for the hour 2 (两点), 二 elsewhere.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from recordings.prompts import SEGMENT_PREFIX

DIGITS = "零一二三四五六七八九"
YEAR_DIGITS = "〇一二三四五六七八九"
UNITS = ("", "十", "百", "千")
GROUPS = ("", "万", "亿", "万亿")
MAX_NUMBER = 10 ** 16 - 1

# character -> prompt id of its segment (its text is the character itself); the generator
# trims the silence of prompts named so (recordings.prompts.SEGMENT_PREFIX)
SEGMENTS = {char: SEGMENT_PREFIX + name for char, name in {
    "零": "0", "〇": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6",
    "七": "7", "八": "8", "九": "9", "两": "liang", "幺": "yao", "十": "shi", "百": "bai",
    "千": "qian", "万": "wan", "亿": "yi", "元": "yuan", "角": "jiao", "分": "fen", "整": "zheng",
    "年": "nian", "月": "yue", "日": "ri", "点": "dian", "负": "fu", "之": "zhi",
}.items()}
KINDS = ("number", "money", "date", "time", "percent", "id", "phone")


def segment_texts() -> dict[str, str]:
    """{prompt id: text} of every segment, for the prompt generator."""
    texts: dict[str, str] = {}
    for char, prompt_id in SEGMENTS.items():
        texts.setdefault(prompt_id, "零" if char == "〇" else char)
    return texts


def segments(text: str) -> list[str]:
    """The segment ids that say `text` (made of SEGMENTS characters only)."""
    try:
        return [SEGMENTS[char] for char in text]
    except KeyError as exc:
        raise ValueError(f"no segment for {exc.args[0]!r}") from None


def _group(value: int, unit: str) -> str:
    """0 < value < 10000, followed by the group's unit `unit` (万, 亿 or nothing)."""
    if value == 2 and unit:
        return "两"
    out, zero = "", False
    for place in (3, 2, 1, 0):
        digit = value // 10 ** place % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("两" if digit == 2 and place == 3 else DIGITS[digit]) + UNITS[place]
    return out


def number_text(value: int) -> str:
    """An integer (|value| <= MAX_NUMBER) in Chinese."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}")
    if value < 0:
        return "负" + number_text(-value)
    if value > MAX_NUMBER:
        raise ValueError(f"too large to say: {value}")
    if value == 0:
        return "零"
    groups = [value // 10000 ** i % 10000 for i in range(4)]
    out, need_zero = "", False
    for index in (3, 2, 1, 0):
        group = groups[index]
        if group == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or group < 1000):
            out += "零"
        unit = "万" if index == 3 and groups[2] else GROUPS[index]  # 一万五千亿, 一万亿
        out += _group(group, unit) + unit
        need_zero = False
    if out.startswith("一十"):
        out = out[1:]
    return out


def _decimal(value) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        number = Decimal(str(value).strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return number


def decimal_text(value) -> str:
    """A number with a fraction: 三点一四 (the fraction digit by digit, trailing zeros dropped)."""
    number = _decimal(value)
    sign = "负" if number < 0 else ""
    whole, _, fraction = format(abs(number), "f").partition(".")
    fraction = fraction.rstrip("0")
    text = number_text(int(whole))
    if fraction:
        text += "点" + "".join(DIGITS[int(d)] for d in fraction)
    return sign + text if text != "零" or fraction else text


def money_text(value) -> str:
    """An amount in yuan, rounded to the fen: 一千二百零五元三角, 五元整, 三角五分, 零元."""
    number = _decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if number < 0:
        return "负" + money_text(-number)
    fen_total = int(number * 100)
    yuan, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    if fen_total == 0:
        return "零元"
    out = number_text(yuan) + "元" if yuan else ""
    if not jiao and not fen:
        return out + "整"
    if jiao:
        out += DIGITS[jiao] + "角"
    elif yuan:
        out += "零"
    if fen:
        out += DIGITS[fen] + "分"
    return out


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None


def date_text(value, *, year: bool = True) -> str:
    """二〇二六年十二月七日 (the year digit by digit); year=False: 十二月七日."""
    day = _as_date(value)
    text = f"{number_text(day.month)}月{number_text(day.day)}日"
    if year:
        text = "".join(YEAR_DIGITS[int(d)] for d in f"{day.year:04d}") + "年" + text
    return text


def time_text(value) -> str:
    """24-hour clock: 十四点零五分, 十点整, 两点半 is not used (两点三十分)."""
    if isinstance(value, dt.datetime):
        value = value.time()
    if not isinstance(value, dt.time):
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::\d{2})?\s*", str(value))
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"not a time of day: {value!r}")
        value = dt.time(int(match[1]), int(match[2]))
    hour = "两" if value.hour == 2 else number_text(value.hour)
    if value.minute == 0:
        return hour + "点整"
    minute = number_text(value.minute)
    return f"{hour}点{'零' if value.minute < 10 else ''}{minute}分"


def percent_text(value) -> str:
    """百分之十二点五 (the value is the percentage: 12.5 for 12.5 %)."""
    number = _decimal(str(value).strip().rstrip("%").strip())
    text = decimal_text(number)
    return ("负百分之" + text[1:]) if text.startswith("负") else "百分之" + text


def digits_text(value, *, yao: bool = False) -> str:
    """The digits of an order or phone number one by one (letters and dashes are skipped);
    0 is 〇 (said líng); with `yao` 1 is 幺, as people read numbers on the phone."""
    digits = re.sub(r"\D", "", str(value))
    if not digits:
        raise ValueError(f"no digits in {value!r}")
    table = YEAR_DIGITS.replace("一", "幺") if yao else YEAR_DIGITS
    return "".join(table[int(d)] for d in digits)


def text(kind: str, value) -> str:
    """The Chinese text of `value` spoken as `kind` (one of KINDS)."""
    if kind == "number":
        number = _decimal(value)
        return number_text(int(number)) if number == number.to_integral_value() \
            else decimal_text(number)
    if kind == "money":
        return money_text(value)
    if kind == "date":
        return date_text(value)
    if kind == "time":
        return time_text(value)
    if kind == "percent":
        return percent_text(value)
    if kind == "id":
        return digits_text(value)
    if kind == "phone":
        return digits_text(value, yao=True)
    raise ValueError(f"unknown kind {kind!r} (one of: {', '.join(KINDS)})")


def speak(kind: str, value) -> list[str]:
    """The segment ids that say `value` as `kind`."""
    return segments(text(kind, value))
