"""Recordings (T5) with the database and the web: links to call, customer and contact record,
who may hear them, Range requests, retention, and no way out of the recordings folder."""
from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from sqlalchemy import select

from dialfunnel.retention import purge_expired, run_once
from models.crm.contact_records import add_contact_record
from models.crm.recordings import (
    attach,
    can_hear,
    create_recording,
    get_audible,
    link_contact_record,
    recordings_of_customer,
    retention_days,
    set_retention_days,
)
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import Recording, Role
from recordings.store import RecordingStore, store_wav

from tests.recordings.test_recordings_store import make_wav
from tests.repo_paths import ROOT


@pytest.fixture
def web(app):
    """The app with the popups and recordings blueprints (admin/app.py lists them once merged)."""
    from admin import popups, recordings
    for module in (recordings, popups):
        if module.bp.name not in app.blueprints:
            app.register_blueprint(module.bp)
    return app


@pytest.fixture
def store(app):
    return RecordingStore(app.config["DATA_DIR"] / "recordings").ensure()


@pytest.fixture
def record_call(session, store, clock):
    """record_call(user, customer=None, seconds=2) -> a stored Recording with real audio."""
    counter = iter(range(1, 10 ** 6))

    def make(user, customer=None, *, seconds=2.0, uniqueid=None, **kw):
        uid = uniqueid or f"1795713036.{next(counter)}"
        wav = make_wav(store.incoming / f"{uid}.wav", seconds=seconds)
        with open(wav, "rb") as fh:
            key, info = store_wav(store, fh, uid, clock.now())
        rec = create_recording(session, uniqueid=uid, linkedid=uid, file_key=key, fmt=info.format,
                               duration_ms=info.duration_ms, size_bytes=info.size_bytes,
                               user_id=user.id if user else None,
                               customer_id=customer.id if customer else None, clock=clock, **kw)
        session.commit()
        return rec
    return make


# --- models ---------------------------------------------------------------------------------
def test_recording_row_links_call_customer_and_contact_record(session, users, clock, make_customer,
                                                              record_call):
    c = make_customer("宁波海天塑机有限公司", owner="tm", phone="0574-86188888")
    started = clock.now()
    clock.advance(minutes=1)
    record = add_contact_record(session, users["tm"], c.id, content="来电询价", clock=clock)
    session.commit()
    clock.advance(minutes=2)
    # customer found by the caller's number, contact record = the agent's record since the ring
    rec = record_call(users["tm"], None, caller_number="+8657486188888", started_at=started)
    assert (rec.customer_id, rec.contact_record_id, rec.user_id) == (c.id, record.id, users["tm"].id)
    assert rec.duration_ms == 2000 and rec.size_bytes > 0 and rec.format == "mp3"
    assert rec.expires_at == rec.created_at + dt.timedelta(days=365)
    assert rec.file_key == "2026/11/26/1795713036.1.mp3"
    # a record written after the call links the agent's unlinked recording of that customer
    # (its one writer, add_contact_record, does it)
    rec2 = record_call(users["tm"], c)
    assert rec2.contact_record_id is None
    clock.advance(minutes=3)
    later = add_contact_record(session, users["tm"], c.id, content="回访", clock=clock)
    assert link_contact_record(session, later) == 0  # already linked
    session.commit()
    assert session.get(Recording, rec2.id).contact_record_id == later.id
    assert session.get(Recording, rec.id).contact_record_id == record.id
    # an ambiguous number links no customer
    make_customer("另一家", owner="tm2", phone="0574-86188888")
    rec3 = record_call(users["tm"], None, caller_number="057486188888")
    assert rec3.customer_id is None
    # by hand: the call's agent or a manager
    with pytest.raises(PermissionDenied):
        attach(session, users["tm2"], rec3.id, customer_id=c.id)
    assert attach(session, users["mgr"], rec3.id, contact_record_id=later.id).customer_id == c.id
    with pytest.raises(InvalidValue):
        create_recording(session, uniqueid="x", file_key="k", fmt="mp3", duration_ms=1,
                         size_bytes=1, direction="sideways", clock=clock)


def test_who_may_hear(session, users, make_customer, record_call):
    c = make_customer(owner="tm")
    rec = record_call(users["tm"], c)
    allowed = {name: can_hear(u, rec) for name, u in users.items()}
    assert allowed == {"tm": True, "tm2": False, "rep": False, "mgr": True, "admin": True}
    with pytest.raises(PermissionDenied):
        get_audible(session, users["tm2"], rec.id)
    with pytest.raises(NotFound):
        get_audible(session, users["tm"], rec.id + 999)
    assert [r.id for r in recordings_of_customer(session, users["tm"], c.id)] == [rec.id]
    assert recordings_of_customer(session, users["tm2"], c.id) == []
    role = session.scalar(select(Role).where(Role.code == "telemarketer"))
    role.can_hear_others_recordings = True
    session.commit()
    assert can_hear(users["tm2"], rec)


# --- web: permission matrix, Range ----------------------------------------------------------
@pytest.mark.parametrize("who,status", [("tm", 200), ("tm2", 403), ("rep", 403), ("mgr", 200),
                                        ("admin", 200)])
