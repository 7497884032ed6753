import pytest
from sqlalchemy import func, select

from models.crm.contact_records import add_contact_record
from models.crm.customers import (
    count_dependents,
    create_customer,
    delete_customer,
    find_by_phone,
    find_duplicates,
    update_customer,
)
from models.crm.sales import create_opportunity, create_order
from models.errors import (
    DuplicateName,
    FieldLocked,
    InvalidValue,
    NotYours,
    PermissionDenied,
    SharedEditForbidden,
)
from models.schema import Contact, ContactRecord, Customer, Document, OperatorHistory, Opportunity, Order


def test_create_personal_by_default_with_history(session, users, clock):
    c = create_customer(session, users["tm"], {"name": " 上海星辰软件有限公司 ", "phone": "021-62345678"},
                        stage="reserve", clock=clock)
    session.commit()
    assert c.name == "上海星辰软件有限公司"
    assert c.ownership == "personal" and c.operator_ids == [users["tm"].id]
    assert c.phone_e164 == "+862162345678"
    history = session.scalars(select(OperatorHistory).where(OperatorHistory.customer_id == c.id)).all()
    assert [(h.action, h.to_mode, h.to_operators) for h in history] == [
        ("create", "personal", [users["tm"].id])]


def test_duplicate_name_refused_and_nothing_added(session, users, clock, make_customer):
    make_customer("北京华信贸易有限公司")
    before = session.scalar(select(func.count()).select_from(Customer))
    with pytest.raises(DuplicateName) as err:
        create_customer(session, users["tm"], {"name": "北京华信贸易有限公司"}, clock=clock)
    assert err.value.key == "customer.duplicate_name"
    assert "北京华信贸易有限公司" in err.value.message("zh_CN")
    assert "already exists" in err.value.message("en")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Customer)) == before


def test_create_validations(session, users, clock):
    with pytest.raises(InvalidValue):
        create_customer(session, users["tm"], {"name": "  "}, clock=clock)
    with pytest.raises(InvalidValue):
        create_customer(session, users["tm"], {"name": "x", "password_hash": "y"}, clock=clock)
    with pytest.raises(InvalidValue):
        create_customer(session, users["tm"], {"name": "x"}, stage="vip", clock=clock)
    with pytest.raises(InvalidValue):  # collaborative needs two operators
        create_customer(session, users["tm"], {"name": "x"}, ownership="collaborative",
                        operator_ids=[users["tm"].id], clock=clock)
    with pytest.raises(PermissionDenied):  # a telemarketer cannot create for somebody else
        create_customer(session, users["tm"], {"name": "x"}, operator_ids=[users["tm2"].id],
                        clock=clock)
    assert session.scalar(select(func.count()).select_from(Customer)) == 0


def test_stage_rule_locks_fields(session, users, clock, make_customer):
    c = make_customer(stage="target", city="上海")
    update_customer(session, users["tm"], c.id, {"city": "深圳", "phone": "13812345678"}, clock=clock)
    session.commit()
    assert (c.city, c.mobile, c.phone_e164) == ("深圳", None, "+8613812345678")
    with pytest.raises(FieldLocked) as err:
        update_customer(session, users["tm"], c.id, {"city": "广州", "address": "天河路1号"}, clock=clock)
    assert err.value.params == {"fields": "address"}
    session.rollback()
    session.refresh(c)
    assert c.city == "深圳" and c.address is None  # nothing half-applied
    # reserve: city is locked, address is not
    r = make_customer(stage="reserve")
    with pytest.raises(FieldLocked):
        update_customer(session, users["tm"], r.id, {"city": "广州"}, clock=clock)
    session.rollback()
    update_customer(session, users["tm"], r.id, {"address": "天河路1号"}, clock=clock)
    # potential: nothing editable, unchanged values are fine, admin may override
    p = make_customer(stage="potential", city="上海")
    update_customer(session, users["tm"], p.id, {"city": "上海"}, clock=clock)
    with pytest.raises(FieldLocked):
        update_customer(session, users["tm"], p.id, {"city": "杭州"}, clock=clock)
    session.rollback()
    update_customer(session, users["admin"], p.id, {"city": "杭州"}, clock=clock)
    assert session.get(Customer, p.id).city == "杭州"


