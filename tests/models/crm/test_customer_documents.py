"""A customer's documents (C6): uploaded and downloaded from the customer's detail and tracking
screens by the users who may open the customer, stored only inside the documents folder."""
import io
import pathlib
import re

import pytest
from sqlalchemy import func, select

from models.crm.customer_documents import (
    customer_document_file,
    get_customer_document,
    store_customer_document,
)
from models.errors import InvalidValue, NotFound, SharedEditForbidden
from models.schema import Document

from tests.web_helpers import committing, post

CONTRACT = "采购合同 2026 版.pdf"


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def text(response):
    return response.get_data(as_text=True)


def count(session):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Document))


def upload(client, customer_id, data: bytes, filename: str, title: str = "", **extra):
    return post(client, f"/customers/{customer_id}/documents",
                {"title": title, "file": (io.BytesIO(data), filename), **extra},
                content_type="multipart/form-data")


@pytest.fixture
def folder(app):
    return app.config["DATA_DIR"] / "documents"


def test_upload_then_download_from_the_tracking_screen(as_user, session, make_customer, folder):
    c = make_customer("上传客户", owner="tm")
    tm = as_user("tm")
    track = f"/customers/{c.id}/track"
    page = text(tm.get(track))
    assert 'id="customer-documents"' in page and "客户文档" in page and 'id="document-form"' in page
    response = upload(tm, c.id, b"%PDF-1.4 contract", "../../" + CONTRACT, "", next=track)
    assert response.status_code == 302 and response.location.endswith(track)
    doc = session.scalar(select(Document))
    assert (doc.customer_id, doc.filename, doc.title, doc.size) == \
        (c.id, CONTRACT, CONTRACT, 17)
    assert re.fullmatch(r"[0-9a-f]{32}", doc.storage_key)
    assert [p.name for p in folder.iterdir()] == [doc.storage_key]
    page = text(tm.get(track))
    assert "已上传 采购合同 2026 版.pdf。" in page
    url = f"/customers/{c.id}/documents/{doc.id}/download"
    assert f'<a href="{url}">{CONTRACT}</a>' in page
    assert f'href="{url}"' in text(tm.get(f"/customers/{c.id}"))  # the detail screen too
    response = tm.get(url)
    assert response.status_code == 200 and response.data == b"%PDF-1.4 contract"
    assert response.headers["Content-Type"] == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    # an ASCII fallback and the UTF-8 name (RFC 6266 / 5987)
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E9%87%87%E8%B4%AD%E5%90%88%E5%90%8C%202026%20%E7%89%88.pdf" \
        in disposition


def test_html_is_only_ever_a_download(as_user, session, make_customer):
    c = make_customer(owner="tm")
    tm = as_user("tm")
    upload(tm, c.id, b"<script>alert(1)</script>", "page.html", "网页")
    doc = session.scalar(select(Document))
    response = tm.get(f"/customers/{c.id}/documents/{doc.id}/download")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_another_salespersons_customer_document_is_not_found(as_user, session, users,
                                                             make_customer, app):
    c = make_customer("保密客户", owner="tm2")
    doc = store_customer_document(session, users["tm2"], app.config["DATA_DIR"], c.id,
                                  io.BytesIO(b"secret contract"), "合同.pdf")
    session.commit()
    url = f"/customers/{c.id}/documents/{doc.id}/download"
    response = as_user("tm").get(url)
    assert response.status_code == 404 and b"secret contract" not in response.data
    # the collaborator, a manager and the owner may
    assert as_user("mgr").get(url).data == b"secret contract"
    assert as_user("tm2").get(url).data == b"secret contract"
    # nor may tm add one to it
    assert upload(as_user("tm"), c.id, b"x", "x.txt").status_code == 403
    assert count(session) == 1


def test_a_document_is_only_reached_through_its_own_customer(as_user, session, users,
                                                             make_customer, app):
    mine = make_customer("自己的客户", owner="tm")
    theirs = make_customer("别人的客户", owner="tm2")
    data_dir = app.config["DATA_DIR"]
    doc = store_customer_document(session, users["tm2"], data_dir, theirs.id,
                                  io.BytesIO(b"their file"), "theirs.txt")
    company = Document(customer_id=None, title="公司文档", filename="c.txt",
                       storage_key=doc.storage_key, created_at=doc.created_at)
    session.add(company)
    session.commit()
    tm = as_user("tm")
    for document_id in (doc.id, company.id, 999999):
        response = tm.get(f"/customers/{mine.id}/documents/{document_id}/download")
        assert response.status_code == 404 and b"their file" not in response.data
        with pytest.raises(NotFound):
            get_customer_document(session, users["admin"], mine.id, document_id)


