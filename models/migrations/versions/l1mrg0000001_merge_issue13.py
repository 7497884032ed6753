"""Merge issue 13's tables: dispositions, click-to-call requests, report templates, number masking.

Revision ID: l1mrg0000001
Revises: k1adisp00001, k1b0000000001, k1crt0000001, k1dmask00001
"""
from __future__ import annotations

revision = "l1mrg0000001"
down_revision = ("k1adisp00001", "k1b0000000001", "k1crt0000001", "k1dmask00001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
