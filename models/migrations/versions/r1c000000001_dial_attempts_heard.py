"""dial_attempts.heard: the carrier's announcement that ended the attempt (issue 17)

Revision ID: r1c000000001
Revises: q1k000000001
"""
from alembic import op
import sqlalchemy as sa

revision = "r1c000000001"
down_revision = "q1k000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dial_attempts") as batch:
        batch.add_column(sa.Column("heard", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dial_attempts") as batch:
        batch.drop_column("heard")
