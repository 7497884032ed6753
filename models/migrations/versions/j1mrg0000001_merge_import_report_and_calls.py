"""Merge the import report lines and the call log.

Revision ID: j1mrg0000001
Revises: i1imp0000001, i1call0000001
"""
from __future__ import annotations

revision = "j1mrg0000001"
down_revision = ("i1imp0000001", "i1call0000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
