"""A customer's contacts (联系人) edited and deleted (C6): the rules in models/crm/contacts.py and
the routes and controls of the detail and tracking screens."""
import re

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import delete, func, select

from models.crm.contact_records import add_contact_record
from models.crm.contacts import add_contact, delete_contact, get_contact, update_contact
from models.crm.customers import find_by_phone
from models.errors import InvalidValue, NotFound, NotYours, SharedEditForbidden
from models.schema import Contact, ContactRecord

from tests.repo_paths import ROOT
from tests.web_helpers import committing, post


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def text(response):
    return response.get_data(as_text=True)


def reread(session, contact_id):
    session.expire_all()
    return session.get(Contact, contact_id)


def snapshot(contact):
    return {c.name: getattr(contact, c.key) for c in Contact.__table__.columns}


@pytest.fixture
def mine(session, users, clock, make_customer):
    """tm's personal customer with one contact."""
    c = make_customer("自己的客户", owner="tm")
    p = add_contact(session, users["tm"], c.id, {"name": "王经理", "title": "经理",
                                                 "phone": "021-62345678"}, clock=clock)
    session.commit()
    return c, p


# --- The rules --------------------------------------------------------------------------------

def test_update_changes_the_given_fields_and_renormalises_phones(session, users, mine):
    c, p = mine
    assert [x.id for x in find_by_phone(session, "02162345678")] == [c.id]
    update_contact(session, users["tm"], c.id, p.id,
                   {"phone": " (0571) 8888-6666 转 8001 ", "mobile": "+86 138 1234 5678",
                    "email": "wang@example.com"})
    session.commit()
    p = reread(session, p.id)
    assert (p.name, p.title, p.email) == ("王经理", "经理", "wang@example.com")
    assert (p.phone, p.phone_e164) == ("(0571) 8888-6666 转 8001", "+8657188886666")
    assert p.mobile_e164 == "+8613812345678"
    # screen pops find the new numbers, no longer the old one
    assert [x.id for x in find_by_phone(session, "057188886666")] == [c.id]
    assert [x.id for x in find_by_phone(session, "13812345678")] == [c.id]
    assert find_by_phone(session, "02162345678") == []
    # a cleared phone clears its E.164 too
    update_contact(session, users["tm"], c.id, p.id, {"mobile": "  "})
    session.commit()
    p = reread(session, p.id)
    assert (p.mobile, p.mobile_e164) == (None, None)
    assert find_by_phone(session, "13812345678") == []


def test_another_salespersons_personal_customer_is_refused(session, users, clock, mine):
    c, p = mine
    before = snapshot(p)
    for actor in (users["tm2"], users["rep"]):
        with pytest.raises(NotYours):
            update_contact(session, actor, c.id, p.id, {"name": "改名"})
        session.rollback()
        with pytest.raises(NotYours):
            delete_contact(session, actor, c.id, p.id)
        session.rollback()
        with pytest.raises(NotYours):
            get_contact(session, actor, c.id, p.id)
    assert snapshot(reread(session, p.id)) == before
    # a manager sees every customer and may change it
    update_contact(session, users["mgr"], c.id, p.id, {"note": "经理补充"})
    session.commit()
    assert reread(session, p.id).note == "经理补充"


def test_a_shared_customer_needs_may_edit_shared(session, users, clock, make_customer):
    c = make_customer("共享客户", owner=None)
    p = add_contact(session, users["rep"], c.id, {"name": "赵工"}, clock=clock)
    session.commit()
    assert not users["tm"].role.can_edit_shared and users["rep"].role.can_edit_shared
    # the telemarketer may open it but not change its contacts
    assert get_contact(session, users["tm"], c.id, p.id).name == "赵工"
    with pytest.raises(SharedEditForbidden):
        update_contact(session, users["tm"], c.id, p.id, {"name": "改名"})
    session.rollback()
    with pytest.raises(SharedEditForbidden):
        delete_contact(session, users["tm"], c.id, p.id)
    session.rollback()
    assert reread(session, p.id).name == "赵工"
    update_contact(session, users["rep"], c.id, p.id, {"name": "赵总工"})
    session.commit()
    assert reread(session, p.id).name == "赵总工"
    assert delete_contact(session, users["rep"], c.id, p.id) == 0
    session.commit()
    assert reread(session, p.id) is None


