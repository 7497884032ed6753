"""Import templates (C9, C11): which customer field each spreadsheet column holds.

Every user may use every template; a user edits and deletes their own, admins all."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.clock import SYSTEM_CLOCK
from models.errors import PermissionDenied
from models.fields import CUSTOMER_DATA_FIELDS
from models.imports.messages import ImportNotFound, ImportRefused
from models.schema import ImportTemplate, User

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


SAMPLE_VALUES = {
    "name": ("上海示例科技有限公司", "Example Technology Co., Ltd."), "keyword": ("示例科技", "example"),
    "contact_person": ("张三", "Zhang San"), "title": ("经理", "Manager"),
    "phone": ("021-62345678", "021-62345678"), "mobile": ("13800138000", "13800138000"),
    "fax": ("021-62345679", "021-62345679"), "qq": ("12345678", "12345678"),
    "email": ("info@example.com", "info@example.com"), "website": ("www.example.com",
                                                                    "www.example.com"),
    "address": ("上海市徐汇区示例路 1 号", "1 Example Road, Xuhui, Shanghai"),
    "province": ("上海", "Shanghai"), "city": ("上海", "Shanghai"),
    "industry": ("制造", "Manufacturing"), "source": ("展会", "Trade fair"),
    "time_zone": ("Asia/Shanghai", "Asia/Shanghai"), "do_not_call": ("否", "no"),
}


def template_workbook(template: ImportTemplate, lang: str = "zh_CN") -> bytes:
    """An .xlsx laid out as the template reads it: its header row (the fields' names, which
    the import matches) and a sample row to overwrite. A template without a header row gets
    the sample row only."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    from models.fields import FIELD_LABELS

    english = lang.startswith("en")
    book = Workbook()
    sheet = book.active
    sheet.title = "客户" if not english else "Customers"
    for _ in range(max(template.header_rows - 1, 0)):
        sheet.append([])
    if template.header_rows:
        sheet.append([FIELD_LABELS[f][english] if f else ("(not imported)" if english
                                                          else "（不导入）")
                      for f in template.mapping])
        for cell in sheet[template.header_rows]:
            cell.font = Font(bold=True)
    sheet.append([SAMPLE_VALUES.get(f, ("", ""))[english] or None if f else None
                  for f in template.mapping])
    for i in range(len(template.mapping)):
        sheet.column_dimensions[sheet.cell(1, i + 1).column_letter].width = 18
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
