"""The simulator's faxes against the real Asterisk's (tests/fixtures/asterisk/captures-2026-12/
fax-loopback.txt), and the web's faxes sent end to end: the fax sender originates over AMI, the
simulator plays dialfunnel-fax,send (SendFAX of the real TIFF) and reports through the
dialplan's hangup handler, the FastAGI fax_done. Real sockets; the clock moved by hand."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.dialer.fax_sender import FaxSender
from agi.dialer.simulation import Barrier
from agi.fastagi.server import FastAGIServer
from agi.handlers import fax_done, registry
from agi.pbxsim import fax as simfax
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from faxdocs import convert
from faxdocs.store import FaxStore
from models.fax import outbox
from models.schema import ContactRecord, Fax

from tests.faxdocs.test_convert import two_page_pdf
from tests.repo_paths import ASTERISK

CAPTURE = ASTERISK / "captures-2026-12" / "fax-loopback.txt"
START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)
OPTION = {"Status": "status", "StatusStr": "statusstr", "Error": "error", "Pages": "pages",
          "Rate": "rate", "Resolution": "resolution", "LocalStationID": "localstationid",
          "RemoteStationID": "remotestationid", "ECM": "ecm", "HeaderInfo": "headerinfo",
          "MaxRate": "maxrate", "MinRate": "minrate", "Modem": "modem", "T38Timeout": "t38timeout"}


def captured_results() -> dict[tuple[str, str], dict[str, str]]:
    """(section ok|fail, side) → the FAXOPT values the capture's hangup handlers published."""
    results, section, event = {}, None, None
    for line in CAPTURE.read_text().splitlines():
        if line.startswith("# SECTION 1:"):
            section = "ok"
        elif line.startswith("# SECTION 2:"):
            section = "fail"
        if not line.startswith("> "):
            continue
        text = line[2:].removesuffix("\\r\\n")
        if text == "Event: UserEvent":
            event = {}
        elif event is not None and text == "":
            if event.get("UserEvent") == "FaxResult":
                results[(section, event["Side"])] = {
                    f"FAXOPT({OPTION[k]})": v for k, v in event.items() if k in OPTION}
            event = None
        elif event is not None:
            key, _, value = text.partition(": ")
            event[key] = value
    return results


def test_the_faxopt_values_are_those_a_real_asterisk_sets():
    captured = captured_results()
    assert len(captured) == 4
    stations = {"receiver": ("+86 21 5555 0002", "+86 21 5555 0001"),
                "sender": ("+86 21 5555 0001", "+86 21 5555 0002")}
    for (section, side), values in captured.items():
        local, remote = stations[side]
        ours = simfax.faxopts(side, section == "ok", pages=2, local=local, remote=remote,
                              headerinfo="dialfunnel")
        assert {k: ours[k] for k in values} == values, (section, side)


@pytest.fixture
def fax_world(Session, users, tmp_path):
    """The FastAGI server with the real handlers, the AMI simulator playing dialfunnel-fax for
    it, the fax sender on an AMI client; one 2-page fax TIFF in the fax folder."""
    clock = FakeClock(START)
    store = FaxStore(tmp_path / "faxes", tmp_path / "spool")
    tiff_key, pdf_key = store.new_outgoing()
    convert.to_fax_tiff([two_page_pdf(tmp_path / "doc.pdf")], store.path(tiff_key))
    fax_done.configure(store, clock=clock, retry_wait=dt.timedelta(minutes=5))
    agi = FastAGIServer(registry, Session, port=0).start()
    built = []

    def build(numbers: dict[str, str], lines: int):
        scenario = Scenario(numbers=numbers, timing={"answer": {"ring_time": 2.0, "answer_delay": 0.0,
                                                                "talk_time": 1.0}})
        server = AMIServer(scenario=scenario, clock=clock, fastagi=("127.0.0.1", agi.port)).start()
        server.record_events = True
        ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                        events="call,user,dialplan", reconnect=False)
        sender = FaxSender(Session, ami, store, trunk="Local/{number}@out", lines=lines,
                           retry_wait=dt.timedelta(minutes=5), clock=clock).attach()
        barrier = Barrier(ami)
        ami.connect()
        built.append((server, ami))
        return server, sender, barrier

    yield clock, store, tiff_key, pdf_key, build
    for server, ami in built:
        ami.close()
        server.stop()
    agi.shutdown(5)
    fax_done.configure(None)


