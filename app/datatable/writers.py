"""The export files of a list: Excel (rustpy-xlsxwriter, streamed) and CSV, every text neutralised."""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import queue
import re
import threading
from datetime import date, datetime, time, timedelta
from itertools import repeat
from pathlib import Path
from typing import Any

from app.datatable.model import EXPORT_CHUNK, FORMULA_PREFIXES
from app.jobs.children import die_with_parent


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


# The kinds of value a column may hold and go to the Excel writer as they are (text still checked).
_PLAIN = frozenset({str, type(None), bool, int, float, datetime})
# In a column's texts joined by NUL: one that starts like a formula (a NUL inside a text can only
# add a false alarm, which costs the cell-by-cell way, never a miss).
_FORMULA_START = re.compile("(?:^|\x00)[" + re.escape("".join(FORMULA_PREFIXES)) + "]")


def _clean_column(values: list) -> list:
    """``_cell`` over a column, done in C for the common column (texts none of which looks like a
    formula or is empty, numbers, date-times, empty cells): it is then given back as it is;
    otherwise cell by cell. A million rows' export has nine million cells."""
    kinds = set(map(type, values))
    if kinds <= _PLAIN and (str not in kinds or (
            kinds <= {str, type(None)} and "" not in values
            and not _FORMULA_START.search("\x00".join(filter(None, values))))):
        return values
    return list(map(_cell, values))


_EXCEL_EPOCH = datetime(1899, 12, 30)
_EXCEL_EXACT_FROM = datetime(1900, 3, 1)  # before it, Excel's serials count a 29 February 1900
_DAY = timedelta(days=1)
_SERIAL_DATETIME = object()  # a column's first value: Excel serial numbers that are date-times


def _excel_serials(values: list) -> list | None:
    """A column of date-times (naive, local) as Excel's serial numbers, the days since its epoch —
    a float crosses a pipe five times cheaper than a datetime; None for any other column."""
    kinds = set(map(type, values))
    if datetime not in kinds or not kinds <= {datetime, type(None)}:
        return None
    try:
        if min(filter(None, values)) < _EXCEL_EXACT_FROM:
            return None
        return [None if v is None else (v - _EXCEL_EPOCH) / _DAY for v in values]
    except TypeError:  # an aware date-time: sent as it is
        return None


def _from_serials(columns: list[list], serial_datetimes: tuple[int, ...]) -> list[list]:
    """The serial columns (``_excel_serials``) as date-times again, to the millisecond (a float of
    days holds no more: 10:00 must not come back as 09:59:59.999999)."""
    columns = list(columns)
    for col in serial_datetimes:
        columns[col] = [None if x is None else _EXCEL_EPOCH + timedelta(milliseconds=round(x * 86_400_000))
                        for x in columns[col]]
    return columns


def _first_values(columns) -> list:
    """Each column's first value that is not empty (None if none): what decides a date column."""
    return [next((v for v in column if v not in (None, "")), None) for column in columns]


_DONE = object()
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"


