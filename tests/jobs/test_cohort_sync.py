"""SPEC C2-C3: cohorts and the cohort sync enrolment method, with a real arq worker."""

from datetime import date

import pytest

from app.services import enrolments
from app.tables.accounts import RoleAssignment
from app.tables.catalogue import CohortSync, TrainingSession
from app.tables.learning import Enrolment
from app.tables.cohorts import Cohort, CohortMember
from app.tables.org import Establishment
from tests.helpers import login, post_form, text


async def _setup():
    ids = {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}
    sessions = []
    for n in (1, 2):
        row = await TrainingSession.insert(TrainingSession(
            establishment=ids["ALP001"], full_name=f"Session {n}", short_name=f"S{n}", start_date=date(2026, 6, 12),
            end_date=date(2026, 6, 16), code=f"26X00S{n}")).returning(TrainingSession.id)
        sessions.append(row[0]["id"])
    cohort = (await Cohort.select().where(Cohort.name == "Cohorte_Ex25").first())
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == ids["ALP001"])).order_by(RoleAssignment.user)]
    return ids, sessions, cohort, learners


async def _active(session_id):
    return {r["user"] for r in await Enrolment.select(Enrolment.user).where(
        (Enrolment.session == session_id) & (Enrolment.active == True))}  # noqa: E712


@pytest.mark.smoke
async def test_cohort_sync_follows_the_cohort_in_every_session(client, run_jobs):
    ids, sessions, cohort, learners = await _setup()
    await login(client, "alp001.get")
    members_url = f"/cohortes/{cohort['id']}/membres"
    page = text((await client.get(members_url)).text)
    assert "Utilisateurs actuels (0)" in page and "Utilisateurs potentiels (13)" in page
    await post_form(client, members_url, {"go": "add", "add": learners[:5]})
    for session_id in sessions:
        response = await post_form(client, f"/sessions/{session_id}/participants/methodes", {"cohort": cohort["id"]})
        assert response.status_code == 303
    await run_jobs()
    for session_id in sessions:
        assert await _active(session_id) == set(learners[:5])
    participants = text((await client.get(f"/sessions/{sessions[0]}/participants")).text)
    assert "Synchronisation des cohortes (Cohorte_Ex25)" in participants and "cohorte Cohorte_Ex25" in participants

    # A member added later is enrolled in every synced session; a member removed is unenrolled.
    await post_form(client, members_url, {"go": "add", "add": learners[5:7]}, htmx=True)
    await post_form(client, members_url, {"go": "remove", "remove": learners[:1]})
    await run_jobs()
    for session_id in sessions:
        assert await _active(session_id) == set(learners[1:7])
    kept = await Enrolment.select().where((Enrolment.user == learners[0]) & (Enrolment.session == sessions[0])).first()
    assert kept is not None and kept["active"] is False  # the row (and the progress) is kept

    # Back in the cohort: the same enrolment comes back.
    await post_form(client, members_url, {"go": "add", "add": learners[:1]})
    await run_jobs()
    again = await Enrolment.select().where((Enrolment.user == learners[0]) & (Enrolment.session == sessions[0])).first()
    assert again["id"] == kept["id"] and again["active"] is True

    # A manual enrolment and a cohort one for the same person: both shown, removing the manual keeps them.
    await post_form(client, f"/sessions/{sessions[0]}/inscriptions", {"go": "add", "add": learners[1]})
    response = await post_form(client, f"/sessions/{sessions[0]}/inscriptions", {"go": "remove", "remove": learners[1]})
    assert learners[1] in await _active(sessions[0])

    # Removing the method unenrols the cohort's members of that session only.
    sync = await CohortSync.select().where(CohortSync.session == sessions[1]).first()
    await post_form(client, f"/sessions/{sessions[1]}/participants/methodes/{sync['id']}/supprimer")
    await run_jobs()
    assert await _active(sessions[1]) == set()
    assert await _active(sessions[0]) == set(learners[:7])
    _ = response


async def test_sync_is_idempotent_and_the_reconciliation_repairs(demo):
    ids, sessions, cohort, learners = await _setup()
    await CohortMember.insert(*[CohortMember(cohort=cohort["id"], user=u) for u in learners[:4]])
    await CohortSync.insert(CohortSync(session=sessions[0], cohort=cohort["id"]))
    for _ in range(3):
        await enrolments.sync_cohort(cohort["id"])
    assert await Enrolment.count().where(Enrolment.session == sessions[0]) == 4
    # A lost job (membership changed behind the app's back): the periodic reconciliation catches up.
    await CohortMember.delete().where(CohortMember.user == learners[0])
    assert await enrolments.sync_all() >= 1
    assert await _active(sessions[0]) == set(learners[1:4])


