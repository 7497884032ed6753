"""Merge the IVR's caller-orders function and the SMS template parameters.

Revision ID: r6mrg0000001
Revises: r6n000000001, r6x000000001
"""
from __future__ import annotations

revision = "r6mrg0000001"
down_revision = ("r6n000000001", "r6x000000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
