"""Every route of the app, walked by role: anonymous users are sent to log in, every POST
needs the CSRF token, admin pages are admin-only, and a telemarketer never gets to see a
colleague's personal customer through any URL."""
import re

import pytest
from flask import url_for

from models.crm.contact_records import add_contact_record
from models.crm.sales import add_order_follow_up, create_opportunity, create_order

from tests.call_helpers import abandoned_call, answered_call
from tests.call_helpers import record as record_call
from tests.web_helpers import login

SECRET = "保密客户甲乙丙有限公司"
PUBLIC = {"auth.login", "auth.set_language", "static", "bootstrap.static", "home.favicon"}
OPEN_TO_ALL_IN_MANAGE = {"manage.my_scripts", "manage.my_scripts_new", "manage.my_scripts_edit",
                         "manage.my_scripts_delete", "manage.document_download"}


@pytest.fixture
def secret(session, users, clock, make_customer):
    """A personal customer of tm2 with a record, an opportunity, an order, a recorded call and
    an unanswered one."""
    c = make_customer(SECRET, stage="closed", owner="tm2", phone="021-62345678")
    tm2 = users["tm2"]
    tm2.extension = "8002"
    record_call(session, clock, answered_call(session, clock, "021-62345678", "8002"), tm2)
    abandoned_call(session, clock, "021-62345678")
    record = add_contact_record(session, tm2, c.id, content="保密记录", clock=clock)
    opp = create_opportunity(session, tm2, c.id, "保密商机", amount=100, clock=clock)
    order = create_order(session, tm2, c.id, [dict(product_name="保密产品", quantity=1,
                                                   unit_price=100)], clock=clock)
    add_order_follow_up(session, tm2, order.id, "保密跟单", clock=clock)
    session.commit()
    return dict(customer_id=c.id, opportunity_id=opp.id, order_id=order.id,
                record_id=record.id, rid=record.id, id=c.id)


def urls(app, ids):
    """(endpoint, methods, url) for every rule, its parameters filled with the secret ids."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "bootstrap.static"):
            continue
        values = {}
        for arg in rule.arguments:
            if arg in ids:
                values[arg] = ids[arg]
            elif arg == "stage":
                values[arg] = "closed"
            elif arg in ("code",):
                values[arg] = "telemarketer"
            elif "id" in arg:
                values[arg] = ids["customer_id"]
            else:
                values[arg] = "x"
        with app.test_request_context():
            out.append((rule.endpoint, rule.methods, url_for(rule.endpoint, **values)))
    return out


def test_matrix(app, secret, users):
    routes = urls(app, secret)
    assert len(routes) > 60
    anonymous = app.test_client()
    tm = app.test_client()
    assert login(tm, "tm", "pw-tm").status_code == 302
    roles = {}
    for name, password in (("rep", "pw-rep"), ("mgr", "pw-mgr")):
        roles[name] = app.test_client()
        assert login(roles[name], name, password).status_code == 302
    leaks, open_doors, no_csrf, admin_leaks = [], [], [], []
    for endpoint, methods, url in routes:
        if "GET" in methods and endpoint not in PUBLIC:
            r = anonymous.get(url)
            if r.status_code not in (302, 401) or (r.status_code == 302 and "/login" not in r.location):
                open_doors.append((url, r.status_code))
        if "POST" in methods:
            r = tm.post(url, data={})
            if r.status_code != 400:
                no_csrf.append((url, r.status_code))
        if "GET" in methods and endpoint != "events.stream":
            r = tm.get(url)
            body = r.get_data()
            if SECRET.encode() in body or (r.status_code == 200 and re.search(
                    "保密(记录|商机|产品|跟单)".encode(), body)):
                leaks.append((url, r.status_code))
            if endpoint.startswith("manage.") and endpoint not in OPEN_TO_ALL_IN_MANAGE:
                for client in (tm, *roles.values()):
                    status = client.get(url).status_code
                    if status != 403:
                        admin_leaks.append((url, status))
    assert not open_doors, open_doors
    assert not no_csrf, no_csrf
    assert not leaks, leaks
    assert not admin_leaks, admin_leaks


def test_the_owner_and_a_manager_do_see_it(app, secret, as_user):
    for name in ("tm2", "mgr"):
        page = as_user(name).get(f"/customers/{secret['customer_id']}")
        body = page.get_data(as_text=True)
        assert page.status_code == 200 and SECRET in body
        assert body.count("<tr data-call=") == 2 and "<audio" in body   # its calls, playable
