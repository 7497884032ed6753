"""A manager's team (坐席组): the agents on the campaigns he created or works on himself, the
finished campaigns left out. One rule for every place that asks whose work a manager oversees:
the wallboard, listen / whisper / barge. An admin oversees everybody (``None``)."""
from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from models.schema import Campaign, CampaignAgent, User

DISBANDED = ("finished",)   # a finished campaign's team is nobody's team any more


def leads(manager_id: int, owner_id: int | None, members) -> bool:
    """Whether the manager leads a campaign with this creator and these agents."""
    return owner_id == manager_id or manager_id in members


def team_agent_ids(manager: User) -> Select:
    """A select of the user ids on the manager's team (for ``IN``)."""
    member = select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == manager.id)
    led = select(Campaign.id).where(
        or_(Campaign.created_by_id == manager.id, Campaign.id.in_(member)),
        Campaign.status.not_in(DISBANDED))
    return select(CampaignAgent.user_id).where(CampaignAgent.campaign_id.in_(led))


def manager_team(session: Session, user: User) -> set[int] | None:
    """The user ids on the manager's team; None for an admin (everybody)."""
    if user.role.is_admin:
        return None
    return set(session.scalars(team_agent_ids(user)))
