"""Merge the voice campaigns' columns.

Revision ID: p4mrg0000001
Revises: p3mrg0000001, o1f000000001
"""
from __future__ import annotations

revision = "p4mrg0000001"
down_revision = ("p3mrg0000001", "o1f000000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
