"""How many Python-level calls an action makes: a cost budget that does not depend on how busy
the machine is (the tests that hold the dialer's hot paths to one)."""
from __future__ import annotations

import sys


def python_calls(action) -> int:
    count = [0]

    def profile(frame, event, arg):
        if event in ("call", "c_call"):
            count[0] += 1
    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count[0]
