"""Customer pages: stage lists, batch actions, print and export, detail, new customer,
tracking with Next, contact records."""
import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models.crm.contact_records import add_contact_record
from models.crm.sales import create_opportunity
from models.schema import ClaimLog, Contact, ContactRecord, Customer, Opportunity, Order, Product, Role

from tests.web_helpers import committing, post


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def text(response):
    return response.get_data(as_text=True)


def row_names(page: str) -> list[str]:
    """Customer names of a list page, in order."""
    return re.findall(r'<tr data-id="\d+">\s*<td><input[^>]*></td>\s*<td[^>]*><a href="[^"]+">([^<]+)</a>',
                      page)


def fresh(session, customer):
    session.expire_all()
    return session.get(Customer, customer.id)


# --- Lists ------------------------------------------------------------------------------------

def test_stage_list_tabs_in_chinese_then_english(as_user, session, users, make_customer):
    make_customer("A自己的客户", stage="target", owner="tm", city="上海")
    make_customer("B协同客户", stage="target", owner=["tm", "rep"])
    make_customer("C共享客户", stage="target", owner=None)
    make_customer("D别人的客户", stage="target", owner="tm2")
    make_customer("E潜在客户", stage="potential", owner="tm")
    client = as_user("tm")
    page = text(client.get("/customers/target?sort=name"))
    assert "目标客户" in page and "个人" in page and "共享" in page
    assert row_names(page) == ["A自己的客户", "B协同客户"]
    assert "上海" in page and "占有" not in re.search(r'id="batch-actions".*?</div>\s*</div>',
                                                     page, re.S).group(0)
    shared = text(client.get("/customers/target?tab=shared"))
    assert row_names(shared) == ["C共享客户"]
    assert 'value="claim"' in shared and "今天还可以占有 20 个共享客户" in shared
    # an unknown stage is not a list
    assert client.get("/customers/vip").status_code == 404
    post(client, "/language", {"lang": "en"})
    page = text(client.get("/customers/target?tab=shared"))
    assert "Target" in page and "Mine" in page and "Claim" in page
    assert "You may still claim 20 shared customers today." in page


def test_archive_lists_every_stage_and_all_tab(as_user, make_customer):
    make_customer("A储备", stage="reserve", owner=None)
    make_customer("B无阶段", stage=None, owner="tm")
    make_customer("C成交", stage="closed", owner="tm")
    make_customer("D别人的", stage="closed", owner="tm2")
    client = as_user("tm")
    page = text(client.get("/customers/archive?tab=all&sort=name"))
    assert row_names(page) == ["A储备", "B无阶段", "C成交"]
    assert "储备客户" in page and "成交客户" in page  # the stage column
    manager = text(as_user("mgr").get("/customers/closed?tab=all&sort=name"))
    assert row_names(manager) == ["C成交", "D别人的"]


def test_sorting_paging_and_search(as_user, make_customer):
    for i in range(53):
        make_customer("客户%02d" % i, stage="potential", owner="tm", city="城%02d" % (52 - i))
    client = as_user("tm")
    first = text(client.get("/customers/potential?sort=name&dir=desc"))
    names = row_names(first)
    assert len(names) == 50 and names[0] == "客户52" and names[-1] == "客户03"
    assert "第 1–50 条" in first and "共 53 条" in first and 'data-page="2"' in first
    second = text(client.get("/customers/potential?sort=name&dir=desc&page=2"))
    assert row_names(second) == ["客户02", "客户01", "客户00"]
    by_city = row_names(text(client.get("/customers/potential?sort=city")))
    assert by_city[:2] == ["客户52", "客户51"]
    # the header link turns the direction round
    assert 'sort=city&amp;dir=desc' in text(client.get("/customers/potential?sort=city"))
    # a sort column outside the whitelist is ignored, not an error
    assert client.get("/customers/potential?sort=password_hash&dir=x").status_code == 200
    found = text(client.get("/customers/potential?q=客户1"))
    assert sorted(row_names(found)) == ["客户1%d" % i for i in range(10)]


