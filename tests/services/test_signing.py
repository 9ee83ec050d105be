"""Émargement services (issue 22): the signing window's edges, the QR tokens and passes on the app's
clock, the strict reading of a drawn signature, the one writer of attendance (records and projection
together, nothing kept when a cell was already recorded)."""

import base64
import hashlib
import struct
import zlib
from datetime import date, datetime, time, timedelta

import pytest

from app import db
from app.services import attendance
from app.services.signing import pad, window
from app.tables.evidence import AttendanceRecord
from app.tables.learning import Attendance
from tests.signing_helpers import PARIS, built, data_url, png, set_clock

SLOT = {"id": 1, "day": date(2027, 3, 9), "starts": time(9), "ends": time(12, 30)}


def _at(hour, minute, second=0):
    return datetime.combine(SLOT["day"], time(hour), tzinfo=PARIS) + timedelta(minutes=minute, seconds=second)


def test_the_window_opens_30_minutes_before_and_closes_after_the_grace():
    assert window.state(SLOT, 30, _at(8, 29, 59)) == window.BEFORE
    assert window.state(SLOT, 30, _at(8, 30)) == window.OPEN
    assert window.state(SLOT, 30, _at(13, 0)) == window.OPEN
    assert window.state(SLOT, 30, _at(13, 0, 1)) == window.OVER
    assert window.state(SLOT, 0, _at(12, 30, 1)) == window.OVER
    assert window.state(SLOT, 240, _at(16, 30)) == window.OPEN
    opens, closes = window.bounds(SLOT, 30)
    assert opens.utcoffset() == timedelta(hours=1) and (opens.hour, closes.hour, closes.minute) == (8, 13, 0)


def test_tokens_last_the_current_and_the_previous_30_seconds(clock):
    token = window.qr_token(7)
    assert window.token_problem(7, token) is None
    assert window.token_problem(8, token) == window.QR_INVALID  # another slot's
    clock.advance(window.QR_PERIOD)
    assert window.token_problem(7, token) is None
    clock.advance(window.QR_PERIOD)
    assert window.token_problem(7, token) == window.QR_EXPIRED
    period, mac = token.split(".")
    for forged in (f"{int(period) + 5}.{mac}", f"{period}.{mac[:-1]}{'B' if mac[-1] != 'B' else 'C'}", "", "١٢٣.abc", "9" * 40 + ".x"):
        assert window.token_problem(7, forged) == window.QR_INVALID, forged


def test_a_pass_is_bound_to_its_slot_for_ten_minutes(clock):
    p = window.make_pass(7)
    assert window.pass_valid(7, p) and not window.pass_valid(8, p) and not window.pass_valid(7, None)
    clock.advance(window.PASS_SECONDS - 1)
    assert window.pass_valid(7, p)
    clock.advance(2)
    assert not window.pass_valid(7, p)


def _png_with(width, height) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (pad.PNG_MAGIC + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
            + b"\x00" * 12)


def test_a_signature_is_read_strictly():
    raw = png()
    assert pad.read(data_url(raw)) == base64.b64encode(raw).decode() and pad.read("") == ""
    assert pad.signature_sha256(pad.read(data_url(raw))) == hashlib.sha256(raw).hexdigest()
    for bad, message in (("data:image/gif;base64," + data_url(raw)[22:], pad.UNREADABLE),
                         ("data:image/png;base64,@@@@", pad.UNREADABLE),
                         ("data:image/png;base64," + base64.b64encode(b"GIF89a" + b"0" * 40).decode(), pad.UNREADABLE),
                         (data_url(_png_with(0, 100)), pad.UNREADABLE), (data_url(_png_with(5000, 100)), pad.UNREADABLE),
                         (data_url(_png_with(600, 1200)), pad.UNREADABLE),
                         (data_url(_png_with(600, 200) + b"0" * (61 * 1024)), pad.TOO_LARGE)):
        with pytest.raises(pad.BadSignature) as refused:
            pad.read(bad)
        assert refused.value.message == message
    assert pad.read(data_url(_png_with(600, 200)))  # dimensions from IHDR, within bounds


async def test_the_writer_keeps_records_and_projection_together(demo):
    b = await built(learners=2)
    slot = b.slots[0]
    async with db.transaction():
        made = await attendance.append([attendance.Mark(b.enrolments[0], slot, "present"),
                                        attendance.Mark(b.enrolments[1], slot, "excused", reason="Malade")], "trainer", b.trainer)
    assert len(made) == 2
    rows = {r["enrolment"]: r for r in await Attendance.select()}
    assert {e: (r["status"], r["record"]) for e, r in rows.items()} == {
        m["enrolment"]: (m["status"], m["id"]) for m in made}
    # A cell already recorded, with only_unrecorded: nothing kept at all (the whole transaction).
    with pytest.raises(attendance.AlreadyRecorded):
        async with db.transaction():
            await attendance.append([attendance.Mark(b.enrolments[0], slot, "present")], "link", None, only_unrecorded=True)
    assert await AttendanceRecord.count() == 2
    # Cleared: a record, and the projection row gone.
    await attendance.write([attendance.Mark(b.enrolments[1], slot, attendance.CLEARED)], "manager", None)
    assert await AttendanceRecord.count() == 3 and await Attendance.count() == 1
    with pytest.raises(AssertionError):
        await attendance.append([attendance.Mark(b.enrolments[1], slot, "present")], "manager", None)  # no transaction


async def test_home_slots_are_only_the_open_ones(demo, clock):
    from app.services.signing import learner

    b = await built(learners=1)
    user = (await Attendance.raw("SELECT \"user\" FROM enrolment WHERE id = {}", b.enrolments[0]))[0]["user"]
    set_clock(clock, b.day, 8, 29)
    assert await learner.open_slots(user) == []
    set_clock(clock, b.day, 12, 59)  # the morning's grace, the afternoon's window (from 13:00)
    assert [s["id"] for s in await learner.open_slots(user)] == b.slots[:1]
    set_clock(clock, b.day, 13, 0)
    assert [s["id"] for s in await learner.open_slots(user)] == b.slots[1:]  # the morning's over (a moment after 13:00)
    set_clock(clock, b.day, 17, 31)
    assert await learner.open_slots(user) == []