def run(clock, server, sender, barrier, Session, *, until: dt.datetime) -> int:
    """Poll the sender and move the clock to the next thing due until nothing is left to send.
    Returns the most faxes that were on the line at once."""
    most = 0
    while clock.now() < until:
        sender.poll()
        barrier.wait()
        server.scheduler.settle()
        barrier.wait()
        sender.step()
        with Session() as s:
            statuses = [f.status for f in s.scalars(select(Fax))]
            wake = s.scalar(select(Fax.next_attempt_at).where(Fax.status == "queued")
                            .order_by(Fax.next_attempt_at).limit(1))
        most = max(most, statuses.count("sending"))
        if all(status in ("sent", "failed") for status in statuses):
            return most
        due = [t for t in (server.scheduler.next_due(), wake and wake.timestamp()) if t]
        step = max(min(due), clock.now().timestamp() + 0.5) if due else clock.now().timestamp() + 1
        clock.set(dt.datetime.fromtimestamp(step, dt.timezone.utc))
    raise AssertionError("the faxes were not all sent or failed in time")


def test_faxes_are_sent_paced_by_the_lines_and_retried(fax_world, Session, users, make_customer):
    clock, store, tiff_key, pdf_key, build = fax_world
    c = make_customer("传真接收客户", owner="tm", fax="021-5555 0002")
    numbers = {"+862155550002": "answer", "+8613900000005": "busy", "+8613900000006": "machine"}
    with Session() as s:
        tm = s.merge(users["tm"])
        ids = [outbox.queue_fax(s, tm, number=n, tiff_key=tiff_key, pdf_key=pdf_key, pages=2,
                                customer_id=c.id if n == "+862155550002" else None,
                                subject="报价单", max_attempts=2, clock=clock).id
               for n in numbers]
        s.commit()
    server, sender, barrier = build(numbers, lines=2)
    most = run(clock, server, sender, barrier, Session, until=START + dt.timedelta(hours=1))
    assert most == 2
    with Session() as s:
        sent, busy, machine = (s.get(Fax, i) for i in ids)
        assert (sent.status, sent.attempts, sent.pages, sent.fax_status, sent.fax_error) == \
            ("sent", 1, 2, "SUCCESS", "HANGUP")
        assert (sent.station_id, sent.resolution, sent.rate, sent.uniqueid) == \
            ("+86 21 5555 0002", "8031x7700", 14400, f"fax-{sent.id}-1")
        record = s.get(ContactRecord, sent.contact_record_id)
        assert (record.customer_id, record.user_id, record.method) == (c.id, users["tm"].id, "fax")
        assert (busy.status, busy.attempts, busy.fax_error) == ("failed", 2, "BUSY")
        assert (machine.status, machine.attempts, machine.fax_statusstr) == \
            ("failed", 2, simfax.DROPPED)
        assert busy.finished_at - busy.created_at >= dt.timedelta(minutes=5)   # waited to retry
    sendfax = [data for _, data in server.sent_events if data.startswith(b"Event: SendFAX\r\n")]
    assert len(sendfax) == 3     # the fax machine once, the machine-answered number twice
    [good] = [e.decode() for e in sendfax if b"Channel: Local/+862155550002@out" in e]
    assert "PagesTransferred: 2\r\n" in good and "Resolution: 8031x7700\r\n" in good
    assert f"FileName: {store.path(tiff_key)}\r\n" in good
    assert re.search(r"Uniqueid: fax-\d+-1\r\n", good)
    assert all("PagesTransferred: 0\r\nResolution: 0x0\r\n" in e.decode() for e in sendfax
               if e.decode() != good)


def test_the_demos_incoming_faxes_reach_the_inbox(Session, session, users, make_customer, tmp_path):
    c = make_customer("演示传真客户", owner="tm", fax="021-5555 0007")
    store = FaxStore(tmp_path / "faxes", tmp_path / "spool")
    fax_done.configure(store)
    agi = FastAGIServer(registry, Session, port=0).start()
    try:
        demo = simfax.DemoFaxes(("127.0.0.1", agi.port), store.spool, ["+862155550007"], seed=1)
        results = [demo.one() for _ in range(3)]
    finally:
        agi.shutdown(5)
        fax_done.configure(None)
    assert [r.status for r in results] == ["FILED"] * 3
    faxes = session.scalars(select(Fax).order_by(Fax.id)).all()
    assert {f.customer_id for f in faxes} <= {c.id, None} and c.id in {f.customer_id for f in faxes}
    assert all(f.pages == 1 and store.path(f.pdf_key).is_file() for f in faxes)
