"""dial_attempts.server: the Asterisk server a call was placed on (issue 17, several servers)

Revision ID: r1e000000001
Revises: q1k000000001
"""
from alembic import op
import sqlalchemy as sa

revision = "r1e000000001"
down_revision = "q1k000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dial_attempts") as batch:
        batch.add_column(sa.Column("server", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dial_attempts") as batch:
        batch.drop_column("server")
