"""Screen pops in a real Chromium page: the PBX simulator rings the agent over real AMI TCP, the
listener writes the pop, the page's event stream receives it and shows the panel. Also the
quick-create form, a colleague's customer without details, playing a recording, an AMI
reconnect, and the ring → pop latency over 60 rings.

The stream polls the event table every SSE_POLL_SECONDS (DIALFUNNEL_POP_POLL here, default
0.25 s; the app's default is 1 s) and, as in production, does not end every 2 s."""
from __future__ import annotations

import datetime as dt
import json
import os
import queue
import statistics
import time

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.ami.listener import ScreenPopListener
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from models.crm.contact_records import add_contact_record
from models.crm.contacts import add_contact
from models.crm.recordings import create_recording
from models.schema import Customer
from recordings.store import RecordingStore, store_wav

from tests.browser.chromium import ARTIFACTS, log_in, shot
from tests.call_helpers import answered_call
from tests.recordings.test_recordings_store import make_wav

SECRET = "dialfunnel-secret"
POLL = float(os.environ.get("DIALFUNNEL_POP_POLL", "0.25"))


@pytest.fixture(autouse=True)
def web(app):
    from admin import popups, recordings
    for module in (recordings, popups):
        if module.bp.name not in app.blueprints:
            app.register_blueprint(module.bp)
    app.config.update(SSE_MAX_SECONDS=300, SSE_POLL_SECONDS=POLL)
    return app


@pytest.fixture
def agents(session, users):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    session.commit()
    return users


@pytest.fixture
def store(app):
    return RecordingStore(app.config["DATA_DIR"] / "recordings").ensure()


@pytest.fixture
def pbx():
    scenario = Scenario(seed=5, dial_agent="Local/8001@agents", queue_member="Local/8001@agents/n")
    server = AMIServer(scenario=scenario, clock=SimClock(), auth_fail_delay=0).start()
    server.emitted = {}  # caller number → wall time the agent's DialBegin left the simulator
    plain_emit = server.emit

    def emit(event, headers):
        h = dict(headers)
        if event == "DialBegin" and h.get("Channel") and h.get("DestChannel", "").startswith("Local/8001@"):
            server.emitted[h.get("CallerIDNum")] = time.time()
        plain_emit(event, headers)
    server.emit = emit
    yield server
    server.stop()


@pytest.fixture
def listener(Session, pbx, clock, store, agents):
    pops = queue.Queue()
    listener = ScreenPopListener(Session, host="127.0.0.1", port=pbx.port, username="dialfunnel",
                                 secret=SECRET, clock=clock, store=store,
                                 client_options=dict(backoff_initial=0.05, backoff_max=0.2),
                                 on_pop=lambda *a: pops.put((time.time(),) + a)).start()
    listener.pops = pops
    assert listener.wait_connected(5)
    yield listener
    listener.stop()


@pytest.fixture
def caller(pbx):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False,
                       backoff_initial=0.05, backoff_max=0.2)
    client.connect()

    def ring(number, name="Caller", context="tx-dial-in"):
        return client.originate(f"Local/s@{context}", context="tx-caller", exten="s",
                                caller_id=f'"{name}" <{number}>')
    yield ring
    client.close()


def open_workspace(page, base, user="tm", password="pw-tm"):
    log_in(page, base, user, password)
    page.wait_for_selector("#main-line")
    page.wait_for_function("document.documentElement.dataset.liveStream === 'open'")


def newest_pop(page, number):
    page.wait_for_function(
        "n => { const p = document.querySelector('#screen-pops .screen-pop');"
        " return p && p.querySelector('.pop-number') && p.querySelector('.pop-number').textContent.trim() === n; }",
        arg=number)
    return page.locator("#screen-pops .screen-pop").first


def test_known_caller_pops_with_customer_contacts_records_and_recording(
        live_server, browser_page, session, agents, clock, store, listener, caller, make_customer):
    c = make_customer("苏州精密机械有限公司", stage="potential", owner="tm", phone="0512-62881234",
                      contact_person="周经理")
    add_contact(session, agents["admin"], c.id, dict(name="钱工", title="采购主管", mobile="13912345678"))
    add_contact_record(session, agents["tm"], c.id, content="报价已发，等回复", progress="报价阶段",
                       clock=clock)
    wav = make_wav(store.incoming / "1795713036.5.wav", seconds=2)
    with open(wav, "rb") as fh:
        key, info = store_wav(store, fh, "1795713036.5", clock.now())
    earlier = answered_call(session, clock, "0512-62881234", "8001", talk=2,
                            start=clock.now() - dt.timedelta(days=1))   # the call recorded
    create_recording(session, uniqueid="1795713036.5", linkedid=earlier, file_key=key,
                     fmt=info.format, duration_ms=info.duration_ms, size_bytes=info.size_bytes,
                     user_id=agents["tm"].id, customer_id=c.id, clock=clock)
    session.commit()
    page = browser_page
    open_workspace(page, live_server)
    caller("051262881234", name="Zhou")
    pop = newest_pop(page, "051262881234")
    card = pop.locator(".pop-card")
    assert card.get_attribute("data-status") == "known"
    assert pop.locator(".pop-customer-name").inner_text() == "苏州精密机械有限公司"
    assert pop.locator(".pop-stage").inner_text() == "潜在客户"
    assert "钱工" in pop.locator(".pop-contacts").inner_text()
    assert "报价阶段" in pop.locator(".pop-records").inner_text()
    assert "0:02" in pop.locator(".pop-recordings").inner_text()
    logged = pop.locator(".pop-calls .pop-call").last     # the ringing call may be listed first
    assert "0:02" in logged.inner_text() and logged.locator("audio.pop-call-audio").count() == 1
    # the recording plays in the browser: metadata loads through the guarded, ranged audio URL
    duration = page.evaluate("""() => new Promise((resolve, reject) => {
        const a = document.querySelector('#screen-pops audio.recording-audio');
        a.addEventListener('loadedmetadata', () => resolve(a.duration), {once: true});
        a.addEventListener('error', () => reject(new Error('audio error ' + (a.error && a.error.code))), {once: true});
        a.preload = 'metadata'; a.load(); })""")
    assert 1.8 < duration < 2.4
    shot(page, "screen-pop-known")
    pop.locator(".pop-new-record").click()
    page.wait_for_selector("#record-form")
    assert page.inner_text("#customer-name") == "苏州精密机械有限公司"
    assert page.url.endswith("#new-record")


