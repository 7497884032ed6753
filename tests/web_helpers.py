"""Helpers for web tests: log in through the real form, post with the page's CSRF token."""
from __future__ import annotations

import re

TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path)
    match = TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username: str, password: str):
    token = csrf_token(client)
    return client.post("/login", data=dict(username=username, password=password,
                                           csrf_token=token))


def post(client, path: str, data: dict | None = None, **kw):
    """POST like the browser does: with the token of the session's current page."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client, "/"))
    return client.post(path, data=data, **kw)


def committing(as_user, session):
    """`as_user` whose client ends the test session's read before each request (on SQLite a
    transaction holds the write lock the app needs)."""
    def make(name):
        session.commit()
        client = as_user(name)
        open_ = client.open

        def open_after_commit(*args, **kwargs):
            session.commit()
            return open_(*args, **kwargs)
        client.open = open_after_commit
        return client
    return make
