"""Merge the call log's fillfactor, voice results and birthdays, SMS.

Revision ID: p1mrg0000001
Revises: n2ff00000001, o1e000000001, o1c000000001
"""
from __future__ import annotations

revision = "p1mrg0000001"
down_revision = ("n2ff00000001", "o1e000000001", "o1c000000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
