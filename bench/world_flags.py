"""The benchmarks' world parameters checked before anything runs: a value no world can have
(no agents, a share above 1, a ring that ends before it starts, a pacer that does not exist)
stops the script with argparse's usage error naming the flag, not with a traceback minutes
later or with figures of an impossible world.

    args = parser.parse_args()
    check(parser, args, {"agents": COUNT, "answer": SHARE, "talk": POSITIVE},
          ordered=[("ring_min", "ring_max")], one_in_all=["answer", "dead"])
"""
from __future__ import annotations

import argparse
import math

COUNT = "a whole number of at least 1"
NATURAL = "a whole number of at least 0"
POSITIVE = "a number above 0"
NON_NEGATIVE = "a number of at least 0"
SHARE = "a share between 0 and 1"
PERCENT = "a percentage between 0 and 100"
_RULES = {
    PERCENT: lambda v: 0 <= v <= 100,
    COUNT: lambda v: isinstance(v, int) and v >= 1,
    NATURAL: lambda v: isinstance(v, int) and v >= 0,
    POSITIVE: lambda v: v > 0,
    NON_NEGATIVE: lambda v: v >= 0,
    SHARE: lambda v: 0 <= v <= 1,
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _ok(rule: str, value) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return _RULES[rule](value)


def check(parser: argparse.ArgumentParser, args, rules: dict[str, str], *,
          ordered: list[tuple[str, str]] = (), one_in_all: list[str] = (),
          pairs: list[str] = ()) -> None:
    """``rules``: flag name → COUNT, NATURAL, POSITIVE, NON_NEGATIVE, SHARE or PERCENT (a list
    value: each item); ``ordered``: (low, high) flags that must not cross; ``pairs``: flags of
    two values (MIN MAX) that must not cross; ``one_in_all``: shares of one whole that must not
    add up to more than 1. Exits with status 2 on the first breach."""
    for name, rule in rules.items():
        value = getattr(args, name)
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if not _ok(rule, item):
                parser.error(f"{_flag(name)}: {item!r} is not {rule}")
    for low, high in ordered:
        if getattr(args, low) > getattr(args, high):
            parser.error(f"{_flag(low)} ({getattr(args, low)}) is above {_flag(high)} "
                         f"({getattr(args, high)})")
    for name in pairs:
        low, high = getattr(args, name)
        if low > high:
            parser.error(f"{_flag(name)}: its MIN ({low}) is above its MAX ({high})")
    if one_in_all:
        total = sum(getattr(args, name) for name in one_in_all)
        if total > 1 + 1e-9:
            parser.error(f"{', '.join(_flag(n) for n in one_in_all)} add up to {total:g}, "
                         f"more than the whole (1)")


def _numbers(text: str, kind, words: str) -> list:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r}: {words} separated by commas")
    return values


def ints(text: str) -> list[int]:
    """An argparse type: comma-separated whole numbers ("5,20,50")."""
    return _numbers(text, int, "whole numbers")


def floats(text: str) -> list[float]:
    """An argparse type: comma-separated numbers ("0.15,0.30")."""
    return _numbers(text, float, "numbers")
