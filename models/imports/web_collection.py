"""Web collection (网上收集, C9): the resource websites list and the quick add of a company
found on one of them."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.customers import create_customer, find_duplicates
from models.schema import Customer, ResourceSite, User

DEFAULT_SOURCE = "网上收集"
DEFAULT_STAGE = "reserve"
QUICK_FIELDS = ("name", "contact_person", "phone", "mobile", "address", "website", "industry",
                "source")


def list_resource_sites(session: Session) -> list[ResourceSite]:
    return list(session.scalars(select(ResourceSite).order_by(ResourceSite.sort_order,
                                                              ResourceSite.name, ResourceSite.id)))


def quick_add(session: Session, actor: User, form: dict, *, stage: str | None = DEFAULT_STAGE,
              clock=SYSTEM_CLOCK) -> tuple[Customer, list[str]]:
    """Create the pasted company as the actor's own customer (the rules of create_customer,
    duplicate names refused). Returns it and the names of customers with the same phone."""
    data = {f: form.get(f) for f in QUICK_FIELDS if form.get(f) not in (None, "")}
    data.setdefault("source", DEFAULT_SOURCE)
    same_phone: list[str] = []
    for number in (data.get("phone"), data.get("mobile")):
        for hit in find_duplicates(session, phone=number) if number else ():
            if hit["name"] not in same_phone:
                same_phone.append(hit["name"])
    customer = create_customer(session, actor, data, stage=stage, clock=clock)
    return customer, same_phone
