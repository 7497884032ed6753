"""号码隐藏 (issue 13): under a masking role the full number never reaches the browser — no page,
export, printed sheet, JSON answer or screen pop holds its digits in any format — while the
masked form (138****8000) is shown; an unmasked role still sees the numbers; a masking user's
edit keeps the stored number."""
from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile

import pytest
from flask import url_for
from sqlalchemy import select

from models.crm.contact_records import add_contact_record
from models.crm.contacts import add_contact
from models.crm.recordings import create_recording
from models.crm.sales import create_opportunity, create_order
from models.dialer import campaigns as rules
from models.dialer.agent_states import take_ready_agent
from models.dialer.dnc import add_number
from models.org.users import update_role
from models.schema import Contact, Customer, DoNotCall, Role
from models.telephony import calls
from models.telephony.ivr import log_ivr_call, request_callback
from models.telephony.popups import create_pop_event

from tests.call_helpers import abandoned_call, answered_call
from tests.call_helpers import record as record_call
from tests.models.dialer.test_agent_states import make_attempt
from tests.web_helpers import committing, post

# number as stored -> its masked form. Each has a run of digits found nowhere else.
NUMBERS = {
    "13812348000": "138****8000",        # the customer's mobile
    "021-62345678": "021****5678",       # its phone (a landline with its area code)
    "0755-26473918": "075****3918",      # its fax
    "13987654321": "139****4321",        # a contact's mobile
    "010-85296374": "010****6374",       # a contact's phone
    "15066663333": "150****3333",        # a caller who matched no customer
    "15077774444": "150****4444",        # a number on the do-not-call list
    "15099992222": "150****2222",        # an IVR caller who asked for a callback
}
SECRET_DIGITS = ["13812348000", "62345678", "26473918", "13987654321", "85296374",
                 "15066663333", "15077774444", "15099992222"]


TYPED = "138 1234 8000"   # a number a masking user knows and searches by


def _pattern(digits: str) -> re.Pattern:
    """The digits in any format: with spaces, dashes, dots or brackets between them."""
    return re.compile(r"[\s\-–.()/]{0,3}".join(digits))


PATTERNS = {d: _pattern(d) for d in SECRET_DIGITS}


def leaked(text: str) -> list[str]:
    return [d for d, p in PATTERNS.items() if p.search(text)]


def readable(response, tmp_path) -> str:
    """What the browser gets, as text: a PDF's text, a workbook's XML, else the body."""
    body = response.get_data()
    if body.startswith(b"%PDF"):
        path = tmp_path / "doc.pdf"
        path.write_bytes(body)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                              capture_output=True, text=True).stdout
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return body.decode("utf-8", "replace")


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def set_masking(session, code, on=True):
    role = session.query(Role).filter_by(code=code).one()
    update_role(session, code, daily_claim_quota=role.daily_claim_quota,
                **{f: getattr(role, f) for f in ("can_edit_shared", "can_delete", "can_export",
                                                  "can_hear_others_recordings", "can_manage")},
                mask_numbers=on)
    session.commit()


@pytest.fixture
def world(session, users, clock, make_customer):
    """A customer of tm and rep with every kind of number, its contact, calls, a recording, an
    order and opportunity, a campaign call, an IVR callback, a pop, a do-not-call number."""
    tm = users["tm"]
    tm.extension = "8001"
    c = make_customer("掩码测试公司", stage="target", owner=["tm", "rep"], mobile="13812348000",
                      phone="021-62345678", fax="0755-26473918", contact_person="周先生")
    contact = add_contact(session, tm, c.id, dict(name="吴女士", mobile="13987654321",
                                                  phone="010-85296374"), clock=clock)
    answered = answered_call(session, clock, "+8613812348000", "8001")   # tm's wrap-up is pending
    record_call(session, clock, answered, tm)
    abandoned_call(session, clock, "13812348000")
    abandoned_call(session, clock, "15066663333")
    rec = create_recording(session, uniqueid="1700.9", file_key="k2.mp3", fmt="mp3",
                           duration_ms=1000, size_bytes=10, caller_number="13812348000",
                           customer_id=c.id, user_id=tm.id, clock=clock)
    record = add_contact_record(session, tm, c.id, content="跟进", clock=clock)
    opp = create_opportunity(session, tm, c.id, "掩码商机", amount=100, clock=clock)
    order = create_order(session, tm, c.id, [dict(product_name="掩码产品", quantity=1,
                                                  unit_price=100)], clock=clock)
    callback = request_callback(session, "15099992222", clock=clock)
    log_ivr_call(session, uniqueid="1700.10", flow="main", outcome="CALLBACK",
                 started_at=clock.now(), duration_ms=5000, caller_id="15099992222",
                 callback=callback)
    add_number(session, users["mgr"], "15077774444", clock=clock)
    campaign = rules.create_campaign(session, users["mgr"], clock=clock, name="掩码外呼",
                                     mode="progressive", agent_ids=[tm.id])
    campaign.status = "running"
    session.commit()
    pop = create_pop_event(session, tm, "13812348000", clock=clock)
    unknown_pop = create_pop_event(session, tm, "15066663333", clock=clock)
    session.commit()
    session.refresh(c)
    return dict(stage=c.stage, customer_id=c.id, call_id=calls.find_call(session, answered).id,
                contact_id=contact.id, recording_id=rec.id, record_id=record.id,
                opportunity_id=opp.id, order_id=order.id,
                campaign_id=campaign.id, event_id=pop.id, unknown_pop_id=unknown_pop.id,
                campaign=campaign)


