"""What an IVR call costs the database: the order status by caller ID (main.yaml, key 2) over
real TCP with the simulated Asterisk. Each statement is a round trip, and on a busy FastAGI
server each round trip a wait behind every other call (bench/agi_load.py)."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from agi.fastagi.dispatch import Registry
from agi.fastagi.server import FastAGIServer
from agi.handlers.ivr import make_ivr_handler
from agi.pbxsim import agi_driver
from agi.pbxsim.agi_driver import Scenario, run_call
from models.crm.sales import create_order
from models.schema.ivr import IVRCall

ITEM = [dict(product_name="工业除湿机", quantity=2, unit_price=3800)]


def test_an_order_status_call_takes_two_statements(Session, session, engine, users, clock,
                                                      make_customer):
    customer = make_customer("苏州凯达", mobile="13300000000", stage="closed", owner="tm")
    create_order(session, users["tm"], customer.id, ITEM, clock=clock)
    session.commit()
    registry = Registry()
    registry.register("ivr", make_ivr_handler(clock=clock))
    server = FastAGIServer(registry, Session, port=0, hangup_grace=0.3, env_timeout=2.0,
                           close_wait=0.5).start()
    statements = []

    def seen(conn, cursor, statement, *args):
        verb = statement.split()[0]
        if verb in ("SELECT", "WITH"):
            statements.append(" ".join([verb] + sorted(
                {w for w in statement.replace(",", " ").split()
                 if w in ("customers", "contacts", "orders")})))
        elif verb != "BEGIN":  # SQLite's deferred BEGIN of a read (in-process, no round trip)
            statements.append(verb)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        result = run_call("127.0.0.1", server.port, "ivr?flow=main", callerid="13300000000",
                          scenario=Scenario(keys=["2"]))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        server.shutdown(grace=5)
    assert result.error == "" and result.status in ("COMPLETED", "TRANSFER")
    assert "dialfunnel/order-status-is" in " ".join(result.commands)
    # the customers by number with their latest orders, the call-log row: no operator links
    lookup = ("SELECT" if engine.dialect.name == "postgresql"  # ivr_caller_orders(): the same
              else "WITH contacts customers orders")           # statement inside PostgreSQL
    assert statements == [lookup, "INSERT"], statements
    assert session.scalar(select(IVRCall.customer_id)) == customer.id


@pytest.mark.parametrize("key", ["2", "3"])  # order status by caller ID (a read), a callback (a write)
def test_no_database_connection_is_held_while_asterisk_answers(
        Session, session, engine, users, clock, make_customer, monkeypatch, key):
    """Each AGI command waits for Asterisk (a prompt: seconds): the call must hold no pooled
    connection, hence no transaction, meanwhile."""
    customer = make_customer("苏州凯达", mobile="13300000000", stage="closed", owner="tm")
    create_order(session, users["tm"], customer.id, ITEM, clock=clock)
    session.commit()
    session.close()
    held = []

    class Watching(agi_driver.SimChannel):
        def handle(self, index, line):
            held.append((line, engine.pool.checkedout()))
            return super().handle(index, line)

    monkeypatch.setattr(agi_driver, "SimChannel", Watching)
    registry = Registry()
    registry.register("ivr", make_ivr_handler(clock=clock))
    server = FastAGIServer(registry, Session, port=0, hangup_grace=0.3, env_timeout=2.0,
                           close_wait=0.5).start()
    try:
        result = run_call("127.0.0.1", server.port, "ivr?flow=main", callerid="13300000000",
                          scenario=Scenario(keys=[key]))
    finally:
        server.shutdown(grace=5)
    assert result.error == "" and result.status in ("COMPLETED", "TRANSFER", "CALLBACK")
    assert len(held) > 5 and [line for line, n in held if n] == []
    assert session.scalar(select(IVRCall.customer_id)) == customer.id
