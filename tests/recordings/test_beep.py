"""recordings.beep: a machine is ready to record after its beep, or once its greeting fell
silent; speech alone (a voice's harmonics) is never a beep."""
from __future__ import annotations

import math
import struct

import pytest

from agi.pbxsim.outbound_dialplan import _quiet, _voice
from recordings.beep import BeepListener


def tone(hz: float, seconds: float) -> bytes:
    n = int(seconds * 8000)
    return struct.pack("<%dh" % n, *(int(9000 * math.sin(2 * math.pi * hz * i / 8000))
                                     for i in range(n)))


def listen(pcm: bytes, chunk: int = 4000):
    listener = BeepListener()
    for start in range(0, len(pcm), chunk):
        if listener.feed(pcm[start:start + chunk]):
            break
    return listener.result, listener.heard_ms


@pytest.mark.parametrize("hz", [440.0, 1000.0, 1400.0])
def test_the_beep_after_a_greeting_is_heard_when_it_ends(hz):
    result, heard = listen(_voice(3.0, 2) + tone(hz, 0.3) + _quiet(2.0, 3))
    assert result == "beep" and 3300 <= heard <= 3400


def test_a_greeting_without_a_beep_is_over_once_it_fell_silent():
    result, heard = listen(_voice(2.0, 2) + _quiet(3.0, 3))
    assert result == "silence" and 3400 <= heard <= 3600


def test_speech_and_a_short_blip_are_not_a_beep():
    assert listen(_voice(6.0, 2) + tone(1000.0, 0.06) + _voice(1.0, 4))[0] is None
