"""The one place that changes a customer's ownership and operators, and logs it."""
from __future__ import annotations

from sqlalchemy.orm import Session

from models.schema import Customer, CustomerOperator, OperatorHistory, User


def set_operators(session: Session, customer: Customer, actor: User | None, action: str,
                  operator_ids: list[int], now) -> None:
    """Give `customer` exactly these operators; the mode follows from their number
    (0 shared, 1 personal, 2+ collaborative). Writes one operator-history row."""
    new_ids = sorted(set(operator_ids))
    old_ids = customer.operator_ids
    old_mode = customer.ownership if customer.id else None
    new_mode = "shared" if not new_ids else "personal" if len(new_ids) == 1 else "collaborative"
    keep = [link for link in customer.operator_links if link.user_id in new_ids]
    have = {link.user_id for link in keep}
    customer.operator_links = keep + [CustomerOperator(user_id=uid) for uid in new_ids
                                      if uid not in have]
    customer.ownership = new_mode
    customer.updated_at = now
    session.flush()
    session.add(OperatorHistory(customer_id=customer.id, actor_id=actor.id if actor else None,
                                action=action, from_mode=old_mode, to_mode=new_mode,
                                from_operators=old_ids, to_operators=new_ids, at=now))
    session.flush()
