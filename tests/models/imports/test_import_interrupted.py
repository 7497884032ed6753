"""An Excel import whose worker dies (the web process stops or restarts) is noticed as
'interrupted' and resumed after its last committed row: no row twice, none lost, the report
the same as for an uninterrupted import (models.imports.importer, admin/imports/views.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from models.db import begin_read
from models.imports import importer
from models.imports.messages import ImportNotFound, ImportRefused
from models.schema import Customer, CustomerOperator, ImportJob, OperatorHistory

from tests.import_helpers import company_rows, make_template, xlsx_bytes
from tests.repo_paths import ROOT
from tests.web_helpers import post


class Killed(BaseException):
    """The worker's process dies here: nothing after runs, its open transaction is lost."""


@pytest.fixture
def template(session, users, clock):
    return make_template(session, users["tm"], clock).id


@pytest.fixture
def small_batches(monkeypatch):
    """Many batches from a small file: rows written 10 at a time, checked 8 at a time."""
    monkeypatch.setattr(importer, "WRITE_BATCH", 10)
    monkeypatch.setattr(importer, "BATCH", 8)


def read(session, fn):
    """Read outside any lasting transaction (on SQLite one would hold the write lock)."""
    session.rollback()
    try:
        return fn()
    finally:
        session.rollback()


def job_row(session, job_id: int) -> SimpleNamespace:
    """The job's columns and its report lines, read and let go (a rollback would expire an
    ORM object)."""
    def values():
        job = session.get(ImportJob, job_id, populate_existing=True)
        return SimpleNamespace(**{c.key: getattr(job, c.key) for c in ImportJob.__table__.c},
                               report=list(importer.report_entries(session, job_id)))
    return read(session, values)


def customer_count(session) -> int:
    return read(session, lambda: session.scalar(select(func.count()).select_from(Customer)))


def new_job(session, users, template_id, clock, path: Path, data: bytes, *, actor="tm",
            allow_duplicates=True, import_valid_rows=True) -> int:
    user = users[actor]
    options = importer.check_options(session, user, template_id=template_id, stage="reserve",
                                     operator=str(user.id))
    job = importer.create_job(session, user, filename="名单.xlsx",
                              allow_duplicates=allow_duplicates,
                              import_valid_rows=import_valid_rows, clock=clock, **options)
    session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return job.id


def kill(monkeypatch, method: str, nth: int, *, phase: str | None = None, after: bool = False):
    """Make the worker die at the nth call of ImportRun.<method> (made in `phase`), before
    the call or, with `after`, once it has run (its work not committed)."""
    original = getattr(importer.ImportRun, method)
    calls = []

    def dying(self, *args, **kwargs):
        if phase is None or self.phase == phase:
            calls.append(1)
            if len(calls) == nth:
                if after:
                    original(self, *args, **kwargs)
                raise Killed(f"{method} #{nth}")
        return original(self, *args, **kwargs)
    monkeypatch.setattr(importer.ImportRun, method, dying)


def interrupt_and_resume(session, users, job_id, clock, *, actor="tm") -> None:
    """What the user sees after the worker died: the job is noticed once its heartbeat is
    stale (not before), and resumed."""
    session.rollback()
    job = session.get(ImportJob, job_id, populate_existing=True)
    assert job.status in importer.RUNNING                  # the dead worker's last word
    assert not importer.notice_interrupted(session, [job], clock)
    clock.advance(seconds=importer.STALE_SECONDS + 1)
    assert importer.notice_interrupted(session, [job], clock)
    session.commit()
    assert job_row(session, job_id).status == "interrupted"
    job = importer.resume_job(session, users[actor], job_id, file_kept=True, clock=clock)
    assert job.status == "queued"
    session.commit()


# ------------------------------------------------------------------------------------------
# a file with every kind of outcome, interrupted anywhere

def scenario_rows() -> list[list]:
    rows = company_rows(100)          # rows[i] is file row i + 1 (rows[0]: the header)
    rows[4][0] = None                 # row 5: no name
    rows[13][0] = rows[3][0]          # row 14: the name of row 4
    rows[21][0] = "老客户甲"           # row 22: a name in the database
    rows[6][2] = "021-88886666"       # row 7: the phone of 老客户乙
    rows[71][2] = rows[9][2]          # row 72: the phone of row 10
    rows[81][3] = rows[8][3]          # row 82: the mobile of row 9 (row 9 itself: no warning)
    rows[61][0] = rows[11][0]         # row 62: the name of row 12
    rows[96][0] = rows[51][0]         # row 97: the name of row 52
    return rows


