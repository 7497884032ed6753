import pytest
from sqlalchemy import select

from models.crm.sales import create_opportunity
from models.crm.stages import demote, promote, set_contact_mark, set_tracking_mark
from models.errors import InvalidValue, NotYours, StageRuleForbids
from models.schema import OperatorHistory, Opportunity, StageRule


def test_promote_to_any_higher_stage(session, users, clock, make_customer):
    c = make_customer(stage="target")
    promote(session, users["tm"], c.id, "closed", clock=clock)  # target may jump to closed
    assert c.stage == "closed"
    with pytest.raises(InvalidValue):
        promote(session, users["tm"], c.id, "potential", clock=clock)
    with pytest.raises(NotYours):
        promote(session, users["tm2"], c.id, "closed", clock=clock)


def test_reserve_and_archive_cannot_be_promoted_or_demoted(session, users, clock, make_customer):
    r = make_customer(stage="reserve")
    a = make_customer(stage=None)
    for cid, key in ((r.id, "reserve"), (a.id, "archive")):
        with pytest.raises(StageRuleForbids) as err:
            promote(session, users["tm"], cid, "target", clock=clock)
        assert err.value.params == {"action": "promote", "stage": key}
        with pytest.raises(StageRuleForbids):
            demote(session, users["tm"], cid, None, clock=clock)


def test_stage_rules_are_data(session, users, clock, make_customer):
    session.get(StageRule, "reserve").promote_allowed = True
    session.get(StageRule, "potential").demote_allowed = False
    session.commit()
    r = make_customer(stage="reserve")
    promote(session, users["tm"], r.id, "potential", clock=clock)
    with pytest.raises(StageRuleForbids):
        demote(session, users["tm"], r.id, "target", clock=clock)


def test_demote_to_reserve_makes_shared(session, users, clock, make_customer):
    c = make_customer(stage="potential", owner="tm")
    demote(session, users["tm"], c.id, "reserve", clock=clock)
    session.commit()
    assert (c.stage, c.ownership, c.operator_ids) == ("reserve", "shared", [])
    last = session.scalars(select(OperatorHistory).order_by(OperatorHistory.id.desc())).first()
    assert (last.action, last.to_mode) == ("demote_to_reserve", "shared")
    with pytest.raises(InvalidValue):
        demote(session, users["tm"], make_customer(stage="target").id, "closed", clock=clock)


def test_demote_to_archive_clears_stage_keeps_owner(session, users, clock, make_customer):
    c = make_customer(stage="closed", owner="tm")
    demote(session, users["tm"], c.id, None, clock=clock)
    assert (c.stage, c.ownership) == (None, "personal")


def test_marks_follow_stage_rule(session, users, clock, make_customer):
    tm = users["tm"]
    t = make_customer(stage="target")
    set_contact_mark(session, tm, t.id, "contacted", clock=clock)
    assert t.contact_mark == "contacted"
    with pytest.raises(StageRuleForbids):
        set_tracking_mark(session, tm, t.id, "paused", clock=clock)
    p = make_customer(stage="potential")
    with pytest.raises(StageRuleForbids):
        set_contact_mark(session, tm, p.id, "contacted", clock=clock)
    with pytest.raises(InvalidValue):
        set_tracking_mark(session, tm, p.id, "sleeping", clock=clock)
    set_tracking_mark(session, tm, p.id, "paused", clock=clock)
    assert p.tracking_mark == "paused"


def test_pausing_opportunity_customer_pauses_selling_opportunities(session, users, clock,
                                                                     make_customer):
    tm = users["tm"]
    c = make_customer(stage="opportunity")
    other = make_customer(stage="opportunity")
    selling = create_opportunity(session, tm, c.id, "A", amount=100, clock=clock)
    ended = create_opportunity(session, tm, c.id, "B", amount=100, state="ended", clock=clock)
    elsewhere = create_opportunity(session, tm, other.id, "C", amount=100, clock=clock)
    session.commit()
    set_tracking_mark(session, tm, c.id, "paused", clock=clock)
    session.commit()
    states = dict(session.execute(select(Opportunity.id, Opportunity.state)).all())
    assert states == {selling.id: "paused", ended.id: "ended", elsewhere.id: "selling"}
