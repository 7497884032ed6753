"""voice_results, voice_answers, contacts.birthday: voice campaigns' calls (T9, issue 15)

Revision ID: o1e000000001
Revises: n1mrg0000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "o1e000000001"
down_revision = "n1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("birthday", sa.Date(), nullable=True))
    op.create_table(
        "voice_results",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("heard_to_end", sa.Boolean(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["dial_attempts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["record_id"], ["contact_records.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("attempt_id"),
    )
    op.create_index("ix_voice_results_campaign", "voice_results", ["campaign_id", "outcome"])
    op.create_index("ix_voice_results_customer_id", "voice_results", ["customer_id"])
    op.create_table(
        "voice_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("answered_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["dial_attempts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_voice_answers_attempt_question", "voice_answers",
                    ["attempt_id", "question"], unique=True)
    op.create_index("ix_voice_answers_campaign_question", "voice_answers",
                    ["campaign_id", "question"])
    op.create_index("ix_voice_answers_customer_id", "voice_answers", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_voice_answers_customer_id", table_name="voice_answers")
    op.drop_index("ix_voice_answers_campaign_question", table_name="voice_answers")
    op.drop_index("uq_voice_answers_attempt_question", table_name="voice_answers")
    op.drop_table("voice_answers")
    op.drop_index("ix_voice_results_customer_id", table_name="voice_results")
    op.drop_index("ix_voice_results_campaign", table_name="voice_results")
    op.drop_table("voice_results")
    op.drop_column("contacts", "birthday")
