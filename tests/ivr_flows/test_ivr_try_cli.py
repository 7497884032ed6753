"""`dialfunnel ivr try`: the real engine walked from a terminal with scripted input."""
from __future__ import annotations

import io

from sqlalchemy import select

from ivr_flows.try_cli import main
from models.schema import ContactRecord
from models.schema.ivr import IVRCall


def run(argv, keys, **kwargs):
    out = io.StringIO()
    code = main(argv, stdin=io.StringIO("".join(k + "\n" for k in keys)), stdout=out, **kwargs)
    return code, out.getvalue()


def test_walk_the_main_menu_to_an_agent(Session, clock):
    code, out = run(["main", "--caller", "13800138000"], ["0"], sessionmaker=Session, clock=clock)
    assert code == 0
    assert "♪ [welcome] 您好，欢迎致电达盟科技。" in out
    assert "♪ [main-menu] 按订单号查询订单状态，请按1" in out
    assert "SET DIALFUNNEL_TRANSFER=queue:sales" in out
    assert "== outcome: TRANSFER" in out
    assert "path:    welcome > office_hours > main_menu > to_agent" in out
    with Session() as s:                                  # a dry run leaves nothing behind
        assert s.scalar(select(IVRCall.id)) is None


def test_type_ahead_retries_and_order_lookup(Session, session, users, clock, make_customer):
    from models.crm.sales import create_order
    customer = make_customer(phone="13800138000", stage="closed", owner="tm")
    create_order(session, users["tm"], customer.id,
                 [dict(product_name="除湿机", quantity=1, unit_price=100)], clock=clock)
    session.commit()
    # a wrong key, then "1" and the order number typed ahead in one line, then 0 for an agent
    code, out = run(["main", "--caller", "13800138000"], ["7", "1 202611260001#", "0"],
                    sessionmaker=Session, clock=clock)
    assert code == 0
    assert "♪ [invalid-key]" in out
    assert "🔢 2 0 2 6 1 1 2 6 0 0 0 1" in out
    assert "♪ [order-shipping-unshipped] 尚未发货，" in out
    assert "keys:    main_menu=7 main_menu=1 order_by_number=202611260001 after_order=0" in out


def test_callback_with_commit_books_a_reminder(Session, users, clock, make_customer):
    customer = make_customer(phone="13800138000", owner="tm")
    code, out = run(["main", "--caller", "13800138000", "--commit"], ["3"],
                    sessionmaker=Session, clock=clock)
    assert code == 0 and "== outcome: CALLBACK" in out
    assert "callback: +8613800138000" in out and "李红光 (tm)" in out
    assert "（系统挂机 hang up）" in out
    with Session() as s:
        record = s.scalars(select(ContactRecord)).one()
        assert (record.customer_id, record.user_id, record.remind) == (customer.id, users["tm"].id, True)
        assert s.scalars(select(IVRCall)).one().outcome == "CALLBACK"


def test_after_hours_with_at_and_hanging_up(Session):
    code, out = run(["main", "--at", "2026-11-28 20:00"], ["q"], sessionmaker=Session)
    assert code == 0
    assert "2026-11-28 Sat 20:00" in out and "♪ [closed] 您好，现在是非工作时间。" in out
    assert "（来电者挂机 caller hung up）" in out and "== outcome: HANGUP" in out
    # end of input is a hangup as well
    code, out = run(["after_hours", "--at", "2026-11-28T20:00+08:00"], [], sessionmaker=Session)
    assert "== outcome: HANGUP" in out and "path:    closed_message > after_hours_menu" in out


def test_check_unknown_flow_and_bad_flows(tmp_path, Session, clock):
    code, out = run(["--check"], [])
    assert code == 0 and out.strip() == ("ok: after_hours, birthday, greeting, main, notice, "
                                     "payment_reminder, press1_talk, survey (0 warning(s))")
    code, out = run(["nosuch"], [], sessionmaker=Session, clock=clock)
    assert code == 2 and "no flow 'nosuch'" in out
    (tmp_path / "prompts.yaml").write_text("prompts:\n  hi: 你好\n", encoding="utf-8")
    (tmp_path / "x.yaml").write_text("start: a\nsteps:\n  a:\n    prompt: hi\n    next: b\n",
                                     encoding="utf-8")
    code, out = run(["x", "--flows", str(tmp_path)], [])
    assert code == 1 and "x.yaml:5: step 'a': target step 'b' does not exist" in out
    code, out = run(["main", "--at", "tomorrow"], [], sessionmaker=Session)
    assert code == 2 and "bad --at" in out
