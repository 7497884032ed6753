"""The fax pages (T8): who sees which fax, the manager's shared inbox, sending from a customer's
page with a cover page and a stamp placed on the preview, forward, reply, broadcast and the
fax-on-demand sheets; real files through the real conversions, CSRF on every form."""
import io
import re

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from faxdocs.store import FaxStore
from models.crm.sales import create_opportunity
from models.fax import inbox
from models.schema import Fax, FaxDocument

from tests.conftest import PASSWORDS
from tests.faxdocs.test_convert import spandsp_like, tiffinfo, two_page_pdf
from tests.web_helpers import login, post


@pytest.fixture
def fax_app(Session, users, clock, tmp_path):
    from admin import create_app
    from config.settings import Settings
    settings = Settings(data_dir=tmp_path, secret_key="test-secret", fax_spool=str(tmp_path / "spool"),
                        fax_documents_dir=str(tmp_path / "sheets"))
    return create_app(settings, Session, clock=clock, testing=True)


@pytest.fixture
def client(fax_app, session):
    def make(name):
        session.commit()
        c = fax_app.test_client()
        assert login(c, name, PASSWORDS[name]).status_code == 302
        open_ = c.open

        def open_after_commit(*args, **kwargs):
            session.commit()   # SQLite: the test's read must not hold the app's write lock
            return open_(*args, **kwargs)
        c.open = open_after_commit
        return c
    return make


@pytest.fixture
def store(tmp_path):
    return FaxStore(tmp_path / "faxes", tmp_path / "spool", tmp_path / "sheets")


@pytest.fixture
def pdf(tmp_path):
    return two_page_pdf(tmp_path / "doc.pdf").read_bytes()


def received(session, store, tmp_path, clock, *, uniqueid, number):
    """A fax received as fax_done files it (the spool's TIFF kept with its PDF)."""
    store.spool.mkdir(exist_ok=True)
    rx = spandsp_like(tmp_path, two_page_pdf(tmp_path / "rx.pdf"))
    rx.rename(store.spool / f"{uniqueid}.tif")
    tiff_key, pdf_key, pages = store.keep_received(f"/var/spool/x/{uniqueid}.tif", uniqueid)
    fax, _ = inbox.file_received(session, uniqueid=uniqueid, number=number, station_id=None,
                                 pages=pages, fax_status="SUCCESS", tiff_key=tiff_key,
                                 pdf_key=pdf_key, clock=clock)
    session.commit()
    return fax.id


def stamp_png() -> bytes:
    seal = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(seal).ellipse((0, 0, 119, 119), fill=(220, 0, 0, 255))
    out = io.BytesIO()
    seal.save(out, "PNG")
    return out.getvalue()


def test_the_inbox_shows_each_user_the_faxes_that_are_theirs(
        client, session, users, make_customer, store, tmp_path, clock):
    make_customer("上海收传真有限公司", owner="tm", fax="021-5555 0001")
    mine = received(session, store, tmp_path, clock, uniqueid="u1", number="02155550001")
    nobody = received(session, store, tmp_path, clock, uniqueid="u2", number="13700000000")
    tm, tm2, mgr = client("tm"), client("tm2"), client("mgr")
    page = tm.get("/faxes").get_data(as_text=True)
    assert f'data-fax="{mine}"' in page and f'data-fax="{nobody}"' not in page
    assert "上海收传真有限公司" in page
    assert tm.get(f"/faxes/{mine}/fax.pdf").data.startswith(b"%PDF-")
    for url in (f"/faxes/{mine}", f"/faxes/{mine}/fax.pdf", f"/faxes/{nobody}"):
        assert tm2.get(url).status_code == 404, url
    assert tm.get("/faxes?box=shared").status_code == 403
    shared = mgr.get("/faxes?box=shared").get_data(as_text=True)
    assert f'data-fax="{nobody}"' in shared and f'data-fax="{mine}"' not in shared
    # assigning needs the form's token, and a manager
    assert mgr.post(f"/faxes/{nobody}/assign", data={"user_id": users["tm2"].id}).status_code == 400
    post(tm, f"/faxes/{nobody}/assign", {"user_id": users["tm2"].id})      # refused: not a manager
    assert session.get(Fax, nobody).user_id is None
    session.commit()
    assert post(mgr, f"/faxes/{nobody}/assign", {"user_id": users["tm2"].id}).status_code == 302
    assert f'data-fax="{nobody}"' in tm2.get("/faxes").get_data(as_text=True)
    # opening it marks it read
    assert session.get(Fax, nobody).status == "new"
    session.commit()
    assert tm2.get(f"/faxes/{nobody}").status_code == 200
    assert session.get(Fax, nobody, populate_existing=True).status == "read"


