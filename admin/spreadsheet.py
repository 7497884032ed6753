"""Export of any list to .xlsx or CSV. Cells a spreadsheet would run as a formula
(starting with = + - @, tab or carriage return) are prefixed with a quote.

The .xlsx is written here rather than by openpyxl (which makes an object per cell: 11 s for
a 200,000-row import report), row by row into a temporary file that is then sent a chunk
at a time: memory does not grow with the rows."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import tempfile
import zipfile
from decimal import Decimal
from urllib.parse import quote
from xml.sax.saxutils import escape

from flask import Response
from openpyxl.utils import get_column_letter

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SEND_CHUNK = 1 << 16
ROWS_PER_WRITE = 1000
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")   # no XML 1.0 text holds these
_EPOCH = dt.datetime(1899, 12, 30)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_DATETIME_STYLE, _DATE_STYLE = 1, 2   # cellXfs of _STYLES
_PARTS = {
    "[Content_Types].xml":
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/></Types>',
    "_rels/.rels":
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        '</Relationships>',
    "xl/workbook.xml":
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{_MAIN}" '
        f'xmlns:r="{_REL}"><sheets><sheet name="Sheet" sheetId="1" r:id="rId1"/></sheets>'
        '</workbook>',
    "xl/_rels/workbook.xml.rels":
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>',
    "xl/styles.xml":
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="{_MAIN}">'
        '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd h:mm:ss"/>'
        '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        '</cellStyleXfs><cellXfs count="3">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
        '</cellStyles></styleSheet>',
}


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _cell(ref: str, value) -> str:
    """One <c> element ('' for an empty cell: None or '', as openpyxl leaves them out)."""
    value = neutralise(value)
    if value is None or value == "":
        return ""
    if value is True or value is False:
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, dt.datetime):
        serial = (value - _EPOCH) / dt.timedelta(days=1)
        return f'<c r="{ref}" s="{_DATETIME_STYLE}"><v>{serial!r}</v></c>'
    if isinstance(value, dt.date):
        serial = (value - _EPOCH.date()).days
        return f'<c r="{ref}" s="{_DATE_STYLE}"><v>{serial}</v></c>'
    text = escape(_NOT_XML.sub("", str(value)))
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def write_xlsx(out, headers, rows) -> None:
    """An .xlsx of one sheet into the binary file `out`, `headers` then `rows` (any iterable
    of sequences, read once, as it is written). The rows go to a temporary file first: the
    sheet starts with its dimension, known once they are all written."""
    letters: list[str] = []
    with tempfile.TemporaryFile() as data:
        part, number = [], 0
        for number, row in enumerate(_with_header(headers, rows), 1):
            while len(letters) < len(row):
                letters.append(get_column_letter(len(letters) + 1))
            cells = "".join(_cell(f"{letters[i]}{number}", v) for i, v in enumerate(row))
            part.append(f'<row r="{number}">{cells}</row>')
            if len(part) == ROWS_PER_WRITE:
                data.write("".join(part).encode())
                part = []
        data.write("".join(part).encode())
        data.seek(0)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in _PARTS.items():
                archive.writestr(name, text)
            with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                            f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:{letters[-1] if letters else "A"}'
                            f'{number}"/><sheetData>'.encode())
                shutil.copyfileobj(data, sheet, SEND_CHUNK)
                sheet.write(b"</sheetData></worksheet>")


def _with_header(headers, rows):
    yield headers
    yield from rows


def _xlsx(headers, rows) -> bytes:
    out = io.BytesIO()
    write_xlsx(out, headers, rows)
    return out.getvalue()


def _csv(headers, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 CSV right


def _send(stream):
    """The file's content a chunk at a time; the file is closed at the end (or when the
    client goes away: the server closes the iterator)."""
    try:
        while chunk := stream.read(SEND_CHUNK):
            yield chunk
    finally:
        stream.close()


def export_response(headers: list[str], rows, filename: str, fmt: str = "xlsx") -> Response:
    """A download of `rows` (iterable of sequences) as `filename`.xlsx or .csv. An .xlsx is
    written (the rows read) before this returns, into a temporary file sent from there."""
    name = f"{filename}.{'csv' if fmt == 'csv' else 'xlsx'}"
    disposition = {"Content-Disposition": f"attachment; filename=export.{name.rsplit('.', 1)[1]}; "
                                          f"filename*=UTF-8''{quote(name)}"}
    if fmt == "csv":
        return Response(_csv(headers, rows), mimetype="text/csv; charset=utf-8",
                        headers=disposition)
    out = tempfile.TemporaryFile()
    try:
        write_xlsx(out, headers, rows)
        size = out.tell()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return Response(_send(out), mimetype=XLSX_MIME,
                    headers={**disposition, "Content-Length": str(size)})
