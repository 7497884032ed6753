"""ivr_calls: the IVR call log (T2)

Revision ID: a1ivr0000001
Revises: 3015d2e2319d
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "a1ivr0000001"
down_revision = "3015d2e2319d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivr_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("caller_id", sa.String(length=40), nullable=True),
        sa.Column("caller_e164", sa.String(length=20), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("digits", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("exit_to", sa.String(length=120), nullable=True),
        sa.Column("callback_number", sa.String(length=20), nullable=True),
        sa.Column("callback_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("callback_user_id", sa.Integer(), nullable=True),
        sa.Column("callback_record_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("started_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["callback_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["callback_record_id"], ["contact_records.id"],
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ivr_calls", schema=None) as batch_op:
        batch_op.create_index("ix_ivr_calls_callback_at", ["callback_at"], unique=False)
        batch_op.create_index("ix_ivr_calls_outcome_started", ["outcome", "started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ivr_calls_caller_e164"), ["caller_e164"], unique=False)
        batch_op.create_index(batch_op.f("ix_ivr_calls_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ivr_calls_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ivr_calls_uniqueid"), ["uniqueid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ivr_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ivr_calls_uniqueid"))
        batch_op.drop_index(batch_op.f("ix_ivr_calls_started_at"))
        batch_op.drop_index(batch_op.f("ix_ivr_calls_customer_id"))
        batch_op.drop_index(batch_op.f("ix_ivr_calls_caller_e164"))
        batch_op.drop_index("ix_ivr_calls_outcome_started")
        batch_op.drop_index("ix_ivr_calls_callback_at")
    op.drop_table("ivr_calls")
