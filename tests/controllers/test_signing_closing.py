"""Closing a slot (issue 22): countersigned and certified by one of its trainers, once; the unsigned
recorded absent (the excused stay excused); the snapshot and its SHA-256; the records frozen; the
« Présences » grid as the managers' correction tool (a reason after the closing, every correction
listed) and the slots with evidence kept as they are."""

import asyncio
import base64
import hashlib
import json
import re
from types import SimpleNamespace

import pytest

from app.services import attendance
from app.services.errors import ValidationFailed
from app.services.signing import closing, common, trainer
from app.tables.audit import AuditEvent
from app.tables.catalogue import SessionSlot, TrainingSession
from app.services.trainer_scope import slot_trainers
from app.tables.evidence import AttendanceRecord, SlotClosure, SlotTrainer
from app.tables.learning import Attendance, Enrolment
from tests.helpers import login, post_form, text
from tests import factories
from tests.signing_helpers import built, data_url, password_hash, png, set_clock


async def _signed_and_marked(client, new_client, b, slot):
    """Learner 0 signs (drawn), learner 1 is excused by the trainer, learner 2 does nothing."""
    async with new_client() as phone:
        await login(phone, b.usernames[0])
        assert (await post_form(phone, f"/signer/{slot}", {"signature": data_url()})).status_code == 200
    await login(client, b.trainer_username)
    assert (await post_form(client, f"/creneaux/{slot}/emargement/marquer",
                            {"enrolment": b.enrolments[1], "status": "excused", "reason": "Malade"})).status_code == 303


