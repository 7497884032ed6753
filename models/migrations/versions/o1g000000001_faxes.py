"""faxes, fax_documents: the fax inbox and outbox, fax-on-demand sheets (T8, issue 16)

Revision ID: o1g000000001
Revises: n1mrg0000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "o1g000000001"
down_revision = "n1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("station_id", sa.String(length=40), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("rate", sa.Integer(), nullable=True),
        sa.Column("fax_status", sa.String(length=16), nullable=True),
        sa.Column("fax_error", sa.String(length=200), nullable=True),
        sa.Column("fax_statusstr", sa.String(length=200), nullable=True),
        sa.Column("tiff_key", sa.String(length=200), nullable=True),
        sa.Column("pdf_key", sa.String(length=200), nullable=True),
        sa.Column("uniqueid", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("broadcast", sa.String(length=40), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("contact_record_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("read_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["source_id"], ["faxes.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["contact_record_id"], ["contact_records.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uniqueid"),
    )
    op.create_index("ix_faxes_customer_id", "faxes", ["customer_id"])
    op.create_index("ix_faxes_number", "faxes", ["number"])
    op.create_index("ix_faxes_user_id", "faxes", ["user_id"])
    op.create_index("ix_faxes_broadcast", "faxes", ["broadcast"])
    op.create_index("ix_faxes_direction_status", "faxes", ["direction", "status", "next_attempt_at"])
    op.create_table(
        "fax_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("fax_documents")
    for index in ("ix_faxes_direction_status", "ix_faxes_broadcast", "ix_faxes_user_id",
                  "ix_faxes_number", "ix_faxes_customer_id"):
        op.drop_index(index, table_name="faxes")
    op.drop_table("faxes")
