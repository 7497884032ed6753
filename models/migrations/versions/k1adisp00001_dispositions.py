"""dispositions: what a call came to, configured by the admin (rows: models.setup)

Revision ID: k1adisp00001
Revises: j1mrg0000001
"""
from alembic import op
import sqlalchemy as sa

revision = "k1adisp00001"
down_revision = "j1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispositions",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label_zh", sa.String(length=40), nullable=False),
        sa.Column("label_en", sa.String(length=60), nullable=False),
        sa.Column("callback_required", sa.Boolean(), nullable=False),
        sa.Column("add_to_dnc", sa.Boolean(), nullable=False),
        sa.Column("mark_dead", sa.Boolean(), nullable=False),
        sa.Column("stage_action", sa.String(length=8), nullable=False),
        sa.Column("stage_target", sa.String(length=16), nullable=True),
        sa.Column("counts_as_success", sa.Boolean(), nullable=False),
        sa.Column("claims_customer", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )


def downgrade() -> None:
    op.drop_table("dispositions")
