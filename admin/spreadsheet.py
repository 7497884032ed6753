"""Export of any list to .xlsx or CSV. Cells a spreadsheet would run as a formula
(starting with = + - @, tab or carriage return) are prefixed with a quote."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from urllib.parse import quote

from flask import Response
from openpyxl import Workbook

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _xlsx(headers, rows) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([neutralise(h) for h in headers])
    for row in rows:
        sheet.append([neutralise(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv(headers, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 CSV right


def export_response(headers: list[str], rows, filename: str, fmt: str = "xlsx") -> Response:
    """A download of `rows` (iterable of sequences) as `filename`.xlsx or .csv."""
    if fmt == "csv":
        body, mime = _csv(headers, rows), "text/csv; charset=utf-8"
    else:
        fmt = "xlsx"
        body = _xlsx(headers, rows)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"{filename}.{fmt}"
    return Response(body, mimetype=mime, headers={
        "Content-Disposition": f"attachment; filename=export.{fmt}; filename*=UTF-8''{quote(name)}"})
