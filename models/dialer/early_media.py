"""What the carrier's early media says, as the dialer's outcome (the causes' rules apply).

recordings.early_media hears the line before any answer; its final labels end the attempt:
空号 and 停机 dead for good, 关机 and 无法接通 retried later ("absent"), 忙 and the busy tone
retried sooner ("busy"), 呼叫受限 and a SIT without an announcement as a route the network
refused ("noroute", retried later). Live lines (ringback, 彩铃, silence) have no outcome: the
call goes on and its causes decide (dialing.classify).
"""
from __future__ import annotations

from sqlalchemy import select

from models.clock import SYSTEM_CLOCK
from models.errors import DomainError, PermissionDenied
from models.schema import EarlyMediaReference

HEARD_OUTCOMES = {
    "unallocated": "unallocated",     # 空号
    "suspended": "dead",              # 停机
    "switched_off": "absent",         # 关机
    "unreachable": "absent",          # 无法接通
    "busy": "busy",                   # 正在通话中
    "busy_tone": "busy",
    "restricted": "noroute",          # 呼叫受限
    "sit": "noroute",
}
# the Q.850 cause the dialer hangs such a call up with (what the CDR shows)
HEARD_CAUSES = {"unallocated": 1, "suspended": 1, "switched_off": 20, "unreachable": 20,
                "busy": 17, "busy_tone": 17, "restricted": 21, "sit": 3}


def outcome_for(heard: str | None) -> str | None:
    """The attempt's outcome for a label heard (None: a live line, or nothing heard)."""
    return HEARD_OUTCOMES.get(heard or "")


def cause_for(heard: str | None) -> int:
    return HEARD_CAUSES.get(heard or "", 16)


ANNOUNCEMENTS = ("unallocated", "suspended", "switched_off", "busy", "unreachable", "restricted")
_HEX = frozenset("0123456789abcdef")


def may_add_reference(user) -> bool:
    """Managers and admins teach the dialer their carriers' announcements."""
    return bool(user.role.can_manage or user.role.is_admin)


def add_reference(session, user, *, label: str, carrier: str, fingerprint: str,
                  recording_id: int | None = None, start_ms: int = 0, end_ms: int = 0,
                  clock=SYSTEM_CLOCK):
    """A manager's "this was a 关机 announcement" (label) of carrier, as its fingerprint."""
    if not may_add_reference(user):
        raise PermissionDenied()
    carrier = (carrier or "").strip()
    if label not in ANNOUNCEMENTS:
        raise DomainError("early_media.bad_label")
    if not carrier or len(carrier) > 80:
        raise DomainError("early_media.bad_carrier")
    if not fingerprint or len(fingerprint) % 4 or not set(fingerprint) <= _HEX:
        raise DomainError("early_media.bad_fingerprint")
    ref = EarlyMediaReference(label=label, carrier=carrier, fingerprint=fingerprint,
                              recording_id=recording_id, start_ms=start_ms, end_ms=end_ms,
                              created_by=user.id, created_at=clock.now())
    session.add(ref)
    session.flush()
    return ref


def stored_references(session) -> list[tuple[str, str, str]]:
    """(label, name, fingerprint) of every reference taken from a call, oldest first."""
    rows = session.execute(select(EarlyMediaReference.id, EarlyMediaReference.label,
                                  EarlyMediaReference.carrier, EarlyMediaReference.fingerprint)
                           .order_by(EarlyMediaReference.id)).all()
    return [(label, f"{carrier} #{ref_id}", bits) for ref_id, label, carrier, bits in rows]
