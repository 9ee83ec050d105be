"""The daily retention job (issue 25), its dates read from the app's clock moved forward (``clock``):
an unused account is warned once by mail, a login cancels the warning, an account still unused is
pseudonymised at the right date (a manager's never), its training evidence is kept under the legal hold
and deleted at the end of its own retention (later for a session co-financed by the FSE), an active
account's evidence never; drafts, requests, mail bodies and attachments go after theirs; a second run
changes nothing."""

import json
from datetime import date, timedelta

import pytest

from app.dates import now
from app.services.passwords import hash_password
from app.services.retention import job
from app.tables.accounts import RoleAssignment, User
from app.tables.audit import AuditEvent
from app.tables.catalogue import TrainingSession
from app.tables.certificates import Certificate
from app.tables.evidence import AttendanceRecord, SlotClosure
from app.tables.imports import ImportBatch, ImportRow
from app.tables.learning import Attendance, Enrolment
from app.tables.outbox import Mail, MailAttachment
from app.tables.registration import RegistrationRequest
from tests import factories
from tests._closures import closed_slot
from tests.helpers import DEMO_PASSWORD, attended_every_slot, post_form, text

DAY = 86400.0


async def _users(ids: list[int]) -> dict[int, dict]:
    return {r["id"]: r for r in await User.select().where(User.id.is_in(ids))}


async def _seen(ids: list[int], when=None) -> None:
    await User.update({User.last_access: when or now()}).where(User.id.is_in(ids))


async def _warning_mails(emails: list[str]) -> list[dict]:
    return await Mail.select(Mail.intended_recipients, Mail.status, Mail.subject, Mail.body_text).where(
        (Mail.category == job.WARNING_CATEGORY) & Mail.intended_recipients.is_in(emails))


@pytest.mark.smoke  # the embedded SQLite mode runs the same job
async def test_warned_once_then_pseudonymised_at_the_right_dates_and_a_login_cancels(client, clock):
    est = await factories.establishment()
    a, b, c, manager = await factories.learners(est, 4, prefix="ret", password_hash=hash_password(DEMO_PASSWORD))
    await RoleAssignment.insert(RoleAssignment(user=manager, role="get", establishment=est))
    ours = [a, b, c, manager]
    before = await _users(ours)
    emails = [before[i]["email"] for i in (a, b, c)]
    await _seen(ours)
    # Default periods: pseudonymised after 24 months (731 days) without login, warned 30 days before.
    clock.advance(700 * DAY)
    await job.run()
    assert all(u["retention_warned_at"] is None for u in (await _users(ours)).values())
    assert await _warning_mails(emails) == []

    clock.advance(2 * DAY)
    report = await job.run()
    users = await _users(ours)
    assert all(users[i]["retention_warned_at"] is not None for i in (a, b, c)) and report["warned"] >= 3
    mails = await _warning_mails(emails)
    assert sorted(m["intended_recipients"] for m in mails) == sorted(emails)
    assert all(m["status"] == "queued" and "pseudonymisé" in m["subject"] for m in mails)
    assert f"Bonjour {before[a]['first_name']} {before[a]['last_name']}," in next(
        m["body_text"] for m in mails if m["intended_recipients"] == before[a]["email"])
    # A manager (GET) is never warned nor pseudonymised by the job.
    assert users[manager]["retention_warned_at"] is None
    assert await _warning_mails([before[manager]["email"]]) == []
    # Not twice.
    again = await job.run()
    assert again["warned"] == 0 and again["mailed"] == 0 and len(await _warning_mails(emails)) == 3

    # B comes back: the warning is cancelled.
    await post_form(client, "/connexion", {"username": before[b]["username"], "password": DEMO_PASSWORD})
    assert (await job.run())["cancelled"] >= 1
    assert (await _users([b]))[b]["retention_warned_at"] is None

    clock.advance(28 * DAY)  # 730 days without login: one day early
    assert (await job.run())["pseudonymised"] == 0
    assert all(u["pseudonymised_at"] is None for u in (await _users(ours)).values())

    clock.advance(2 * DAY)
    report = await job.run()
    assert report["pseudonymised"] >= 2 and report["protected"] >= 1
    users = await _users(ours)
    for i in (a, c):
        u = users[i]
        assert (u["username"], u["email"], u["first_name"], u["last_name"], u["matricule"]) == (
            f"pseudonyme#{i}", f"pseudonyme-{i}.fictif@compte.invalid", "", f"Pseudonyme {i}", "")
        assert u["search_text"] == f"pseudonyme#{i}" and u["last_name_key"] == f"pseudonyme {i}"
        assert u["password_hash"] == "!" and u["deactivated_at"] is not None
        assert before[i]["last_name"] not in json.dumps(u, default=str)
    for i in (b, manager):
        assert users[i]["username"] == before[i]["username"] and users[i]["pseudonymised_at"] is None
    # The learner role (evidence) stays; the manager keeps everything.
    assert await RoleAssignment.count().where(RoleAssignment.user.is_in([a, c])) == 2
    trail = await AuditEvent.select().where(
        (AuditEvent.action == "account.pseudonymised") & AuditEvent.target_id.is_in(ours))
    assert sorted((r["target_id"], r["target_label"], r["actor_label"]) for r in trail) == [
        (a, f"pseudonyme#{a}", "Système"), (c, f"pseudonyme#{c}", "Système")]
    # The old identifier no longer logs in.
    response = await post_form(client, "/connexion", {"username": before[a]["username"], "password": DEMO_PASSWORD})
    assert response.status_code != 303

    second = await job.run()
    assert second["pseudonymised"] == 0 and second["warned"] == 0
    assert len(await AuditEvent.select().where(
        (AuditEvent.action == "account.pseudonymised") & AuditEvent.target_id.is_in(ours))) == 2