def test_cell_list_from_the_home_grid(as_user, session, users, clock, make_customer):
    due = make_customer("今天要回访的客户", stage="potential", owner="tm")
    make_customer("别的潜在客户", stage="potential", owner="tm")
    add_contact_record(session, users["tm"], due.id, content="约",
                       next_callback_at=clock.now() + dt.timedelta(hours=1), clock=clock)
    session.commit()
    client = as_user("tm")
    home = text(client.get("/"))
    link = re.search(r'href="(/customers/cell\?[^"]+)"', home).group(1).replace("&amp;", "&")
    page = text(client.get(link))
    assert "潜在客户 · 今天要回访" in page
    assert "今天要回访的客户" in page and "别的潜在客户" not in page
    assert client.get("/customers/cell?stage=potential&column=bogus").status_code == 400
    assert client.get("/customers/cell?stage=vip&column=contacted").status_code == 404


def test_names_are_escaped(as_user, make_customer):
    make_customer("<script>alert(1)</script>", stage="target", owner="tm")
    page = text(as_user("tm").get("/customers/target"))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


# --- Batch actions ---------------------------------------------------------------------------

def test_batch_claim_cannot_pass_the_quota(as_user, session, users, make_customer):
    session.get(Role, users["tm"].role_id).daily_claim_quota = 2
    session.commit()
    pool = [make_customer("共享%d" % i, stage="target", owner=None) for i in range(4)]
    client = as_user("tm")
    response = post(client, "/customers/target/batch",
                    {"action": "claim", "ids": [str(c.id) for c in pool],
                     "next": "/customers/target?tab=shared"})
    page = text(response)
    assert response.status_code == 200
    assert "共 4 个，成功 2 个" in page
    assert page.count("今天的占有数量已达上限（2个）") == 2
    assert 'href="/customers/target?tab=shared"' in page
    session.expire_all()
    assert [session.get(Customer, c.id).ownership for c in pool] == [
        "personal", "personal", "shared", "shared"]
    assert session.scalar(select(func.count()).select_from(ClaimLog)) == 2
    # one more batch the same day: all refused
    post(client, "/customers/target/batch", {"action": "claim", "ids": [str(pool[3].id)]})
    assert fresh(session, pool[3]).ownership == "shared"


def test_batch_results_name_only_visible_customers(as_user, session, make_customer):
    mine = make_customer("我的目标客户", stage="target", owner="tm")
    secret = make_customer("别人的秘密客户", stage="target", owner="tm2")
    page = text(post(as_user("tm"), "/customers/target/batch",
                     {"action": "release", "ids": [str(mine.id), str(secret.id)]}))
    assert "我的目标客户" in page and "别人的秘密客户" not in page
    assert "#%d" % secret.id in page and "这不是您的客户" in page
    assert fresh(session, mine).ownership == "shared"
    assert fresh(session, secret).operator_ids != []


def test_batch_screen_and_stage_change(as_user, session, users, make_customer):
    reserve = [make_customer(stage="reserve", owner=None) for _ in range(2)]
    client = as_user("tm")
    page = text(client.get("/customers/reserve?tab=shared"))
    assert "筛选为" in page and 'value="claim"' not in page  # the reserve is screened, not claimed
    post(client, "/customers/reserve/batch", {"action": "stage", "to_stage": "potential",
                                              "ids": [str(c.id) for c in reserve]})
    for c in reserve:
        c = fresh(session, c)
        assert (c.stage, c.ownership, c.operator_ids) == ("potential", "personal",
                                                          [users["tm"].id])
    post(client, "/customers/potential/batch", {"action": "stage", "to_stage": "target",
                                                "ids": [str(reserve[0].id)]})
    assert fresh(session, reserve[0]).stage == "target"
    # nothing ticked: a warning, nothing done
    response = post(client, "/customers/target/batch", {"action": "claim",
                                                        "next": "/customers/target"})
    assert response.status_code == 302
    assert "请至少选中一个客户" in text(client.get("/customers/target"))