def routes(app, ids):
    """Every GET URL of the app, its parameters filled with the world's ids, plus the exports,
    prints and searches by number."""
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in (
                    "static", "bootstrap.static", "events.stream", "campaigns.dialer_stream",
                    "campaigns.live_stream", "recordings.audio", "auth.login"):
                continue
            values = {}
            for arg in rule.arguments:
                values[arg] = (ids.get(arg) or ("target" if arg == "stage" else "telemarketer"
                               if arg == "code" else ids["customer_id"] if "id" in arg else "x"))
            out.append(url_for(rule.endpoint, **values))
        out += [url_for("customers.stage_list", stage=ids["stage"], export=fmt) for fmt in ("xlsx", "csv")]
        out += [url_for("customers.stage_list", stage=ids["stage"], print=1),
                url_for("customers.quick_search", q=TYPED),
                url_for("customers.quick_search", q="掩码"),
                url_for("customers.duplicates", phone="138-1234-8000", name="掩码测试公司"),
                url_for("popups.show", event_id=ids["unknown_pop_id"]),
                url_for("popups.show", event_id=ids["event_id"], fragment=1),
                url_for("customers.edit_contact_view", customer_id=ids["customer_id"],
                        contact_id=ids["contact_id"])]
        for value in (TYPED, "掩码"):
            query = dict(mode="simple", field="name" if value == "掩码" else "mobile",
                         op="contains", value=value)
            out += [url_for("finder.search", **query),
                    url_for("finder.search", print=1, **query)]
            out += [url_for("finder.search", export=fmt, **query) for fmt in ("xlsx", "csv")]
    return out


def walk(client, urls, tmp_path) -> tuple[list, str]:
    leaks, seen = [], []
    for url in urls:
        response = client.get(url)
        text = readable(response, tmp_path).replace(TYPED, "")   # the search box shows it
        if leaked(text):
            leaks.append((url, response.status_code, leaked(text)))
        seen.append(text)
    return leaks, "\n".join(seen)


def test_no_page_export_or_answer_holds_a_number_of_a_masking_role(
        app, as_user, session, users, world, tmp_path):
    for code in ("telemarketer", "sales_rep", "admin"):
        set_masking(session, code)
    urls = routes(app, world)
    assert len(urls) > 80
    for name in ("tm", "rep", "admin"):
        leaks, everything = walk(as_user(name), urls, tmp_path)
        assert not leaks, (name, "\n".join(map(str, leaks)))
        for masked in ("138****8000", "021****5678", "139****4321"):
            assert masked in everything, (name, masked)
    # The exports hold the masked numbers (a role that may export).
    rep = as_user("rep")
    for url in urls:
        if "export=" in url:
            response = rep.get(url)
            assert response.status_code == 200, url
            assert "021****5678" in readable(response, tmp_path), url
    # The manager's role does not mask: the same pages show the numbers.
    _, everything = walk(as_user("mgr"), urls, tmp_path)
    assert "13812348000" in everything and "021-62345678" in everything
    assert "13987654321" in everything and "138****8000" not in everything


