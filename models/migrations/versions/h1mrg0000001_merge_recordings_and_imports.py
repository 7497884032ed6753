"""merge the two heads of issue 10 (recordings.attempt_id) and issue 11 (name_key, import sheet)

Revision ID: h1mrg0000001
Revises: g1rec0000002, g1imp0000001
"""
revision = "h1mrg0000001"
down_revision = ("g1rec0000002", "g1imp0000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
