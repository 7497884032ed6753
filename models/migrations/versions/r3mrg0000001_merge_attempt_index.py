"""Merge the attempts' campaign/outcome index.

Revision ID: r3mrg0000001
Revises: r2mrg0000001, r1b000000001
"""
from __future__ import annotations

revision = "r3mrg0000001"
down_revision = ("r2mrg0000001", "r1b000000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
