"""The administration rules (models.org.users, models.crm.stage_rules, models.crm.query_fields, models.company, models.library) (C11), each refusal leaving nothing changed."""
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import company, fields, stored_files
from models.company import company_today
from models.crm import query_fields, stage_rules
from models.crm.ownership import claim
from models.crm.query import enabled_fields
from models.errors import DomainError, NotFound, PermissionDenied, QuotaExceeded, StageRuleForbids
from models.library import catalogue, documents, scripts
from models.org import users as org_users
from models.org.auth import authenticate, verify_password
from models.schema import (
    CallScript,
    Competitor,
    Document,
    Product,
    QueryableField,
    ResourceSite,
    Role,
    StageRule,
    User,
)


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def role(session, code):
    return session.scalar(select(Role).where(Role.code == code))


# ---- users -----------------------------------------------------------------------------------

def test_add_user_hashes_the_password_and_can_log_in(session, users, clock):
    user = org_users.add_user(session, username="wang.li", full_name="王丽", password="secret-123",
                              role="sales_rep", extension="8010", language="en", clock=clock)
    session.commit()
    assert user.role.code == "sales_rep" and user.extension == "8010" and user.language == "en"
    assert user.password_hash != "secret-123" and verify_password(user.password_hash, "secret-123")
    assert authenticate(session, "wang.li", "secret-123").id == user.id


@pytest.mark.parametrize("changes, key", [
    (dict(username="tm"), "user.duplicate_username"),
    (dict(username="a b"), "admin.bad_username"),
    (dict(username="x"), "admin.bad_username"),
    (dict(username="../etc"), "admin.bad_username"),
    (dict(password="short"), "admin.short_password"),
    (dict(full_name="  "), "admin.required"),
    (dict(full_name="名" * 65), "admin.too_long"),
    (dict(role="boss"), "role.not_found"),
    (dict(language="fr"), "admin.bad_language"),
    (dict(extension="80a1"), "admin.bad_extension"),
])
def test_add_user_refusals_change_nothing(session, users, clock, changes, key):
    before = count(session, User)
    values = {**dict(username="newbie", full_name="新人", password="long-enough",
                     role="telemarketer", extension=None, language="zh_CN"), **changes}
    with pytest.raises(DomainError) as err:
        org_users.add_user(session, clock=clock, **values)
    assert err.value.key == key
    session.rollback()
    assert count(session, User) == before


def test_duplicate_extension_refused(session, users, clock):
    org_users.update_user(session, users["admin"], users["tm"].id, full_name="李红光",
                          role="telemarketer", extension="8001", language="zh_CN")
    with pytest.raises(DomainError) as err:
        org_users.add_user(session, username="other", full_name="某人", password="long-enough",
                           role="telemarketer", extension="8001", clock=clock)
    assert err.value.key == "admin.duplicate_extension"
    # the user keeps their own extension when saved again
    org_users.update_user(session, users["admin"], users["tm"].id, full_name="李红光 2",
                          role="telemarketer", extension="8001", language="en")
    assert users["tm"].full_name == "李红光 2" and users["tm"].language == "en"


def test_update_user_changes_role_but_admin_cannot_demote_self(session, users):
    org_users.update_user(session, users["admin"], users["tm"].id, full_name="李红光",
                          role="sales_rep", extension="", language="zh_CN")
    assert users["tm"].role.code == "sales_rep" and users["tm"].extension is None
    with pytest.raises(PermissionDenied) as err:
        org_users.update_user(session, users["admin"], users["admin"].id, full_name="管理员",
                              role="telemarketer", extension=None, language="zh_CN")
    assert err.value.key == "admin.self_demote"
    session.rollback()
    assert session.get(User, users["admin"].id).role.is_admin


def test_deactivate_reactivate_and_not_oneself(session, users):
    org_users.set_user_active(session, users["admin"], users["tm"].id, "0")
    session.commit()
    assert authenticate(session, "tm", "pw-tm") is None
    org_users.set_user_active(session, users["admin"], users["tm"].id, "1")
    assert authenticate(session, "tm", "pw-tm") is not None
    with pytest.raises(PermissionDenied) as err:
        org_users.set_user_active(session, users["admin"], users["admin"].id, "0")
    assert err.value.key == "admin.self_deactivate"
    assert "不能停用自己的账号" in err.value.message("zh_CN")
    assert "cannot deactivate your own account" in err.value.message("en")
    with pytest.raises(NotFound):
        org_users.set_user_active(session, users["admin"], 999999, "0")


def test_reset_password(session, users):
    old_hash = users["rep"].password_hash
    org_users.reset_password(session, users["rep"].id, "a-new-password")
    assert users["rep"].password_hash != old_hash
    assert authenticate(session, "rep", "a-new-password") is not None
    assert authenticate(session, "rep", "pw-rep") is None
    with pytest.raises(DomainError) as err:
        org_users.reset_password(session, users["rep"].id, "1234567")
    assert err.value.key == "admin.short_password"


