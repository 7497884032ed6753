"""Opportunities and orders in the web app (C7): lists, detail pages, actions and the PDFs."""
import datetime as dt
import shutil
import subprocess
from decimal import Decimal

import pytest
from sqlalchemy import select

from models.crm.contact_records import add_contact_record
from models.crm.sales import create_opportunity, create_order
from models.schema import Contact, Customer, Opportunity, Order, OrderFollowUp, Product

from tests.web_helpers import post


def item(price, quantity=1, name="呼叫中心座席"):
    return [dict(product_name=name, quantity=quantity, unit_price=price)]


@pytest.fixture
def data(session, users, clock, make_customer):
    tm, tm2 = users["tm"], users["tm2"]
    mine = make_customer("北京星辰科技有限公司", owner="tm", stage="potential",
                         contact_person="陈经理", phone="010-88886666")
    others = make_customer("上海别家贸易公司", owner="tm2", stage="potential")
    collab = make_customer("广州协同软件公司", owner=["tm", "rep"], stage="potential")
    shared = make_customer("深圳共享电子厂", owner=None, stage="potential")
    d = dict(mine=mine, others=others, collab=collab, shared=shared)
    d["opp"] = create_opportunity(session, tm, mine.id, "呼叫中心 10 席",
                                  items=item("1200.00", 10), clock=clock)
    d["opp_paused"] = create_opportunity(session, tm, mine.id, "培训服务", state="paused",
                                         items=item("800", 1, "培训"), clock=clock)
    d["opp_shared"] = create_opportunity(session, tm2, shared.id, "共享商机", amount=66,
                                         clock=clock)
    d["opp_others"] = create_opportunity(session, tm2, others.id, "别人的商机", amount=5,
                                         clock=clock)
    d["order"] = create_order(session, tm, mine.id, item("1234.5", 2), clock=clock)
    d["order_collab"] = create_order(session, tm, collab.id, item(300), clock=clock)
    d["order_others"] = create_order(session, tm2, others.id, item(99), clock=clock)
    d["order_followed"] = create_order(session, tm2, shared.id, item(77), follower_id=tm.id,
                                       clock=clock)
    session.commit()
    return d


def fresh(session, model, id_):
    """Re-read one row, then end the read transaction (SQLite: the app's requests need the
    write lock, which an open test transaction would hold)."""
    row = session.get(model, id_, populate_existing=True)
    session.commit()
    return row


def rows(session, stmt):
    found = session.scalars(stmt.execution_options(populate_existing=True)).all()
    session.commit()
    return found


def page_text(response):
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# ---- lists -----------------------------------------------------------------------------------

def test_opportunity_list_variants_in_chinese_and_english(as_user, data):
    client = as_user("tm")
    page = page_text(client.get("/opportunities"))
    assert "我的正在销售商机" in page and "呼叫中心 10 席" in page and "12,000.00" in page
    assert "培训服务" not in page and "别人的商机" not in page and "共享商机" not in page
    page = page_text(client.get("/opportunities?variant=paused"))
    assert "培训服务" in page and "呼叫中心 10 席" not in page
    page = page_text(client.get("/opportunities?variant=all"))
    assert all(t in page for t in ("呼叫中心 10 席", "培训服务", "共享商机"))
    assert "别人的商机" not in page
    assert client.get("/opportunities?variant=bogus").status_code == 404
    post(client, "/language", {"lang": "en"})
    page = page_text(client.get("/opportunities?variant=all&sort=amount&dir=asc"))
    assert "My selling opportunities" in page and "All I may see" in page and "Amount ▲" in page
    assert page.index("共享商机") < page.index("培训服务") < page.index("呼叫中心 10 席")


def test_order_list_variants(as_user, data):
    client = as_user("tm")
    page = page_text(client.get("/orders"))
    assert "正在跟单" in page and "我的订单" in page
    assert data["order"].number in page and data["order_followed"].number in page
    assert data["order_others"].number not in page
    page = page_text(client.get("/orders?variant=mine"))
    assert data["order"].number in page and data["order_collab"].number in page
    assert data["order_followed"].number not in page
    assert client.get("/orders?variant=all").status_code == 403
    page = page_text(as_user("mgr").get("/orders?variant=all"))
    assert all(data[k].number in page for k in ("order", "order_collab", "order_others",
                                                "order_followed"))


