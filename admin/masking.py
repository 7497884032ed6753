"""号码隐藏 in the web: every phone number reaches the browser through ``phone`` (the Jinja
filter ``|phone`` in templates), which masks it for a masking role (models/org/masking.py).
Customer and contact fields shown by name go through ``field_value`` (``|shown_field(f)``)."""
from __future__ import annotations

from models.fields import PHONE_COLUMNS
from models.org import masking

from .context import current_user

PHONE_FIELDS = frozenset(PHONE_COLUMNS)   # phone, mobile, fax (a contact has the first two)


def phone(number: str | None) -> str | None:
    """``number`` as the logged-in user may see it."""
    return masking.shown(current_user(), number)


def field_value(row, field: str, user=None):
    """A customer's or contact's field as ``user`` (default: the logged-in user) may see it;
    ``row`` an object or a dict. Give ``user`` where the value is read after the request, as
    a streamed CSV's rows are."""
    value = row.get(field) if isinstance(row, dict) else getattr(row, field, None)
    if field not in PHONE_FIELDS:
        return value
    return masking.shown(user if user is not None else current_user(), value)


def shown_values(values: dict) -> dict:
    """A form's values with the numbers as the user may see them (models.org.masking.kept
    puts the stored number back when the masked one comes back)."""
    return {f: phone(v) if f in PHONE_FIELDS else v for f, v in values.items()}


def masked_here() -> bool:
    """Whether the logged-in user sees masked numbers."""
    return masking.masks(current_user())


def init_app(app) -> None:
    app.jinja_env.filters["phone"] = phone
    app.jinja_env.filters["shown_field"] = field_value
    app.jinja_env.globals["masked_here"] = masked_here
