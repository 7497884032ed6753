"""The do-not-call list (T4 compliance)."""
import pytest
from sqlalchemy import select

from models.dialer.campaigns import create_campaign, refresh_leads
from models.dialer.dnc import add_number, import_numbers, is_blocked, remove_number
from models.errors import DomainError, PermissionDenied
from models.schema import CampaignLead, DoNotCall


def lead_statuses(session):
    session.expire_all()
    return dict(session.execute(select(CampaignLead.customer_id, CampaignLead.status)).all())


@pytest.fixture
def hopper(session, users, clock, make_customer):
    """Three queued leads: two customers share 13800138000, one has 13800138001."""
    a = make_customer(mobile="13800138000")
    b = make_customer(phone="+86 138-0013-8000")
    c = make_customer(mobile="13800138001")
    campaign = create_campaign(session, users["mgr"], clock=clock, name="c")
    refresh_leads(session, campaign, clock=clock)
    session.commit()
    return a, b, c


def test_add_normalises_and_blocks_queued_leads(session, users, clock, hopper):
    a, b, c = hopper
    session.execute(CampaignLead.__table__.update()
                    .where(CampaignLead.customer_id == b.id).values(status="dialling"))
    row = add_number(session, users["tm"], "138 0013 8000", reason="客户要求", clock=clock)
    session.commit()
    assert (row.number, row.reason, row.added_by_id) == ("+8613800138000", "客户要求", users["tm"].id)
    assert row.added_at == clock.now()
    # the call in flight is not touched; finish_attempt decides its lead
    assert lead_statuses(session) == {a.id: "dnc", b.id: "dialling", c.id: "queued"}
    again = add_number(session, None, "+8613800138000", clock=clock)
    assert again.reason == "客户要求"
    assert session.scalars(select(DoNotCall.number)).all() == ["+8613800138000"]


@pytest.mark.parametrize("number", ["", "12", "abc", None, 13800138000])
def test_add_refuses_what_is_not_a_number(session, users, clock, number):
    with pytest.raises(DomainError) as err:
        add_number(session, users["tm"], number, clock=clock)
    assert err.value.key == "dnc.bad_number"


def test_reason_length(session, users, clock):
    with pytest.raises(DomainError) as err:
        add_number(session, users["tm"], "13800138000", reason="x" * 201, clock=clock)
    assert err.value.key == "dnc.reason_too_long"
    assert session.scalar(select(DoNotCall.number)) is None


def test_is_blocked(session, users, clock, make_customer):
    flagged = make_customer(mobile="13900139000", do_not_call=True)
    plain = make_customer(mobile="13900139001")
    add_number(session, None, "13800138000", clock=clock)
    assert is_blocked(session, "+86 138 0013 8000")
    assert is_blocked(session, "008613800138000")
    assert not is_blocked(session, "13800138001")
    assert not is_blocked(session, None)
    assert not is_blocked(session, "junk")
    assert is_blocked(session, "13900139000", flagged)
    assert not is_blocked(session, "13900139001", plain)
    assert is_blocked(session, "13800138000", plain)


def test_remove_is_for_managers_and_requeues_leads(session, users, clock, hopper):
    a, b, c = hopper
    add_number(session, users["tm"], "13800138000", clock=clock)
    b.do_not_call = True
    session.commit()
    with pytest.raises(PermissionDenied):
        remove_number(session, users["tm"], "13800138000")
    assert remove_number(session, users["mgr"], "13800138000") is True
    session.commit()
    assert lead_statuses(session) == {a.id: "queued", b.id: "dnc", c.id: "queued"}
    assert remove_number(session, users["mgr"], "13800138000") is False
    assert not is_blocked(session, "13800138000")


def test_import(session, users, clock, hopper):
    a, b, c = hopper
    add_number(session, None, "13800138001", clock=clock)
    with pytest.raises(PermissionDenied):
        import_numbers(session, users["tm"], ["13800138000"], clock=clock)
    result = import_numbers(session, users["admin"],
                            ["13800138000", "", " 138-0013-8000 ", "not a number", "13800138001",
                             "021 6123 4567", "12"], reason="行业黑名单", clock=clock)
    session.commit()
    assert (result.added, result.already_listed, result.invalid) == (2, 1, ["not a number", "12"])
    assert sorted(session.scalars(select(DoNotCall.number))) == \
        ["+8613800138000", "+8613800138001", "+862161234567"]
    assert session.get(DoNotCall, "+862161234567").reason == "行业黑名单"
    assert set(lead_statuses(session).values()) == {"dnc"}
