"""Merge the carriers' announcement references.

Revision ID: p3mrg0000001
Revises: p2mrg0000001, o1i000000001
"""
from __future__ import annotations

revision = "p3mrg0000001"
down_revision = ("p2mrg0000001", "o1i000000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
