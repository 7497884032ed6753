"""What the customer forms post: the customer's data fields and product lines; the names of
history actions and the helpers every customer template uses."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from models.crm.contact_records import METHODS
from models.fields import CUSTOMER_DATA_FIELDS

from ..forms import link_to, local_dt, method_label, parse_decimal, parse_int

MAX_LINES = 20


def parse_lines(form) -> list[dict]:
    """Product lines posted as product_id[], quantity[], unit_price[]; blank rows skipped."""
    products = form.getlist("product_id")
    quantities = form.getlist("quantity")
    prices = form.getlist("unit_price")
    lines = []
    for i, product in enumerate(products[:MAX_LINES]):
        quantity = quantities[i] if i < len(quantities) else ""
        if not str(product).strip():
            continue
        lines.append(dict(product_id=parse_int(product, "product_id"),
                          quantity=parse_decimal(quantity, "quantity") or Decimal("1"),
                          unit_price=parse_decimal(prices[i] if i < len(prices) else "",
                                                   "unit_price")))
    return lines


def customer_form_data(form) -> dict:
    """The customer data fields present in a posted form. A checkbox comes with a hidden
    "0" before it, so its last value wins."""
    data = {}
    for field, kind in CUSTOMER_DATA_FIELDS.items():
        values = form.getlist(field)
        if values:
            data[field] = values[-1] if kind == "bool" else values[0]
    return data


def history_label(action: str) -> str:
    return {"create": _("Customer created"), "claim": _("Claimed"), "screen": _("Screened"),
            "release": _("Released"), "force_release": _("Force-released"),
            "reassign": _("Reassigned"), "set_collaborators": _("Collaborators set"),
            "demote_to_reserve": _("Demoted to the reserve"), "import": _("Imported")
            }.get(action, action)


HELPERS = dict(local_dt=local_dt, method_label=method_label, history_label=history_label,
               link_to=link_to, METHODS=METHODS)
