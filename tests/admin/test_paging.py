"""Every list pages the same way: page numbers, a page-size choice and jump to a page, the
list's other arguments kept (admin/paging.py, admin/templates/_pager.html)."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from admin.paging import page_window


def test_the_page_window():
    assert page_window(1, 1) == [1]
    assert page_window(1, 9) == [1, 2, 3, None, 9]
    assert page_window(5, 9) == [1, None, 3, 4, 5, 6, 7, None, 9]
    assert page_window(9, 9) == [1, None, 7, 8, 9]
    assert page_window(4, 9) == [1, 2, 3, 4, 5, 6, None, 9]


@pytest.fixture
def many(make_customer):
    return [make_customer("分页%03d" % i, stage="target", owner=None) for i in range(130)]


def names(page: str) -> list[str]:
    return re.findall(r"分页\d{3}", page)


def test_a_customer_list_pages_by_number_size_and_jump(as_user, many):
    tm = as_user("tm")
    url = "/customers/target?tab=shared&sort=name"
    first = tm.get(url).get_data(as_text=True)
    assert len(set(names(first))) == 50 and "第 1–50 条" in first
    assert 'data-page="2"' in first and 'data-page="3"' in first and 'name="per"' in first
    assert re.search(r'<form[^>]*data-jump', first) and 'max="3"' in first
    link = re.search(r'href="([^"]*)" data-page="3"', first).group(1).replace("&amp;", "&")
    args = parse_qs(urlsplit(link).query)
    assert args["page"] == ["3"] and args["tab"] == ["shared"] and args["sort"] == ["name"]
    third = tm.get(link).get_data(as_text=True)
    assert sorted(set(names(third))) == ["分页%03d" % i for i in range(100, 130)]
    per = tm.get(url + "&per=100&page=2").get_data(as_text=True)
    assert len(set(names(per))) == 30 and "第 101–130 条" in per
    assert '<option value="100" selected>' in per
    sort_link = re.search(r'href="([^"]*sort=city[^"]*)"', per)
    assert sort_link is None or "per=100" in sort_link.group(1)
    odd = tm.get(url + "&per=7").get_data(as_text=True)          # not a choice: the default
    assert len(set(names(odd))) == 50


def test_every_list_page_has_the_pager(as_user, many):
    tm = as_user("mgr")
    for url in ("/customers/target?tab=shared", "/records", "/opportunities", "/orders",
                "/campaigns/dnc", "/find?field=name&op=contains&value=分页"):
        page = tm.get(url).get_data(as_text=True)
        assert "data-pager" in page and 'name="per"' in page, url
