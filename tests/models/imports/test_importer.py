"""The Excel import's rules (models.imports.importer, import_files, import_templates, web_collection)."""
from __future__ import annotations

import datetime as dt
import gc
import io
import itertools
import zipfile

import pytest
from sqlalchemy import func, select

from models.errors import DuplicateName, PermissionDenied
from models.imports import files as import_files
from models.imports import importer, web_collection
from models.imports import templates as import_templates
from models.imports.messages import ImportNotFound, ImportRefused, render
from models.schema import Customer, CustomerOperator, ImportJob, OperatorHistory, ResourceSite

from tests.import_helpers import (
    HEADER,
    MAPPING,
    company_rows,
    inline_row,
    make_template,
    random_bytes,
    raw_xlsx,
    report_of,
    report_table_of,
    xlsx_bytes,
    zip_bomb,
    zip_bytes,
)


@pytest.fixture
def template(session, users, clock):
    return make_template(session, users["tm"], clock)


@pytest.fixture
def run_import(Session, session, users, clock, tmp_path, template):
    """run_import(bytes, actor='tm', operator=None, stage='reserve', **flags) -> finished job."""
    def run(data: bytes, *, actor="tm", operator=None, stage="reserve", template_=None,
            allow_duplicates=False, import_valid_rows=False):
        user = users[actor]
        options = importer.check_options(session, user, template_id=(template_ or template).id,
                                         stage=stage, operator=operator or str(user.id))
        job = importer.create_job(session, user, filename="客户.xlsx",
                                  allow_duplicates=allow_duplicates,
                                  import_valid_rows=import_valid_rows, clock=clock, **options)
        session.commit()
        path = tmp_path / ("job%d.xlsx" % job.id)
        path.write_bytes(data)
        importer.run_job(Session, job.id, path, clock)
        return session.get(ImportJob, job.id, populate_existing=True)
    return run


def count(session, model=Customer, *where):
    session.rollback()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def reasons(job):
    return [(e["row"], e["status"], e.get("reason")) for e in report_of(job) if e["status"] != "imported"]


# ------------------------------------------------------------------------------------------
# templates

def test_template_mapping_rules(session, users, clock):
    tm = users["tm"]
    bad = [([], "import_template.no_columns"), (["contact_person"], "import_template.name_column"),
           (["name", "name"], "import_template.name_column"),
           (["name", "phone", "phone"], "import_template.field_twice"),
           (["name", "stage"], "customer.unknown_field"),
           (["name"] + [None] * 60, "import_template.too_many_columns")]
    for mapping, key in bad:
        with pytest.raises(ImportRefused) as err:
            import_templates.save_template(session, tm, None, name="x", mapping=mapping,
                                           header_rows=1, clock=clock)
        assert err.value.key == key
    for rows in (-1, 11, "abc"):
        with pytest.raises(ImportRefused):
            import_templates.save_template(session, tm, None, name="x", mapping=["name"],
                                           header_rows=rows, clock=clock)
    with pytest.raises(ImportRefused):
        import_templates.save_template(session, tm, None, name="  ", mapping=["name"],
                                       header_rows=1, clock=clock)
    saved = import_templates.save_template(session, tm, None, name="最简", mapping=["", "name", None],
                                           header_rows="0", clock=clock)
    assert saved.mapping == [None, "name", None] and saved.header_rows == 0
    assert saved.owner_id == tm.id


def test_template_rights(session, users, clock, template):
    with pytest.raises(PermissionDenied):
        import_templates.save_template(session, users["tm2"], template.id, name="改名",
                                       mapping=MAPPING, header_rows=1, clock=clock)
    with pytest.raises(PermissionDenied):
        import_templates.delete_template(session, users["tm2"], template.id)
    with pytest.raises(PermissionDenied):  # managers are not admins
        import_templates.delete_template(session, users["mgr"], template.id)
    changed = import_templates.save_template(session, users["admin"], template.id, name="管理员改",
                                             mapping=["name"], header_rows=0, clock=clock)
    assert changed.name == "管理员改" and changed.owner_id == users["tm"].id
    import_templates.delete_template(session, users["tm"], template.id)
    session.commit()
    with pytest.raises(ImportNotFound):
        import_templates.get_template(session, template.id)