# --- Print and export ------------------------------------------------------------------------

def test_print_view(as_user, make_customer):
    make_customer("打印客户一", stage="closed", owner="tm", contact_person="王先生")
    page = text(as_user("tm").get("/customers/closed?print=1"))
    assert 'id="print-table"' in page and "打印客户一" in page and "王先生" in page
    assert "成交客户" in page and "李红光 打印于 2026-11-26" in page
    assert "navbar" not in page and 'name="ids"' not in page


def test_export_needs_the_role_and_neutralises_formulas(as_user, session, users, make_customer):
    make_customer("=HYPERLINK(\"http://evil\")", stage="target", owner="rep", city="+1+2")
    make_customer("正常客户", stage="target", owner="rep", contact_person="@SUM(A1)")
    assert as_user("tm").get("/customers/target?export=xlsx").status_code == 403
    rep = as_user("rep")
    response = rep.get("/customers/target?export=xlsx&sort=name")
    assert response.status_code == 200
    assert "customers-target-20261126.xlsx" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "客户名称" and len(rows) == 3
    values = [v for row in rows[1:] for v in row if isinstance(v, str)]
    assert "'=HYPERLINK(\"http://evil\")" in values and "'+1+2" in values
    assert "'@SUM(A1)" in values
    assert not any(v.startswith(("=", "+", "@")) for v in values)
    assert "罗文冲" in values  # the operator's name
    body = rep.get("/customers/target?export=csv").data.decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(body)))
    assert len(parsed) == 3 and all(not cell.startswith("=") for row in parsed for cell in row)
    assert rep.get("/customers/target?export=pdf").status_code == 404


# --- Visibility ------------------------------------------------------------------------------

def test_another_agents_customer_is_out_of_reach(as_user, session, make_customer):
    other = make_customer("别人的客户", stage="target", owner="tm2", city="北京")
    client = as_user("tm")
    assert client.get(f"/customers/{other.id}").status_code == 403
    assert client.get(f"/customers/{other.id}/track").status_code == 403
    assert client.get(f"/customers/{other.id}/next?list=target").status_code == 403
    for path, data in [(f"/customers/{other.id}", {"city": "深圳"}),
                       (f"/customers/{other.id}/do/claim", {}),
                       (f"/customers/{other.id}/do/release", {}),
                       (f"/customers/{other.id}/do/promote", {"to_stage": "closed"}),
                       (f"/customers/{other.id}/contacts", {"name": "x"}),
                       (f"/customers/{other.id}/records", {"content": "x"}),
                       (f"/customers/{other.id}/opportunities", {"title": "x"})]:
        assert post(client, path, data).status_code == 403, path
    c = fresh(session, other)
    assert (c.city, c.stage, c.ownership) == ("北京", "target", "personal")
    assert session.scalar(select(func.count()).select_from(ContactRecord)) == 0
    assert client.get("/customers/999999").status_code == 404
    # the duplicate check names it but gives no link
    found = client.get("/customers/duplicates?name=别人的客户").get_json()["matches"]
    assert found == [dict(id=other.id, name="别人的客户", stage="target",
                          stage_label="目标客户", url=None)]


@pytest.mark.parametrize("path", [
    "/customers/{id}", "/customers/{id}/do/release", "/customers/{id}/contacts",
    "/customers/{id}/records", "/customers/{id}/opportunities", "/customers/{id}/orders",
    "/customers/{id}/delete", "/customers/target/batch", "/customers/new",
    "/records/{record}/edit", "/records/{record}/delete"])
