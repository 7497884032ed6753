"""pause_codes (the admin's pause reasons) and agent_queues (inbound queue logins), issue 14
(rows: models.setup)

Revision ID: m1hpause00001
Revises: l1mrg0000001
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime

revision = "m1hpause00001"
down_revision = "l1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pause_codes",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label_zh", sa.String(length=40), nullable=False),
        sa.Column("label_en", sa.String(length=60), nullable=False),
        sa.Column("productive", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "agent_queues",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "queue"),
    )


def downgrade() -> None:
    op.drop_table("agent_queues")
    op.drop_table("pause_codes")