# ------------------------------------------------------------------------------------------
# options and jobs

def test_options_stage_and_operator_required(session, users, template):
    tm, mgr = users["tm"], users["mgr"]
    check = importer.check_options
    me, other = str(tm.id), str(users["tm2"].id)
    for template_id, stage, operator, key in (
            ("", "reserve", me, "import.template_required"),
            (template.id, "", me, "import.stage_required"),
            (template.id, "reserve", "", "import.operator_required"),
            (template.id, "reserve", "x", "import.operator_required"),
            (template.id, "reserve", other, "import.operator_not_allowed")):
        with pytest.raises(ImportRefused) as err:
            check(session, tm, template_id=template_id, stage=stage, operator=operator)
        assert err.value.key == key
    with pytest.raises(Exception) as err:
        check(session, tm, template_id=template.id, stage="nonsense", operator=str(tm.id))
    assert err.value.key == "customer.bad_stage"
    mine = check(session, tm, template_id=template.id, stage="archive", operator=str(tm.id))
    assert mine["stage"] is None and mine["operator_ids"] == [tm.id]
    other = check(session, mgr, template_id=template.id, stage="target", operator=str(users["tm2"].id))
    assert other["ownership"] == "personal" and other["operator_ids"] == [users["tm2"].id]
    for actor in (mgr, tm):  # anyone may import shared customers (tests/models/crm/test_operator_rules.py)
        shared = check(session, actor, template_id=template.id, stage="reserve", operator="shared")
        assert shared["ownership"] == "shared" and shared["operator_ids"] == []
    assert [u.id for u in importer.operator_choices(session, tm)] == [tm.id]
    assert len(importer.operator_choices(session, mgr)) == 5


def test_only_the_owner_or_an_admin_sees_a_job(session, users, run_import):
    job = run_import(xlsx_bytes(company_rows(2)))
    assert importer.get_job(session, users["tm"], job.id).id == job.id
    assert importer.get_job(session, users["admin"], job.id).id == job.id
    for other in ("tm2", "mgr"):
        with pytest.raises(ImportNotFound):
            importer.get_job(session, users[other], job.id)
    assert importer.list_jobs(session, users["tm2"]) == []
    assert [j.id for j in importer.list_jobs(session, users["admin"])] == [job.id]


# ------------------------------------------------------------------------------------------
# good imports

def test_import_creates_customers_like_create_customer(session, users, run_import):
    rows = company_rows(3) + [["北京网上公司", None, "010 6543 2100", "13900001111", "北京", None]]
    job = run_import(xlsx_bytes(rows), stage="target")
    assert (job.status, job.imported, job.rejected, job.duplicates, job.total_rows) == ("done", 4, 0, 0, 4)
    assert job.processed_rows == 4 and job.error is None and job.finished_at is not None
    session.rollback()
    c = session.scalar(select(Customer).where(Customer.name == "北京网上公司"))
    assert (c.stage, c.ownership, c.phone, c.phone_e164, c.mobile_e164, c.city) == (
        "target", "personal", "010 6543 2100", "+861065432100", "+8613900001111", "北京")
    assert c.contact_person is None and c.time_zone == "Asia/Shanghai" and c.do_not_call is False
    assert c.contact_mark == "not_contacted" and c.created_by_id == users["tm"].id
    assert c.operator_ids == [users["tm"].id]
    history = session.scalars(select(OperatorHistory).where(OperatorHistory.customer_id == c.id)).all()
    assert [(h.action, h.from_mode, h.to_mode, h.to_operators, h.actor_id) for h in history] == [
        ("import", None, "personal", [users["tm"].id], users["tm"].id)]
    assert [e["status"] for e in report_of(job)] == ["imported"] * 4
    assert [e["row"] for e in report_of(job)] == [2, 3, 4, 5]