def test_every_post_needs_the_csrf_token(as_user, session, users, clock, make_customer, path):
    c = make_customer("令牌测试", stage="target", owner="tm", city="上海")
    record = add_contact_record(session, users["tm"], c.id, content="原内容", clock=clock)
    session.commit()
    client = as_user("mgr" if "delete" in path and "records" not in path else "tm")
    url = path.format(id=c.id, record=record.id)
    response = client.post(url, data={"city": "深圳", "action": "release", "ids": [str(c.id)],
                                      "name": "x", "content": "新内容", "title": "x"})
    assert response.status_code == 400
    c = fresh(session, c)
    assert (c.city, c.ownership) == ("上海", "personal")
    assert session.get(ContactRecord, record.id).content == "原内容"
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


# --- Detail ----------------------------------------------------------------------------------

def test_detail_locks_fields_by_stage_rule(as_user, session, make_customer):
    c = make_customer("锁定测试", stage="target", owner="tm", city="上海", address="人民路1号")
    client = as_user("tm")
    page = text(client.get(f"/customers/{c.id}"))
    assert re.search(r'name="address" id="f-address" value="人民路1号" readonly', page)
    assert re.search(r'name="city" id="f-city" value="上海" >', page)
    assert 'id="save-button" >' in page
    # a locked field is refused, and nothing of the form is saved
    response = post(client, f"/customers/{c.id}", {"city": "深圳", "address": "解放路2号",
                                                    "next": f"/customers/{c.id}"})
    assert response.status_code == 302
    assert "当前客户阶段不允许修改：address" in text(client.get(f"/customers/{c.id}"))
    assert (fresh(session, c).city, fresh(session, c).address) == ("上海", "人民路1号")
    # the editable ones are saved; unchanged locked ones posted back are fine
    post(client, f"/customers/{c.id}", {"city": "深圳", "address": "人民路1号",
                                         "mobile": "138-1234-5678"})
    c = fresh(session, c)
    assert (c.city, c.mobile_e164) == ("深圳", "+8613812345678")
    # potential: nothing is editable for an agent, everything for an admin
    p = make_customer("潜在锁定", stage="potential", owner="tm", city="上海")
    assert 'name="city" id="f-city" value="上海" readonly' in text(client.get(f"/customers/{p.id}"))
    admin = as_user("admin")
    assert 'name="city" id="f-city" value="上海" >' in text(admin.get(f"/customers/{p.id}"))
    post(admin, f"/customers/{p.id}", {"city": "杭州"})
    assert fresh(session, p).city == "杭州"
    # the checkbox: a hidden "0" comes first, the ticked box's "1" last
    post(admin, f"/customers/{p.id}", {"do_not_call": ["0", "1"]})
    assert fresh(session, p).do_not_call is True
    post(admin, f"/customers/{p.id}", {"do_not_call": ["0"]})
    assert fresh(session, p).do_not_call is False
    # locked for the agent: the current value travels in the hidden input, unchanged
    fresh(session, p).do_not_call = True
    session.commit()
    assert 'name="do_not_call" value="1">' in text(client.get(f"/customers/{p.id}"))
    post(client, f"/customers/{p.id}", {"do_not_call": ["1"], "city": "杭州"})
    assert fresh(session, p).do_not_call is True
    assert "当前客户阶段不允许修改：" not in text(client.get(f"/customers/{p.id}"))


def test_shared_customer_save_needs_the_role(as_user, session, make_customer):
    c = make_customer("共享编辑", stage="target", owner=None, city="上海")
    tm = as_user("tm")
    page = text(tm.get(f"/customers/{c.id}"))
    assert 'id="save-button" disabled' in page and "您的角色没有修改共享客户的权限" in page
    post(tm, f"/customers/{c.id}", {"city": "深圳"})
    assert "您没有修改共享客户的权限" in text(tm.get(f"/customers/{c.id}"))
    assert fresh(session, c).city == "上海"
    rep = as_user("rep")  # sales reps may edit shared customers
    assert 'id="save-button" >' in text(rep.get(f"/customers/{c.id}"))
    post(rep, f"/customers/{c.id}", {"city": "深圳"})
    assert fresh(session, c).city == "深圳"


