"""recordings.attempt_id: the dialer attempt a recording belongs to (issue 10)

Revision ID: g1rec0000002
Revises: f1stg0000001
"""
from alembic import op
import sqlalchemy as sa

revision = "g1rec0000002"
down_revision = "f1stg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_recordings_attempt_id"), ["attempt_id"], unique=False)
        batch_op.create_foreign_key("fk_recordings_attempt_id_dial_attempts", "dial_attempts",
                                    ["attempt_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_constraint("fk_recordings_attempt_id_dial_attempts", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_recordings_attempt_id"))
        batch_op.drop_column("attempt_id")
