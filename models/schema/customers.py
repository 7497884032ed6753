from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..db import Base, UTCDateTime
from ..names import name_key

STAGES = ("reserve", "target", "potential", "opportunity", "closed")
OWNERSHIP_MODES = ("personal", "collaborative", "shared")


def _name_key_default(context):
    """name_key for a Core insert that does not give it (bulk imports, the demo)."""
    return name_key(context.get_current_parameters().get("name"))


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # models.names.name_key(name): duplicates are looked up by it
    name_key: Mapped[str | None] = mapped_column(String(400), index=True,
                                                 default=_name_key_default)
    keyword: Mapped[str | None] = mapped_column(String(100), index=True)
    contact_person: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    mobile: Mapped[str | None] = mapped_column(String(40))
    mobile_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    fax: Mapped[str | None] = mapped_column(String(40))
    fax_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    qq: Mapped[str | None] = mapped_column(String(20))
    im: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(120))
    website: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(32), index=True)
    industry: Mapped[str | None] = mapped_column(String(64), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64), index=True)
    profile: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str | None] = mapped_column(String(16))
    ownership: Mapped[str] = mapped_column(String(16), default="shared")
    contact_mark: Mapped[str] = mapped_column(String(16), default="not_contacted")
    tracking_mark: Mapped[str] = mapped_column(String(16), default="tracking")
    time_zone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    number_status: Mapped[str] = mapped_column(String(16), default="unknown")
    next_callback_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    last_contacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    stage_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    operator_links: Mapped[list[CustomerOperator]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (
        Index("ix_customers_stage_ownership_updated", "stage", "ownership", "updated_at"),
        Index("ix_customers_stage_callback", "stage", "next_callback_at"),
        # Covers the dashboard's and the *mine* list's lookups from an agent's operator rows,
        # so they read this small index instead of the wide table (bench/crm_scale.py).
        Index("ix_customers_id_stage_callback", "id", "stage", "ownership", "next_callback_at"),
    )

    @validates("name")
    def _keep_name_key(self, _key, value):
        self.name_key = name_key(value)
        return value

    @property
    def operator_ids(self) -> list[int]:
        return sorted(link.user_id for link in self.operator_links)


class CustomerOperator(Base):
    __tablename__ = "customer_operators"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)

    customer: Mapped[Customer] = relationship(back_populates="operator_links")

    __table_args__ = (Index("ix_customer_operators_user", "user_id", "customer_id"),)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    mobile: Mapped[str | None] = mapped_column(String(40))
    mobile_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(120))
    qq: Mapped[str | None] = mapped_column(String(20))
    im: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    birthday: Mapped[dt.date | None] = mapped_column(Date)   # 生日: the greeting campaigns
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ContactRecord(Base):
    """One contact with a customer (联系记录): a call, visit, e-mail..."""

    __tablename__ = "contact_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    method: Mapped[str] = mapped_column(String(16), default="phone")
    content: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[str | None] = mapped_column(String(200))
    contacted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_callback_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    remind: Mapped[bool] = mapped_column(Boolean, default=False)
    remind_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_contact_records_customer_time", "customer_id", "contacted_at"),
        Index("ix_contact_records_user_time", "user_id", "contacted_at", "customer_id"),
    )


class StageHistory(Base):
    """客户阶段转变记录: one row per change of a customer's stage (None: the archive, no
    stage). Written only by models.crm.stages; the reports count conversions from it."""

    __tablename__ = "stage_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    # set for rows added through the ORM, so that a new customer gets its id first
    customer: Mapped[Customer] = relationship()

    __table_args__ = (
        Index("ix_stage_history_at", "at"),
        Index("ix_stage_history_customer_at", "customer_id", "at"),
    )
