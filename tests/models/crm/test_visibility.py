from sqlalchemy import select

from models.crm.visibility import mine_filter, shared_filter, visible_filter
from models.schema import Customer


def names(session, where):
    return sorted(session.scalars(select(Customer.name).where(where)))


def test_who_sees_what(session, users, make_customer):
    make_customer("甲-个人", owner="tm")
    make_customer("乙-协同", owner=["tm", "rep"])
    make_customer("丙-共享", owner=None)
    make_customer("丁-别人", owner="tm2")
    assert names(session, visible_filter(users["tm"])) == ["丙-共享", "乙-协同", "甲-个人"]
    assert names(session, mine_filter(users["tm"])) == ["乙-协同", "甲-个人"]
    assert names(session, visible_filter(users["rep"])) == ["丙-共享", "乙-协同"]
    assert names(session, visible_filter(users["tm2"])) == ["丁-别人", "丙-共享"]
    assert names(session, shared_filter()) == ["丙-共享"]
    assert len(names(session, visible_filter(users["mgr"]))) == 4
    assert len(names(session, visible_filter(users["admin"]))) == 4
