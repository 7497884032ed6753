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


def manual_call(session, extension, number, *, start, talk=60, answered=True, hold=0,
                campaign_id=None):
    """The phone ``extension`` dials ``number`` by hand; answered after 5 s (or not), talked
    ``talk`` s with ``hold`` s of it on hold; returns its linkedid."""
    n = next(SERIAL)
    linkedid = f"2000.{n}"
    phone = Chan(f"PJSIP/{extension}-{n:08x}", linkedid, linkedid, 4, extension, None,
                 "dialfunnel-agents", number)
    trunk = Chan(f"PJSIP/dialfunnel-trunk-{n:08x}", f"2001.{n}", linkedid, 0, number, None,
                 "dialfunnel-trunk-out", "s")
    at = lambda s: start + dt.timedelta(seconds=s)  # noqa: E731
    calls.channel_seen(session, phone, at(0))
    calls.dial_begin(session, phone, trunk, at(1), from_agent_context=True)
    end = at(1 + 30)
    if answered:
        calls.dial_end(session, phone, trunk, "ANSWER", at(5))
        if hold:
            calls.hold(session, phone, True, at(10))
            calls.hold(session, phone, False, at(10 + hold))
        end = at(5 + talk)
    for ch in (trunk, phone):
        calls.channel_ended(session, ch, 16, end)
    if campaign_id is not None:
        calls.find_call(session, linkedid).campaign_id = campaign_id
    session.commit()
    return linkedid


def dialer_call(session, attempt, extension, *, talk=60, start=None):
    """The dialer's call of ``attempt`` (its Originate channel's Uniqueid is the attempt's
    channel_id), answered by the customer after 8 s and put through to the phone
    ``extension``; ``start`` defaults to the attempt's start. Returns its linkedid."""
    n = next(SERIAL)
    linkedid = attempt.channel_id
    far = Chan(f"PJSIP/dialfunnel-trunk-{n:08x}", linkedid, linkedid, 0, attempt.number, None,
               "dialfunnel-outbound", "s")
    phone = Chan(f"PJSIP/{extension}-{n:08x}", f"2100.{n}", linkedid, 0, extension, None,
                 "dialfunnel-agents", "s")
    t0 = start or attempt.started_at
    at = lambda s: t0 + dt.timedelta(seconds=s)  # noqa: E731
    calls.channel_seen(session, far, at(0))
    calls.dial_begin(session, far, phone, at(8))
    calls.dial_end(session, far, phone, "ANSWER", at(10))
    for ch in (phone, far):
        calls.channel_ended(session, ch, 16, at(10 + talk))
    session.commit()
    return linkedid


def set_disposition(session, linkedid, code):
    """What the wrap-up writes on the call (the wrap-up form's own writer is elsewhere)."""
    calls.find_call(session, linkedid).disposition = code
    session.commit()


def open_manual_call(session, extension, number, *, start, answered=True):
    """The phone ``extension`` dials ``number`` by hand at ``start``; the customer answers 5 s
    later (or not yet) and the call goes on. Returns its linkedid."""
    n = next(SERIAL)
    linkedid = f"2200.{n}"
    phone = Chan(f"PJSIP/{extension}-{n:08x}", linkedid, linkedid, 4, extension, None,
                 "dialfunnel-agents", number)
    trunk = Chan(f"PJSIP/dialfunnel-trunk-{n:08x}", f"2201.{n}", linkedid, 0, number, None,
                 "dialfunnel-trunk-out", "s")
    calls.channel_seen(session, phone, start)
    calls.dial_begin(session, phone, trunk, start + dt.timedelta(seconds=1),
                     from_agent_context=True)
    if answered:
        calls.dial_end(session, phone, trunk, "ANSWER", start + dt.timedelta(seconds=5))
    session.commit()
    return linkedid


def queue_call(session, number, queue, *, start, wait, extension=None, talk=60):
    """An inbound call from ``number`` that joins ``queue`` at ``start``; after ``wait``
    seconds the phone ``extension`` answers it (talks ``talk`` s, then both hang up), or, with
    no extension, it is still waiting. Returns its linkedid."""
    n = next(SERIAL)
    linkedid = f"2300.{n}"
    caller = Chan(f"PJSIP/carrier-{n:08x}", linkedid, linkedid, 4, number, None,
                  "dialfunnel-inbound", "4008001234")
    at = lambda s: start + dt.timedelta(seconds=s)  # noqa: E731
    calls.channel_seen(session, caller, at(0))
    calls.queue_joined(session, caller, queue, at(0))
    if extension is not None:
        agent = Chan(f"PJSIP/{extension}-{n:08x}", f"2301.{n}", linkedid, 0, extension, None,
                     "dialfunnel-agents", "s")
        calls.dial_begin(session, caller, agent, at(wait - 1))
        calls.dial_end(session, caller, agent, "ANSWER", at(wait))
        calls.queue_left(session, caller, at(wait))
        calls.agent_connect(session, caller, agent.channel, at(wait))
        for ch in (agent, caller):
            calls.channel_ended(session, ch, 16, at(wait + talk))
    session.commit()
    return linkedid


def hang_up(session, linkedid, now):
    """Every open leg of the call hangs up at ``now`` (the Hangup events, through the writer)."""
    from sqlalchemy import select

    from models.schema.calls import CallLeg
    call = calls.find_call(session, linkedid)
    for leg in session.scalars(select(CallLeg).where(CallLeg.call_id == call.id,
                                                     CallLeg.ended_at.is_(None))).all():
        calls.channel_ended(session, Chan(leg.channel, leg.uniqueid, linkedid), 16, now)
    session.commit()
