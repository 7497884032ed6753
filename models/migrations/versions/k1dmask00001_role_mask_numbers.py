"""roles.mask_numbers: the role's users see masked phone numbers (issue 13, 号码隐藏)

Revision ID: k1dmask00001
Revises: j1mrg0000001
"""
from alembic import op
import sqlalchemy as sa

revision = "k1dmask00001"
down_revision = "j1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("roles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mask_numbers", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("roles", schema=None) as batch_op:
        batch_op.drop_column("mask_numbers")
