"""Who may list and open which customers (C2).

personal/collaborative: only the operators; shared: everybody; managers and admins: all."""
from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select, true
from sqlalchemy.orm import Session

from models.errors import NotFound, NotYours
from models.schema import Customer, CustomerOperator, User


def operated_by(user_id: int) -> ColumnElement[bool]:
    return exists().where(CustomerOperator.customer_id == Customer.id,
                          CustomerOperator.user_id == user_id)


def visible_filter(user: User) -> ColumnElement[bool]:
    """WHERE clause for the customers `user` may list."""
    if user.sees_all:
        return true()
    return (Customer.ownership == "shared") | operated_by(user.id)


def mine_filter(user: User) -> ColumnElement[bool]:
    """The *mine* tab: personal + collaborative customers the user operates."""
    return (Customer.ownership != "shared") & operated_by(user.id)


def shared_filter() -> ColumnElement[bool]:
    return Customer.ownership == "shared"


def can_open(user: User, customer: Customer) -> bool:
    return (user.sees_all or customer.ownership == "shared"
            or user.id in customer.operator_ids)


def is_operator(user: User, customer: Customer) -> bool:
    return user.id in customer.operator_ids


def get_visible_customer(session: Session, user: User, customer_id: int,
                         *, for_update: bool = False) -> Customer:
    """Load a customer the user may open, or raise NotFound / NotYours."""
    stmt = (select(Customer).where(Customer.id == customer_id)
            .execution_options(populate_existing=True))
    if for_update:
        stmt = stmt.with_for_update()
    customer = session.scalar(stmt)
    if customer is None:
        raise NotFound("customer.not_found", id=customer_id)
    if not can_open(user, customer):
        raise NotYours(id=customer_id)
    return customer
