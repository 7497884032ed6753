"""Follow-ups of the interrupted Excel import (C9): an interrupted job can be abandoned (its
kept upload goes), the web app looks for interrupted jobs when it starts, and the operators
are checked again by the rule when a job writes (models.imports.importer, admin/imports/views.py)."""
from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select, update

from models.db import make_engine, make_sessionmaker
from models.imports import importer
from models.imports.messages import ImportRefused, render
from models.schema import ImportJob, Role, User

from tests.import_helpers import company_rows, make_template, xlsx_bytes
from tests.models.imports.test_import_interrupted import (
    Killed,
    customer_count,
    hook_after_commit,
    interrupt_and_resume,
    interrupted_web_job,
    job_file,
    job_row,
    kill,
    new_job,
)
from tests.web_helpers import post


@pytest.fixture
def template(session, users, clock):
    return make_template(session, users["tm"], clock).id


def json_of(client, job_id: int) -> dict:
    return client.get(f"/imports/jobs/{job_id}", headers={"Accept": "application/json"}).get_json()


def flashed(client, response) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


# ------------------------------------------------------------------------------------------
# abandon

def test_an_interrupted_job_can_be_abandoned(app, as_user, Session, session, users, clock,
                                             template, monkeypatch):
    job_id = interrupted_web_job(app, Session, session, users, clock, template, monkeypatch)
    path = job_file(app, job_id)
    client = as_user("tm")
    status = f"/imports/jobs/{job_id}"
    # still running as far as anyone knows: nothing to abandon, the file stays
    refused = post(client, status + "/abandon", {"next": status + "/view"})
    assert "该导入没有中断，无法放弃" in flashed(client, refused)
    assert job_row(session, job_id).status == "importing" and path.exists()

    clock.advance(seconds=importer.STALE_SECONDS + 1)
    before = json_of(client, job_id)
    assert before["status"] == "interrupted"
    page = client.get(status + "/view").get_data(as_text=True)
    assert f'action="/imports/jobs/{job_id}/abandon"' in page and "放弃导入" in page

    for name in ("tm2", "mgr"):                                 # not theirs
        other = as_user(name)
        response = post(other, status + "/abandon", {"next": "/imports"})
        assert "导入任务不存在" in flashed(other, response)
    assert client.post(status + "/abandon").status_code == 400  # no CSRF token
    assert job_row(session, job_id).status == "interrupted" and path.exists()

    response = post(client, status + "/abandon")
    assert response.status_code == 302 and response.headers["Location"] == status + "/view"
    job = job_row(session, job_id)
    assert (job.status, job.worker, job.finished_at, job.imported) == (
        "abandoned", None, clock.now(), 20)
    assert customer_count(session) == 20                        # what got in stays
    assert not path.exists()                                    # the kept upload is gone
    page = client.get(status + "/view").get_data(as_text=True)
    assert "已放弃该导入。" in page and 'data-status="abandoned">已放弃</strong>' in page
    assert "导入已由 李红光 放弃：已导入 20 行，其余行未导入" in page
    assert "job-resume" not in page and "job-abandon" not in page and "data-poll" not in page
    after = json_of(client, job_id)
    assert (after["status"], after["finished"]) == ("abandoned", True)
    assert after["percent"] == before["percent"] < 100          # the bar stays where it stopped
    assert "<td>已放弃</td>" in client.get("/imports").get_data(as_text=True)

    # ended: neither resumed nor abandoned again, nor ever 'interrupted' again
    again = post(client, status + "/resume", {"next": status + "/view"})
    assert "该导入没有中断，无法继续" in flashed(client, again)
    again = post(client, status + "/abandon", {"next": status + "/view"})
    assert "该导入没有中断，无法放弃" in flashed(client, again)
    clock.advance(days=2)
    assert json_of(client, job_id)["status"] == "abandoned"

    post(client, "/language", {"lang": "en"})
    page = client.get(status + "/view").get_data(as_text=True)
    assert "李红光 abandoned the import: 20 rows were imported, the others were not" in page
    assert "Abandoned (not resumed)" in page


def test_an_admin_may_abandon_a_job_whose_file_is_gone(app, as_user, Session, session, users,
                                                       clock, template, monkeypatch):
    job_id = interrupted_web_job(app, Session, session, users, clock, template, monkeypatch)
    job_file(app, job_id).unlink()
    clock.advance(seconds=importer.STALE_SECONDS + 1)
    admin = as_user("admin")
    status = f"/imports/jobs/{job_id}"
    assert json_of(admin, job_id)["status"] == "interrupted"
    response = post(admin, status + "/abandon")
    assert response.status_code == 302
    assert "导入已由 管理员 放弃：已导入 20 行" in flashed(admin, response)
    assert job_row(session, job_id).status == "abandoned"


