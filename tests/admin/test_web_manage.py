"""Administration pages (C11): admins only, each form CSRF-protected, refusals change nothing."""
import dataclasses
import io
import re

import pytest
from sqlalchemy import func, select

from config.settings import Server
from models.company import get_setting
from models.crm.ownership import claim
from models.crm.query import enabled_fields
from models.errors import QuotaExceeded
from models.org.auth import verify_password
from models.schema import CallScript, Competitor, Document, Product, ResourceSite, Role, StageRule, User

from tests.web_helpers import committing, login, post

ADMIN_PAGES = ["/manage/", "/manage/users", "/manage/users/new", "/manage/roles",
               "/manage/stage-rules", "/manage/fields", "/manage/scripts", "/manage/scripts/new",
               "/manage/products", "/manage/products/new", "/manage/competitors",
               "/manage/competitors/new", "/manage/sites", "/manage/sites/new",
               "/manage/documents", "/manage/settings"]


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def count(session, model):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def fresh(session, model, key):
    session.expire_all()
    return session.get(model, key)


def role(session, code):
    session.expire_all()
    return session.scalar(select(Role).where(Role.code == code))


def can_log_in(app, session, username, password) -> bool:
    session.commit()
    response = login(app.test_client(), username, password)
    assert response.status_code in (302, 401)
    return response.status_code == 302


def text(response):
    return response.get_data(as_text=True)


# ---- who may enter ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tm", "rep", "mgr"])
def test_manage_pages_are_403_for_everyone_but_admins(as_user, users, session, name):
    client = as_user(name)
    for path in ADMIN_PAGES + [f"/manage/users/{users['tm'].id}"]:
        assert client.get(path).status_code == 403, path
    # and their forms refuse too, changing nothing
    assert post(client, "/manage/roles/telemarketer",
                {"daily_claim_quota": "0"}).status_code == 403
    assert post(client, "/manage/users/new", dict(username="sneaky", full_name="x",
                                                  password="long-enough",
                                                  role="admin")).status_code == 403
    assert post(client, "/manage/stage-rules/target",
                {"editable_fields": "name"}).status_code == 403
    assert post(client, "/manage/settings", {"company_name": "X",
                                             "time_zone": "UTC"}).status_code == 403
    assert role(session, "telemarketer").daily_claim_quota == 20
    assert session.scalar(select(User).where(User.username == "sneaky")) is None
    # no administration link in their menu
    assert 'href="/manage/"' not in text(client.get("/"))


def test_manage_pages_are_200_for_admin(as_user, users):
    client = as_user("admin")
    for path in ADMIN_PAGES + [f"/manage/users/{users['tm'].id}", "/manage/my-scripts"]:
        assert client.get(path).status_code == 200, path
    assert 'href="/manage/"' in text(client.get("/"))


