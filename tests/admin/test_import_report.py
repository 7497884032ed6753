"""The result report of a large import (issue 11): its lines are read a chunk at a time, so
neither the job page nor the download holds a report whole, and the .xlsx is sent from a
temporary file as it is read. The job is run by the worker itself (importer.run_job)."""
from __future__ import annotations

import io
import tracemalloc
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from models.imports import importer

from tests.import_helpers import company_rows, make_template, xlsx_bytes

N = 20_000


@pytest.fixture
def finished_job(Session, session, users, clock, tmp_path):
    """finished_job(rows, **flags) -> the id of a job that imported the rows, as tm."""
    def run(rows, **flags) -> int:
        tm = users["tm"]
        template = make_template(session, tm, clock)
        options = importer.check_options(session, tm, template_id=template.id,
                                         stage="reserve", operator=str(tm.id))
        job = importer.create_job(session, tm, filename="名单.xlsx", clock=clock,
                                  **{"allow_duplicates": True, "import_valid_rows": True,
                                     **flags}, **options)
        session.commit()
        path = tmp_path / f"job{job.id}.xlsx"
        path.write_bytes(xlsx_bytes(rows))
        assert importer.run_job(Session, job.id, path, clock) == "done"
        session.rollback()
        return job.id
    return run


def traced(fetch):
    """(what fetch returned, the peak of memory allocated while it ran)."""
    tracemalloc.start()
    try:
        result = fetch()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_report_is_never_held_whole(as_user, finished_job):
    rows = company_rows(N)
    for i in range(100, N, 1000):           # 20 rows repeat the name of the row above
        rows[i + 1][0] = rows[i][0]
    job_id = finished_job(rows)
    client = as_user("tm")
    client.get(f"/imports/jobs/{job_id}/view")     # templates compiled, catalogs loaded

    page, peak = traced(lambda: client.get(f"/imports/jobs/{job_id}/view").get_data(as_text=True))
    assert "与第 101 行的客户名称重复" in page and "下载导入结果" in page
    # the 20 lines to look at, not the 20,000 (a dict each: ~10 MB when read whole)
    assert peak < 1_000_000, peak

    def download():
        response = client.get(f"/imports/jobs/{job_id}/report")
        return response, response.get_data()
    (response, body), peak = traced(download)
    assert response.status_code == 200 and int(response.headers["Content-Length"]) == len(body)
    # 2,000 lines read at a time and written to a file: not the report whole (~30 MB)
    assert peak < 3_000_000 + len(body), (peak, len(body))
    table = list(load_workbook(io.BytesIO(body), read_only=True).active.values)
    assert len(table) == N + 1 and table[0] == ("行号", "客户名称", "结果", "原因", "提示")
    assert table[1] == (2, rows[1][0], "已导入", None, None)
    assert table[101] == (102, rows[101][0], "重复，已跳过", "与第 101 行的客户名称重复", None)
    assert table[-1] == (N + 1, rows[N][0], "已导入", None, None)


def test_the_report_download_in_both_languages(as_user, session, users, finished_job,
                                               make_customer):
    make_customer("老客户", phone="021-60000003")
    rows = company_rows(6) + [["@华东公司", "联系人", "021-60000099"]]
    rows[2][0] = None                                  # row 3: no name
    rows[5][0] = rows[4][0]                            # row 6: the name of row 5
    job_id = finished_job(rows)
    client = as_user("tm")

    def download(name: str) -> list[tuple]:
        response = client.get(f"/imports/jobs/{job_id}/report")
        assert response.status_code == 200
        assert response.mimetype == ("application/vnd.openxmlformats-officedocument."
                                     "spreadsheetml.sheet")
        assert response.headers["Content-Disposition"] == (
            f"attachment; filename=export.xlsx; filename*=UTF-8''{quote(name)}")
        return list(load_workbook(io.BytesIO(response.get_data())).active.values)

    assert download(f"导入结果{job_id}.xlsx") == [
        ("行号", "客户名称", "结果", "原因", "提示"),
        (2, "测试导入公司00001", "已导入", None, None),
        (3, None, "已拒绝", "客户名称不能为空", None),
        (4, "测试导入公司00003", "已导入", None, "可能重复：与“老客户”的电话相同"),
        (5, "测试导入公司00004", "已导入", None, None),
        (6, "测试导入公司00004", "重复，已跳过", "与第 5 行的客户名称重复", None),
        (7, "测试导入公司00006", "已导入", None, None),
        (8, "'@华东公司", "已导入", None, None),          # never run as a formula
    ]
    users["tm"].language = "en"
    session.commit()
    table = download(f"import report {job_id}.xlsx")
    assert table[:3] == [("Row", "Company name", "Status", "Reason", "Warning"),
                         (2, "测试导入公司00001", "imported", None, None),
                         (3, None, "rejected", "The company name is required", None)]
    assert table[3][4] == "Possible duplicate: same phone as “老客户”"