def test_abandon_stops_a_worker_that_was_only_slow(Session, session, users, clock, template,
                                                   tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "WRITE_BATCH", 10)
    monkeypatch.setattr(importer, "BATCH", 8)
    path = tmp_path / "job.xlsx"
    job_id = new_job(session, users, template, clock, path, xlsx_bytes(company_rows(50)))

    def abandon_behind_its_back():
        clock.advance(seconds=importer.STALE_SECONDS + 1)
        with Session() as other:
            assert importer.notice_interrupted(other, [other.get(ImportJob, job_id)], clock)
            other.commit()
            importer.abandon_job(other, users["tm"], job_id, clock=clock)
            other.commit()
    hook_after_commit(monkeypatch, 2, abandon_behind_its_back)
    assert importer.run_job(Session, job_id, path, clock) is None   # it stepped back
    job = job_row(session, job_id)
    assert (job.status, job.imported) == ("abandoned", 20)
    assert customer_count(session) == 20                   # its third batch was rolled back
    assert "已导入 20 行" in importer.error_text(job, "zh_CN")
    assert importer.run_job(Session, job_id, path, clock) is None   # never runs again


def test_the_browser_abandons_after_a_confirmation(app, live_server, browser_page, Session,
                                                   session, users, clock, template, monkeypatch):
    from tests.browser.chromium import log_in, shot

    job_id = interrupted_web_job(app, Session, session, users, clock, template, monkeypatch)
    clock.advance(seconds=importer.STALE_SECONDS + 1)
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.goto(f"{live_server}/imports/jobs/{job_id}/view")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#job-abandon")
    assert "尚未导入的行将不再导入" in asked[0]
    assert page.inner_text("#job-status") == "已中断"               # dismissed: nothing happened
    assert job_row(session, job_id).status == "interrupted" and job_file(app, job_id).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#job-abandon")
    page.wait_for_selector("#job-status[data-status=abandoned]")
    assert page.inner_text("#job-status") == "已放弃"
    assert "导入已由 李红光 放弃：已导入 20 行" in page.inner_text("#job-error")
    assert not page.is_visible("#job-resume") and not page.is_visible("#job-abandon")
    shot(page, "import-abandoned")
    assert not job_file(app, job_id).exists()


# ------------------------------------------------------------------------------------------
# the check when the web app starts

def make_app(Session, clock, tmp_path):
    from admin import create_app
    from config.settings import Settings
    return create_app(Settings(data_dir=tmp_path, secret_key="test-secret"), Session,
                      clock=clock, testing=True)


def test_the_web_app_notices_stale_jobs_when_it_starts(Session, session, users, clock, template,
                                                       tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "WRITE_BATCH", 10)
    dead = new_job(session, users, template, clock, tmp_path / "a.xlsx",
                   xlsx_bytes(company_rows(40)))
    with monkeypatch.context() as m:
        kill(m, "insert_batch", 2, after=True)
        with pytest.raises(Killed):
            importer.run_job(Session, dead, tmp_path / "a.xlsx", clock)
    never_claimed = new_job(session, users, template, clock, tmp_path / "b.xlsx",
                            xlsx_bytes(company_rows(5, start=100)))
    done = new_job(session, users, template, clock, tmp_path / "c.xlsx",
                   xlsx_bytes(company_rows(5, start=200)))
    assert importer.run_job(Session, done, tmp_path / "c.xlsx", clock) == "done"
    clock.advance(seconds=importer.STALE_SECONDS + 1)
    recent = new_job(session, users, template, clock, tmp_path / "d.xlsx",
                     xlsx_bytes(company_rows(5, start=300)))
    session.rollback()

    make_app(Session, clock, tmp_path / "web")
    assert [job_row(session, j).status for j in (dead, never_claimed, done, recent)] == [
        "interrupted", "interrupted", "done", "queued"]
    assert job_row(session, dead).imported == 10


def test_processes_starting_at_once_mark_each_job_once(Session, session, users, clock, template,
                                                       tmp_path):
    jobs = [new_job(session, users, template, clock, tmp_path / f"{n}.xlsx",
                    xlsx_bytes(company_rows(3, start=10 * n))) for n in range(3)]
    clock.advance(seconds=importer.STALE_SECONDS + 1)
    session.rollback()
    start = threading.Barrier(4)
    marked, errors = [], []

    def web_process_starts():
        try:
            with Session() as own:
                start.wait(10)
                marked.append(importer.notice_stale_jobs(own, clock))
                own.commit()
        except Exception as exc:  # reported below, with the thread's error
            errors.append(exc)
    threads = [threading.Thread(target=web_process_starts) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(marked) == 4
    assert sum(marked) == len(jobs)
    assert {job_row(session, j).status for j in jobs} == {"interrupted"}


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/no-such-folder/x.db",   # cannot be opened
                                 "sqlite:///{tmp}/empty.db",                # not migrated
                                 "postgresql+psycopg://nobody@127.0.0.1:1/none"],  # refused
                         ids=["unreachable sqlite", "no tables", "unreachable postgresql"])