async def test_a_deactivated_account_is_pseudonymised_without_warning_its_management_roles_removed(demo):
    est = await factories.establishment()
    left, recently = await factories.learners(est, 2, prefix="retd")
    await RoleAssignment.insert(RoleAssignment(user=left, role="get", establishment=est))
    await User.update({User.last_access: now() - timedelta(days=900), User.deactivated_at: now() - timedelta(
        days=800)}).where(User.id == left)
    await User.update({User.last_access: now() - timedelta(days=900), User.deactivated_at: now() - timedelta(
        days=100)}).where(User.id == recently)
    await job.run()
    users = await _users([left, recently])
    assert users[left]["username"] == f"pseudonyme#{left}" and users[left]["retention_warned_at"] is None
    assert [r["role"] for r in await RoleAssignment.select(RoleAssignment.role).where(
        RoleAssignment.user == left)] == ["learner"]
    assert users[recently]["pseudonymised_at"] is None and users[recently]["retention_warned_at"] is None


@pytest.mark.smoke  # SQLite keeps the instant to the second: two pseudonymisations in one second
async def test_two_pseudonymisations_at_the_same_instant_each_touch_their_own_accounts(demo):
    est = await factories.establishment()
    first, second = await factories.learners(est, 2, prefix="retsame")
    for person in (first, second):
        await RoleAssignment.insert(RoleAssignment(user=person, role="get", establishment=est))
    t = now()
    assert await job.pseudonymise_where(t, "id = {}", [first], "inactivité") == 1
    await RoleAssignment.insert(RoleAssignment(user=first, role="get", establishment=est))  # granted again since
    assert await job.pseudonymise_where(t, "id = {}", [second], "demande d'effacement") == 1
    recorded = await AuditEvent.select(AuditEvent.target_id, AuditEvent.details).where(
        (AuditEvent.action == "account.pseudonymised") & AuditEvent.target_id.is_in([first, second]))
    assert sorted((r["target_id"], json.loads(r["details"])["reason"]) if isinstance(r["details"], str)
                  else (r["target_id"], r["details"]["reason"]) for r in recorded) == [
        (first, "inactivité"), (second, "demande d'effacement")]
    # The second one removed its own account's management role only.
    assert await RoleAssignment.exists().where((RoleAssignment.user == first) & (RoleAssignment.role == "get"))
    assert not await RoleAssignment.exists().where((RoleAssignment.user == second) & (RoleAssignment.role == "get"))


async def _evidence(enrolment_id: int) -> tuple[int, int, int]:
    return (await Attendance.count().where(Attendance.enrolment == enrolment_id),
            await AttendanceRecord.count().where(AttendanceRecord.enrolment == enrolment_id),
            await Certificate.count().where(Certificate.enrolment == enrolment_id))


def _days_until(day: date) -> float:
    return (day - now().date()).days * DAY


