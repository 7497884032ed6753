"""What a call came to (话后处理的通话结果), configured by the admin (issue 13)."""
from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

# none: nothing; suggest: after the wrap-up the agent is offered the move to stage_target;
# make: the wrap-up moves the customer to stage_target (under the stage rules).
STAGE_ACTIONS = ("none", "suggest", "make")


class Disposition(Base):
    __tablename__ = "dispositions"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(40))
    label_en: Mapped[str] = mapped_column(String(60))
    callback_required: Mapped[bool] = mapped_column(Boolean, default=False)
    add_to_dnc: Mapped[bool] = mapped_column(Boolean, default=False)
    mark_dead: Mapped[bool] = mapped_column(Boolean, default=False)
    stage_action: Mapped[str] = mapped_column(String(8), default="none")
    stage_target: Mapped[str | None] = mapped_column(String(16))
    counts_as_success: Mapped[bool] = mapped_column(Boolean, default=False)
    # a dialer call wrapped up with it makes a shared customer the agent's (never with
    # add_to_dnc or mark_dead: models.telephony.dispositions.claims)
    claims_customer: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
