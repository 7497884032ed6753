"""order follow-up reminders

Revision ID: c1fu00000001
Revises: 3015d2e2319d
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "c1fu00000001"
down_revision = "3015d2e2319d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_follow_ups") as batch:
        batch.add_column(sa.Column("reminded_at", models.db.UTCDateTime(), nullable=True))
        batch.create_index("ix_order_follow_ups_remind_at", ["remind_at"])


def downgrade() -> None:
    with op.batch_alter_table("order_follow_ups") as batch:
        batch.drop_index("ix_order_follow_ups_remind_at")
        batch.drop_column("reminded_at")