class XlsxWriter:
    """The Excel file of a list, written by rustpy-xlsxwriter (Rust) in constant memory.

    Measured against xlsxwriter (constant_memory, ~10 µs a cell in Python) and polars'
    write_excel (xlsxwriter again, the whole frame in memory) in bench/export_users.py. Once a sheet
    passes STREAM_AFTER rows, the Rust writer runs in a thread of its own and reads the rows from a
    generator that ``write_rows`` feeds a chunk at a time through a queue of two chunks: a large
    export streams (``write_columns``: a list's export, its common columns cleaned in C). A job's
    export runs it in a child process (ChildWriter). A workbook of several sheets (``add_sheet``)
    is for small tables: its sheets are written at ``close``. Every text is written as a text cell,
    never as a formula, a number or a link, and is neutralised as well, so a copy-paste into
    another sheet stays inert. Dates and date-times are real Excel dates.
    """

    STREAM_AFTER = 2 * EXPORT_CHUNK

    def __init__(self, headers: list[str], sheet: str = "Export", heading: tuple[str, ...] = (),
                 to: Path | None = None):
        """``to``: the scratch file to write (a job's large export: ``close`` returns its path and the
        file never sits in memory); without it the file is made in memory and ``close`` returns it."""
        # name, headers, rows not yet handed over (their cells as the Excel writer takes them), and
        # each column's first value seen before the writer starts (a date column gets a date format)
        self._sheets: list[tuple[str, list[str], list, list]] = []
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
        self._sheets.append((name[:31], [neutralise(h) for h in headers], [], [None] * len(headers)))

    @staticmethod
    def _records(headers: list[str], rows):
        """The writer's records: a dict a row, made in C (the cells are clean already)."""
        return map(dict, map(zip, repeat(headers), rows))

    def _streamed(self, headers: list[str], pending: list):
        yield from self._records(headers, pending)
        pending.clear()
        while (chunk := self._queue.get()) is not _DONE:
            yield from self._records(headers, chunk)

    def _start(self) -> None:
        import rustpy_xlsxwriter

        day = rustpy_xlsxwriter.Format().set_num_format("dd/mm/yyyy")
        stamp = rustpy_xlsxwriter.Format().set_num_format(DATETIME_FORMAT)
        # Heading lines (each merged across the table), an empty row, then the table's header.
        header_row = len(self._heading) + 1 if self._heading else 0
        book = (rustpy_xlsxwriter.FastExcel(str(self._to) if self._to is not None else self._buffer,
                                            output_format="xlsx")
                .format(datetime_format=DATETIME_FORMAT, bold_headers=True)
                .freeze(row=header_row + 1))
        last = len(self._sheets) - 1
        for index, (name, headers, pending, samples) in enumerate(self._sheets):
            # A column whose values are dates (not date-times) shows them without a time.
            formats = [stamp if sample is _SERIAL_DATETIME else
                       day if isinstance(sample, date) and not isinstance(sample, datetime) else None
                       for sample in samples]
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
        rows = list(rows)
        if self._thread is None:
            self._note_first_values(zip(*rows))
        self._push([tuple(map(_cell, values)) for values in rows])

    def write_columns(self, columns: list[list[Any]], serial_datetimes: tuple[int, ...] = ()) -> None:
        """The same rows given column by column (a list's export): cleaned a column at a time.
        ``serial_datetimes``: the columns holding date-times as Excel serial numbers (ChildWriter's)."""
        samples = self._sheets[-1][3]
        if self._thread is None:
            for col in serial_datetimes:
                if samples[col] is None:
                    samples[col] = _SERIAL_DATETIME
            self._note_first_values(columns)
        # A column whose format was settled otherwise (its first values were empty, texts or
        # date-times as objects, the writer started since): its serials go as date-times again.
        again = tuple(col for col in serial_datetimes if samples[col] is not _SERIAL_DATETIME)
        if again:
            columns = _from_serials(columns, again)
        self._push(list(zip(*map(_clean_column, columns))))

    def _note_first_values(self, columns) -> None:
        samples = self._sheets[-1][3]
        if None in samples:
            for col, value in enumerate(_first_values(columns)):
                if samples[col] is None:
                    samples[col] = value

    def _push(self, rows: list[tuple]) -> None:
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

    def write_columns(self, columns: list[list[Any]], serial_datetimes: tuple[int, ...] = ()) -> None:
        """The same rows given column by column; ``serial_datetimes``: columns of date-times as Excel
        serial numbers (ChildWriter's), written as date-times."""
        self.write_rows(zip(*_from_serials(columns, serial_datetimes)))

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


def _write_in_child(messages, replies, parent_pid: int, fmt: str, options: dict) -> None:
    """In the writer's child process: the writer of ``fmt`` fed by the parent's messages —
    ``("write_columns", columns, serial_datetimes)`` —, closed at ``None``; replies ``None`` once the
    file is written, else the failure's text."""
    die_with_parent(parent_pid)
    writer = None
    try:
        writer = (CsvWriter if fmt == "csv" else XlsxWriter)(**options)
        while (message := messages.recv()) is not None:
            method, *payload = message
            getattr(writer, method)(*payload)
        writer.close()
    except BaseException as exc:  # told to the parent, which raises it (short: a pipe's buffer holds it)
        if writer is not None:
            writer.discard()
        replies.send(f"{type(exc).__name__}: {exc}"[:2000])
        return
    replies.send(None)


