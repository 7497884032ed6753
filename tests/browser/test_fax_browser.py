"""Faxes in Debian's Chromium: a new fax pops up for the customer's agent; the agent sends a
fax from the customer's page, places the company stamp by clicking on the page preview, and
sends it (the TIFF has the stamp where the click was)."""
import time

from PIL import Image
from sqlalchemy import select

from admin.events.hub import hub_for
from faxdocs.store import FaxStore
from models.fax import inbox
from models.schema import Fax

from tests.admin.test_web_fax import stamp_png
from tests.browser.chromium import log_in, shot
from tests.faxdocs.test_convert import two_page_pdf


def listening(app, user_id: int, timeout: float = 10.0) -> None:
    """Wait until the page's event stream is connected: it starts after the rows that exist
    when it connects (admin/events/stream.py), so a fax filed before would not pop up."""
    hub = hub_for(app)
    deadline = time.monotonic() + timeout
    while not hub._subscribers.get(user_id):
        assert time.monotonic() < deadline, "the page's event stream never connected"
        time.sleep(0.05)


def test_a_fax_pops_up_and_one_is_sent_with_a_stamp(live_server, browser_page, app, session, users,
                                                    clock, make_customer, tmp_path):
    c = make_customer("浏览器传真有限公司", owner="tm", fax="021-5555 0303")
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.wait_for_selector("#main-line")
    listening(app, users["tm"].id)
    inbox.file_received(session, uniqueid="b1", number="02155550303", station_id=None, pages=2,
                        fax_status="SUCCESS", clock=clock)
    session.commit()
    toast = page.wait_for_selector(".toast-body")
    assert "浏览器传真有限公司" in toast.inner_text() and "新传真" in toast.inner_text()

    page.goto(f"{live_server}/customers/{c.id}")
    page.click("#send-fax-link")
    assert page.input_value("#fax-number") == "021-5555 0303"
    pdf = two_page_pdf(tmp_path / "doc.pdf")
    page.set_input_files("#fax-file", str(pdf))
    page.fill("#fax-subject", "报价单")
    page.click("#fax-send button")
    page.wait_for_url("**/prepare")
    preview = page.wait_for_selector("#fax-preview")
    page.wait_for_function("document.getElementById('fax-preview').complete")
    box = preview.bounding_box()
    preview.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.5})
    assert page.inner_text("#fax-place") == "75%, 50%"
    seal = tmp_path / "seal.png"
    seal.write_bytes(stamp_png())
    page.set_input_files("#fax-stamp-file", str(seal))
    page.click("#fax-stamp button")
    page.wait_for_selector(".alert-success")
    shot(page, "fax-stamped")
    page.click("#fax-send-now button")
    page.wait_for_selector("#fax-facts")
    assert "等待发送" in page.inner_text("#fax-facts")
    fax = session.scalars(select(Fax).where(Fax.direction == "out")).one()
    session.commit()
    store = FaxStore(app.config["DIALFUNNEL_SETTINGS"].fax_path, tmp_path)
    with Image.open(store.path(fax.tiff_key)) as tiff:   # page 1 (the cover page) has the stamp
        assert tiff.convert("L").getpixel((round(1728 * 0.75), round(2292 * 0.5))) == 0