def test_a_contact_of_another_customer_is_not_reachable(session, users, clock, mine,
                                                        make_customer):
    c, p = mine
    own_other = make_customer("自己的另一个客户", owner="tm")
    theirs = make_customer("别人的客户", owner="tm2")
    q = add_contact(session, users["tm2"], theirs.id, {"name": "别人的联系人"}, clock=clock)
    r = add_contact(session, users["tm"], own_other.id, {"name": "另一个联系人"}, clock=clock)
    session.commit()
    before = [snapshot(x) for x in (q, r)]
    for forged in (q.id, r.id, 999999):
        with pytest.raises(NotFound) as caught:
            update_contact(session, users["tm"], c.id, forged, {"name": "伪造"})
        assert caught.value.key == "contact.not_found"
        session.rollback()
        with pytest.raises(NotFound):
            delete_contact(session, users["tm"], c.id, forged)
        session.rollback()
        with pytest.raises(NotFound):
            get_contact(session, users["tm"], c.id, forged)
    # not even an admin reaches a contact through the wrong customer
    with pytest.raises(NotFound):
        delete_contact(session, users["admin"], c.id, q.id)
    session.rollback()
    assert [snapshot(reread(session, x.id)) for x in (q, r)] == before


@pytest.mark.parametrize("data, field", [
    ({"customer_id": 5}, "customer_id"), ({"phone_e164": "+8613800000000"}, "phone_e164"),
    ({"name": "x" * 65}, "name"), ({"phone": "1" * 41}, "phone"), ({"qq": "9" * 21}, "qq"),
    ({"name": "   "}, "name"), ({"name": None}, "name")])
def test_unknown_fields_long_values_and_an_empty_name_are_refused(session, users, mine, data,
                                                                  field):
    c, p = mine
    before = snapshot(p)
    with pytest.raises(InvalidValue) as caught:
        update_contact(session, users["tm"], c.id, p.id, data)
    assert caught.value.params["field"] == field
    session.rollback()
    assert snapshot(reread(session, p.id)) == before


def test_deleting_a_contact_keeps_its_contact_records(session, users, clock, mine):
    c, p = mine
    other = add_contact(session, users["tm"], c.id, {"name": "李秘书"}, clock=clock)
    r1 = add_contact_record(session, users["tm"], c.id, content="和王经理谈了报价",
                            progress="报价", contact_id=p.id, clock=clock)
    r2 = add_contact_record(session, users["tm"], c.id,
                            content="王经理要样品", contact_id=p.id, clock=clock)
    r3 = add_contact_record(session, users["tm"], c.id, content="李秘书回电",
                            contact_id=other.id, clock=clock)
    session.commit()
    ids = (r1.id, r2.id, r3.id)
    assert delete_contact(session, users["tm"], c.id, p.id) == 2
    session.commit()
    session.expire_all()
    assert session.get(Contact, p.id) is None
    records = {r.id: r for r in session.scalars(select(ContactRecord))}
    assert sorted(records) == sorted(ids)
    assert (records[r1.id].content, records[r1.id].progress, records[r1.id].contact_id) == \
        ("和王经理谈了报价", "报价", None)
    assert (records[r2.id].content, records[r2.id].contact_id) == ("王经理要样品", None)
    assert (records[r3.id].content, records[r3.id].contact_id) == ("李秘书回电", other.id)


def test_the_schema_itself_unlinks_records_of_a_deleted_contact(session, users, clock, mine):
    """contact_records.contact_id is ON DELETE SET NULL, so even a plain DELETE (another
    path than delete_contact) keeps the records."""
    c, p = mine
    record = add_contact_record(session, users["tm"], c.id, content="保留的内容",
                                contact_id=p.id, clock=clock)
    session.commit()
    session.execute(delete(Contact).where(Contact.id == p.id))
    session.commit()
    session.expire_all()
    kept = session.get(ContactRecord, record.id)
    assert (kept.content, kept.contact_id) == ("保留的内容", None)


# --- The pages --------------------------------------------------------------------------------

