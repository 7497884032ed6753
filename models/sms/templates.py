"""SMS templates an admin writes, with variables in braces ({customer_name}), and the text a
template or a typed message becomes for one customer: variables filled, 【signature】 first."""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.schema import Contact, Customer, Order, SmsTemplate, User
from models.sms.config import sign, sms_settings
from models.sms.segments import count
from models.values import clean_text

# name -> (Chinese label, English label): what an admin may write in braces
VARIABLES = {
    "customer_name": ("客户名称", "customer name"),
    "contact_name": ("联系人", "contact name"),
    "salesperson_name": ("业务员姓名", "salesperson's name"),
    "salesperson_phone": ("业务员电话", "salesperson's phone"),
    "company_name": ("公司名称", "company name"),
    "company_address": ("公司地址", "company address"),
    "company_website": ("公司网址", "company website"),
    "company_phone": ("公司电话", "company phone"),
    "order_number": ("订单号", "order number"),
    "order_amount": ("订单金额", "order amount"),
}
_VARIABLE = re.compile(r"\{(\w+)\}")
MAX_BODY = 500


def check_body(body) -> str:
    text = clean_text(body, "body", MAX_BODY, required=True)
    unknown = sorted({name for name in _VARIABLE.findall(text) if name not in VARIABLES})
    if unknown:
        raise InvalidValue("sms.unknown_variable", name=", ".join(unknown))
    return text


def _amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}元"


def variables_for(session: Session, actor: User | None, customer: Customer | None,
                  contact: Contact | None = None, order: Order | None = None) -> dict[str, str]:
    company = sms_settings(session)
    phone = company["phone"]
    if actor is not None and actor.extension:
        phone = f"{phone}转{actor.extension}" if phone else actor.extension
    return {
        "customer_name": customer.name if customer else "",
        "contact_name": (contact.name if contact else customer.contact_person if customer
                         else "") or "",
        "salesperson_name": actor.full_name if actor else "",
        "salesperson_phone": phone,
        "company_name": company["company_name"],
        "company_address": company["address"],
        "company_website": company["website"],
        "company_phone": company["phone"],
        "order_number": order.number if order else "",
        "order_amount": _amount(order.amount) if order else "",
    }


def render(session: Session, body: str, variables: dict[str, str]) -> str:
    """The exact text that goes out: variables filled, signature first."""
    filled = _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), check_body(body))
    return sign(session, filled)


def template_params(body: str, variables: dict[str, str]) -> list[list[str]]:
    """The values of the variables ``body`` names, in the order they first appear, as
    ``[name, value]`` pairs: what a cloud gateway's template is filled with (Alibaba Cloud by
    name, ``${customer_name}``; Tencent Cloud by position, ``{1}``)."""
    names = dict.fromkeys(_VARIABLE.findall(body))
    return [[name, variables.get(name, "")] for name in names if name in VARIABLES]


def preview(session: Session, body: str, variables: dict[str, str]) -> dict:
    text = render(session, body, variables)
    return {"text": text, **count(text)}


# ---- the admin's templates ------------------------------------------------------------------

def _admin(actor: User) -> None:
    if not actor.role.is_admin:
        raise PermissionDenied()


def list_templates(session: Session, *, active_only: bool = False) -> list[SmsTemplate]:
    stmt = select(SmsTemplate).order_by(SmsTemplate.name)
    if active_only:
        stmt = stmt.where(SmsTemplate.active.is_(True))
    return list(session.scalars(stmt))


def get_template(session: Session, template_id: int) -> SmsTemplate:
    template = session.get(SmsTemplate, template_id)
    if template is None:
        raise NotFound("sms.template_not_found")
    return template


def save_template(session: Session, actor: User, form: dict, template_id: int | None = None,
                  *, clock=SYSTEM_CLOCK) -> SmsTemplate:
    _admin(actor)
    name = clean_text(form.get("name"), "name", 100, required=True)
    body = check_body(form.get("body"))
    code = clean_text(form.get("gateway_code"), "gateway_code", 64)
    taken = session.scalar(select(SmsTemplate.id).where(SmsTemplate.name == name))
    if taken is not None and taken != template_id:
        raise InvalidValue("admin.duplicate", field="name", value=name)
    now = clock.now()
    if template_id is None:
        template = SmsTemplate(created_by_id=actor.id, created_at=now)
        session.add(template)
    else:
        template = get_template(session, template_id)
    template.name, template.body, template.gateway_code = name, body, code
    template.active = bool(form.get("active", True))
    template.updated_at = now
    session.flush()
    return template


def delete_template(session: Session, actor: User, template_id: int) -> None:
    _admin(actor)
    session.delete(get_template(session, template_id))
    session.flush()
