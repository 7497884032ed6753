"""Opening an uploaded .xlsx safely and reading its first sheet row by row (C9).

Before openpyxl sees the file, its zip directory is checked: a zip bomb (too much unpacked
data or an absurd compression ratio) is refused. zipfile never inflates a member beyond the
size its directory entry declares (a lying entry fails its CRC check), so the declared sizes
are a real bound. The sheet is read with openpyxl in read-only, data-only mode: a formula is
never evaluated, its cached result is taken; a text that merely starts with "=" stays text.
One streaming pass over the sheet's raw XML finds the formula cells (so a formula without a
cached result is reported, not silently read as empty) and the merged ranges."""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string

from .import_messages import ImportRefused
from .import_xlsx import load_read_only, sheet_values

MAX_ROWS = 200_000                      # data rows per file
MAX_UNPACKED = 200 * 1024 * 1024        # bytes, all members together
MAX_RATIO = 100                         # unpacked / packed, for members over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_MEMBERS = 1000
EXCEL_LAST_ROW = 1_048_576
REQUIRED_MEMBERS = ("[Content_Types].xml", "xl/workbook.xml")
ERROR_VALUES = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                "#GETTING_DATA", "#SPILL!", "#CALC!"}

_CHUNK = 1 << 20
_OVERLAP = 4096
_FORMULA_CELL = re.compile(
    rb'<(?:\w+:)?c\b[^>]{0,2000}?\br="([A-Z]{1,3})([0-9]{1,7})"[^>]{0,2000}>\s*<(?:\w+:)?f[\s>/]')
_ANY_FORMULA = re.compile(rb'<(?:\w+:)?f[\s>/]')
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]{0,2000}?\bref="([A-Z]{1,3})([0-9]{1,7})'
                    rb'(?::([A-Z]{1,3})([0-9]{1,7}))?"')


def check_zip(path) -> None:
    """Refuse what is not an .xlsx package, and zip bombs, from the zip directory alone."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
            if len(members) > MAX_MEMBERS or not all(n in names for n in REQUIRED_MEMBERS):
                raise ImportRefused("import.not_excel")
            total = sum(m.file_size for m in members)
            if total > MAX_UNPACKED:
                raise ImportRefused("import.too_big_unpacked", size=total // (1024 * 1024),
                                    limit=MAX_UNPACKED // (1024 * 1024))
            for m in members:
                if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
                    raise ImportRefused("import.zip_bomb", member=m.filename[:80])
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        raise ImportRefused("import.not_excel") from None


@dataclass
class SheetScan:
    """What the raw XML says: cells holding a formula, and merged ranges."""
    formula_cells: set[tuple[int, int]] = field(default_factory=set)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # row1, col1, row2, col2

    def merged_range(self, row: int, col: int) -> tuple[int, int, int, int] | None:
        for r1, c1, r2, c2 in self.merged:
            if r1 <= row <= r2 and c1 <= col <= c2:
                return r1, c1, r2, c2
        return None


def scan_sheet_xml(stream) -> SheetScan:
    """Stream the sheet's XML once (bounded memory) and collect formula cells and merges."""
    scan = SheetScan()
    carry = b""
    while True:
        chunk = stream.read(_CHUNK)
        final = not chunk
        buffer = carry + chunk
        limit = len(buffer) if final else max(len(buffer) - _OVERLAP, 0)
        accepted = 0
        if _ANY_FORMULA.search(buffer):
            for m in _FORMULA_CELL.finditer(buffer):
                if m.end() > limit:
                    break
                column = column_index_from_string(m.group(1).decode())
                scan.formula_cells.add((int(m.group(2)), column))
                accepted = m.end()
        if b"mergeCell" in buffer:
            for m in _MERGE.finditer(buffer):
                if m.end() > limit:
                    break
                c1, r1 = column_index_from_string(m.group(1).decode()), int(m.group(2))
                c2 = column_index_from_string(m.group(3).decode()) if m.group(3) else c1
                r2 = int(m.group(4)) if m.group(4) else r1
                scan.merged.append((r1, c1, r2, c2))
                accepted = max(accepted, m.end())
        if final:
            return scan
        carry = buffer[max(limit, accepted):]


def cell_text(value):
    """An Excel value as the import reads it: integral floats lose their ".0" (phone numbers
    typed as numbers), dates become ISO text, text stays exactly as typed."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return int(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def column_letter(index: int) -> str:
    """1 -> A."""
    return get_column_letter(index)


class SheetReader:
    """The first worksheet of a checked .xlsx. Use as a context manager."""

    def __init__(self, path):
        check_zip(path)
        try:
            self.book = load_read_only(path)
        except Exception:  # openpyxl raises many kinds on a broken package
            raise ImportRefused("import.not_excel") from None
        try:
            if not self.book.worksheets:
                raise ImportRefused("import.not_excel")
            self.sheet = self.book.worksheets[0]
            self.declared_rows = self.sheet.max_row if isinstance(self.sheet.max_row, int) else None
            sheet_path = getattr(self.sheet, "_worksheet_path", None)
            if sheet_path is None:  # a chart sheet or an unexpected openpyxl change
                raise ImportRefused("import.not_excel")
            with zipfile.ZipFile(path) as archive, archive.open(sheet_path) as stream:
                self.scan = scan_sheet_xml(stream)
        except ImportRefused:
            self.close()
            raise
        except Exception:
            self.close()
            raise ImportRefused("import.not_excel") from None

    def close(self) -> None:
        self.book.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def rows(self, max_col: int):
        """(row number, values) for every row in the file; values stop at max_col. Rows
        are numbered as in Excel, whatever the sheet's declared dimension says."""
        try:
            for number, values in sheet_values(self.book, self.sheet, max_col):
                if number > EXCEL_LAST_ROW:
                    raise ImportRefused("import.not_excel")
                yield number, values
        except ImportRefused:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, IndexError,
                SyntaxError, TypeError):
            # a corrupt stream (CRC), broken XML, a shared-string index out of range...
            raise ImportRefused("import.not_excel") from None
