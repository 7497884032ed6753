"""customers.name_key (names compared after NFKC, case and space folding), backfilled; the
sheet an import job reads

Revision ID: g1imp0000001
Revises: f1stg0000001
"""
from alembic import op
import sqlalchemy as sa

from models.names import name_key

revision = "g1imp0000001"
down_revision = "f1stg0000001"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("name_key", sa.String(length=400), nullable=True))
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("sheet", sa.String(length=100), nullable=True))
    # NFKC is not SQL: the keys are computed here, a batch of ids at a time
    conn = op.get_bind()
    customers = sa.table("customers", sa.column("id", sa.Integer), sa.column("name", sa.String),
                         sa.column("name_key", sa.String))
    last = 0
    while True:
        rows = conn.execute(sa.select(customers.c.id, customers.c.name)
                            .where(customers.c.id > last).order_by(customers.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        conn.execute(sa.update(customers).where(customers.c.id == sa.bindparam("cid"))
                     .values(name_key=sa.bindparam("key")),
                     [{"cid": r.id, "key": name_key(r.name)} for r in rows])
        last = rows[-1].id
    op.create_index("ix_customers_name_key", "customers", ["name_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_customers_name_key", table_name="customers")
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("sheet")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("name_key")
