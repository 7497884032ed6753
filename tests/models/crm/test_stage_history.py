"""Stage history (C1, C10): every change of a customer's stage writes one stage_history row,
through models.crm.stages only, and the reports count conversions from it so that past periods
never change."""
from __future__ import annotations

import ast
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import insert, select

from models.crm.batch import run_batch
from models.crm.customers import create_customer, delete_customer
from models.crm.ownership import screen
from models.crm.reports import report, resolve_scope
from models.crm.sales import create_opportunity, create_order, set_opportunity_state
from models.crm.stages import demote, promote, set_stage
from models.db import make_engine
from models.migrate import upgrade
from models.schema import Customer, StageHistory

from tests.import_helpers import company_rows, xlsx_bytes
from tests.models.imports.test_importer import run_import, template  # noqa: F401  (fixtures used below)
from tests.repo_paths import ROOT

SH = ZoneInfo("Asia/Shanghai")
D = dt.date


def sh(month, day, hour=9):
    return dt.datetime(2026, month, day, hour, tzinfo=SH)


def history(session, customer_id):
    session.expire_all()
    return [(h.from_stage, h.to_stage, h.actor_id, h.kind) for h in session.scalars(
        select(StageHistory).where(StageHistory.customer_id == customer_id)
        .order_by(StageHistory.at, StageHistory.id))]


def moves(rows):
    """The non-zero `to_<stage>` metrics of report rows."""
    return [{k: v for k, v in r.values.items() if k.startswith("to_") and v} for r in rows]


def test_every_way_of_changing_a_stage_logs_one_row(session, users, clock, make_customer):
    tm, mgr = users["tm"], users["mgr"]
    a = create_customer(session, tm, {"name": "甲"}, stage="target", clock=clock)
    none = create_customer(session, tm, {"name": "无阶段"}, stage="archive", clock=clock)
    session.commit()
    assert history(session, a.id) == [(None, "target", tm.id, "create")]
    assert history(session, none.id) == []        # no stage, nothing to log
    at = session.scalar(select(StageHistory.at).where(StageHistory.customer_id == a.id))
    assert at == clock.now() == a.stage_changed_at

    promote(session, tm, a.id, "potential", clock=clock)
    create_opportunity(session, tm, a.id, "CRM", amount=10, clock=clock)     # C4: lifts it
    create_opportunity(session, tm, a.id, "再一个", amount=10, clock=clock)  # already there
    create_order(session, mgr, a.id, [dict(product_name="x", quantity=1, unit_price=1)],
                 clock=clock)
    demote(session, mgr, a.id, "target", clock=clock)
    demote(session, mgr, a.id, None, clock=clock)
    assert history(session, a.id)[1:] == [
        ("target", "potential", tm.id, "promote"),
        ("potential", "opportunity", tm.id, "rule:opportunity"),
        ("opportunity", "closed", mgr.id, "rule:closed"),
        ("closed", "target", mgr.id, "demote"),
        ("target", None, mgr.id, "demote")]

    b = make_customer("乙", stage="potential", owner="tm")
    opp = create_opportunity(session, tm, b.id, "暂停的", amount=1, state="paused", clock=clock)
    assert len(history(session, b.id)) == 1
    set_opportunity_state(session, tm, opp.id, "selling", clock=clock)
    assert history(session, b.id)[-1] == ("potential", "opportunity", tm.id, "rule:opportunity")

    shared = make_customer("丙", stage="reserve", owner=None)
    mine = make_customer("丁", stage="reserve", owner="tm")
    screen(session, tm, shared.id, "target", clock=clock)
    screen(session, tm, mine.id, "potential", clock=clock)
    assert history(session, shared.id)[-1] == ("reserve", "target", tm.id, "screen")
    assert history(session, mine.id)[-1] == ("reserve", "potential", tm.id, "screen")

    c, d = make_customer("戊", stage="target"), make_customer("己", stage="closed")
    results = run_batch(session, tm, "stage", [c.id, d.id], to_stage="opportunity", clock=clock)
    assert results == {c.id: None, d.id: None}
    assert history(session, c.id)[-1] == ("target", "opportunity", tm.id, "promote")
    assert history(session, d.id)[-1] == ("closed", "opportunity", tm.id, "demote")
    # a refused change logs nothing
    run_batch(session, tm, "stage", [c.id], to_stage="opportunity", clock=clock)
    assert len(history(session, c.id)) == 2


def test_a_refused_creation_logs_nothing(session, users, clock):
    create_customer(session, users["tm"], {"name": "重名"}, stage="target", clock=clock)
    session.commit()
    with pytest.raises(Exception):
        create_customer(session, users["tm"], {"name": "重名"}, stage="potential", clock=clock)
    session.rollback()
    assert session.scalars(select(StageHistory.to_stage)).all() == ["target"]