def test_masked_where_it_counts(as_user, session, users, world):
    """The masked form is where the number was: customer page, tracking screen, lists, search."""
    set_masking(session, "telemarketer")
    tm = as_user("tm")
    cid = world["customer_id"]
    for url in (f"/customers/{cid}", f"/customers/{cid}/track"):
        page = tm.get(url).get_data(as_text=True)
        for masked in ("138****8000", "021****5678", "075****3918", "139****4321", "010****6374"):
            assert masked in page, (url, masked)
        assert not leaked(page)
    page = tm.get(f"/customers/{world['stage']}").get_data(as_text=True)
    assert "掩码测试公司" in page and "021****5678" in page and not leaked(page)
    # Search by a full number the user knows: the customer is found, its numbers masked.
    for q in ("13812348000", "+86 138 1234 8000", "021-62345678"):
        found = tm.get("/search", query_string=dict(q=q)).get_data(as_text=True)
        assert "掩码测试公司" in found and "138****8000" in found, q
        assert not leaked(found.replace(q, "")), q
    found = tm.get("/find", query_string=dict(mode="simple", field="mobile", op="contains",
                                              value="13812348000")).get_data(as_text=True)
    assert "掩码测试公司" in found and "021****5678" in found    # the finder lists the phone
    assert not leaked(found.replace("13812348000", ""))
    # The unanswered calls and the call on the customer page.
    page = tm.get("/calls/unanswered").get_data(as_text=True)
    assert "138****8000" in page and not leaked(page)
    # The recording's caller.
    page = tm.get(f"/recordings/{world['recording_id']}").get_data(as_text=True)
    assert "138****8000" in page and not leaked(page)


def test_the_screen_pop_of_a_masking_agent(app, as_user, session, users, world, clock):
    set_masking(session, "telemarketer")
    tm = as_user("tm")
    app.config.update(SSE_MAX_SECONDS=0.3, SSE_POLL_SECONDS=0.05)
    stream = tm.get("/events/stream", query_string=dict(after=0)).get_data(as_text=True)
    lines = stream.splitlines()
    pops = [json.loads(line[6:]) for before, line in zip(lines, lines[1:])
            if before == "event: screen_pop" and line.startswith("data: ")]
    assert len(pops) == 2 and not leaked(stream)
    known = pops[0]
    assert known["status"] == "known" and known["call"]["number"] == "138****8000"
    card = known["customers"][0]
    assert (card["mobile"], card["phone"]) == ("138****8000", "021****5678")
    assert card["contacts"][0]["mobile"] == "139****4321"
    assert pops[1]["status"] == "unknown" and pops[1]["quick_create"]["phone"] == "150****3333"
    for event_id in (world["event_id"], world["unknown_pop_id"]):
        panel = tm.get(f"/pops/{event_id}", headers={"X-Requested-With": "fetch"})
        assert panel.status_code == 200 and not leaked(panel.get_data(as_text=True))
    # Quick-create from the unknown caller's pop: the form came with the masked number, the
    # customer gets the caller's real number.
    response = post(tm, f"/pops/{world['unknown_pop_id']}/customer",
                    dict(name="来电新客户", phone="150****3333", stage="target"))
    assert response.status_code == 302
    session.expire_all()
    new = session.query(Customer).filter_by(name="来电新客户").one()
    assert new.phone == "15066663333"
    # An unmasked agent's pop carries the number.
    set_masking(session, "telemarketer", on=False)
    stream = tm.get("/events/stream", query_string=dict(after=0)).get_data(as_text=True)
    assert "13812348000" in stream


def test_the_dialer_panel_of_a_masking_agent(as_user, session, users, world, clock):
    set_masking(session, "telemarketer")
    campaign = world["campaign"]
    customer = session.get(Customer, world["customer_id"])
    tm = as_user("tm")
    post(tm, "/dialer/state", {"state": "ready", "campaign_id": str(campaign.id)})
    attempt = make_attempt(session, clock, campaign, customer=customer, number="+8613812348000")
    take_ready_agent(session, attempt, clock=clock)
    session.commit()
    for url in ("/dialer/panel", "/dialer", f"/campaigns/{campaign.id}",
                f"/campaigns/{campaign.id}/report"):
        page = tm.get(url).get_data(as_text=True)
        assert not leaked(page), url
    assert "+86 138****8000" in tm.get("/dialer/panel").get_data(as_text=True)