def test_no_path_from_the_request_or_a_row_leaves_the_folder(as_user, session, users, app,
                                                             make_customer, folder):
    data_dir = app.config["DATA_DIR"]
    (data_dir / "private.txt").write_text("top secret")
    c = make_customer(owner="tm")
    client = as_user("tm")
    base = f"/customers/{c.id}/documents"
    for path in (f"{base}/../../../secret_key/download", f"{base}/..%2fsecret_key/download",
                 f"{base}/%2e%2e/%2e%2e/private.txt/download", f"{base}/-1/download",
                 f"{base}/private.txt/download", f"{base}/1/download?path=../private.txt"):
        response = client.get(path)
        assert response.status_code in (404, 405), path
        assert b"top secret" not in response.data and b"test-secret" not in response.data
    # a row whose key leads outside the folder (tampered, or a link) is refused
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "link").symlink_to(data_dir / "private.txt")
    for key in ("../private.txt", "../../private.txt", str(data_dir / "private.txt"),
                "documents/../../private.txt", "..\\private.txt", "link", "", "."):
        session.add(Document(customer_id=c.id, title="x", filename="x.txt", storage_key=key,
                             created_at=c.created_at))
        session.commit()
        doc_id = session.scalar(select(func.max(Document.id)))
        response = client.get(f"{base}/{doc_id}/download")
        assert response.status_code == 404 and b"top secret" not in response.data, key
        with pytest.raises(NotFound):
            customer_document_file(session, users["tm"], data_dir, c.id, doc_id)
    # a hostile file name never becomes a path
    upload(client, c.id, b"payload", "../../../private.txt")
    assert (data_dir / "private.txt").read_text() == "top secret"
    doc = session.scalar(select(Document).order_by(Document.id.desc()))
    assert doc.filename == "private.txt" and re.fullmatch(r"[0-9a-f]{32}", doc.storage_key)
    assert (folder / doc.storage_key).read_bytes() == b"payload"


def test_refused_uploads_keep_nothing(as_user, session, users, make_customer, folder, app):
    c = make_customer(owner="tm")
    tm = as_user("tm")
    track = f"/customers/{c.id}/track"
    upload(tm, c.id, b"x" * (20 * 1024 * 1024 + 1), "big.zip", next=track)
    assert "文件太大（最大 20 MB）" in text(tm.get(track))
    upload(tm, c.id, b"", "empty.txt", next=track)
    assert "文件是空的" in text(tm.get(track))
    post(tm, f"/customers/{c.id}/documents", {"title": "没有文件", "next": track})
    assert "请选择要上传的文件" in text(tm.get(track))
    upload(tm, c.id, b"ok", "ok.txt", "标" * 201, next=track)
    assert "标题太长（最多 200 个字符）" in text(tm.get(track))
    assert count(session) == 0
    assert not folder.exists() or list(folder.iterdir()) == []
    with pytest.raises(InvalidValue):
        store_customer_document(session, users["tm"], app.config["DATA_DIR"], c.id, None, "a")


def test_a_shared_customer_needs_may_edit_shared_to_upload(as_user, session, users,
                                                           make_customer, app):
    c = make_customer("共享客户", owner=None)
    with pytest.raises(SharedEditForbidden):
        store_customer_document(session, users["tm"], app.config["DATA_DIR"], c.id,
                                io.BytesIO(b"x"), "x.txt")
    session.rollback()
    tm = as_user("tm")
    assert 'id="document-form"' not in text(tm.get(f"/customers/{c.id}/track"))
    upload(tm, c.id, b"x", "x.txt")
    assert count(session) == 0
    rep = as_user("rep")
    assert upload(rep, c.id, b"shared file", "s.txt").status_code == 302
    doc = session.scalar(select(Document))
    # everybody may open a shared customer, so everybody downloads its documents
    assert tm.get(f"/customers/{c.id}/documents/{doc.id}/download").data == b"shared file"