def test_import_1000_rows_shared_archive(session, users, run_import):
    job = run_import(xlsx_bytes(company_rows(1000)), actor="mgr", operator="shared", stage="archive")
    assert (job.status, job.imported, job.total_rows) == ("done", 1000, 1000)
    assert count(session, Customer, Customer.stage.is_(None), Customer.ownership == "shared") == 1000
    assert count(session, CustomerOperator) == 0
    assert count(session, OperatorHistory, OperatorHistory.action == "import",
                 OperatorHistory.to_mode == "shared") == 1000


def test_import_for_another_user_by_a_manager(session, users, run_import):
    job = run_import(xlsx_bytes(company_rows(2)), actor="mgr", operator=str(users["tm2"].id))
    assert job.imported == 2
    assert count(session, CustomerOperator, CustomerOperator.user_id == users["tm2"].id) == 2


def test_values_are_coerced_and_formulas_never_run(session, users, clock, run_import):
    tpl = import_templates.save_template(session, users["tm"], None, name="带免打扰",
                                         mapping=["name", "mobile", "do_not_call", "profile"],
                                         header_rows=1, clock=clock)
    session.commit()
    sheet = (inline_row(1, "名称", "手机", "免打扰", "简介")
             # a number typed as a float, a saved formula result, a literal "=..." text
             + '<row r="2"><c r="A2" t="inlineStr"><is><t>数值公司</t></is></c><c r="B2"><v>1.3812345678E10</v></c>'
               '<c r="C2" t="inlineStr"><is><t>是</t></is></c>'
               '<c r="D2" t="str"><f>CONCAT("a","b")</f><v>ab</v></c></row>'
             + '<row r="3"><c r="A3" t="inlineStr"><is><t>=HYPERLINK("http://evil.example","x")</t></is></c>'
               '<c r="C3" t="b"><v>0</v></c></row>')
    job = run_import(raw_xlsx(sheet), template_=tpl)
    assert job.status == "done" and job.imported == 2, report_of(job)
    session.rollback()
    first = session.scalar(select(Customer).where(Customer.name == "数值公司"))
    assert (first.mobile, first.mobile_e164, first.do_not_call, first.profile) == (
        "13812345678", "+8613812345678", True, "ab")
    literal = session.scalar(select(Customer).where(Customer.name.like("=HYPERLINK%")))
    assert literal.name == '=HYPERLINK("http://evil.example","x")' and literal.do_not_call is False


# ------------------------------------------------------------------------------------------
# duplicates

def test_duplicates_not_allowed_reject_and_import_nothing(session, users, make_customer, run_import):
    make_customer("测试导入公司00002", owner="tm2")
    rows = company_rows(3) + [company_rows(1, 1, header=False)[0]]   # row 5 repeats row 2
    job = run_import(xlsx_bytes(rows))
    assert (job.status, job.imported, job.rejected, job.duplicates) == ("rejected", 0, 2, 0)
    assert reasons(job) == [(3, "rejected", "import.duplicate_in_database"),
                            (5, "rejected", "import.duplicate_in_file")]
    assert report_of(job)[1]["params"] == {"row": 2}
    assert count(session) == 1


def test_duplicates_allowed_are_skipped_and_reported(session, users, make_customer, run_import):
    make_customer("测试导入公司00002", owner="tm2")
    rows = company_rows(3) + [company_rows(1, 1, header=False)[0]]
    job = run_import(xlsx_bytes(rows), allow_duplicates=True)
    assert (job.status, job.imported, job.rejected, job.duplicates) == ("done", 2, 0, 2)
    assert reasons(job) == [(3, "duplicate", "import.duplicate_in_database"),
                            (5, "duplicate", "import.duplicate_in_file")]
    assert count(session) == 3
    headers, table = report_table_of(job, "zh_CN")
    assert headers == ["行号", "客户名称", "结果", "原因", "提示"]
    assert table[1] == [3, "测试导入公司00002", "重复，已跳过", "客户名称已存在", ""]
    assert report_table_of(job, "en")[1][3][3] == "Same company name as row 2"


