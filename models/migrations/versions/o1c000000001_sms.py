"""SMS (issue 15): messages, their gateway parts, templates, opt-outs, bulk jobs

Revision ID: o1c000000001
Revises: n1mrg0000001
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime

revision = "o1c000000001"
down_revision = "n1mrg0000001"
branch_labels = None
depends_on = None


def _user(name="created_by_id"):
    return sa.Column(name, sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"))


def upgrade() -> None:
    op.create_table(
        "sms_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("gateway_code", sa.String(64)),
        sa.Column("active", sa.Boolean(), nullable=False),
        _user(),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "sms_bulk_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("template_id", sa.Integer(),
                  sa.ForeignKey("sms_templates.id", ondelete="SET NULL")),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("scheduled_at", UTCDateTime(), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("hours_start", sa.String(5), nullable=False),
        sa.Column("hours_end", sa.String(5), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("released_at", UTCDateTime()),
        _user(),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
    )
    op.create_index("ix_sms_bulk_jobs_status", "sms_bulk_jobs", ["status"])
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="SET NULL")),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="SET NULL")),
        _user("user_id"),
        sa.Column("to_number", sa.String(20), nullable=False),
        sa.Column("from_number", sa.String(20)),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("gateway", sa.String(32)),
        sa.Column("template_id", sa.Integer(),
                  sa.ForeignKey("sms_templates.id", ondelete="SET NULL")),
        sa.Column("bulk_job_id", sa.Integer(),
                  sa.ForeignKey("sms_bulk_jobs.id", ondelete="CASCADE")),
        sa.Column("contact_record_id", sa.Integer(),
                  sa.ForeignKey("contact_records.id", ondelete="SET NULL")),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UTCDateTime()),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("done_at", UTCDateTime()),
    )
    for column in ("customer_id", "user_id", "to_number", "from_number", "bulk_job_id",
                   "created_at"):
        op.create_index(f"ix_sms_messages_{column}", "sms_messages", [column])
    op.create_index("ix_sms_messages_status_id", "sms_messages", ["status", "id"])
    op.create_table(
        "sms_parts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.Integer(),
                  sa.ForeignKey("sms_messages.id", ondelete="CASCADE")),
        sa.Column("gateway", sa.String(32), nullable=False),
        sa.Column("gateway_message_id", sa.String(80), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("receipt_at", UTCDateTime()),
    )
    op.create_index("ix_sms_parts_message_id", "sms_parts", ["message_id"])
    op.create_index("ux_sms_parts_gateway_id", "sms_parts", ["gateway", "gateway_message_id"],
                    unique=True)
    op.create_table(
        "sms_opt_outs",
        sa.Column("number", sa.String(20), primary_key=True),
        sa.Column("reason", sa.String(200)),
        sa.Column("message_id", sa.Integer(),
                  sa.ForeignKey("sms_messages.id", ondelete="SET NULL")),
        _user("added_by_id"),
        sa.Column("added_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("sms_opt_outs", "sms_parts", "sms_messages", "sms_bulk_jobs", "sms_templates"):
        op.drop_table(table)
