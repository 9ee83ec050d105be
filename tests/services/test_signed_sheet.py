"""The signed attendance sheet of a closed slot (issue 22): the same bytes every render, what it
prints (pypdf), its signature images checked against the closing's SHA-256, kept once under
concurrency and never purged, queued after the closing."""

import asyncio
import base64
import hashlib
import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from app.dates import now
from app.jobs import kinds
from app.services import files
from app.services.signing import sheet, sheet_read
from app.services.signing.common import canonical_sha256
from app.tables.evidence import AttendanceRecord, SlotClosure
from app.tables.files import StoredFile
from app.tables.jobs import JobRun
from tests._closures import closed_slot, signature_png
from tests.helpers import assert_tagged_pdf
from tests.services.test_certificates import pdf_text


async def _closure(slot_id: int) -> dict:
    return await SlotClosure.select().where(SlotClosure.slot == slot_id).first()


async def test_the_sheet_prints_the_snapshot_and_renders_the_same_bytes_every_time(demo):
    built = await closed_slot(learners=5, absent=(2,), excused=(3,), marked=(4,))
    closure = await sheet.closure_of(built.slot_id)
    first, second = await sheet.render(closure), await sheet.render(closure)
    assert first == second and first.startswith(b"%PDF")
    assert_tagged_pdf(first, f"Feuille d'émargement signée — {built.snapshot['session']['code']}")
    shown = pdf_text(first)
    for name in built.names:
        assert name in shown
    snap = built.snapshot
    assert snap["session"]["code"] in shown and snap["session"]["name"] in shown
    assert f"{snap['slot']['day_fr']}, de 09:00 à 12:30" in shown
    assert "Salle Rameau, 12 rue des Lilas, Lyon" in shown and snap["trainers"][0]["name"] in shown
    assert "Excusé" in shown and "Rendez-vous médical" in shown and "Absent" in shown
    assert "QR code" in shown and "lien" in shown and "formateur" in shown
    assert "Présents : 3 — Absents : 1 — Excusés : 1" in shown
    assert "Je certifie l'exactitude de ces présences" in shown and f"Clôturé le {snap['closed_at_fr']}" in shown
    records_sha256 = (await _closure(built.slot_id))["records_sha256"]
    assert records_sha256 in shown.replace(" ", "")
    assert f"{built.code[:5]}-{built.code[5:]}" in shown
    assert f"/verifier/emargement/{built.code}" in shown.replace(" ", "")
    # Two signatures drawn (QR, link), the countersignature and the QR code; no image for the others.
    images = [image for page in PdfReader(io.BytesIO(first)).pages for image in page.images]
    assert len(images) == 4


async def test_sealing_keeps_the_pdf_records_its_sha256_and_is_idempotent_under_concurrency(demo, monkeypatch):
    built = await closed_slot(learners=3)
    pdfs = await asyncio.gather(*(sheet.seal_sheet(built.slot_id) for _ in range(3)))
    assert pdfs[0] == pdfs[1] == pdfs[2]
    row = await _closure(built.slot_id)
    assert row["pdf_sha256"] == hashlib.sha256(pdfs[0]).hexdigest()
    kept = await StoredFile.select(StoredFile.id, StoredFile.content_type).where(
        StoredFile.content_type == "application/pdf")
    assert [k["id"] for k in kept] == [row["file"]] and await files.content(row["file"]) == pdfs[0]  # the losers' copies deleted

    async def no_render(closure):
        raise AssertionError("a kept sheet is not rendered again")

    monkeypatch.setattr(sheet, "render", no_render)
    assert await sheet.seal_sheet(built.slot_id) == pdfs[0]
    # Evidence: the hourly purge of unreferenced files leaves it, however old.
    await StoredFile.update({StoredFile.created_at: now() - timedelta(days=400)}).where(StoredFile.id == row["file"])
    await files.delete_unreferenced()
    assert await StoredFile.exists().where(StoredFile.id == row["file"])
    # A slot without closure: nothing.
    assert await sheet.seal_sheet(built.slot_id + 1000) is None


async def test_a_signature_changed_after_the_closing_is_refused(demo):
    built = await closed_slot(learners=3)
    victim = built.snapshot["rows"][0]
    await AttendanceRecord.update({AttendanceRecord.signature: signature_png(999)}).where(
        AttendanceRecord.id == victim["record"])
    with pytest.raises(sheet.SheetRefused) as refused:
        await sheet.seal_sheet(built.slot_id)
    assert victim["name"] in refused.value.message and "ne correspond plus" in refused.value.message
    row = await _closure(built.slot_id)
    assert (row["pdf_sha256"], row["file"]) == ("", None)
    # Emptied, or not even a PNG: refused too.
    await AttendanceRecord.update({AttendanceRecord.signature: "not base64!"}).where(
        AttendanceRecord.id == victim["record"])
    with pytest.raises(sheet.SheetRefused):
        await sheet.seal_sheet(built.slot_id)


async def test_a_countersignature_changed_after_the_closing_is_refused(demo):
    built = await closed_slot(learners=2)
    await SlotClosure.update({SlotClosure.countersignature: signature_png(4242)}).where(
        SlotClosure.slot == built.slot_id)
    with pytest.raises(sheet.SheetRefused) as refused:
        await sheet.seal_sheet(built.slot_id)
    assert "contre-signature" in refused.value.message


