"""stage history: one row per change of a customer's stage, backfilled from the current stage

Revision ID: f1stg0000001
Revises: e1imp0000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "f1stg0000001"
down_revision = "e1imp0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=True),
        sa.Column("to_stage", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stage_history", schema=None) as batch_op:
        batch_op.create_index("ix_stage_history_at", ["at"], unique=False)
        batch_op.create_index("ix_stage_history_customer_at", ["customer_id", "at"], unique=False)
    # What is known of the past: each customer's current stage, since its last change. The
    # reports count a backfill row made after the customer's creation as a move, as they
    # did before this table existed.
    op.execute(
        "INSERT INTO stage_history (customer_id, from_stage, to_stage, actor_id, kind, at) "
        "SELECT id, NULL, stage, NULL, 'backfill', COALESCE(stage_changed_at, created_at) "
        "FROM customers WHERE stage IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("stage_history", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_history_customer_at")
        batch_op.drop_index("ix_stage_history_at")
    op.drop_table("stage_history")
