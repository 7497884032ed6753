"""agent_states.version: a change counter the dialer's live view polls (issue 17, 500 agents)

Revision ID: q1k000000001
Revises: p4mrg0000001
"""
from alembic import op
import sqlalchemy as sa

revision = "q1k000000001"
down_revision = "p4mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_states") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_agent_states_version", "agent_states", ["version"])


def downgrade() -> None:
    op.drop_index("ix_agent_states_version", table_name="agent_states")
    with op.batch_alter_table("agent_states") as batch:
        batch.drop_column("version")
