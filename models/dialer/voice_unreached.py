"""Voice campaigns (T9): what a call nobody heard leaves in the CRM (the answered ones: voice.py).

A voice campaign's answered calls hear an IVR flow (ivr_flows/; its outcome is written by the
flow's handler). Every other attempt (a machine, no answer, busy, a dead number...) leaves a
system contact record (no author) on the customer when it closes, so the customer's page shows
each call the campaign made. The record does not count as a contact (the customer's last
contact and contact mark are left as they are): nobody was reached."""
from __future__ import annotations

from sqlalchemy.orm import Session

from models.schema import Campaign, ContactRecord, DialAttempt
from models.schema.campaigns import DEAD_OUTCOMES

OUTCOME_TEXT = {
    "machine": "答录机", "busy": "忙线", "rejected": "拒接", "noanswer": "无人接听",
    "absent": "关机或不在服务区", "unallocated": "空号", "changed": "改号", "invalid": "错号",
    "dead": "停机", "noroute": "无法接通", "congestion": "网络忙", "failed": "呼叫失败",
    "abandoned": "接通后挂断",
}
MACHINE_TEXT = {"message": "已留言", "retry": "已挂断，稍后重拨", "hangup": "已挂断"}


def unreached_text(campaign: Campaign, attempt: DialAttempt) -> str:
    label = OUTCOME_TEXT.get(attempt.outcome, attempt.outcome or "")
    if attempt.outcome == "machine":
        action = campaign.machine_action
        if action == "message" and not campaign.machine_message:
            action = "hangup"
        label += "，" + MACHINE_TEXT.get(action, "")
    elif attempt.outcome in DEAD_OUTCOMES and attempt.cause:
        label += f"（原因码 {attempt.cause}）"
    return f"语音外呼「{campaign.name}」：{label}（{attempt.number}）"


def unreached_record(session: Session, attempt: DialAttempt, campaign: Campaign) -> None:
    """The closed attempt's contact record, unless a person answered (the flow writes that)."""
    if attempt.outcome == "answered" or attempt.customer_id is None:
        return
    at = attempt.ended_at
    session.add(ContactRecord(customer_id=attempt.customer_id, user_id=None, method="phone",
                              content=unreached_text(campaign, attempt),
                              progress=OUTCOME_TEXT.get(attempt.outcome, attempt.outcome),
                              contacted_at=at, created_at=at, updated_at=at))
    session.flush()