class ChildWriter:
    """A list's export writer (XlsxWriter, or CsvWriter for ``fmt`` "csv") in a process of its own,
    for a job's large export (``export_writer``).

    Writing is half of an export's work (rustpy-xlsxwriter's XML and deflate: ~10 s for 1,000,000
    rows × 9 columns; Python's csv, ~5 s) and the other half is Python reading and shaping the rows:
    in one process the two take turns on the GIL (Excel: 21 s on 2 cores, bench/export_users.py at
    BENCH_SCALE=10). Here the parent reads and shapes while the child writes: the rows go through a
    pipe a chunk at a time, and a parent that gets ahead waits on the pipe, so memory stays bounded
    on both sides. The child is spawned (a fork would copy the worker's event loop and connections)
    and dies with its parent (app/jobs/children.py). What a list's export calls: ``write_columns``,
    ``close``, ``discard``; build it on the thread that outlives the export (the event loop's)."""

    def __init__(self, fmt: str, headers: list[str], heading: tuple[str, ...] = (), *, to: Path,
                 slot: threading.Semaphore | None = None):
        self._to = to
        self._slot = slot
        self._released = False
        self._sending = threading.Lock()  # a send under way, which discard waits for
        try:
            context = multiprocessing.get_context("spawn")
            messages, self._messages = context.Pipe(duplex=False)
            self._replies, replies = context.Pipe(duplex=False)
            self._process = context.Process(
                target=_write_in_child,
                args=(messages, replies, os.getpid(), fmt, {"headers": headers, "heading": tuple(heading), "to": to}),
                name=f"{fmt}-writer", daemon=True)
            try:
                self._process.start()
            finally:
                messages.close()
                replies.close()
        except BaseException:
            self._release()
            raise

    def _send(self, message) -> None:
        with self._sending:
            if self._released:  # discarded meanwhile (a cancelled export)
                raise RuntimeError("L'écriture du fichier a été interrompue.")
            try:
                self._messages.send(message)
            except (BrokenPipeError, ConnectionResetError, OSError) as exc:  # the child stopped: say why
                raise RuntimeError(f"L'écriture du fichier s'est arrêtée ({self._failure()}).") from exc

    def _failure(self) -> str:
        try:
            if self._replies.poll(5):
                return self._replies.recv() or "fin inattendue"
        except (EOFError, OSError):
            pass
        self._process.join(5)
        return f"processus terminé, code {self._process.exitcode}"

    def write_columns(self, columns: list[list[Any]]) -> None:
        """Blocks while the child is behind (run it in a thread). Date-time columns cross as Excel
        serial numbers (with the date-time format)."""
        sent, serials = [], []
        for col, values in enumerate(columns):
            numbers = _excel_serials(values)
            sent.append(values if numbers is None else numbers)
            if numbers is not None:
                serials.append(col)
        self._send(("write_columns", sent, tuple(serials)))

    def close(self) -> Path:
        try:
            self._send(None)
            try:
                failure = self._replies.recv()
            except (EOFError, OSError):
                self._process.join(5)
                failure = f"processus terminé, code {self._process.exitcode}"
            if failure is not None:
                raise RuntimeError(f"L'écriture du fichier a échoué ({failure}).")
            self._process.join()
            return self._to
        finally:
            self._release()

    def discard(self) -> None:
        """After a failure or a cancellation (after close: nothing is left to do). A send under way
        in a thread fails once the child is gone; the pipes are closed after it."""
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        with self._sending:
            self._release()

    def _release(self) -> None:
        """The pipes closed and the slot given back, once."""
        if self._released:
            return
        self._released = True
        for end in ("_messages", "_replies"):
            if hasattr(self, end):
                getattr(self, end).close()
        if self._slot is not None:
            self._slot.release()


# At most one writer child per core in a worker process, however many exports it runs at once; an
# export that finds none free writes in its own process, as a small one does.
_CHILD_SLOTS = threading.BoundedSemaphore(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                          else os.cpu_count() or 1)


def export_writer(fmt: str, headers: list[str], heading: tuple[str, ...] = (), to: Path | None = None):
    """The writer of a list's export (``fmt``: "xlsx" or "csv"): a job's file (``to``) is written by
    a child process (ChildWriter) when one is free; a file made in memory (a request's small
    export), in-process."""
    if to is not None and _CHILD_SLOTS.acquire(blocking=False):
        return ChildWriter(fmt, headers, heading, to=to, slot=_CHILD_SLOTS)
    return CsvWriter(headers, heading, to=to) if fmt == "csv" else XlsxWriter(headers, heading=heading, to=to)