def test_tracking_screen_edits_and_deletes_contacts(as_user, session, users, clock, mine):
    c, p = mine
    add_contact_record(session, users["tm"], c.id, content="和王经理通话", contact_id=p.id,
                       clock=clock)
    client = as_user("tm")
    track = f"/customers/{c.id}/track"
    page = text(client.get(track))
    row = re.search(r'<tr data-contact="%d">.*?</tr>' % p.id, page, re.S).group(0)
    edit_url = f"/customers/{c.id}/contacts/{p.id}/edit"
    assert f'href="{edit_url}?next=' in row and ">修改<" in row
    assert f'action="/customers/{c.id}/contacts/{p.id}/delete"' in row
    assert 'data-confirm="删除联系人 王经理？与其相关的联系记录将保留。"' in row
    # the edit form, filled in
    form = text(client.get(edit_url + "?next=" + track))
    assert "修改联系人" in form and 'value="王经理"' in form and 'value="021-62345678"' in form
    assert f'name="next" value="{track}"' in form
    response = post(client, edit_url, {"name": "王总", "title": "总经理", "phone": "",
                                       "mobile": "13912345678", "next": track})
    assert response.status_code == 302 and response.location.endswith(track)
    page = text(client.get(track))
    assert "联系人 王总 已保存。" in page
    p2 = reread(session, p.id)
    assert (p2.name, p2.title, p2.phone, p2.phone_e164, p2.mobile_e164) == \
        ("王总", "总经理", None, None, "+8613912345678")
    # delete: the record that named the contact stays, text and all
    response = post(client, f"/customers/{c.id}/contacts/{p.id}/delete", {"next": track})
    assert response.status_code == 302
    page = text(client.get(track))
    assert "联系人 王总 已删除；其 1 条联系记录已保留。" in page
    assert f'data-contact="{p.id}"' not in page and "和王经理通话" in page
    assert reread(session, p.id) is None
    record = session.scalar(select(ContactRecord))
    assert (record.content, record.contact_id) == ("和王经理通话", None)


def test_a_refused_edit_shows_the_form_again_with_what_was_typed(as_user, session, mine):
    c, p = mine
    before = snapshot(p)
    client = as_user("tm")
    response = post(client, f"/customers/{c.id}/contacts/{p.id}/edit",
                    {"name": "新名字", "department": "部" * 65, "note": "刚写的备注"})
    assert response.status_code == 400
    page = text(response)
    assert 'id="form-error"' in page and "输入值无效：部门" in page
    assert 'value="新名字"' in page and "刚写的备注" in page
    assert snapshot(reread(session, p.id)) == before


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/",
                                    "/\\evil.example/", "javascript:alert(1)"])
def test_the_edit_form_goes_back_only_to_this_site(as_user, mine, target):
    c, p = mine
    client = as_user("tm")
    assert "evil" not in text(client.get(f"/customers/{c.id}/contacts/{p.id}/edit",
                                         query_string={"next": target}))
    response = post(client, f"/customers/{c.id}/contacts/{p.id}/edit",
                    {"name": "王经理", "next": target})
    assert response.status_code == 302 and response.location == f"/customers/{c.id}/track"


def test_the_edit_form_in_english(as_user, session, users, mine):
    c, p = mine
    users["tm"].language = "en"
    session.commit()
    client = as_user("tm")
    page = text(client.get(f"/customers/{c.id}/track"))
    assert "Delete the contact 王经理? Contact records that name it are kept." in page
    assert "Edit contact" in text(client.get(f"/customers/{c.id}/contacts/{p.id}/edit"))
    post(client, f"/customers/{c.id}/contacts/{p.id}/delete")
    assert "Contact 王经理 deleted." in text(client.get(f"/customers/{c.id}/track"))


def test_detail_screen_lists_the_same_controls(as_user, mine):
    c, p = mine
    page = text(as_user("tm").get(f"/customers/{c.id}"))
    row = re.search(r'<tr data-contact="%d">.*?</tr>' % p.id, page, re.S).group(0)
    assert f"/customers/{c.id}/contacts/{p.id}/edit" in row
    assert f"/customers/{c.id}/contacts/{p.id}/delete" in row


def test_another_salespersons_customer_is_closed(as_user, session, mine):
    c, p = mine
    before = snapshot(p)
    client = as_user("tm2")
    assert client.get(f"/customers/{c.id}/contacts/{p.id}/edit").status_code == 403
    assert post(client, f"/customers/{c.id}/contacts/{p.id}/edit",
                {"name": "改名"}).status_code == 403
    assert post(client, f"/customers/{c.id}/contacts/{p.id}/delete").status_code == 403
    assert snapshot(reread(session, p.id)) == before


def test_a_forged_contact_id_is_not_found(as_user, session, users, clock, mine, make_customer):
    c, p = mine
    theirs = make_customer("别人的客户", owner="tm2")
    q = add_contact(session, users["tm2"], theirs.id, {"name": "别人的联系人"}, clock=clock)
    session.commit()
    before = snapshot(q)
    client = as_user("tm")
    assert client.get(f"/customers/{c.id}/contacts/{q.id}/edit").status_code == 404
    assert post(client, f"/customers/{c.id}/contacts/{q.id}/edit",
                {"name": "伪造"}).status_code == 404
    assert post(client, f"/customers/{c.id}/contacts/{q.id}/delete").status_code == 404
    assert snapshot(reread(session, q.id)) == before