def test_detail_sections(as_user, session, users, clock, make_customer):
    c = make_customer("详情客户", stage="target", owner="tm")
    add_contact_record(session, users["tm"], c.id, content="第一次联系", progress="了解需求",
                       clock=clock)
    create_opportunity(session, users["tm"], c.id, "呼叫中心项目", amount=50000, clock=clock)
    session.commit()
    client = as_user("tm")
    response = post(client, f"/customers/{c.id}/contacts",
                    {"name": "王经理", "mobile": "+86 138 1234 5678", "title": "采购"})
    assert response.status_code == 302
    contact = session.scalar(select(Contact))
    assert (contact.name, contact.mobile_e164) == ("王经理", "+8613812345678")
    page = text(client.get(f"/customers/{c.id}"))
    for piece in ("王经理", "第一次联系", "了解需求", "呼叫中心项目", "50000.00", "操作人转变记录",
                  "创建时间", "相关文档", "没有订单"):
        assert piece in page, piece
    assert "李红光" in page  # operator and record author
    assert 'id="delete-link"' not in page  # telemarketers may not delete


def test_detail_buttons_claim_release_promote_demote_mark(as_user, session, users,
                                                          make_customer):
    c = make_customer("按钮客户", stage="target", owner=None)
    client = as_user("tm")
    assert 'action="/customers/%d/do/claim"' % c.id in text(client.get(f"/customers/{c.id}"))
    post(client, f"/customers/{c.id}/do/claim")
    assert fresh(session, c).operator_ids == [users["tm"].id]
    page = text(client.get(f"/customers/{c.id}"))
    assert "占有：已完成" in page and 'action="/customers/%d/do/release"' % c.id in page
    post(client, f"/customers/{c.id}/do/contact_mark", {"mark": "contacted"})
    assert fresh(session, c).contact_mark == "contacted"
    post(client, f"/customers/{c.id}/do/promote", {"to_stage": "potential"})
    assert fresh(session, c).stage == "potential"
    page = text(client.get(f"/customers/{c.id}"))
    demote_form = re.search(r'action="/customers/%d/do/demote".*?</form>' % c.id, page, re.S)
    assert re.findall(r'<option value="(\w+)"', demote_form.group(0)) == [
        "target", "reserve", "archive"]  # nearest first
    post(client, f"/customers/{c.id}/do/promote", {"to_stage": "target"})  # not higher
    assert "只能上转到更高的客户阶段" in text(client.get(f"/customers/{c.id}"))
    post(client, f"/customers/{c.id}/do/pause")
    assert fresh(session, c).tracking_mark == "paused"
    post(client, f"/customers/{c.id}/do/demote", {"to_stage": "reserve"})
    c = fresh(session, c)
    assert (c.stage, c.ownership) == ("reserve", "shared")
    assert post(client, f"/customers/{c.id}/do/explode").status_code == 404


def test_manager_tools_and_delete_confirmation(as_user, session, users, clock, make_customer):
    c = make_customer("调拨客户", stage="potential", owner="tm")
    add_contact_record(session, users["tm"], c.id, content="x", clock=clock)
    add_contact_record(session, users["tm"], c.id, content="y", clock=clock)
    session.commit()
    tm = as_user("tm")
    assert tm.get(f"/customers/{c.id}/delete").status_code == 403
    assert post(tm, f"/customers/{c.id}/delete").status_code == 403
    assert post(tm, f"/customers/{c.id}/do/force_release").status_code == 302
    assert fresh(session, c).ownership == "personal"  # refused: not a manager
    mgr = as_user("mgr")
    page = text(mgr.get(f"/customers/{c.id}"))
    assert "去掉占有" in page and "调拨" in page and "设为协同" in page
    post(mgr, f"/customers/{c.id}/do/reassign", {"user_id": str(users["tm2"].id)})
    assert fresh(session, c).operator_ids == [users["tm2"].id]
    post(mgr, f"/customers/{c.id}/do/collaborators",
         {"user_ids": [str(users["tm"].id), str(users["rep"].id)]})
    assert fresh(session, c).ownership == "collaborative"
    post(mgr, f"/customers/{c.id}/do/force_release")
    assert fresh(session, c).ownership == "shared"
    confirm = text(mgr.get(f"/customers/{c.id}/delete"))
    assert "联系记录 2 条" in confirm and "联系人 0 个" in confirm and "订单 0 个" in confirm
    cid = c.id
    response = post(mgr, f"/customers/{cid}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/customers/potential")
    session.expire_all()
    assert session.get(Customer, cid) is None
    assert session.scalar(select(func.count()).select_from(ContactRecord)) == 0


