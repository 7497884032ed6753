"""A manager session's event filters, as Asterisk 22 keeps them (the ``Filter`` action;
manager.conf's ``eventfilter``). See docs.asterisk.org, AMI Actions: Filter, and
"AMI Event Filtering".

    Action: Filter
    Operation: Add
    MatchCriteria: action(include),name(Hangup)     (optional: the advanced form)
    Filter: <expression>                            (optional with MatchCriteria)

Without ``MatchCriteria`` the filter is a regular expression searched in the whole event text,
excluding when it starts with ``!`` (the legacy form). With it: ``action(include|exclude)``,
``name(<event>)`` (the event's exact name), ``header(<name>)`` (the expression is matched
against that header's value only, and an event without the header does not match),
``method(regex|exact|starts_with|ends_with|contains|none)``.

An event passes when there is no filter; with include filters only when one matches; with
exclude filters only when none matches; with both when an include matches and no exclude does.
"""
from __future__ import annotations

import dataclasses
import re

METHODS = ("regex", "exact", "starts_with", "ends_with", "contains", "none")
_CRITERION = re.compile(r"\s*(action|name|header|method)\(([^()]*)\)\s*$", re.I)


class FilterError(ValueError):
    """The filter cannot be added (the action's error message)."""


@dataclasses.dataclass(frozen=True)
class _Filter:
    name: str | None
    header: str | None
    method: str
    expression: str
    pattern: re.Pattern | None

    def matches(self, name: str, data: bytes) -> bool:
        if self.name is not None and name != self.name:
            return False
        if self.method != "none" or self.pattern is not None or self.header is not None:
            return self._matches_text(data.decode("utf-8", "replace"))
        return True

    def _matches_text(self, text: str) -> bool:
        if self.header is not None:
            value = _header(text, self.header)
            if value is None:
                return False
        else:
            value = text
        if self.method == "exact":
            return value == self.expression
        if self.method == "starts_with":
            return value.startswith(self.expression)
        if self.method == "ends_with":
            return value.endswith(self.expression)
        if self.method == "contains":
            return self.expression in value
        return self.pattern is None or self.pattern.search(value) is not None


def _header(text: str, header: str) -> str | None:
    prefix = header.lower() + ":"
    for line in text.split("\r\n"):
        if line.lower().startswith(prefix):
            return line[len(prefix):].strip()
    return None


class EventFilters:
    def __init__(self):
        self.include: list[_Filter] = []
        self.exclude: list[_Filter] = []

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def add(self, criteria: str | None, expression: str | None) -> None:
        """Add one filter; FilterError when it is malformed or does not compile."""
        expression = expression or ""
        action, name, header, method = "include", None, None, "none"
        if criteria:
            seen = set()
            for part in criteria.split(","):
                m = _CRITERION.match(part)
                if not m or m.group(1).lower() in seen:
                    raise FilterError("Filter was formatted incorrectly.  Check the syntax of "
                                      "the filter given.")
                key, value = m.group(1).lower(), m.group(2).strip()
                seen.add(key)
                if key == "action":
                    if value.lower() not in ("include", "exclude"):
                        raise FilterError("Filter was formatted incorrectly.  Check the syntax "
                                          "of the filter given.")
                    action = value.lower()
                elif key == "name":
                    name = value
                elif key == "header":
                    header = value
                else:
                    if value.lower() not in METHODS:
                        raise FilterError("Filter was formatted incorrectly.  Check the syntax "
                                          "of the filter given.")
                    method = value.lower()
        elif expression.startswith("!"):
            action, expression = "exclude", expression[1:]
        pattern = None
        if method in ("regex", "none") and expression:
            try:
                pattern = re.compile(expression)
            except re.error:
                raise FilterError("Filter did not compile.  Check the syntax of the filter "
                                  "given.") from None
        (self.include if action == "include" else self.exclude).append(
            _Filter(name, header, method, expression, pattern))

    def extend(self, filters) -> "EventFilters":
        """Add ``(criteria, expression)`` pairs (a manager.conf user's ``eventfilter`` lines)."""
        for criteria, expression in filters:
            self.add(criteria, expression)
        return self

    def passes(self, data: bytes) -> bool:
        """Whether an encoded event (``Event: <name>\\r\\n...``) goes to the session."""
        if not self:
            return True
        name = data[7:data.find(b"\r\n")].decode() if data.startswith(b"Event: ") else ""
        if self.include and not any(f.matches(name, data) for f in self.include):
            return False
        return not any(f.matches(name, data) for f in self.exclude)
