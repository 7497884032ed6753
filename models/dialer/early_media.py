"""What the carrier's early media says, as the dialer's outcome (the causes' rules apply).

recordings.early_media hears the line before any answer; its final labels end the attempt:
空号 and 停机 dead for good, 关机 and 无法接通 retried later ("absent"), 忙 and the busy tone
retried sooner ("busy"), 呼叫受限 and a SIT without an announcement as a route the network
refused ("noroute", retried later). Live lines (ringback, 彩铃, silence) have no outcome: the
call goes on and its causes decide (dialing.classify).
"""
from __future__ import annotations

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
