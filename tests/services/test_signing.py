"""Émargement services (issue 22): the signing window's edges, the QR tokens and passes on the app's
clock (and the pass on the scanning device), a drawn signature decoded whole and stored normalised, the one writer of attendance (records and projection
together, nothing kept when a cell was already recorded)."""

import base64
import hashlib
import io
import struct
import zlib
from datetime import date, datetime, time, timedelta

import pytest
from PIL import Image, ImageDraw

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
    for forged in (f"{int(period) + 5}.{mac}", f"{period}.{mac[:-1]}{'B' if mac[-1] != 'B' else 'C'}", "", "١٢٣.abc", "9" * 40 + ".x",
                   f"{period}.é", f"{period}.{mac[:-1]}é"):  # not ASCII: invalid, never a TypeError
        assert window.token_problem(7, forged) == window.QR_INVALID, forged


def test_a_pass_is_bound_to_its_slot_and_device_for_ten_minutes(clock):
    phone, friend = window.client_hash("Phone UA", "10.0.0.1"), window.client_hash("Friend UA", "10.0.0.2")
    p = window.make_pass(7, phone)
    assert window.pass_problem(7, p, phone) is None
    assert window.pass_problem(8, p, phone) == window.PASS_INVALID and window.pass_problem(7, None, phone) == window.PASS_INVALID
    assert window.pass_problem(7, p, friend) == window.PASS_OTHER_DEVICE  # forwarded to someone else's phone
    expires, mac, device = p.split(".")
    for forged in (f"{expires}.{mac}", f"{expires}.{mac}.é", f"{expires}.é.{device}", "1.é", "é", f"{int(expires) + 60}.{mac}.{device}"):
        assert window.pass_problem(7, forged, phone) in (window.PASS_INVALID, window.PASS_OTHER_DEVICE), forged
    assert window.pass_problem(7, f"{int(expires) + 60}.{mac}.{device}", phone) == window.PASS_INVALID
    clock.advance(window.PASS_SECONDS - 1)
    assert window.pass_problem(7, p, phone) is None
    clock.advance(2)
    assert window.pass_problem(7, p, phone) == window.PASS_INVALID


def _png_with(width, height) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (pad.PNG_MAGIC + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
            + b"\x00" * 12)


def _grey_on_white(stored: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(stored)))
    image.load()
    return image


def test_a_signature_is_decoded_whole_and_stored_normalised():
    raw = png()
    stored = pad.read_sync(data_url(raw))
    image = _grey_on_white(stored)
    assert image.format == "PNG" and image.mode == "L" and image.size == (300, 100)  # within STORED_BOX: kept
    assert pad.read_sync(data_url(raw)) == stored  # the same drawing, the same bytes (the hash is of them)
    assert pad.signature_sha256(stored) == hashlib.sha256(base64.b64decode(stored)).hexdigest() and pad.read_sync("") == ""
    # A phone's canvas (3x, transparent RGBA) is stored small and grey, on white.
    canvas = Image.new("RGBA", (1500, 600), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(50, 500), (700, 100), (1400, 450)], fill=(10, 10, 80, 255), width=9)
    out = io.BytesIO()
    canvas.save(out, "PNG")
    small = _grey_on_white(pad.read_sync(data_url(out.getvalue())))
    assert small.mode == "L" and small.size == (600, 240) and small.getpixel((0, 0)) == 255
    for bad, message in (("data:image/gif;base64," + data_url(raw)[22:], pad.UNREADABLE),
                         ("data:image/png;base64,@@@@", pad.UNREADABLE),
                         ("data:image/png;base64," + base64.b64encode(b"GIF89a" + b"0" * 40).decode(), pad.UNREADABLE),
                         (data_url(_png_with(0, 100)), pad.UNREADABLE), (data_url(_png_with(5000, 100)), pad.UNREADABLE),
                         (data_url(_png_with(600, 1200)), pad.UNREADABLE),
                         # A sound header and junk after it (it used to be stored, then broke the signed sheet).
                         (data_url(_png_with(600, 200)), pad.UNREADABLE),
                         (data_url(raw[:-40]), pad.UNREADABLE),  # truncated
                         (data_url(_png_with(600, 200) + b"0" * (61 * 1024)), pad.TOO_LARGE)):
        with pytest.raises(pad.BadSignature) as refused:
            pad.read_sync(bad)
        assert refused.value.message == message


def test_dimensions_are_checked_before_any_pixel_is_decoded(monkeypatch):
    decoded = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: decoded.append(a) or pytest.fail("decoded"))
    huge = png(2100, 50)
    with pytest.raises(pad.BadSignature):
        pad.read_sync(data_url(huge))
    assert decoded == []


async def test_reading_runs_off_the_event_loop(monkeypatch):
    import threading

    main, seen = threading.get_ident(), []
    real = pad.normalised
    monkeypatch.setattr(pad, "normalised", lambda raw, *a: seen.append(threading.get_ident()) or real(raw, *a))
    assert await pad.read(data_url()) and seen and seen[0] != main
    assert await pad.read("") == ""


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