def test_audio_permission_matrix(web, as_user, users, make_customer, record_call, who, status):
    rec = record_call(users["tm"], make_customer(owner="tm"))
    response = as_user(who).get(f"/recordings/{rec.id}/audio")
    assert response.status_code == status
    if status == 200:
        assert response.mimetype == "audio/mpeg"
        assert response.headers["Accept-Ranges"] == "bytes"
        assert int(response.headers["Content-Length"]) == rec.size_bytes
        assert len(response.get_data()) == rec.size_bytes
        assert "private" in response.headers["Cache-Control"]
    page = as_user(who).get(f"/recordings/{rec.id}")
    assert page.status_code == status


def test_permission_granted_by_role(web, as_user, session, users, make_customer, record_call):
    rec = record_call(users["tm"], make_customer(owner="tm"))
    assert as_user("tm2").get(f"/recordings/{rec.id}/audio").status_code == 403
    role = session.scalar(select(Role).where(Role.code == "telemarketer"))
    role.can_hear_others_recordings = True
    session.commit()
    assert as_user("tm2").get(f"/recordings/{rec.id}/audio").status_code == 200
    page = as_user("tm2").get(f"/recordings/{rec.id}").get_data(as_text=True)
    # may hear the call, but the customer (tm's personal one) stays hidden
    assert "同事的客户" in page and "测试公司" not in page


def test_not_logged_in_and_unknown_ids(web, app, as_user, users, record_call):
    rec = record_call(users["tm"])
    anonymous = app.test_client()
    assert anonymous.get(f"/recordings/{rec.id}/audio").status_code == 302
    client = as_user("tm")
    for path in (f"/recordings/{rec.id + 1}/audio", "/recordings/-1/audio", "/recordings/abc/audio",
                 "/recordings/..%2F..%2Fetc%2Fpasswd/audio", "/recordings/1%2F..%2F2/audio",
                 "/recordings/%2e%2e/audio", "/recordings//etc/passwd/audio",
                 f"/recordings/{rec.id}/../../../etc/passwd"):
        assert client.get(path).status_code == 404, path


