"""Reading a workbook with openpyxl in read-only, data-only mode, faster where openpyxl is
slow for large sheets.

openpyxl builds a rich-text object for every shared string and every inline string cell;
on a 100,000-row sheet that is a third of the import's time. Here strings are read from the
same XML elements without that object (same text: the plain <t>, then the <t> of each rich
run, phonetic runs left out). Everything else is openpyxl's own code: load_workbook's
reader, the sheet parser (numbers, dates, booleans, cached formula results). These hooks use
openpyxl internals; should they change, `sheet_values` falls back to the public iter_rows
(tests/models/imports/test_importer.py checks both give the same rows and that the fast path is in use)."""
from __future__ import annotations

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

try:
    from openpyxl.worksheet._reader import WorkSheetParser
except ImportError:  # pragma: no cover - a future openpyxl
    WorkSheetParser = None

_SI, _T, _R, _IS = ("{%s}%s" % (SHEET_MAIN_NS, tag) for tag in ("si", "t", "r", "is"))


def string_content(node) -> str:
    """The text of an <si> or <is> element, as openpyxl's Text.content gives it."""
    parts = []
    for child in node:
        if child.tag == _T:
            if child.text is not None:
                parts.append(child.text)
        elif child.tag == _R:
            run = child.find(_T)
            if run is not None and run.text is not None:
                parts.append(run.text)
    return "".join(parts)


def read_string_table(stream) -> list[str]:
    """openpyxl.reader.strings.read_string_table, without a Text object per string."""
    strings = []
    for _, node in iterparse(stream):
        if node.tag == _SI:
            strings.append(string_content(node).replace("x005F_", ""))
            node.clear()
    return strings


class _BookReader(ExcelReader):
    """The reader load_workbook runs, with the faster string table."""

    def read_strings(self):
        content = self.package.find(SHARED_STRINGS)
        if content is not None:
            with self.archive.open(content.PartName[1:]) as stream:
                self.shared_strings = read_string_table(stream)


def load_read_only(path):
    """load_workbook(path, read_only=True, data_only=True)."""
    reader = _BookReader(path, read_only=True, data_only=True)
    reader.read()
    return reader.wb


if WorkSheetParser is not None:
    class _SheetParser(WorkSheetParser):
        """openpyxl's sheet parser; inline strings read without a Text object."""

        def parse_cell(self, element):
            if element.get("t") != "inlineStr":
                return super().parse_cell(element)
            coordinate = element.get("r")
            if coordinate:
                row, column = coordinate_to_tuple(coordinate)
                self.col_counter = column
            else:
                self.col_counter += 1
                row, column = self.row_counter, self.col_counter
            child = element.find(_IS)
            style_id = element.get("s", 0)
            return {"row": row, "column": column,
                    "value": string_content(child) if child is not None else None,
                    "data_type": "s" if child is not None else "inlineStr",
                    "style_id": int(style_id) if style_id else 0}


def _fast_parser(book, sheet):
    """openpyxl's parser for the read-only `sheet`, or None if openpyxl has changed."""
    if WorkSheetParser is None:
        return None, None
    try:
        source = sheet._get_source()
        parser = _SheetParser(source, sheet._shared_strings, data_only=book.data_only,
                              epoch=book.epoch, date_formats=book._date_formats,
                              timedelta_formats=book._timedelta_formats)
    except (AttributeError, TypeError):
        return None, None
    return source, parser


def sheet_values(book, sheet, max_col: int):
    """(row number, values) for each row element of the sheet, values[0..max_col)."""
    source, parser = _fast_parser(book, sheet)
    if parser is None:
        yield from _public_values(sheet, max_col)
        return
    with source:
        for number, cells in parser.parse():
            values = [None] * max_col
            for cell in cells:
                column = cell["column"]
                if column <= max_col:
                    values[column - 1] = cell["value"]
            yield number, values


def _public_values(sheet, max_col: int):
    """The same through openpyxl's public API (slower; blank rows included)."""
    sheet.reset_dimensions()  # the declared dimension may lie either way
    for number, values in enumerate(sheet.iter_rows(min_row=1, max_col=max_col,
                                                    values_only=True), 1):
        yield number, list(values)
