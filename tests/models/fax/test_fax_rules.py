"""The fax rules: matching a sender, who sees which fax, sending with retries and pacing."""

import pytest
from sqlalchemy import select

from models.errors import InvalidValue, NotFound, PermissionDenied
from models.fax import documents, inbox, outbox
from models.schema import ContactRecord, Event


def received(session, clock, uniqueid="1796601005.7", number="02155550001",
             station="+86 21 5555 0001", status="SUCCESS", pages=2):
    fax, _ = inbox.file_received(session, uniqueid=uniqueid, number=number, station_id=station,
                                 pages=pages, fax_status=status, resolution="8031x7700",
                                 rate=14400, tiff_key="in/x.tif", pdf_key="in/x.pdf", clock=clock)
    session.commit()
    return fax


def pops(session, kind="fax"):
    return sorted((e.user_id, e.payload["fax_id"]) for e in session.scalars(
        select(Event).where(Event.kind == kind)))


def test_a_fax_from_a_customers_number_goes_to_its_operators(session, users, make_customer, clock):
    c = make_customer("上海传真测试有限公司", owner=["tm", "rep"], fax="021-5555 0001")
    fax = received(session, clock)
    assert (fax.customer_id, fax.number, fax.status) == (c.id, "+862155550001", "new")
    assert pops(session) == sorted([(users["tm"].id, fax.id), (users["rep"].id, fax.id)])
    assert [f.id for f in inbox.inbox(session, users["tm"])] == [fax.id]
    assert inbox.inbox(session, users["tm2"]) == []
    with pytest.raises(NotFound):
        inbox.get_fax(session, users["tm2"], fax.id)
    record = session.get(ContactRecord, fax.contact_record_id)
    assert (record.customer_id, record.method, record.user_id) == (c.id, "fax", None)
    # the same channel reported twice files one fax
    again, new = inbox.file_received(session, uniqueid="1796601005.7", number="x", station_id=None,
                                     pages=0, fax_status="SUCCESS", clock=clock)
    assert (again.id, new) == (fax.id, False)


def test_the_station_id_matches_when_the_caller_id_does_not(session, users, make_customer, clock):
    c = make_customer("北京传真", owner="tm2", phone="021 5555 0001")
    fax = received(session, clock, number="unknown")
    assert fax.customer_id == c.id


def test_unmatched_faxes_wait_in_the_shared_inbox_for_a_manager(session, users, make_customer, clock):
    make_customer("甲", owner="tm", phone="13800000001")
    make_customer("乙", owner="tm2", phone="13800000001")   # two customers: no match
    fax = received(session, clock, number="13800000001", station="")
    assert fax.customer_id is None
    assert pops(session) == [(users["mgr"].id, fax.id), (users["admin"].id, fax.id)]  # managers
    assert inbox.inbox(session, users["tm"]) == []
    with pytest.raises(PermissionDenied):
        inbox.inbox(session, users["tm"], box="shared")
    with pytest.raises(PermissionDenied):
        inbox.assign(session, users["tm"], fax.id, users["tm"].id)
    assert [f.id for f in inbox.inbox(session, users["mgr"], box="shared")] == [fax.id]
    inbox.assign(session, users["mgr"], fax.id, users["tm2"].id, clock=clock)
    session.commit()
    assert inbox.inbox(session, users["mgr"], box="shared") == []
    assert [f.id for f in inbox.inbox(session, users["tm2"])] == [fax.id]
    assert inbox.unread_count(session, users["tm2"]) == 1
    inbox.mark_read(session, users["tm2"], fax.id, clock=clock)
    assert inbox.unread_count(session, users["tm2"]) == 0
    copy = inbox.forward_to_user(session, users["tm2"], fax.id, users["rep"].id, note="请处理",
                                 clock=clock)
    session.commit()
    assert (copy.user_id, copy.status, copy.tiff_key, copy.source_id) == \
        (users["rep"].id, "new", fax.tiff_key, fax.id)
    assert [f.id for f in inbox.inbox(session, users["rep"])] == [copy.id]
    with pytest.raises(InvalidValue):
        inbox.forward_to_user(session, users["tm2"], fax.id, 99999)