def test_a_masking_user_edits_a_customer_and_keeps_its_numbers(as_user, session, users, world,
                                                                make_customer):
    set_masking(session, "telemarketer")
    tm = as_user("tm")
    cid = make_customer("掩码编辑公司", stage="target", owner="tm", mobile="13812348000",
                        phone="021-62345678", fax="0755-26473918", contact_person="周先生").id
    page = tm.get(f"/customers/{cid}").get_data(as_text=True)
    assert 'value="138****8000"' in page and not leaked(page)
    form = {f: v for f, v in re.findall(r'<input class="form-control[^"]*" name="(\w+)" id="f-\w+" '
                                        r'value="([^"]*)"', page)}
    assert form["mobile"] == "138****8000" and form["phone"] == "021****5678"
    form.update(contact_person="周总")
    response = post(tm, f"/customers/{cid}", form)
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
    session.expire_all()
    c = session.get(Customer, cid)
    assert (c.contact_person, c.mobile, c.phone, c.fax) == (
        "周总", "13812348000", "021-62345678", "0755-26473918")
    assert c.mobile_e164 == "+8613812348000"
    # A new number typed in is saved.
    form.update(mobile="13900001111")
    post(tm, f"/customers/{cid}", form)
    session.expire_all()
    assert session.get(Customer, cid).mobile == "13900001111"
    # The contact's form too.
    cid = world["customer_id"]
    edit = tm.get(f"/customers/{cid}/contacts/{world['contact_id']}/edit").get_data(as_text=True)
    assert 'value="139****4321"' in edit and not leaked(edit)
    post(tm, f"/customers/{cid}/contacts/{world['contact_id']}/edit",
         dict(name="吴经理", mobile="139****4321", phone="010****6374"))
    session.expire_all()
    contact = session.get(Contact, world["contact_id"])
    assert (contact.name, contact.mobile, contact.phone) == ("吴经理", "13987654321", "010-85296374")


def test_the_roles_page_sets_masking(as_user, session, users):
    admin = as_user("admin")
    page = admin.get("/manage/roles").get_data(as_text=True)
    assert "号码隐藏" in page and 'name="mask_numbers"' in page
    post(admin, "/manage/roles/telemarketer", dict(daily_claim_quota="20", mask_numbers="1"))
    session.expire_all()
    assert users["tm"].role.mask_numbers is True
    assert users["rep"].role.mask_numbers is False


def test_the_preview_card_of_a_masking_agent(as_user, session, users, world, clock):
    set_masking(session, "telemarketer")
    campaign = rules.create_campaign(session, users["mgr"], clock=clock, name="掩码预览",
                                     mode="preview", agent_ids=[users["tm"].id])
    rules.change_status(session, users["mgr"], campaign.id, "start", clock=clock)
    session.commit()
    tm = as_user("tm")
    post(tm, "/dialer/state", {"state": "ready", "campaign_id": str(campaign.id)})
    assert post(tm, "/dialer/next").status_code == 302
    panel = tm.get("/dialer/panel").get_data(as_text=True)
    assert 'id="preview-card"' in panel and "掩码测试公司" in panel
    assert "+86 138****8000" in panel and "139****4321" in panel
    assert not leaked(panel)


def test_the_admin_pages_of_a_masking_admin(as_user, session, users, world, clock):
    set_masking(session, "admin")
    admin = as_user("admin")
    page = admin.get("/manage/ivr-calls").get_data(as_text=True)
    assert page.count("150****2222") == 2 and not leaked(page)     # the caller, the callback
    # The do-not-call list: masked; its remove button names the row, not the number.
    page = admin.get("/campaigns/dnc").get_data(as_text=True)
    assert "150****4444" in page and not leaked(page)
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    assert post(admin, "/campaigns/dnc/remove", {"key": key[:5] + "0" * 32}).status_code == 302
    assert session.scalar(select(DoNotCall).where(DoNotCall.number == "+8615077774444"))
    done = post(admin, "/campaigns/dnc/remove", {"key": key}, follow_redirects=True)
    assert "150****4444" in done.get_data(as_text=True) and not leaked(done.get_data(as_text=True))
    assert session.scalar(select(DoNotCall).where(DoNotCall.number == "+8615077774444")) is None
    set_masking(session, "admin", on=False)
    add_number(session, users["mgr"], "15077774444", clock=clock)
    session.commit()
    page = admin.get("/campaigns/dnc").get_data(as_text=True)
    assert "+8615077774444" in page and "/campaigns/dnc/remove" in page
