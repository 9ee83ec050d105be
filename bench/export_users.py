"""Excel export of 100,000 users on PostgreSQL (issue 8: <= 5 s inside the job).

Prints, best and median of BENCH_ROUNDS rounds (the machine is shared):
- reading the 100,000 rows through the cursor and shaping them (the list's export values);
- writing those rows with each library: xlsxwriter as the export wrote it before (constant_memory,
  a type dispatch a cell), xlsxwriter tuned (constant_memory, write_row, pre-built formats),
  rustpy-xlsxwriter (what app/datatable/writers.py's XlsxWriter uses now) and polars' write_excel
  (xlsxwriter underneath, the whole frame in memory);
- the export job itself (app/jobs/exports.py: read, shape, write to the worker's scratch file, store
  it in the database a chunk at a time), each run in a fresh process (_setup.in_fresh_process), its
  CPU and its PostgreSQL backends', and its peak memory with its children (issue 24: 1,000,000 users
  <= 20 s, <= 300 MB RSS for the worker); then the same job writing CSV, once;
and checks the file: real dates, formula-looking text written as text.

Run: .venv/bin/python bench/export_users.py   (needs the test extras: xlsxwriter, openpyxl;
BENCH_SCALE=10: 1,000,000 users, the writers' comparison left out unless BENCH_WRITERS=1 — it holds
every row in the bench's memory four times; BENCH_SMOKE=1: 300 users, one round)
"""

import io
import os
import statistics
import tempfile
import time
from datetime import datetime

import _setup

ROUNDS = int(os.environ.get("BENCH_ROUNDS", _setup.scale(3, 1)))
WRITERS = os.environ.get("BENCH_WRITERS", "1" if _setup.SCALE == 1 else "0") == "1"
EVIL = "=cmd|' /C calc'!A0"


class XlsxwriterBefore:
    """The export's writer before rustpy-xlsxwriter (app/datatable.py until issue 8), verbatim."""

    def __init__(self, headers, sheet="Export"):
        import xlsxwriter

        self._file = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
        self._file.close()
        self.workbook = xlsxwriter.Workbook(
            self._file.name,
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
             "strings_to_urls": False, "tmpdir": tempfile.gettempdir()},
        )
        self.sheet = self.workbook.add_worksheet(sheet)
        bold = self.workbook.add_format({"bold": True})
        self.date_format = self.workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        for col, header in enumerate(headers):
            self.sheet.set_column(col, col, max(12, min(40, len(header) + 4)))
            self.sheet.write_string(0, col, header, bold)
        self.sheet.freeze_panes(1, 0)
        self.headers = headers
        self.row = 1

    def write_rows(self, rows):
        from app.datatable import neutralise

        sheet = self.sheet
        for values in rows:
            for col, value in enumerate(values):
                if value is None or value == "":
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(self.row, col, value)
                elif isinstance(value, (int, float)):
                    sheet.write_number(self.row, col, value)
                elif isinstance(value, datetime):
                    sheet.write_datetime(self.row, col, value, self.date_format)
                else:
                    sheet.write_string(self.row, col, neutralise(str(value)))
            self.row += 1

    def close(self):
        if self.row > 1:
            self.sheet.autofilter(0, 0, self.row - 1, len(self.headers) - 1)
        self.workbook.close()
        with open(self._file.name, "rb") as handle:
            return handle.read()

    def discard(self):
        os.unlink(self._file.name)


class XlsxwriterTuned(XlsxwriterBefore):
    """The best xlsxwriter can do here: write_row of values already neutralised, the date-times
    written by a per-column writer with its pre-built format, no per-cell isinstance chain."""

    def write_rows(self, rows):
        from app.datatable import _cell

        sheet, date_format = self.sheet, self.date_format
        write_row, write_datetime = sheet.write_row, sheet.write_datetime
        for values in rows:
            cells = [_cell(v) for v in values]
            dates = [(c, v) for c, v in enumerate(cells) if type(v) is datetime]
            if dates:
                for c, _ in dates:
                    cells[c] = None
                write_row(self.row, 0, cells)
                for c, v in dates:
                    write_datetime(self.row, c, v, date_format)
            else:
                write_row(self.row, 0, cells)
            self.row += 1


def write_with(writer_class, headers, rows) -> bytes:
    writer = writer_class(headers)
    try:
        for start in range(0, len(rows), 5000):
            writer.write_rows(rows[start:start + 5000])
        return writer.close()
    finally:
        writer.discard()


def write_polars(headers, rows) -> bytes:
    import polars as pl

    from app.datatable import _cell

    # A polars column holds one type: the date column loses its "Jamais" (left empty).
    columns = list(zip(*[[_cell(v) for v in r] for r in rows]))
    data = {}
    for header, values in zip(headers, columns):
        if any(type(v) is datetime for v in values):
            data[header] = pl.Series(header, [v if type(v) is datetime else None for v in values], dtype=pl.Datetime)
        else:
            data[header] = pl.Series(header, [v if v is None else str(v) for v in values], dtype=pl.String)
    frame = pl.DataFrame(data)
    buffer = io.BytesIO()
    frame.write_excel(buffer, worksheet="Export", dtype_formats={pl.Datetime: "dd/mm/yyyy hh:mm"}, autofilter=True)
    return buffer.getvalue()