def test_send_from_the_customers_page_with_cover_and_stamp(
        client, session, users, make_customer, store, pdf):
    c = make_customer("北京发传真有限公司", owner="tm", fax="010-8888 6666")
    tm = client("tm")
    detail = tm.get(f"/customers/{c.id}").get_data(as_text=True)
    assert f'/faxes/send?customer_id={c.id}' in detail
    form = tm.get(f"/faxes/send?customer_id={c.id}").get_data(as_text=True)
    assert 'value="010-8888 6666"' in form
    r = post(tm, "/faxes/send", {"customer_id": c.id, "number": "010-8888 6666", "cover": "1",
                                 "subject": "报价单", "note": "请查收",
                                 "file": (io.BytesIO(pdf), "报价单.pdf")},
             content_type="multipart/form-data")
    assert r.status_code == 302 and "/prepare" in r.location
    fax = session.scalars(select(Fax)).one()
    session.commit()
    assert (fax.status, fax.pages, fax.customer_id, fax.number) == ("draft", 3, c.id, "+861088886666")
    assert [(p["width"], p["height"], p["dpi"]) for p in tiffinfo(store.path(fax.tiff_key))] == \
        [(1728, 2292, (204, 196))] * 3
    assert tm.get(f"/faxes/{fax.id}/page.png?n=3").mimetype == "image/png"
    r = post(tm, f"/faxes/{fax.id}/stamp", {"page": "3", "x": "0.7", "y": "0.8", "width": "0.1",
                                             "stamp": (io.BytesIO(stamp_png()), "seal.png")},
             content_type="multipart/form-data")
    assert r.status_code == 302
    with Image.open(store.path(fax.tiff_key)) as tiff:
        tiff.seek(2)
        assert tiff.convert("L").getpixel((round(1728 * 0.7), round(2292 * 0.8))) == 0
    assert tiffinfo(store.path(fax.tiff_key))[2]["compression"] == "CCITT Group 3"
    assert tm.get(f"/faxes/{fax.id}/fax.pdf").data.startswith(b"%PDF-")
    assert client("tm2").get(f"/faxes/{fax.id}/prepare").status_code == 404
    assert post(tm, f"/faxes/{fax.id}/send").status_code == 302
    assert session.get(Fax, fax.id, populate_existing=True).status == "queued"
    session.commit()


