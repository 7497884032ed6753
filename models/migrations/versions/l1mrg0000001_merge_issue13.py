"""Merge issue 13's tables: dispositions and report templates.

Revision ID: l1mrg0000001
Revises: k1adisp00001, k1crt0000001
"""
from __future__ import annotations

revision = "l1mrg0000001"
down_revision = ("k1adisp00001", "k1crt0000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