def test_the_upload_needs_the_csrf_token(as_user, session, make_customer, folder):
    c = make_customer(owner="tm")
    client = as_user("tm")
    response = client.post(f"/customers/{c.id}/documents",
                           data={"file": (io.BytesIO(b"x"), "x.txt")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert count(session) == 0 and not folder.exists()


def test_english(as_user, session, users, make_customer):
    users["tm"].language = "en"
    session.commit()
    c = make_customer(owner="tm")
    page = text(as_user("tm").get(f"/customers/{c.id}/track"))
    assert "Customer's documents" in page and "Upload a document" in page
    assert "At most 20 MB." in page


def test_in_the_browser_upload_and_download(live_server, browser_page, session, make_customer):
    from tests.browser.chromium import log_in, shot
    c = make_customer("浏览器客户", owner="tm")
    session.commit()
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.wait_for_selector("#main-line")
    page.goto(f"{live_server}/customers/{c.id}/track")
    page.click("#customer-documents summary")
    page.set_input_files("#document-form input[type=file]",
                         files=[{"name": CONTRACT, "mimeType": "application/pdf",
                                 "buffer": b"%PDF-1.4 contract"}])
    page.click("#document-form button[type=submit]")
    page.wait_for_selector("#customer-documents a:has-text('采购合同')")
    shot(page, "customer-documents-track")
    with page.expect_download() as caught:
        page.click("#customer-documents a:has-text('采购合同')")
    download = caught.value
    assert download.suggested_filename == CONTRACT
    assert pathlib.Path(download.path()).read_bytes() == b"%PDF-1.4 contract"


def test_the_tracking_screen_names_who_uploaded_a_document(as_user, session, make_customer,
                                                           users):
    """The uploader is neither the operator nor a record author here: still named."""
    c = make_customer("上传人客户", owner="tm")
    admin = as_user("admin")
    assert upload(admin, c.id, b"%PDF-1.4 x", "报价单.pdf").status_code == 302
    row = re.search(r'<tr data-document="\d+">.*?</tr>', text(as_user("tm").get(
        f"/customers/{c.id}/track")), re.S).group(0)
    assert users["admin"].full_name in row


def test_deleting_a_customer_removes_its_stored_files_too(as_user, session, make_customer,
                                                          folder):
    kept, gone = make_customer("保留客户", owner="tm"), make_customer("删除客户", owner="tm")
    tm = as_user("tm")
    assert upload(tm, kept.id, b"keep", "keep.pdf").status_code == 302
    assert upload(tm, gone.id, b"one", "one.pdf").status_code == 302
    assert upload(tm, gone.id, b"two", "two.pdf").status_code == 302
    assert len(list(folder.iterdir())) == 3
    admin = as_user("admin")
    response = post(admin, f"/customers/{gone.id}/delete")
    assert response.status_code == 302
    assert count(session) == 1
    [left] = folder.iterdir()
    assert left.name == session.scalar(select(Document.storage_key))


def test_the_uploader_or_a_role_that_may_delete_deletes_a_document(as_user, session, users,
                                                                   make_customer, folder):
    c = make_customer("文档删除客户", owner=["tm", "rep"])
    tm, rep = as_user("tm"), as_user("rep")
    assert upload(tm, c.id, b"offer", "报价.pdf").status_code == 302
    doc = session.scalar(select(Document))
    delete = f"/customers/{c.id}/documents/{doc.id}/delete"
    track = f"/customers/{c.id}/track"
    assert f'id="document-delete-{doc.id}"' in text(tm.get(track))
    assert f'id="document-delete-{doc.id}"' not in text(rep.get(track))   # a co-operator
    assert post(rep, delete).status_code == 403 and count(session) == 1
    assert tm.post(delete, data={}).status_code == 400 and count(session) == 1  # no CSRF token
    assert post(as_user("tm2"), delete).status_code == 404  # may not open the customer
    response = post(tm, delete, {"next": track})
    assert response.status_code == 302 and response.location.endswith(track)
    assert "已删除文档 报价.pdf。" in text(tm.get(track))
    assert count(session) == 0 and list(folder.iterdir()) == []
    # a manager (role "may delete") deletes what someone else uploaded
    assert upload(tm, c.id, b"offer 2", "报价2.pdf").status_code == 302
    doc = session.scalar(select(Document))
    assert post(as_user("admin"), f"/customers/{c.id}/documents/{doc.id}/delete").status_code == 302
    assert count(session) == 0 and list(folder.iterdir()) == []