def test_unknown_number_pops_quick_create_and_creating_works(
        live_server, browser_page, session, agents, listener, caller):
    page = browser_page
    open_workspace(page, live_server)
    caller("13600001111", name="Wang")
    pop = newest_pop(page, "13600001111")
    assert pop.locator(".pop-card").get_attribute("data-status") == "unknown"
    form = pop.locator("form.pop-quick-create")
    assert form.locator("input[name=phone]").input_value() == "13600001111"
    assert form.locator("input[name=contact_person]").input_value() == "Wang"
    form.locator("input[name=name]").fill("常州天宁新来电有限公司")
    form.locator("select[name=stage]").select_option("potential")
    shot(page, "screen-pop-quick-create")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#record-form")
    assert page.inner_text("#customer-name") == "常州天宁新来电有限公司"
    session.commit()
    customer = session.scalar(select(Customer).where(Customer.name == "常州天宁新来电有限公司"))
    assert (customer.stage, customer.ownership, customer.operator_ids) == \
        ("potential", "personal", [agents["tm"].id])
    assert "+8613600001111" in (customer.phone_e164, customer.mobile_e164)
    session.commit()


def test_colleagues_customer_pops_without_details(live_server, browser_page, session, agents,
                                                  listener, caller, make_customer):
    make_customer("无锡小天鹅电器销售部", owner="tm2", phone="0510-81234567", contact_person="孙女士")
    page = browser_page
    open_workspace(page, live_server)
    caller("051081234567")
    pop = newest_pop(page, "051081234567")
    assert pop.locator(".pop-card").get_attribute("data-status") == "restricted"
    assert "已有客户，由同事负责" in pop.inner_text()
    html = page.content()
    assert "无锡小天鹅" not in html and "孙女士" not in html
    assert pop.locator("form").count() == 0
    shot(page, "screen-pop-restricted")


def test_ami_drop_then_rings_still_pop(live_server, browser_page, agents, pbx, listener, caller):
    page = browser_page
    open_workspace(page, live_server)
    caller("13500000001")
    newest_pop(page, "13500000001")
    pbx.drop_connections()
    deadline = time.monotonic() + 10
    while listener.client.connects < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listener.client.connected
    time.sleep(0.3)
    caller("13500000002")
    pop = newest_pop(page, "13500000002")
    assert pop.locator(".pop-card").get_attribute("data-status") == "unknown"
    assert page.locator("#screen-pops .screen-pop").count() == 2


def test_ring_to_pop_latency(live_server, browser_page, session, agents, pbx, listener, caller,
                             make_customer):
    """AMI DialBegin sent by the simulator → the panel in the page, over 60 rings."""
    for i in range(0, 60, 3):
        make_customer(f"延迟测试公司{i}", owner="tm", phone=f"021-6000{i:04d}")
    page = browser_page
    open_workspace(page, live_server)
    rows = []
    for i in range(60):
        number = f"02160{i:06d}"
        caller(number)
        pop = newest_pop(page, number)
        shown = float(pop.get_attribute("data-shown-at")) / 1000
        received = float(pop.get_attribute("data-received-at")) / 1000
        committed = listener.pops.get(timeout=5)[0]
        emitted = pbx.emitted[number]
        rows.append(dict(total=shown - emitted, listener=committed - emitted,
                         stream=received - committed, panel=shown - received))
        # the next ring at an evenly spread moment of the stream's poll cycle (golden-ratio steps)
        page.wait_for_timeout(int(1000 * POLL * ((i * 0.618034) % 1)))
    totals = sorted(r["total"] for r in rows)

    def pct(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
    report = dict(rings=len(rows), poll_seconds=POLL, db=session.get_bind().dialect.name,
                  p50=pct(totals, 50), p90=pct(totals, 90), p99=pct(totals, 99), max=totals[-1],
                  mean=statistics.mean(totals),
                  parts_p50={k: pct([r[k] for r in rows], 50) for k in ("listener", "stream", "panel")},
                  parts_p99={k: pct([r[k] for r in rows], 99) for k in ("listener", "stream", "panel")})
    ARTIFACTS.mkdir(exist_ok=True)
    name = f"screen-pop-latency-{report['db']}-poll{POLL:g}.json"
    (ARTIFACTS / name).write_text(json.dumps(report, indent=2))
    print("\nring → pop latency:", json.dumps(report))
    assert all(t > 0 for t in totals)
    if POLL <= 0.5:
        assert report["p99"] < 1.0, report