async def test_closing_records_absences_and_freezes_the_slot(client, new_client, clock):
    b = await built(learners=3)
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 5)
    await _signed_and_marked(client, new_client, b, slot)
    url = f"/creneaux/{slot}/cloturer"
    # Not certified: refused, nothing written.
    refused = await post_form(client, url, {"countersignature": data_url()})
    assert refused.status_code == 422 and "Cochez « Je certifie l'exactitude »" in text(refused.text)
    bad = await post_form(client, url, {"countersignature": "data:image/png;base64,AAAA", "certified": "1"})
    assert bad.status_code == 422 and "La signature n'a pas pu être lue" in text(bad.text)
    assert await SlotClosure.count() == 0
    # A manager in scope sees the page but does not close: only the slot's trainers.
    async with new_client() as manager:
        await login(manager, "alp001.get")
        answer = await post_form(manager, url, {"certified": "1"})
        assert answer.status_code == 409 and "Seul un formateur de ce créneau peut le clôturer." in text(answer.text)
    set_clock(clock, b.day, 12, 41)
    closed = await post_form(client, url, {"countersignature": data_url(), "certified": "1"})
    assert closed.status_code == 303
    page = await client.get(closed.headers["location"])
    assert "Créneau clôturé le" in text(page.text) and "1 présent(s), 1 absent(s), 1 excusé(s)" in text(page.text)
    (closure,) = await SlotClosure.select()
    shown = f"{closure['code'][:5]}-{closure['code'][5:]}"  # as certificates show their codes
    assert f"Code de vérification {shown}." in text(page.text) and f"code de vérification {shown}." in text(page.text)
    assert closure["closed_by"] == b.trainer and closure["certified"] and re.fullmatch(r"[0-9A-Z]{10}", closure["code"])
    assert base64.b64decode(closure["countersignature"]).startswith(b"\x89PNG")
    snapshot = json.loads(closure["snapshot"]) if isinstance(closure["snapshot"], str) else closure["snapshot"]
    assert closure["records_sha256"] == hashlib.sha256(json.dumps(
        snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
    assert snapshot["version"] == 1 and snapshot["slot"]["id"] == slot and snapshot["slot"]["starts"] == "09:00"
    assert snapshot["slot"]["minutes"] == 210 and snapshot["totals"] == {"present": 1, "absent": 1, "excused": 1}
    assert snapshot["closed_at_fr"].endswith(", 12:41") and snapshot["closed_by"]["id"] == b.trainer
    assert snapshot["trainers"] == [{"id": b.trainer, "name": snapshot["trainers"][0]["name"]}]
    assert snapshot["countersignature_sha256"] == hashlib.sha256(base64.b64decode(closure["countersignature"])).hexdigest()
    rows = {r["enrolment"]: r for r in snapshot["rows"]}
    assert [rows[e]["status"] for e in b.enrolments] == ["present", "excused", "absent"]
    assert [rows[e]["method"] for e in b.enrolments] == ["link", "trainer", "closing"]
    assert rows[b.enrolments[0]]["recorded_at_fr"] == "09:05" and len(rows[b.enrolments[0]]["signature_sha256"]) == 64
    assert rows[b.enrolments[1]]["reason"] == "Malade" and rows[b.enrolments[2]]["signature_sha256"] == ""
    signed = await AttendanceRecord.select().where(AttendanceRecord.id == rows[b.enrolments[0]]["record"]).first()
    assert hashlib.sha256(base64.b64decode(signed["signature"])).hexdigest() == rows[b.enrolments[0]]["signature_sha256"]
    absent = await Attendance.select().where(Attendance.enrolment == b.enrolments[2]).first()
    assert absent["status"] == "absent" and absent["record"] == rows[b.enrolments[2]]["record"]
    # Once: a second closing is refused; the records are frozen for signatures and marks.
    again = await post_form(client, url, {"countersignature": data_url(), "certified": "1"})
    assert again.status_code == 409 and "Ce créneau est déjà clôturé" in text(again.text)
    mark = await post_form(client, f"/creneaux/{slot}/emargement/marquer", {"enrolment": b.enrolments[2], "status": "present"})
    assert mark.status_code == 409 and "Ce créneau est clôturé" in text(mark.text)
    async with new_client() as phone:
        await login(phone, b.usernames[2])
        assert "Signer ma présence" not in text((await phone.get("/")).text)
        late = await post_form(phone, f"/signer/{slot}", {"signature": ""})
        assert late.status_code == 409
    assert await AttendanceRecord.count() == 3 and await SlotClosure.count() == 1
    assert "<svg" not in page.text  # no code any more


async def test_closing_before_the_slot_starts_is_refused(client, clock):
    b = await built(learners=1)
    await login(client, b.trainer_username)
    for hour, minute in ((8, 0), (8, 45), (8, 59)):  # before the window, then during its first 30 minutes
        set_clock(clock, b.day, hour, minute)
        answer = await post_form(client, f"/creneaux/{b.slots[0]}/cloturer", {"certified": "1"})
        assert answer.status_code == 409
        assert re.search(r"Ce créneau n'a pas encore commencé : il pourra être clôturé à partir de .+, 09:00\.",
                         text(answer.text))
    assert await SlotClosure.count() == 0 and await AttendanceRecord.count() == 0
    set_clock(clock, b.day, 9, 0)
    assert (await post_form(client, f"/creneaux/{b.slots[0]}/cloturer", {"certified": "1"})).status_code == 303


async def test_a_cancelled_sessions_slot_is_neither_marked_nor_closed_and_shows_no_code(client, clock):
    from app.dates import now

    b = await built(learners=1)
    await TrainingSession.update({TrainingSession.cancelled_at: now()}).where(TrainingSession.id == b.session)
    set_clock(clock, b.day, 9, 30)
    await login(client, b.trainer_username)
    page = await client.get(f"/creneaux/{b.slots[0]}/emargement")
    assert page.status_code == 200 and "<svg" not in page.text and "/s/" not in page.text
    assert "Cette session est annulée" in text(page.text) and "Clôturer le créneau" not in text(page.text)
    assert "Marquer présent" not in text(page.text) and "Excusé…" not in text(page.text)
    partial = await client.get(f"/creneaux/{b.slots[0]}/emargement/qr", headers={"HX-Request": "true"})
    assert "<svg" not in partial.text and "Cette session est annulée" in text(partial.text)
    mark = await post_form(client, f"/creneaux/{b.slots[0]}/emargement/marquer",
                           {"enrolment": b.enrolments[0], "status": "present"})
    closed = await post_form(client, f"/creneaux/{b.slots[0]}/cloturer", {"certified": "1"})
    for answer in (mark, closed):
        assert answer.status_code == 409 and "Cette session est annulée : ses créneaux ne s'émargent pas" in text(answer.text)
    assert await AttendanceRecord.count() == 0 and await SlotClosure.count() == 0


async def test_the_closing_writes_the_slots_trainers_down(client, clock):
    """A slot trained by « every trainer of the session » keeps those of its closing: one added to the
    session afterwards neither trains it nor reaches its page or its sheet."""
    b = await built(learners=1)
    set_clock(clock, b.day, 12, 0)
    await login(client, b.trainer_username)
    await post_form(client, f"/creneaux/{b.slots[0]}/cloturer", {"countersignature": "", "certified": "1"})
    assert {r["user"] for r in await SlotTrainer.select().where(SlotTrainer.slot == b.slots[0])} == {b.trainer}
    home = (await client.get("/")).text  # the trainer's next slots: this one closed, with its sheet
    assert f"/creneaux/{b.slots[0]}/feuille-signee.pdf" in home and f"/creneaux/{b.slots[0]}/emargement" not in home
    assert f"/creneaux/{b.slots[1]}/emargement" in home
    newcomer = await factories.trainer(b.session, password_hash=password_hash())
    assert [t["id"] for t in (await slot_trainers([b.slots[0]]))[b.slots[0]]] == [b.trainer]
    assert {t["id"] for t in (await slot_trainers([b.slots[1]]))[b.slots[1]]} == {b.trainer, newcomer}


async def test_closing_without_javascript_has_an_empty_countersignature(client, clock):
    b = await built(learners=1)
    # A name left stating other dates: the snapshot names the session as documents do (certificates).
    await TrainingSession.update({TrainingSession.full_name: "Session du 01-02-2020 au 02-02-2020 (Lyon)"}).where(
        TrainingSession.id == b.session)
    set_clock(clock, b.day, 12, 0)
    await login(client, b.trainer_username)
    assert (await post_form(client, f"/creneaux/{b.slots[0]}/cloturer", {"countersignature": "", "certified": "1"})).status_code == 303
    (closure,) = await SlotClosure.select()
    assert closure["countersignature"] == "" and closure["certified"]
    session = await TrainingSession.select().where(TrainingSession.id == b.session).first()
    name = json.loads(closure["snapshot"])["session"]["name"] if isinstance(closure["snapshot"], str) else closure["snapshot"]["session"]["name"]
    assert name == f"Session du {session['start_date']:%d-%m-%Y} au {session['end_date']:%d-%m-%Y} (Lyon)"


async def test_the_grid_corrects_a_closed_slot_with_a_reason_and_lists_it(client, new_client, clock):
    b = await built(learners=3)
    slot, open_slot = b.slots
    set_clock(clock, b.day, 9, 5)
    await _signed_and_marked(client, new_client, b, slot)
    set_clock(clock, b.day, 12, 41)
    assert (await post_form(client, f"/creneaux/{slot}/cloturer", {"certified": "1"})).status_code == 303
    async with new_client() as manager:
        await login(manager, "alp001.get")
        url = f"/sessions/{b.session}/presences"
        grid = await manager.get(url)
        assert "Clôturé le" in text(grid.text) and "Motif de la correction" in text(grid.text)
        absent_cell = f"a{b.enrolments[2]}_{slot}"
        # Without a reason: refused, nothing saved, what was typed kept.
        refused = await post_form(manager, url, {absent_cell: "present", f"a{b.enrolments[0]}_{open_slot}": "present"})
        assert refused.status_code == 422 and "indiquez le motif de la correction" in text(refused.text)
        assert re.search(r'name="%s"[^>]*>.*?<option value="present" selected>' % absent_cell, refused.text, re.S)
        assert await AttendanceRecord.count() == 3
        # A closed cell cannot be cleared.
        cleared = await post_form(manager, url, {absent_cell: "", "reason": "Erreur"})
        assert cleared.status_code == 422 and "Un créneau clôturé ne peut pas être vidé" in text(cleared.text)
        # With a reason: a correction (the closed slot), a manager's record (the open one).
        saved = await post_form(manager, url, {absent_cell: "present", f"a{b.enrolments[0]}_{open_slot}": "present",
                                               "reason": "Arrivé en retard, signature papier"})
        assert saved.status_code == 303
        records = await AttendanceRecord.select().where(AttendanceRecord.id > 3).order_by(AttendanceRecord.id)
        assert {(r["slot"], r["method"], r["status"], r["reason"]) for r in records} == {
            (slot, "correction", "present", "Arrivé en retard, signature papier"), (open_slot, "manager", "present", "")}
        # The audit trail has the correction (the manager's change of the open slot is not one).
        trail = await AuditEvent.select().where(AuditEvent.action == "attendance.corrected")
        assert [(t["actor_label"], t["target_id"], json.loads(t["details"])["cells"], json.loads(t["details"])["reason"])
                for t in trail] == [("alp001.get", b.session, 1, "Arrivé en retard, signature papier")]
        page = text((await manager.get(url)).text)
        assert "Corrections après clôture" in page and "Absent → Présent" in page and "Arrivé en retard, signature papier" in page
        minutes = (await Enrolment.select(Enrolment.attended_minutes).where(Enrolment.id == b.enrolments[2]).first())
        assert minutes["attended_minutes"] == 210
        # Before a closing, clearing a cell is a « cleared » record and the projection row goes.
        emptied = await post_form(manager, url, {f"a{b.enrolments[0]}_{open_slot}": ""})
        assert emptied.status_code == 303
        last = await AttendanceRecord.select().order_by(AttendanceRecord.id, ascending=False).first()
        assert (last["status"], last["method"]) == ("cleared", "manager")
        assert not await Attendance.exists().where((Attendance.enrolment == b.enrolments[0]) & (Attendance.slot == open_slot))
        # A slot with evidence cannot be removed nor changed from the settings.
        session = await TrainingSession.select().where(TrainingSession.id == b.session).first()
        day = b.day.strftime("%d/%m/%Y")
        settings = {"start_date": str(session["start_date"]), "end_date": str(session["end_date"]),
                    "full_name": session["full_name"], "visible": "1", "slots": f"{day} 13:30-17:00",
                    "certificate_text": "", "place": "", "remote_url": "", "contact": "", "min_attendance": ""}
        response = await post_form(manager, f"/sessions/{b.session}/parametres", settings)
        assert response.status_code == 422 and f"Les présences du créneau {day} 09:00-12:30 sont enregistrées" in text(response.text)


async def test_signing_grace_is_a_setting_from_0_to_240(client):
    b = await built(learners=1)
    session = await TrainingSession.select().where(TrainingSession.id == b.session).first()
    await login(client, "alp001.get")
    form = await client.get(f"/sessions/{b.session}/parametres")
    assert "Délai d'émargement après la fin d'un créneau (minutes)" in text(form.text) and 'value="30"' in form.text
    settings = {"start_date": str(session["start_date"]), "end_date": str(session["end_date"]),
                "full_name": session["full_name"], "visible": "1", "certificate_text": "", "place": "", "remote_url": "",
                "contact": "", "min_attendance": "", "slots": f"{b.day:%d/%m/%Y} 09:00-12:30\n{b.day:%d/%m/%Y} 13:30-17:00"}
    for wrong in ("241", "-1", "abc"):
        response = await post_form(client, f"/sessions/{b.session}/parametres", {**settings, "signing_grace": wrong})
        assert response.status_code == 422 and "de 0 à 240" in text(response.text), wrong
    assert (await post_form(client, f"/sessions/{b.session}/parametres", {**settings, "signing_grace": "45"})).status_code == 303
    assert (await TrainingSession.select(TrainingSession.signing_grace).where(TrainingSession.id == b.session).first())[
        "signing_grace"] == 45


def test_canonical_hash_is_of_the_sorted_compact_json():
    snapshot = {"b": 1, "a": "é"}
    assert common.canonical_sha256(snapshot) == hashlib.sha256('{"a":"é","b":1}'.encode()).hexdigest()
    assert png()[:8] == b"\x89PNG\r\n\x1a\n"


# -- a closing and what waited for its lock (PostgreSQL, READ COMMITTED) ---------------------------
async def _slot_and_session(slot_id: int) -> tuple[dict, dict]:
    slot = await SessionSlot.select().where(SessionSlot.id == slot_id).first()
    session = await TrainingSession.select(
        TrainingSession.all_columns(), TrainingSession.establishment.name.as_alias("establishment_name")).where(
        TrainingSession.id == slot["session"]).first()
    return slot, session


async def _closing_held(monkeypatch, b, slot_id):
    """Start the trainer's closing of ``slot_id`` and hold it inside its transaction (its lock taken,
    its SlotClosure written, not committed) until the returned gate is set."""
    gate, inside = asyncio.Event(), asyncio.Event()
    settle = attendance.settle

    async def held(enrolment_ids):
        if not gate.is_set():
            inside.set()
            await gate.wait()
        return await settle(enrolment_ids)

    monkeypatch.setattr(attendance, "settle", held)
    slot, session = await _slot_and_session(slot_id)
    trainer = SimpleNamespace(id=b.trainer, full_name="Le Formateur")
    task = asyncio.create_task(closing.close(trainer, slot, session, "", True))
    await asyncio.wait_for(inside.wait(), 10)
    return gate, task, slot, session, trainer


async def _waits(task) -> None:
    await asyncio.sleep(0.3)
    assert not task.done(), "the second transaction should be waiting for the closing's lock"


async def test_a_mark_that_waited_for_a_closing_is_refused_after_it(client, clock, monkeypatch):
    b = await built(learners=2)
    slot_id = b.slots[0]
    set_clock(clock, b.day, 12, 41)
    gate, closing_task, slot, session, _ = await _closing_held(monkeypatch, b, slot_id)
    mark = asyncio.create_task(trainer.mark(b.trainer, slot, session, b.enrolments[0], "present"))
    await _waits(mark)
    gate.set()
    await closing_task
    with pytest.raises(trainer.MarkRefused) as refused:
        await mark
    assert refused.value.message == trainer.FROZEN
    records = await AttendanceRecord.select(AttendanceRecord.method).where(AttendanceRecord.slot == slot_id)
    assert sorted(r["method"] for r in records) == ["closing", "closing"]  # nothing landed after the closing


async def test_a_grid_save_that_waited_for_a_closing_is_a_correction(client, clock, monkeypatch):
    b = await built(learners=2)
    slot_id = b.slots[0]
    set_clock(clock, b.day, 12, 41)
    gate, closing_task, *_ = await _closing_held(monkeypatch, b, slot_id)
    save = asyncio.create_task(attendance.save(None, b.session, {(b.enrolments[0], slot_id): "present"}))
    await _waits(save)
    gate.set()
    await closing_task
    with pytest.raises(ValidationFailed) as refused:  # a change of a closed slot: its reason is asked
        await save
    assert refused.value.errors == {"reason": attendance.REASON_REQUIRED}
    assert not await AttendanceRecord.exists().where(AttendanceRecord.method == "manager")


async def test_the_second_of_two_simultaneous_closings_is_told_already_closed(client, clock, monkeypatch):
    b = await built(learners=1)
    set_clock(clock, b.day, 12, 41)
    gate, first, slot, session, trainer_user = await _closing_held(monkeypatch, b, b.slots[0])
    second = asyncio.create_task(closing.close(trainer_user, slot, session, "", True))
    await _waits(second)
    gate.set()
    await first
    with pytest.raises(closing.CloseRefused) as refused:
        await second
    assert refused.value.message.startswith("Ce créneau est déjà clôturé (le ") and "Le Formateur" not in refused.value.message
    assert await SlotClosure.count() == 1


async def test_a_reason_has_one_limit_on_the_trainers_page_and_in_the_grid(client, new_client, clock):
    """An excuse typed by the trainer and a correction typed in the grid end in the same record
    field: the same limit (attendance.REASON_MAX), the same French message, nothing recorded past it."""
    b = await built(learners=1)
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 5)
    await login(client, b.trainer_username)
    too_long = "x" * (attendance.REASON_MAX + 1)
    page = await client.get(f"/creneaux/{slot}/emargement")
    assert f'maxlength="{attendance.REASON_MAX}"' in page.text
    refused = await post_form(client, f"/creneaux/{slot}/emargement/marquer",
                              {"enrolment": b.enrolments[0], "status": "excused", "reason": too_long})
    assert refused.status_code == 422 and attendance.REASON_TOO_LONG in text(refused.text)
    async with new_client() as manager:
        await login(manager, "alp001.get")
        url = f"/sessions/{b.session}/presences"
        assert f'maxlength="{attendance.REASON_MAX}"' in (await manager.get(url)).text
        grid = await post_form(manager, url, {f"a{b.enrolments[0]}_{slot}": "excused", "reason": too_long})
        assert grid.status_code == 422 and attendance.REASON_TOO_LONG in text(grid.text)
    assert await AttendanceRecord.count() == 0
    fits = await post_form(client, f"/creneaux/{slot}/emargement/marquer",
                           {"enrolment": b.enrolments[0], "status": "excused", "reason": too_long[:-1]})
    assert fits.status_code in (200, 303) and await AttendanceRecord.count() == 1
