"""Which way a screen pop's call goes (T3, T4): an inbound ring is titled "来电", an outbound
call (the dialer's, or a ring the AMI listener saw from an outbound context) "去电", a campaign
call also names its campaign; zh_CN and en. And the customer card's contacts and contact
records, one template for the pop panel and the preview card."""
from __future__ import annotations

import html as htmllib
import re

import pytest
from babel.messages.pofile import read_po

from models.crm.contact_records import add_contact_record
from models.crm.contacts import add_contact
from models.dialer import campaigns as rules
from models.dialer.agent_states import current, set_state, take_ready_agent
from models.schema import Event
from models.telephony.popups import build_pop, create_pop_event, refresh_pop

from tests.models.dialer.test_agent_states import make_attempt, make_campaign
from tests.repo_paths import ROOT
from tests.web_helpers import committing, post


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def fragment(client, event_id) -> str:
    response = client.get(f"/pops/{event_id}", headers={"X-Requested-With": "fetch"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def plain(markup: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def title_of(markup: str) -> str:
    """The pop's title without its number."""
    found = re.search(r'<strong class="me-auto pop-title">(.*?)<span class="pop-number"', markup, re.S)
    assert found, markup[:400]
    return plain(found.group(1))


def badge_of(markup: str) -> str | None:
    found = re.search(r'<small class="[^"]*pop-campaign">(.*?)</small>', markup, re.S)
    return plain(found.group(1)) if found else None


def direction_of(markup: str) -> str:
    return re.search(r'class="card [^"]*pop-card"[^>]*data-direction="(\w+)"', markup).group(1)


def campaign_pop(session, users, clock, make_customer, *, name="双十一回访"):
    """A campaign call the dialer put through to tm, with two customers on the number: a shared
    one made first and the campaign's own (it must come first in the pop)."""
    first = make_customer("杭州共享客户公司", owner=None, phone="13912345678")
    own = make_customer("宁波活动客户公司", owner="tm", phone="13912345678")
    campaign = make_campaign(session, clock, [users["tm"]], name=name)
    set_state(session, users["tm"], "ready", campaign_id=campaign.id, clock=clock)
    session.commit()
    attempt = make_attempt(session, clock, campaign, customer=own, number="+8613912345678")
    assert take_ready_agent(session, attempt, clock=clock).id == users["tm"].id
    session.commit()
    event = session.query(Event).filter_by(user_id=users["tm"].id, kind="screen_pop").one()
    return event, campaign, first, own


# --- the payload ------------------------------------------------------------------------------
def test_direction_defaults_to_inbound_and_only_known_values_pass(session, users, clock):
    tm = users["tm"]
    assert build_pop(session, tm, "13900001111", clock=clock)["call"]["direction"] == "inbound"
    for given, kept in (("outbound", "outbound"), ("inbound", "inbound"), (None, "inbound"),
                        ("<script>", "inbound"), ("OUTBOUND", "inbound")):
        pop = build_pop(session, tm, "13900001111", call=dict(direction=given), clock=clock)
        assert pop["call"]["direction"] == kept, given


def test_refresh_keeps_the_call_and_the_campaign_with_its_customer_first(
        session, users, clock, make_customer):
    event, campaign, first, own = campaign_pop(session, users, clock, make_customer)
    stored = event.payload
    assert [c["id"] for c in build_pop(session, users["tm"], "+8613912345678", clock=clock)
            ["customers"]] == [first.id, own.id]  # without the campaign: by id
    clock.advance(minutes=5)
    fresh = refresh_pop(session, users["tm"], stored, clock=clock)
    assert [c["id"] for c in fresh["customers"]] == [own.id, first.id]
    assert fresh["campaign"] == dict(id=campaign.id, name="双十一回访",
                                     attempt_id=stored["campaign"]["attempt_id"],
                                     customer_id=own.id)
    assert fresh["call"]["direction"] == "outbound"
    assert fresh["call"]["rung_at"] == stored["call"]["rung_at"] != clock.now().isoformat()
    inbound = create_pop_event(session, users["tm"], "13912345678", clock=clock).payload
    assert "campaign" not in refresh_pop(session, users["tm"], inbound, clock=clock)


# --- the panel --------------------------------------------------------------------------------
def test_campaign_pop_is_an_outbound_call_naming_its_campaign(
        as_user, session, users, clock, make_customer):
    event, campaign, first, own = campaign_pop(session, users, clock, make_customer)
    client = as_user("tm")
    markup = fragment(client, event.id)
    assert title_of(markup) == "去电" and "来电" not in title_of(markup)
    assert badge_of(markup) == "外呼活动：双十一回访"
    assert direction_of(markup) == "outbound"
    order = [int(i) for i in re.findall(r'class="pop-customer[^"]*" data-customer-id="(\d+)"', markup)]
    assert order == [own.id, first.id]
    page = client.get(f"/pops/{event.id}").get_data(as_text=True)
    assert "<title>去电 +8613912345678 · dialfunnel</title>" in page
    assert badge_of(page) == "外呼活动：双十一回访"
    # The page's pop script carries both titles for its fallback.
    assert 'data-title="来电"' in page and 'data-outbound-title="去电"' in page


def test_inbound_and_other_outbound_pops(as_user, session, users, clock, make_customer):
    make_customer("苏州来电客户公司", owner="tm", phone="0512-62881234")
    inbound = create_pop_event(session, users["tm"], "051262881234", clock=clock,
                               call=dict(queue="sales", source="AgentCalled"))
    # the AMI listener's ring from an outbound context: outbound, no campaign
    placed = create_pop_event(session, users["tm"], "051262881234", clock=clock,
                              call=dict(direction="outbound", source="DialBegin"))
    session.commit()
    client = as_user("tm")
    markup = fragment(client, inbound.id)
    assert (title_of(markup), badge_of(markup), direction_of(markup)) == ("来电", None, "inbound")
    assert "<title>来电 051262881234 · dialfunnel</title>" in client.get(f"/pops/{inbound.id}").get_data(as_text=True)
    markup = fragment(client, placed.id)
    assert (title_of(markup), badge_of(markup), direction_of(markup)) == ("去电", None, "outbound")


def test_titles_in_english(as_user, session, users, clock, make_customer):
    users["tm"].language = "en"
    session.commit()
    event, campaign, first, own = campaign_pop(session, users, clock, make_customer,
                                               name="Spring follow-up")
    inbound = create_pop_event(session, users["tm"], "13912345678", clock=clock)
    session.commit()
    client = as_user("tm")
    markup = fragment(client, event.id)
    assert (title_of(markup), badge_of(markup)) == ("Outbound call", "Campaign: Spring follow-up")
    assert title_of(fragment(client, inbound.id)) == "Incoming call"
    page = client.get("/").get_data(as_text=True)
    assert 'data-title="Incoming call"' in page and 'data-outbound-title="Outbound call"' in page


def test_every_pop_text_has_a_chinese_translation():
    pattern = re.compile(r"""\b_l?\(\s*(['"])((?:\\.|(?!\1).)+)\1""")
    sources = [ROOT / "admin/popups/views.py", *ROOT.glob("admin/popups/templates/popups/*.html"),
               ROOT / "admin/campaigns/templates/campaigns/_preview_card.html"]
    wanted = {m.group(2).replace("\\'", "'") for path in sources
              for m in pattern.finditer(path.read_text())}
    assert {"Incoming call", "Outbound call", "Campaign: %(name)s", "Contacts"} <= wanted
    translated = {}
    for po in (ROOT / "admin/i18n").glob("*.po"):
        with po.open("rb") as fh:
            translated.update({m.id: m.string for m in read_po(fh) if m.id and m.string})
    assert sorted(wanted - set(translated)) == []
    assert (translated["Incoming call"], translated["Outbound call"]) == ("来电", "去电")


# --- one card block for the pop and the preview card ----------------------------------------
def lists(markup: str) -> dict[str, tuple[str, str]]:
    """The contacts and records lists: {kind: (the <ul> tag, its items as text)}."""
    out = {}
    for kind in ("contacts", "records"):
        found = re.search(r'(<ul class="[^"]*pop-%s[^"]*"[^>]*>)(.*?)</ul>' % kind, markup, re.S)
        assert found, kind
        out[kind] = (found.group(1), [plain(li) for li in re.findall(r"<li.*?</li>", found.group(2), re.S)])
    return out


def test_preview_card_and_pop_show_the_same_contacts_and_records(
        as_user, session, users, clock, make_customer):
    tm = users["tm"]
    tm.extension = "8001"
    customer = make_customer("宁波港务预览公司", mobile="13955557777", contact_person="钱女士")
    add_contact(session, users["admin"], customer.id,
                dict(name="孙工", title="采购主管", phone="0574-87654321", mobile="13811112222"))
    add_contact_record(session, tm, customer.id, content="第一次联系：发了资料", progress="初次接触",
                       clock=clock)
    clock.advance(hours=1)
    add_contact_record(session, tm, customer.id, content="约了下周演示", progress="演示", clock=clock)
    campaign = rules.create_campaign(session, users["mgr"], clock=clock, name="预览外呼",
                                     mode="preview", agent_ids=[tm.id])
    rules.change_status(session, users["mgr"], campaign.id, "start", clock=clock)
    session.commit()
    client = as_user("tm")
    post(client, "/dialer/state", {"state": "ready", "campaign_id": str(campaign.id)})
    assert post(client, "/dialer/next").status_code == 302
    assert current(session, tm.id).reason == "preview"
    panel = client.get("/dialer/panel").get_data(as_text=True)
    assert 'id="preview-card"' in panel
    event = create_pop_event(session, tm, "13955557777", clock=clock)
    session.commit()
    pop = fragment(client, event.id)
    in_preview, in_pop = lists(panel), lists(pop)
    assert in_preview["contacts"][1] == in_pop["contacts"][1] == [
        "孙工 · 采购主管 · 0574-87654321 · 13811112222"]
    assert in_preview["records"][1] == in_pop["records"][1]
    assert [item.split(" 李红光 ")[1] for item in in_pop["records"][1]] == [
        "演示 约了下周演示", "初次接触 第一次联系：发了资料"]
    # each keeps its own look: the preview's small print and the id its script and tests use
    assert in_preview["records"][0] == '<ul class="list-unstyled mb-0 small pop-records" id="preview-records">'
    assert in_preview["contacts"][0] == '<ul class="list-unstyled mb-1 pop-contacts small">'
    assert in_pop["records"][0] == '<ul class="list-unstyled mb-1 pop-records">'
    assert in_pop["contacts"][0] == '<ul class="list-unstyled mb-1 pop-contacts">'
    for markup in (panel, pop):  # the block is there once, not repeated
        assert markup.count(">联系人</h3>") == 1 and markup.count(">最近联系记录</h3>") == 1


def test_a_card_without_records_says_so_in_both(as_user, session, users, clock, make_customer):
    tm = users["tm"]
    tm.extension = "8001"
    make_customer("无记录客户公司", mobile="13955558888")
    campaign = rules.create_campaign(session, users["mgr"], clock=clock, name="预览二",
                                     mode="preview", agent_ids=[tm.id])
    rules.change_status(session, users["mgr"], campaign.id, "start", clock=clock)
    session.commit()
    client = as_user("tm")
    post(client, "/dialer/state", {"state": "ready", "campaign_id": str(campaign.id)})
    post(client, "/dialer/next")
    panel = client.get("/dialer/panel").get_data(as_text=True)
    event = create_pop_event(session, tm, "13955558888", clock=clock)
    session.commit()
    pop = fragment(client, event.id)
    for markup in (panel, pop):
        assert "pop-contacts" not in markup and ">联系人</h3>" not in markup
        assert lists_records(markup) == ["还没有联系记录。"]


def lists_records(markup: str) -> list[str]:
    found = re.search(r'<ul class="[^"]*pop-records[^"]*"[^>]*>(.*?)</ul>', markup, re.S)
    return [plain(li) for li in re.findall(r"<li.*?</li>", found.group(1), re.S)]
