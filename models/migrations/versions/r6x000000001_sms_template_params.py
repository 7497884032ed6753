"""sms_messages.template_params: the values a cloud gateway's template is filled with

Revision ID: r6x000000001
Revises: r3mrg0000001
"""
from alembic import op
import sqlalchemy as sa

revision = "r6x000000001"
down_revision = "r3mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(sa.Column("template_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("template_params")
