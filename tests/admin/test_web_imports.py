"""Import pages: templates, upload and background jobs, the report, web collection."""
from __future__ import annotations

import io
import re
import time

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models.imports import templates as import_templates
from models.schema import Customer, ImportJob, ImportTemplate, ResourceSite

from tests.import_helpers import MAPPING, company_rows, random_bytes, xlsx_bytes, zip_bomb
from tests.web_helpers import post

# The test session must never stay in a transaction while the app or an import thread works:
# on SQLite every transaction holds the database's write lock. So tests read through
# `peek`, which ends its transaction, and keep ids (not ORM objects, which a rollback expires).

@pytest.fixture
def ids(users) -> dict[str, int]:
    return {name: user.id for name, user in users.items()}


@pytest.fixture
def template(session, users, clock) -> int:
    made = import_templates.save_template(session, users["tm"], None, name="标准模板",
                                          mapping=MAPPING, header_rows=1, clock=clock)
    session.commit()
    return made.id


def peek(session, read):
    session.rollback()
    try:
        return read()
    finally:
        session.rollback()


def customers(session) -> int:
    return peek(session, lambda: session.scalar(select(func.count()).select_from(Customer)))


def jobs(session) -> list[int]:
    return peek(session, lambda: list(session.scalars(select(ImportJob.id))))


def customer_row(session, name: str) -> dict:
    def read():
        c = session.scalar(select(Customer).where(Customer.name == name))
        return dict(stage=c.stage, source=c.source, ownership=c.ownership,
                    operator_ids=c.operator_ids, mobile_e164=c.mobile_e164) if c else None
    return peek(session, read)


def template_row(session, template_id: int):
    def read():
        t = session.get(ImportTemplate, template_id, populate_existing=True)
        return dict(name=t.name, mapping=t.mapping, header_rows=t.header_rows,
                    owner_id=t.owner_id) if t else None
    return peek(session, read)


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def upload(client, data: bytes, *, filename="客户.xlsx", **fields):
    form = {"template": "", "stage": "reserve", "operator": "", "next": "/imports", **fields,
            "file": (io.BytesIO(data), filename)}
    return post(client, "/imports", form, content_type="multipart/form-data")


def wait_for(client, session, job_id: int, timeout: float = 60) -> dict:
    session.rollback()
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/imports/jobs/{job_id}", headers={"Accept": "application/json"})
        assert response.status_code == 200
        data = response.get_json()
        if data["finished"]:
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.05)


def started_job_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith("/imports/jobs/") and location.endswith("/view")
    return int(location.split("/")[3])


# ------------------------------------------------------------------------------------------
# templates

def test_template_editor_create_edit_delete(as_user, session, ids):
    client = as_user("tm")
    page = client.get("/imports/templates/new").get_data(as_text=True)
    assert "新建导入模板" in page and page.count('name="col"') == 5
    form = {"name": "展会名单", "header_rows": "1", "col": ["name", "", "phone"], "action": "add"}
    page = post(client, "/imports/templates/new", form).get_data(as_text=True)
    assert page.count('name="col"') == 4
    assert '<option value="phone" selected>电话</option>' in page
    form["action"] = "remove:1"
    page = post(client, "/imports/templates/new", form).get_data(as_text=True)
    assert page.count('name="col"') == 2
    form["action"] = "save"
    form["col"] = ["", "phone"]          # no company name column
    refused = post(client, "/imports/templates/new", form)
    assert refused.status_code == 400 and "必须有且只有一列是“客户名称”" in refused.get_data(as_text=True)
    form["col"] = ["name", "", "phone"]
    saved = post(client, "/imports/templates/new", form)
    assert saved.status_code == 302
    tid = peek(session, lambda: session.scalar(select(ImportTemplate.id)
                                               .where(ImportTemplate.name == "展会名单")))
    assert template_row(session, tid) == dict(name="展会名单", mapping=["name", None, "phone"],
                                              header_rows=1, owner_id=ids["tm"])
    listing = client.get("/imports/templates").get_data(as_text=True)
    assert "展会名单" in listing and "A: 客户名称, B: 跳过, C: 电话" in plain(listing)
    assert f"/imports/templates/{tid}/edit" in listing
    edit = client.get(f"/imports/templates/{tid}/edit").get_data(as_text=True)
    assert 'value="展会名单"' in edit and edit.count('name="col"') == 3
    form.update(name="展会名单2", header_rows="2")
    assert post(client, f"/imports/templates/{tid}/edit", form).status_code == 302
    assert template_row(session, tid)["header_rows"] == 2
    assert post(client, f"/imports/templates/{tid}/delete").status_code == 302
    assert template_row(session, tid) is None


