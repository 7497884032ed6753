"""Leave room in the call log's pages (PostgreSQL): a call's rows are updated several times in
their first minutes; with free space on the page, an update of columns no index covers (a leg's
answer and end, a call's seconds) stays on the page (a HOT update) and writes no index entry.

Revision ID: n2ff00000001
Revises: n1mrg0000001
"""
from __future__ import annotations

from alembic import op

revision = "n2ff00000001"
down_revision = "n1mrg0000001"
branch_labels = None
depends_on = None

TABLES = ("calls", "call_legs")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
