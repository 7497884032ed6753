"""Opening an uploaded .xlsx safely and reading one of its sheets row by row (C9).

What is not an .xlsx is named (an old .xls, a CSV or web page renamed, a truncated file, a
macro workbook) so that the user knows what to do. The sheet read is the one asked for, else
the active sheet if visible, else the first visible one. Rows are read until the last one in
the file, or until EMPTY_RUN blank rows in a row (a sheet formatted down to row 1,048,576):
the declared <dimension> is never trusted. A vertical merge's value is given to every row
it covers.

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
from collections import defaultdict
from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string

from models.imports.messages import ImportRefused
from models.imports.xlsx import close_book, load_read_only, sheet_values

MAX_ROWS = 200_000                      # data rows per file
MAX_UNPACKED = 200 * 1024 * 1024        # bytes, all members together
MAX_RATIO = 100                         # unpacked / packed, for members over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_MEMBERS = 1000
EXCEL_LAST_ROW = 1_048_576
EMPTY_RUN = 1000                        # blank rows in a row after which reading stops
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # .xls, .doc, an encrypted .xlsx
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


def _head(path, size: int = 4096) -> bytes:
    if hasattr(path, "read"):
        position = path.tell()
        head = path.read(size)
        path.seek(position)
        return head
    with open(path, "rb") as stream:
        return stream.read(size)


def not_a_package(head: bytes) -> str:
    """The refusal key for a file that is not a zip: what it looks like instead."""
    if head.startswith(OLE2_MAGIC):
        return "import.xls"
    if head.startswith(b"PK\x03\x04"):
        return "import.truncated"
    if not head or b"\0" in head:
        return "import.not_excel"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = head.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return "import.not_excel"
    lowered = text.lstrip().lower()
    if lowered.startswith("<") and ("<html" in lowered or "<table" in lowered):
        return "import.html"
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and any(sep in lines[0] for sep in (",", "\t", ";", "，")):
        return "import.csv"
    return "import.not_excel"


def check_zip(path) -> None:
    """Refuse what is not an .xlsx package (saying what it is), macro workbooks, and zip
    bombs, from the first bytes and the zip directory alone."""
    head = _head(path)
    if not head.startswith(b"PK"):
        raise ImportRefused(not_a_package(head))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
            if len(members) > MAX_MEMBERS or not all(n in names for n in REQUIRED_MEMBERS):
                raise ImportRefused("import.not_excel")
            if any(n.lower().endswith("vbaproject.bin") for n in names) or (
                    b"macroenabled" in archive.read("[Content_Types].xml")[:100_000].lower()):
                raise ImportRefused("import.macro")
            total = sum(m.file_size for m in members)
            if total > MAX_UNPACKED:
                raise ImportRefused("import.too_big_unpacked", size=total // (1024 * 1024),
                                    limit=MAX_UNPACKED // (1024 * 1024))
            for m in members:
                if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
                    raise ImportRefused("import.zip_bomb", member=m.filename[:80])
    except (zipfile.BadZipFile, EOFError):
        # a zip whose directory is gone: the end of the file was cut off
        raise ImportRefused("import.truncated" if head.startswith(b"PK\x03\x04")
                            else "import.not_excel") from None
    except (OSError, ValueError, NotImplementedError, KeyError):
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

    def banner(self, row: int, values) -> str | None:
        """"A1:N1" when the row is a banner: its one value heads a merge across 3+ columns
        (a "—— 华东区 ——" line between data rows)."""
        filled = [i for i, v in enumerate(values) if not is_blank(v)]
        if len(filled) != 1:
            return None
        for r1, c1, r2, c2 in self.merged:
            if r1 == row and c1 == filled[0] + 1 and c2 - c1 >= 2:
                return "%s%d:%s%d" % (column_letter(c1), r1, column_letter(c2), r2)
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


def choose_sheet(book, name: str | None = None):
    """The sheet called `name` (visible), else the active sheet if visible, else the first
    visible one."""
    visible = [ws for ws in book.worksheets if ws.sheet_state == "visible"]
    if name:
        for ws in visible:
            if ws.title == name:
                return ws
        raise ImportRefused("import.sheet_not_found", sheet=name[:40])
    if not visible:
        raise ImportRefused("import.no_visible_sheet")
    try:
        active = book.active
    except (IndexError, AttributeError):
        active = None
    return active if active in visible else visible[0]


class SheetReader:
    """One worksheet of a checked .xlsx (choose_sheet). Use as a context manager."""

    def __init__(self, path, sheet: str | None = None, *, scan: bool = True):
        """`scan`: stream the whole sheet's XML for formula cells and merges (the import);
        without it (a preflight reading the header) none are known."""
        check_zip(path)
        try:
            self.book = load_read_only(path)
        except Exception:  # openpyxl raises many kinds on a broken package
            raise ImportRefused("import.not_excel") from None
        self.stopped_at: int | None = None   # the first row of the blank run that ended reading
        try:
            if not self.book.worksheets:
                raise ImportRefused("import.not_excel")
            self.sheets = [ws.title for ws in self.book.worksheets if ws.sheet_state == "visible"]
            self.sheet = choose_sheet(self.book, sheet)
            self.declared_rows = self.sheet.max_row if isinstance(self.sheet.max_row, int) else None
            sheet_path = getattr(self.sheet, "_worksheet_path", None)
            if sheet_path is None:  # a chart sheet or an unexpected openpyxl change
                raise ImportRefused("import.not_excel")
            if scan:
                with zipfile.ZipFile(path) as archive, archive.open(sheet_path) as stream:
                    self.scan = scan_sheet_xml(stream)
            else:
                self.scan = SheetScan()
        except ImportRefused:
            self.close()
            raise
        except Exception:
            self.close()
            raise ImportRefused("import.not_excel") from None

    def close(self) -> None:
        close_book(self.book)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def rows(self, max_col: int):
        """(row number, values) for every row in the file, until EMPTY_RUN blank rows in a
        row; values stop at max_col. Rows are numbered as in Excel, whatever the sheet's
        declared dimension says. A cell covered by a vertical merge has the merge's value."""
        starts = defaultdict(list)      # first row -> [(column, last row)] of vertical merges
        for r1, c1, r2, _ in self.scan.merged:
            if r2 > r1 and c1 <= max_col:
                starts[r1].append((c1, r2))
        carried: list[tuple[int, int, object]] = []   # (column, last row, value)
        blank_run = 0
        try:
            for number, values in sheet_values(self.book, self.sheet, max_col):
                if number > EXCEL_LAST_ROW:
                    raise ImportRefused("import.not_excel")
                if carried:
                    carried = [c for c in carried if c[1] >= number]
                    for column, _, value in carried:
                        if values[column - 1] is None:
                            values[column - 1] = value
                if number in starts:
                    carried += [(c, r2, values[c - 1]) for c, r2 in starts[number]]
                if values.count(None) == len(values) or all(is_blank(v) for v in values):
                    blank_run += 1
                    if blank_run >= EMPTY_RUN:
                        self.stopped_at = number - blank_run + 1
                        return
                    continue
                blank_run = 0
                yield number, values
        except ImportRefused:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, IndexError,
                SyntaxError, TypeError):
            # a corrupt stream (CRC), broken XML, a shared-string index out of range...
            raise ImportRefused("import.not_excel") from None