def test_template_rights_and_csrf(as_user, session, template):
    other = as_user("tm2")
    listing = other.get("/imports/templates").get_data(as_text=True)
    assert "标准模板" in listing and f"/imports/templates/{template}/edit" not in listing
    assert other.get(f"/imports/templates/{template}/edit").status_code == 403
    form = {"name": "偷改", "header_rows": "1", "col": ["name"], "action": "save"}
    assert post(other, f"/imports/templates/{template}/edit", form).status_code == 403
    assert post(other, f"/imports/templates/{template}/delete").status_code == 403
    assert other.get("/imports/templates/999/edit").status_code == 404
    owner = as_user("tm")
    assert owner.post(f"/imports/templates/{template}/delete").status_code == 400  # no token
    assert template_row(session, template)["name"] == "标准模板"
    admin = as_user("admin")
    assert post(admin, f"/imports/templates/{template}/edit", form).status_code == 302
    assert template_row(session, template)["name"] == "偷改"


# ------------------------------------------------------------------------------------------
# importing

def test_import_page_in_chinese_and_english(as_user, template, ids):
    client = as_user("tm")
    page = client.get("/imports").get_data(as_text=True)
    assert "从 Excel 导入客户" in page and "标准模板" in page and "储备客户" in page
    assert "客户档案" in page and 'value="shared"' in page     # for themselves or shared
    assert "张军" not in page                                    # nor for somebody else
    assert f'<option value="{ids["tm"]}" selected>' in page
    post(client, "/language", {"lang": "en"})
    page = client.get("/imports").get_data(as_text=True)
    assert "Import customers from Excel" in page and "Allow duplicate names" in page
    assert 'value="shared"' in as_user("mgr").get("/imports").get_data(as_text=True)


def test_import_through_the_web_end_to_end(as_user, session, ids, template):
    client = as_user("tm")
    rows = company_rows(300)
    rows[10][0] = rows[5][0]                             # row 11 repeats row 6's name
    response = upload(client, xlsx_bytes(rows), template=template, stage="target",
                      operator=ids["tm"], allow_duplicates="1")
    job_id = started_job_id(response)
    page = client.get(f"/imports/jobs/{job_id}/view").get_data(as_text=True)
    assert "客户.xlsx" in page and "imports.js" in page
    data = wait_for(client, session, job_id)
    assert data == dict(data, status="done", finished=True, percent=100, total_rows=300,
                        imported=299, duplicates=1, rejected=0, error=None)
    assert customers(session) == 299
    c = customer_row(session, rows[1][0])
    assert (c["stage"], c["operator_ids"], c["mobile_e164"]) == ("target", [ids["tm"]],
                                                                 "+8613800000001")
    page = client.get(f"/imports/jobs/{job_id}/view").get_data(as_text=True)
    assert "data-poll" not in page and "下载导入结果" in page
    assert "与第 6 行的客户名称重复" in page and "重复，已跳过" in page
    report = client.get(f"/imports/jobs/{job_id}/report")
    assert report.status_code == 200 and report.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(report.get_data()), read_only=True).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0] == ["行号", "客户名称", "结果", "原因", "提示"] and len(table) == 301
    assert table[1] == [2, rows[1][0], "已导入", None, None]
    assert table[10] == [11, rows[5][0], "重复，已跳过", "与第 6 行的客户名称重复", None]
    listing = client.get("/imports").get_data(as_text=True)
    assert f"/imports/jobs/{job_id}/view" in listing and "已完成" in listing


