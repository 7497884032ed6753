"""campaigns.ivr_flow, campaigns.max_lines: voice campaigns without agents (issue 15, T9)

Revision ID: o1f000000001
Revises: n1mrg0000001
"""
from alembic import op
import sqlalchemy as sa

revision = "o1f000000001"
down_revision = "n1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("ivr_flow", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("max_lines", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("max_lines")
        batch.drop_column("ivr_flow")
