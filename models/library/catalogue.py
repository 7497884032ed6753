"""The sales library's catalogue (C11): products, competitors and resource web sites."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.schema import Competitor, Product, ResourceSite
from models.values import as_bool, check_unique, check_url, clean_amount, clean_int, clean_text, get_row


def list_products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.active.desc(), Product.code,
                                                         Product.name)))


def get_product(session: Session, product_id: Any) -> Product:
    return get_row(session, Product, product_id)


def save_product(session: Session, product_id: Any = None, *, code: Any, name: Any,
                 unit: Any = None, price: Any = 0, description: Any = None,
                 active: Any = True) -> Product:
    product = get_product(session, product_id) if product_id is not None else None
    except_id = product.id if product else None
    values = dict(code=clean_text(code, "code", 40), name=clean_text(name, "name", 120, required=True),
                  unit=clean_text(unit, "unit", 16) or "套", price=clean_amount(price, "price"),
                  description=clean_text(description, "description", 5000), active=as_bool(active))
    check_unique(session, Product.code, values["code"], "code", except_id)
    check_unique(session, Product.name, values["name"], "name", except_id)
    return _store(session, product or Product(), values)


def delete_product(session: Session, product_id: Any) -> None:
    """Line items keep the product's name; their link to the product is cleared."""
    session.delete(get_product(session, product_id))
    session.flush()


def list_competitors(session: Session) -> list[Competitor]:
    return list(session.scalars(select(Competitor).order_by(Competitor.name)))


def get_competitor(session: Session, competitor_id: Any) -> Competitor:
    return get_row(session, Competitor, competitor_id)


def save_competitor(session: Session, competitor_id: Any = None, *, name: Any,
                    website: Any = None, products: Any = None, strengths: Any = None,
                    weaknesses: Any = None, note: Any = None) -> Competitor:
    competitor = get_competitor(session, competitor_id) if competitor_id is not None else None
    values = dict(name=clean_text(name, "name", 200, required=True),
                  website=check_url(website, "website", required=False, max_len=200),
                  products=clean_text(products, "products", 5000),
                  strengths=clean_text(strengths, "strengths", 5000),
                  weaknesses=clean_text(weaknesses, "weaknesses", 5000),
                  note=clean_text(note, "note", 5000))
    check_unique(session, Competitor.name, values["name"], "name",
            competitor.id if competitor else None)
    return _store(session, competitor or Competitor(), values)


def delete_competitor(session: Session, competitor_id: Any) -> None:
    session.delete(get_competitor(session, competitor_id))
    session.flush()


def list_resource_sites(session: Session) -> list[ResourceSite]:
    return list(session.scalars(select(ResourceSite).order_by(ResourceSite.sort_order,
                                                              ResourceSite.id)))


def get_resource_site(session: Session, site_id: Any) -> ResourceSite:
    return get_row(session, ResourceSite, site_id)


def save_resource_site(session: Session, site_id: Any = None, *, name: Any, url: Any,
                       note: Any = None, sort_order: Any = 0) -> ResourceSite:
    site = get_resource_site(session, site_id) if site_id is not None else None
    values = dict(name=clean_text(name, "name", 100, required=True), url=check_url(url, "url"),
                  note=clean_text(note, "note", 5000),
                  sort_order=clean_int(sort_order, "sort_order", 0, 9999, default=0))
    return _store(session, site or ResourceSite(), values)


def delete_resource_site(session: Session, site_id: Any) -> None:
    session.delete(get_resource_site(session, site_id))
    session.flush()


def _store(session: Session, obj, values: dict):
    for key, value in values.items():
        setattr(obj, key, value)
    if obj.id is None:
        session.add(obj)
    session.flush()
    return obj
