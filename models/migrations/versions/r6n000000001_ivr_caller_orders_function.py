"""ivr_caller_orders(e164, limit): the IVR's order status by caller ID as a function of the
database (PostgreSQL only; issue 17, FastAGI through PgBouncer)

Behind PgBouncer in transaction pooling psycopg prepares no statements, so PostgreSQL planned
the lookup's statement (five indexed lookups, a CTE, the latest orders) anew for every call:
0.57-0.77 ms of a backend's CPU, against 0.17 ms prepared. A PL/pgSQL function keeps its
plans in the backend, whichever client's transaction runs on it: 0.11-0.17 ms. The body is
models.telephony.ivr's statement (_CALLER_ORDERS) compiled for PostgreSQL; a test compares
them, so a change to the statement needs a migration that replaces the function.

Revision ID: r6n000000001
Revises: r3mrg0000001
"""
from alembic import op

revision = "r6n000000001"
down_revision = "r3mrg0000001"
branch_labels = None
depends_on = None

BODY = """\
    WITH callers AS
    (SELECT customers.id AS id, customers.ownership AS ownership, customers.last_contacted_at AS last_contacted_at
    FROM customers
    WHERE customers.id IN (SELECT customers.id
    FROM customers
    WHERE customers.phone_e164 = p_e164::VARCHAR UNION SELECT customers.id
    FROM customers
    WHERE customers.mobile_e164 = p_e164::VARCHAR UNION SELECT customers.id
    FROM customers
    WHERE customers.fax_e164 = p_e164::VARCHAR UNION SELECT contacts.customer_id
    FROM contacts
    WHERE contacts.phone_e164 = p_e164::VARCHAR UNION SELECT contacts.customer_id
    FROM contacts
    WHERE contacts.mobile_e164 = p_e164::VARCHAR))
     SELECT callers.id, callers.ownership, callers.last_contacted_at, latest.number, latest.state, latest.payment_status, latest.shipping_status, latest.ordered_on, latest.order_id
    FROM callers LEFT OUTER JOIN (SELECT orders.number AS number, orders.customer_id AS customer_id, orders.state AS state, orders.payment_status AS payment_status, orders.shipping_status AS shipping_status, orders.ordered_on AS ordered_on, orders.id AS order_id
    FROM orders
    WHERE orders.customer_id IN (SELECT callers.id
    FROM callers) ORDER BY orders.state = 'done'::VARCHAR ASC, orders.ordered_on DESC, orders.id DESC
     LIMIT p_limit) AS latest ON latest.customer_id = callers.id"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION ivr_caller_orders(p_e164 varchar, p_limit integer)\n"
        "RETURNS TABLE (id integer, ownership varchar, last_contacted_at timestamp,\n"
        "               number varchar, state varchar, payment_status varchar,\n"
        "               shipping_status varchar, ordered_on date, order_id integer)\n"
        "LANGUAGE plpgsql STABLE AS $fn$\n"
        "#variable_conflict use_column\n"
        "BEGIN\n"
        "RETURN QUERY\n" + BODY + ";\n"
        "END\n"
        "$fn$")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ivr_caller_orders(varchar, integer)")
