"""The export files of a list: Excel (rustpy-xlsxwriter, streamed) and CSV, every text neutralised."""

from __future__ import annotations

import csv
import io
import queue
import threading
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from app.datatable.model import EXPORT_CHUNK, FORMULA_PREFIXES


def neutralise(value: Any) -> Any:
    """A spreadsheet must never run what a user typed: '=cmd|…' becomes the text "'=cmd|…"."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


_AS_IS = (bool, int, float, datetime)


def _cell(value: Any) -> Any:
    """A value as the Excel writer takes it: text neutralised, a date as a date-time at midnight
    (its column gets a date format), nothing for an empty value."""
    kind = type(value)
    if kind is str:  # most cells: checked first
        if not value:
            return None
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if value is None or kind in _AS_IS:
        return value
    if isinstance(value, str):
        return neutralise(value) or None
    if isinstance(value, (bool, int, float, datetime)):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    return neutralise(str(value))


_DONE = object()


class XlsxWriter:
    """The Excel file of a list, written by rustpy-xlsxwriter (Rust) in constant memory.

    Measured against xlsxwriter (constant_memory, ~10 µs a cell in Python) and polars'
    write_excel (xlsxwriter again, the whole frame in memory) in bench/export_users.py. Once a sheet
    passes STREAM_AFTER rows, the Rust writer runs in a thread of its own and reads the rows from a
    generator that ``write_rows`` feeds a chunk at a time through a queue of two chunks: a large
    export streams. A workbook of several sheets (``add_sheet``) is for small tables: its sheets
    are written at ``close``. Every text is written as a text cell, never as a formula, a number or
    a link, and is neutralised as well, so a copy-paste into another sheet stays inert. Dates and
    date-times are real Excel dates.
    """

    STREAM_AFTER = 2 * EXPORT_CHUNK

    def __init__(self, headers: list[str], sheet: str = "Export", heading: tuple[str, ...] = (),
                 to: Path | None = None):
        """``to``: the scratch file to write (a job's large export: ``close`` returns its path and the
        file never sits in memory); without it the file is made in memory and ``close`` returns it."""
        self._sheets: list[tuple[str, list[str], list]] = []  # name, headers, rows not yet handed over
        self._heading = [neutralise(line) for line in heading]  # the first sheet's lines above its table
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._to = to
        self._buffer = io.BytesIO()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.add_sheet(sheet, headers)

    @property
    def headers(self) -> list[str]:
        return self._sheets[-1][1]

    def add_sheet(self, name: str, headers: list[str]) -> None:
        """Start another sheet (a workbook of several small tables)."""
        if self._thread is not None:
            raise RuntimeError("A workbook of several sheets is written at close: add them before a large one.")
        self._sheets.append((name[:31], [neutralise(h) for h in headers], []))

    @staticmethod
    def _records(headers: list[str], rows):
        cell = _cell
        for values in rows:
            yield dict(zip(headers, map(cell, values)))

    def _streamed(self, headers: list[str], pending: list):
        yield from self._records(headers, pending)
        pending.clear()
        while (chunk := self._queue.get()) is not _DONE:
            yield from self._records(headers, chunk)

    def _start(self) -> None:
        import rustpy_xlsxwriter

        day = rustpy_xlsxwriter.Format().set_num_format("dd/mm/yyyy")
        # Heading lines (each merged across the table), an empty row, then the table's header.
        header_row = len(self._heading) + 1 if self._heading else 0
        book = (rustpy_xlsxwriter.FastExcel(str(self._to) if self._to is not None else self._buffer,
                                            output_format="xlsx")
                .format(datetime_format="dd/mm/yyyy hh:mm", bold_headers=True)
                .freeze(row=header_row + 1))
        last = len(self._sheets) - 1
        for index, (name, headers, pending) in enumerate(self._sheets):
            # A column whose values are dates (not date-times) shows them without a time.
            formats = []
            for col in range(len(headers)):
                sample = next((r[col] for r in pending if r[col] not in (None, "")), None)
                formats.append(day if isinstance(sample, date) and not isinstance(sample, datetime) else None)
            data = self._streamed(headers, pending) if index == last else self._records(headers, pending)
            banner = {}
            if index == 0 and self._heading:
                bold = rustpy_xlsxwriter.Format().set_bold()
                wide = max(len(headers) - 1, 0)
                banner = {"header_row": header_row, "merge_ranges": [
                    (row, 0, row, wide, line, bold if row == 0 else None) for row, line in enumerate(self._heading)]}
            book = book.sheet(name, data, column_widths=[max(12, min(40, len(h) + 4)) for h in headers],
                              column_formats=formats, autofilter=True, **banner)

        def write() -> None:
            try:
                book.save()
            except BaseException as exc:  # handed to the caller by write_rows / close
                self._error = exc
                while self._queue.get() is not _DONE:  # let a blocked producer finish
                    pass

        self._thread = threading.Thread(target=write, name="xlsx-writer", daemon=True)
        self._thread.start()

    def _put(self, item) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._thread is None or not self._thread.is_alive():
                    raise RuntimeError("L'écriture du fichier Excel s'est arrêtée.") from self._error

    def write_rows(self, rows: list[list[Any]]) -> None:
        """Blocks while the writer is two chunks behind (run it in a thread)."""
        if self._error is not None:
            raise self._error
        if self._thread is not None:
            self._put(rows)
            return
        pending = self._sheets[-1][2]
        pending.extend(rows)
        if len(self._sheets) == 1 and len(pending) >= self.STREAM_AFTER:
            self._start()

    def close(self) -> bytes | Path:
        if self._thread is None:
            self._start()
        self._put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._to if self._to is not None else self._buffer.getvalue()

    def discard(self) -> None:
        """After a failure or a cancellation: end the writer's thread."""
        if self._thread is not None and self._thread.is_alive():
            threading.Thread(target=self._put, args=(_DONE,), daemon=True).start()