async def test_cohort_management_rules(client):
    ids, sessions, cohort, learners = await _setup()
    await login(client, "alp001.get")
    response = await post_form(client, f"/etablissements/{ids['ALP001']}/cohortes/nouvelle", {"name": "Cohorte_Ex25", "visible": "1"})
    assert response.status_code == 422 and "existe déjà" in text(response.text)
    response = await post_form(client, f"/etablissements/{ids['ALP001']}/cohortes/nouvelle", {"name": "Infirmiers 2026"})
    assert response.status_code == 303
    listing = text((await client.get(f"/etablissements/{ids['ALP001']}/cohortes")).text)
    assert "Infirmiers 2026" in listing and "Cohorte_Ex25" in listing
    # A learner of another establishment cannot be made a member, even with a forged id.
    dam = await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == ids["DAM001"])).first()
    await post_form(client, f"/cohortes/{cohort['id']}/membres", {"go": "add", "add": [dam["user"], learners[0]]})
    assert {r["user"] for r in await CohortMember.select(CohortMember.user).where(
        CohortMember.cohort == cohort["id"])} == {learners[0]}
    # A synced cohort cannot be deleted before its sync is removed.
    await CohortSync.insert(CohortSync(session=sessions[0], cohort=cohort["id"]))
    # Back on the cohort, with why and the way to each session's participants (issue 20 point 15).
    for response in (await client.get(f"/cohortes/{cohort['id']}/supprimer"),
                     await post_form(client, f"/cohortes/{cohort['id']}/supprimer")):
        page = text(response.text)
        assert response.status_code in (200, 409) and "ne peut pas être supprimée" in page
        assert "Retour à l'accueil" not in page and "Modifier la cohorte" in page
        assert f'href="/sessions/{sessions[0]}/participants"' in response.text
    assert await Cohort.exists().where(Cohort.id == cohort["id"])
    # A cohort of another establishment cannot be synced to this session.
    other = await Cohort.insert(Cohort(establishment=ids["ALP002"], name="Autre")).returning(Cohort.id)
    response = await post_form(client, f"/sessions/{sessions[0]}/participants/methodes", {"cohort": other[0]["id"]})
    assert response.status_code in (400, 422)
    assert await CohortSync.count().where(CohortSync.cohort == other[0]["id"]) == 0


@pytest.mark.smoke
async def test_one_enrolment_per_person_whatever_the_ways(client, run_jobs):
    """Enrolled by hand and through a cohort: one enrolment, one seat, counted once; the database
    refuses a second row for the same person and session."""
    from app.services.seats import seats_taken
    from app.tables.learning import EnrolmentSource

    ids, sessions, cohort, learners = await _setup()
    session_id = sessions[0]
    await TrainingSession.update({TrainingSession.seats: 3}).where(TrainingSession.id == session_id)
    await login(client, "alp001.get")
    await post_form(client, f"/cohortes/{cohort['id']}/membres", {"go": "add", "add": learners[:2]})
    await post_form(client, f"/sessions/{session_id}/participants/methodes", {"cohort": cohort["id"]})
    await run_jobs()
    await post_form(client, f"/sessions/{session_id}/inscriptions", {"go": "add", "add": learners[:2]})
    assert await Enrolment.count().where(Enrolment.session == session_id) == 2
    assert await EnrolmentSource.count().where(EnrolmentSource.enrolment.session == session_id) == 4
    assert await seats_taken(session_id) == 2
    # The third seat is still free for one more person, not for two.
    page = await post_form(client, f"/sessions/{session_id}/inscriptions", {"go": "add", "add": learners[2:4]},
                           follow_redirects=True)
    assert "il en reste 1" in text(page.text)
    response = await post_form(client, f"/sessions/{session_id}/inscriptions", {"go": "add", "add": learners[2:3]})
    assert await Enrolment.count().where(Enrolment.session == session_id) == 3
    participants = text((await client.get(f"/sessions/{session_id}/participants")).text)
    assert participants.count("cohorte Cohorte_Ex25, manuelle") == 2
    with pytest.raises(Exception):
        await Enrolment.insert(Enrolment(session=session_id, user=learners[0]))
    _ = response


