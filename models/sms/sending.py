"""A salesperson's SMS to one customer (the customer's page, the screen pop, the wrap-up): the
text rendered and signed, refused for a number opted out or on the do-not-call list, queued
for the senders (messaging.sender) and logged as a contact record of type sms."""
from __future__ import annotations

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.crm.contact_records import write_contact_record
from models.crm.visibility import get_visible_customer
from models.errors import DomainError, InvalidValue, NotFound
from models.schema import Contact, Customer, Order, SmsMessage, User
from models.sms.optouts import refusal
from models.sms.segments import split
from models.sms.templates import get_template, render, template_params, variables_for

MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


class SmsRefused(DomainError):
    key = "sms.refused"


def is_mobile(number: str | None) -> bool:
    if not number:
        return False
    try:
        return phonenumbers.number_type(phonenumbers.parse(number)) in MOBILE_TYPES
    except phonenumbers.NumberParseException:
        return False


def _contact(session: Session, customer: Customer, contact_id) -> Contact | None:
    if not contact_id:
        return None
    contact = session.get(Contact, int(contact_id))
    if contact is None or contact.customer_id != customer.id:
        raise NotFound("contact.not_found")
    return contact


def _order(session: Session, customer: Customer, order_id) -> Order | None:
    if not order_id:
        return None
    order = session.get(Order, int(order_id))
    if order is None or order.customer_id != customer.id:
        raise NotFound("order.not_found")
    return order


def recipients(session: Session, customer: Customer) -> list[tuple[Contact | None, str]]:
    """The customer's mobile numbers an SMS can go to: its own, then its contacts'."""
    found = [(None, customer.mobile_e164)] if is_mobile(customer.mobile_e164) else []
    contacts = session.scalars(select(Contact).where(Contact.customer_id == customer.id)
                               .order_by(Contact.id))
    found += [(c, c.mobile_e164) for c in contacts if is_mobile(c.mobile_e164)]
    return found


def compose(session: Session, actor: User, customer_id: int, body: str, *, contact_id=None,
            order_id=None) -> tuple[Customer, Contact | None, str]:
    """(customer, contact, exact text) of a message `actor` may send; NotFound/NotYours when
    the customer is not one they may open."""
    customer, contact, variables = _recipient(session, actor, customer_id, contact_id, order_id)
    return customer, contact, render(session, body, variables)


def _recipient(session: Session, actor: User, customer_id: int, contact_id, order_id):
    customer = get_visible_customer(session, actor, customer_id)
    contact = _contact(session, customer, contact_id)
    order = _order(session, customer, order_id)
    return customer, contact, variables_for(session, actor, customer, contact, order)


def queue_message(session: Session, *, to_number: str, text: str, customer: Customer | None,
                  contact: Contact | None, user: User | None, template_id: int | None = None,
                  template_params: list | None = None, bulk_job_id: int | None = None,
                  status: str = "queued", clock=SYSTEM_CLOCK) -> SmsMessage:
    encoding, parts = split(text)
    message = SmsMessage(direction="out", customer_id=customer.id if customer else None,
                         contact_id=contact.id if contact else None,
                         user_id=user.id if user else None, to_number=to_number, text=text,
                         segments=len(parts), encoding=encoding, status=status,
                         template_id=template_id, template_params=template_params,
                         bulk_job_id=bulk_job_id, attempts=0,
                         created_at=clock.now())
    session.add(message)
    session.flush()
    return message


def log_contact(session: Session, message: SmsMessage, user: User | None, customer: Customer,
                *, clock=SYSTEM_CLOCK) -> None:
    """The contact record (type sms) of a message sent or received."""
    word = "发送短信" if message.direction == "out" else "收到短信"
    record = write_contact_record(session, user, customer, method="sms",
                                  content=f"{word}：{message.text}",
                                  contact_id=message.contact_id, clock=clock)
    message.contact_record_id = record.id


def send_sms(session: Session, actor: User, customer_id: int, body: str, *, contact_id=None,
             order_id=None, template_id=None, clock=SYSTEM_CLOCK) -> SmsMessage:
    """Queue one SMS from `actor` to the customer's (or its contact's) mobile."""
    customer, contact, variables = _recipient(session, actor, customer_id, contact_id, order_id)
    text = render(session, body, variables)
    params = None
    if template_id:
        params = template_params(get_template(session, int(template_id)).body, variables)
    number = contact.mobile_e164 if contact else customer.mobile_e164
    if not is_mobile(number):
        raise InvalidValue("sms.no_mobile")
    why = refusal(session, number, customer)
    if why:
        raise SmsRefused(why)
    message = queue_message(session, to_number=number, text=text, customer=customer,
                            contact=contact, user=actor,
                            template_id=int(template_id) if template_id else None,
                            template_params=params, clock=clock)
    log_contact(session, message, actor, customer, clock=clock)
    return message


def customer_messages(session: Session, actor: User, customer_id: int,
                      limit: int = 200) -> list[SmsMessage]:
    """A customer's SMS, newest first, for who may open the customer."""
    get_visible_customer(session, actor, customer_id)
    return list(session.scalars(select(SmsMessage).where(SmsMessage.customer_id == customer_id)
                                .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
                                .limit(limit)))
