"""fax_done over a real FastAGI socket, driven by the simulator's ReceiveFAX (agi/pbxsim/fax.py)
with real TIFF files and the FAXOPT values a real Asterisk sets."""
import subprocess
import datetime as dt

import pytest
from sqlalchemy import select

from agi.fastagi.server import FastAGIServer
from agi.handlers import fax_done, registry
from agi.pbxsim import fax as simfax
from agi.pbxsim.agi_driver import Scenario, run_call
from faxdocs import convert
from faxdocs.store import FaxStore
from models.schema import ContactRecord, Event, Fax

from tests.faxdocs.test_convert import pdf_pages, tiffinfo, two_page_pdf


@pytest.fixture
def store(tmp_path, clock):
    store = FaxStore(tmp_path / "faxes", tmp_path / "spool")
    store.spool.mkdir()
    fax_done.configure(store, clock=clock, retry_wait=dt.timedelta(minutes=5))
    yield store
    fax_done.configure(None)


@pytest.fixture
def server(Session, store):
    server = FastAGIServer(registry, Session, port=0).start()
    yield server
    server.shutdown(5)


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    """The far machine's document: 2 pages of fax TIFF as Ghostscript makes them (the capture's
    sender: tiffg3, 204x196, 1728 wide)."""
    folder = tmp_path_factory.mktemp("doc")
    tiff = folder / "doc-2p.tif"
    convert.to_fax_tiff([two_page_pdf(folder / "doc.pdf")], tiff)
    return tiff


def filed(session):
    session.commit()
    return list(session.scalars(select(Fax).order_by(Fax.id)))


def test_a_received_fax_is_filed_with_its_pdf_for_the_customers_operators(
        server, store, document, session, users, make_customer):
    c = make_customer("上海收传真有限公司", owner="tm", fax="021-5555 0001")
    result = simfax.receive_fax("127.0.0.1", server.port, document=document, spool=store.spool,
                                uniqueid="1796601005.7", callerid="02155550001",
                                remote_station="+86 21 5555 0001", local_station="+86 21 5555 0002")
    assert result.status == "FILED"
    # the handler read the FAXOPT values itself, on the dead channel
    assert 'GET FULL VARIABLE "${FAXOPT(remotestationid)}"' in result.commands
    [fax] = filed(session)
    assert (fax.direction, fax.status, fax.customer_id, fax.number, fax.station_id) == \
        ("in", "new", c.id, "+862155550001", "+86 21 5555 0001")
    assert (fax.pages, fax.fax_status, fax.fax_error, fax.fax_statusstr, fax.resolution, fax.rate) == \
        (2, "SUCCESS", None, "OK", "8031x7700", 14400)
    assert not (store.spool / "1796601005.7.tif").exists()          # moved out of the spool
    kept = tiffinfo(store.path(fax.tiff_key))
    assert [(p["width"], p["dpi"]) for p in kept] == [(1728, (204, 196))] * 2
    info = subprocess.run(["tiffinfo", str(store.path(fax.tiff_key))], capture_output=True,
                          text=True).stdout          # as spandsp writes a received fax
    for fact in ("2-d encoding", "FillOrder: lsb-to-msb", "ImageDescription: +86 21 5555 0001",
                 "Software: Spandsp 20110122 075024"):
        assert fact in info
    assert pdf_pages(store.path(fax.pdf_key)) == [(610, 842)] * 2
    pops = session.scalars(select(Event).where(Event.kind == "fax")).all()
    assert [(e.user_id, e.payload["fax_id"]) for e in pops] == [(users["tm"].id, fax.id)]
    assert session.get(ContactRecord, fax.contact_record_id).method == "fax"
    session.commit()
    # Asterisk runs the handler once; a second report of the channel files nothing more
    again = run_call("127.0.0.1", server.port, "fax_done",
                     args=("received", "/var/spool/asterisk/fax/dialfunnel/1796601005.7.tif",
                           "SUCCESS", "2", ""), env={"agi_uniqueid": "1796601005.7"},
                     scenario=Scenario(hangup_before=0))
    assert again.status == "SKIPPED" and len(filed(session)) == 1


def test_a_failed_reception_is_filed_for_the_managers_with_its_error(
        server, store, document, session, users):
    result = simfax.receive_fax("127.0.0.1", server.port, document=document, spool=store.spool,
                                uniqueid="1796601005.9", callerid="13912345678", ok=False)
    assert result.status == "FILED"
    [fax] = filed(session)
    assert (fax.customer_id, fax.pages, fax.fax_status, fax.fax_error, fax.resolution) == \
        (None, 0, "FAILED", simfax.DROPPED, "0x0")
    assert fax.tiff_key is None and fax.pdf_key is None              # res_fax wrote no file
    assert list(store.spool.iterdir()) == []
    pops = session.scalars(select(Event.user_id).where(Event.kind == "fax")).all()
    assert sorted(pops) == sorted([users["mgr"].id, users["admin"].id])


def test_a_file_name_that_leaves_the_spool_is_refused(server, store, session, users, tmp_path):
    secret = tmp_path / "secret.tif"
    secret.write_bytes(b"x")
    for path in ("/var/spool/asterisk/fax/dialfunnel/../../../../etc/passwd",
                 "/var/spool/asterisk/fax/dialfunnel/..", "", "x\\..\\y.tif"):
        result = run_call("127.0.0.1", server.port, "fax_done",
                          args=("received", path, "SUCCESS", "1", ""),
                          env={"agi_uniqueid": "u-" + str(len(path))},
                          scenario=Scenario(hangup_before=0))
        assert result.status == "REFUSED", path
    assert filed(session) == [] and secret.exists()


def test_unknown_direction_is_an_error(server):
    result = run_call("127.0.0.1", server.port, "fax_done", args=("faxed", "x.tif", "", "", ""),
                      scenario=Scenario(hangup_before=0))
    assert result.status == "ERROR"


def test_a_fax_on_demand_sheet_is_kept_in_the_outbox_and_logged(server, session, users, make_customer):
    """The IVR's sheet sent back on the caller's call (dialfunnel-route,sendfax): no fax row."""
    c = make_customer("索取资料客户", owner="tm", mobile="13812345678")
    values = simfax.faxopts("sender", True, pages=2, remote="+86 138 1234 5678")
    sheet = "/var/spool/asterisk/fax/dialfunnel/out/product-sheet.tif"
    call = lambda: run_call("127.0.0.1", server.port, "fax_done",  # noqa: E731
                            args=("sent", sheet, "SUCCESS", "2", ""), callerid="13812345678",
                            env={"agi_uniqueid": "1796601100.3"},
                            scenario=Scenario(hangup_before=0, variables=values))
    assert call().status == "SENT"
    assert call().status == "SKIPPED"
    [fax] = filed(session)
    assert (fax.direction, fax.status, fax.customer_id, fax.subject, fax.pages, fax.user_id) == \
        ("out", "sent", c.id, "product-sheet", 2, None)
    record = session.get(ContactRecord, fax.contact_record_id)
    assert (record.customer_id, record.method, record.user_id) == (c.id, "fax", None)
    assert "product-sheet" in record.content