# --- New customer ----------------------------------------------------------------------------

def test_new_customer_and_duplicate_name(as_user, session, users, make_customer):
    client = as_user("tm")
    page = text(client.get("/customers/new"))
    assert "新建客户" in page and "我自己（李红光）" in page and 'data-duplicate-check="name"' in page
    assert "张军" not in page  # only managers pick other operators
    response = post(client, "/customers/new", {"name": "深圳新客户", "stage": "target",
                                               "operator": "me", "phone": "0755-88889999",
                                               "do_not_call": "0"})
    assert response.status_code == 302
    c = session.scalar(select(Customer).where(Customer.name == "深圳新客户"))
    assert (c.stage, c.ownership, c.operator_ids, c.phone_e164) == (
        "target", "personal", [users["tm"].id], "+8675588889999")
    again = post(client, "/customers/new", {"name": "深圳新客户", "stage": "reserve",
                                            "operator": "shared", "city": "深圳"})
    assert again.status_code == 400 and "客户名称已存在：深圳新客户" in text(again)
    assert 'value="深圳" >' in text(again) or 'value="深圳"' in text(again)  # typed values kept
    assert session.scalar(select(func.count()).select_from(Customer)) == 1
    refused = post(client, "/customers/new", {"name": "替别人建", "operator": str(users["tm2"].id),
                                              "stage": "target"})
    assert refused.status_code == 400 and "您没有此操作的权限" in text(refused)
    # a manager may create for somebody else, or shared
    mgr = as_user("mgr")
    assert "张军" in text(mgr.get("/customers/new"))
    post(mgr, "/customers/new", {"name": "经理分配", "operator": str(users["tm2"].id),
                                 "stage": "potential"})
    assigned = session.scalar(select(Customer).where(Customer.name == "经理分配"))
    assert assigned.operator_ids == [users["tm2"].id]


def test_duplicate_check_json(as_user, make_customer):
    mine = make_customer("北京华信", stage="target", owner="tm", keyword="华信",
                         phone="010-62345678")
    client = as_user("tm")
    by_phone = client.get("/customers/duplicates?phone=(010)6234-5678").get_json()["matches"]
    assert by_phone == [dict(id=mine.id, name="北京华信", stage="target", stage_label="目标客户",
                             url=f"/customers/{mine.id}")]
    assert client.get("/customers/duplicates?keyword=华信").get_json()["matches"][0]["id"] == mine.id
    assert client.get("/customers/duplicates?name=北京").get_json() == {"matches": []}
    assert client.get("/customers/duplicates").get_json() == {"matches": []}


# --- Tracking screen -------------------------------------------------------------------------

