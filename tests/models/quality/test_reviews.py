"""Scorecards (issue 16): forms, the one score rule, who may review, what an agent sees,
acknowledge / dispute / settle, comments pinned to moments; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from models.errors import InvalidValue, NotFound, PermissionDenied
from models.quality import reviews as rv
from models.quality.forms import add_item, create_form, set_active
from models.quality.scoring import ItemRule, score
from models.schema import Review

from .helpers import answers, make_form, recorded_call


def test_score_is_the_weighted_share_and_a_critical_no_fails_the_call():
    items = [ItemRule(1, 1, 1, False), ItemRule(2, 1, 1, True), ItemRule(3, 2, 5, False)]
    assert score(items, {1: 1, 2: 1, 3: 4}) == (90.0, False)
    assert score(items, {1: 0, 2: 1, 3: 5}) == (75.0, False)
    assert score(items, {1: 1, 2: 0, 3: 5}) == (0.0, True)
    assert score(items, {}) == (0.0, False)


def test_only_an_admin_defines_forms_and_bad_items_are_refused(session, users, clock):
    with pytest.raises(PermissionDenied):
        create_form(session, users["mgr"], "表", clock=clock)
    form, items = make_form(session, users["admin"], clock)
    with pytest.raises(InvalidValue) as exc:
        create_form(session, users["admin"], "通话质检表", clock=clock)
    assert exc.value.key == "quality.form_exists"
    section_id = items["greeting"].section_id
    for kw in (dict(kind="stars"), dict(kind="scale", scale_max=11), dict(weight=0)):
        with pytest.raises(InvalidValue):
            add_item(session, users["admin"], section_id, "x", **kw)
    with pytest.raises(InvalidValue):
        add_item(session, users["admin"], section_id, "  ")


def test_a_reviewer_scores_a_call_and_the_score_is_stored(session, users, clock):
    form, items = make_form(session, users["admin"], clock)
    rec = recorded_call(session, clock, users["tm"])
    review = rv.submit_review(session, users["mgr"], rec.id, form.id, answers(items), "不错",
                              clock=clock)
    session.commit()
    assert (review.score, review.failed, review.state, review.agent_id) == \
        (90.0, False, "submitted", users["tm"].id)
    # redone by its reviewer before the agent answered: the same row, the new score
    again = rv.submit_review(session, users["mgr"], rec.id, form.id, answers(items, identity=0),
                             clock=clock)
    assert again.id == review.id and (again.score, again.failed) == (0.0, True)
    assert rv.answers_of(session, review.id)[items["identity"].id] == 0
    assert [i.label for i in rv.failed_items(session, review.id)] == ["核实客户身份"]


def test_every_item_must_be_answered_within_its_scale(session, users, clock):
    form, items = make_form(session, users["admin"], clock)
    rec = recorded_call(session, clock, users["tm"])
    for bad in ({items["greeting"].id: 1}, answers(items, pace=6), answers(items, greeting=2),
                answers(items, pace=-1), {**answers(items), 999999: 1}):
        with pytest.raises(InvalidValue):
            rv.submit_review(session, users["mgr"], rec.id, form.id, bad, clock=clock)
    assert session.query(Review).count() == 0
    set_active(session, users["admin"], form.id, False)
    with pytest.raises(InvalidValue) as exc:
        rv.submit_review(session, users["mgr"], rec.id, form.id, answers(items), clock=clock)
    assert exc.value.key == "quality.form_inactive"


def test_a_reviewer_only_reviews_calls_he_may_hear_and_not_his_own(session, users, clock):
    form, items = make_form(session, users["admin"], clock)
    rec_tm = recorded_call(session, clock, users["tm"])
    rec_mgr = recorded_call(session, clock, users["mgr"])
    with pytest.raises(PermissionDenied):       # an agent hears only his own calls
        rv.submit_review(session, users["tm2"], rec_tm.id, form.id, answers(items), clock=clock)
    with pytest.raises(PermissionDenied):       # his own call: not even tm on his own
        rv.submit_review(session, users["tm"], rec_tm.id, form.id, answers(items), clock=clock)
    with pytest.raises(PermissionDenied):       # a manager does not score himself
        rv.submit_review(session, users["mgr"], rec_mgr.id, form.id, answers(items), clock=clock)
    with pytest.raises(NotFound):
        rv.submit_review(session, users["mgr"], 999999, form.id, answers(items), clock=clock)
    assert rv.submit_review(session, users["admin"], rec_mgr.id, form.id, answers(items),
                            clock=clock).agent_id == users["mgr"].id


def test_an_agent_sees_only_his_own_scores(session, users, clock):
    form, items = make_form(session, users["admin"], clock)
    rec_tm = recorded_call(session, clock, users["tm"])
    rec_tm2 = recorded_call(session, clock, users["tm2"])
    mine = rv.submit_review(session, users["mgr"], rec_tm.id, form.id, answers(items), clock=clock)
    theirs = rv.submit_review(session, users["mgr"], rec_tm2.id, form.id, answers(items), clock=clock)
    session.commit()
    assert [r.id for r in rv.my_reviews(session, users["tm"])] == [mine.id]
    assert [r.id for r in rv.reviews_of_recording(session, users["tm"], rec_tm.id)] == [mine.id]
    with pytest.raises(PermissionDenied):
        rv.reviews_of_recording(session, users["tm"], rec_tm2.id)
    with pytest.raises(PermissionDenied):
        rv.get_review(session, users["tm"], theirs.id)
    assert rv.get_review(session, users["mgr"], theirs.id).id == theirs.id


def test_acknowledge_dispute_and_settle(session, users, clock):
    form, items = make_form(session, users["admin"], clock)
    rec = recorded_call(session, clock, users["tm"])
    review = rv.submit_review(session, users["mgr"], rec.id, form.id, answers(items), clock=clock)
    with pytest.raises(PermissionDenied):
        rv.acknowledge(session, users["tm2"], review.id, clock=clock)
    rv.acknowledge(session, users["tm"], review.id, clock=clock)
    assert review.state == "acknowledged" and review.acknowledged_at == clock.now()
    with pytest.raises(rv.WrongState):
        rv.acknowledge(session, users["tm"], review.id, clock=clock)
    with pytest.raises(InvalidValue):
        rv.dispute(session, users["tm"], review.id, "  ", clock=clock)
    rv.dispute(session, users["tm"], review.id, "客户本人已核实过身份", clock=clock)
    assert review.state == "disputed"
    with pytest.raises(rv.WrongState):            # the reviewer cannot redo a disputed review
        rv.submit_review(session, users["mgr"], rec.id, form.id, answers(items), clock=clock)
    with pytest.raises(PermissionDenied):          # not an agent, not the reviewer himself
        rv.settle(session, users["tm2"], review.id, "upheld", clock=clock)
    with pytest.raises(PermissionDenied):
        rv.settle(session, users["mgr"], review.id, "upheld", clock=clock)
    with pytest.raises(InvalidValue):
        rv.settle(session, users["admin"], review.id, "maybe", clock=clock)
    assert [r.id for r in rv.open_disputes(session, users["admin"])] == [review.id]
    rv.settle(session, users["admin"], review.id, "overturned", "录音里有核实", clock=clock)
    assert (review.state, review.settled_by_id) == ("overturned", users["admin"].id)
    assert "overturned" not in rv.COUNTED_STATES
    with pytest.raises(rv.WrongState):
        rv.settle(session, users["admin"], review.id, "upheld", clock=clock)


def test_comments_pinned_to_moments(session, users, clock):
    rec = recorded_call(session, clock, users["tm"], talk=60)
    rv.add_comment(session, users["mgr"], rec.id, 42_000, "这里应该先确认需求", clock=clock)
    rv.add_comment(session, users["tm"], rec.id, 5_000, "客户当时在开车", clock=clock)
    for bad_at in (-1, 62_000):
        with pytest.raises(InvalidValue):
            rv.add_comment(session, users["mgr"], rec.id, bad_at, "x", clock=clock)
    with pytest.raises(InvalidValue):
        rv.add_comment(session, users["mgr"], rec.id, 1000, " ", clock=clock)
    with pytest.raises(PermissionDenied):
        rv.add_comment(session, users["tm2"], rec.id, 1000, "偷听", clock=clock)
    session.commit()
    assert [(c.at_ms, c.text) for c in rv.comments_of(session, users["tm"], rec.id)] == \
        [(5_000, "客户当时在开车"), (42_000, "这里应该先确认需求")]
    with pytest.raises(PermissionDenied):
        rv.comments_of(session, users["tm2"], rec.id)
