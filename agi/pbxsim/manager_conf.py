"""A manager.conf snippet (dialplan/manager_dialfunnel.conf) read as Asterisk reads its users,
so the simulator can be given the very users dialfunnel ships:

    AMIServer(**manager_users(text, secret="s3cret"))

Each ``[section]`` is a user: ``secret``, ``write`` (its write classes) and its ``eventfilter``
lines — the legacy form (``eventfilter = !Channel: Local/``) and the advanced one
(``eventfilter(action(include),name(Hangup)) =``). Asterisk gives a session its user's filters
at login, before any Filter action of its own. ``read`` is kept for the caller to check."""
from __future__ import annotations

import re

from agi.pbxsim.ami_filters import EventFilters

_ADVANCED = re.compile(r"^eventfilter\((.*)\)$", re.I)


def parse(text: str) -> dict[str, dict]:
    """{user: {"secret", "read", "write", "eventfilter": [(criteria | None, expression)]}}."""
    users: dict[str, dict] = {}
    user = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            user = None if name == "general" else users.setdefault(
                name, {"secret": None, "read": set(), "write": set(), "eventfilter": []})
            continue
        if user is None or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        advanced = _ADVANCED.match(key)
        if advanced:
            user["eventfilter"].append((advanced.group(1), value))
        elif key.lower() == "eventfilter":
            user["eventfilter"].append((None, value))
        elif key.lower() in ("read", "write"):
            user[key.lower()] = {c.strip() for c in value.split(",") if c.strip()}
        elif key.lower() == "secret":
            user["secret"] = value
    return users


def manager_users(text: str, *, secret: str | None = None) -> dict:
    """AMIServer's ``users``, ``write_classes`` and ``event_filters`` from a snippet; ``secret``
    replaces every user's (the snippet's is a placeholder). Each filter is checked as Asterisk
    checks it at load (FilterError when malformed)."""
    users = parse(text)
    for user in users.values():
        EventFilters().extend(user["eventfilter"])
    return {"users": {name: secret if secret is not None else u["secret"]
                      for name, u in users.items()},
            "write_classes": {name: u["write"] for name, u in users.items()},
            "event_filters": {name: u["eventfilter"] for name, u in users.items()
                              if u["eventfilter"]}}