def expected_report(rows) -> list[dict]:
    problems = {
        5: dict(name=None, status="rejected", reason="customer.name_required"),
        14: dict(status="duplicate", reason="import.duplicate_in_file", params={"row": 4}),
        22: dict(status="duplicate", reason="import.duplicate_in_database"),
        62: dict(status="duplicate", reason="import.duplicate_in_file", params={"row": 12}),
        97: dict(status="duplicate", reason="import.duplicate_in_file", params={"row": 52}),
    }
    warnings = {7: "老客户乙", 72: rows[9][0], 82: rows[8][0]}
    report = []
    for number in range(2, len(rows) + 1):
        name = rows[number - 1][0]
        entry = {"row": number, "name": name, "status": "imported"}
        if number in problems:
            entry = {"row": number, "name": name, **problems[number]}
        elif number in warnings:
            entry["same_phone_as"] = warnings[number]
        report.append(entry)
    return report


KILLS = {
    "none": [],
    "while checking": [("progress", 2, "validating", False)],
    "in the first write": [("insert_batch", 1, None, True)],
    "after 3 batches": [("insert_batch", 4, None, True)],
    "after 6 batches": [("insert_batch", 7, None, True)],
    "before the last commit": [("commit", 1, "done", False)],
    "twice": [("insert_batch", 3, None, True), ("insert_batch", 4, None, True)],
    "twice while checking": [("insert_batch", 5, None, True), ("progress", 3, "validating", False)],
}


@pytest.mark.parametrize("kills", KILLS.values(), ids=KILLS.keys())
def test_resumed_import_equals_an_uninterrupted_one(Session, session, users, make_customer, clock,
                                                   template, tmp_path, small_batches,
                                                   monkeypatch, kills):
    make_customer("老客户甲")
    make_customer("老客户乙", phone="021-88886666")
    clock.advance(minutes=1)
    rows = scenario_rows()
    job_id = new_job(session, users, template, clock, tmp_path / "job.xlsx", xlsx_bytes(rows))
    for method, nth, phase, after in kills:
        with monkeypatch.context() as m:
            kill(m, method, nth, phase=phase, after=after)
            with pytest.raises(Killed):
                importer.run_job(Session, job_id, tmp_path / "job.xlsx", clock)
        job = job_row(session, job_id)
        # what got in is exactly what the job says: no half batch
        assert customer_count(session) == 2 + job.imported
        interrupt_and_resume(session, users, job_id, clock)
        clock.advance(seconds=5)
    assert importer.run_job(Session, job_id, tmp_path / "job.xlsx", clock) == "done"

    job = job_row(session, job_id)
    assert job.report == expected_report(rows)
    assert (job.status, job.total_rows, job.processed_rows, job.imported, job.duplicates,
            job.rejected, job.error) == ("done", 100, 100, 95, 4, 1, None)
    imported = [e["name"] for e in job.report if e["status"] == "imported"]

    def written():
        ids = select(Customer.id).where(Customer.name.in_(imported))
        return (session.scalar(select(func.count()).select_from(Customer)),
                session.scalar(select(func.count()).where(Customer.name.in_(imported))),
                session.scalar(select(func.count()).select_from(CustomerOperator)
                               .where(CustomerOperator.customer_id.in_(ids))),
                session.scalar(select(func.count()).select_from(OperatorHistory)
                               .where(OperatorHistory.action == "import")))
    assert read(session, written) == (97, 95, 95, 95)


# ------------------------------------------------------------------------------------------
# a real worker process, killed with SIGKILL while it writes

CHILD = """
import datetime as dt, sys, time
from models.imports import importer
from models.clock import FakeClock
from models.db import make_engine, make_sessionmaker

url, job_id, path, now = sys.argv[1:5]
importer.WRITE_BATCH = 20
original = importer.ImportRun.insert_batch

def slow(self, rows, retry=True):   # a slow disk: the kill lands inside a write transaction
    done = original(self, rows, retry)
    time.sleep(0.1)
    return done

importer.ImportRun.insert_batch = slow
maker = make_sessionmaker(make_engine(url))
print(importer.run_job(maker, int(job_id), path, FakeClock(dt.datetime.fromisoformat(now))))
"""


