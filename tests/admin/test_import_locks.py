"""A big import must not freeze everyone on SQLite (issue 11, C9): every transaction there
holds the database-wide write lock (BEGIN IMMEDIATE, models/db.py), so no transaction may
stay open while an uploaded file is received or read, and the progress poll reads beside the
worker instead of queueing for the lock."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from models.imports import files as import_files
from models.imports import importer
from models.schema import ImportJob

from tests.admin.test_web_imports import ids, peek, started_job_id, upload, wait_for  # noqa: F401
from tests.import_helpers import company_rows, make_template, xlsx_bytes
from tests.models.imports.test_importer import run_import, template  # noqa: F401 (fixtures)


@pytest.fixture
def sqlite_path(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's: PostgreSQL locks rows, not the database")
    return engine.url.database


def write_lock_free(path) -> bool:
    """Could another process take the write lock right now?"""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


class ProbingReader(import_files.SheetReader):
    """The real reader, noting whether the write lock was free while it opened the file and
    every 100 rows it read."""
    probes: list[bool] = []
    path = None

    def __init__(self, *args, **kw):
        ProbingReader.probes.append(write_lock_free(ProbingReader.path))
        super().__init__(*args, **kw)

    def rows(self, max_col):
        for n, row in enumerate(super().rows(max_col)):
            if n % 100 == 0:
                ProbingReader.probes.append(write_lock_free(ProbingReader.path))
            yield row


@pytest.fixture
def probing(monkeypatch, sqlite_path):
    ProbingReader.probes, ProbingReader.path = [], sqlite_path
    monkeypatch.setattr(importer, "SheetReader", ProbingReader)
    return ProbingReader.probes


def test_the_worker_reads_the_file_without_the_write_lock(session, run_import, probing):
    job = run_import(xlsx_bytes(company_rows(2500)))
    assert (job.status, job.imported) == ("done", 2500)
    assert len(probing) > 20 and all(probing), probing


def test_the_upload_is_read_without_the_write_lock(as_user, session, ids, users, clock,
                                                   probing):
    tpl = make_template(session, users["tm"], clock).id
    session.rollback()
    client = as_user("tm")
    job_id = started_job_id(upload(client, xlsx_bytes(company_rows(300)), template=tpl,
                                   operator=ids["tm"]))
    assert wait_for(client, session, job_id)["imported"] == 300
    # the preflight's open and header read (the worker's are checked above: here requests
    # polling the job may hold the lock for an instant)
    assert probing[:2] == [True, True]


def test_the_progress_poll_does_not_wait_for_the_write_lock(as_user, session, ids, users,
                                                            clock, sqlite_path):
    tpl = make_template(session, users["tm"], clock)
    options = importer.check_options(session, users["tm"], template_id=tpl.id,
                                     stage="reserve", operator=str(users["tm"].id))
    job = importer.create_job(session, users["tm"], filename="a.xlsx", allow_duplicates=False,
                              import_valid_rows=False, clock=clock, **options)
    session.commit()
    job_id = job.id
    client = as_user("tm")
    holder = sqlite3.connect(sqlite_path, timeout=5, isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")          # a worker writing a batch
    release = threading.Timer(3, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        start = time.monotonic()
        response = client.get(f"/imports/jobs/{job_id}", headers={"Accept": "application/json"})
        elapsed = time.monotonic() - start
    finally:
        release.join()
        holder.close()
    assert response.status_code == 200 and response.get_json()["status"] == "queued"
    assert elapsed < 1, elapsed
    assert peek(session, lambda: session.get(ImportJob, job_id).status) == "queued"


def test_the_preflight_reads_the_header_not_the_whole_sheet(tmp_path, template, monkeypatch):
    """The upload is answered after the header row is read: the sheet's XML is not scanned
    for formulas and merges (the worker does that), nor its rows read past the header."""
    scanned, read = [], []
    real_scan, real_rows = import_files.scan_sheet_xml, import_files.SheetReader.rows
    monkeypatch.setattr(import_files, "scan_sheet_xml",
                        lambda stream: scanned.append(1) or real_scan(stream))

    def rows(self, max_col):
        for row in real_rows(self, max_col):
            read.append(row[0])
            yield row
    monkeypatch.setattr(import_files.SheetReader, "rows", rows)
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx_bytes(company_rows(500)))
    assert importer.preflight(path, template)["columns"].missing == []
    assert importer.sheet_names(path)["default"] == "Sheet"
    assert scanned == [] and read == [1]


def test_the_result_report_is_built_without_the_write_lock(as_user, session, ids, users,
                                                           clock, sqlite_path, monkeypatch):
    tpl = make_template(session, users["tm"], clock).id
    session.rollback()
    client = as_user("tm")
    job_id = started_job_id(upload(client, xlsx_bytes(company_rows(50)), template=tpl,
                                   operator=ids["tm"]))
    wait_for(client, session, job_id)
    free, real = [], importer.report_table
    monkeypatch.setattr(importer, "report_table",
                        lambda *a: free.append(write_lock_free(sqlite_path)) or real(*a))
    assert client.get(f"/imports/jobs/{job_id}/report").status_code == 200
    assert free == [True]
