"""Claim, release, force-release, reassign, collaborators (C2), with the daily quota; who may
be the operator of a new customer, created or imported (C2, C9).

Race-freedom, on PostgreSQL and SQLite alike:
- a claim first bumps the claimant's `users.claim_serial`, which row-locks the user until
  commit, so one user's claims run one after another and the quota count is exact;
- the customer changes hands with `UPDATE ... WHERE ownership = 'shared'`: of two claimants
  the second re-reads the row after the first commits and matches nothing."""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.company import company_today
from models.crm.history import set_operators
from models.crm.stage_rules import RANK, check_stage, require
from models.crm.stages import set_stage
from models.crm.visibility import get_visible_customer, is_operator
from models.errors import (
    AlreadyClaimed,
    DomainError,
    InvalidValue,
    NotFound,
    NotYours,
    PermissionDenied,
    QuotaExceeded,
    StageRuleForbids,
)
from models.schema import OWNERSHIP_MODES, ClaimLog, Customer, User

# Claims out of these shared pools count toward the daily quota (C2).
QUOTA_STAGES = ("reserve", "target", "potential")


def claims_today(session: Session, user: User, *, clock=SYSTEM_CLOCK) -> int:
    return _counted_on(session, user, company_today(session, clock.now()))


def _counted_on(session: Session, user: User, day) -> int:
    return session.scalar(select(func.count()).select_from(ClaimLog).where(
        ClaimLog.user_id == user.id, ClaimLog.claim_day == day, ClaimLog.counted.is_(True)))


def claims_left(session: Session, user: User, *, clock=SYSTEM_CLOCK) -> int:
    return max(0, user.role.daily_claim_quota - claims_today(session, user, clock=clock))


def _lock_claimant(session: Session, user: User) -> None:
    session.execute(update(User).where(User.id == user.id)
                    .values(claim_serial=User.claim_serial + 1)
                    .execution_options(synchronize_session=False))


def _take(session: Session, actor: User, customer: Customer, action: str, now,
          new_stage: str | None = None) -> None:
    """Make a shared customer the actor's personal one, counting it against the quota."""
    counted = customer.stage in QUOTA_STAGES
    if counted:
        quota = actor.role.daily_claim_quota
        if _counted_on(session, actor, company_today(session, now)) >= quota:
            raise QuotaExceeded(quota=quota)
    # The guard: touching the row only while it is still shared. A concurrent claimant
    # blocks here and then matches nothing.
    won = session.execute(update(Customer)
                          .where(Customer.id == customer.id, Customer.ownership == "shared")
                          .values(updated_at=now).execution_options(synchronize_session=False))
    if won.rowcount != 1:
        raise AlreadyClaimed(id=customer.id)
    session.add(ClaimLog(user_id=actor.id, customer_id=customer.id, from_stage=customer.stage,
                         counted=counted, claim_day=company_today(session, now), claimed_at=now))
    if new_stage is not None:
        set_stage(session, customer, new_stage, actor=actor, kind=action, now=now)
    set_operators(session, customer, actor, action, [actor.id], now)


def _load(session: Session, customer_id: int) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.id == customer_id)
                              .execution_options(populate_existing=True))
    if customer is None:
        raise NotFound("customer.not_found", id=customer_id)
    return customer


def claim(session: Session, actor: User, customer_id: int, *, clock=SYSTEM_CLOCK) -> Customer:
    """占有: a shared customer becomes the actor's personal customer."""
    now = clock.now()
    _lock_claimant(session, actor)
    customer = _load(session, customer_id)
    if customer.ownership != "shared":
        raise AlreadyClaimed(id=customer_id)
    require(session, customer.stage, "claim")
    _take(session, actor, customer, "claim", now)
    return customer


def screen(session: Session, actor: User, customer_id: int, to_stage: str, *,
           clock=SYSTEM_CLOCK) -> Customer:
    """筛选: move a reserve customer up to `to_stage` to start working it. A shared one
    becomes the actor's and counts against the daily quota, as a claim does."""
    to_stage = check_stage(to_stage)
    now = clock.now()
    _lock_claimant(session, actor)
    customer = get_visible_customer(session, actor, customer_id)
    if customer.stage != "reserve":
        raise InvalidValue("stage.not_reserve")
    if RANK[to_stage] <= RANK["reserve"]:
        raise InvalidValue("stage.not_higher")
    if customer.ownership == "shared":
        _take(session, actor, customer, "screen", now, new_stage=to_stage)
    else:
        set_stage(session, customer, to_stage, actor=actor, kind="screen", now=now)
        session.flush()
    return customer