def test_edit_rights(session, users, clock, make_customer):
    mine = make_customer(owner="tm")
    with pytest.raises(NotYours):
        update_customer(session, users["tm2"], mine.id, {"city": "x"}, clock=clock)
    shared = make_customer(owner=None)
    with pytest.raises(SharedEditForbidden):
        update_customer(session, users["tm"], shared.id, {"city": "x"}, clock=clock)
    update_customer(session, users["rep"], shared.id, {"city": "苏州"}, clock=clock)  # may edit shared
    assert shared.city == "苏州"


def test_rename_to_existing_name_refused(session, users, clock, make_customer):
    make_customer("甲公司")
    b = make_customer("乙公司", stage="target")
    with pytest.raises(DuplicateName):
        update_customer(session, users["admin"], b.id, {"name": "甲公司"}, clock=clock)


def test_find_duplicates_by_name_keyword_phone(session, users, clock, make_customer):
    a = make_customer("广州天河物流有限公司", keyword="天河物流", mobile="13912345678")
    b = make_customer("深圳南山电子有限公司", phone="0755-26543210")
    session.add(Contact(customer_id=b.id, name="陈先生", mobile="15012345678",
                        mobile_e164="+8615012345678", created_at=clock.now()))
    session.commit()
    assert [d["id"] for d in find_duplicates(session, name="广州天河物流有限公司")] == [a.id]
    assert [d["id"] for d in find_duplicates(session, keyword="天河物流")] == [a.id]
    assert [d["id"] for d in find_duplicates(session, phone="+86 139-1234-5678")] == [a.id]
    assert [d["id"] for d in find_duplicates(session, phone="075526543210")] == [b.id]
    assert [d["id"] for d in find_duplicates(session, phone="150 1234 5678")] == [b.id]
    assert find_duplicates(session, name="不存在的公司") == []
    assert find_duplicates(session) == []
    assert set(find_duplicates(session, name="x", phone="13912345678")[0]) == {
        "id", "name", "stage", "ownership"}
    assert [c.id for c in find_by_phone(session, "8615012345678")] == [b.id]
    assert find_by_phone(session, "anonymous") == []


def test_delete_cascades_and_reports(session, users, clock, make_customer):
    c = make_customer(stage="potential", owner="mgr")
    other = make_customer(stage="potential", owner="mgr")
    mgr = users["mgr"]
    session.add(Contact(customer_id=c.id, name="王先生", created_at=clock.now()))
    session.add(Document(customer_id=c.id, title="合同", filename="a.pdf", storage_key="k",
                         created_at=clock.now()))
    add_contact_record(session, mgr, c.id, content="首次联系", clock=clock)
    add_contact_record(session, mgr, c.id, content="再次联系", clock=clock)
    add_contact_record(session, mgr, other.id, content="别的客户", clock=clock)
    opp = create_opportunity(session, mgr, c.id, "ERP 项目", items=[
        dict(product_name="ERP", quantity=1, unit_price=1000)], clock=clock)
    create_order(session, mgr, c.id, [], opportunity_id=opp.id, clock=clock)
    session.commit()
    expected = {"contacts": 1, "contact_records": 2, "opportunities": 1, "orders": 1, "documents": 1}
    assert count_dependents(session, c.id) == expected
    with pytest.raises(PermissionDenied):
        delete_customer(session, users["tm"], c.id)
    removed = delete_customer(session, mgr, c.id)
    session.commit()
    assert removed == {**expected, "customers": 1}
    assert session.get(Customer, c.id) is None
    for model in (Contact, Document, Opportunity, Order):
        assert session.scalar(select(func.count()).select_from(model)) == 0
    assert session.scalar(select(func.count()).select_from(ContactRecord)) == 1
