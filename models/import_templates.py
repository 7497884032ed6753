"""Import templates (C9, C11): which customer field each spreadsheet column holds.

Every user may use every template; a user edits and deletes their own, admins all."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import SYSTEM_CLOCK
from .errors import PermissionDenied
from .fields import CUSTOMER_DATA_FIELDS
from .import_messages import ImportNotFound, ImportRefused
from .schema import ImportTemplate, User

MAX_COLUMNS = 60
MAX_HEADER_ROWS = 10


def list_templates(session: Session) -> list[ImportTemplate]:
    return list(session.scalars(select(ImportTemplate).order_by(ImportTemplate.name,
                                                                ImportTemplate.id)))


def get_template(session: Session, template_id) -> ImportTemplate:
    try:
        template = session.get(ImportTemplate, int(template_id))
    except (TypeError, ValueError):
        template = None
    if template is None:
        raise ImportNotFound("import_template.not_found")
    return template


def may_edit(user: User, template: ImportTemplate) -> bool:
    return user.role.is_admin or template.owner_id == user.id


def get_editable_template(session: Session, actor: User, template_id) -> ImportTemplate:
    template = get_template(session, template_id)
    if not may_edit(actor, template):
        raise PermissionDenied()
    return template


def clean_mapping(mapping: list) -> list[str | None]:
    """Per column a customer data field or None (skip); the name exactly once, no field twice."""
    cleaned = [(str(f).strip() or None) if f is not None else None for f in mapping]
    if not cleaned:
        raise ImportRefused("import_template.no_columns")
    if len(cleaned) > MAX_COLUMNS:
        raise ImportRefused("import_template.too_many_columns", limit=MAX_COLUMNS)
    for field in cleaned:
        if field is not None and field not in CUSTOMER_DATA_FIELDS:
            raise ImportRefused("customer.unknown_field", field=field)
    if cleaned.count("name") != 1:
        raise ImportRefused("import_template.name_column")
    for field in cleaned:
        if field is not None and cleaned.count(field) > 1:
            raise ImportRefused("import_template.field_twice", field=field)
    return cleaned


def clean_header_rows(value) -> int:
    try:
        rows = int(value)
    except (TypeError, ValueError):
        rows = -1
    if not 0 <= rows <= MAX_HEADER_ROWS:
        raise ImportRefused("import_template.bad_header_rows", limit=MAX_HEADER_ROWS)
    return rows


def save_template(session: Session, actor: User, template_id, *, name: str, mapping: list,
                  header_rows, clock=SYSTEM_CLOCK) -> ImportTemplate:
    """Create (template_id None) or change a template."""
    name = (name or "").strip()
    if not name:
        raise ImportRefused("import_template.name_required")
    if len(name) > ImportTemplate.__table__.c.name.type.length:
        raise ImportRefused("import_template.name_too_long")
    mapping = clean_mapping(mapping)
    header_rows = clean_header_rows(header_rows)
    if template_id is None:
        template = ImportTemplate(owner_id=actor.id, created_at=clock.now())
        session.add(template)
    else:
        template = get_editable_template(session, actor, template_id)
    template.name, template.mapping, template.header_rows = name, mapping, header_rows
    session.flush()
    return template


def delete_template(session: Session, actor: User, template_id) -> None:
    session.delete(get_editable_template(session, actor, template_id))
    session.flush()
