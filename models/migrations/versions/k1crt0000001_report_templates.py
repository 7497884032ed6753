"""report_templates: call reports a manager saves (issue 13)

Revision ID: k1crt0000001
Revises: j1mrg0000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "k1crt0000001"
down_revision = "j1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_templates_owner_id", "report_templates", ["owner_id"])


def downgrade() -> None:
    op.drop_index("ix_report_templates_owner_id", table_name="report_templates")
    op.drop_table("report_templates")
