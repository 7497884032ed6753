"""Template helpers of the fax pages; the sales pages' too, for the quotation and coordination
sheets a fax request prints (admin/sales/sheets.py, called from files.source_bytes)."""
from __future__ import annotations

from models.company import company_tz

from ..context import db
from ..sales.shared import _helpers as sales_helpers
from . import bp
from .files import status_label


@bp.context_processor
def _helpers():
    def fax_when(value) -> str:
        return value.astimezone(company_tz(db())).strftime("%Y-%m-%d %H:%M") if value else ""
    return dict(sales_helpers(), fax_when=fax_when, fax_status_label=status_label)