class CsvWriter:
    """The text export: UTF-8 with a BOM and ";" between fields, as French spreadsheets open it;
    dates as dd/mm/yyyy hh:mm; every string neutralised like the Excel cells."""

    def __init__(self, headers: list[str], heading: tuple[str, ...] = (), to: Path | None = None):
        """``to``: the scratch file to write (``close`` returns its path), as XlsxWriter's."""
        self._to = to
        self._buffer = open(to, "w", encoding="utf-8", newline="") if to is not None else io.StringIO()
        self._buffer.write("\ufeff")
        self._csv = csv.writer(self._buffer, delimiter=";", lineterminator="\r\n")
        if heading:  # what the file is about, one line each, then an empty line
            self._csv.writerows([[neutralise(line)] for line in heading] + [[]])
        self._csv.writerow([neutralise(h) for h in headers])

    def write_rows(self, rows: list[list[Any]]) -> None:
        cell = self._cell
        self._csv.writerows([list(map(cell, values)) for values in rows])

    @staticmethod
    def _cell(value: Any) -> Any:
        kind = type(value)  # the common kinds by identity first: 180,000 cells for a large session
        if value is None:
            return ""
        if kind is str:
            return "'" + value if value.startswith(FORMULA_PREFIXES) else value
        if kind is int:
            return value
        if kind is float:  # French spreadsheets read "3,5" as a number, "3.5" as text or thousands
            return str(value).replace(".", ",")
        if kind is bool:
            return "Oui" if value else "Non"
        if isinstance(value, datetime):
            return value.strftime("%d/%m/%Y %H:%M")
        if isinstance(value, (bool, int, float)):
            return "Oui" if value is True else "Non" if value is False else str(value).replace(".", ",")
        return neutralise(str(value))

    def close(self) -> bytes | Path:
        if self._to is not None:
            self._buffer.close()
            return self._to
        return self._buffer.getvalue().encode("utf-8")

    def discard(self) -> None:
        if self._to is not None:
            self._buffer.close()
        self._buffer = io.StringIO()
