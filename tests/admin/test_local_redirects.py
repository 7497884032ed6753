"""Redirects after a form go to pages of this site only (admin.context.local_path)."""
from __future__ import annotations

import pytest

from admin.context import local_path

from tests.web_helpers import post


@pytest.mark.parametrize("target, expected", [
    ("/customers/stage/target", "/customers/stage/target"),
    ("/customers/7?tab=records#r3", "/customers/7?tab=records#r3"),
    ("http://localhost/customers/7", "/customers/7"),
    ("//evil.example/x", None),
    ("/\\evil.example/x", None),
    ("/\\/evil.example", None),
    ("https://evil.example/", None),
    ("http://localhost.evil.example/", None),
    ("javascript:alert(1)", None),
    ("customers/7", None),
    ("/customers\r\nLocation: //evil.example", None),
    ("/cus\ttomers", None),
    ("", None),
    (None, None),
])
def test_only_paths_of_this_site_pass(app, target, expected):
    with app.test_request_context("/", base_url="http://localhost/"):
        assert local_path(target) == expected


def test_a_form_cannot_send_the_browser_to_another_site(as_user, session, make_customer):
    c = make_customer("杭州西湖茶业有限公司", owner="tm")
    session.commit()
    client = as_user("tm")
    for hostile in ("/\\evil.example/", "//evil.example/", "https://evil.example/"):
        # no customer ticked: back() redirects to `next`, or home
        response = post(client, "/customers/target/batch", data=dict(action="release",
                                                                    next=hostile))
        assert response.status_code == 302
        assert "evil.example" not in response.headers["Location"]
        # the batch result page links back to `next`, or to the list
        response = post(client, "/customers/target/batch", data=dict(
            action="release", ids=[str(c.id)], next=hostile))
        assert response.status_code == 200
        assert "evil.example" not in response.get_data(as_text=True)
    response = post(client, "/customers/target/batch", data=dict(action="release",
                                                                next="/customers/target"))
    assert response.headers["Location"].endswith("/customers/target")
