"""Alerts a manager sets on the wallboard (issue 14), and which occurrences already fired."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

# long_call: a call up longer than N minutes; long_pause: an agent paused longer than N
# minutes; queue_wait: a caller waiting longer than N seconds; abandon_near_cap: a campaign's
# 24 h abandon rate within N percentage points of its cap (or over it).
ALERT_KINDS = ("long_call", "long_pause", "queue_wait", "abandon_near_cap")


class WallboardAlert(Base):
    __tablename__ = "wallboard_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WallboardAlertFiring(Base):
    """One occurrence of an alert (its subject, e.g. one call or one pause span): unique, so
    each occurrence pops once however many web processes evaluate the alert."""

    __tablename__ = "wallboard_alert_firings"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("wallboard_alerts.id", ondelete="CASCADE"))
    occurrence: Mapped[str] = mapped_column(String(160))
    fired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (
        Index("uq_wallboard_alert_firings", "alert_id", "occurrence", unique=True),
    )