async def test_the_verification_recomputes_the_records_hash(demo):
    built = await closed_slot(learners=3, excused=(1,))
    found = await sheet_read.verify(built.code.lower())
    assert found["records_intact"] and found["totals"] == {"present": 2, "absent": 0, "excused": 1}
    assert found["pdf_sha256"] == (await _closure(built.slot_id))["pdf_sha256"] != ""  # sealed for the check
    assert "Rendez-vous médical" not in repr(found)  # names and statuses, no reason
    changed = {**built.snapshot, "totals": {"present": 3, "absent": 0, "excused": 0}}
    await SlotClosure.update({SlotClosure.snapshot: changed}).where(SlotClosure.slot == built.slot_id)
    assert not (await sheet_read.verify(built.code))["records_intact"]
    assert await sheet_read.verify("ABCDE-FGHJK") is None and await sheet_read.verify("<script>") is None


async def test_after_close_queues_one_run_per_slot_that_seals_the_sheet(demo, redis_client, run_jobs):
    built = await closed_slot(learners=2)
    await sheet.after_close(built.slot_id, redis_client)
    await sheet.after_close(built.slot_id, redis_client)  # the same slot: the same run
    runs = await JobRun.select(JobRun.kind, JobRun.status).where(JobRun.kind == kinds.SLOT_SHEET.name)
    assert runs == [{"kind": "seal_slot_sheet", "status": "queued"}]
    await run_jobs()
    assert (await JobRun.select(JobRun.status).where(JobRun.kind == kinds.SLOT_SHEET.name).first())["status"] == "succeeded"
    row = await _closure(built.slot_id)
    assert row["file"] is not None and len(row["pdf_sha256"]) == 64


async def test_a_snapshot_changed_after_the_closing_or_an_image_that_is_no_png_is_refused(demo):
    built = await closed_slot(learners=2)
    changed = {**built.snapshot, "totals": {"present": 0, "absent": 2, "excused": 0}}
    await SlotClosure.update({SlotClosure.snapshot: changed}).where(SlotClosure.slot == built.slot_id)
    with pytest.raises(sheet.SheetRefused) as refused:
        await sheet.seal_sheet(built.slot_id)
    assert "ne correspondent plus à leur empreinte de clôture" in refused.value.message

    # Hashed as stored at closing, but no PNG (or a huge one): a French refusal, not a crash in the renderer.
    other = await closed_slot(learners=1)
    row = other.snapshot["rows"][0]
    not_png = base64.b64encode(b"GIF89a" + bytes(200)).decode()
    snapshot = {**other.snapshot, "rows": [{**row, "signature_sha256": hashlib.sha256(base64.b64decode(not_png)).hexdigest()}]}
    await AttendanceRecord.update({AttendanceRecord.signature: not_png}).where(AttendanceRecord.id == row["record"])
    await SlotClosure.update({SlotClosure.snapshot: snapshot, SlotClosure.records_sha256: canonical_sha256(snapshot)}).where(
        SlotClosure.slot == other.slot_id)
    with pytest.raises(sheet.SheetRefused) as refused:
        await sheet.seal_sheet(other.slot_id)
    assert "n'est pas une image PNG lisible" in refused.value.message
    assert not sheet.readable_png(base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (70000).to_bytes(4, "big") * 2).decode())


async def _poison(built, encoded: str) -> dict:
    """A stored signature replaced by ``encoded`` with the snapshot and its hash made to agree (what a
    signature accepted at signing and stored as posted could have been before images were decoded)."""
    row = built.snapshot["rows"][0]
    snapshot = {**built.snapshot, "rows": [{**row, "signature_sha256": hashlib.sha256(base64.b64decode(encoded)).hexdigest()},
                                           *built.snapshot["rows"][1:]]}
    await AttendanceRecord.update({AttendanceRecord.signature: encoded}).where(AttendanceRecord.id == row["record"])
    await SlotClosure.update({SlotClosure.snapshot: snapshot, SlotClosure.records_sha256: canonical_sha256(snapshot)}).where(
        SlotClosure.slot == built.slot_id)
    return row


def _sound_header_then_junk() -> str:
    raw = base64.b64decode(signature_png(1))
    return base64.b64encode(raw[:33] + b"junk" * 100).decode()


async def test_an_image_with_a_sound_header_and_junk_is_a_french_refusal_not_a_crash(demo):
    built = await closed_slot(learners=2)
    row = await _poison(built, _sound_header_then_junk())
    assert sheet.readable_png(_sound_header_then_junk())  # the header alone looks fine: the render decodes
    with pytest.raises(sheet.SheetRefused) as refused:
        await sheet.seal_sheet(built.slot_id)
    assert f"La signature de {row['name']} n'est pas une image PNG lisible" in refused.value.message
    found = await sheet_read.verify(built.code)  # the public page: said, never a 500
    assert found["pdf_problem"] == refused.value.message and found["pdf_sha256"] == ""


async def test_any_render_failure_is_said_in_french(demo, monkeypatch):
    built = await closed_slot(learners=1)

    async def broken(closure):
        raise OSError("broken data stream when reading image file")

    monkeypatch.setattr(sheet, "render", broken)
    found = await sheet_read.verify(built.code)
    assert found["pdf_problem"] == sheet_read.NOT_RENDERED and found["records_intact"]

