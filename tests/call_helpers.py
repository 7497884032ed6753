"""Calls of the call log made through its writer (models/telephony/calls.py), and their
recordings, for the tests of what pages show of them."""
from __future__ import annotations

import datetime as dt
import itertools

from models.crm.recordings import create_recording
from models.telephony import calls
from models.telephony.calls import Chan

SERIAL = itertools.count(1)


def answered_call(session, clock, number, extension, *, talk=60, start=None):
    """An inbound call from ``number`` answered by the phone ``extension``; returns its linkedid."""
    n = next(SERIAL)
    linkedid = f"1800.{n}"
    caller = Chan(f"PJSIP/carrier-{n:08x}", linkedid, linkedid, 4, number, None,
                  "dialfunnel-inbound", "4008001234")
    agent = Chan(f"PJSIP/{extension}-{n:08x}", f"1801.{n}", linkedid, 0, extension, None,
                 "dialfunnel-agents", "s")
    t0 = start or clock.now()
    calls.channel_seen(session, caller, t0)
    calls.dial_begin(session, caller, agent, t0 + dt.timedelta(seconds=1))
    calls.dial_end(session, caller, agent, "ANSWER", t0 + dt.timedelta(seconds=4))
    for ch in (agent, caller):
        calls.channel_ended(session, ch, 16, t0 + dt.timedelta(seconds=4 + talk))
    session.commit()
    return linkedid


def abandoned_call(session, clock, number, *, start=None):
    """An inbound call from ``number`` that waited 20 s in the sales queue and hung up."""
    n = next(SERIAL)
    linkedid = f"1900.{n}"
    caller = Chan(f"PJSIP/carrier-{n:08x}", linkedid, linkedid, 4, number, None,
                  "dialfunnel-inbound", "4008001234")
    t0 = start or clock.now()
    calls.channel_seen(session, caller, t0)
    calls.queue_joined(session, caller, "sales", t0 + dt.timedelta(seconds=5))
    calls.queue_left(session, caller, t0 + dt.timedelta(seconds=25), abandoned=True)
    calls.channel_ended(session, caller, 16, t0 + dt.timedelta(seconds=25))
    session.commit()
    return linkedid


def record(session, clock, linkedid, user):
    rec = create_recording(session, uniqueid=linkedid, linkedid=linkedid, file_key="k.mp3",
                           fmt="mp3", duration_ms=60000, size_bytes=1000, user_id=user.id,
                           clock=clock)
    session.commit()
    return rec


def dialer_call(session, clock, attempt, extension, *, talk=60, start=None):
    """The call of a dial attempt (its Originate channel's Uniqueid is the attempt's channel_id)
    put through to the phone ``extension``; returns its linkedid."""
    n = next(SERIAL)
    linkedid = attempt.channel_id
    customer = Chan(f"PJSIP/carrier-{n:08x}", linkedid, linkedid, 0, attempt.number, None,
                    "dialfunnel-outbound", "s")
    agent = Chan(f"PJSIP/{extension}-{n:08x}", f"2001.{n}", linkedid, 0, extension, None,
                 "dialfunnel-agents", "s")
    t0 = start or clock.now()
    calls.channel_seen(session, customer, t0)
    calls.dial_begin(session, customer, agent, t0 + dt.timedelta(seconds=1))
    calls.dial_end(session, customer, agent, "ANSWER", t0 + dt.timedelta(seconds=3))
    for ch in (agent, customer):
        calls.channel_ended(session, ch, 16, t0 + dt.timedelta(seconds=3 + talk))
    session.commit()
    return linkedid
