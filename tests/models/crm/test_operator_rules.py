"""Who may be made the operator of a new customer, in which stage and with which ownership
(C2, C9): the same cases through creating (models.crm.customers.create_customer) and importing
(models.imports.importer.check_options and the job), which must agree. The rule itself is
models.crm.ownership.check_new_customer."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.crm.customers import create_customer
from models.crm.ownership import check_new_customer
from models.errors import DomainError, NotFound, PermissionDenied
from models.imports import importer
from models.org.users import create_user
from models.schema import Customer, ImportJob, OperatorHistory, User

from tests.import_helpers import HEADER, make_template, xlsx_bytes

# A refusal, whichever words each path uses for it.
REFUSALS = {"customer.stage_required": "stage_required", "import.stage_required": "stage_required",
            "customer.bad_stage": "bad_stage",
            "customer.operators_required": "no_operator", "import.operator_required": "no_operator",
            "import.operator_not_allowed": "not_allowed"}

# (actor, stage as the form sends it, operator: a user, "self", "shared", "gone" (an
#  inactive user) or "nobody" (no such user)) -> (stage, ownership, operators) or a refusal
CASES = [
    ("tm", "reserve", "self", ("reserve", "personal", ["tm"])),
    ("tm", "archive", "self", (None, "personal", ["tm"])),
    ("rep", "opportunity", "self", ("opportunity", "personal", ["rep"])),
    ("tm", "target", "shared", ("target", "shared", [])),          # anyone may share
    ("rep", "archive", "shared", (None, "shared", [])),
    ("tm", "target", "tm2", "not_allowed"),                        # only managers hand over
    ("rep", "reserve", "tm", "not_allowed"),
    ("tm", "reserve", "gone", "not_allowed"),
    ("mgr", "potential", "tm2", ("potential", "personal", ["tm2"])),
    ("admin", "closed", "tm", ("closed", "personal", ["tm"])),
    ("mgr", "reserve", "shared", ("reserve", "shared", [])),
    ("mgr", "reserve", "gone", "no_operator"),                     # operators are active users
    ("admin", "target", "nobody", "no_operator"),
    ("tm", "", "self", "stage_required"),                          # the stage must be chosen
    ("mgr", "", "shared", "stage_required"),
    ("tm", "vip", "self", "bad_stage"),
]


@pytest.fixture
def people(session, users, clock):
    gone = create_user(session, "gone", "离职员工", "pw-gone", "telemarketer", clock=clock)
    gone.active = False
    session.commit()
    return {**users, "gone": gone}


@pytest.fixture
def template(session, users, clock):
    return make_template(session, users["tm"], clock, name="规则模板")


def refusal(exc: DomainError) -> str:
    if isinstance(exc, PermissionDenied):
        return "not_allowed"
    if isinstance(exc, NotFound):
        return "no_operator"
    return REFUSALS[exc.key]


def operator_id(people, actor: str, operator: str) -> int:
    if operator == "nobody":
        return max(u.id for u in people.values()) + 100
    return people[actor if operator == "self" else operator].id


def outcome(session, people, name: str, action: str):
    """The customer as written, in the terms of CASES, and its operator-history row."""
    session.rollback()
    c = session.scalar(select(Customer).where(Customer.name == name))
    names = {u.id: key for key, u in people.items()}
    history = session.scalars(select(OperatorHistory)
                              .where(OperatorHistory.customer_id == c.id)).all()
    assert [(h.action, h.from_mode, h.to_mode, h.to_operators) for h in history] == [
        (action, None, c.ownership, sorted(c.operator_ids))]
    return (c.stage, c.ownership, sorted(names[i] for i in c.operator_ids))


def via_create(session, people, clock, actor, stage, operator):
    """As the new-customer form does: 'shared', or one operator."""
    if operator == "shared":
        kw = dict(ownership="shared")
    else:
        kw = dict(ownership="personal", operator_ids=[operator_id(people, actor, operator)])
    try:
        create_customer(session, people[actor], {"name": "新建公司"}, stage=stage, clock=clock,
                        **kw)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return refusal(exc)
    return outcome(session, people, "新建公司", "create")


def via_import(Session, session, people, clock, tmp_path, template, actor, stage, operator):
    """As the import form does, then the job itself."""
    value = "shared" if operator == "shared" else str(operator_id(people, actor, operator))
    try:
        options = importer.check_options(session, people[actor], template_id=template.id,
                                         stage=stage, operator=value)
    except DomainError as exc:
        session.rollback()
        return refusal(exc)
    job = importer.create_job(session, people[actor], filename="规则.xlsx",
                              allow_duplicates=False, import_valid_rows=False, clock=clock,
                              **options)
    session.commit()
    path = tmp_path / "rule.xlsx"
    path.write_bytes(xlsx_bytes([HEADER, ["导入公司"]]))
    importer.run_job(Session, job.id, path, clock)
    job = session.get(ImportJob, job.id, populate_existing=True)
    assert (job.status, job.imported, job.error) == ("done", 1, None)
    return outcome(session, people, "导入公司", "import")


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("actor, stage, operator, expected", CASES,
                         ids=["%s-%s-%s" % (a, s or "blank", o) for a, s, o, _ in CASES])
def test_create_and_import_agree(Session, session, people, clock, tmp_path, template,
                                 actor, stage, operator, expected):
    created = via_create(session, people, clock, actor, stage, operator)
    imported = via_import(Session, session, people, clock, tmp_path, template, actor, stage,
                          operator)
    assert created == imported == expected
    refused = isinstance(expected, str)
    assert count(session, Customer) == (0 if refused else 2)  # a refusal writes nothing
    assert count(session, ImportJob) == (0 if refused else 1)


def test_import_form_offers_exactly_whom_the_rule_accepts(session, people):
    """importer.operator_choices (the import form's list) against the rule itself."""
    for key in ("tm", "rep", "mgr", "admin"):
        actor = people[key]
        offered = {u.id for u in importer.operator_choices(session, actor)}
        for user in session.scalars(select(User)):
            try:
                check_new_customer(session, actor, stage="reserve", ownership="personal",
                                   operator_ids=[user.id])
                accepted = True
            except (PermissionDenied, NotFound):
                accepted = False
            assert accepted == (user.id in offered), (key, user.username)
        assert check_new_customer(session, actor, stage="reserve", ownership="shared") == (
            "reserve", [])


def test_collaborative_when_creating(session, people, clock):
    """The import form gives one operator; creating may give several, under the same rule."""
    tm, tm2, rep, mgr = (people[k] for k in ("tm", "tm2", "rep", "mgr"))
    c = create_customer(session, tm, {"name": "协同公司"}, stage="target",
                        ownership="collaborative", operator_ids=[tm.id, tm2.id], clock=clock)
    assert (c.ownership, c.operator_ids) == ("collaborative", sorted([tm.id, tm2.id]))
    for actor, ids, key in ((tm, [tm2.id, rep.id], "permission_denied"),   # without themself
                            (mgr, [tm.id, people["gone"].id], "user.not_found"),
                            (mgr, [tm.id], "customer.operators_required")):  # two or more
        with pytest.raises(DomainError) as err:
            create_customer(session, actor, {"name": "不成"}, stage="target",
                            ownership="collaborative", operator_ids=ids, clock=clock)
        assert err.value.key == key
    with pytest.raises(DomainError) as err:  # shared has no operator
        check_new_customer(session, mgr, stage="target", ownership="shared",
                           operator_ids=[tm.id])
    assert err.value.key == "customer.bad_ownership"
    c = create_customer(session, mgr, {"name": "经理协同"}, stage=None,
                        ownership="collaborative", operator_ids=[tm.id, rep.id], clock=clock)
    assert (c.stage, c.operator_ids) == (None, sorted([tm.id, rep.id]))


def test_a_name_taken_meanwhile_is_a_duplicate_and_leaves_nothing(session, people, clock,
                                                                  monkeypatch):
    """The operators are set inside the savepoint that turns the unique index's refusal into
    DuplicateName (as if another user had added the name since the check)."""
    import models.crm.customers
    create_customer(session, people["tm"], {"name": "同名公司"}, stage="target", clock=clock)
    session.commit()
    monkeypatch.setattr(models.crm.customers, "_name_taken", lambda *a, **k: False)
    with pytest.raises(DomainError) as err:
        create_customer(session, people["mgr"], {"name": "同名公司"}, stage="target",
                        ownership="personal", operator_ids=[people["tm2"].id], clock=clock)
    assert err.value.key == "customer.duplicate_name"
    session.commit()  # the session is still usable; the refused customer left nothing behind
    assert count(session, Customer) == 1 and count(session, OperatorHistory) == 1