def test_tracking_screen_records_in_company_time(as_user, session, users, clock, make_customer):
    c = make_customer("跟踪客户", stage="potential", owner="tm")
    client = as_user("tm")
    page = text(client.get(f"/customers/{c.id}/track"))
    assert "正在跟踪" in page and "新添联系" in page and "生成商机" in page and "话术" in page
    assert "Asia/Shanghai" in page and 'id="next-button"' not in page
    response = post(client, f"/customers/{c.id}/records",
                    {"method": "phone", "content": "客户要报价", "progress": "报价",
                     "callback_date": "2026-11-27", "callback_time": "09:30", "remind": "1",
                     "next": f"/customers/{c.id}/track"})
    assert response.headers["Location"] == f"/customers/{c.id}/track"
    record = session.scalar(select(ContactRecord))
    assert record.next_callback_at == dt.datetime(2026, 11, 27, 1, 30, tzinfo=dt.timezone.utc)
    assert record.remind and record.remind_at == record.next_callback_at
    assert fresh(session, c).next_callback_at == record.next_callback_at
    page = text(client.get(f"/customers/{c.id}/track"))
    assert "客户要报价" in page and "2026-11-27 09:30" in page
    bad = post(client, f"/customers/{c.id}/records", {"content": "x", "callback_date": "明天"})
    assert bad.status_code == 302
    assert session.scalar(select(func.count()).select_from(ContactRecord)) == 1


def test_tracking_creates_opportunity_and_order(as_user, session, users, make_customer):
    session.add(Product(name="呼叫中心软件", price=9800, unit="套", active=True))
    session.commit()
    product = session.scalar(select(Product))
    c = make_customer("商机客户甲", stage="potential", owner="tm")
    client = as_user("tm")
    assert "呼叫中心软件" in text(client.get(f"/customers/{c.id}/track"))
    post(client, f"/customers/{c.id}/opportunities",
         {"title": "一期项目", "state": "selling", "amount": "",
          "product_id": [str(product.id), ""], "quantity": ["2", "1"], "unit_price": ["", ""]})
    opp = session.scalar(select(Opportunity))
    assert (opp.title, opp.amount, opp.state) == ("一期项目", 19600, "selling")
    assert fresh(session, c).stage == "opportunity"  # C4
    post(client, f"/customers/{c.id}/orders",
         {"opportunity_id": str(opp.id), "product_id": [str(product.id)], "quantity": ["3"],
          "unit_price": ["9000"]})
    order = session.scalar(select(Order))
    assert (order.amount, order.number) == (27000, "SO20261126-0001")
    session.expire_all()
    assert session.get(Opportunity, opp.id).state == "paused"
    assert session.get(Customer, c.id).stage == "closed"
    response = post(client, f"/customers/{c.id}/orders", {"product_id": [""]})
    assert response.status_code == 302
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_next_walks_the_list_and_stops_at_the_end(as_user, session, users, clock,
                                                  make_customer):
    for name in ("B客户", "A客户", "C客户"):
        make_customer(name, stage="target", owner="tm")
    make_customer("D共享", stage="target", owner=None)
    make_customer("0别人的", stage="target", owner="tm2")
    client = as_user("tm")
    listing = text(client.get("/customers/target?tab=mine&sort=name"))
    first = re.search(r'href="(/customers/\d+/track\?[^"]+)"', listing).group(1)
    url, seen = first.replace("&amp;", "&"), []
    for _ in range(5):
        page = text(client.get(url))
        seen.append(re.search(r'id="customer-name">([^<]+)<', page).group(1))
        place = re.search(r'id="list-place">([^<]+)<', page).group(1)
        assert place == "%d / 3" % len(seen)
        if len(seen) == 1:  # work the customer: its callback changes, Next still goes on
            post(client, url.split("/track")[0] + "/records",
                 {"content": "下周再联系", "callback_date": "2026-12-03"})
        nxt = re.search(r'id="next-button" href="([^"]+)"', page).group(1).replace("&amp;", "&")
        response = client.get(nxt)
        assert response.status_code == 302
        url = response.headers["Location"]
        if seen[-1] == "C客户":
            break
    assert seen == ["A客户", "B客户", "C客户"]
    end = text(client.get(url))
    assert "这已是列表中的最后一个客户" in end and 'id="customer-name">C客户<' in end


# --- Contact records -------------------------------------------------------------------------

