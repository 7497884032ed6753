"""early_media_references: the carriers' announcements taken from real calls (issue 17)

Revision ID: o1i000000001
Revises: n2ff00000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "o1i000000001"
down_revision = "n2ff00000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "early_media_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=80), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=True),
        sa.Column("start_ms", sa.Integer(), nullable=False),
        sa.Column("end_ms", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["recording_id"], ["recordings.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_early_media_references_recording_id", "early_media_references",
                    ["recording_id"])


def downgrade() -> None:
    op.drop_index("ix_early_media_references_recording_id", table_name="early_media_references")
    op.drop_table("early_media_references")