def test_list_export_needs_the_export_permission(as_user, data):
    assert as_user("tm").get("/orders?variant=mine&export=xlsx").status_code == 403
    response = as_user("mgr").get("/opportunities?variant=all&export=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data().decode("utf-8-sig")
    assert "呼叫中心 10 席" in body and "别人的商机" in body and "12000" in body


# ---- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/opportunities/{opp_others}", "/opportunities/{opp_others}/quotation.pdf",
    "/opportunities/{opp_others}/sheet.pdf", "/orders/{order_others}",
    "/orders/{order_others}/sheet.pdf", "/customers/{others}/tracking-sheet.pdf",
    "/opportunities/new?customer_id={others}", "/orders/new?customer_id={others}",
])
def test_another_users_personal_customer_stays_closed(as_user, data, path):
    ids = {k: v.id for k, v in data.items()}
    response = as_user("tm").get(path.format(**ids))
    assert response.status_code == 403
    assert "上海别家贸易公司" not in response.get_data(as_text=True)


def test_missing_records_are_404(as_user, data):
    client = as_user("tm")
    for path in ("/opportunities/999999", "/orders/999999", "/orders/999999/sheet.pdf",
                 "/customers/999999/tracking-sheet.pdf", "/opportunities/999999/quotation.pdf"):
        assert client.get(path).status_code == 404, path


def test_posts_on_others_records_are_refused(as_user, session, data):
    client = as_user("tm")
    opp, order = data["opp_others"], data["order_others"]
    response = post(client, f"/opportunities/{opp.id}/state", {"state": "ended"})
    assert response.status_code == 302
    assert post(client, f"/orders/{order.id}/status", {"state": "done"}).status_code == 302
    post(client, f"/orders/{order.id}/follow-ups", {"content": "偷看"})
    post(client, f"/opportunities/{opp.id}/order", {})
    assert fresh(session, Opportunity, opp.id).state == "selling"
    assert fresh(session, Order, order.id).state == "in_progress"
    assert rows(session, select(OrderFollowUp)) == []
    assert rows(session, select(Order).where(Order.opportunity_id == opp.id)) == []


def test_every_post_needs_the_csrf_token(as_user, session, data):
    client = as_user("tm")
    opp, order, mine = data["opp"], data["order"], data["mine"]
    for path, form in [(f"/opportunities/{opp.id}/state", {"state": "ended"}),
                       (f"/opportunities/{opp.id}/callback", {"next_callback_at": "2026-12-01T09:00"}),
                       (f"/opportunities/{opp.id}/order", {}),
                       (f"/orders/{order.id}/status", {"state": "done"}),
                       (f"/orders/{order.id}/follow-ups", {"content": "x"}),
                       (f"/opportunities/new?customer_id={mine.id}", {"title": "x"}),
                       (f"/orders/new?customer_id={mine.id}", {"product_name": "x", "quantity": "1",
                                                              "unit_price": "1"})]:
        assert client.post(path, data=form).status_code == 400, path
    assert fresh(session, Opportunity, opp.id).state == "selling"
    assert fresh(session, Opportunity, opp.id).next_callback_at is None
    assert fresh(session, Order, order.id).state == "in_progress"
    assert rows(session, select(OrderFollowUp)) == []
    assert len(rows(session, select(Order))) == 4
    assert len(rows(session, select(Opportunity))) == 4


# ---- opportunity detail and actions ----------------------------------------------------------