def test_same_phone_is_a_warning_only(session, users, make_customer, run_import):
    make_customer("老客户", owner="tm2", phone="021-60000001")
    rows = company_rows(2) + [["同号公司", None, None, "13800000002", None, None]]
    job = run_import(xlsx_bytes(rows))
    assert (job.status, job.imported) == ("done", 3)
    warned = {e["row"]: e.get("same_phone_as") for e in report_of(job)}
    assert warned == {2: "老客户", 3: None, 4: "测试导入公司00002"}
    headers, table = report_table_of(job, "zh_CN")
    assert table[0][4] == "可能重复：与“老客户”的电话相同"


# ------------------------------------------------------------------------------------------
# rejected rows

def test_rejected_rows_stop_everything_unless_valid_rows_are_wanted(session, users, run_import):
    rows = company_rows(3)
    rows[2][0] = None                      # row 3: no name
    rows[3][5] = "行" * 65                 # row 4: industry too long
    rows.append(["多一列公司", None, None, None, None, None, "多余"])
    data = xlsx_bytes(rows)
    job = run_import(data)
    assert (job.status, job.imported, job.rejected) == ("rejected", 0, 3)
    assert reasons(job) == [(3, "rejected", "customer.name_required"),
                            (4, "rejected", "import.bad_value"),
                            (5, "rejected", "import.extra_data")]
    assert [e["row"] for e in report_of(job)] == [3, 4, 5]   # only the rejected rows
    assert render("import.bad_value", "zh_CN", **report_of(job)[1]["params"]) == "F 列“行业”的值无效"
    assert count(session) == 0
    again = run_import(data, import_valid_rows=True)
    assert (again.status, again.imported, again.rejected) == ("done", 1, 3)
    assert count(session) == 1


def test_formula_without_saved_value_and_merged_name(session, users, run_import):
    rows = company_rows(3) + [[None, "李四", "021-60000009", None, None, None]]
    rows[1][0] = "=CONCAT(B2,\"公司\")"    # a formula openpyxl writes without a result
    job = run_import(xlsx_bytes(rows, merge=["A4:A5"]))
    assert job.status == "rejected"
    # the merged name belongs to both rows it covers: row 5 repeats row 4's
    assert reasons(job) == [(2, "rejected", "import.formula_without_value"),
                            (5, "rejected", "import.duplicate_in_file")]
    assert count(session) == 0


# ------------------------------------------------------------------------------------------
# hostile files: a clear message and nothing imported

def failed_key(job):
    import json
    assert job.status == "failed" and job.imported == 0
    return json.loads(job.error)["key"]


@pytest.mark.parametrize("data", [random_bytes(), b"", b"PK\x05\x06" + bytes(18),
                                  zip_bytes({"hello.txt": "not a workbook"}),
                                  zip_bytes({"[Content_Types].xml": "<x/>", "xl/workbook.xml": "<nonsense"})])
def test_not_an_excel_file(session, run_import, data):
    job = run_import(data, import_valid_rows=True)
    assert failed_key(job) == "import.not_excel"
    assert importer.error_text(job, "zh_CN") == "不是有效的 Excel 文件（只支持 .xlsx）"
    assert count(session) == 0


