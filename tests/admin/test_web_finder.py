"""C8 through the web: simple and advanced queries, presets, visibility, errors, export,
print, both languages."""
import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook

from models.crm.finder import find_customers, offered_fields, parse_tree, simple_tree
from models.crm.sales import create_order
from models.errors import InvalidQuery
from models.schema import QueryableField

from tests.web_helpers import post

ROW = re.compile(r'<tr data-id="(\d+)">')


def ids(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return [int(i) for i in ROW.findall(response.get_data(as_text=True))]


def find(client, **args):
    return client.get("/find", query_string=args)


@pytest.fixture
def people(make_customer):
    return dict(
        mine_sh=make_customer("上海软件", owner="tm", city="上海", industry="软件"),
        other_sh=make_customer("上海物流", owner="tm2", city="上海", industry="物流"),
        shared_sh=make_customer("上海贸易", owner=None, city="上海", industry="贸易"),
        mine_bj=make_customer("北京软件", owner="tm", city="北京", industry="软件",
                              stage="potential"),
        both_sz=make_customer("深圳协同", owner=["tm2", "rep"], city="深圳", industry="软件"),
    )


def test_simple_search_exact_results_within_visibility(as_user, people):
    tm = as_user("tm")
    got = ids(find(tm, field="city", op="eq", value="上海"))
    assert sorted(got) == sorted([people["mine_sh"].id, people["shared_sh"].id])
    page = find(tm, field="city", op="eq", value="上海").get_data(as_text=True)
    assert "上海物流" not in page and "2 个客户" in page
    assert 'id="query-description">城市 等于 “上海”<' in page
    # the manager sees everybody's
    got = ids(find(as_user("mgr"), field="city", op="eq", value="上海"))
    assert sorted(got) == sorted([people["mine_sh"].id, people["other_sh"].id,
                                  people["shared_sh"].id])
    # collaborative: its operators see it, tm does not
    assert ids(find(tm, field="industry", op="contains", value="软件")) == [
        people["mine_sh"].id, people["mine_bj"].id]
    assert ids(find(as_user("rep"), field="industry", op="contains", value="软件")) == [
        people["both_sz"].id]


def test_simple_search_operators_stage_filter_and_sort(as_user, people):
    tm = as_user("tm")
    assert ids(find(tm, field="city", op="ne", value="上海")) == [people["mine_bj"].id]
    assert ids(find(tm, field="industry", op="not_contains", value="软件")) == [
        people["shared_sh"].id]
    assert ids(find(tm, field="city", op="is_not_empty", stage="potential")) == [
        people["mine_bj"].id]
    assert ids(find(tm, field="city", op="is_empty")) == []
    assert ids(find(tm, field="city", op="is_not_empty", sort="name", dir="desc")) == [
        people["mine_bj"].id, people["mine_sh"].id, people["shared_sh"].id]   # code points
    assert ids(find(tm, field="stage", op="eq", value="potential")) == [people["mine_bj"].id]


def test_advanced_nested_and_or(as_user, people):
    tree = {"all": [{"any": [{"field": "city", "op": "eq", "value": "上海"},
                             {"field": "city", "op": "eq", "value": "北京"},
                             {"field": "city", "op": "eq", "value": "深圳"}]},
                    {"field": "industry", "op": "contains", "value": "软件"}]}
    q = json.dumps(tree, ensure_ascii=False)
    assert ids(find(as_user("tm"), mode="advanced", q=q)) == [people["mine_sh"].id,
                                                             people["mine_bj"].id]
    assert ids(find(as_user("mgr"), mode="advanced", q=q)) == [
        people["mine_sh"].id, people["mine_bj"].id, people["both_sz"].id]
    page = find(as_user("tm"), mode="advanced", q=q).get_data(as_text=True)
    assert "(城市 等于 “上海” 或者 城市 等于 “北京” 或者 城市 等于 “深圳”) 并且 行业 包含 “软件”" in page
    # the tree comes back in the hidden field for further editing (escaped)
    assert 'id="f-q" value="{&#34;all&#34;' in page
    # a simple search offers its condition to the advanced form
    simple = find(as_user("tm"), field="city", op="eq", value="上海").get_data(as_text=True)
    assert "mode=advanced&amp;q=" in simple


def test_paging_fifty_per_page(as_user, make_customer):
    made = [make_customer("批量%02d" % i, owner=None, city="杭州") for i in range(55)]
    tm = as_user("tm")
    first = ids(find(tm, field="city", op="eq", value="杭州"))
    second = ids(find(tm, field="city", op="eq", value="杭州", page=2))
    assert first == [c.id for c in made[:50]] and second == [c.id for c in made[50:]]
    last = find(tm, field="city", op="eq", value="杭州", page=9).get_data(as_text=True)
    assert 'aria-current="page"><span class="page-link">2<' in last and 'data-page="1"' in last
    assert "下一页" in last and "上一页" in last and "第 51–55 条" in last
    twenty = find(tm, field="city", op="eq", value="杭州", per=20, page=3)
    assert ids(twenty) == [c.id for c in made[40:55]]


def test_reserve_presets(as_user, session, users, clock, make_customer):
    sold = make_customer("已成交", stage="closed", owner="tm2", industry="软件", city="上海",
                         source="展会")
    create_order(session, users["tm2"], sold.id, [dict(product_name="x", quantity=1,
                                                        unit_price=1)], clock=clock)
    session.commit()
    hit = make_customer("储备软件", stage="reserve", owner=None, industry="软件", city="广州")
    make_customer("储备物流", stage="reserve", owner=None, industry="物流", city="上海")
    hidden = make_customer("别人的储备", stage="reserve", owner="tm2", industry="软件")
    make_customer("目标软件", stage="target", owner=None, industry="软件")
    tm = as_user("tm")
    assert ids(find(tm, preset="order_industries")) == [hit.id]
    city = ids(find(tm, preset="order_cities"))
    assert len(city) == 1 and city != [hit.id]
    assert ids(find(tm, preset="opportunity_industries")) == []
    assert sorted(ids(find(as_user("mgr"), preset="order_industries"))) == [hit.id, hidden.id]
    page = find(tm, preset="order_industries").get_data(as_text=True)
    assert "所属订单行业的储备客户" in page and "别人的储备" not in page


def test_invalid_queries_show_the_message(as_user, session, people):
    tm = as_user("tm")
    cases = [
        (dict(field="id", op="eq", value="1"), "不能按此字段查询"),           # not enabled
        (dict(field="password_hash", op="eq", value="x"), "不能按此字段查询"),
        (dict(field="city", op="regex", value="x"), "未知的查询条件"),
        (dict(field="created_at", op="ge", value="明天"), "查询值无效"),
        (dict(field="phone", op="ge", value="1"), "未知的查询条件"),
        (dict(mode="advanced", q="{not json"), "查询条件无效"),
        (dict(mode="advanced", q="[" * 19000), "查询条件无效"),
        (dict(mode="advanced", q=json.dumps({"all": [{"field": "city", "op": "eq",
                                                     "value": {"$ne": 1}}]})), "查询值无效"),
        (dict(mode="advanced", q=json.dumps({"all": []})), "查询条件无效"),
        (dict(preset="order_everything"), "未知的预设查询"),
        (dict(field="city", op="eq", value="上海", stage="won"), "无效的客户阶段"),
    ]
    deep = {"field": "city", "op": "eq", "value": "上海"}
    for _ in range(7):
        deep = {"all": [deep]}
    cases.append((dict(mode="advanced", q=json.dumps(deep)), "查询条件嵌套太深"))
    for args, message in cases:
        response = find(tm, **args)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, args
        assert 'id="query-error"' in page and message in page, args
        assert 'id="results"' not in page
    # an admin enabling the field makes it searchable
    session.get(QueryableField, "id").enabled = True
    session.commit()
    assert ids(find(tm, field="id", op="eq", value=str(people["mine_sh"].id))) == [
        people["mine_sh"].id]


def test_only_enabled_fields_are_offered(as_user, session):
    page = as_user("tm").get("/find").get_data(as_text=True)
    assert '<option value="city" data-kind="text"' in page
    assert '<option value="id"' not in page and '<option value="email"' not in page
    assert "大于等于" in page and "不等于空" in page and "不包含" in page
    session.get(QueryableField, "city").enabled = False
    session.commit()
    page = as_user("tm").get("/find").get_data(as_text=True)
    assert '<option value="city"' not in page
    assert "不能按此字段查询" in find(as_user("tm"), field="city", op="eq",
                                      value="x").get_data(as_text=True)


def test_export_needs_the_export_permission(as_user, people):
    args = dict(field="city", op="eq", value="上海")
    assert find(as_user("tm"), export="xlsx", **args).status_code == 403
    assert find(as_user("tm"), export="csv", **args).status_code == 403
    assert "Export" not in find(as_user("tm"), **args).get_data(as_text=True)
    rep = as_user("rep")
    page = find(rep, **args).get_data(as_text=True)
    assert "导出到 Excel" in page
    response = find(rep, export="xlsx", **args)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.values)
    assert rows[0][:3] == ("编号", "客户名称", "客户阶段")
    assert [r[1] for r in rows[1:]] == ["上海贸易"]          # rep sees only the shared one
    text = find(as_user("mgr"), export="csv", **args).data.decode("utf-8-sig")
    names = [r[1] for r in csv.reader(io.StringIO(text))][1:]
    assert names == ["上海软件", "上海物流", "上海贸易"]
    assert find(rep, export="pdf", **args).status_code == 400
    assert find(rep, export="xlsx").status_code == 400        # nothing searched


