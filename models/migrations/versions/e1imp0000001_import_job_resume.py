"""import jobs: worker token, heartbeat and resume row (an interrupted import is resumable)

Revision ID: e1imp0000001
Revises: a1ivr0000001, b1rec0000001, c1fu00000001, d1dial000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "e1imp0000001"
down_revision = ("a1ivr0000001", "b1rec0000001", "c1fu00000001", "d1dial000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("worker", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", models.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("resume_row", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("resume_row")
        batch.drop_column("heartbeat_at")
        batch.drop_column("worker")