def test_shared_customer_without_may_edit_shared(as_user, session, users, clock, make_customer):
    c = make_customer("共享客户", owner=None)
    p = add_contact(session, users["rep"], c.id, {"name": "赵工"}, clock=clock)
    session.commit()
    client = as_user("tm")
    page = text(client.get(f"/customers/{c.id}/track"))
    assert "赵工" in page and f"/contacts/{p.id}/edit" not in page
    assert f"/contacts/{p.id}/delete" not in page
    response = post(client, f"/customers/{c.id}/contacts/{p.id}/delete",
                    {"next": f"/customers/{c.id}/track"})
    assert response.status_code == 302
    assert "您没有修改共享客户的权限" in text(client.get(f"/customers/{c.id}/track"))
    response = post(client, f"/customers/{c.id}/contacts/{p.id}/edit", {"name": "改名"})
    assert response.status_code == 400 and "您没有修改共享客户的权限" in text(response)
    assert reread(session, p.id).name == "赵工"
    # a sales rep may
    rep = as_user("rep")
    assert f"/contacts/{p.id}/edit" in text(rep.get(f"/customers/{c.id}/track"))
    assert post(rep, f"/customers/{c.id}/contacts/{p.id}/delete").status_code == 302
    assert reread(session, p.id) is None


@pytest.mark.parametrize("action", ["edit", "delete"])
def test_the_posts_need_the_csrf_token(as_user, session, mine, action):
    c, p = mine
    before = snapshot(p)
    client = as_user("tm")
    client.get(f"/customers/{c.id}/track")
    response = client.post(f"/customers/{c.id}/contacts/{p.id}/{action}",
                           data={"name": "无令牌"})
    assert response.status_code == 400
    forged = client.post(f"/customers/{c.id}/contacts/{p.id}/{action}",
                         data={"name": "假令牌", "csrf_token": "not-a-token"})
    assert forged.status_code == 400
    assert snapshot(reread(session, p.id)) == before
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_every_contact_and_document_text_has_a_chinese_translation():
    pattern = re.compile(r"""\b_l?\(\s*(['"])((?:\\.|(?!\1).)+)\1""")
    sources = [ROOT / "admin/customers/detail.py",
               *(ROOT / "admin/customers/templates/customers").glob("_contact*.html"),
               ROOT / "admin/customers/templates/customers/_documents.html",
               ROOT / "admin/customers/templates/customers/contact_edit.html"]
    # adjacent Python string literals are one message
    joined = [re.sub(r'"\s*\n\s*"', "", path.read_text()) for path in sources]
    wanted = {m.group(2).replace("\\'", "'") for src in joined for m in pattern.finditer(src)}
    assert {"Edit contact", "Upload a document", "Contact %(name)s saved."} <= wanted
    translated = {}
    for po in (ROOT / "admin/i18n").glob("*.po"):
        with po.open("rb") as fh:
            translated.update({m.id: m.string for m in read_po(fh) if m.id and m.string})
    assert sorted(wanted - set(translated)) == []


def test_in_the_browser_confirm_delete_then_edit(live_server, browser_page, session, mine):
    from tests.browser.chromium import log_in, shot
    c, p = mine
    session.commit()
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.wait_for_selector("#main-line")
    page.goto(f"{live_server}/customers/{c.id}/track")
    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    page.click(f"#contact-delete-{p.id}")
    assert messages == ["删除联系人 王经理？与其相关的联系记录将保留。"]
    assert page.locator(f'tr[data-contact="{p.id}"]').count() == 1  # dismissed: still there
    page.click(f"#contact-edit-{p.id}")
    page.fill("#contact-name", "王总")
    page.fill("#contact-mobile", "139 1234 5678")
    shot(page, "contact-edit")
    page.click("#save-button")
    page.wait_for_selector("#track-head")
    assert page.url.endswith(f"/customers/{c.id}/track")
    assert "王总" in page.locator(f'tr[data-contact="{p.id}"]').inner_text()
    shot(page, "contact-edited-track")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#contact-delete-{p.id}")
    page.wait_for_selector("text=联系人 王总 已删除。")
    assert page.locator(f'tr[data-contact="{p.id}"]').count() == 0
    assert reread(session, p.id) is None
