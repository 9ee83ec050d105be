"""The export files' writers (app/datatable/writers.py): a job's Excel file is written by a child
process (ChildWriter, issue 24: 1,000,000 users ≤ 20 s), fed column by column, its date-time
columns crossing as Excel serial numbers, its texts checked a column at a time; a job's CSV too. The
file must be the one the in-process writer makes, cell for cell (byte for byte for the CSV); a child
that dies must fail the export with a French message, never hang it."""

import csv
import io
import os
import random
import signal
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest

from app.datatable import writers
from app.datatable.writers import ChildWriter, CsvWriter, XlsxWriter, _cell, _clean_column, export_writer

EVIL = "=cmd|' /C calc'!A0"


def _hostile_text(rng: random.Random) -> str:
    alphabet = ["a", "é", " ", "=", "+", "-", "@", "\t", "\r", "\n", "\x00", "'", "1"]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))


def test_a_column_cleaned_at_once_is_the_cells_cleaned_one_by_one():
    rng = random.Random(24)
    kinds = [
        lambda: _hostile_text(rng),
        lambda: None,
        lambda: f"plain {rng.randint(0, 9)}",
        lambda: rng.randint(-5, 5),
        lambda: rng.random(),
        lambda: rng.choice([True, False]),
        lambda: datetime(2026, 3, 29, rng.randint(0, 23), 30),
        lambda: date(2026, 1, rng.randint(1, 28)),
        lambda: Decimal("1.50"),
        lambda: datetime(2026, 3, 29, 2, 30, tzinfo=timezone.utc),
    ]
    for _ in range(3000):
        chosen = rng.sample(kinds, rng.randint(1, 3))
        column = [rng.choice(chosen)() for _ in range(rng.randint(1, 6))]
        assert _clean_column(column) == list(map(_cell, column)), column
    # The common columns come back as they are (nothing copied); one formula-looking text anywhere
    # is caught, at the start of a column's texts or after an empty cell.
    texts = [f"agent{i}" for i in range(1000)]
    assert _clean_column(texts) is texts
    assert _clean_column([*texts, EVIL])[-1] == "'" + EVIL
    assert _clean_column([EVIL, None, "x"]) == ["'" + EVIL, None, "x"]
    assert _clean_column(["x", None, "-1"]) == ["x", None, "'-1"]
    assert _clean_column(["x", ""]) == ["x", None]  # an empty text: an empty cell


def _rows(count: int) -> list[tuple]:
    start = datetime(2026, 3, 29, 1, 0)
    return [(
        EVIL if i % 997 == 0 else f"Agent {i}",
        "" if i % 5 == 0 else f"user{i}@example.org",
        i,
        i / 4,
        i % 2 == 0,
        None if i % 7 == 0 else start + timedelta(minutes=17 * i),  # date-times (crossing a DST change)
        date(2026, 1, 1) + timedelta(days=i % 300),  # dates: a date column
        "Jamais" if i % 11 == 0 else start + timedelta(hours=i),  # a mixed column stays as it is
        Decimal("3.50") if i % 3 == 0 else None,
        "ligne 1\nligne 2" if i % 13 == 0 else "x\x00=y",
    ) for i in range(count)]


HEADERS = ["Nom", "Courriel", "N°", "Heures", "Présent", "Dernier accès", "Le", "Mixte", "Montant", "Texte"]


def _write(writer, rows: list[tuple], chunk: int = 5000):
    for start in range(0, len(rows), chunk):
        writer.write_columns([list(column) for column in zip(*rows[start:start + chunk])])
    return writer.close()


