"""wallboard_alerts, wallboard_alert_firings: the managers' wallboard alerts (issue 14)

Revision ID: m1iwb0000001
Revises: l1mrg0000001
"""
from alembic import op
import sqlalchemy as sa
import models.db

revision = "m1iwb0000001"
down_revision = "l1mrg0000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallboard_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["manager_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_wallboard_alerts_manager_id", "wallboard_alerts", ["manager_id"])
    op.create_table(
        "wallboard_alert_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.String(length=160), nullable=False),
        sa.Column("fired_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["wallboard_alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_wallboard_alert_firings", "wallboard_alert_firings",
                    ["alert_id", "occurrence"], unique=True)
    op.create_index("ix_wallboard_alert_firings_fired_at", "wallboard_alert_firings",
                    ["fired_at"])


def downgrade() -> None:
    op.drop_index("ix_wallboard_alert_firings_fired_at", table_name="wallboard_alert_firings")
    op.drop_index("uq_wallboard_alert_firings", table_name="wallboard_alert_firings")
    op.drop_table("wallboard_alert_firings")
    op.drop_index("ix_wallboard_alerts_manager_id", table_name="wallboard_alerts")
    op.drop_table("wallboard_alerts")
