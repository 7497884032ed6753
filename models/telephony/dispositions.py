"""Dispositions (通话结果): what a call came to, one table the admin edits, read alike by the
dialer's wrap-up (models.dialer.wrap_up), the wrap-up of any answered call
(models.telephony.wrap_ups) and the reports (``success_codes``).

What a disposition does when a call is wrapped up with it (``apply_actions``):
- callback_required: the wrap-up needs a date and time to call back (models.telephony.wrap_ups);
- add_to_dnc: the call's outside number goes on the do-not-call list (models.dialer.dnc);
- mark_dead: the number is dead (status "dead"), the way the dialer marks 空号 (dnc.mark_dead);
- stage_action "make": the customer is promoted or demoted to stage_target under the stage
  rules (models.crm.stages: a refusal is reported, the wrap-up stands); "suggest": the move is
  offered to the agent afterwards as one click;
- claims_customer: a dialer call makes a shared customer the agent's (``claims``); never when
  the number is put on the do-not-call list or marked dead.
Codes never change once made (calls and agent_state_log keep them); a disposition is retired
by making it inactive, so old calls keep their label."""
from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.stage_rules import RANK, check_stage
from models.crm.stages import demote, promote
from models.dialer.dnc import add_number, mark_dead
from models.errors import DomainError, InvalidValue, NotFound
from models.phones import normalize_phone
from models.schema import Customer, Disposition, User
from models.schema.dispositions import STAGE_ACTIONS
from models.values import MAX_ENTRY_LABEL, add_entry, entry_fields

MAX_LABEL = MAX_ENTRY_LABEL
FLAGS = ("callback_required", "add_to_dnc", "mark_dead", "counts_as_success",
         "claims_customer", "active")
DEAD_STATUS = "dead"     # models.schema.campaigns.DEAD_OUTCOMES: a dead number without a cause


def all_dispositions(session: Session) -> list[Disposition]:
    """Every disposition, active or not, in the admin's order."""
    return list(session.scalars(select(Disposition)
                                .order_by(Disposition.position, Disposition.code)))


def active_dispositions(session: Session) -> list[Disposition]:
    return [d for d in all_dispositions(session) if d.active]


def codes(session: Session) -> list[str]:
    """Every code in order: the reports' columns (an inactive one keeps its past counts)."""
    return [d.code for d in all_dispositions(session)]


def success_codes(session: Session) -> set[str]:
    """The codes that count as a success in the reports."""
    return set(session.scalars(select(Disposition.code)
                               .where(Disposition.counts_as_success.is_(True))))


def label(disposition: Disposition, lang: str = "zh_CN") -> str:
    return disposition.label_en if lang == "en" else disposition.label_zh


def labels(session: Session, lang: str = "zh_CN") -> dict[str, str]:
    return {d.code: label(d, lang) for d in all_dispositions(session)}


def get_disposition(session: Session, code: str) -> Disposition:
    row = session.get(Disposition, code) if isinstance(code, str) else None
    if row is None:
        raise NotFound("disposition.unknown", code=str(code)[:40])
    return row


def get_active(session: Session, code: str | None) -> Disposition:
    """The disposition an agent picked: refused when missing, unknown or no longer in use."""
    if not code:
        raise DomainError("agent_state.disposition_required")
    row = session.get(Disposition, code) if isinstance(code, str) else None
    if row is None:
        raise InvalidValue("disposition.unknown", code=str(code)[:40])
    if not row.active:
        raise InvalidValue("disposition.inactive", label=row.label_zh)
    return row


def claims(disposition: Disposition) -> bool:
    """A dialer call wrapped up with it makes a shared customer the agent's."""
    return disposition.claims_customer and not (disposition.add_to_dnc or disposition.mark_dead)


# ---- the admin's editing -----------------------------------------------------------------------

def _fields(values: dict) -> dict:
    out = entry_fields(values, "disposition", FLAGS)
    action = values.get("stage_action") or "none"
    if action not in STAGE_ACTIONS:
        raise InvalidValue("disposition.bad_stage_action", action=str(action)[:20])
    target = check_stage(values.get("stage_target") or None) if action != "none" else None
    if action != "none" and target is None:
        raise InvalidValue("disposition.stage_target_required")
    out["stage_action"], out["stage_target"] = action, target
    return out


def create_disposition(session: Session, values: dict) -> Disposition:
    return add_entry(session, Disposition, values, _fields(values), "disposition")


def update_disposition(session: Session, code: str, values: dict) -> Disposition:
    row = get_disposition(session, code)
    for name, value in _fields(values).items():
        setattr(row, name, value)
    session.flush()
    return row


def set_active(session: Session, code: str, active: bool) -> Disposition:
    row = get_disposition(session, code)
    row.active = active
    session.flush()
    return row


# ---- what a wrap-up does -----------------------------------------------------------------------

@dataclasses.dataclass
class Applied:
    dnc: bool = False
    dead: bool = False
    stage_made: str | None = None              # the stage the customer was moved to
    stage_refused: DomainError | None = None   # why the move was not made
    suggestion: tuple[str, str] | None = None  # (promote | demote, stage) offered to the agent


def stage_move(customer: Customer, target: str | None) -> str | None:
    """promote or demote to reach `target`; None when the customer is there already."""
    target = check_stage(target)
    if RANK[target] == RANK[customer.stage]:
        return None
    return "promote" if RANK[target] > RANK[customer.stage] else "demote"


def apply_actions(session: Session, user: User, disposition: Disposition, *,
                  number: str | None, customer: Customer | None,
                  clock=SYSTEM_CLOCK) -> Applied:
    """Do what the disposition does to the call's outside `number` and its `customer`."""
    done = Applied()
    e164 = normalize_phone(number) if number else None
    if disposition.add_to_dnc and e164:
        add_number(session, user, e164, reason=f"话后处理：{disposition.label_zh}", clock=clock)
        done.dnc = True
    if disposition.mark_dead and e164:
        mark_dead(session, e164, DEAD_STATUS, customer)
        done.dead = True
    if customer is None or disposition.stage_action == "none":
        session.flush()
        return done
    move = stage_move(customer, disposition.stage_target)
    if move is None:
        pass
    elif disposition.stage_action == "suggest":
        done.suggestion = (move, disposition.stage_target)
    else:
        change = promote if move == "promote" else demote
        try:
            with session.begin_nested():
                change(session, user, customer.id, disposition.stage_target, clock=clock)
            done.stage_made = disposition.stage_target
        except DomainError as exc:
            done.stage_refused = exc
    session.flush()
    return done
