"""Merge the attempt's heard announcement and its server.

Revision ID: r2mrg0000001
Revises: r1c000000001, r1e000000001
"""
from __future__ import annotations

revision = "r2mrg0000001"
down_revision = ("r1c000000001", "r1e000000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