def test_opportunity_detail_and_state_buttons(as_user, session, data):
    client = as_user("tm")
    opp = data["opp"]
    page = page_text(client.get(f"/opportunities/{opp.id}"))
    assert "呼叫中心 10 席" in page and "北京星辰科技有限公司" in page and "12,000.00" in page
    assert "报价单" in page and "商机协调单" in page and "由此商机生成订单" in page
    assert 'name="csrf_token"' in page
    if "customers.detail" in client.application.view_functions:
        assert f'href="/customers/{data["mine"].id}' in page
    response = post(client, f"/opportunities/{opp.id}/state", {"state": "ended"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/opportunities/{opp.id}")
    assert fresh(session, Opportunity, opp.id).state == "ended"
    post(client, f"/opportunities/{opp.id}/state", {"state": "won"})
    assert fresh(session, Opportunity, opp.id).state == "ended"
    page = page_text(client.get(f"/opportunities/{opp.id}"))
    assert "无效的商机状态" in page


def test_opportunity_callback_is_read_in_company_time(as_user, session, data):
    client = as_user("tm")
    opp = data["opp"]
    post(client, f"/opportunities/{opp.id}/callback", {"next_callback_at": "2026-11-28T09:30"})
    assert fresh(session, Opportunity, opp.id).next_callback_at == dt.datetime(
        2026, 11, 28, 1, 30, tzinfo=dt.timezone.utc)
    assert "2026-11-28 09:30" in page_text(client.get(f"/opportunities/{opp.id}"))
    post(client, f"/opportunities/{opp.id}/callback", {"next_callback_at": "tomorrow"})
    assert fresh(session, Opportunity, opp.id).next_callback_at is not None


def test_create_order_from_opportunity(as_user, session, users, data):
    client = as_user("tm")
    opp = data["opp"]
    response = post(client, f"/opportunities/{opp.id}/order",
                    {"follower_id": str(users["rep"].id), "ordered_on": "2026-11-27"})
    assert response.status_code == 302
    (order,) = rows(session, select(Order).where(Order.opportunity_id == opp.id))
    assert response.headers["Location"].endswith(f"/orders/{order.id}")
    assert (order.amount, order.seller_id, order.follower_id) == (
        Decimal("12000.00"), users["tm"].id, users["rep"].id)
    assert order.ordered_on == dt.date(2026, 11, 27)
    assert fresh(session, Opportunity, opp.id).state == "paused"
    assert fresh(session, Customer, data["mine"].id).stage == "closed"
    page = page_text(client.get(f"/orders/{order.id}"))
    assert order.number in page and "罗文冲" in page and "12,000.00" in page


def test_new_opportunity_form(as_user, session, make_customer):
    customer = make_customer("杭州新星网络公司", owner=["tm", "rep"], stage="target")
    client = as_user("tm")
    page = page_text(client.get(f"/opportunities/new?customer_id={customer.id}"))
    assert "新建商机" in page and "杭州新星网络公司" in page
    response = post(client, f"/opportunities/new?customer_id={customer.id}", {
        "title": "座席扩容", "state": "selling", "expected_close_on": "2026-12-20",
        "next_callback_at": "2026-12-01T10:00",
        "product_id": ["", ""], "product_name": ["座席", ""], "quantity": ["3", ""],
        "unit_price": ["1500", ""]})
    assert response.status_code == 302
    (opp,) = rows(session, select(Opportunity).where(Opportunity.title == "座席扩容"))
    assert opp.amount == Decimal("4500.00") and opp.expected_close_on == dt.date(2026, 12, 20)
    assert fresh(session, Customer, customer.id).stage == "opportunity"
    # a bad line item is refused and nothing is added
    post(client, f"/opportunities/new?customer_id={customer.id}", {
        "title": "坏的", "product_name": "座席", "quantity": "-1", "unit_price": "1"})
    assert rows(session, select(Opportunity).where(Opportunity.title == "坏的")) == []


def test_new_order_form_with_a_product(as_user, session, users, data):
    product = Product(name="录音模块", price=Decimal("650.00"), unit="套")
    session.add(product)
    session.commit()
    client = as_user("tm")
    customer = data["mine"]
    assert "录音模块" in page_text(client.get(f"/orders/new?customer_id={customer.id}"))
    response = post(client, f"/orders/new?customer_id={customer.id}", {
        "seller_id": str(users["tm"].id), "follower_id": str(users["tm2"].id),
        "product_id": [str(product.id)], "product_name": [""], "quantity": ["2"],
        "unit_price": [""]})
    assert response.status_code == 302
    (order,) = rows(session, select(Order).where(Order.amount == Decimal("1300.00")))
    assert order.follower_id == users["tm2"].id and order.items[0].product_name == "录音模块"


# ---- order detail and actions ----------------------------------------------------------------

def test_order_status_only_for_seller_follower_or_manager(as_user, session, users, data):
    order = data["order_collab"]  # seller and follower: tm; rep also operates the customer
    rep = as_user("rep")
    page = page_text(rep.get(f"/orders/{order.id}"))
    assert "只有销售人、跟单人或经理可以修改订单状态" in page and "<fieldset disabled" in page
    post(rep, f"/orders/{order.id}/status", {"state": "done", "payment_status": "paid"})
    assert (fresh(session, Order, order.id).state, fresh(session, Order, order.id).payment_status) == (
        "in_progress", "unpaid")
    assert "您没有此操作的权限" in page_text(rep.get(f"/orders/{order.id}"))
    tm = as_user("tm")
    assert "<fieldset disabled" not in page_text(tm.get(f"/orders/{order.id}"))
    post(tm, f"/orders/{order.id}/status", {"payment_status": "paid", "paid_on": "2026-11-26",
                                            "shipping_status": "shipped",
                                            "shipped_on": "2026-11-27", "state": "done"})
    row = fresh(session, Order, order.id)
    assert (row.payment_status, row.paid_on, row.shipping_status, row.shipped_on, row.state) == (
        "paid", dt.date(2026, 11, 26), "shipped", dt.date(2026, 11, 27), "done")
    page = page_text(tm.get(f"/orders/{order.id}"))
    assert "已付款" in page or "Paid" in page
    post(as_user("mgr"), f"/orders/{order.id}/status", {"state": "paused"})
    assert fresh(session, Order, order.id).state == "paused"


def test_order_follow_up_with_reminder(as_user, session, users, data):
    client = as_user("tm")
    order = data["order"]
    response = post(client, f"/orders/{order.id}/follow-ups", {
        "content": "客户确认收货<b>", "next_callback_at": "2026-11-30T15:00", "remind": "1"})
    assert response.status_code == 302
    (fu,) = rows(session, select(OrderFollowUp))
    when = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.timezone.utc)
    assert (fu.content, fu.next_callback_at, fu.remind, fu.remind_at, fu.user_id) == (
        "客户确认收货<b>", when, True, when, users["tm"].id)
    assert fresh(session, Order, order.id).next_callback_at == when
    page = page_text(client.get(f"/orders/{order.id}"))
    assert "客户确认收货&lt;b&gt;" in page and "2026-11-30 15:00" in page
    # empty content and a reminder without a date are refused
    post(client, f"/orders/{order.id}/follow-ups", {"content": "  "})
    post(client, f"/orders/{order.id}/follow-ups", {"content": "x", "remind": "1"})
    assert len(rows(session, select(OrderFollowUp))) == 1


def test_order_page_in_english(as_user, data):
    client = as_user("tm")
    post(client, "/language", {"lang": "en"})
    page = page_text(client.get(f"/orders/{data['order'].id}"))
    assert "Order coordination sheet" in page and "Follow-up records" in page
    assert "2,469.00" in page and "Unpaid" in page


def test_user_text_is_escaped(as_user, session, users, data, clock):
    create_opportunity(session, users["tm"], data["mine"].id, "<script>alert(1)</script>",
                       amount=1, clock=clock)
    session.commit()
    page = page_text(as_user("tm").get("/opportunities"))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


# ---- PDFs ------------------------------------------------------------------------------------

def needs_poppler(test):
    """PDF tests read the PDF back with poppler-utils (`make test` installs it)."""
    def run(*args, **kwargs):
        assert shutil.which("pdftotext") and shutil.which("pdffonts"), \
            "poppler-utils is missing: run scripts/system-deps.sh poppler-utils"
        return test(*args, **kwargs)
    run.__name__, run.__wrapped__ = test.__name__, test
    return run


def pdf_text(body: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def pdf_fonts(body: bytes, tmp_path) -> str:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdffonts", str(path)], check=True, capture_output=True,
                          text=True).stdout


def get_pdf(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    body = response.get_data()
    assert body.startswith(b"%PDF")
    return body


@needs_poppler
def test_quotation_pdf(as_user, data, tmp_path):
    body = get_pdf(as_user("tm"), f"/opportunities/{data['opp'].id}/quotation.pdf")
    text = pdf_text(body, tmp_path)
    for expected in ("报价单", "达盟科技有限公司", "北京星辰科技有限公司", "呼叫中心座席",
                     "1,200.00", "12,000.00", "陈经理", "李红光"):
        assert expected in text, expected
    fonts = pdf_fonts(body, tmp_path)
    assert "WenQuanYi" in fonts and " yes " in fonts.splitlines()[-1]


@needs_poppler
def test_opportunity_sheet_pdf_in_english(as_user, data, tmp_path):
    client = as_user("tm")
    post(client, "/language", {"lang": "en"})
    text = pdf_text(get_pdf(client, f"/opportunities/{data['opp'].id}/sheet.pdf"), tmp_path)
    assert "Opportunity coordination sheet" in text and "北京星辰科技有限公司" in text
    assert "12,000.00" in text and "Selling" in text


@needs_poppler
def test_order_sheet_pdf(as_user, session, users, data, tmp_path, clock):
    from models.company import set_setting
    from models.crm.sales import add_order_follow_up
    add_order_follow_up(session, users["tm"], data["order"].id, "已安排发货", clock=clock)
    set_setting(session, "company.name", "长城电话营销服务公司")
    session.commit()
    text = pdf_text(get_pdf(as_user("tm"), f"/orders/{data['order'].id}/sheet.pdf"), tmp_path)
    for expected in ("订单协调单", "长城电话营销服务公司", data["order"].number,
                     "北京星辰科技有限公司", "1,234.50",
                     "2,469.00", "已安排发货", "2026-11-26"):
        assert expected in text, expected


@needs_poppler
def test_tracking_sheet_pdf(as_user, session, users, data, tmp_path, clock):
    mine = data["mine"]
    session.add(Contact(customer_id=mine.id, name="王采购", mobile="13800138000",
                        created_at=clock.now()))
    add_contact_record(session, users["tm"], mine.id, content="客户要求再报一次价",
                       progress="报价后跟进",
                       next_callback_at=dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.timezone.utc),
                       clock=clock)
    session.commit()
    body = get_pdf(as_user("tm"), f"/customers/{mine.id}/tracking-sheet.pdf")
    text = pdf_text(body, tmp_path)
    for expected in ("跟踪协调单", "北京星辰科技有限公司", "王采购", "13800138000",
                     "客户要求再报一次价", "2026-11-27 09:00", "呼叫中心 10 席", "培训服务",
                     "12,000.00", data["order"].number, "2,469.00"):
        assert expected in text, expected
    assert "WenQuanYi" in pdf_fonts(body, tmp_path)
    # the manager may print it too; the other telemarketer may not
    assert get_pdf(as_user("mgr"), f"/customers/{mine.id}/tracking-sheet.pdf")
    assert as_user("tm2").get(f"/customers/{mine.id}/tracking-sheet.pdf").status_code == 403


def test_pdf_fetcher_refuses_everything_but_local_files(app, tmp_path):
    from admin.sales.pdf import DEFAULT_FONT, LocalFileFetcher
    fetcher = LocalFileFetcher([DEFAULT_FONT.parent, app.static_folder])
    for url in ("http://example.com/x.png", "https://example.com/a.css", "ftp://h/x",
                "data:text/plain,hi", "file:///etc/passwd",
                "file://" + app.static_folder + "/../../../etc/passwd",
                "file://evil.example/" + app.static_folder + "/app.css"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    response = fetcher.fetch("file://" + app.static_folder + "/app.css")
    assert b"dialfunnel" in response.read()


def test_hostile_names_never_make_the_pdf_fetch(as_user, session, users, data, monkeypatch):
    import admin.sales.pdf
    seen = []
    original = admin.sales.pdf.LocalFileFetcher.fetch

    def spy(self, url, headers=None):
        seen.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(admin.sales.pdf.LocalFileFetcher, "fetch", spy)
    opp = data["opp"]
    opp.title = '<img src="http://example.com/track.png"><link rel=stylesheet href="http://x/y">'
    session.commit()
    assert get_pdf(as_user("tm"), f"/opportunities/{opp.id}/quotation.pdf")
    assert all(url.startswith("file://") for url in seen) and seen