def check(content: bytes, label: str) -> str:
    """Real dates and inert text, read back by openpyxl."""
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    headers = None
    dates = evil = 0
    for row in sheet.iter_rows(values_only=False, max_row=2001):
        if headers is None:
            headers = [c.value for c in row]
            access, name = headers.index("Dernier accès"), headers.index("Prénom / Nom de famille")
            continue
        if row[access].is_date:
            dates += 1
        value = row[name].value
        if isinstance(value, str) and "cmd|" in value:
            assert row[name].data_type == "s" and value.startswith("'="), (label, value)
            evil += 1
    assert dates > 0, f"{label}: no date cell"
    return f"{dates} date cells in the first 2,000 rows, formula-looking name as text: {bool(evil)}"


async def compare_writers(table, admin, headers, note, checks) -> None:
    rows: list = []
    for _ in range(ROUNDS):
        rows = []
        t0 = time.perf_counter()
        async for chunk in table.iter_rows(admin, {}):
            rows += [table.export_values(r) for r in chunk]
        note(f"read {len(rows):,} rows through the cursor and shape them", time.perf_counter() - t0)
    from app.datatable import XlsxWriter

    writers = [("xlsxwriter, as before (constant_memory)", lambda: write_with(XlsxwriterBefore, headers, rows)),
               ("xlsxwriter tuned (constant_memory, write_row)", lambda: write_with(XlsxwriterTuned, headers, rows)),
               ("rustpy-xlsxwriter (app/datatable/writers.py XlsxWriter)", lambda: write_with(XlsxWriter, headers, rows)),
               ("polars write_excel (xlsxwriter, in memory)", lambda: write_polars(headers, rows))]
    for _ in range(ROUNDS):
        for label, write in writers:
            t0 = time.perf_counter()
            content = write()
            note(f"write: {label}", time.perf_counter() - t0)
            checks[label] = check(content, label)


async def main() -> None:
    from app import db, queue
    from app.lists.users import USERS
    from app.services import files, progress
    from app.services.auth import load_current_user
    from app.tables.accounts import User
    from users_table import N, seed

    await db.open_pool()
    redis = await queue.connect()
    t0 = time.perf_counter()
    if not await _setup.seeded():  # a kept database (BENCH_KEEP_DB) is seeded once
        await seed()
    # The first row of the export (sorted by last name): a name that looks like a formula.
    await User.update({User.first_name: EVIL, User.last_name_key: "a"}).where(User.username == "bench.1")
    print(f"{N:,} users seeded in {time.perf_counter() - t0:.1f} s ({_setup.load()})")
    admin = await load_current_user((await User.select(User.id).where(User.username == "admin").first())["id"])

    figures: dict[str, list[float]] = {}

    def note(label, seconds):
        figures.setdefault(label, []).append(seconds)

    headers = [c.label for c in USERS.columns if c.exported]
    cells = N * len(headers)
    checks = {}
    if WRITERS:
        await compare_writers(USERS, admin, headers, note, checks)
    memory = []
    for i in range(ROUNDS):
        token = f"bench-{i}"
        await progress.start(redis, token, admin.id, "Export Excel", N)
        measured = _setup.in_fresh_process("app.jobs.exports:export_table", "users", admin.id, {}, token)
        note("the export job (read, shape, write with rustpy-xlsxwriter to a scratch file, store), in a fresh process",
             measured.seconds)
        _setup.check(measured.result, f"the export job wrote nothing: {measured.result}")
        memory.append(measured)
    size = measured.result
    content = await files.content((await progress.get(redis, token))["file_id"])
    _setup.check(content and size, f"the export job stored no file ({size} bytes)")
    checks["the export job"] = check(content, "job")
    await progress.start(redis, "bench-csv", admin.id, "Export CSV", N)
    csv_job = _setup.in_fresh_process("app.jobs.exports:export_table", "users", admin.id, {}, "bench-csv", "csv")
    csv_text = (await files.content((await progress.get(redis, "bench-csv"))["file_id"])).decode("utf-8-sig")
    _setup.check(csv_text.count("\r\n") > N and "\n'=cmd|" in csv_text, "the CSV job's file is not every row, neutralised")

    print(f"{'':70} {'best':>7} {'median':>7}")
    for label, values in figures.items():
        extra = ""
        if label.startswith("write:"):
            extra = f"  ({statistics.median(values) / cells * 1e6:.2f} µs a cell)"
        print(f"{label:70} {min(values):6.2f}s {statistics.median(values):6.2f}s{extra}")
    print(f"{len(headers)} columns, {cells} cells; the job's file: {size / 1e6:.1f} MB ({_setup.load()})")
    for i, measured in enumerate(memory):
        print(f"export job, run {i + 1}: {measured}")
    print(f"export job, CSV: {csv_job}")
    for label, text in checks.items():
        print(f"check {label}: {text}")
    await redis.aclose()
    await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
