"""Reading a workbook with openpyxl in read-only, data-only mode, faster where openpyxl is
slow for large sheets.

openpyxl builds a rich-text object for every shared string and every inline string cell;
on a 100,000-row sheet that is a third of the import's time. Here strings are read from the
same XML elements without that object (same text: the plain <t>, then the <t> of each rich
run, phonetic runs left out). Everything else is openpyxl's own code: load_workbook's
reader, the sheet parser (numbers, dates, booleans, cached formula results). These hooks use
openpyxl internals; should they change, `sheet_values` falls back to the public iter_rows
(tests/models/imports/test_importer.py checks both give the same rows and that the fast path is in use).

The shared strings are not all read when the workbook opens: `SharedStrings` reads them as
the rows ask for them, and keeps them as UTF-8 in one buffer. A sheet of 200,000 rows of
mostly distinct text has ~2 million of them: ~180 MB as a list of Python strings, and a
header read (the upload's preflight) would read them all."""
from __future__ import annotations

from array import array
from xml.parsers import expat

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

try:
    from openpyxl.worksheet._reader import WorkSheetParser
except ImportError:  # pragma: no cover - a future openpyxl
    WorkSheetParser = None

_SI, _T, _R, _IS = ("{%s}%s" % (SHEET_MAIN_NS, tag) for tag in ("si", "t", "r", "is"))
_SST_SI, _SST_T, _SST_RPH = (SHEET_MAIN_NS + "}" + tag for tag in ("si", "t", "rPh"))  # expat's names


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


class SharedStrings:
    """The shared string table (xl/sharedStrings.xml) as openpyxl's sheet parser indexes it,
    each string read from the XML when first asked for (strings are numbered in the order
    they appear) and kept encoded. The text is that of `string_content`: the <t> of the <si>
    and of its rich runs, phonetic runs (<rPh>) left out. An index past the table's end is an
    IndexError, as for a list. `close()` closes the XML stream."""

    CHUNK = 1 << 16

    def __init__(self, stream):
        self._stream = stream
        self._text = bytearray()
        self._ends = array("Q")
        self._parts: list[str] = []
        self._in_t = False
        self._phonetic = 0
        self._parser = expat.ParserCreate(namespace_separator="}")
        self._parser.buffer_text = True
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._data

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        while len(self._ends) <= index:
            self._read_more()
        start = self._ends[index - 1] if index else 0
        return self._text[start:self._ends[index]].decode()

    def _read_more(self) -> None:
        if self._parser is None:
            raise IndexError("no more shared strings")
        chunk = self._stream.read(self.CHUNK)
        try:
            self._parser.Parse(chunk, not chunk)
        except expat.ExpatError as exc:
            raise SyntaxError(str(exc)) from None
        if not chunk:
            self._parser = None
            self.close()

    def _start(self, name: str, attrs) -> None:
        if name == _SST_T and not self._phonetic:
            self._in_t = True
        elif name == _SST_RPH:
            self._phonetic += 1

    def _end(self, name: str) -> None:
        if name == _SST_T:
            self._in_t = False
        elif name == _SST_SI:
            self._text += "".join(self._parts).replace("x005F_", "").encode()
            self._parts.clear()
            self._ends.append(len(self._text))
        elif name == _SST_RPH:
            self._phonetic -= 1

    def _data(self, text: str) -> None:
        if self._in_t:
            self._parts.append(text)

    def close(self) -> None:
        self._stream.close()


class _BookReader(ExcelReader):
    """The reader load_workbook runs, with the lazy, compact string table."""

    def read_strings(self):
        content = self.package.find(SHARED_STRINGS)
        if content is not None:
            self.shared_strings = SharedStrings(self.archive.open(content.PartName[1:]))


def load_read_only(path):
    """load_workbook(path, read_only=True, data_only=True); close it with `close_book`."""
    reader = _BookReader(path, read_only=True, data_only=True)
    try:
        reader.read()
    except BaseException:
        close_strings(reader.shared_strings)
        raise
    reader.wb.shared_string_table = reader.shared_strings
    return reader.wb


def close_strings(strings) -> None:
    if isinstance(strings, SharedStrings):
        strings.close()


def close_book(book) -> None:
    """Close a workbook from load_read_only, and its shared strings' XML stream."""
    close_strings(getattr(book, "shared_string_table", None))
    book.close()


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