def test_print_view(as_user, people):
    page = find(as_user("tm"), print=1, field="city", op="eq", value="上海")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "print-view" in text
    assert "上海软件" in text and "上海贸易" in text and "上海物流" not in text
    assert "data-print" in text


def test_links_escaping_and_english(as_user, make_customer, app):
    c = make_customer("<b>粗体</b>公司", owner="tm", city="上海")
    tm = as_user("tm")
    page = find(tm, field="city", op="eq", value="<script>").get_data(as_text=True)
    assert "<script>" not in page.split('id="finder-config"')[0].split("</nav>")[1]
    page = find(tm, field="city", op="eq", value="上海").get_data(as_text=True)
    assert "&lt;b&gt;粗体&lt;/b&gt;公司" in page and "<b>粗体" not in page
    if "customers.detail" in app.view_functions:
        with app.test_request_context():
            from flask import url_for
            assert f'<a href="{url_for("customers.detail", customer_id=c.id)}">' in page
    else:
        assert "<td>\n        &lt;b&gt;粗体" in page or "&lt;b&gt;粗体&lt;/b&gt;公司</td>" in page
    post(tm, "/language", {"lang": "en"})
    page = find(tm, field="city", op="eq", value="上海").get_data(as_text=True)
    assert "Find customers" in page and "Customers found: 1" in page
    assert "City equals “上海”" in page and "Reserve in the industries of our orders" in page


def test_login_required(app):
    response = app.test_client().get("/find")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# -- models.crm.finder ----------------------------------------------------------------------------

def test_find_customers_model(session, users, people):
    names = lambda stmt: [c.name for c in session.scalars(stmt)]  # noqa: E731
    tree = simple_tree("city", "eq", "上海")
    assert names(find_customers(session, users["tm"], tree=tree)) == ["上海软件", "上海贸易"]
    assert names(find_customers(session, users["tm2"], tree=tree, sort="name")) == [
        "上海物流", "上海贸易"]
    assert names(find_customers(session, users["tm"], tree=simple_tree("city", "is_not_empty",
                                                                       "ignored"),
                                stage="archive")) == []
    assert simple_tree("city", "is_empty", "x") == {"field": "city", "op": "is_empty"}
    with pytest.raises(InvalidQuery):
        find_customers(session, users["tm"])
    with pytest.raises(InvalidQuery):
        parse_tree("x" * 30000)
    assert offered_fields(session)[:3] == [("name", "text"), ("keyword", "text"),
                                           ("contact_person", "text")]
