"""The recording library and review pages (issue 16): search, the player's waveform from real
audio, download per permission, scorecards, comments, acknowledge / dispute / settle, review
forms, training examples, the report; CSRF and who may do what."""
from __future__ import annotations

import re
import subprocess

import pytest

from models.quality import reviews as rv
from models.schema import Recording, Review, ReviewForm
from recordings.store import RecordingStore, store_wav

from tests.models.quality.helpers import answers, make_form, recorded_call
from tests.web_helpers import committing, post


@pytest.fixture
def client_of(as_user, session):
    return committing(as_user, session)


@pytest.fixture
def with_audio(app, session, clock):
    """with_audio(rec): give the recording real audio in the app's store: 2 s of silence,
    then 2 s of a tone."""
    store = RecordingStore(app.config["RECORDINGS_DIR"]).ensure()

    def give(rec):
        wav = store.incoming / f"{rec.uniqueid}.wav"
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(wav),
                        "synth", "2", "sine", "440", "pad", "2", "0"], check=True)
        with open(wav, "rb") as fh:
            key, info = store_wav(store, fh, rec.uniqueid, clock.now())
        rec.file_key, rec.format, rec.duration_ms = key, info.format, info.duration_ms
        session.commit()
        return rec
    return give


def text(response):
    return response.get_data(as_text=True)


def ids_listed(response):
    return [int(i) for i in re.findall(r'class="library-row" data-recording-id="(\d+)"', text(response))]


def test_the_library_lists_what_the_user_may_hear_and_filters(session, users, clock, client_of):
    form, items = make_form(session, users["admin"], clock)
    short = recorded_call(session, clock, users["tm"], talk=20, disposition="interested")
    long = recorded_call(session, clock, users["tm"], talk=300)
    other = recorded_call(session, clock, users["tm2"], talk=90)
    rv.submit_review(session, users["mgr"], long.id, form.id, answers(items, pace=5), clock=clock)
    rv.submit_review(session, users["mgr"], other.id, form.id, answers(items, identity=0), clock=clock)
    session.commit()
    tm, mgr = client_of("tm"), client_of("mgr")
    assert sorted(ids_listed(tm.get("/recordings"))) == sorted([short.id, long.id])
    assert sorted(ids_listed(mgr.get("/recordings"))) == sorted([short.id, long.id, other.id])
    # an agent cannot widen his list with another agent's id
    assert sorted(ids_listed(tm.get(f"/recordings?agent_id={users['tm2'].id}"))) == \
        sorted([short.id, long.id])
    assert ids_listed(mgr.get(f"/recordings?agent_id={users['tm2'].id}")) == [other.id]
    assert ids_listed(mgr.get("/recordings?unreviewed=1")) == [short.id]
    assert ids_listed(mgr.get("/recordings?min_score=50")) == [long.id]
    assert ids_listed(mgr.get("/recordings?max_score=10")) == [other.id]
    assert ids_listed(mgr.get("/recordings?min_seconds=100")) == [long.id]
    assert sorted(ids_listed(mgr.get("/recordings?max_seconds=100"))) == sorted([short.id, other.id])
    assert ids_listed(mgr.get("/recordings?disposition=interested")) == [short.id]
    assert len(ids_listed(mgr.get("/recordings?direction=inbound"))) == 3
    assert ids_listed(mgr.get("/recordings?from=2099-01-01")) == []
    assert len(ids_listed(mgr.get("/recordings?from=2026-11-26&to=2026-11-26"))) == 3
    bad = mgr.get("/recordings?min_seconds=abc")
    assert bad.status_code == 400 and 'id="filter-error"' in text(bad)
    assert mgr.get("/recordings?direction=sideways").status_code == 400


def test_the_waveform_comes_from_the_audio_and_is_kept(session, users, clock, client_of, with_audio):
    rec = with_audio(recorded_call(session, clock, users["tm"]))
    tm = client_of("tm")
    page = tm.get(f"/recordings/{rec.id}")
    assert page.status_code == 200 and 'id="waveform"' in text(page) and 'id="speed"' in text(page)
    data = tm.get(f"/recordings/{rec.id}/peaks").get_json()
    peaks = data["peaks"]
    assert len(peaks) == 600
    half = len(peaks) // 2
    assert max(peaks[:half - 10]) < 5 and min(peaks[half + 10:]) > 80
    from models.quality.talk import peaks_of
    session.commit()
    assert peaks_of(session, rec.id) == peaks
    assert client_of("tm2").get(f"/recordings/{rec.id}/peaks").status_code == 403


def test_download_per_permission(session, users, clock, client_of, with_audio):
    rec = with_audio(recorded_call(session, clock, users["tm"]))
    assert client_of("tm").get(f"/recordings/{rec.id}/download").status_code == 403  # no export
    response = client_of("mgr").get(f"/recordings/{rec.id}/download")
    assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment")
    assert response.data[:3] == b"ID3" or response.data[:2] == b"\xff\xfb"
    assert 'id="recording-download"' not in text(client_of("tm").get(f"/recordings/{rec.id}"))


