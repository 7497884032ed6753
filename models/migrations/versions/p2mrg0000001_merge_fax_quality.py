"""Merge faxes and the recording quality review.

Revision ID: p2mrg0000001
Revises: p1mrg0000001, o1g000000001, o1h000000001
"""
from __future__ import annotations

revision = "p2mrg0000001"
down_revision = ("p1mrg0000001", "o1g000000001", "o1h000000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
