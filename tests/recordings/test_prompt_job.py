"""Generating the IVR prompts from the admin's page: a background job with progress, one at a
time, noticed when its process died (issue 11)."""
from __future__ import annotations

import datetime as dt
import json
import time
import wave

from recordings import prompt_job

from tests.web_helpers import post


class NotStarted:
    """A runner that never runs the job (the job stays 'running' as if still at work)."""

    def __init__(self, target, args, daemon, name):
        pass

    def start(self):
        pass


def test_the_button_generates_every_prompt_in_the_background(as_user, app):
    admin = as_user("admin")
    page = admin.get("/manage/prompts").get_data(as_text=True)
    assert 'id="generate-prompts"' in page and "dialfunnel prompts generate" not in page
    response = post(admin, "/manage/prompts/generate", {})
    assert response.status_code == 302
    deadline = time.monotonic() + 120
    while True:
        job = admin.get("/manage/prompts/generate/status").get_json()
        if job.get("state") != "running" or time.monotonic() > deadline:
            break
        assert 0 <= job["done"] <= job["total"]
        time.sleep(0.2)
    assert job["state"] == "done" and job["done"] == job["total"] > 30
    folder = app.config["DATA_DIR"] / "sounds" / "dialfunnel"
    with wave.open(str(folder / "abandon.wav")) as w:
        assert w.getframerate() == 8000 and w.getnframes() > 8000
    page = admin.get("/manage/prompts").get_data(as_text=True)
    assert "完成" in page and f"{job['total']} / {job['total']}" in page


def test_one_job_at_a_time_and_a_dead_one_can_be_restarted(as_user, app, clock):
    app.config["PROMPT_JOB_RUNNER"] = NotStarted
    admin = as_user("admin")
    assert "正在后台生成" in post(admin, "/manage/prompts/generate", {},
                                  follow_redirects=True).get_data(as_text=True)
    again = post(admin, "/manage/prompts/generate", {}, follow_redirects=True).get_data(as_text=True)
    assert "提示音已在生成中" in again and 'id="generate-prompts" disabled' in again
    clock.advance(seconds=prompt_job.STALE_SECONDS + 1)      # nobody beat: the process died
    page = admin.get("/manage/prompts").get_data(as_text=True)
    assert "已中断" in page
    assert "正在后台生成" in post(admin, "/manage/prompts/generate", {},
                                  follow_redirects=True).get_data(as_text=True)


def test_a_failure_is_reported(tmp_path, clock):
    ran = []

    class Inline:
        def __init__(self, target, args, daemon, name):
            self.target, self.args = target, args

        def start(self):
            ran.append(True)
            self.target(*self.args)

    assert prompt_job.start(tmp_path, {"Bad Name": "x"}, "cmn", clock=clock, run=Inline)
    state = json.loads((tmp_path / prompt_job.STATE_FILE).read_text())
    assert ran and state["state"] == "failed" and "Bad Name" in state["error"]
    assert dt.datetime.fromisoformat(state["finished_at"]) == clock.now()