def test_score_comment_acknowledge_dispute_settle_through_the_pages(session, users, clock, client_of):
    form, items = make_form(session, users["admin"], clock)
    rec = recorded_call(session, clock, users["tm"])
    mgr = client_of("mgr")
    page = text(mgr.get(f"/recordings/{rec.id}"))
    assert f'class="scorecard border rounded p-2 mt-2" data-form-id="{form.id}"' in page
    data = {"form_id": form.id, "summary": "开场很好"}
    data.update({f"item_{i}": str(v) for i, v in answers(items, pace=3).items()})
    # without the CSRF token nothing is saved
    assert mgr.post(f"/recordings/{rec.id}/review", data=data).status_code == 400
    assert session.query(Review).count() == 0
    response = post(mgr, f"/recordings/{rec.id}/review", data)
    assert response.status_code == 302
    review = session.query(Review).one()
    assert (review.score, review.reviewer_id) == (80.0, users["mgr"].id)
    # a missing answer is refused, the review stays as it was
    incomplete = {k: v for k, v in data.items() if k != f"item_{items['pace'].id}"}
    assert post(mgr, f"/recordings/{rec.id}/review", incomplete).status_code == 302
    session.expire_all()
    assert session.get(Review, review.id).score == 80.0
    assert post(mgr, f"/recordings/{rec.id}/comments", {"at_ms": "12500", "text": "语速偏快"}).status_code == 302
    # the agent sees his score and the comment, acknowledges, then disputes
    tm = client_of("tm")
    shown = text(tm.get(f"/recordings/{rec.id}"))
    assert "语速偏快" in shown and 'class="review-score">80.0<' in shown and "scorecard" not in shown
    assert text(tm.get("/reviews/mine")).count('class="my-review"') == 1
    assert text(client_of("tm2").get("/reviews/mine")).count('class="my-review"') == 0
    assert client_of("tm2").get(f"/recordings/{rec.id}").status_code == 403
    assert post(client_of("tm2"), f"/reviews/{review.id}/acknowledge").status_code == 302
    session.expire_all()
    assert session.get(Review, review.id).state == "submitted"
    assert post(tm, f"/reviews/{review.id}/acknowledge").status_code == 302
    assert post(tm, f"/reviews/{review.id}/dispute", {"reason": "客户要求语速快"}).status_code == 302
    session.expire_all()
    assert session.get(Review, review.id).state == "disputed"
    assert client_of("tm").get("/reviews/disputes").status_code == 403
    disputes = text(client_of("admin").get("/reviews/disputes"))
    assert f'class="dispute" data-review-id="{review.id}"' in disputes
    assert post(client_of("admin"), f"/reviews/{review.id}/settle",
                {"outcome": "upheld", "note": "评分合理", "back": "disputes"}).status_code == 302
    session.expire_all()
    assert session.get(Review, review.id).state == "upheld"


def test_review_forms_are_admin_only(session, users, clock, client_of):
    assert client_of("mgr").get("/quality/forms").status_code == 403
    assert post(client_of("mgr"), "/quality/forms", {"name": "表"}).status_code == 403
    admin = client_of("admin")
    assert admin.post("/quality/forms", data={"name": "无令牌"}).status_code == 400
    response = post(admin, "/quality/forms", {"name": "客服质检"})
    form = session.query(ReviewForm).one()
    assert response.headers["Location"].endswith(f"/quality/forms/{form.id}")
    post(admin, f"/quality/forms/{form.id}", {"action": "section", "title": "结束语"})
    page = text(admin.get(f"/quality/forms/{form.id}"))
    section_id = int(re.search(r'class="card mb-2 section" data-section-id="(\d+)"', page).group(1))
    post(admin, f"/quality/forms/{form.id}", {"action": "item", "section_id": section_id,
                                              "label": "礼貌道别", "kind": "scale",
                                              "scale_max": "3", "weight": "1.5", "critical": "1"})
    page = text(admin.get(f"/quality/forms/{form.id}"))
    assert "礼貌道别" in page and page.count('class="form-item"') == 1
    bad = post(admin, f"/quality/forms/{form.id}", {"action": "item", "section_id": section_id,
                                                    "label": "x", "kind": "scale", "scale_max": "99"})
    assert bad.status_code == 302
    assert text(admin.get(f"/quality/forms/{form.id}")).count('class="form-item"') == 1