def test_a_killed_worker_process_is_noticed_and_resumed(Session, session, users, clock, template,
                                                        tmp_path, db_url):
    rows = company_rows(200)
    path = tmp_path / "job.xlsx"
    job_id = new_job(session, users, template, clock, path, xlsx_bytes(rows),
                     allow_duplicates=False, import_valid_rows=False)
    log = (tmp_path / "worker.log").open("w")
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, str(job_id), str(path),
                              clock.now().isoformat()], cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 90
        while True:
            session.rollback()
            begin_read(session)
            imported = session.scalar(select(ImportJob.imported).where(ImportJob.id == job_id))
            session.rollback()
            if imported >= 60:
                break
            assert child.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker wrote nothing"
            time.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        log.close()
    assert child.returncode == -signal.SIGKILL
    job = job_row(session, job_id)
    assert job.status == "importing" and 60 <= job.imported < 200
    assert customer_count(session) == job.imported
    assert path.exists()                       # kept for the resume
    interrupt_and_resume(session, users, job_id, clock)
    assert importer.run_job(Session, job_id, path, clock) == "done"
    job = job_row(session, job_id)
    assert (job.status, job.imported, job.rejected, job.duplicates) == ("done", 200, 0, 0)
    assert job.report == [{"row": n, "name": rows[n - 1][0], "status": "imported"}
                          for n in range(2, 202)]
    assert customer_count(session) == 200


# ------------------------------------------------------------------------------------------
# a worker that was only slow, and one resumed while it still ran

def hook_after_commit(monkeypatch, nth: int, action):
    """Run `action` after the worker's nth commit of a written batch (no transaction open)."""
    original = importer.ImportRun.progress
    calls = []

    def progress(self, processed, pause=False):
        original(self, processed, pause)
        if self.phase == "importing":
            calls.append(1)
            if len(calls) == nth:
                action()
    monkeypatch.setattr(importer.ImportRun, "progress", progress)


def test_a_slow_worker_takes_its_job_back(Session, session, users, clock, template, tmp_path,
                                          small_batches, monkeypatch):
    rows = company_rows(50)
    path = tmp_path / "job.xlsx"
    job_id = new_job(session, users, template, clock, path, xlsx_bytes(rows))
    seen = []

    def stall():
        clock.advance(seconds=importer.STALE_SECONDS + 1)
        with Session() as other:
            job = other.get(ImportJob, job_id)
            assert importer.notice_interrupted(other, [job], clock)
            other.commit()
            seen.append(other.get(ImportJob, job_id, populate_existing=True).status)
    hook_after_commit(monkeypatch, 2, stall)
    assert importer.run_job(Session, job_id, path, clock) == "done"
    job = job_row(session, job_id)
    assert seen == ["interrupted"]
    assert (job.status, job.imported, job.heartbeat_at) == ("done", 50, clock.now())
    assert customer_count(session) == 50


def test_a_job_resumed_while_its_old_worker_runs_is_written_once(Session, session, users, clock,
                                                                 template, tmp_path,
                                                                 small_batches, monkeypatch):
    rows = company_rows(50)
    path = tmp_path / "job.xlsx"
    job_id = new_job(session, users, template, clock, path, xlsx_bytes(rows))

    def resume_behind_its_back():
        clock.advance(seconds=importer.STALE_SECONDS + 1)
        with Session() as other:
            job = other.get(ImportJob, job_id)
            assert importer.notice_interrupted(other, [job], clock)
            importer.resume_job(other, users["tm"], job_id, file_kept=True, clock=clock)
            other.commit()
    with monkeypatch.context() as m:
        hook_after_commit(m, 2, resume_behind_its_back)
        assert importer.run_job(Session, job_id, path, clock) is None  # it stepped back
    job = job_row(session, job_id)
    assert (job.status, job.imported) == ("queued", 20)
    assert customer_count(session) == 20      # its third batch was rolled back
    assert importer.run_job(Session, job_id, path, clock) == "done"
    assert importer.run_job(Session, job_id, path, clock) is None  # only once
    job = job_row(session, job_id)
    assert (job.status, job.imported, len(job.report)) == ("done", 50, 50)
    assert {e["status"] for e in job.report} == {"imported"}
    assert customer_count(session) == 50


