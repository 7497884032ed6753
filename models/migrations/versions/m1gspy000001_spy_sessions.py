"""spy_sessions: every listen / whisper / barge of a manager (issue 14)

Revision ID: m1gspy000001
Revises: l1mrg0000001
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime

revision = "m1gspy000001"
down_revision = "l1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spy_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("manager_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="SET NULL")),
        sa.Column("agent_channel", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("manager_extension", sa.String(32), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("end_reason", sa.String(32)),
        sa.Column("dialer_id", sa.String(64)),
        sa.Column("channel_id", sa.String(64), unique=True),
    )
    op.create_index("ix_spy_sessions_manager_id", "spy_sessions", ["manager_id"])
    op.create_index("ix_spy_sessions_agent_id", "spy_sessions", ["agent_id"])
    op.create_index("ix_spy_sessions_state", "spy_sessions", ["state"])
    op.create_index("ix_spy_sessions_requested_at", "spy_sessions", ["requested_at"])


def downgrade() -> None:
    op.drop_table("spy_sessions")