def test_training_examples_are_heard_by_new_colleagues(session, users, clock, client_of, with_audio):
    rec = with_audio(recorded_call(session, clock, users["tm"]))
    newcomer = client_of("tm2")
    assert newcomer.get(f"/recordings/{rec.id}/audio").status_code == 403
    assert post(newcomer, f"/recordings/{rec.id}/example", {"tags": "优秀录音"}).status_code == 302
    assert client_of("tm2").get(f"/recordings/{rec.id}/audio").status_code == 403
    assert post(client_of("mgr"), f"/recordings/{rec.id}/example",
                {"tags": "优秀录音，开场白", "note": "开场自然"}).status_code == 302
    listing = text(newcomer.get("/recordings/examples?tag=开场白"))
    assert f'class="border rounded p-2 mb-2 example" data-recording-id="{rec.id}"' in listing
    assert "开场自然" in listing
    assert 'example" data-recording-id' not in text(newcomer.get("/recordings/examples?tag=异议处理"))
    assert newcomer.get(f"/recordings/{rec.id}/audio").status_code == 200
    # hearing an example is not a licence to comment on it or to see its reviews
    assert post(newcomer, f"/recordings/{rec.id}/comments", {"at_ms": "0", "text": "x"}).status_code == 302
    session.expire_all()
    assert session.get(Recording, rec.id) is not None
    from models.schema import RecordingComment
    assert session.query(RecordingComment).count() == 0
    # taken out of the examples: private again
    assert post(newcomer, f"/recordings/{rec.id}/example/delete").status_code == 302
    assert newcomer.get(f"/recordings/{rec.id}/audio").status_code == 200
    assert 'id="unmark-example"' in text(client_of("mgr").get(f"/recordings/{rec.id}"))
    assert post(client_of("mgr"), f"/recordings/{rec.id}/example/delete").status_code == 302
    assert newcomer.get(f"/recordings/{rec.id}/audio").status_code == 403


def test_the_quality_report(session, users, clock, client_of):
    form, items = make_form(session, users["admin"], clock)
    a = recorded_call(session, clock, users["tm"])
    clock.advance(days=7)
    b = recorded_call(session, clock, users["tm"])
    c = recorded_call(session, clock, users["tm2"])
    rv.submit_review(session, users["mgr"], a.id, form.id, answers(items, pace=5), clock=clock)
    rv.submit_review(session, users["mgr"], b.id, form.id, answers(items, greeting=0), clock=clock)
    rv.submit_review(session, users["mgr"], c.id, form.id, answers(items, identity=0), clock=clock)
    session.commit()
    assert client_of("tm").get("/quality/report").status_code == 403
    page = text(client_of("mgr").get("/quality/report"))
    assert '<svg' in page and 'id="failed-items"' in page
    failed = re.search(r'id="failed-items">.*?</table>', page, re.S).group(0)
    assert "问候语规范" in failed and "核实客户身份" in failed
    by_agent = re.search(r'id="by-agent">.*?</table>', page, re.S).group(0)
    assert "李红光" in by_agent and "张军" in by_agent
    by_week = re.findall(r"<td>(2026-11-\d\d)</td><td>(\d+)</td><td>([\d.]+)</td>",
                         re.search(r'id="by-week">.*?</table>', page, re.S).group(0))
    assert by_week == [("2026-11-23", "1", "100.0"), ("2026-11-30", "2", "32.5")]
    from models.quality.talk import save_talk
    save_talk(session, b.id, agent_share=0.9, customer_share=0.1, longest_silence_ms=12_000,
              crosstalk_ms=0, clock=clock)
    session.commit()
    talk = re.search(r'id="talk-by-agent">.*?</table>', client_of("mgr").get("/quality/report")
                     .get_data(as_text=True), re.S).group(0)
    assert "<td>李红光</td><td>1</td><td>90%</td><td>12.0 s</td><td>1</td><td>1</td>" in talk


def test_the_sample_settings_page_and_the_reviewers_queue(session, users, clock, client_of):
    from models.quality.sampling import sample_settings, sample_week
    assert post(client_of("mgr"), "/quality/sampling", {"percent": "30", "minimum": "2"}).status_code == 403
    admin = client_of("admin")
    assert admin.post("/quality/sampling", data={"percent": "30", "minimum": "2"}).status_code == 400
    assert post(admin, "/quality/sampling", {"percent": "130", "minimum": "2"}).status_code == 302
    assert sample_settings(session) == (10, 3)
    assert post(admin, "/quality/sampling", {"percent": "30", "minimum": "2"}).status_code == 302
    session.expire_all()
    assert sample_settings(session) == (30, 2)
    assert 'value="30"' in text(admin.get("/quality/forms"))
    import datetime as dt
    recs = [recorded_call(session, clock, users["tm"], talk=t) for t in (10, 20, 30)]
    made = sample_week(session, dt.date(2026, 11, 23), percent=30, minimum=2, clock=clock)
    session.commit()
    mine = {e.recording_id for e in made if e.reviewer_id == users["mgr"].id}
    assert mine and set(ids_listed(client_of("mgr").get("/recordings?mine=1"))) == mine
    assert {recs[0].id, recs[2].id} == {e.recording_id for e in made}
