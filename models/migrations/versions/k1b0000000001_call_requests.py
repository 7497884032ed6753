"""call_requests: click-to-call requests (issue 13)

Revision ID: k1b0000000001
Revises: j1mrg0000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "k1b0000000001"
down_revision = "j1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("source_call_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=48), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("dialer_id", sa.String(length=64), nullable=True),
        sa.Column("hangup_wanted", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("answered_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["source_call_id"], ["calls.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id"),
    )
    with op.batch_alter_table("call_requests", schema=None) as batch_op:
        batch_op.create_index("ix_call_requests_state", ["state"], unique=False)
        batch_op.create_index("ix_call_requests_user_created", ["user_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_requests_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_table("call_requests")