# ---- roles -----------------------------------------------------------------------------------

def test_update_role_sets_quota_and_flags(session, users):
    org_users.update_role(session, "telemarketer", daily_claim_quota="35", can_export="1",
                          can_delete="on")
    tm_role = role(session, "telemarketer")
    assert tm_role.daily_claim_quota == 35 and tm_role.can_export and tm_role.can_delete
    assert not tm_role.can_edit_shared and not tm_role.can_manage
    org_users.update_role(session, "telemarketer", daily_claim_quota=0)
    assert tm_role.daily_claim_quota == 0 and not tm_role.can_export


@pytest.mark.parametrize("quota", ["-1", "10001", "abc", "", "2.5", None])
def test_bad_quota_refused(session, users, quota):
    with pytest.raises(DomainError) as err:
        org_users.update_role(session, "telemarketer", daily_claim_quota=quota, can_export="1")
    assert err.value.key == "admin.bad_integer"
    assert "0" in err.value.message("en") and "10000" in err.value.message("en")
    session.rollback()
    tm_role = role(session, "telemarketer")
    assert tm_role.daily_claim_quota == 20 and not tm_role.can_export


def test_update_role_refuses_unknown_role_and_flag(session, users):
    with pytest.raises(NotFound):
        org_users.update_role(session, "boss", daily_claim_quota=1)
    with pytest.raises(DomainError) as err:
        org_users.update_role(session, "telemarketer", daily_claim_quota=1, is_admin="1")
    assert err.value.key == "admin.unknown_field"
    session.rollback()
    assert not role(session, "telemarketer").is_admin


def test_lowered_quota_applies_to_the_next_claim(session, users, clock, make_customer):
    first, second = make_customer(owner=None), make_customer(owner=None)
    claim(session, users["tm"], first.id, clock=clock)
    session.commit()
    org_users.update_role(session, "telemarketer", daily_claim_quota=1)
    session.commit()
    with pytest.raises(QuotaExceeded):
        claim(session, users["tm"], second.id, clock=clock)


# ---- stage rules -----------------------------------------------------------------------------

def test_update_stage_rule_in_field_order(session, users):
    rule = stage_rules.update_stage_rule(session, "potential", editable_fields=["website", "phone"],
                                       marks=["sales", "tracking"], claim="1", release="1")
    assert rule.editable_fields == ["phone", "website"]
    assert rule.marks == ["tracking", "sales"]
    assert rule.claim_allowed and rule.release_allowed
    assert not rule.promote_allowed and not rule.demote_allowed
    assert [r.stage for r in stage_rules.list_stage_rules(session)] == list(stage_rules.RULE_STAGES)


@pytest.mark.parametrize("stage, fields, marks, key", [
    ("target", ["phone", "password_hash"], [], "admin.unknown_field"),
    ("target", ["stage"], [], "admin.unknown_field"),
    ("target", ["name"], [], "admin.name_not_editable"),
    ("target", ["phone"], ["vip"], "admin.unknown_mark"),
    ("heaven", ["phone"], [], "admin.unknown_stage"),
])
def test_bad_stage_rule_refused(session, users, stage, fields, marks, key):
    with pytest.raises(DomainError) as err:
        stage_rules.update_stage_rule(session, stage, editable_fields=fields, marks=marks)
    assert err.value.key == key
    session.rollback()
    rule = session.get(StageRule, "target")
    assert rule.editable_fields[0] == "contact_person" and rule.claim_allowed


def test_stage_rule_change_governs_claims(session, users, clock, make_customer):
    shared = make_customer(stage="target", owner=None)
    stage_rules.update_stage_rule(session, "target", editable_fields=[], marks=["contact"],
                                release="1", promote="1", demote="1")
    session.commit()
    with pytest.raises(StageRuleForbids):
        claim(session, users["tm"], shared.id, clock=clock)


# ---- queryable fields ------------------------------------------------------------------------

def test_update_queryable_fields(session, users):
    query_fields.update_queryable_fields(session, ["city", "email"], {"email": "1", "city": "2"})
    assert enabled_fields(session) == {"city", "email"}
    rows = query_fields.list_queryable_fields(session)
    order = [r.field for r in rows]
    assert order.index("email") < order.index("city") < order.index("last_contacted_at")
    assert {r.field for r in rows} == set(fields.QUERYABLE_FIELDS)


