"""Shared set-up of the quality tests: a review form and recorded calls through the call log."""
from __future__ import annotations

from models.quality.forms import add_item, add_section, create_form

from tests.call_helpers import answered_call, record, set_disposition


def make_form(session, admin, clock, name="通话质检表"):
    """Sections 开场 (greeting yes/no, identity yes/no critical) and 沟通 (pace 0–5, weight 2)."""
    form = create_form(session, admin, name, clock=clock)
    opening = add_section(session, admin, form.id, "开场")
    talk = add_section(session, admin, form.id, "沟通")
    items = dict(
        greeting=add_item(session, admin, opening.id, "问候语规范"),
        identity=add_item(session, admin, opening.id, "核实客户身份", critical=True),
        pace=add_item(session, admin, talk.id, "语速适中", kind="scale", scale_max=5, weight=2))
    session.commit()
    return form, items


def recorded_call(session, clock, user, *, number="021-62345678", talk=60, disposition=None):
    """An answered inbound call to the user's phone with its recording; returns the Recording."""
    if not user.extension:
        user.extension = str(8000 + user.id)
        session.commit()
    linkedid = answered_call(session, clock, number, user.extension, talk=talk)
    if disposition:
        set_disposition(session, linkedid, disposition)
    rec = record(session, clock, linkedid, user)
    rec.duration_ms = talk * 1000
    session.commit()
    return rec


def answers(items, greeting=1, identity=1, pace=4):
    return {items["greeting"].id: greeting, items["identity"].id: identity, items["pace"].id: pace}