async def test_evidence_kept_under_legal_hold_then_deleted_at_the_end_of_its_retention(demo, clock):
    est = await factories.establishment()
    start = date.today() - timedelta(days=20)
    plain = await factories.session_with_learners(est, 2, slots=2, start=start)
    fse = await factories.session_with_learners(est, 1, slots=2, start=start, fse_cofinanced=True)
    gone, active = plain.learners
    (fse_gone,) = fse.learners
    names = await _users([gone, active, fse_gone])
    enrolments = {gone: plain.enrolments[gone], active: plain.enrolments[active], fse_gone: fse.enrolments[fse_gone]}
    for session, people in ((plain, (gone, active)), (fse, (fse_gone,))):
        for person in people:
            await attended_every_slot(session.id, session.enrolments[person])
    for person, enrolment in enrolments.items():
        await Certificate.insert(Certificate(
            enrolment=enrolment, code=f"RET{enrolment:08d}", pdf_sha256="0" * 64,
            snapshot=json.dumps({"nom": f"{names[person]['first_name']} {names[person]['last_name']}"})))
    # Two of them left long ago and were warned: pseudonymised today; the third still uses Tremplin.
    await User.update({User.last_access: now() - timedelta(days=800), User.retention_warned_at: now() - timedelta(
        days=40)}).where(User.id.is_in([gone, fse_gone]))
    await _seen([active])
    assert (await job.run())["pseudonymised"] >= 2
    # Legal hold: the evidence stays, the certificate as issued (the name it states is the evidence).
    assert await _evidence(enrolments[gone]) == (2, 2, 1)
    snapshot = (await Certificate.select(Certificate.snapshot).where(Certificate.enrolment == enrolments[gone]).first())
    assert names[gone]["last_name"] in snapshot["snapshot"]

    end = plain.slots[-1].day
    clock.advance(_days_until(end.replace(year=end.year + 3)) - DAY)  # the day before the end of retention
    await _seen([active])
    await job.run()
    assert await _evidence(enrolments[gone]) == (2, 2, 1)

    clock.advance(2 * DAY)
    await _seen([active])
    report = await job.run()
    assert report["certificates_deleted"] >= 1 and report["attendance_deleted"] >= 2
    assert await _evidence(enrolments[gone]) == (0, 0, 0)
    assert await Enrolment.exists().where(Enrolment.id == enrolments[gone])  # anonymous, for the statistics
    assert await _evidence(enrolments[active]) == (2, 2, 1)  # an active account's: never
    assert await _evidence(enrolments[fse_gone]) == (2, 2, 1)  # co-financed by the FSE: ten years

    clock.advance(_days_until(end.replace(year=end.year + 10)) + DAY)
    await _seen([active])
    await job.run()
    assert await _evidence(enrolments[fse_gone]) == (0, 0, 0)
    assert await _evidence(enrolments[active]) == (2, 2, 1)
    second = await job.run()
    assert (second["certificates_deleted"], second["attendance_deleted"], second["records_deleted"]) == (0, 0, 0)


@pytest.mark.smoke  # the embedded SQLite mode runs the same job
async def test_drafts_requests_mail_bodies_and_attachments_go_after_their_retention(demo):
    t = now()
    old_session = await factories.session_with_learners(await factories.establishment(), 0, slots=1,
                                                         start=date.today() - timedelta(days=4 * 365))
    recent = await factories.session_with_learners(await factories.establishment(), 0, slots=1)
    await RegistrationRequest.insert(
        RegistrationRequest(reference="RET-DRAFT-OLD", status="draft", created_at=t - timedelta(days=31)),
        RegistrationRequest(reference="RET-UNCONF-OLD", status="awaiting_confirmation",
                            created_at=t - timedelta(days=31)),
        RegistrationRequest(reference="RET-DRAFT-NEW", status="draft", created_at=t - timedelta(days=29)),
        RegistrationRequest(reference="RET-OLD", status="completed", session=old_session.id, last_name="Ancien"),
        RegistrationRequest(reference="RET-NEW", status="completed", session=recent.id, last_name="Récent"),
    )
    mails = await Mail.insert(
        Mail(recipients="a@example.org", subject="Ancien", body_text="Votre mot de passe…", status="sent",
             created_at=t - timedelta(days=400)),
        Mail(recipients="b@example.org", subject="Récent", body_text="Bienvenue", status="sent",
             created_at=t - timedelta(days=89)),
        Mail(recipients="c@example.org", subject="En attente", body_text="À envoyer", status="retry",
             created_at=t - timedelta(days=100)),
    ).returning(Mail.id)
    old_mail, new_mail, waiting = (m["id"] for m in mails)
    await MailAttachment.insert(*(MailAttachment(mail=m, filename="bi.pdf", content_type="application/pdf",
                                                 content=b"%PDF") for m in (old_mail, new_mail)))
    report = await job.run()
    left = {r["reference"] for r in await RegistrationRequest.select(RegistrationRequest.reference).where(
        RegistrationRequest.reference.like("RET-%"))}
    assert left == {"RET-DRAFT-NEW", "RET-NEW"}
    assert report["drafts_deleted"] >= 2 and report["requests_deleted"] >= 1
    bodies = {r["id"]: r for r in await Mail.select().where(Mail.id.is_in([old_mail, new_mail, waiting]))}
    assert bodies[old_mail]["body_text"] == job.BODY_ERASED and bodies[old_mail]["subject"] == "Ancien"
    assert bodies[old_mail]["recipients"] == "a@example.org" and bodies[old_mail]["status"] == "sent"
    assert bodies[new_mail]["body_text"] == "Bienvenue" and bodies[waiting]["body_text"] == "À envoyer"
    assert [r["mail"] for r in await MailAttachment.select(MailAttachment.mail).where(
        MailAttachment.mail.is_in([old_mail, new_mail]))] == [new_mail]
    second = await job.run()
    assert all(v == 0 for k, v in second.items() if k not in ("warned", "mailed", "protected")), second