def test_not_logged_in_goes_to_login(app, session):
    session.commit()
    response = app.test_client().get("/manage/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_forms_need_the_csrf_token(as_user, session):
    client = as_user("admin")
    response = client.post("/manage/roles/telemarketer", data={"daily_claim_quota": "3"})
    assert response.status_code == 400
    response = client.post("/manage/users/new", data=dict(username="nocsrf", full_name="x",
                                                          password="long-enough",
                                                          role="telemarketer"))
    assert response.status_code == 400
    assert role(session, "telemarketer").daily_claim_quota == 20
    assert session.scalar(select(User).where(User.username == "nocsrf")) is None


def test_index_in_chinese_then_english(as_user):
    client = as_user("admin")
    page = text(client.get("/manage/"))
    assert "系统管理" in page and "角色与权限" in page and "客户阶段规则" in page
    post(client, "/language", {"lang": "en"})
    page = text(client.get("/manage/"))
    assert "Roles and permissions" in page and "Stage rules" in page


# ---- users -----------------------------------------------------------------------------------

def new_user(**changes):
    return {**dict(username="zhao", full_name="赵敏", password="long-enough", role="sales_rep",
                   extension="8020", language="zh_CN"), **changes}


def test_create_user_then_log_in(as_user, app, session):
    client = as_user("admin")
    response = post(client, "/manage/users/new", new_user())
    assert response.status_code == 302
    page = text(client.get("/manage/users"))
    assert 'data-user="zhao"' in page and "赵敏" in page and "8020" in page
    user = session.scalar(select(User).where(User.username == "zhao"))
    assert user.role.code == "sales_rep" and verify_password(user.password_hash, "long-enough")
    assert can_log_in(app, session, "zhao", "long-enough")


@pytest.mark.parametrize("changes, message", [
    (dict(username="tm"), "用户名已存在：tm"),
    (dict(password="short"), "密码至少需要 8 个字符"),
    (dict(username="a b"), "用户名只能由"),
    (dict(full_name=""), "请填写姓名"),
    (dict(extension="abc"), "分机号只能包含"),
])
def test_create_user_refused_shows_why_and_keeps_input(as_user, session, changes, message):
    before = count(session, User)
    response = post(as_user("admin"), "/manage/users/new", new_user(**changes))
    assert response.status_code == 400
    page = text(response)
    assert 'id="form-error"' in page and message in page
    assert 'value="赵敏"' in page or changes.get("full_name") == ""
    assert 'value="long-enough"' not in page  # passwords are not echoed
    assert count(session, User) == before


def test_duplicate_username_in_english(as_user, session):
    client = as_user("admin")
    post(client, "/language", {"lang": "en"})
    response = post(client, "/manage/users/new", new_user(username="rep"))
    assert response.status_code == 400 and "The user name rep is taken" in text(response)
    assert count(session, User) == 5


def test_edit_user(as_user, session, users):
    client = as_user("admin")
    uid = users["tm"].id
    page = text(client.get(f"/manage/users/{uid}"))
    assert 'value="李红光"' in page
    response = post(client, f"/manage/users/{uid}", dict(full_name="李红光二", role="sales_manager",
                                                       extension="8101", language="en"))
    assert response.status_code == 302
    session.expire_all()
    user = fresh(session, User, uid)
    assert (user.full_name, user.role.code, user.extension, user.language) == \
        ("李红光二", "sales_manager", "8101", "en")
    # the username cannot be changed through the form
    post(client, f"/manage/users/{uid}", dict(username="hacked", full_name="李红光二",
                                              role="sales_manager", extension="", language="en"))
    session.expire_all()
    assert fresh(session, User, uid).username == "tm"


def test_an_extension_no_asterisk_server_takes_is_refused(as_user, app, session, users):
    """With several servers, each with its extensions, a phone outside them rings nowhere."""
    settings = app.config["DIALFUNNEL_SETTINGS"]
    app.config["DIALFUNNEL_SETTINGS"] = dataclasses.replace(settings, servers=[
        Server("pbx1", extensions=((8000, 8099),)), Server("pbx2", extensions=((8100, 8199),))])
    client = as_user("admin")
    before = count(session, User)
    response = post(client, "/manage/users/new", new_user(extension="8250"))
    assert response.status_code == 400
    assert "分机号 8250 不在任何 Asterisk 服务器的分机范围内" in text(response)
    assert count(session, User) == before
    assert post(client, "/manage/users/new", new_user(extension="8150")).status_code == 302
    uid = users["tm"].id
    users["tm"].extension = "9001"       # from before the servers were set: kept on other edits
    session.commit()
    edit = dict(full_name="李红光", role="telemarketer", language="zh_CN")
    assert post(client, f"/manage/users/{uid}", dict(edit, extension="9001")).status_code == 302
    response = post(client, f"/manage/users/{uid}", dict(edit, extension="9002"))
    assert response.status_code == 400 and "9002" in text(response)
    app.config["DIALFUNNEL_SETTINGS"] = settings          # one server, every extension
    assert post(client, f"/manage/users/{uid}", dict(edit, extension="9002")).status_code == 302
    session.expire_all()
    assert fresh(session, User, uid).extension == "9002"


def test_admin_cannot_demote_self(as_user, session, users):
    client = as_user("admin")
    uid = users["admin"].id
    response = post(client, f"/manage/users/{uid}", dict(full_name="管理员", role="telemarketer",
                                                         extension="", language="zh_CN"))
    assert response.status_code == 302
    assert "不能取消自己的管理员角色" in text(client.get(f"/manage/users/{uid}"))
    assert role(session, "admin").id == fresh(session, User, uid).role_id


def test_deactivate_and_reactivate(as_user, app, session, users):
    admin, tm = as_user("admin"), as_user("tm")
    uid = users["tm"].id
    assert post(admin, f"/manage/users/{uid}/active", {"active": "0"}).status_code == 302
    assert not fresh(session, User, uid).active
    assert tm.get("/").status_code == 302  # the open session ends
    assert not can_log_in(app, session, "tm", "pw-tm")
    assert "已停用" in text(admin.get("/manage/users"))
    post(admin, f"/manage/users/{uid}/active", {"active": "1"})
    assert can_log_in(app, session, "tm", "pw-tm")


def test_admin_cannot_deactivate_self(as_user, session, users):
    client = as_user("admin")
    uid = users["admin"].id
    page = text(client.get(f"/manage/users/{uid}"))
    assert "disabled" in page  # the button is off...
    response = post(client, f"/manage/users/{uid}/active", {"active": "0"})
    assert response.status_code == 302  # ...and the server refuses
    assert "不能停用自己的账号" in text(client.get(f"/manage/users/{uid}"))
    session.expire_all()
    assert fresh(session, User, uid).active
    assert client.get("/manage/users").status_code == 200


def test_reset_password(as_user, app, session, users):
    client = as_user("admin")
    rep = as_user("rep")
    uid = users["rep"].id
    assert post(client, f"/manage/users/{uid}/password", {"password": "short"}).status_code == 302
    assert "密码至少需要 8 个字符" in text(client.get(f"/manage/users/{uid}"))
    assert can_log_in(app, session, "rep", "pw-rep")
    post(client, f"/manage/users/{uid}/password", {"password": "brand-new-pw"})
    assert not can_log_in(app, session, "rep", "pw-rep")
    assert can_log_in(app, session, "rep", "brand-new-pw")
    assert rep.get("/").status_code == 302  # logged out by the reset
    # resetting one's own password keeps one logged in
    post(client, f"/manage/users/{users['admin'].id}/password", {"password": "admin-new-pw"})
    assert client.get("/manage/users").status_code == 200


def test_unknown_user_is_404(as_user):
    client = as_user("admin")
    assert client.get("/manage/users/999999").status_code == 404
    assert post(client, "/manage/users/999999/active", {"active": "0"}).status_code in (302, 404)


# ---- roles -----------------------------------------------------------------------------------

def role_form(quota, **flags):
    return {"daily_claim_quota": str(quota), **{k: "1" for k, v in flags.items() if v}}


def test_roles_page_lists_the_four_roles(as_user):
    page = text(as_user("admin").get("/manage/roles"))
    for code in ("telemarketer", "sales_rep", "sales_manager", "admin"):
        assert f'data-role="{code}"' in page
    assert "每日占有上限" in page and "可修改共享客户" in page


def test_role_permissions_saved(as_user, session):
    client = as_user("admin")
    response = post(client, "/manage/roles/telemarketer",
                    role_form(30, can_export=True, can_hear_others_recordings=True))
    assert response.status_code == 302
    tm_role = role(session, "telemarketer")
    assert tm_role.daily_claim_quota == 30 and tm_role.can_export
    assert tm_role.can_hear_others_recordings and not tm_role.can_edit_shared
    page = text(client.get("/manage/roles"))
    row = page[page.index('data-role="telemarketer"'):page.index('data-role="sales_rep"')]
    assert 'value="30"' in row and row.count("checked") == 2


@pytest.mark.parametrize("quota", ["-1", "10001", "lots"])
def test_bad_quota_refused(as_user, session, quota):
    client = as_user("admin")
    post(client, "/manage/roles/telemarketer", role_form(quota, can_delete=True))
    page = text(client.get("/manage/roles"))
    assert "每日占有上限必须是 0 到 10000 之间的整数" in page
    tm_role = role(session, "telemarketer")
    assert tm_role.daily_claim_quota == 20 and not tm_role.can_delete


def test_unknown_role_is_404(as_user):
    assert post(as_user("admin"), "/manage/roles/boss", role_form(5)).status_code in (302, 404)


def test_lowering_the_quota_stops_the_next_claim(as_user, session, users, clock, make_customer):
    first, second = make_customer(owner=None), make_customer(owner=None)
    claim(session, users["tm"], first.id, clock=clock)
    session.commit()
    post(as_user("admin"), "/manage/roles/telemarketer", role_form(1))
    session.expire_all()
    tm = session.get(User, users["tm"].id)
    with pytest.raises(QuotaExceeded):
        claim(session, tm, second.id, clock=clock)
    session.rollback()
    # and raising it again lets it through
    post(as_user("admin"), "/manage/roles/telemarketer", role_form(2))
    session.expire_all()
    claim(session, session.get(User, users["tm"].id), second.id, clock=clock)


# ---- stage rules -----------------------------------------------------------------------------

def test_stage_rule_editor(as_user, session):
    client = as_user("admin")
    page = text(client.get("/manage/stage-rules"))
    for stage in ("archive", "reserve", "target", "potential", "opportunity", "closed"):
        assert f'id="rule-{stage}"' in page
    assert 'value="name"' not in page  # the name is never offered
    response = post(client, "/manage/stage-rules/potential",
                    {"editable_fields": ["phone", "email"], "marks": ["tracking", "sales"],
                     "claim": "1", "release": "1", "promote": "1"})
    assert response.status_code == 302
    session.expire_all()
    rule = session.get(StageRule, "potential")
    assert rule.editable_fields == ["phone", "email"] and rule.marks == ["tracking", "sales"]
    assert rule.claim_allowed and rule.promote_allowed and not rule.demote_allowed


@pytest.mark.parametrize("data, message", [
    ({"editable_fields": ["phone", "password_hash"]}, "未知字段：password_hash"),
    ({"editable_fields": ["name"]}, "客户名称不能设为可修改字段"),
    ({"editable_fields": ["phone"], "marks": ["vip"]}, "未知的标记：vip"),
])
def test_bad_stage_rule_refused(as_user, session, data, message):
    client = as_user("admin")
    post(client, "/manage/stage-rules/target", data)
    assert message in text(client.get("/manage/stage-rules"))
    session.expire_all()
    rule = session.get(StageRule, "target")
    assert "password_hash" not in rule.editable_fields and "contact_person" in rule.editable_fields
    assert rule.claim_allowed and rule.marks == ["contact"]


def test_unknown_stage_refused(as_user, session):
    client = as_user("admin")
    post(client, "/manage/stage-rules/heaven", {"editable_fields": ["phone"]})
    assert session.get(StageRule, "heaven") is None


# ---- queryable fields ------------------------------------------------------------------------

def test_queryable_fields_toggle_and_order(as_user, session):
    client = as_user("admin")
    assert 'data-field="email"' in text(client.get("/manage/fields"))
    response = post(client, "/manage/fields", {"enabled": ["email", "city"], "order-email": "0",
                                               "order-city": "1"})
    assert response.status_code == 302
    session.expire_all()
    assert enabled_fields(session) == {"email", "city"}
    page = text(client.get("/manage/fields"))
    assert page.index('data-field="email"') < page.index('data-field="city"')


def test_unknown_queryable_field_refused(as_user, session):
    before = enabled_fields(session)
    client = as_user("admin")
    post(client, "/manage/fields", {"enabled": ["email", "password_hash"]})
    assert "未知字段：password_hash" in text(client.get("/manage/fields"))
    session.expire_all()
    assert enabled_fields(session) == before


# ---- company settings ------------------------------------------------------------------------

def test_company_settings(as_user, session):
    client = as_user("admin")
    assert "Asia/Shanghai" in text(client.get("/manage/settings"))
    response = post(client, "/manage/settings", {"company_name": "新达科技",
                                                 "time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    assert get_setting(session, "company.name") == "新达科技"
    assert get_setting(session, "company.time_zone") == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", ""])
def test_bad_time_zone_refused(as_user, session, zone):
    response = post(as_user("admin"), "/manage/settings", {"company_name": "坏时区公司",
                                                           "time_zone": zone})
    assert response.status_code == 400 and "无效的时区" in text(response)
    assert 'value="坏时区公司"' in text(response)
    assert get_setting(session, "company.time_zone") == "Asia/Shanghai"
    assert get_setting(session, "company.name") != "坏时区公司"


# ---- products, competitors, resource sites, reference scripts --------------------------------

def test_product_round_trip(as_user, session):
    client = as_user("admin")
    response = post(client, "/manage/products/new", dict(code="P-9", name="<b>坐席</b>", unit="个",
                                                         price="199.9", description="说明",
                                                         active="1"))
    assert response.status_code == 302
    product = session.scalar(select(Product))
    assert (product.code, product.unit, str(product.price), product.active) == \
        ("P-9", "个", "199.90", True)
    page = text(client.get("/manage/products"))
    assert "&lt;b&gt;坐席&lt;/b&gt;" in page and "<b>坐席</b>" not in page and "199.90" in page
    assert 'value="199.90"' in text(client.get(f"/manage/products/{product.id}"))
    post(client, f"/manage/products/{product.id}", dict(code="P-9", name="坐席", unit="个",
                                                        price="150", description=""))
    session.expire_all()
    product = session.get(Product, product.id)
    assert product.name == "坐席" and not product.active and product.price == 150
    product_id = product.id
    assert post(client, f"/manage/products/{product_id}/delete").status_code == 302
    assert count(session, Product) == 0
    assert client.get(f"/manage/products/{product_id}").status_code == 404
    assert post(client, f"/manage/products/{product_id}/delete").status_code == 404


def test_product_refusals(as_user, session):
    client = as_user("admin")
    post(client, "/manage/products/new", dict(code="P-1", name="软件", price="10", active="1"))
    for data, message in [(dict(code="P-2", name="软件", price="1"), "名称已存在：软件"),
                          (dict(code="P-1", name="别的", price="1"), "编号已存在：P-1"),
                          (dict(code="P-3", name="新", price="-5"), "单价必须是不小于 0 的金额")]:
        response = post(client, "/manage/products/new", data)
        assert response.status_code == 400 and message in text(response), data
    assert count(session, Product) == 1


def test_resource_site_url_scheme(as_user, session):
    client = as_user("admin")
    for url in ("javascript:alert(1)", "ftp://files.example.com", "www.example.com"):
        response = post(client, "/manage/sites/new", dict(name="黄页", url=url, sort_order="1"))
        assert response.status_code == 400
        assert "网址必须是以 http:// 或 https:// 开头的网址" in text(response)
    assert count(session, ResourceSite) == 0
    post(client, "/manage/sites/new", dict(name="黄页", url="https://b2b.example.cn", note="企业名录",
                                           sort_order="2"))
    site = session.scalar(select(ResourceSite))
    assert (site.url, site.sort_order) == ("https://b2b.example.cn", 2)
    page = text(client.get("/manage/sites"))
    assert 'href="https://b2b.example.cn"' in page and 'rel="noopener noreferrer"' in page
    response = post(client, f"/manage/sites/{site.id}", dict(name="黄页", url="javascript:x()"))
    assert response.status_code == 400
    session.expire_all()
    assert session.get(ResourceSite, site.id).url == "https://b2b.example.cn"


def test_competitor_round_trip(as_user, session):
    client = as_user("admin")
    post(client, "/manage/competitors/new", dict(name="同行甲", website="http://rival.example",
                                                 products="坐席系统", strengths="便宜",
                                                 weaknesses="服务差", note=""))
    rival = session.scalar(select(Competitor))
    assert (rival.strengths, rival.weaknesses, rival.note) == ("便宜", "服务差", None)
    assert "服务差" in text(client.get("/manage/competitors"))
    response = post(client, "/manage/competitors/new", dict(name="同行甲"))
    assert response.status_code == 400 and "名称已存在" in text(response)
    post(client, f"/manage/competitors/{rival.id}/delete")
    assert count(session, Competitor) == 0


def test_reference_scripts(as_user, session):
    client = as_user("admin")
    post(client, "/manage/scripts/new", dict(title="开场白", stage="target", body="您好，我是……"))
    script = session.scalar(select(CallScript))
    assert (script.kind, script.owner_id, script.stage) == ("reference", None, "target")
    page = text(client.get("/manage/scripts"))
    assert "开场白" in page and "目标客户" in page
    response = post(client, "/manage/scripts/new", dict(title="", stage="", body="x"))
    assert response.status_code == 400 and "请填写标题" in text(response)
    post(client, f"/manage/scripts/{script.id}", dict(title="开场白二", stage="", body="新内容"))
    session.expire_all()
    assert (script.title, script.stage, script.body) == ("开场白二", None, "新内容")
    post(client, f"/manage/scripts/{script.id}/delete")
    assert count(session, CallScript) == 0


# ---- personal scripts ------------------------------------------------------------------------

def test_personal_scripts_are_private(as_user, session, users):
    tm, tm2, admin = as_user("tm"), as_user("tm2"), as_user("admin")
    assert tm.get("/manage/my-scripts").status_code == 200
    assert post(tm, "/manage/my-scripts/new", dict(title="我的开场白", stage="potential",
                                                   body="王总您好")).status_code == 302
    script = session.scalar(select(CallScript))
    assert (script.kind, script.owner_id) == ("personal", users["tm"].id)
    assert "我的开场白" in text(tm.get("/manage/my-scripts"))
    for other in (tm2, admin):
        assert "我的开场白" not in text(other.get("/manage/my-scripts"))
        assert other.get(f"/manage/my-scripts/{script.id}").status_code == 404
        assert post(other, f"/manage/my-scripts/{script.id}",
                    dict(title="改了", body="改了")).status_code == 404
        assert post(other, f"/manage/my-scripts/{script.id}/delete").status_code == 404
    assert "我的开场白" not in text(admin.get("/manage/scripts"))
    assert admin.get(f"/manage/scripts/{script.id}").status_code == 404
    session.expire_all()
    assert session.get(CallScript, script.id).title == "我的开场白"
    # the owner edits and deletes it
    post(tm, f"/manage/my-scripts/{script.id}", dict(title="新开场白", stage="", body="您好"))
    session.expire_all()
    assert session.get(CallScript, script.id).title == "新开场白"
    post(tm, f"/manage/my-scripts/{script.id}/delete")
    assert count(session, CallScript) == 0


def test_personal_script_page_has_no_admin_menu_for_agents(as_user):
    page = text(as_user("tm").get("/manage/my-scripts"))
    assert "/manage/users" not in page and "我的话术" in page


# ---- documents -------------------------------------------------------------------------------

def upload(client, data: bytes, filename: str, title: str = ""):
    return post(client, "/manage/documents/upload",
                {"title": title, "file": (io.BytesIO(data), filename)},
                content_type="multipart/form-data")


def test_document_upload_download_delete(as_user, app, session):
    admin = as_user("admin")
    assert upload(admin, b"%PDF-1.4 price list", "../../产品价目表.pdf", "价目表").status_code == 302
    doc = session.scalar(select(Document))
    assert doc.customer_id is None and doc.filename == "产品价目表.pdf" and doc.title == "价目表"
    folder = app.config["DATA_DIR"] / "documents"
    assert [p.name for p in folder.iterdir()] == [doc.storage_key]
    assert "产品价目表" not in doc.storage_key and "/" not in doc.storage_key
    assert "价目表" in text(admin.get("/manage/documents"))
    # any logged-in user downloads it, under its own name
    response = as_user("tm").get(f"/manage/documents/{doc.id}/download")
    assert response.status_code == 200 and response.data == b"%PDF-1.4 price list"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "%E4%BA%A7%E5%93%81" in disposition
    assert response.headers["Content-Type"] == "application/pdf"
    # agents may not list, upload or delete
    tm = as_user("tm")
    assert tm.get("/manage/documents").status_code == 403
    assert upload(tm, b"x", "x.txt").status_code == 403
    assert post(tm, f"/manage/documents/{doc.id}/delete").status_code == 403
    doc_id = doc.id
    assert post(admin, f"/manage/documents/{doc_id}/delete").status_code == 302
    assert count(session, Document) == 0 and list(folder.iterdir()) == []
    assert tm.get(f"/manage/documents/{doc_id}/download").status_code == 404


def test_html_upload_is_only_ever_a_download(as_user, session):
    admin = as_user("admin")
    upload(admin, b"<script>alert(1)</script>", "page.html")
    doc = session.scalar(select(Document))
    response = admin.get(f"/manage/documents/{doc.id}/download")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_upload_refusals(as_user, app, session):
    admin = as_user("admin")
    response = upload(admin, b"x" * (20 * 1024 * 1024 + 1), "big.zip")
    assert response.status_code == 302
    assert "文件太大（最大 20 MB）" in text(admin.get("/manage/documents"))
    upload(admin, b"", "empty.txt")
    assert "文件是空的" in text(admin.get("/manage/documents"))
    post(admin, "/manage/documents/upload", {"title": "没有文件"})
    assert "请选择要上传的文件" in text(admin.get("/manage/documents"))
    assert count(session, Document) == 0
    folder = app.config["DATA_DIR"] / "documents"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_no_path_outside_the_documents_folder(as_user, app, session, users, make_customer):
    data_dir = app.config["DATA_DIR"]
    (data_dir / "private.txt").write_text("top secret")
    client = as_user("tm")
    for path in ("/manage/documents/../secret_key/download",
                 "/manage/documents/..%2fsecret_key/download",
                 "/manage/documents/%2e%2e/%2e%2e/private.txt/download",
                 "/manage/documents/-1/download", "/manage/documents/private.txt/download"):
        response = client.get(path)
        assert response.status_code in (404, 405), path
        assert b"top secret" not in response.data and b"test-secret" not in response.data
    # a row whose key points outside the folder (a tampered or foreign row) is refused
    for key in ("../private.txt", "../../private.txt", str(data_dir / "private.txt"),
                "documents/../../private.txt"):
        session.add(Document(title="x", filename="x.txt", storage_key=key,
                             created_at=make_customer().created_at))
        session.commit()
        doc_id = session.scalar(select(func.max(Document.id)))
        response = client.get(f"/manage/documents/{doc_id}/download")
        assert response.status_code == 404 and b"top secret" not in response.data, key
    # customer documents are not served here
    c = make_customer(owner="tm2")
    (data_dir / "documents").mkdir(exist_ok=True)
    (data_dir / "documents" / "custkey").write_bytes(b"customer contract")
    session.add(Document(customer_id=c.id, title="合同", filename="c.pdf", storage_key="custkey",
                         created_at=c.created_at))
    session.commit()
    doc_id = session.scalar(select(func.max(Document.id)))
    assert client.get(f"/manage/documents/{doc_id}/download").status_code == 404
    # a hostile filename never becomes a path
    upload(as_user("admin"), b"payload", "../../../private.txt")
    assert (data_dir / "private.txt").read_text() == "top secret"
    doc = session.scalar(select(Document).order_by(Document.id.desc()))
    assert doc.filename == "private.txt" and re.fullmatch(r"[0-9a-f]{32}", doc.storage_key)


# ---- in the browser --------------------------------------------------------------------------

def test_in_browser_confirm_delete_and_upload_size(live_server, browser_page, session, users,
                                                   tmp_path):
    from models.library.catalogue import save_product

    from tests.browser.chromium import log_in, shot
    save_product(session, code="P-1", name="呼叫中心软件", price="1280", active=True)
    session.commit()
    page = browser_page
    log_in(page, live_server, "admin", "pw-admin")
    page.wait_for_selector("#main-line")
    for path, name in [("/manage/", "index"), ("/manage/users", "users"),
                       ("/manage/roles", "roles"), ("/manage/stage-rules", "stage-rules"),
                       ("/manage/fields", "fields"), ("/manage/settings", "settings")]:
        page.goto(live_server + path)
        shot(page, "manage-" + name)
    page.goto(live_server + "/manage/products")
    shot(page, "manage-products")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#library button.btn-outline-danger")
    assert page.locator("#library tbody tr").count() == 1  # dismissed: still there
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#library button.btn-outline-danger")
    page.wait_for_selector("#empty")
    page.goto(live_server + "/manage/documents")
    big = tmp_path / "big.bin"      # a path, not a buffer: 20 MB through the driver pipe is slow
    big.write_bytes(b"x" * (20 * 1024 * 1024 + 1))
    page.set_input_files("#file", files=[str(big)])
    assert page.evaluate("document.getElementById('file').validity.valid") is False
    page.set_input_files("#file", files=[{"name": "ok.txt", "mimeType": "text/plain",
                                          "buffer": b"hello"}])
    assert page.evaluate("document.getElementById('file').validity.valid") is True
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#documents")
    shot(page, "manage-documents")
    assert count(session, Product) == 0 and count(session, Document) == 1


def test_ivr_call_log_page(as_user, session, clock):
    from models.telephony.ivr import log_ivr_call
    log_ivr_call(session, uniqueid="1700000000.1", flow="main", outcome="TRANSFER",
                 started_at=clock.now(), duration_ms=12500, caller_id="13812345678",
                 path=["welcome", "main_menu", "to_agent"], digits=[["main_menu", "0"]],
                 exit_to="queue:sales")
    log_ivr_call(session, uniqueid="1700000000.2", flow="main", outcome="HANGUP",
                 started_at=clock.now(), duration_ms=3000, caller_id="unknown",
                 path=["welcome"], digits=[])
    session.commit()
    admin = as_user("admin")
    page = admin.get("/manage/ivr-calls").get_data(as_text=True)
    assert "语音导航通话" in page and "welcome › main_menu › to_agent" in page
    assert "queue:sales" in page and "12.5" in page and "HANGUP" in page
    # an unknown caller's callback request: waiting, with the reserve customer it became
    from models.telephony.ivr import request_callback
    done = request_callback(session, "13600001111", clock=clock)
    log_ivr_call(session, uniqueid="1700000000.3", flow="main", outcome="CALLBACK",
                 started_at=clock.now(), duration_ms=9000, caller_id="13600001111", callback=done)
    session.commit()
    page = admin.get("/manage/ivr-calls").get_data(as_text=True)
    assert f'href="/customers/{done.customer.id}">+8613600001111</a>' in page
    only = admin.get("/manage/ivr-calls?outcome=HANGUP").get_data(as_text=True)
    assert "queue:sales" not in only and "HANGUP" in only
    assert as_user("mgr").get("/manage/ivr-calls").status_code == 403


def test_prompt_upload_converts_for_asterisk(as_user, app, tmp_path):
    import io
    import subprocess
    import wave

    from tests.web_helpers import post
    src = tmp_path / "hello.ogg"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=1", "-ar", "44100", "-ac", "2", str(src)],
                   check=True)
    admin = as_user("admin")
    page = post(admin, "/manage/prompts", {"prompt_id": "welcome",
                                           "audio": (io.BytesIO(src.read_bytes()), "hello.ogg")},
                content_type="multipart/form-data", follow_redirects=True)
    assert "已改为播放您上传的录音" in page.get_data(as_text=True)
    folder = app.config["DATA_DIR"] / "sounds" / "dialfunnel"
    with wave.open(str(folder / "welcome.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert (folder / "welcome.gsm").exists() and (folder / "welcome.ulaw").exists()
    assert "上传的录音" in admin.get("/manage/prompts").get_data(as_text=True)
    bad = post(admin, "/manage/prompts", {"prompt_id": "goodbye",
                                          "audio": (io.BytesIO(b"not audio at all"), "x.mp3")},
               content_type="multipart/form-data", follow_redirects=True)
    assert "alert-danger" in bad.get_data(as_text=True)
    assert not (folder / "goodbye.wav").exists()
    sneaky = post(admin, "/manage/prompts", {"prompt_id": "../etc",
                                             "audio": (io.BytesIO(src.read_bytes()), "a.ogg")},
                  content_type="multipart/form-data", follow_redirects=True)
    assert "小写字母" in sneaky.get_data(as_text=True)
    assert as_user("mgr").get("/manage/prompts").status_code == 403