def test_sending_is_paced_by_the_fax_lines_and_retried_on_busy(session, users, make_customer, clock):
    c = make_customer("发送测试", owner="tm", fax="02155550009")
    faxes = [outbox.queue_fax(session, users["tm"], number=n, tiff_key="out/1.tif", pdf_key=None,
                              pages=2, customer_id=c.id if n == "02155550009" else None,
                              max_attempts=2, clock=clock)
             for n in ("02155550009", "13900000001", "13900000002")]
    session.commit()
    first = outbox.claim_due(session, lines=2, clock=clock)
    assert [f.id for f in first] == [faxes[0].id, faxes[1].id]
    assert [outbox.channel_id(f) for f in first] == [f"fax-{faxes[0].id}-1", f"fax-{faxes[1].id}-1"]
    assert outbox.claim_due(session, lines=2, clock=clock) == []       # both lines busy
    # busy: queued again 5 minutes later
    outbox.originate_failed(session, faxes[0].id, 5, clock=clock)
    session.commit()
    assert (faxes[0].status, faxes[0].fax_error) == ("queued", "BUSY")
    assert [f.id for f in outbox.claim_due(session, lines=2, clock=clock)] == [faxes[2].id]
    outbox.send_result(session, faxes[1].id, uniqueid="u1", fax_status="SUCCESS", pages=2,
                       fax_error="HANGUP", fax_statusstr="OK", station_id="+86 21 5555 0002",
                       resolution="8031x7700", rate=14400, clock=clock)
    assert faxes[1].status == "sent"
    clock.advance(minutes=5)
    again = outbox.claim_due(session, lines=2, clock=clock)
    assert [(f.id, f.attempts) for f in again] == [(faxes[0].id, 2)]
    outbox.originate_failed(session, faxes[0].id, 3, clock=clock)     # no answer, last try
    session.commit()
    assert (faxes[0].status, faxes[0].fax_error) == ("failed", "NO_ANSWER")
    record = session.get(ContactRecord, faxes[0].contact_record_id)
    assert (record.customer_id, record.method, record.user_id) == (c.id, "fax", users["tm"].id)
    assert "失败" in record.content
    # an unallocated number is not tried again
    outbox.originate_failed(session, faxes[2].id, 0, clock=clock)
    assert faxes[2].status == "failed"


def test_a_dropped_fax_is_tried_again_and_a_result_counts_once(session, users, clock):
    fax = outbox.queue_fax(session, users["tm"], number="13900000001", tiff_key="k", pdf_key=None,
                           pages=1, max_attempts=2, clock=clock)
    outbox.claim_due(session, lines=1, clock=clock)
    outbox.send_result(session, fax.id, uniqueid="u1", fax_status="FAILED", pages=0,
                       fax_error="The call dropped prematurely", clock=clock)
    assert fax.status == "queued"
    outbox.send_result(session, fax.id, uniqueid="u1", fax_status="SUCCESS", pages=1, clock=clock)
    assert fax.status == "queued"     # not on the line: a late report changes nothing


def test_broadcast_refuses_bad_numbers_and_skips_repeats(session, users, make_customer, clock):
    c = make_customer("群发客户", owner="tm", fax="021-5555 0003")
    key, queued, refused = outbox.queue_broadcast(
        session, users["tm"], targets=[("13900000001", None), ("139 0000 0001", None),
                                       ("hello", None), (None, c.id)],
        tiff_key="k", pdf_key=None, pages=1, clock=clock)
    assert [f.number for f in queued] == ["+8613900000001", "+862155550003"]
    assert refused == ["hello"]
    assert outbox.broadcast_progress(session, key) == {"queued": 2}
    with pytest.raises(InvalidValue):
        outbox.queue_fax(session, users["tm"], number="", tiff_key="k", pdf_key=None, pages=1)


def test_fax_on_demand_names_are_what_the_dialplan_keeps(session, users, clock):
    with pytest.raises(PermissionDenied):
        documents.save_document(session, users["tm"], name="sheet", title="", pages=1)
    for bad in ("../etc", "产品", "a b", "", "x" * 41):
        with pytest.raises(InvalidValue):
            documents.save_document(session, users["mgr"], name=bad, title="", pages=1)
    doc = documents.save_document(session, users["mgr"], name="product-sheet", title="产品目录",
                                  pages=2, clock=clock)
    documents.save_document(session, users["mgr"], name="product-sheet", title="新目录", pages=3,
                            clock=clock)
    assert [(d.name, d.title, d.pages) for d in documents.list_documents(session)] == \
        [("product-sheet", "新目录", 3)]
    assert documents.delete_document(session, users["mgr"], doc.id) == "product-sheet"