async def test_an_abandoned_import_goes_after_the_drafts_period_and_a_report_loses_its_rows_after_its_own(demo):
    t = now()
    est = await factories.establishment()
    batches = await ImportBatch.insert(*[
        ImportBatch(establishment=est, filename=name, status=status, created_at=t - timedelta(days=days),
                    finished_at=t - timedelta(days=days) if status == "done" else None)
        for name, status, days in (("abandonne.csv", "preview", 31), ("recent.csv", "preview", 29),
                                   ("en-cours.csv", "queued", 400), ("ancien-rapport.csv", "done", 370),
                                   ("rapport.csv", "done", 300))]).returning(ImportBatch.id)
    ids = [b["id"] for b in batches]
    await ImportRow.insert(*[ImportRow(batch=b, line=2, first_name="Béa", last_name="Trice", password="Secret-2026!",
                                       email="bea@example.org") for b in ids])
    report = await job.run()
    assert report["imports_deleted"] == 1 and report["import_rows_deleted"] == 1
    kept = {r["filename"] for r in await ImportBatch.select(ImportBatch.filename).where(ImportBatch.id.is_in(ids))}
    assert kept == {"recent.csv", "en-cours.csv", "ancien-rapport.csv", "rapport.csv"}  # a report's counts stay
    with_rows = {r["batch"] for r in await ImportRow.select(ImportRow.batch).where(ImportRow.batch.is_in(ids))}
    assert with_rows == {ids[1], ids[2], ids[4]}
    second = await job.run()
    assert second["imports_deleted"] == second["import_rows_deleted"] == 0


async def test_a_signed_sheet_is_emptied_after_the_supporting_evidence_retention(demo, new_client):
    recent, old = await closed_slot(learners=2), await closed_slot(learners=2)
    await TrainingSession.update({TrainingSession.end_date: date.today() - timedelta(days=6 * 366)}).where(
        TrainingSession.id == old.session_id)
    report = await job.run()
    assert report["sheets_cleared"] == 1
    rows = {r["id"]: r for r in await SlotClosure.select().where(
        SlotClosure.id.is_in([recent.closure_id, old.closure_id]))}
    assert json.loads(rows[old.closure_id]["snapshot"]) == {} and rows[old.closure_id]["countersignature"] == ""
    assert rows[old.closure_id]["code"] == old.code and rows[old.closure_id]["records_sha256"]
    assert json.loads(rows[recent.closure_id]["snapshot"]) == recent.snapshot
    # The people's own attendance records stay (their accounts are active).
    assert await AttendanceRecord.count().where(AttendanceRecord.enrolment.is_in(old.enrolments)) >= 2
    async with new_client() as anonymous:
        page = await anonymous.get(f"/verifier/emargement/{old.code}")
        assert page.status_code == 200 and "n'est plus conservée" in text(page.text)
        assert old.names[0] not in page.text
        assert "authentique" in text((await anonymous.get(f"/verifier/emargement/{recent.code}")).text)
    assert (await job.run())["sheets_cleared"] == 0


async def test_a_large_backlog_is_warned_over_several_nights_the_longest_unused_first(demo, clock, monkeypatch):
    est = await factories.establishment()
    ids = await factories.learners(est, 3, prefix="lot")
    everyone = [r["id"] for r in await User.select(User.id)]
    await _seen(everyone)
    # The three unused the longest, oldest first.
    for n, user_id in enumerate(ids):
        await _seen([user_id], now() - timedelta(days=800 - n))
    monkeypatch.setattr(job, "WARN_PER_RUN", 2)
    first = await job.run()
    warned = {u["id"] for u in (await _users(ids)).values() if u["retention_warned_at"] is not None}
    assert first["warned"] == 2 and warned == set(ids[:2])
    clock.advance(DAY)
    assert (await job.run())["warned"] == 1
    assert all(u["retention_warned_at"] is not None for u in (await _users(ids)).values())