def test_rejected_rows_import_nothing_and_are_listed(as_user, session, ids, template):
    client = as_user("tm")
    rows = company_rows(20)
    rows[3][0] = None
    job_id = started_job_id(upload(client, xlsx_bytes(rows), template=template,
                                   operator=ids["tm"]))
    data = wait_for(client, session, job_id)
    assert (data["status"], data["imported"], data["rejected"]) == ("rejected", 0, 1)
    assert customers(session) == 0
    page = client.get(f"/imports/jobs/{job_id}/view").get_data(as_text=True)
    assert "客户名称不能为空" in page and "没有导入任何客户" in page


def test_job_is_only_for_its_owner_and_admins(as_user, session, ids, template):
    owner = as_user("tm")
    job_id = started_job_id(upload(owner, xlsx_bytes(company_rows(3)), template=template,
                                   operator=ids["tm"]))
    wait_for(owner, session, job_id)
    for name in ("tm2", "mgr"):
        other = as_user(name)
        assert other.get(f"/imports/jobs/{job_id}", headers={"Accept": "application/json"}).status_code == 404
        assert other.get(f"/imports/jobs/{job_id}/view").status_code == 404
        assert other.get(f"/imports/jobs/{job_id}/report").status_code == 404
        assert "客户.xlsx" not in other.get("/imports").get_data(as_text=True)
    admin = as_user("admin")
    assert admin.get(f"/imports/jobs/{job_id}/view").status_code == 200
    assert admin.get(f"/imports/jobs/{job_id}/report").status_code == 200


@pytest.mark.parametrize("fields, message", [
    (dict(stage=""), "请选择客户阶段"),
    (dict(operator=""), "请选择操作人"),
    (dict(template=""), "请选择导入模板"),
    (dict(operator="nobody"), "请选择操作人"),
])
def test_operator_stage_and_template_required(as_user, session, ids, template, fields, message):
    client = as_user("tm")
    form = dict(template=template, stage="reserve", operator=ids["tm"])
    form.update(fields)
    response = upload(client, xlsx_bytes(company_rows(2)), **form)
    assert response.status_code == 302 and response.headers["Location"] == "/imports"
    assert message in client.get("/imports").get_data(as_text=True)
    assert jobs(session) == [] and customers(session) == 0


def test_a_telemarketer_cannot_import_for_someone_else(as_user, session, ids, template):
    client = as_user("tm")
    upload(client, xlsx_bytes(company_rows(2)), template=template, operator=ids["tm2"])
    assert "您只能把客户导入给自己" in client.get("/imports").get_data(as_text=True)
    assert jobs(session) == []


@pytest.mark.parametrize("data, filename, message", [
    (random_bytes(), "客户.xlsx", "不是有效的 Excel 文件"),
    (b"PK\x05\x06" + bytes(18), "客户.xlsx", "不是有效的 Excel 文件"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), "客户.xls", "这是 .xls 旧格式"),
    ("客户名称,电话\n甲公司,021-60000001\n".encode(), "客户.xlsx", "这是 CSV 文本文件"),
    (zip_bomb(210), "炸弹.xlsx", "文件解压后过大"),
    (xlsx_bytes([["联系人", "公司"], ["张三", "甲公司"]]), "客户.xlsx", "文件缺少“客户名称”列"),
])
def test_hostile_uploads_get_a_clear_message(as_user, app, session, ids, template, data,
                                             filename, message):
    client = as_user("tm")
    response = upload(client, data, filename=filename, template=template,
                      operator=ids["tm"], import_valid_rows="1")
    assert response.status_code == 302
    page = client.get("/imports").get_data(as_text=True)
    assert message in page
    assert jobs(session) == [] and customers(session) == 0
    assert not list((app.config["DATA_DIR"] / "imports").glob("*"))    # upload removed


def test_upload_size_is_capped(as_user, app, ids, template):
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    client = as_user("tm")
    response = upload(client, random_bytes(60_000), template=template, operator=ids["tm"])
    assert response.status_code == 413 and "文件太大" in response.get_data(as_text=True)