def test_deleting_a_customer_deletes_its_history(session, users, clock, make_customer):
    a = make_customer("甲", stage="target", owner="tm")
    promote(session, users["tm"], a.id, "potential", clock=clock)
    session.commit()
    delete_customer(session, users["admin"], a.id)
    session.commit()
    assert history(session, a.id) == []


def test_an_import_logs_each_new_customer_in_bulk(session, users, run_import):  # noqa: F811
    job = run_import(xlsx_bytes(company_rows(3)), stage="potential")
    assert job.status == "done"
    ids = session.scalars(select(Customer.id).order_by(Customer.id)).all()
    assert len(ids) == 3
    for cid in ids:
        assert history(session, cid) == [(None, "potential", users["tm"].id, "import")]
    archive = run_import(xlsx_bytes(company_rows(2, start=10)), stage="archive")
    assert archive.status == "done"
    assert session.query(StageHistory).count() == 3   # the archive ones have no stage


def test_past_reports_never_change(session, users, clock, make_customer):
    """Monday target→potential, Wednesday potential→opportunity, Friday a demotion:
    Monday's report still shows Monday's move."""
    tm, mgr = users["tm"], users["mgr"]
    clock.set(sh(11, 2))
    a = make_customer("甲", stage="target", owner="tm")
    me = resolve_scope(session, tm, "me")

    def monday_to_friday():
        return moves(report(session, me, "day", D(2026, 11, 2), D(2026, 11, 6)))

    promote(session, tm, a.id, "potential", clock=clock)
    session.commit()
    monday = monday_to_friday()
    assert monday[0] == {"to_potential": 1}
    clock.set(sh(11, 4))
    promote(session, tm, a.id, "opportunity", clock=clock)
    clock.set(sh(11, 6))
    demote(session, tm, a.id, "target", clock=clock)
    session.commit()
    after = monday_to_friday()
    assert after[0] == monday[0] == {"to_potential": 1}
    assert after[1:] == [{}, {"to_opportunity": 1}, {}, {}, {"to_potential": 1,
                                                              "to_opportunity": 1}]
    # the manager (not an operator) promotes it again: the move is the manager's, not tm's
    clock.set(sh(11, 9))
    promote(session, mgr, a.id, "closed", clock=clock)
    session.commit()
    assert moves(report(session, me, "week", D(2026, 11, 9), D(2026, 11, 9)))[0] == {}
    theirs = report(session, resolve_scope(session, mgr, "me"), "week", D(2026, 11, 9),
                    D(2026, 11, 9))
    assert moves(theirs)[0] == {"to_closed": 1}


def test_a_move_without_an_actor_counts_for_the_operators(session, users, clock,
                                                          make_customer):
    tm, tm2 = users["tm"], users["tm2"]
    a = make_customer("协同", stage="target", owner=["tm", "tm2"])
    clock.set(sh(11, 10))
    set_stage(session, a, "potential", actor=None, kind="rule:test", now=clock.now())
    session.commit()
    for user in (tm, tm2):
        rows = report(session, resolve_scope(session, user, "me"), "day", D(2026, 11, 10),
                      D(2026, 11, 10))
        assert moves(rows)[0] == {"to_potential": 1}
    team = report(session, resolve_scope(session, users["mgr"], "team"), "day",
                  D(2026, 11, 10), D(2026, 11, 10))
    assert moves([r for r in team if r.bucket and r.user_id is None]) == [{"to_potential": 1}]


def test_the_migration_backfills_the_current_stages(tmp_path):
    """One 'backfill' row per customer with a stage, at its last stage change (or creation);
    the reports count it as a move only when that change came after the creation."""
    engine = make_engine("sqlite:///" + str(tmp_path / "old.db"))
    upgrade(engine, "e1imp0000001")
    created, changed = dt.datetime(2026, 3, 1, 2, tzinfo=dt.timezone.utc), \
        dt.datetime(2026, 3, 5, 2, tzinfo=dt.timezone.utc)
    base = dict(ownership="shared", contact_mark="not_contacted", tracking_mark="tracking",
                time_zone="Asia/Shanghai", do_not_call=False, number_status="unknown",
                created_at=created, updated_at=changed)
    # the table as it was then (the model has columns added since)
    old_customers = sa.table("customers", *(sa.column(c) for c in (
        "name", "stage", "stage_changed_at", *base)))
    with engine.begin() as conn:
        conn.execute(insert(old_customers), [
            dict(base, name="moved", stage="opportunity", stage_changed_at=changed),
            dict(base, name="never moved", stage="target", stage_changed_at=created),
            dict(base, name="no date", stage="reserve", stage_changed_at=None),
            dict(base, name="archive", stage=None, stage_changed_at=changed)])
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Customer.name, StageHistory.from_stage, StageHistory.to_stage,
                   StageHistory.actor_id, StageHistory.kind, StageHistory.at)
            .join(Customer, Customer.id == StageHistory.customer_id)
            .order_by(Customer.name)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("moved", None, "opportunity", None, "backfill", changed),
        ("never moved", None, "target", None, "backfill", created),
        ("no date", None, "reserve", None, "backfill", created)]


