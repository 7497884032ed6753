"""Spreadsheets for the import tests: good ones, and the hostile kinds."""
from __future__ import annotations

import io
import os
import zipfile

from openpyxl import Workbook

HEADER = ["客户名称", "联系人", "电话", "手机", "城市", "行业"]
MAPPING = ["name", "contact_person", "phone", "mobile", "city", "industry"]


def xlsx_bytes(rows, *, merge: list[str] = (), literal_text: dict[str, str] | None = None) -> bytes:
    """An .xlsx as openpyxl writes it. Strings starting with "=" become formulas (without a
    saved result); `literal_text` puts such strings in as plain text."""
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    for ref, text in (literal_text or {}).items():
        sheet[ref].value = text
        sheet[ref].data_type = "s"
    for ref in merge:
        sheet.merge_cells(ref)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def company_rows(n: int, start: int = 1, *, header: bool = True) -> list[list]:
    rows = [HEADER] if header else []
    for i in range(start, start + n):
        rows.append(["测试导入公司%05d" % i, "联系人%d" % i, "021-6%07d" % i,
                     "138%08d" % i, "上海", "制造"])
    return rows


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
    'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
    'application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
    'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
         'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
         'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
         'Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.'
             'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats'
             '.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" '
             'r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                  'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
                  'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                  'worksheet" Target="worksheets/sheet1.xml"/></Relationships>')


def raw_xlsx(sheet_data: str, *, dimension: str | None = None, shared: str | None = None) -> bytes:
    """A minimal package around hand-written <sheetData> XML (cells with saved formula
    results, lying dimensions...); `shared`: the <si> elements of a shared-string table."""
    dim = '<dimension ref="%s"/>' % dimension if dimension else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
             'openxmlformats.org/spreadsheetml/2006/main">%s<sheetData>%s</sheetData></worksheet>'
             % (dim, sheet_data))
    members = {"[Content_Types].xml": _CONTENT_TYPES, "_rels/.rels": _RELS,
               "xl/workbook.xml": _WORKBOOK, "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS,
               "xl/worksheets/sheet1.xml": sheet}
    if shared is not None:
        members["[Content_Types].xml"] = _CONTENT_TYPES.replace("</Types>", (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
        members["xl/_rels/workbook.xml.rels"] = _WORKBOOK_RELS.replace("</Relationships>", (
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'))
        members["xl/sharedStrings.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main">%s</sst>' % shared)
    return zip_bytes(members)


def inline_row(number: int, *values) -> str:
    cells = []
    for i, v in enumerate(values):
        ref = "%s%d" % (chr(ord("A") + i), number)
        cells.append('<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref, v))
    return '<row r="%d">%s</row>' % (number, "".join(cells))


def zip_bytes(members: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def random_bytes(n: int = 4096) -> bytes:
    return os.urandom(n)


def zip_bomb(unpacked_mb: int = 210) -> bytes:
    """A package-shaped zip whose sheet inflates to `unpacked_mb` MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(unpacked_mb):
                member.write(block)
    return out.getvalue()


def make_template(session, user, clock, name: str = "标准模板"):
    """An import template of MAPPING with one header row, committed."""
    from models.imports import templates as import_templates

    made = import_templates.save_template(session, user, None, name=name, mapping=MAPPING,
                                          header_rows=1, clock=clock)
    session.commit()
    return made


def report_of(job) -> list[dict]:
    """The job's report lines (models.imports.importer.report_entries), read with its session."""
    from sqlalchemy.orm import object_session

    from models.imports import importer
    return list(importer.report_entries(object_session(job), job.id))


def report_table_of(job, lang: str) -> tuple[list[str], list[list]]:
    from sqlalchemy.orm import object_session

    from models.imports import importer
    headers, rows = importer.report_table(object_session(job), job, lang)
    return headers, list(rows)
