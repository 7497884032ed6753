"""Login, language, CSRF, the home grid and the event stream."""
import datetime as dt

from models.crm.contact_records import add_contact_record, emit_due_reminders

from tests.web_helpers import login, post


def test_login_required_and_wrong_password(app):
    client = app.test_client()
    assert client.get("/").status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")
    bad = login(client, "tm", "wrong")
    assert bad.status_code == 401 and "用户名或密码错误" in bad.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(app):
    client = app.test_client()
    response = client.post("/login", data=dict(username="tm", password="pw-tm"))
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_home_grid_in_chinese_then_english(as_user, session, users, clock, make_customer):
    c = make_customer(stage="target", owner="tm")
    add_contact_record(session, users["tm"], c.id, content="约明天",
                       next_callback_at=clock.now() + dt.timedelta(hours=2), clock=clock)
    session.commit()
    client = as_user("tm")
    page = client.get("/").get_data(as_text=True)
    assert "销售主线" in page and "今天要回访" in page and "目标客户" in page
    assert 'class="text-end cell-hot" data-column="callback_now"' in page
    post(client, "/language", {"lang": "en"})
    page = client.get("/?period=week").get_data(as_text=True)
    assert "Sales main line" in page and "Call back this week" in page
    # the choice is kept on the user
    session.expire_all()
    assert session.get(type(users["tm"]), users["tm"].id).language == "en"


def test_logout_needs_post_with_token(as_user):
    client = as_user("tm")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token
    assert post(client, "/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_security_headers_and_escaping(as_user, session, users):
    users["tm"].full_name = "<script>alert(1)</script>"
    session.commit()
    page = as_user("tm").get("/")
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "<script>alert(1)</script>" not in page.get_data(as_text=True)
    assert "&lt;script&gt;" in page.get_data(as_text=True)


def test_reminder_reaches_only_its_agent_stream(as_user, session, users, clock, make_customer):
    c = make_customer(stage="potential", owner="tm")
    add_contact_record(session, users["tm"], c.id, content="回电", progress="报价后跟进",
                       next_callback_at=clock.now(), remind=True, clock=clock)
    session.commit()
    tm, tm2 = as_user("tm"), as_user("tm2")
    assert emit_due_reminders(session, clock=clock) == 1
    session.commit()
    body = tm.get("/events/stream?after=0").get_data(as_text=True)
    assert "event: reminder" in body and c.name in body and "报价后跟进" in body
    assert "event: reminder" not in tm2.get("/events/stream?after=0").get_data(as_text=True)
    assert app_unauthenticated_stream_refused(tm.application)


def app_unauthenticated_stream_refused(app):
    response = app.test_client().get("/events/stream", headers={"Accept": "application/json"})
    return response.status_code == 401


def test_the_favicon_is_served_without_login_and_linked_from_every_page(app, as_user):
    client = app.test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.data[:4] == b"\x00\x00\x01\x00"   # an ICO file's header
    for page in (client.get("/login"), as_user("tm").get("/")):
        assert '<link rel="icon" href="/static/favicon.ico">' in page.get_data(as_text=True)