def test_truncated_and_corrupt_files(session, run_import):
    good = xlsx_bytes(company_rows(50))
    assert failed_key(run_import(good[: len(good) // 2])) == "import.truncated"
    # flip bytes inside the sheet's compressed data: CRC or inflate error while reading
    archive = zipfile.ZipFile(io.BytesIO(good))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    broken = bytearray(good)
    for i in range(start, start + 40):
        broken[i] ^= 0x5A
    job = run_import(bytes(broken), import_valid_rows=True)
    assert failed_key(job) == "import.not_excel"
    assert count(session) == 0


def test_zip_bomb_is_refused_from_the_directory(session, run_import):
    job = run_import(zip_bomb(210))
    assert failed_key(job) == "import.too_big_unpacked"
    with pytest.raises(ImportRefused) as err:       # under the size cap, but absurdly packed
        import_files.check_zip(io.BytesIO(zip_bomb(20)))
    assert err.value.key == "import.zip_bomb"
    assert count(session) == 0


def test_too_many_rows(session, run_import, monkeypatch):
    monkeypatch.setattr(import_files, "MAX_ROWS", 5)
    job = run_import(xlsx_bytes(company_rows(6)), import_valid_rows=True)   # declared size
    assert failed_key(job) == "import.too_many_rows"
    assert importer.error_text(job, "en") == (
        "The file has more than 5 rows; split it and import the parts")
    # a sheet whose dimension lies is counted while reading
    sheet = inline_row(1, *HEADER) + "".join(inline_row(i, "公司%d" % i) for i in range(2, 9))
    job = run_import(raw_xlsx(sheet, dimension="A1:F2"), import_valid_rows=True)
    assert failed_key(job) == "import.too_many_rows"
    assert count(session) == 0
    assert len(report_of(run_import(xlsx_bytes(company_rows(5))))) == 5


def test_wrong_template(session, users, clock, run_import):
    # headings the template does not know, in the template's number of columns: by position
    own_words = company_rows(2)
    own_words[0] = ["公司", "姓名", "座机", "移动电话", "所在地", "所属行业"]
    assert run_import(xlsx_bytes(own_words)).imported == 2
    # ... but with a column more, or fewer, they cannot be read: refused
    more_columns = [row + ["备注"] for row in own_words]
    assert failed_key(run_import(xlsx_bytes(more_columns))) == "import.columns_mismatch"
    fewer = [row[:4] for row in own_words]
    job = run_import(xlsx_bytes(fewer), import_valid_rows=True)
    assert failed_key(job) == "import.columns_mismatch"
    assert importer.error_text(job, "zh_CN") == (
        "文件有 4 列，而导入模板“标准模板”有 6 列，请检查是否选错了模板")
    # a heading naming another field where the template expects the name: wrong template
    other = company_rows(2)
    other[0] = ["地址", "姓名", "座机", "移动电话", "所在地", "所属行业"]
    job = run_import(xlsx_bytes(other))
    assert failed_key(job) == "import.header_mismatch"
    assert importer.error_text(job, "en") == (
        "Column A is headed “地址” but the template reads it as “Company name”: is it the right "
        "template?")
    assert failed_key(run_import(xlsx_bytes([HEADER]))) == "import.no_rows"
    assert count(session) == 2
    # headings the template knows are matched by name, in any order
    swapped = company_rows(2, start=10)
    swapped[0] = ["客户名称", "联系人", "手机", "电话", "城市", "行业"]
    for row in swapped[1:]:
        row[2], row[3] = row[3], row[2]
    assert run_import(xlsx_bytes(swapped)).imported == 2
    session.rollback()
    c = session.scalar(select(Customer).where(Customer.name == swapped[1][0]))
    assert (c.phone, c.mobile) == (swapped[1][3], swapped[1][2])


def test_preflight_refuses_before_a_job_is_queued(tmp_path, template):
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx_bytes(company_rows(3)))
    assert importer.preflight(path, template)["sheet"] == "Sheet"
    path.write_bytes(xlsx_bytes([["联系人", "公司", "电话", "手机", "城市", "行业", "多"]]))
    with pytest.raises(ImportRefused) as err:
        importer.preflight(path, template)
    assert err.value.key == "import.name_column_missing"
    path.write_bytes(random_bytes())
    with pytest.raises(ImportRefused):
        importer.preflight(path, template)


def test_scan_finds_formulas_and_merges_across_chunk_edges(monkeypatch):
    monkeypatch.setattr(import_files, "_CHUNK", 7)
    xml = ('<sheetData>' + "".join('<c r="B%d" s="1"><f>A%d*2</f><v>%d</v></c><c r="C%d"><v>1</v></c>'
                                   % (i, i, i, i) for i in range(1, 40))
           + '</sheetData><mergeCells><mergeCell ref="A2:B3"/><mergeCell ref="D9"/></mergeCells>')
    scan = import_files.scan_sheet_xml(io.BytesIO(xml.encode()))
    assert scan.formula_cells == {(i, 2) for i in range(1, 40)}
    assert scan.merged == [(2, 1, 3, 2), (9, 4, 9, 4)]
    assert scan.merged_range(3, 2) == (2, 1, 3, 2) and scan.merged_range(4, 2) is None


RICH_SHARED = ('<si><t>普通</t></si>'
               '<si><r><t>富</t></r><r><rPr><b/></rPr><t xml:space="preserve"> 文本 </t></r></si>'
               '<si><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh></si>'
               '<si><t/></si><si><t>a_x005F_x000D_b</t></si>')


@pytest.mark.parametrize("data", [
    xlsx_bytes([["名称", 1, 2.5, True, None, "=literal"], [None, None, None],
                [None, "跳", dt.datetime(2026, 1, 2, 3, 4), dt.date(2026, 5, 6)], []]
               + company_rows(30, header=False), literal_text={"F1": "=literal"}),
    raw_xlsx(inline_row(1, "甲", "乙") + '<row r="3"><c r="B3" t="inlineStr"><is><r><t>富</t></r>'
             '<r><t>文本</t></r></is></c><c r="C3" t="inlineStr"><is><t>漢</t><rPh sb="0" eb="1"><t>かん</t></rPh>'
             '</is></c><c r="D3" t="e"><v>#N/A</v></c><c r="E3" t="str"><f>A1</f><v>甲</v></c></row>'
             '<row r="7"><c r="A7" t="s"><v>0</v></c><c r="B7" t="s"><v>1</v></c><c r="C7" t="s">'
             '<v>2</v></c><c r="D7" t="s"><v>3</v></c><c r="E7" t="s"><v>4</v></c><c r="F7" t="b">'
             '<v>1</v></c><c r="G7"><v>13812345678</v></c></row>', dimension="A1:B2",
             shared=RICH_SHARED),
])
def test_fast_reader_reads_what_openpyxl_reads(tmp_path, data):
    from openpyxl import load_workbook

    from models.imports import xlsx as import_xlsx
    path = tmp_path / "a.xlsx"
    path.write_bytes(data)
    book = load_workbook(path, read_only=True, data_only=True)
    sheet = book.worksheets[0]
    sheet.reset_dimensions()
    expected = {n: list(v) for n, v in enumerate(sheet.iter_rows(min_row=1, max_col=8,
                                                                 values_only=True), 1)
                if any(x is not None for x in v)}
    book.close()
    with import_files.SheetReader(path) as reader:
        assert import_xlsx._fast_parser(reader.book, reader.sheet)[1] is not None  # in use
        got = {n: v for n, v in reader.rows(8) if any(x is not None for x in v)}
        assert got == expected and got
        fallback = {n: v for n, v in import_xlsx._public_values(reader.sheet, 8)
                    if any(x is not None for x in v)}
        assert fallback == expected


def test_shared_strings_are_read_as_the_rows_need_them_and_kept_encoded(tmp_path):
    """A sheet of distinct text has a shared string per cell (200,000 rows: ~2 million,
    180 MB as Python strings, read in full even by the upload's header check): the header
    read reads only the first ones, and all of them are kept as one UTF-8 buffer."""
    import tracemalloc
    n = 20_000
    strings = ["客户名称"] + ["华东贸易公司%05d" % i for i in range(n)]
    shared = tmp_path / "shared.xlsx"
    shared.write_bytes(raw_xlsx("".join(
        '<row r="%d"><c r="A%d" t="s"><v>%d</v></c></row>' % (i + 1, i + 1, i)
        for i in range(n + 1)), shared="".join("<si><t>%s</t></si>" % s for s in strings)))
    inline = tmp_path / "inline.xlsx"
    inline.write_bytes(raw_xlsx("".join(inline_row(i + 1, s) for i, s in enumerate(strings))))
    with import_files.SheetReader(shared, scan=False) as reader:
        assert next(reader.rows(1)) == (1, ["客户名称"])
        assert len(reader.book.shared_string_table._ends) < n // 10

    def kept_while_open(path) -> int:
        """Memory held once every row was read (and checked), the file still open."""
        tracemalloc.start()
        try:
            with import_files.SheetReader(path) as reader:
                read = all(v == [s] for (_, v), s in itertools.zip_longest(reader.rows(1), strings))
                gc.collect()    # the sheet parser's tree, freed once the rows are read
                held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert read
        return held

    table = kept_while_open(shared) - kept_while_open(inline)
    # 12 characters a string: 37 bytes of UTF-8 and an offset here; a str object was 98
    assert table < 60 * n, table


def test_progress_percent():
    job = ImportJob(status="validating", total_rows=200, processed_rows=100, rejected=0, duplicates=0)
    assert importer.progress_percent(job) == 25
    job.status, job.processed_rows = "importing", 200
    assert importer.progress_percent(job) == 100
    job.processed_rows = 100
    assert importer.progress_percent(job) == 75
    job.status = "done"
    assert importer.progress_percent(job) == 100


# ------------------------------------------------------------------------------------------
# web collection

def test_quick_add_and_resource_sites(session, users, clock, make_customer):
    session.add_all([ResourceSite(name="黄页", url="https://yp.example", sort_order=2),
                     ResourceSite(name="阿里巴巴", url="https://1688.example", sort_order=1)])
    make_customer("老客户", owner="tm2", mobile="13911112222")
    assert [s.name for s in web_collection.list_resource_sites(session)] == ["阿里巴巴", "黄页"]
    customer, same = web_collection.quick_add(
        session, users["tm"], {"name": " 新找到的公司 ", "mobile": "139 1111 2222", "industry": "软件"},
        clock=clock)
    assert (customer.name, customer.source, customer.stage, customer.ownership) == (
        "新找到的公司", "网上收集", "reserve", "personal")
    assert customer.operator_ids == [users["tm"].id] and same == ["老客户"]
    with pytest.raises(DuplicateName):
        web_collection.quick_add(session, users["tm"], {"name": "新找到的公司"}, clock=clock)


def test_the_files_earlier_rows_are_kept_on_disk_first_row_winning():
    """The in-file duplicate checks (a name's first row, a phone's first name) of a
    200,000-row file held ~110 MB as dicts: they are a temporary SQLite file, read a batch
    of keys at a time."""
    import tracemalloc

    from models.imports.seen import SeenRows
    seen = SeenRows()
    try:
        seen.load(["甲", "乙"], ["+8613800000001"])
        assert seen.names.get("甲") is None
        seen.names.setdefault("甲", 2)
        seen.names.setdefault("甲", 3)                # a later row never takes over
        seen.phones.setdefault("+8613800000001", "甲公司")
        assert (seen.names.get("甲"), seen.phones.get("+8613800000001")) == (2, "甲公司")
        seen.save()
        seen.load(["甲", "丙"], ["+8613800000001", "+8613800000002"])
        seen.names.setdefault("甲", 9)
        assert (seen.names.get("甲"), seen.names.get("丙")) == (2, None)
        assert seen.phones.get("+8613800000001") == "甲公司"
        seen.save()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for batch in range(40):                   # 40,000 rows of a name and 3 phones
                rows = range(batch * 1000, batch * 1000 + 1000)
                names = ["华东贸易有限公司%06d" % i for i in rows]
                phones = ["+86%d%08d" % (k, i) for i in rows for k in (21, 138, 139)]
                seen.load(names, phones)
                for i, name in zip(rows, names):
                    seen.names.setdefault(name, i + 2)
                    for p in phones[(i % 1000) * 3:(i % 1000) * 3 + 3]:
                        seen.phones.setdefault(p, name)
                seen.save()
            del rows, names, phones
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert held < 1_000_000, held                 # as dicts: ~20 MB
        seen.load(["华东贸易有限公司000007"], ["+8613900039999"])
        assert seen.names.get("华东贸易有限公司000007") == 9
        assert seen.phones.get("+8613900039999") == "华东贸易有限公司039999"
    finally:
        seen.close()