@pytest.mark.parametrize("enabled, orders", [
    (["city", "password_hash"], {}), (["city"], {"secret": "1"}), (["city"], {"city": "-3"}),
])
def test_bad_queryable_fields_refused(session, users, enabled, orders):
    before = enabled_fields(session)
    with pytest.raises(DomainError):
        query_fields.update_queryable_fields(session, enabled, orders)
    session.rollback()
    assert enabled_fields(session) == before
    assert session.get(QueryableField, "city").sort_order != -3


# ---- company settings ------------------------------------------------------------------------

def test_company_settings(session, users, clock):
    company.update_company_settings(session, company_name="  新公司  ", time_zone="America/New_York")
    assert company.company_settings(session) == {"company_name": "新公司",
                                                   "time_zone": "America/New_York"}
    # 02:00 UTC on 26 Nov is still 25 Nov in New York
    assert str(company_today(session, clock.now())) == "2026-11-25"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "asia/shanghai",
                                  "/etc/localtime"])
def test_bad_time_zone_refused(session, users, zone):
    with pytest.raises(DomainError) as err:
        company.update_company_settings(session, company_name="X", time_zone=zone)
    assert err.value.key == "admin.bad_time_zone"
    session.rollback()
    assert company.company_settings(session)["time_zone"] == "Asia/Shanghai"
    assert company.company_settings(session)["company_name"] != "X"


# ---- call scripts ----------------------------------------------------------------------------

def test_personal_scripts_belong_to_their_owner(session, users, clock):
    mine = scripts.save_personal_script(session, users["tm"], title="开场白", body="您好",
                                          stage="target", clock=clock)
    ref = scripts.save_reference_script(session, title="参考", body="标准话术", clock=clock)
    assert scripts.personal_scripts(session, users["tm"]) == [mine]
    assert scripts.personal_scripts(session, users["tm2"]) == []
    assert scripts.reference_scripts(session) == [ref]
    for other in ("tm2", "admin"):
        with pytest.raises(NotFound):
            scripts.get_personal_script(session, users[other], mine.id)
        with pytest.raises(NotFound):
            scripts.save_personal_script(session, users[other], mine.id, title="改", body="改")
        with pytest.raises(NotFound):
            scripts.delete_personal_script(session, users[other], mine.id)
    with pytest.raises(NotFound):
        scripts.get_reference_script(session, mine.id)
    with pytest.raises(NotFound):
        scripts.get_personal_script(session, users["tm"], ref.id)
    assert mine.title == "开场白"
    scripts.delete_personal_script(session, users["tm"], mine.id)
    assert count(session, CallScript) == 1


def test_reference_scripts_by_stage(session, users, clock):
    general = scripts.save_reference_script(session, title="通用", body="a", stage="", clock=clock)
    target = scripts.save_reference_script(session, title="目标", body="b", stage="target",
                                             clock=clock)
    scripts.save_reference_script(session, title="成交", body="c", stage="closed", clock=clock)
    assert general.stage is None
    assert set(scripts.reference_scripts(session, "target")) == {general, target}
    with pytest.raises(DomainError) as err:
        scripts.save_reference_script(session, title="x", body="y", stage="heaven")
    assert err.value.key == "admin.unknown_stage"
    with pytest.raises(DomainError) as err:
        scripts.save_reference_script(session, title="x", body=" ")
    assert err.value.key == "admin.required" and "Text is required" in err.value.message("en")


# ---- products, competitors, resource sites ---------------------------------------------------

def test_products_unique_and_priced(session, users):
    p = catalogue.save_product(session, code="P-1", name="呼叫中心软件", unit="", price="1,280.5",
                               description="", active="1")
    assert p.unit == "套" and p.price == Decimal("1280.50") and p.active and p.description is None
    catalogue.save_product(session, p.id, code="P-1", name="呼叫中心软件", price="99", active=None)
    assert p.price == Decimal("99.00") and not p.active
    for values, key in [(dict(code="P-1", name="别的"), "admin.duplicate"),
                        (dict(code="P-2", name="呼叫中心软件"), "admin.duplicate"),
                        (dict(code="P-3", name="新", price="-1"), "admin.bad_amount"),
                        (dict(code="P-3", name="新", price="NaN"), "admin.bad_amount"),
                        (dict(code="P-3", name="新", price="abc"), "admin.bad_amount"),
                        (dict(code="P-3", name=""), "admin.required")]:
        with pytest.raises(DomainError) as err:
            catalogue.save_product(session, **values)
        assert err.value.key == key, values
    session.rollback()
    assert count(session, Product) == 0


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.com", "//example.com",
                                 "example.com", "http://", "https://exa mple.com",
                                 "data:text/html,hi", " JAVASCRIPT:alert(1)"])
