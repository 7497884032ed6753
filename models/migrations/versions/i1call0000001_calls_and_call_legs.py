"""calls and call_legs: the call log (issue 13)

Revision ID: i1call0000001
Revises: h1mrg0000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "i1call0000001"
down_revision = "h1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("from_number", sa.String(length=40), nullable=True),
        sa.Column("to_number", sa.String(length=40), nullable=True),
        sa.Column("started_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("ringing_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("answered_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("queued_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("ring_seconds", sa.Float(), nullable=False),
        sa.Column("queue_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("hold_seconds", sa.Float(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("dial_status", sa.String(length=16), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["attempt_id"], ["dial_attempts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("linkedid"),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index("ix_calls_state", ["state"], unique=False)
        batch_op.create_index("ix_calls_started_at", ["started_at"], unique=False)
        batch_op.create_index("ix_calls_user_started", ["user_id", "started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_attempt_id"), ["attempt_id"], unique=False)
    op.create_table(
        "call_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("started_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("answered_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("cause", sa.Integer(), nullable=True),
        sa.Column("hold_since", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uniqueid"),
    )
    with op.batch_alter_table("call_legs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_legs_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_table("call_legs")
    op.drop_table("calls")