def _cells(path) -> list[list[tuple]]:
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    return [[(c.value, c.data_type, c.is_date, c.number_format) for c in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize("count", [40, 25_000])  # written at close / streamed past STREAM_AFTER
def test_the_child_writes_the_file_the_in_process_writer_writes(tmp_path, count):
    rows = _rows(count)
    heading = ("Export des utilisateurs", "=SUM(A1)")
    in_process = _write(XlsxWriter(HEADERS, heading=heading, to=tmp_path / "in.xlsx"), rows)
    child = ChildWriter("xlsx", HEADERS, heading, to=tmp_path / "child.xlsx")
    assert _write(child, rows) == tmp_path / "child.xlsx"
    expected, written = _cells(in_process), _cells(tmp_path / "child.xlsx")
    assert len(written) == count + len(heading) + 2
    for line, (want, got) in enumerate(zip(expected, written)):
        for col, (a, b) in enumerate(zip(want, got)):
            if isinstance(a[0], datetime):  # a serial number read back: the same minute
                assert a[1:] == b[1:] and abs(a[0] - b[0]) < timedelta(milliseconds=1), (line, col, a, b)
            else:
                assert a == b, (line, col, a, b)
    body = written[len(heading) + 2:]
    assert body[0][0][:2] == ("'" + EVIL, "s")  # text, never a formula
    assert body[1][5][2] and body[1][5][3] == "dd/mm/yyyy hh:mm"  # a real date-time
    assert body[0][5][0] is None  # an empty date-time: an empty cell
    assert body[1][6][2] and body[1][6][3] == "dd/mm/yyyy"  # a date, without a time
    assert body[0][1][0] is None  # an empty text: an empty cell


def test_a_date_time_column_whose_format_is_settled_late_still_shows_dates(tmp_path):
    # Empty for the first 12,000 rows (never logged in, sorted first), then date-times; and a column
    # whose first chunk mixes texts with date-times: the child's later serial numbers must still be
    # written as dates, never as bare numbers.
    when = datetime(2026, 3, 1, 10, 0)
    rows = [(f"Agent {i}", None if i < 12_000 else when, "" if i < 10 else when) for i in range(15_000)]
    headers = ["Nom", "Dernier accès", "Traitée le"]
    child = ChildWriter("xlsx", headers, to=tmp_path / "late.xlsx")
    _write(child, rows, chunk=3000)
    cells = _cells(tmp_path / "late.xlsx")
    assert cells[1][1][0] is None and cells[1][2][0] is None
    for line in (12_001, 15_000):
        for col in (1, 2):
            value, _, is_date, number_format = cells[line][col]
            assert is_date and value == when and "dd/mm/yyyy" in number_format, (line, col, cells[line][col])


def test_date_times_cross_as_serial_numbers_and_come_back_to_the_minute():
    from app.datatable.writers import _excel_serials, _from_serials

    moments = [datetime(year, 1, 1) + timedelta(minutes=m) for year in (2026, 2085, 2199, 9999)
               for m in range(0, 1440, 7)]
    back = _from_serials([_excel_serials(moments)], (0,))[0]
    assert back == moments
    # Before 1 March 1900 Excel counts a 29 February 1900: such a column crosses as date-times.
    assert _excel_serials([datetime(1900, 2, 1), None]) is None
    assert _excel_serials([datetime(2026, 1, 1, tzinfo=timezone.utc)]) is None  # aware: as it is
    assert _excel_serials(["Jamais", datetime(2026, 1, 1)]) is None


def test_the_csv_of_columns_written_by_the_child_is_the_csv_of_rows(tmp_path):
    rows = _rows(12_000)
    by_rows = CsvWriter(HEADERS, ("Export",))
    by_rows.write_rows(rows)
    child = export_writer("csv", HEADERS, ("Export",), to=tmp_path / "child.csv")
    assert isinstance(child, ChildWriter)
    assert _write(child, rows).read_bytes() == by_rows.close()  # date-times back from serial numbers, to the minute
    lines = list(csv.reader(io.StringIO((tmp_path / "child.csv").read_text("utf-8-sig")), delimiter=";"))
    assert lines[3][0] == "'" + EVIL and lines[4][5] == "29/03/2026 01:17"


def test_a_child_that_dies_fails_the_export_in_french_and_gives_its_slot_back(tmp_path):
    free = writers._CHILD_SLOTS._value
    writer = export_writer("xlsx", HEADERS, to=tmp_path / "dead.xlsx")
    assert isinstance(writer, ChildWriter) and writers._CHILD_SLOTS._value == free - 1
    rows = _rows(5000)
    writer.write_columns([list(c) for c in zip(*rows)])
    os.kill(writer._process.pid, signal.SIGKILL)
    writer._process.join(10)
    with pytest.raises(RuntimeError, match="L'écriture du fichier"):
        for _ in range(50):  # the pipe may take a chunk or two before it breaks
            writer.write_columns([list(c) for c in zip(*rows)])
        writer.close()
    writer.discard()
    assert writers._CHILD_SLOTS._value == free


def test_a_cancelled_export_ends_its_child(tmp_path):
    writer = export_writer("xlsx", HEADERS, to=tmp_path / "cancelled.xlsx")
    writer.write_columns([list(c) for c in zip(*_rows(100))])
    writer.discard()
    writer._process.join(10)
    assert not writer._process.is_alive()
    writer.discard()  # twice: nothing more


def test_with_every_child_busy_an_export_writes_in_its_own_process(tmp_path, monkeypatch):
    import threading

    monkeypatch.setattr(writers, "_CHILD_SLOTS", threading.BoundedSemaphore(1))
    first = export_writer("xlsx", HEADERS, to=tmp_path / "a.xlsx")
    second = export_writer("xlsx", HEADERS, to=tmp_path / "b.xlsx")
    try:
        assert isinstance(first, ChildWriter) and type(second) is XlsxWriter
        rows = _rows(30)
        assert _cells(_write(second, rows))[1][0][0] == "'" + EVIL
        assert _cells(_write(first, rows))[1][0][0] == "'" + EVIL
        third = export_writer("xlsx", HEADERS, to=tmp_path / "c.xlsx")
        assert type(third) is ChildWriter  # the slot is back
        third.discard()
    finally:
        first.discard()
        second.discard()
    assert type(export_writer("xlsx", HEADERS)) is XlsxWriter  # a file in memory: in-process