def test_bad_urls_refused(session, users, url):
    with pytest.raises(DomainError) as err:
        catalogue.save_resource_site(session, name="站点", url=url)
    assert err.value.key == "admin.bad_url"
    with pytest.raises(DomainError):
        catalogue.save_competitor(session, name="同行", website=url)
    session.rollback()
    assert count(session, ResourceSite) == 0 and count(session, Competitor) == 0


def test_sites_and_competitors_round_trip(session, users):
    site = catalogue.save_resource_site(session, name="黄页", url="HTTPS://www.example.cn/a?b=1",
                                        note="", sort_order="")
    assert site.sort_order == 0 and site.url == "HTTPS://www.example.cn/a?b=1"
    catalogue.save_resource_site(session, site.id, name="黄页88", url="http://b.example",
                                 sort_order="3")
    assert (site.name, site.sort_order) == ("黄页88", 3)
    rival = catalogue.save_competitor(session, name="同行甲", website="", strengths="价格低")
    assert rival.website is None and rival.strengths == "价格低"
    with pytest.raises(DomainError):
        catalogue.save_competitor(session, name="同行甲")
    catalogue.delete_competitor(session, rival.id)
    catalogue.delete_resource_site(session, site.id)
    assert count(session, ResourceSite) == 0 and count(session, Competitor) == 0
    with pytest.raises(NotFound):
        catalogue.delete_resource_site(session, site.id)


# ---- documents -------------------------------------------------------------------------------

def test_document_stored_under_a_generated_key(session, users, clock, tmp_path):
    doc = documents.store_company_document(session, users["admin"], tmp_path,
                                           io.BytesIO(b"%PDF-1.4 hello"), "../../报价单.pdf",
                                           content_type="application/pdf", clock=clock)
    assert doc.filename == "报价单.pdf" and doc.title == "报价单.pdf" and doc.size == 14
    assert doc.customer_id is None and doc.content_type == "application/pdf"
    stored = list((tmp_path / "documents").iterdir())
    assert [p.name for p in stored] == [doc.storage_key] and len(doc.storage_key) == 32
    assert stored_files.document_file(tmp_path, doc).read_bytes() == b"%PDF-1.4 hello"
    assert not (tmp_path.parent / "报价单.pdf").exists()
    path = documents.delete_company_document(session, tmp_path, doc.id)
    stored_files.remove_stored_file(path)
    assert list((tmp_path / "documents").iterdir()) == []


def test_document_refusals_keep_nothing(session, users, clock, tmp_path):
    big = io.BytesIO(b"x" * (stored_files.MAX_DOCUMENT_BYTES + 1))
    for stream, name, key in [(big, "big.bin", "admin.file_too_large"),
                              (io.BytesIO(b""), "empty.txt", "admin.empty_file"),
                              (None, "", "admin.no_file"), (io.BytesIO(b"x"), "", "admin.no_file")]:
        with pytest.raises(DomainError) as err:
            documents.store_company_document(session, users["admin"], tmp_path, stream, name,
                                             clock=clock)
        assert err.value.key == key
    assert count(session, Document) == 0
    folder = tmp_path / "documents"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_exactly_twenty_megabytes_is_accepted(session, users, clock, tmp_path):
    data = io.BytesIO(b"x" * stored_files.MAX_DOCUMENT_BYTES)
    doc = documents.store_company_document(session, users["admin"], tmp_path, data, "a.bin",
                                           content_type="text/html", clock=clock)
    assert doc.size == stored_files.MAX_DOCUMENT_BYTES
    assert doc.content_type == "application/octet-stream"  # never served as a web page


@pytest.mark.parametrize("key", ["../secret_key", "../../etc/passwd", "/etc/passwd", "",
                                 "a/../../secret_key", "..\\secret_key", "demo/missing.pdf", "."])
def test_document_file_never_leaves_the_folder(tmp_path, key):
    (tmp_path / "secret_key").write_text("s3cret")
    (tmp_path / "documents" / "a").mkdir(parents=True)
    with pytest.raises(NotFound):
        stored_files.document_file(tmp_path, Document(storage_key=key))


def test_customer_documents_are_not_company_documents(session, users, make_customer):
    c = make_customer()
    session.add(Document(customer_id=c.id, title="合同", filename="a.pdf", storage_key="k",
                         created_at=c.created_at))
    session.commit()
    doc_id = session.scalar(select(Document.id))
    assert documents.list_company_documents(session) == []
    with pytest.raises(NotFound):
        documents.get_company_document(session, doc_id)


@pytest.mark.parametrize("name, expected", [
    ("C:\\fakepath\\合同.docx", "合同.docx"), ("../../x.txt", "x.txt"), ("..", "document"),
    ("a\x00b\r\n.pdf", "ab.pdf"), ("名" * 300 + ".pdf", "名" * 196 + ".pdf"),
])
def test_clean_filename(name, expected):
    assert stored_files.clean_filename(name) == expected
