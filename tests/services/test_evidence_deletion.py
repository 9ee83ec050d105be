"""Deleting a session or an account never loses training evidence (issue 22 review): the schema
keeps trainers, attendance records and closures with RESTRICT, so a delete that ignored them ended in
the generic « conflit… rechargez la page ». A session with evidence is refused in plain French; one
with trainers only goes with its trainers (their grant with their last session); an account that
trained or recorded attendance is deactivated, never erased."""

from datetime import timedelta

from app.dates import today
from app.services import attendance
from app.services.enrolments import remove_sources
from app.services.roles import TRAINER
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.evidence import AttendanceRecord, SessionTrainer, SlotClosure, SlotTrainer
from app.tables.learning import SourceKind
from app.tables.org import Establishment
from tests import factories
from tests.helpers import login, post_form, text


async def _alp001() -> int:
    return (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]


async def _slots(session_id: int) -> list[int]:
    return [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session_id).order_by(
        SessionSlot.day).order_by(SessionSlot.starts)]


async def _is_trainer(user_id: int) -> bool:
    return await RoleAssignment.exists().where((RoleAssignment.user == user_id) & (RoleAssignment.role == TRAINER))


async def test_a_session_with_trainers_and_nothing_recorded_is_deleted_with_them(client):
    est = await _alp001()
    session = await factories.session_with_learners(est, learners_count=0, slots=2)
    other = await factories.session_with_learners(est, learners_count=0, slots=1)
    first, _ = await _slots(session.id)
    only_here = await factories.trainer(session.id, [first], establishment_id=est)
    elsewhere_too = await factories.trainer(session.id)
    await SessionTrainer.insert(SessionTrainer(session=other.id, user=elsewhere_too))
    await login(client, "alp001.get")
    gone = await post_form(client, f"/sessions/{session.id}/supprimer", follow_redirects=True)
    assert gone.status_code == 200 and "Session supprimée." in text(gone.text)
    assert not await TrainingSession.exists().where(TrainingSession.id == session.id)
    assert not await SessionTrainer.exists().where(SessionTrainer.session == session.id)
    assert not await SlotTrainer.exists().where(SlotTrainer.user == only_here)
    # The grant goes with the last session trained, not before.
    assert not await _is_trainer(only_here) and await _is_trainer(elsewhere_too)
    assert await SessionTrainer.exists().where((SessionTrainer.session == other.id) & (SessionTrainer.user == elsewhere_too))


async def test_a_session_whose_former_learner_has_attendance_records_is_refused_in_french(client):
    est = await _alp001()
    session = await factories.session_with_learners(est, learners_count=1, slots=2, start=today() - timedelta(days=3))
    await factories.trainer(session.id)
    (learner, enrolment), = session.enrolments.items()
    first, _ = await _slots(session.id)
    await attendance.save(None, session.id, {(enrolment, first): "present"})
    await remove_sources(session.id, [learner], SourceKind.manual)  # no longer enrolled: the records stay
    await login(client, "alp001.get")
    refused = await post_form(client, f"/sessions/{session.id}/supprimer")
    assert refused.status_code == 400
    said = text(refused.text)
    assert "traces de formation de 1 personne" in said and "Annuler la session" in said and "rechargez" not in said
    assert await TrainingSession.exists().where(TrainingSession.id == session.id)
    assert await AttendanceRecord.count().where(AttendanceRecord.enrolment == enrolment) == 1
    assert await SessionTrainer.exists().where(SessionTrainer.session == session.id)  # nothing half-done


async def test_a_session_with_a_closed_slot_is_refused_in_french(client):
    est = await _alp001()
    session = await factories.session_with_learners(est, learners_count=0, slots=1, start=today() - timedelta(days=3))
    trainer = await factories.trainer(session.id)
    (slot,) = await _slots(session.id)
    await SlotClosure.insert(SlotClosure(slot=slot, closed_by=trainer, records_sha256="0" * 64, code="ABCDEFGHJK"))
    await login(client, "alp001.get")
    refused = await post_form(client, f"/sessions/{session.id}/supprimer")
    assert refused.status_code == 400 and "émargement est clôturé" in text(refused.text)
    assert await TrainingSession.exists().where(TrainingSession.id == session.id)
    # Once cancelled, the message does not ask to cancel it again.
    await post_form(client, f"/sessions/{session.id}/annuler")
    assert await TrainingSession.exists().where((TrainingSession.id == session.id) & TrainingSession.cancelled_at.is_not_null())
    said = text((await post_form(client, f"/sessions/{session.id}/supprimer")).text)
    assert "Elle est annulée ; cachez-la" in said and "Annulez-la" not in said


async def test_a_trainers_account_is_deactivated_not_erased_and_keeps_what_they_recorded(client):
    est = await _alp001()
    session = await factories.session_with_learners(est, learners_count=1, slots=1, start=today() - timedelta(days=3))
    designated = await factories.trainer(session.id, establishment_id=est)
    recorder = await factories.trainer(session.id, establishment_id=est)
    (enrolment,) = session.enrolments.values()
    (slot,) = await _slots(session.id)
    await attendance.save(recorder, session.id, {(enrolment, slot): "present"})
    await SessionTrainer.delete().where(SessionTrainer.user == recorder)  # no longer a trainer of anything
    await login(client, "alp001.get")
    for user_id in (designated, recorder):
        confirm = text((await client.get(f"/utilisateurs/{user_id}/supprimer")).text)
        assert "traces de formation" in confirm and "conservées" in confirm
        done = await post_form(client, f"/utilisateurs/{user_id}/supprimer", follow_redirects=True)
        assert done.status_code == 200 and "désactivé" in text(done.text) and "rechargez" not in text(done.text)
        row = await User.select(User.deactivated_at, User.is_suspended).where(User.id == user_id).first()
        assert row is not None and row["deactivated_at"] is not None and row["is_suspended"]
    assert (await AttendanceRecord.select(AttendanceRecord.recorded_by).where(
        AttendanceRecord.enrolment == enrolment).first())["recorded_by"] == recorder
    # An account with nothing at all is still erased.
    (spare,) = await factories.learners(est, 1)
    gone = await post_form(client, f"/utilisateurs/{spare}/supprimer", follow_redirects=True)
    assert "supprimé" in text(gone.text) and not await User.exists().where(User.id == spare)