def claim_many(session: Session, actor: User, customer_ids: list[int], *,
               clock=SYSTEM_CLOCK, action=None) -> dict[int, str | None]:
    """Batch claim (multi-select). Each id gets None (done) or the refusal key; ids are taken
    in ascending order so that two batches never deadlock."""
    action = action or (lambda cid: claim(session, actor, cid, clock=clock))
    results: dict[int, str | None] = {}
    for cid in sorted(set(customer_ids)):
        try:
            with session.begin_nested():
                action(cid)
            results[cid] = None
        except DomainError as exc:
            results[cid] = exc.key
    return results


def release(session: Session, actor: User, customer_id: int, *, clock=SYSTEM_CLOCK) -> Customer:
    """释放: the actor gives the customer up; with no operator left it becomes shared."""
    customer = get_visible_customer(session, actor, customer_id)
    if not is_operator(actor, customer):
        raise NotYours(id=customer_id)
    require(session, customer.stage, "release")
    remaining = [uid for uid in customer.operator_ids if uid != actor.id]
    set_operators(session, customer, actor, "release", remaining, clock.now())
    return customer


def _manager(actor: User) -> None:
    if not actor.role.can_manage:
        raise PermissionDenied()


def force_release(session: Session, actor: User, customer_id: int, *,
                  clock=SYSTEM_CLOCK) -> Customer:
    """去掉占有 (managers): the customer becomes shared whoever held it."""
    _manager(actor)
    customer = get_visible_customer(session, actor, customer_id)
    if customer.ownership == "shared":
        raise StageRuleForbids(action="force_release", stage=customer.stage or "archive")
    set_operators(session, customer, actor, "force_release", [], clock.now())
    return customer


def _active_users(session: Session, user_ids: list[int]) -> list[int]:
    """The ids, sorted; refused unless each is an active user."""
    ids = sorted(set(user_ids))
    found = session.scalar(select(func.count()).select_from(User)
                           .where(User.id.in_(ids), User.active.is_(True)))
    if found != len(ids):
        raise NotFound("user.not_found")
    return ids


def reassign(session: Session, actor: User, customer_id: int, to_user_id: int, *,
             clock=SYSTEM_CLOCK) -> Customer:
    """调拨 (managers): the customer becomes `to_user_id`'s personal customer."""
    _manager(actor)
    customer = get_visible_customer(session, actor, customer_id)
    set_operators(session, customer, actor, "reassign", _active_users(session, [to_user_id]),
                  clock.now())
    return customer


def set_collaborators(session: Session, actor: User, customer_id: int, user_ids: list[int], *,
                      clock=SYSTEM_CLOCK) -> Customer:
    """协同: give a customer several operators (an operator or a manager may do it)."""
    customer = get_visible_customer(session, actor, customer_id)
    if not (actor.role.can_manage or is_operator(actor, customer)):
        raise NotYours(id=customer_id)
    if not user_ids:
        raise InvalidValue("customer.operators_required")
    set_operators(session, customer, actor, "set_collaborators",
                  _active_users(session, user_ids), clock.now())
    return customer


def check_new_customer(session: Session, actor: User, *, stage: str | None, ownership: str,
                       operator_ids: list[int] | None = None) -> tuple[str | None, list[int]]:
    """The stage and operators of a customer the actor creates or imports (the one rule for
    both): returns (stage, operator ids) or refuses.

    - stage: one of the five, or None / 'archive' for no stage; '' (nothing chosen) is refused;
    - shared: no operator, and anyone may (any operator may release a customer too, C2);
    - personal: one operator (None: the actor); collaborative: two or more;
    - every operator an active user, and the actor one of them unless a manager or admin:
      handing a customer to somebody else is a reassignment (调拨)."""
    if stage == "":
        raise InvalidValue("customer.stage_required")
    stage = check_stage(stage)
    if ownership not in OWNERSHIP_MODES:
        raise InvalidValue("customer.bad_ownership", ownership=ownership)
    if ownership == "shared":
        if operator_ids:
            raise InvalidValue("customer.bad_ownership", ownership=ownership)
        return stage, []
    operators = sorted(set([actor.id] if operator_ids is None else operator_ids))
    if len(operators) != 1 if ownership == "personal" else len(operators) < 2:
        raise InvalidValue("customer.operators_required")
    if not actor.sees_all and actor.id not in operators:
        raise PermissionDenied()
    return stage, _active_users(session, operators)
