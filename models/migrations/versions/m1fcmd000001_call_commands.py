"""call_commands: the agent's call controls, queued by the web, run by the dialer process

Revision ID: m1fcmd000001
Revises: l1mrg0000001
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime

revision = "m1fcmd000001"
down_revision = "l1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("runner", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_call_commands_user_id", "call_commands", ["user_id"])
    op.create_index("ix_call_commands_call_id", "call_commands", ["call_id"])
    op.create_index("ix_call_commands_state", "call_commands", ["state", "id"])


def downgrade() -> None:
    op.drop_table("call_commands")
