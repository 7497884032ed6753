"""Merge issue 14's tables: call commands, spy sessions, pause codes and queue logins, the wallboard's alerts.

Revision ID: n1mrg0000001
Revises: m1fcmd000001, m1gspy000001, m1hpause00001, m1iwb0000001
"""
from __future__ import annotations

revision = "n1mrg0000001"
down_revision = ("m1fcmd000001", "m1gspy000001", "m1hpause00001", "m1iwb0000001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
