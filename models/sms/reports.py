"""SMS figures for the reviews: how many a set of users sent (and how many of those were
delivered or failed), and the replies their customers sent them, in a UTC time range."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.schema import SmsMessage


def sms_counts(session: Session, user_ids: tuple[int, ...] | None, lo: dt.datetime,
               hi: dt.datetime) -> dict[str, int]:
    """Sent: every message out of the range that was not held back or skipped (queued ones
    too: the user sent it). user_ids None: everybody (unattached replies too)."""
    where = [SmsMessage.created_at >= lo, SmsMessage.created_at < hi]
    if user_ids is not None:
        where.append(SmsMessage.user_id.in_(user_ids))
    rows = dict(session.execute(select(SmsMessage.status, func.count()).where(*where)
                                .group_by(SmsMessage.status)).all())
    sent = sum(n for status, n in rows.items() if status not in ("held", "skipped", "received"))
    return {"sms_sent": sent, "sms_delivered": rows.get("delivered", 0),
            "sms_failed": rows.get("failed", 0), "sms_received": rows.get("received", 0)}