@pytest.fixture
def scratch_engine(db_url, tmp_path):
    """An engine on an empty database of the tests' kind (PostgreSQL: a schema of its own)."""
    from sqlalchemy import text

    from models.db import make_engine
    if not db_url.startswith("postgresql"):
        engine = make_engine("sqlite:///" + str(tmp_path / "old.db"))
        yield engine
        engine.dispose()
        return
    engine = make_engine(db_url, connect_args={"options": "-csearch_path=report_migration"})
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS report_migration CASCADE; "
                          "CREATE SCHEMA report_migration"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA report_migration CASCADE"))
    engine.dispose()


def test_the_migration_moves_reports_into_lines_and_back(scratch_engine):
    """A job's JSON report (before the lines had a table) becomes its lines, in row order;
    the downgrade puts it back."""
    from sqlalchemy import JSON, column, insert, select, table

    from models.migrate import alembic_config, upgrade
    from models.schema import ImportReportLine
    report = [{"row": 1, "name": None, "status": "note", "reason": "import.columns_unknown",
               "params": {"columns": "备注"}},
              {"row": 2, "name": "甲公司", "status": "imported"},
              {"row": 3, "name": "乙公司", "status": "duplicate",
               "reason": "import.duplicate_in_file", "params": {"row": 2}},
              {"row": 4, "name": "丙公司", "status": "imported", "same_phone_as": "老客户"}]
    upgrade(scratch_engine, "h1mrg0000001")
    jobs = table("import_jobs", *(column(c) for c in (
        "filename", "stage", "ownership", "allow_duplicates", "import_valid_rows", "status",
        "total_rows", "processed_rows", "imported", "duplicates", "rejected", "resume_row",
        "created_at")), column("operator_ids", JSON), column("report", JSON))
    with scratch_engine.begin() as conn:
        conn.execute(insert(jobs), [dict(
            filename="旧.xlsx", stage="reserve", ownership="shared", operator_ids=[],
            allow_duplicates=True, import_valid_rows=False, status=status, total_rows=3,
            processed_rows=3, imported=2, duplicates=1, rejected=0, resume_row=0,
            created_at="2026-03-01 02:00:00", report=report if status == "done" else [])
            for status in ("done", "failed")])
    upgrade(scratch_engine)
    line = ImportReportLine
    with scratch_engine.connect() as conn:
        lines = conn.execute(select(line.job_id, line.row, line.status, line.name, line.reason,
                                    line.params, line.same_phone_as)
                             .order_by(line.job_id, line.row)).all()
    assert [tuple(r) for r in lines] == [
        (1, 1, "note", None, "import.columns_unknown", {"columns": "备注"}, None),
        (1, 2, "imported", "甲公司", None, None, None),
        (1, 3, "duplicate", "乙公司", "import.duplicate_in_file", {"row": 2}, None),
        (1, 4, "imported", "丙公司", None, None, "老客户")]
    from alembic import command
    command.downgrade(alembic_config(scratch_engine), "h1mrg0000001")
    with scratch_engine.connect() as conn:
        back = conn.execute(select(jobs.c.report).order_by(column("id"))).scalars().all()
    assert back == [report, []]
