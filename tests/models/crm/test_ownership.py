import datetime as dt

import pytest
from sqlalchemy import select

from models.crm.ownership import (
    claim,
    claim_many,
    claims_left,
    claims_today,
    force_release,
    reassign,
    release,
    screen,
    set_collaborators,
)
from models.crm.visibility import can_open, get_visible_customer
from models.errors import (
    AlreadyClaimed,
    InvalidValue,
    NotYours,
    PermissionDenied,
    QuotaExceeded,
    StageRuleForbids,
)
from models.schema import ClaimLog, OperatorHistory, Role


def history(session, customer):
    rows = session.scalars(select(OperatorHistory).where(OperatorHistory.customer_id == customer.id)
                           .order_by(OperatorHistory.id))
    return [(h.action, h.from_mode, h.to_mode, h.from_operators, h.to_operators) for h in rows]


def test_claim_shared_target(session, users, clock, make_customer):
    c = make_customer(stage="target", owner=None)
    tm = users["tm"]
    claim(session, tm, c.id, clock=clock)
    session.commit()
    assert (c.ownership, c.operator_ids) == ("personal", [tm.id])
    assert history(session, c)[-1] == ("claim", "shared", "personal", [], [tm.id])
    assert claims_today(session, tm, clock=clock) == 1
    with pytest.raises(AlreadyClaimed):
        claim(session, users["tm2"], c.id, clock=clock)


def test_claim_refusals(session, users, clock, make_customer):
    reserve = make_customer(stage="reserve", owner=None)
    with pytest.raises(StageRuleForbids) as err:
        claim(session, users["tm"], reserve.id, clock=clock)
    assert err.value.params == {"action": "claim", "stage": "reserve"}
    session.rollback()
    personal = make_customer(stage="target", owner="tm2")
    with pytest.raises(AlreadyClaimed):
        claim(session, users["tm"], personal.id, clock=clock)
    session.rollback()
    assert session.scalar(select(ClaimLog.id)) is None


def test_daily_quota_per_role_in_company_day(session, users, clock, make_customer):
    session.get(Role, users["tm"].role_id).daily_claim_quota = 3
    session.commit()
    tm = users["tm"]
    pool = [make_customer(stage=s, owner=None) for s in ("target", "potential", "target", "target")]
    for c in pool[:3]:
        claim(session, tm, c.id, clock=clock)
    session.commit()
    assert claims_left(session, tm, clock=clock) == 0
    with pytest.raises(QuotaExceeded) as err:
        claim(session, tm, pool[3].id, clock=clock)
    assert "3" in err.value.message("zh_CN")
    session.rollback()
    assert session.get(type(pool[3]), pool[3].id).ownership == "shared"
    # opportunity/closed/archive pools do not count
    opp = make_customer(stage="opportunity", owner=None)
    arch = make_customer(stage=None, owner=None)
    claim(session, tm, opp.id, clock=clock)
    claim(session, tm, arch.id, clock=clock)
    session.commit()
    # 15:59 UTC is still 23:59 on the same Shanghai day; 16:00 UTC is the next day
    clock.set(dt.datetime(2026, 11, 26, 15, 59, tzinfo=dt.timezone.utc))
    with pytest.raises(QuotaExceeded):
        claim(session, tm, pool[3].id, clock=clock)
    session.rollback()
    clock.set(dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.timezone.utc))
    claim(session, tm, pool[3].id, clock=clock)
    session.commit()
    assert claims_today(session, tm, clock=clock) == 1


def test_claim_many_reports_each(session, users, clock, make_customer):
    session.get(Role, users["tm"].role_id).daily_claim_quota = 2
    session.commit()
    a, b, c = (make_customer(stage="target", owner=None) for _ in range(3))
    taken = make_customer(stage="target", owner="tm2")
    result = claim_many(session, users["tm"], [c.id, a.id, b.id, taken.id], clock=clock)
    session.commit()
    assert result == {a.id: None, b.id: None, c.id: "claim.quota_exceeded",
                      taken.id: "claim.not_shared"}
    assert [x.ownership for x in (a, b)] == ["personal", "personal"]
    assert get_visible_customer(session, users["mgr"], c.id).ownership == "shared"


def test_screen_from_reserve(session, users, clock, make_customer):
    session.get(Role, users["tm"].role_id).daily_claim_quota = 1
    session.commit()
    shared = make_customer(stage="reserve", owner=None)
    own = make_customer(stage="reserve", owner="tm")
    other = make_customer(stage="reserve", owner=None)
    tm = users["tm"]
    screen(session, tm, shared.id, "target", clock=clock)
    screen(session, tm, own.id, "potential", clock=clock)  # own reserve: no quota used
    session.commit()
    assert (shared.stage, shared.ownership, shared.operator_ids) == ("target", "personal", [tm.id])
    assert own.stage == "potential"
    with pytest.raises(QuotaExceeded):
        screen(session, tm, other.id, "target", clock=clock)
    session.rollback()
    with pytest.raises(InvalidValue):
        screen(session, tm, shared.id, "potential", clock=clock)  # no longer reserve
    assert history(session, shared)[-1][0] == "screen"


def test_release_personal_and_collaborative(session, users, clock, make_customer):
    tm, tm2, rep = users["tm"], users["tm2"], users["rep"]
    c = make_customer(stage="potential", owner="tm")
    with pytest.raises(NotYours):
        release(session, tm2, c.id, clock=clock)
    release(session, tm, c.id, clock=clock)
    session.commit()
    assert (c.ownership, c.operator_ids) == ("shared", [])
    collab = make_customer(stage="target", owner=["tm", "tm2", "rep"])
    release(session, tm, collab.id, clock=clock)
    assert (collab.ownership, collab.operator_ids) == ("collaborative", sorted([tm2.id, rep.id]))
    release(session, tm2, collab.id, clock=clock)
    assert (collab.ownership, collab.operator_ids) == ("personal", [rep.id])
    reserve = make_customer(stage="reserve", owner="tm")
    with pytest.raises(StageRuleForbids):
        release(session, tm, reserve.id, clock=clock)


def test_manager_force_release_and_reassign(session, users, clock, make_customer):
    c = make_customer(stage="target", owner="tm")
    with pytest.raises(PermissionDenied):
        force_release(session, users["tm2"], c.id, clock=clock)
    with pytest.raises(PermissionDenied):
        reassign(session, users["rep"], c.id, users["rep"].id, clock=clock)
    force_release(session, users["mgr"], c.id, clock=clock)
    assert c.ownership == "shared"
    reassign(session, users["mgr"], c.id, users["tm2"].id, clock=clock)
    session.commit()
    assert (c.ownership, c.operator_ids) == ("personal", [users["tm2"].id])
    assert [h[0] for h in history(session, c)] == ["create", "force_release", "reassign"]
    assert not can_open(users["tm"], c) and can_open(users["tm2"], c)


def test_set_collaborators(session, users, clock, make_customer):
    c = make_customer(stage="potential", owner="tm")
    with pytest.raises(NotYours):
        set_collaborators(session, users["tm2"], c.id, [users["tm2"].id], clock=clock)
    set_collaborators(session, users["tm"], c.id, [users["tm"].id, users["rep"].id], clock=clock)
    session.commit()
    assert c.ownership == "collaborative"
    assert can_open(users["rep"], c) and not can_open(users["tm2"], c)
    assert history(session, c)[-1] == ("set_collaborators", "personal", "collaborative",
                                       [users["tm"].id], sorted([users["tm"].id, users["rep"].id]))
