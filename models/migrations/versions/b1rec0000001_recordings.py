"""recordings (T5)

Revision ID: b1rec0000001
Revises: 3015d2e2319d
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "b1rec0000001"
down_revision = "3015d2e2319d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=True),
        sa.Column("file_key", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("caller_number", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_record_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("started_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("deleted_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["contact_record_id"], ["contact_records.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uniqueid"),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recordings_linkedid"), ["linkedid"], unique=False)
        batch_op.create_index(batch_op.f("ix_recordings_contact_record_id"), ["contact_record_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_recordings_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index("ix_recordings_customer_created", ["customer_id", "created_at"],
                              unique=False)
        batch_op.create_index("ix_recordings_user_created", ["user_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index("ix_recordings_user_created")
        batch_op.drop_index("ix_recordings_customer_created")
        batch_op.drop_index(batch_op.f("ix_recordings_expires_at"))
        batch_op.drop_index(batch_op.f("ix_recordings_contact_record_id"))
        batch_op.drop_index(batch_op.f("ix_recordings_linkedid"))
    op.drop_table("recordings")