def test_backfilled_moves_count_as_before(session, users, clock, make_customer):
    """What the reports showed before the table existed stays: a backfilled stage reached
    after creation counts for the operators; one set at creation does not."""
    clock.set(sh(3, 1))
    moved, fresh = make_customer("旧", stage="target"), make_customer("新", stage="target")
    session.execute(StageHistory.__table__.delete())
    session.execute(insert(StageHistory), [
        dict(customer_id=moved.id, from_stage=None, to_stage="potential", actor_id=None,
             kind="backfill", at=sh(3, 5)),
        dict(customer_id=fresh.id, from_stage=None, to_stage="target", actor_id=None,
             kind="backfill", at=sh(3, 1))])
    session.commit()
    rows = report(session, resolve_scope(session, users["tm"], "me"), "month", D(2026, 3, 1),
                  D(2026, 3, 31))
    assert moves(rows) == [{"to_potential": 1}, {"to_potential": 1}]


# -- no other writer ----------------------------------------------------------------------

WRITER = "models/crm/stages.py"
# Bulk inserts of new customers (their "stage" lies in row dicts), each logging its rows
# through models.crm.stages in the same transaction.
BULK_WRITERS = {"models/imports/importer.py": "log_new_stages", "dialfunnel/fakedata.py": None,
                "dialfunnel/demo.py": "log_stage_rows"}
STAGE_ATTRS = {"stage", "stage_changed_at"}


def _targets(node):
    if isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            yield from _targets(elt)
    else:
        yield node


def _stage_writes(tree) -> list[str]:
    """Assignments to `<x>.stage` / `.stage_changed_at` (CallScript.stage aside: `script.`),
    Customer(stage=...) and .values(stage=...), and "stage_changed_at" keys in row dicts."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in (t for top in targets for t in _targets(top)):
                if (isinstance(target, ast.Attribute) and target.attr in STAGE_ATTRS
                        and not (isinstance(target.value, ast.Name)
                                 and target.value.id == "script")):
                    found.append(f"{node.lineno}: .{target.attr} =")
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("Customer", "values") and any(k.arg in STAGE_ATTRS for k in node.keywords):
                found.append(f"{node.lineno}: {name}(stage...)")
        elif isinstance(node, ast.Dict):
            if any(isinstance(k, ast.Constant) and k.value == "stage_changed_at"
                   for k in node.keys):
                found.append(f"{node.lineno}: {{'stage_changed_at': ...}}")
    return found


def test_the_stage_has_one_writer():
    writes = {}
    for folder in ("models", "admin", "agi", "dialfunnel"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("models/migrations/"):
                continue
            found = _stage_writes(ast.parse(path.read_text(), rel))
            if found:
                writes[rel] = found
    assert WRITER in writes                               # the check does find writes
    assert set(writes) - {WRITER} <= set(BULK_WRITERS), writes
    for rel, logger in BULK_WRITERS.items():
        if logger:
            assert f"{logger}(" in (ROOT / rel).read_text(), rel


def test_the_detail_page_shows_the_stage_history(session, users, clock, make_customer, as_user):
    a = make_customer("甲", stage="target", owner="tm")
    promote(session, users["mgr"], a.id, "potential", clock=clock)
    create_opportunity(session, users["tm"], a.id, "CRM", amount=1, clock=clock)
    session.commit()
    page = as_user("tm").get(f"/customers/{a.id}").get_data(as_text=True)
    section = page.split('id="stage-history"')[1].split("</section>")[0]
    assert "阶段转变记录" in section
    assert "<th>原阶段</th><th>新阶段</th>" in section and "原操作人" not in section
    rows = [row for row in section.split("<tr>")[2:]]
    assert len(rows) == 3                                  # newest first
    assert "自动规则" in rows[0] and "潜在客户" in rows[0] and "商机客户" in rows[0]
    assert users["mgr"].full_name in rows[1] and "上转" in rows[1]
    assert "目标客户" in rows[2] and users["admin"].full_name in rows[2]
