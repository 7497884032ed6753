"""Finding a customer by name, contact person or a phone number in any format: the list
search box and the top bar's quick search, each within what the user may see."""
import re

import pytest

from models.crm.contacts import add_contact
from models.crm.search import phone_digits

from tests.web_helpers import committing


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def world(session, users, clock, make_customer):
    a = make_customer("甲贸易", stage="target", owner="tm", phone="0573-12345678",
                      mobile="13800138000", contact_person="王五")
    b = make_customer("乙科技", stage="target", owner=None)
    add_contact(session, users["admin"], b.id, {"name": "赵六", "mobile": "139 0000 1111"},
                clock=clock)
    c = make_customer("丙私密", stage="target", owner="tm2", mobile="13800138001")
    session.commit()
    return dict(a=a, b=b, c=c)


def found(page) -> list[str]:
    return re.findall(r'data-customer="\d+">\s*<td><a [^>]*>([^<]+)</a>', page)


@pytest.mark.parametrize("typed", ["13800138000", "138 0013 8000", "+86 138-0013-8000",
                                   "8613800138000", "0013 8000", "0573-12345678",
                                   "(0573) 1234 5678", "+86 573 12345678", "甲贸", "王五"])
def test_quick_search_finds_a_customer_however_the_number_is_typed(as_user, world, typed):
    page = as_user("tm").get("/search", query_string={"q": typed}).get_data(as_text=True)
    assert found(page) == ["甲贸易"], typed


def test_a_contacts_number_and_name_find_its_customer(as_user, world):
    tm = as_user("tm")
    for typed in ("13900001111", "139-0000-1111", "赵六"):
        assert found(tm.get("/search", query_string={"q": typed}).get_data(as_text=True)) == ["乙科技"]


def test_nobody_finds_a_colleagues_personal_customer(as_user, world):
    page = as_user("tm").get("/search?q=13800138001").get_data(as_text=True)
    assert found(page) == [] and 'id="search-empty"' in page and "丙私密" not in page
    assert found(as_user("tm").get("/search?q=13800138").get_data(as_text=True)) == ["甲贸易"]
    assert found(as_user("mgr").get("/search?q=13800138001").get_data(as_text=True)) == ["丙私密"]
    assert found(as_user("tm2").get("/search?q=丙").get_data(as_text=True)) == ["丙私密"]


def test_the_list_search_box_finds_by_phone(as_user, world):
    page = as_user("tm").get("/customers/target?tab=mine&q=138 0013 8000").get_data(as_text=True)
    assert "甲贸易" in page
    page = as_user("tm").get("/customers/target?tab=shared&q=1390000").get_data(as_text=True)
    assert "乙科技" in page and "甲贸易" not in page


def test_every_page_has_the_quick_search_box(as_user, world):
    for name in ("tm", "rep", "mgr", "admin"):
        page = as_user(name).get("/").get_data(as_text=True)
        assert 'id="quick-search"' in page and 'action="/search"' in page


def test_what_counts_as_a_phone_number():
    assert phone_digits("张三") == set() and phone_digits("138") == set()
    assert "8613800138000" in phone_digits("+86 138 0013 8000")
    assert {"057312345678", "57312345678"} <= phone_digits("0573-12345678")
    assert phone_digits("1%3_8") == set()
