"""The recording library's search (issue 16) by team, customer, campaign and the talk flags, and
the training examples by tag; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from models.dialer import campaigns
from models.errors import InvalidValue, PermissionDenied
from models.quality.examples import all_tags, examples, mark_example, unmark_example
from models.quality.library import LibraryFilter, count, search
from models.quality.talk import save_talk
from models.telephony.calls import find_call

from .helpers import recorded_call


def ids(session, user, **kw):
    return sorted(r.recording.id for r in search(session, user, LibraryFilter(**kw)))


def test_team_customer_campaign_and_flags(session, users, clock, make_customer):
    campaign = campaigns.create_campaign(session, users["mgr"], clock=clock, name="春季回访",
                                         mode="preview")
    campaigns.set_team(session, users["mgr"], campaign.id, [users["tm"].id])
    make_customer("宁波海天塑机有限公司", owner="tm", phone="0574-86188888")
    a = recorded_call(session, clock, users["tm"], number="0574-86188888")
    b = recorded_call(session, clock, users["tm2"])
    find_call(session, a.linkedid).campaign_id = campaign.id
    save_talk(session, b.id, agent_share=0.9, customer_share=0.1, longest_silence_ms=11_000,
              crosstalk_ms=300, clock=clock)
    session.commit()
    mgr = users["mgr"]
    assert ids(session, mgr, team_of=mgr.id) == [a.id]
    assert ids(session, mgr, customer="海天") == [a.id]
    assert ids(session, mgr, customer="%") == []          # a wildcard is a character here
    assert ids(session, mgr, campaign_id=campaign.id) == [a.id]
    assert ids(session, mgr, long_silence=True) == ids(session, mgr, agent_dominant=True) == [b.id]
    assert count(session, mgr, LibraryFilter()) == 2
    (row,) = search(session, mgr, LibraryFilter(campaign_id=campaign.id))
    assert (row.campaign, row.customer, row.agent, row.score) == ("春季回访", "宁波海天塑机有限公司", "李红光", None)
    # an agent's search never reaches past his own calls
    assert ids(session, users["tm2"], customer="海天") == []
    assert ids(session, users["tm2"]) == [b.id]


def test_examples_by_tag(session, users, clock):
    a = recorded_call(session, clock, users["tm"])
    b = recorded_call(session, clock, users["tm2"])
    with pytest.raises(PermissionDenied):
        mark_example(session, users["tm"], a.id, "优秀录音", None, clock=clock)
    with pytest.raises(InvalidValue):
        mark_example(session, users["mgr"], a.id, " ，、 ", None, clock=clock)
    mark_example(session, users["mgr"], a.id, "优秀录音，开场白 优秀录音", "开场自然", clock=clock)
    mark_example(session, users["mgr"], b.id, "典型案例;异议处理", None, clock=clock)
    session.commit()
    assert all_tags(session) == sorted(["优秀录音", "开场白", "典型案例", "异议处理"])
    assert [r.id for _, r in examples(session, "开场白")] == [a.id]
    assert len(examples(session)) == 2
    mark_example(session, users["mgr"], a.id, "典型案例", None, clock=clock)   # re-tagged
    assert sorted(r.id for _, r in examples(session, "典型案例")) == sorted([a.id, b.id])
    unmark_example(session, users["admin"], b.id)
    assert [r.id for _, r in examples(session)] == [a.id]