def test_import_post_needs_csrf(as_user, session, ids, template):
    client = as_user("tm")
    response = client.post("/imports", data={"template": template, "stage": "reserve",
                                             "operator": ids["tm"],
                                             "file": (io.BytesIO(xlsx_bytes(company_rows(1))), "a.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and jobs(session) == []


# ------------------------------------------------------------------------------------------
# web collection

def test_collect_page_and_quick_add(as_user, session, ids, make_customer):
    session.add_all([ResourceSite(name="黄页88", url="https://www.huangye88.example", sort_order=1),
                     ResourceSite(name="坏链接", url="javascript:alert(1)", sort_order=2)])
    session.commit()
    make_customer("老客户", owner="tm2", phone="021-61234567")
    client = as_user("tm")
    page = client.get("/imports/collect").get_data(as_text=True)
    assert ('<a href="https://www.huangye88.example" target="_blank" rel="noopener noreferrer">黄页88</a>'
            in page)
    assert 'href="javascript:' not in page
    assert 'value="网上收集"' in page and '<option value="reserve" selected>' in page
    response = post(client, "/imports/collect", {"name": "新公司", "phone": "(021) 6123-4567",
                                                 "industry": "软件", "source": "网上收集",
                                                 "stage": "reserve"})
    assert response.status_code == 302
    page = client.get("/imports/collect").get_data(as_text=True)
    assert "已添加客户“新公司”" in page and "可能重复：与“老客户”的电话相同" in page
    c = customer_row(session, "新公司")
    assert (c["stage"], c["source"], c["ownership"], c["operator_ids"]) == (
        "reserve", "网上收集", "personal", [ids["tm"]])
    again = post(client, "/imports/collect", {"name": "新公司", "contact_person": "王五",
                                              "stage": "target"})
    text = again.get_data(as_text=True)
    assert again.status_code == 400 and "客户名称已存在：新公司" in text and 'value="王五"' in text
    assert customers(session) == 2
    assert client.post("/imports/collect", data={"name": "无令牌公司"}).status_code == 400
    assert customers(session) == 2


# ------------------------------------------------------------------------------------------
# in the browser: the progress bar follows the job and the page shows the result

def test_progress_bar_in_the_browser(live_server, browser_page, session, ids, template, tmp_path):
    from tests.browser.chromium import log_in, shot

    rows = company_rows(3000)
    rows[7][0] = None
    path = tmp_path / "名单.xlsx"
    path.write_bytes(xlsx_bytes(rows))

    page = browser_page
    page.set_default_timeout(30_000)
    polls = []
    page.on("request", lambda r: polls.append(r.url) if r.url.rsplit("/", 1)[-1].isdigit() else None)
    log_in(page, live_server, "tm", "pw-tm")
    page.goto(live_server + "/imports")
    page.set_input_files("#file", str(path))
    page.select_option("#template", str(template))
    page.select_option("#stage", "reserve")
    page.check("#import_valid_rows")
    shot(page, "import-form")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#job-report", timeout=60_000)  # imports.js reloaded it
    seen = dict(status=page.inner_text("#job-status"),
                percent=page.get_attribute("#import-progress .progress", "aria-valuenow"),
                imported=page.inner_text("#job-imported"),
                rejected=page.inner_text("#job-rejected"),
                processed=page.inner_text("#job-processed"),
                report=page.inner_text("#job-report"), polls=polls)
    shot(page, "import-job-done")
    page.goto(live_server + "/imports/templates/%d/edit" % template)
    shot(page, "import-template-form")
    page.goto(live_server + "/imports/collect")
    shot(page, "import-collect")
    assert (seen["status"], seen["percent"], seen["imported"], seen["rejected"],
            seen["processed"]) == ("已完成", "100", "2999", "1", "3000")
    assert "客户名称不能为空" in seen["report"]
    assert seen["polls"] and "/imports/jobs/" in seen["polls"][0]  # the bar polled the JSON
    assert customers(session) == 2999


# ------------------------------------------------------------------------------------------
# sheets and the template file (issue 11)

def two_sheets() -> bytes:
    from openpyxl import Workbook
    book = Workbook()
    book.active.title = "说明"
    book.active.append(["请看“客户”页"])
    data = book.create_sheet("客户")
    for row in company_rows(2):
        data.append(row)
    hidden = book.create_sheet("旧")
    hidden.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_sheet_is_chosen_on_the_upload_form(as_user, app, session, ids, template):
    client = as_user("tm")
    page = client.get("/imports").get_data(as_text=True)
    assert 'id="sheet-choice"' in page and 'name="sheet"' in page
    response = post(client, "/imports/sheets", {"file": (io.BytesIO(two_sheets()), "a.xlsx")},
                    content_type="multipart/form-data")
    assert response.get_json() == {"sheets": ["说明", "客户"], "default": "说明"}
    bad = post(client, "/imports/sheets", {"file": (io.BytesIO(b"a,b\n1,2\n"), "a.xlsx")},
               content_type="multipart/form-data")
    assert bad.status_code == 400 and "CSV" in bad.get_json()["error"]
    assert not list((app.config["DATA_DIR"] / "imports").glob("*"))    # nothing kept
    job_id = started_job_id(upload(client, two_sheets(), template=template, operator=ids["tm"],
                                   sheet="客户"))
    assert wait_for(client, session, job_id)["imported"] == 2


def test_a_template_downloads_as_an_excel_file_that_imports(as_user, session, ids, template):
    client = as_user("tm")
    assert f"/imports/templates/{template}/file" in client.get("/imports").get_data(as_text=True)
    assert f"/imports/templates/{template}/file" in client.get(
        "/imports/templates").get_data(as_text=True)
    response = client.get(f"/imports/templates/{template}/file")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    body = response.get_data()
    table = [list(r) for r in load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True)]
    assert table[0] == ["客户名称", "联系人", "电话", "手机", "城市", "行业"]
    assert table[1][0] == "上海示例科技有限公司" and len(table) == 2
    job_id = started_job_id(upload(client, body, template=template, operator=ids["tm"]))
    assert wait_for(client, session, job_id)["imported"] == 1
    post(client, "/language", {"lang": "en"})
    english = client.get(f"/imports/templates/{template}/file").get_data()
    assert next(load_workbook(io.BytesIO(english)).active.iter_rows(values_only=True))[0] == (
        "Company name")


def test_the_job_page_lists_columns_not_imported_and_banners(as_user, session, ids, template):
    client = as_user("tm")
    rows = [["备注", "电话", "客户名称"], ["—— 华东区 ——"], ["老客户", "021-60000001", "甲公司"]]
    job_id = started_job_id(upload(client, xlsx_bytes(rows, merge=["A2:C2"]), template=template,
                                   operator=ids["tm"]))
    assert wait_for(client, session, job_id)["imported"] == 1
    page = plain(client.get(f"/imports/jobs/{job_id}/view").get_data(as_text=True))
    assert "这些列不在导入模板中，未导入：备注" in page
    assert "分隔标题行“—— 华东区 ——”（合并单元格 A2:C2），已跳过" in page
    assert "说明" in page and "已跳过" in page


def test_the_sheet_choice_in_the_browser(live_server, browser_page, session, ids, template,
                                        tmp_path):
    """Choosing a workbook with two visible sheets offers them; the one picked is imported."""
    from tests.browser.chromium import log_in

    many, one = tmp_path / "两页.xlsx", tmp_path / "一页.xlsx"
    many.write_bytes(two_sheets())
    one.write_bytes(xlsx_bytes(company_rows(1)))

    page = browser_page
    page.set_default_timeout(30_000)
    log_in(page, live_server, "tm", "pw-tm")
    page.goto(live_server + "/imports")
    hidden_at_first = page.is_hidden("#sheet-choice")
    with page.expect_response(lambda r: r.url.endswith("/imports/sheets")):
        page.set_input_files("#file", str(one))
    page.wait_for_timeout(200)
    hidden_for_one = page.is_hidden("#sheet-choice")
    page.set_input_files("#file", str(many))
    page.wait_for_selector("#sheet-choice:not(.d-none)")
    options = page.eval_on_selector_all("#sheet option", "o => o.map(x => x.value)")
    page.select_option("#sheet", "客户")
    page.select_option("#template", str(template))
    page.select_option("#stage", "reserve")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector('#job-status[data-status="done"]', timeout=60_000)
    imported = page.inner_text("#job-imported")
    assert hidden_at_first and hidden_for_one
    assert options == ["说明", "客户"] and imported == "2"