def test_the_app_starts_when_the_database_cannot_be_used(tmp_path, clock, caplog, url):
    engine = make_engine(url.format(tmp=tmp_path))
    try:
        with caplog.at_level(logging.WARNING, logger="admin.imports.views"):
            app = make_app(make_sessionmaker(engine), clock, tmp_path / "web")
    finally:
        engine.dispose()
    assert "imports.job_abandon" in app.view_functions
    assert [r.getMessage() for r in caplog.records if r.name == "admin.imports.views"] == [
        "could not look for interrupted imports at start-up"]


# ------------------------------------------------------------------------------------------
# the operators checked again when the rows are written

def deactivate(session, user) -> None:
    session.execute(update(User).where(User.id == user.id).values(active=False))
    session.commit()


def job_for(session, users, template, clock, path, *, actor, operator, rows=30) -> int:
    options = importer.check_options(session, users[actor], template_id=template,
                                     stage="reserve", operator=str(users[operator].id))
    job = importer.create_job(session, users[actor], filename="名单.xlsx",
                              allow_duplicates=False, import_valid_rows=False, clock=clock,
                              **options)
    session.commit()
    path.write_bytes(xlsx_bytes(company_rows(rows)))
    return job.id


@pytest.mark.parametrize("actor", ["mgr", "tm"])
def test_an_operator_deactivated_after_queueing_fails_the_job(Session, session, users, clock,
                                                              template, tmp_path, actor):
    path = tmp_path / "job.xlsx"
    job_id = job_for(session, users, template, clock, path, actor=actor, operator="tm")
    deactivate(session, users["tm"])
    assert importer.run_job(Session, job_id, path, clock) == "failed"
    job = job_row(session, job_id)
    assert (job.status, job.imported, job.finished_at) == ("failed", 0, clock.now())
    assert customer_count(session) == 0                             # nothing written
    assert importer.error_text(job, "zh_CN") == render("import_job.operator_inactive",
                                                       imported=0)
    assert "所选操作人已不是在职用户" in importer.error_text(job, "zh_CN")
    assert "no longer an active user" in importer.error_text(job, "en")


def test_the_job_page_says_why_it_failed(app, as_user, Session, session, users, clock, template,
                                         tmp_path):
    path = tmp_path / "job.xlsx"
    job_id = job_for(session, users, template, clock, path, actor="mgr", operator="tm")
    deactivate(session, users["tm"])
    assert importer.run_job(Session, job_id, path, clock) == "failed"
    page = as_user("mgr").get(f"/imports/jobs/{job_id}/view").get_data(as_text=True)
    assert "所选操作人已不是在职用户，导入已停止：已导入 0 行" in page and "失败" in page


def test_a_shared_job_and_an_active_operator_are_not_refused(Session, session, users, clock,
                                                             template, tmp_path):
    """The check refuses only what the rule refuses."""
    path = tmp_path / "job.xlsx"
    job_id = job_for(session, users, template, clock, path, actor="mgr", operator="rep")
    shared = importer.create_job(
        session, users["tm"], filename="共享.xlsx", allow_duplicates=False,
        import_valid_rows=False, clock=clock,
        **importer.check_options(session, users["tm"], template_id=template, stage="reserve",
                                 operator="shared"))
    session.commit()
    (tmp_path / "shared.xlsx").write_bytes(xlsx_bytes(company_rows(5, start=500)))
    deactivate(session, users["tm"])               # neither the operator of the first job
    assert importer.run_job(Session, job_id, path, clock) == "done"
    assert importer.run_job(Session, shared.id, tmp_path / "shared.xlsx", clock) == "done"
    assert customer_count(session) == 35


def test_a_resumed_job_checks_the_operators_again(Session, session, users, clock, template,
                                                  tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "WRITE_BATCH", 10)
    path = tmp_path / "job.xlsx"
    job_id = job_for(session, users, template, clock, path, actor="mgr", operator="tm", rows=40)
    with monkeypatch.context() as m:
        kill(m, "insert_batch", 3, after=True)
        with pytest.raises(Killed):
            importer.run_job(Session, job_id, path, clock)
    interrupt_and_resume(session, users, job_id, clock, actor="mgr")
    deactivate(session, users["tm"])
    assert importer.run_job(Session, job_id, path, clock) == "failed"
    job = job_row(session, job_id)
    assert (job.status, job.imported, customer_count(session)) == ("failed", 20, 20)
    assert "已导入 20 行，其余行未导入" in importer.error_text(job, "zh_CN")


def test_a_manager_demoted_after_queueing_may_no_longer_import_for_others(
        Session, session, users, clock, template, tmp_path):
    path = tmp_path / "job.xlsx"
    job_id = job_for(session, users, template, clock, path, actor="mgr", operator="tm")
    role = session.scalar(select(Role.id).where(Role.code == "telemarketer"))
    session.execute(update(User).where(User.id == users["mgr"].id).values(role_id=role))
    session.commit()
    assert importer.run_job(Session, job_id, path, clock) == "failed"
    job = job_row(session, job_id)
    assert importer.error_text(job, "zh_CN") == ImportRefused(
        "import.operator_not_allowed").message("zh_CN")
    assert customer_count(session) == 0