def test_records_list_edit_and_delete(as_user, session, users, clock, make_customer):
    a = make_customer("记录客户", stage="target", owner="tm")
    mine = add_contact_record(session, users["tm"], a.id, content="我的记录", clock=clock)
    b = make_customer("张军的客户", stage="target", owner="tm2")
    theirs = add_contact_record(session, users["tm2"], b.id, content="张军的记录", clock=clock)
    session.commit()
    tm = as_user("tm")
    page = text(tm.get("/records"))
    assert "我的记录" in page and "记录客户" in page and "张军的记录" not in page
    manager = text(as_user("mgr").get("/records"))
    assert "我的记录" in manager and "张军的记录" in manager
    # someone else's record: neither the form nor the post
    assert tm.get(f"/records/{theirs.id}/edit").status_code == 403
    assert post(tm, f"/records/{theirs.id}/edit", {"content": "改掉"}).status_code == 403
    assert post(tm, f"/records/{theirs.id}/delete").status_code == 403
    assert session.get(ContactRecord, theirs.id).content == "张军的记录"
    form = text(tm.get(f"/records/{mine.id}/edit"))
    assert "我的记录" in form
    response = post(tm, f"/records/{mine.id}/edit",
                    {"method": "visit", "content": "改过的记录", "progress": "已拜访",
                     "callback_date": "2026-11-30", "callback_time": "14:00"})
    assert response.status_code == 302
    session.expire_all()
    record = session.get(ContactRecord, mine.id)
    assert (record.content, record.method, record.next_callback_at) == (
        "改过的记录", "visit", dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.timezone.utc))
    assert session.get(Customer, a.id).next_callback_at == record.next_callback_at
    record_id = mine.id
    post(tm, f"/records/{record_id}/delete")
    session.expire_all()
    assert session.get(ContactRecord, record_id) is None
    assert session.get(Customer, a.id).next_callback_at is None
    assert tm.get("/records/999999/edit").status_code == 404


def test_records_page_in_english(as_user, session, users, clock, make_customer):
    c = make_customer("英文客户", stage="target", owner="tm")
    add_contact_record(session, users["tm"], c.id, content="call", method="wechat", clock=clock)
    session.commit()
    client = as_user("tm")
    post(client, "/language", {"lang": "en"})
    page = text(client.get("/records"))
    assert "Contact records" in page and "WeChat" in page and "Tracking progress" in page


# --- In the browser --------------------------------------------------------------------------

def test_in_browser_duplicate_hint_select_all_and_next(live_server, browser_page, session, users,
                                                       clock, make_customer):
    from tests.browser.chromium import log_in, shot

    make_customer("杭州西湖茶叶有限公司", stage="target", owner="tm", phone="0571-87654321",
                  contact_person="陈经理", city="杭州")
    make_customer("宁波港口物流", stage="target", owner="tm", city="宁波")
    make_customer("温州眼镜厂", stage="target", owner=None, city="温州")
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.wait_for_selector("#main-line")
    page.goto(live_server + "/customers/target?sort=name")
    page.check("#select-all")
    assert page.locator(".row-check:checked").count() == 2
    shot(page, "customers-target-list")

    page.goto(live_server + "/customers/new")
    page.fill("#f-name", "杭州西湖茶叶有限公司")
    hint = page.locator('.duplicate-hint[data-for="name"]')
    hint.locator("a").wait_for()
    assert "杭州西湖茶叶有限公司" in hint.inner_text() and "目标客户" in hint.inner_text()
    page.fill("#f-phone", "(0571) 8765-4321")
    page.locator("#f-phone").blur()
    page.locator('.duplicate-hint[data-for="phone"] a').wait_for()
    shot(page, "customers-new-duplicate")

    page.goto(live_server + "/customers/target?sort=name")
    page.click("#customer-list tbody tr:first-child a.btn-primary")
    page.wait_for_selector("#next-button")
    assert page.inner_text("#customer-name") == "宁波港口物流"
    shot(page, "customers-track")
    page.click("#next-button")
    page.wait_for_selector("#customer-name:has-text('杭州西湖茶叶有限公司')")
    assert page.inner_text("#list-place") == "2 / 2"
