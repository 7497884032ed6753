"""Spreadsheets as people really save them (issue 11, C9): headings in another order, hidden
sheets, formatted empty rows, merged banners, names differing only by width, bad phones, and
files that are not .xlsx at all."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from models.crm import customers as customer_rules
from models.errors import DuplicateName
from models.imports import files as import_files
from models.imports import importer
from models.imports.messages import ImportRefused
from models.schema import Customer

from tests.import_helpers import (
    HEADER,
    company_rows,
    inline_row,
    raw_xlsx,
    report_of,
    report_table_of,
    xlsx_bytes,
    zip_bytes,
)
from tests.models.imports.test_importer import run_import, template  # noqa: F401 (fixtures)


def names(session) -> list[str]:
    session.rollback()
    return list(session.scalars(select(Customer.name).order_by(Customer.id)))


def notes(job, lang="zh_CN") -> list[str]:
    return [importer.reason_text(e, lang) for e in report_of(job)
            if e["status"] in ("note", "skipped")]


def error_key(job) -> str:
    assert job.status == "failed" and job.imported == 0, job.status
    return json.loads(job.error)["key"]


# ------------------------------------------------------------------------------------------
# 1. columns matched by their headings

def test_headings_in_another_order_with_an_extra_column(session, run_import):
    rows = [["备注", "手机", "ＣＩＴＹ", "客户 名称", "电话"]]          # no 联系人, no 行业
    rows += [["老客户", "13800138001", "上海", "甲公司", "021-60000001"],
             ["", "13800138002", "杭州", "乙公司", None]]
    job = run_import(xlsx_bytes(rows))
    assert (job.status, job.imported) == ("done", 2)
    session.rollback()
    a = session.scalar(select(Customer).where(Customer.name == "甲公司"))
    assert (a.mobile, a.city, a.phone, a.contact_person) == ("13800138001", "上海",
                                                              "021-60000001", None)
    assert notes(job) == ["这些列不在导入模板中，未导入：备注",
                          "文件中没有这些列，已留空：联系人、行业"]
    assert notes(job, "en")[1] == (
        "The file has no column for these fields, left empty: Contact person, Industry")


def test_only_a_missing_name_column_is_refused(session, run_import, tmp_path, template):
    rows = [["联系人", "电话", "公司"], ["张三", "021-60000001", "甲公司"]]
    job = run_import(xlsx_bytes(rows))
    assert error_key(job) == "import.name_column_missing"
    assert importer.error_text(job, "zh_CN") == (
        "文件缺少“客户名称”列（标题行：公司），请检查标题行是否与导入模板“标准模板”一致")
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx_bytes(rows))
    with pytest.raises(ImportRefused) as err:      # refused before a job is queued
        importer.preflight(path, template)
    assert err.value.key == "import.name_column_missing"
    assert names(session) == []


# ------------------------------------------------------------------------------------------
# 2. hidden sheets

def workbook(sheets: dict[str, list], *, hidden=(), active: int = 0) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    book.active = active
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_hidden_first_sheet_is_not_read(session, run_import, tmp_path, template):
    data = workbook({"旧": [], "客户": company_rows(3)}, hidden=["旧"])
    job = run_import(data)
    assert (job.status, job.imported) == ("done", 3)
    path = tmp_path / "a.xlsx"
    path.write_bytes(workbook({"说明": [["请看第二页"]], "客户": company_rows(2),
                               "藏": company_rows(1)}, hidden=["藏"], active=1))
    assert importer.sheet_names(path) == dict(sheets=["说明", "客户"], default="客户")
    assert importer.preflight(path, template)["sheet"] == "客户"
    with pytest.raises(ImportRefused) as err:
        importer.preflight(path, template, sheet="藏")
    assert err.value.key == "import.sheet_not_found"


def test_the_chosen_sheet_is_read(session, users, clock, tmp_path, template, Session):
    data = workbook({"甲": company_rows(2), "乙": company_rows(3, start=10)})
    options = importer.check_options(session, users["tm"], template_id=template.id,
                                     stage="reserve", operator=str(users["tm"].id))
    job = importer.create_job(session, users["tm"], filename="a.xlsx", sheet="乙",
                              allow_duplicates=False, import_valid_rows=False, clock=clock,
                              **options)
    session.commit()
    path = tmp_path / "a.xlsx"
    path.write_bytes(data)
    assert importer.run_job(Session, job.id, path, clock) == "done"
    assert names(session) == ["测试导入公司%05d" % i for i in (10, 11, 12)]


# ------------------------------------------------------------------------------------------
# 3. empty formatted rows

def test_a_sheet_formatted_to_the_last_row_imports_its_rows(session, run_import):
    rows = [inline_row(1, *HEADER)] + [
        inline_row(i, "格式公司%02d" % i, "联系人", "021-6000%04d" % i) for i in range(2, 22)]
    empty = "".join('<row r="%d" s="3" customFormat="1"><c r="A%d" s="3"/></row>' % (i, i)
                    for i in range(22, 22 + 1500))
    late = inline_row(5000, "不该读到的公司")
    job = run_import(raw_xlsx("".join(rows) + empty + late, dimension="A1:N1048576"))
    assert (job.status, job.imported, job.total_rows) == ("done", 20, 20)
    assert notes(job) == ["从第 22 行起连续 1000 行为空，其后的行未读取"]
    assert "不该读到的公司" not in names(session)


# ------------------------------------------------------------------------------------------
# 4. merged cells

def test_banner_rows_are_skipped_and_vertical_merges_fill_their_rows(session, run_import):
    rows = [HEADER, ["—— 华东区 ——"], ["甲公司", "张三", "021-60000001", None, "上海", "制造"],
            ["乙公司", "李四", "021-60000002", None, None, None],
            ["—— 华南区 ——"], ["丙公司", "王五", "020-81234567", None, "广州", "贸易"]]
    data = xlsx_bytes(rows, merge=["A2:F2", "E3:E4", "F3:F4", "A5:F5"])
    job = run_import(data)
    assert (job.status, job.imported, job.rejected) == ("done", 3, 0)
    assert names(session) == ["甲公司", "乙公司", "丙公司"]
    b = session.scalar(select(Customer).where(Customer.name == "乙公司"))
    assert (b.city, b.industry) == ("上海", "制造")
    assert notes(job) == ["分隔标题行“—— 华东区 ——”（合并单元格 A2:F2），已跳过",
                          "分隔标题行“—— 华南区 ——”（合并单元格 A5:F5），已跳过"]
    headers, table = report_table_of(job, "zh_CN")
    assert table[0][:3] == [2, "", "已跳过"]


# ------------------------------------------------------------------------------------------
# 5. names that differ only by width, case or spaces

def test_name_key():
    from models.names import name_key
    assert name_key("ＡＢＣ（上海）３Ｄ 打印　有限公司") == name_key("abc(上海)3D打印有限公司")
    assert name_key("  甲 公司 ") == "甲公司" and name_key(None) is None


def test_width_duplicates_on_import(session, users, make_customer, run_import):
    make_customer(name="ABC(上海)有限公司")
    rows = company_rows(0) + [["ＡＢＣ（上海）有限公司"], ["３Ｄ打印厂"], ["3D 打印厂"], ["新公司"]]
    job = run_import(xlsx_bytes(rows), allow_duplicates=True)
    assert [(e["row"], e["status"], e.get("reason")) for e in report_of(job)
            if e["status"] != "imported"] == [(2, "duplicate", "import.duplicate_in_database"),
                                               (4, "duplicate", "import.duplicate_in_file")]
    assert names(session) == ["ABC(上海)有限公司", "３Ｄ打印厂", "新公司"]


def test_width_duplicates_on_the_new_customer_form(session, users, make_customer, clock):
    make_customer(name="３Ｄ打印厂")
    with pytest.raises(DuplicateName):
        customer_rules.create_customer(session, users["tm"], {"name": "3d 打印厂"}, clock=clock)
    hits = customer_rules.find_duplicates(session, name="3D打印厂")
    assert [h["name"] for h in hits] == ["３Ｄ打印厂"]
    session.rollback()
    with pytest.raises(DuplicateName):   # renaming another customer to it
        other = customer_rules.create_customer(session, users["admin"], {"name": "别的"},
                                               clock=clock)
        customer_rules.update_customer(session, users["admin"], other.id,
                                       {"name": "３ｄ打印厂 "}, clock=clock)


def test_full_width_phones_compare_equal(session, make_customer, run_import):
    make_customer(name="老客户", mobile="13800138001")
    rows = company_rows(0) + [["新客户", None, None, "１３８ ００１３ ８００１"]]
    job = run_import(xlsx_bytes(rows))
    assert report_of(job)[-1]["same_phone_as"] == "老客户"


# ------------------------------------------------------------------------------------------
# 6. phones

def test_invalid_phones_are_refused_row_by_row(session, run_import):
    rows = company_rows(1) + [["甲公司", None, "电话号码abc"], ["乙公司", None, None, "1390000000x"],
                              ["丙公司", None, "0571-8765 4321", "+86 138 0013 8000 "]]
    job = run_import(xlsx_bytes(rows), import_valid_rows=True)
    rejected = [(e["row"], importer.reason_text(e, "zh_CN")) for e in report_of(job)
                if e["status"] == "rejected"]
    assert rejected == [(3, "C 列“电话”不是有效的电话号码：电话号码abc"),
                        (4, "D 列“手机”不是有效的电话号码：1390000000x")]
    assert (job.status, job.imported) == ("done", 2)


@pytest.mark.parametrize("raw, valid", [
    ("电话号码abc", False), ("1390000000x", False), ("1390000000", False), ("x", False),
    ("13800138000", True), ("１３８００１３８０００", True), ("021-6234 5678", True),
    ("(021) 62345678", True), ("010-12345678 转 8001", True), ("+86 138 0013 8000", True),
    ("400-800-1234", True), ("021-62345678-8001", True), ("021-6234567-1", False)])
def test_the_phone_rule(raw, valid):
    from models.phones import is_valid_phone
    assert is_valid_phone(raw) is valid


def test_the_customer_form_refuses_a_bad_phone(session, users, clock):
    from models.errors import InvalidValue
    with pytest.raises(InvalidValue) as err:
        customer_rules.create_customer(session, users["tm"], {"name": "甲", "mobile": "1390000000x"},
                                       clock=clock)
    assert err.value.message() == "手机不是有效的电话号码：1390000000x"


# ------------------------------------------------------------------------------------------
# 7. files that are not an .xlsx: say what they are

def macro_workbook() -> bytes:
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(company_rows(2))))
    members = {n: source.read(n) for n in source.namelist()}
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"spreadsheetml.sheet.main+xml", b"sheet.macroEnabled.main+xml")
    members["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0" + bytes(100)
    return zip_bytes(members)


HOSTILE = {
    "csv": ("客户名称,联系人,电话\n甲公司,张三,021-60000001\n".encode("gbk"), "import.csv",
            "这是 CSV 文本文件，只是扩展名为 .xlsx，请在 Excel 中打开并另存为 .xlsx 后再导入"),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), "import.xls",
            "这是 .xls 旧格式（或加密的 Excel 文件），请在 Excel 中另存为 .xlsx 后再导入"),
    "truncated": (xlsx_bytes(company_rows(50))[:3000], "import.truncated",
                  "文件不完整（上传或保存时被截断），请重新保存文件后再上传"),
    "macro": (macro_workbook(), "import.macro",
              "这是含宏的工作簿（.xlsm），为安全起见不导入，请在 Excel 中另存为 .xlsx（Excel 工作簿）后再导入"),
    "html": (b"<html><body><table><tr><td>a</td></tr></table></body></html>", "import.html",
             "这是网页（HTML）格式的表格，只是扩展名为 Excel，请在 Excel 中打开并另存为 .xlsx 后再导入"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_what_the_file_is_instead(session, run_import, kind):
    data, key, text = HOSTILE[kind]
    job = run_import(data, import_valid_rows=True)
    assert error_key(job) == key
    assert importer.error_text(job, "zh_CN") == text
    assert names(session) == []
    with pytest.raises(ImportRefused) as err:
        import_files.check_zip(io.BytesIO(data))
    assert err.value.key == key


def test_the_migration_backfills_name_keys(tmp_path):
    """Customers that existed before name_key get theirs, so an import finds them."""
    from sqlalchemy import column, insert, table

    from models.db import make_engine
    from models.migrate import upgrade
    engine = make_engine("sqlite:///" + str(tmp_path / "old.db"))
    upgrade(engine, "f1stg0000001")
    old = table("customers", *(column(c) for c in (
        "name", "ownership", "contact_mark", "tracking_mark", "time_zone", "do_not_call",
        "number_status", "created_at", "updated_at")))
    now = "2026-03-01 02:00:00.000000"
    with engine.begin() as conn:
        conn.execute(insert(old), [dict(name=n, ownership="shared", contact_mark="not_contacted",
                                        tracking_mark="tracking", time_zone="Asia/Shanghai",
                                        do_not_call=False, number_status="unknown",
                                        created_at=now, updated_at=now)
                                   for n in ("ＡＢＣ（上海）", "3D 打印")])
    upgrade(engine)
    with engine.connect() as conn:
        keys = conn.execute(select(Customer.name, Customer.name_key).order_by(Customer.id)).all()
    engine.dispose()
    assert [tuple(k) for k in keys] == [("ＡＢＣ（上海）", "abc(上海)"), ("3D 打印", "3d打印")]


# ------------------------------------------------------------------------------------------
# 8. a real template file, and one ready in the demo

def test_the_demo_has_a_ready_template_whose_file_imports(Session, clock, tmp_path):
    from dialfunnel.demo import load_demo
    from models.clock import FakeClock
    from models.imports import templates as import_templates
    from models.schema import ImportTemplate
    with Session() as s:
        load_demo(s, seed=3, customers=30, clock=FakeClock(clock.now()))
        ready = s.scalars(select(ImportTemplate)).all()
        assert [t.name for t in ready] == ["标准客户导入"]
        path = tmp_path / "模板.xlsx"
        path.write_bytes(import_templates.template_workbook(ready[0]))
        columns = importer.preflight(path, ready[0])["columns"]
        assert (columns.unknown, columns.missing) == ([], [])
        s.rollback()


def test_a_customer_without_a_name_key_is_still_a_duplicate(session, make_customer, run_import):
    """A row written around the model (another tool, a hand-made SQL) has no name_key: the
    unique name still stops the insert, and the retry finds it by its exact name."""
    from sqlalchemy import update
    make_customer(name="外部写入公司")
    session.execute(update(Customer).values(name_key=None))
    session.commit()
    job = run_import(xlsx_bytes(company_rows(0) + [["外部写入公司"], ["新公司"]]),
                     allow_duplicates=True)
    assert (job.status, job.imported, job.duplicates) == ("done", 1, 1)
    assert names(session) == ["外部写入公司", "新公司"]