# ------------------------------------------------------------------------------------------
# errors, the clock, refusals

def test_an_unexpected_error_after_rows_were_written_is_resumable(Session, session, users, clock,
                                                                  template, tmp_path,
                                                                  small_batches, monkeypatch):
    rows = company_rows(40)
    path = tmp_path / "job.xlsx"
    job_id = new_job(session, users, template, clock, path, xlsx_bytes(rows))

    def broken(nth):
        original = importer.ImportRun.insert_batch
        calls = []

        def insert_batch(self, part, retry=True):
            calls.append(1)
            if len(calls) == nth:
                raise RuntimeError("disk full")
            return original(self, part, retry)
        return insert_batch
    with monkeypatch.context() as m:
        m.setattr(importer.ImportRun, "insert_batch", broken(3))
        assert importer.run_job(Session, job_id, path, clock) == "interrupted"
    job = job_row(session, job_id)
    assert (job.status, job.imported, job.finished_at) == ("interrupted", 20, None)
    assert "RuntimeError" in importer.error_text(job, "en")
    importer.resume_job(session, users["tm"], job_id, file_kept=True, clock=clock)
    session.commit()
    assert importer.run_job(Session, job_id, path, clock) == "done"
    job = job_row(session, job_id)
    assert (job.status, job.imported, job.error) == ("done", 40, None)

    # the same error before anything was written: a plain failure
    other = new_job(session, users, template, clock, tmp_path / "other.xlsx",
                    xlsx_bytes(company_rows(10, start=500)))
    with monkeypatch.context() as m:
        m.setattr(importer.ImportRun, "insert_batch", broken(1))
        assert importer.run_job(Session, other, tmp_path / "other.xlsx", clock) == "failed"
    assert (job_row(session, other).status, customer_count(session)) == ("failed", 40)


def test_staleness_follows_the_injected_clock(Session, session, users, clock, template, tmp_path):
    path = tmp_path / "job.xlsx"
    job_id = new_job(session, users, template, clock, path, xlsx_bytes(company_rows(5)))
    # the web process stopped before its thread claimed the job: it stays queued
    clock.advance(seconds=importer.STALE_SECONDS)
    job = session.get(ImportJob, job_id)
    assert not importer.worker_gone(job, clock)
    assert not importer.notice_interrupted(session, [job], clock)
    clock.advance(seconds=1)
    assert importer.worker_gone(job, clock)
    assert importer.notice_interrupted(session, [job], clock)
    session.commit()
    assert job_row(session, job_id).status == "interrupted"
    with pytest.raises(ImportNotFound):
        importer.resume_job(session, users["tm2"], job_id, file_kept=True, clock=clock)
    session.rollback()
    importer.resume_job(session, users["admin"], job_id, file_kept=True, clock=clock)
    session.commit()
    with pytest.raises(ImportRefused) as refused:       # already queued again
        importer.resume_job(session, users["tm"], job_id, file_kept=True, clock=clock)
    assert refused.value.key == "import_job.not_interrupted"
    session.rollback()
    assert importer.run_job(Session, job_id, path, clock) == "done"
    # an ended job is never 'interrupted', however old
    clock.advance(days=3)
    job = session.get(ImportJob, job_id, populate_existing=True)
    assert not importer.notice_interrupted(session, [job], clock)
    session.rollback()
    assert job_row(session, job_id).status == "done"


# ------------------------------------------------------------------------------------------
# through the web

def job_file(app, job_id: int) -> Path:
    return Path(app.config["DATA_DIR"]) / "imports" / f"job-{job_id}.xlsx"