@pytest.mark.smoke
async def test_cohort_sync_respects_the_seat_limit(client, run_jobs):
    """Issue 19: a cohort of 5 synced into a 2-seat session enrolled 5. Now the first two added to
    the cohort are enrolled, the participants page says how many were left out and why, and a seat
    added later goes to the next member at the next sync."""
    ids, sessions, cohort, learners = await _setup()
    session_id = sessions[0]
    await TrainingSession.update({TrainingSession.seats: 2}).where(TrainingSession.id == session_id)
    await login(client, "alp001.get")
    for learner in learners[:5]:  # one by one: a stable "first added, first enrolled" order
        await post_form(client, f"/cohortes/{cohort['id']}/membres", {"go": "add", "add": learner})
    await post_form(client, f"/sessions/{session_id}/participants/methodes", {"cohort": cohort["id"]})
    await run_jobs()
    assert await _active(session_id) == set(learners[:2])
    page = text((await client.get(f"/sessions/{session_id}/participants")).text)
    assert ("3 membres de la cohorte Cohorte_Ex25 n'ont pas pu être inscrits : session complète (2 places)."
            in page)
    # Syncing again (the reconcile cron) enrols no one more; a manual enrolment is refused as well.
    await enrolments.sync_all()
    assert len(await _active(session_id)) == 2
    page = await post_form(client, f"/sessions/{session_id}/inscriptions", {"go": "add", "add": learners[5]},
                           follow_redirects=True)
    assert "il en reste 0" in text(page.text)
    # One more seat: the third member added gets it at the next sync.
    await TrainingSession.update({TrainingSession.seats: 3}).where(TrainingSession.id == session_id)
    await enrolments.sync_all()
    assert await _active(session_id) == set(learners[:3])
    page = text((await client.get(f"/sessions/{session_id}/participants")).text)
    assert "2 membres de la cohorte Cohorte_Ex25 n'ont pas pu être inscrits : session complète (3 places)." in page


async def test_cohort_sync_counts_registration_requests_and_races_manual_enrolment(demo):
    """The seats held by a registration request under way count for the cohort sync as for any way
    in; a manual enrolment and a sync at the same moment never fill more than the seats."""
    import asyncio

    from types import SimpleNamespace

    from app.dates import now
    from app.services.seats import SessionFull, seats_taken
    from app.tables.registration import RegistrationRequest

    ids, sessions, cohort, learners = await _setup()
    session_id = sessions[0]
    await TrainingSession.update({TrainingSession.seats: 3}).where(TrainingSession.id == session_id)
    await RegistrationRequest.insert(RegistrationRequest(
        reference="R-SEAT-1", status="confirmed", session=session_id, first_name="Léa", last_name="Martin",
        email="lea.martin@example.org", submitted_at=now(), confirmed_at=now()))
    assert await seats_taken(session_id) == 1
    await CohortMember.insert(*[CohortMember(cohort=cohort["id"], user=u) for u in learners[:5]])
    await CohortSync.insert(CohortSync(session=session_id, cohort=cohort["id"]))
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    manager = SimpleNamespace(id=None)

    async def by_hand():
        try:
            return await enrolments.enrol(manager, session, [str(learners[7])])
        except SessionFull:
            return 0

    await asyncio.gather(enrolments.sync_cohort(cohort["id"]), by_hand())
    assert await seats_taken(session_id) == 3
    assert len(await _active(session_id)) == 2


async def test_an_import_filling_a_synced_cohort_enrols_up_to_the_seats(client, run_jobs):
    """Import with cohorts: the new members of a cohort synced with a 2-seat session are enrolled
    at once (the import asks for the cohort's sync), up to the seats, like every other way in."""
    from tests.jobs.test_import_accounts import HEADER, _alp001, _upload

    ids, sessions, cohort, learners = await _setup()
    session_id = sessions[0]
    await TrainingSession.update({TrainingSession.seats: 2}).where(TrainingSession.id == session_id)
    await CohortSync.insert(CohortSync(session=session_id, cohort=cohort["id"]))
    await login(client, "alp001.get")
    upload = await _upload(client, await _alp001(), [HEADER, *[
        f"Prénom{i};Importé{i};;importe{i}@example.org;IMP{i};Cohorte_Ex25" for i in range(4)]])
    assert upload.status_code == 303, text(upload.text)
    batch_id = int(upload.headers["location"].rsplit("/", 1)[1])
    assert (await post_form(client, f"/imports/{batch_id}/confirmer")).status_code == 303
    await run_jobs()
    assert await CohortMember.count().where(CohortMember.cohort == cohort["id"]) == 4
    assert len(await _active(session_id)) == 2
    await enrolments.sync_all()  # the reconcile cron: no one more
    assert len(await _active(session_id)) == 2
    page = text((await client.get(f"/sessions/{session_id}/participants")).text)
    assert "2 membres de la cohorte Cohorte_Ex25 n'ont pas pu être inscrits : session complète (2 places)." in page
