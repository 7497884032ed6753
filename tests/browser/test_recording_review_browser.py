"""Reviewing a recording in Debian's Chromium (issue 16): the waveform is drawn from the peaks,
a click on it seeks, the speed goes to 1.5×, a comment is pinned at the moment played, the
scorecard is filled and saved; the agent then sees his score and acknowledges it."""
from __future__ import annotations

from models.schema import RecordingComment, Review

from tests.admin.test_web_quality import with_audio  # noqa: F401  (real audio in the store)
from tests.browser.chromium import log_in, shot
from tests.models.quality.helpers import make_form, recorded_call


def test_a_manager_reviews_while_listening_and_the_agent_acknowledges(
        live_server, browser_page, chromium, session, users, clock, with_audio):  # noqa: F811
    form, items = make_form(session, users["admin"], clock)
    rec = with_audio(recorded_call(session, clock, users["tm"]))
    session.commit()
    page = browser_page
    log_in(page, live_server, "mgr", "pw-mgr")
    page.goto(f"{live_server}/recordings/{rec.id}")
    page.wait_for_selector('#player[data-peaks-loaded="600"]')
    # the drawn waveform: the silent first half is grey near the middle line only, the tone
    # fills the second half
    heights = page.evaluate("""() => {
        const c = document.getElementById('waveform'), ctx = c.getContext('2d');
        const column = x => { const d = ctx.getImageData(x, 0, 1, c.height).data; let n = 0;
            for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; };
        return [column(Math.floor(c.width * 0.2)), column(Math.floor(c.width * 0.8)), c.height]; }""")
    assert heights[0] <= 3 and heights[1] >= heights[2] * 0.8
    page.wait_for_function("document.getElementById('recording-audio').duration > 3")
    page.select_option("#speed", "1.5")
    assert page.evaluate("document.getElementById('recording-audio').playbackRate") == 1.5
    box = page.locator("#waveform").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    page.wait_for_function("Math.abs(document.getElementById('recording-audio').currentTime - "
                           "document.getElementById('recording-audio').duration * 0.75) < 0.2")
    at_ms = int(page.input_value("#at-ms"))
    assert 2500 <= at_ms <= 3500
    page.fill("#comment-text", "这里停顿太久")
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector(f'li.comment[data-at-ms="{at_ms}"]')
    scorecard = page.locator(f'form.scorecard[data-form-id="{form.id}"]')
    scorecard.locator(f'input[name="item_{items["greeting"].id}"][value="1"]').check()
    scorecard.locator(f'input[name="item_{items["identity"].id}"][value="1"]').check()
    scorecard.locator(f'select[name="item_{items["pace"].id}"]').select_option("5")
    scorecard.locator('button[type=submit]').click()
    page.wait_for_selector(".review-score")
    assert page.inner_text(".review-score") == "100.0"
    shot(page, "recording-review")
    page.goto(f"{live_server}/recordings")
    assert page.inner_text(f'tr.library-row[data-recording-id="{rec.id}"] td.score') == "100.0"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "recording-library")
    session.commit()
    assert session.query(RecordingComment).one().at_ms == at_ms
    session.commit()   # end the read: on SQLite it would hold the lock the pages need
    agent = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    try:
        mine = agent.new_page()
        mine.set_default_timeout(10_000)
        log_in(mine, live_server, "tm", "pw-tm")
        mine.wait_for_selector("#main-line")
        mine.goto(f"{live_server}/recordings/{rec.id}")
        assert mine.locator("form.scorecard").count() == 0
        assert mine.inner_text(".review-score") == "100.0" and "这里停顿太久" in mine.inner_text("#comments")
        mine.click('.review form[action$="/acknowledge"] button')
        mine.wait_for_selector('.review[data-state="acknowledged"]')
    finally:
        agent.close()
    session.commit()
    assert session.query(Review).one().state == "acknowledged"