def test_bad_input_keeps_what_was_typed(client, session, users, make_customer):
    c = make_customer("错误输入测试", owner="tm")
    tm = client("tm")
    r = post(tm, "/faxes/send", {"customer_id": c.id, "number": "hello", "subject": "保留的主题",
                                 "file": (io.BytesIO(b"%PDF-1.4 x"), "a.pdf")},
             content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="fax-error"' in page and "保留的主题" in page
    r = post(tm, "/faxes/send", {"number": "13900000001", "subject": "坏文件",
                                 "file": (io.BytesIO(b"not a document"), "a.doc")},
             content_type="multipart/form-data")
    assert 'id="fax-error"' in r.get_data(as_text=True)
    assert session.scalars(select(Fax)).all() == []


def test_a_quotation_the_system_prints_can_be_faxed(client, session, users, make_customer, clock, store):
    c = make_customer("报价传真客户", owner="tm", fax="021-5555 0009")
    opp = create_opportunity(session, users["tm"], c.id, "呼叫中心 10 席", amount=12000, clock=clock)
    session.commit()
    tm = client("tm")
    assert f"quotation:{opp.id}" in tm.get(f"/faxes/send?customer_id={c.id}").get_data(as_text=True)
    r = post(tm, "/faxes/send", {"customer_id": c.id, "number": "021-5555 0009",
                                 "sheet": f"quotation:{opp.id}"})
    assert r.status_code == 302
    fax = session.scalars(select(Fax)).one()
    session.commit()
    assert fax.pages >= 1 and fax.subject == "报价单"
    assert tiffinfo(store.path(fax.tiff_key))[0]["width"] == 1728


def test_forward_reply_and_broadcast(client, session, users, make_customer, store, tmp_path, clock, pdf):
    make_customer("转发测试", owner="tm", fax="021-5555 0001")
    fax_id = received(session, store, tmp_path, clock, uniqueid="u9", number="02155550001")
    tm = client("tm")
    assert post(tm, f"/faxes/{fax_id}/forward", {"user_id": users["rep"].id, "note": "看一下"}).status_code == 302
    assert "看一下" in client("rep").get(f"/faxes/{fax_id + 1}").get_data(as_text=True)
    assert post(tm, f"/faxes/{fax_id}/forward", {"number": "13900000002"}).status_code == 302
    assert post(tm, f"/faxes/{fax_id}/reply", {"note": "已收到，谢谢"}).status_code == 302
    out = session.scalars(select(Fax).where(Fax.direction == "out").order_by(Fax.id)).all()
    session.commit()
    assert [(f.number, f.status, f.source_id) for f in out] == \
        [("+8613900000002", "queued", fax_id), ("+862155550001", "queued", fax_id)]
    assert out[1].pages == 1 and out[1].subject.startswith("Re: ")
    r = post(tm, "/faxes/broadcast", {"numbers": "13900000011\n13900000012, hello",
                                      "file": (io.BytesIO(pdf), "通知.pdf")},
             content_type="multipart/form-data")
    assert r.status_code == 302 and "/faxes/broadcast/b-" in r.location
    progress = tm.get(r.location).get_data(as_text=True)
    assert 'data-status="queued"' in progress and "2" in re.search(
        r'data-status="queued">[^<]*', progress).group(0)


def test_fax_on_demand_sheets_are_converted_into_the_dialplans_folder(
        client, session, users, store, pdf):
    mgr, tm = client("mgr"), client("tm")
    assert tm.get("/faxes/documents").status_code == 403
    assert post(tm, "/faxes/documents", {"name": "x"}).status_code == 403
    r = post(mgr, "/faxes/documents", {"name": "product-sheet", "title": "产品目录",
                                       "file": (io.BytesIO(pdf), "目录.pdf")},
             content_type="multipart/form-data")
    assert r.status_code == 302
    sheet = store.documents / "product-sheet.tif"
    assert [(p["width"], p["dpi"]) for p in tiffinfo(sheet)] == [(1728, (204, 196))] * 2
    assert 'data-name="product-sheet"' in mgr.get("/faxes/documents").get_data(as_text=True)
    r = post(mgr, "/faxes/documents", {"name": "../evil", "file": (io.BytesIO(pdf), "x.pdf")},
             content_type="multipart/form-data")
    assert r.status_code == 302 and sorted(p.name for p in store.documents.iterdir()) == ["product-sheet.tif"]
    doc = session.scalars(select(FaxDocument)).one()
    session.commit()
    assert post(mgr, f"/faxes/documents/{doc.id}/delete").status_code == 302
    assert not sheet.exists()


def test_broadcast_to_the_customers_a_query_found(client, session, users, make_customer):
    a = make_customer("查询群发甲", owner="tm", fax="021-5555 0101")
    b = make_customer("查询群发乙", owner="tm", phone="021-5555 0102")
    tm = client("tm")
    found = tm.get("/find?field=name&op=contains&value=查询群发").get_data(as_text=True)
    link = re.search(r'id="fax-broadcast-link" href="([^"]+)"', found).group(1).replace("&amp;", "&")
    form = tm.get(link).get_data(as_text=True)
    assert f'name="customer_id" value="{a.id}"' in form and f'name="customer_id" value="{b.id}"' in form
    r = post(tm, "/faxes/broadcast", {"customer_id": [a.id, b.id], "note": "新品通知", "cover": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    out = session.scalars(select(Fax).order_by(Fax.id)).all()
    session.commit()
    assert [(f.customer_id, f.number, f.pages) for f in out] == \
        [(a.id, "+862155550101", 1), (b.id, "+862155550102", 1)]


def test_the_company_stamp_a_manager_uploads_is_placed_without_a_picture(
        client, session, users, store, pdf):
    mgr, tm = client("mgr"), client("tm")
    assert post(tm, "/faxes/company-stamp", {"stamp": (io.BytesIO(stamp_png()), "s.png")},
                content_type="multipart/form-data").status_code == 403
    r = post(mgr, "/faxes/company-stamp", {"stamp": (io.BytesIO(b"not an image"), "s.png")},
             content_type="multipart/form-data")
    assert r.status_code == 302 and not store.company_stamp.exists()
    assert post(mgr, "/faxes/company-stamp", {"stamp": (io.BytesIO(stamp_png()), "s.png")},
                content_type="multipart/form-data").status_code == 302
    assert tm.get("/faxes/company-stamp.png").mimetype == "image/png"
    post(tm, "/faxes/send", {"number": "13900000001", "file": (io.BytesIO(pdf), "a.pdf")},
         content_type="multipart/form-data")
    fax = session.scalars(select(Fax)).one()
    session.commit()
    assert 'id="fax-company-stamp"' in tm.get(f"/faxes/{fax.id}/prepare").get_data(as_text=True)
    assert post(tm, f"/faxes/{fax.id}/stamp", {"page": "1", "x": "0.5", "y": "0.9",
                                                "width": "0.1"}).status_code == 302
    with Image.open(store.path(fax.tiff_key)) as tiff:
        assert tiff.convert("L").getpixel((864, round(2292 * 0.9))) == 0