def wait_until(check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def interrupted_web_job(app, Session, session, users, clock, template, monkeypatch) -> int:
    """A job whose worker died after writing two batches of 10 rows (of 40)."""
    user = users["tm"]
    options = importer.check_options(session, user, template_id=template, stage="reserve",
                                     operator=str(user.id))
    job = importer.create_job(session, user, filename="名单.xlsx", allow_duplicates=False,
                              import_valid_rows=False, clock=clock, **options)
    session.commit()
    job_id = job.id
    path = job_file(app, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(xlsx_bytes(company_rows(40)))
    with monkeypatch.context() as m:
        m.setattr(importer, "WRITE_BATCH", 10)
        kill(m, "insert_batch", 3, after=True)
        with pytest.raises(Killed):
            importer.run_job(Session, job_id, path, clock)
    session.rollback()
    return job_id


def test_the_job_page_offers_to_resume(app, as_user, Session, session, users, clock, template,
                                       monkeypatch):
    job_id = interrupted_web_job(app, Session, session, users, clock, template, monkeypatch)
    client = as_user("tm")
    status = f"/imports/jobs/{job_id}"
    data = client.get(status, headers={"Accept": "application/json"}).get_json()
    assert (data["status"], data["finished"], data["imported"]) == ("importing", False, 20)
    clock.advance(seconds=importer.STALE_SECONDS + 1)
    data = client.get(status, headers={"Accept": "application/json"}).get_json()
    assert data == dict(data, status="interrupted", status_label="已中断", finished=True,
                        imported=20, resume_row=21)
    page = client.get(status + "/view").get_data(as_text=True)
    assert "导入在完成前被中断" in page and "已导入 20 行，截至文件第 21 行" in page
    assert f'action="/imports/jobs/{job_id}/resume"' in page and "data-poll" not in page
    assert "report-download" not in page
    assert client.get(status + "/report").status_code == 400   # not finished
    assert "已中断" in client.get("/imports").get_data(as_text=True)

    for name in ("tm2", "mgr"):                                 # not theirs
        other = as_user(name)
        refused = post(other, status + "/resume", {"next": "/imports"})
        assert refused.status_code == 302
        assert "导入任务不存在" in other.get("/imports").get_data(as_text=True)
    assert client.post(status + "/resume").status_code == 400  # no CSRF token
    assert job_row(session, job_id).status == "interrupted"

    response = post(client, status + "/resume")
    assert response.status_code == 302 and response.headers["Location"] == status + "/view"
    wait_until(lambda: client.get(status, headers={"Accept": "application/json"})
               .get_json()["status"] == "done")
    job = job_row(session, job_id)
    assert (job.imported, len(job.report), customer_count(session)) == (40, 40, 40)
    wait_until(lambda: not job_file(app, job_id).exists())    # removed once the job ended
    again = post(client, status + "/resume", {"next": status + "/view"})
    assert "该导入没有中断" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_resume_without_the_file_says_what_got_in(app, as_user, Session, session, users, clock,
                                                  template, monkeypatch):
    job_id = interrupted_web_job(app, Session, session, users, clock, template, monkeypatch)
    job_file(app, job_id).unlink()
    clock.advance(seconds=importer.STALE_SECONDS + 1)
    client = as_user("tm")
    status = f"/imports/jobs/{job_id}"
    assert "导入在完成前被中断" in client.get(status + "/view").get_data(as_text=True)
    response = post(client, status + "/resume")
    assert response.status_code == 302
    page = client.get(status + "/view").get_data(as_text=True)
    assert "上传的文件已不在服务器上，无法继续导入。已导入 20 行；" in page
    job = job_row(session, job_id)
    assert (job.status, job.imported, customer_count(session)) == ("failed", 20, 20)
    post(client, "/language", {"lang": "en"})
    page = client.get(status + "/view").get_data(as_text=True)
    assert "20 rows were imported; upload the file again" in page and "Failed" in page


def test_the_browser_shows_the_interruption_and_resumes(app, live_server, browser_page, Session,
                                                        session, users, clock, template,
                                                        monkeypatch):
    from tests.browser.chromium import log_in, shot

    job_id = interrupted_web_job(app, Session, session, users, clock, template, monkeypatch)
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.goto(f"{live_server}/imports/jobs/{job_id}/view")
    assert page.inner_text("#job-status") == "正在导入"          # the dead worker's last word
    assert page.get_attribute("#import-progress", "data-poll")  # the bar polls
    clock.advance(seconds=importer.STALE_SECONDS + 1)
    page.wait_for_selector("#job-resume")                       # imports.js reloaded the page
    assert page.inner_text("#job-status") == "已中断"
    assert "已导入 20 行，截至文件第 21 行" in page.inner_text("#job-interrupted")
    shot(page, "import-interrupted")
    page.click("#job-resume")
    page.wait_for_selector("#job-status[data-status=done]", timeout=60_000)
    assert page.inner_text("#job-imported") == "40" and "所有行都已导入" in page.content()
    assert customer_count(session) == 40