def test_range_requests(web, as_user, users, record_call):
    rec = record_call(users["tm"], seconds=3)
    client = as_user("tm")
    full = client.get(f"/recordings/{rec.id}/audio").get_data()
    size = len(full)
    r = client.get(f"/recordings/{rec.id}/audio", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert r.get_data() == full[:100] and r.headers["Content-Length"] == "100"
    r = client.get(f"/recordings/{rec.id}/audio", headers={"Range": "bytes=100-"})
    assert r.status_code == 206 and r.get_data() == full[100:]
    r = client.get(f"/recordings/{rec.id}/audio", headers={"Range": "bytes=-50"})
    assert r.status_code == 206 and r.get_data() == full[-50:]
    assert r.headers["Content-Range"] == f"bytes {size - 50}-{size - 1}/{size}"
    r = client.get(f"/recordings/{rec.id}/audio", headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416
    r = client.get(f"/recordings/{rec.id}/audio", headers={"Range": "bytes=oops"})
    assert r.status_code in (200, 416)
    etag = client.get(f"/recordings/{rec.id}/audio").headers["ETag"]
    assert client.get(f"/recordings/{rec.id}/audio", headers={"If-None-Match": etag}).status_code == 304
    # If-Range with a stale validator: the whole file
    r = client.get(f"/recordings/{rec.id}/audio", headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert r.status_code == 200 and len(r.get_data()) == size


# --- traversal through a tampered row -------------------------------------------------------
@pytest.mark.parametrize("key", ["../../../../etc/passwd", "/etc/passwd", "2026/11/26/../../../../etc/hosts",
                                 "2026/11/26/%2e%2e%2f%2e%2e%2fetc%2fpasswd.mp3", "..\\..\\x.mp3",
                                 "2026/11/26/link.mp3", "2026/12/01/inside-a-symlinked-folder.mp3"])
def test_a_tampered_key_never_leaves_the_folder(web, as_user, session, users, store, record_call,
                                                tmp_path, key):
    rec = record_call(users["tm"])
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.mp3").write_bytes(b"SECRET-AUDIO")
    (outside / "01").mkdir(exist_ok=True)
    (outside / "01" / "inside-a-symlinked-folder.mp3").write_bytes(b"SECRET-AUDIO")
    day = store.root / "2026" / "11" / "26"
    if not (day / "link.mp3").exists():
        (day / "link.mp3").symlink_to(outside / "secret.mp3")
    if not (store.root / "2026" / "12").exists():
        (store.root / "2026" / "12").symlink_to(outside)
    rec.file_key = key
    session.commit()
    response = as_user("tm").get(f"/recordings/{rec.id}/audio")
    assert response.status_code == 404
    assert b"SECRET" not in response.get_data() and b"root:" not in response.get_data()


# --- retention ------------------------------------------------------------------------------
def test_retention_removes_audio_keeps_row_and_the_page_says_so(web, as_user, Session, session, users,
                                                                store, clock, make_customer,
                                                                record_call):
    set_retention_days(session, 30)
    session.commit()
    assert retention_days(session) == 30
    c = make_customer(owner="tm")
    old = record_call(users["tm"], c)
    clock.advance(days=20)
    young = record_call(users["tm"], c)
    assert old.expires_at == old.created_at + dt.timedelta(days=30)
    clock.advance(days=11)
    assert purge_expired(session, store, clock=clock) == 1
    session.commit()
    session.expire_all()
    old, young = session.get(Recording, old.id), session.get(Recording, young.id)
    assert old.deleted_at == clock.now() and young.deleted_at is None
    assert not (store.root / old.file_key).exists() and (store.root / young.file_key).exists()
    assert old.duration_ms == 2000 and old.customer_id == c.id  # the row stays whole
    session.commit()  # end the read (SQLite: every transaction holds the write lock)
    client = as_user("tm")
    gone = client.get(f"/recordings/{old.id}/audio")
    assert gone.status_code == 410 and "保存期限" in gone.get_data(as_text=True)
    page = client.get(f"/recordings/{old.id}").get_data(as_text=True)
    assert 'id="recording-removed"' in page and "<audio" not in page
    page = client.get(f"/recordings/{young.id}").get_data(as_text=True)
    assert 'id="recording-audio"' in page
    # nothing more to do; a longer period moves the young one's expiry, 0 keeps for ever
    assert purge_expired(session, store, clock=clock) == 0
    assert set_retention_days(session, 0) == 1
    session.commit()
    clock.advance(days=10000)
    assert run_once(Session, store, clock=clock) == 0
    with pytest.raises(InvalidValue):
        set_retention_days(session, -1)


def test_retention_with_missing_file_or_planted_symlink(session, users, store, clock, record_call,
                                                        tmp_path):
    set_retention_days(session, 1)
    session.commit()
    missing = record_call(users["tm"])
    planted = record_call(users["tm"])
    (store.root / missing.file_key).unlink()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (store.root / planted.file_key).unlink()
    (store.root / planted.file_key).symlink_to(victim)
    clock.advance(days=2)
    assert purge_expired(session, store, clock=clock) == 2
    session.commit()
    assert victim.read_text() == "keep me"  # the symlink was not followed
    assert all(session.get(Recording, r.id).deleted_at for r in (missing, planted))


def test_missing_audio_file_is_a_clear_404(web, as_user, users, store, record_call):
    rec = record_call(users["tm"])
    os.unlink(store.root / rec.file_key)
    response = as_user("tm").get(f"/recordings/{rec.id}/audio")
    assert response.status_code == 404 and "不存在" in response.get_data(as_text=True)


def test_pop_lists_recordings_and_says_when_audio_is_gone(web, as_user, session, users, store,
                                                          clock, make_customer, record_call):
    from models.telephony.popups import create_pop_event
    set_retention_days(session, 7)
    c = make_customer("温州正泰电器经销部", owner="tm", phone="0577-62877777")
    gone = record_call(users["tm"], c)
    clock.advance(days=8)
    kept = record_call(users["tm"], c)
    purge_expired(session, store, clock=clock)
    other = record_call(users["tm2"], c)  # a colleague's call on it: not for tm's ears
    event = create_pop_event(session, users["tm"], "057762877777", clock=clock)
    session.commit()
    html = as_user("tm").get(f"/pops/{event.id}", headers={"X-Requested-With": "fetch"}).get_data(as_text=True)
    assert f'data-recording-id="{gone.id}"' in html and f'data-recording-id="{kept.id}"' in html
    assert f'data-recording-id="{other.id}"' not in html
    assert html.count("<audio") == 1 and f"/recordings/{kept.id}/audio" in html
    assert "录音文件已删除" in html


def test_one_vocabulary_of_recording_kinds():
    """The dialplan's kinds (recording_done <kind>) and the listener's guesses by context are
    the kinds a recording row accepts."""
    from models.crm.recordings import kind_for_context
    from models.schema.recordings import DIRECTIONS
    kinds = {"dialfunnel-inbound": "inbound", "dialfunnel-route": "inbound",
             "dialfunnel-outbound": "outbound", "dialfunnel-trunk-out": "agent", None: "inbound"}
    for context, kind in kinds.items():
        assert kind_for_context(context) == kind and kind in DIRECTIONS
    plan = (ROOT / "dialplan" / "extensions_dialfunnel.conf").read_text()
    used = set(re.findall(r"Gosub\(dialfunnel-record,s,1\((\w+)", plan))
    assert used == {"inbound", "outbound", "agent"} and used <= set(DIRECTIONS)


def test_who_answered_from_the_channel_variables():
    from models.telephony.channels import answered_extensions
    assert answered_extensions(dialed_peer="PJSIP/8007-0000000a") == ["8007"]
    assert answered_extensions(dialed_peer="Local/8007@acc-phones-00000014;1",
                               transfer="agent:8007") == ["8007"]
    assert answered_extensions(member_interface="Local/8002@acc-phones/n", member_name="8002",
                               transfer="agent:8005") == ["8002", "8005"]
    assert answered_extensions(dialed_peer="Local/8007@x-00000014;2", member_name="bad name",
                               transfer="queue:sales") == []
