"""Convocations and calendar invitations (issue 12, X2): the mail on enrolment (manual, cohort sync)
with its PDF and .ics, parsed back; updates (SEQUENCE+1, same UIDs) after a slot change; METHOD:CANCEL
on unenrolment and on the session's cancellation; reminders once with two workers at once."""

import asyncio
import io
import secrets
from datetime import date, datetime, time, timedelta

import pytest
from icalendar import Calendar
from pypdf import PdfReader

from app.dates import today
from app.services import convocations, enrolments
from app.services.enrolments import add_sources, remove_sources
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import CohortSync, SessionSlot, TrainingSession
from app.tables.cohorts import Cohort, CohortMember
from app.tables.convocations import ConvocationNotice
from app.tables.learning import Enrolment, SourceKind
from app.tables.org import Establishment
from tests.helpers import assert_tagged_pdf, login, post_form, text
from tests.services.test_certificates import pdf_text


async def make_session(establishment="ALP001", starts_in=20, slots=True, code="26C03S9", auto=True) -> int:
    est = (await Establishment.select(Establishment.id).where(Establishment.code == establishment).first())["id"]
    start = today() + timedelta(days=starts_in)
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=est, full_name="Qualité de vie au travail", short_name="QVT", start_date=start,
        end_date=start + timedelta(days=1), code=code, place="Salle Rhône\n12 rue des Lilas, 26170 Buis-les-Baronnies",
        contact="Claire Martin, 04 75 00 00 00", what_to_bring="Pièce d'identité\nOrdinateur portable",
        auto_convocations=auto)).returning(TrainingSession.id))[0]["id"]
    if slots:
        await SessionSlot.insert(*[SessionSlot(session=session_id, day=start + timedelta(days=d), starts=t0, ends=t1)
                                   for d in (0, 1) for t0, t1 in ((time(9), time(12, 30)), (time(13, 30), time(17)))])
    return session_id


async def learners(establishment="ALP001", count=2) -> list[int]:
    est = (await Establishment.select(Establishment.id).where(Establishment.code == establishment).first())["id"]
    rows = await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == est)
        & RoleAssignment.user.email.not_like("%.fictif@%")).order_by(RoleAssignment.user).limit(count)
    return [r["user"] for r in rows]


@pytest.fixture
def run_jobs(run_jobs, redis_client):
    """The callers' kick after their commit (convocations.dispatch_pending), then a burst worker."""
    async def run(age=True, **overrides):
        await convocations.dispatch_pending(redis_client)
        if age:  # the grouping window passed: the sweep's job (a key of its own) builds the updates
            await age_notices()
            for row in await ConvocationNotice.select(ConvocationNotice.session).where(
                    ConvocationNotice.status == "pending").distinct():
                await convocations.request_build(redis_client, row["session"], f"aged{secrets.token_hex(4)}")
        return await run_jobs(**overrides)

    return run


async def age_notices() -> None:
    """The grouping window passes for the notices waiting (updates wait for it, issue 20)."""
    from app import db

    seconds = int(convocations.GROUP_WINDOW.total_seconds()) + 5
    if db.is_sqlite():
        await ConvocationNotice.raw(f"UPDATE convocation_notice SET created_at = datetime(created_at, '-{seconds} seconds') "
                                    "WHERE status = 'pending'")
    else:
        await ConvocationNotice.raw(f"UPDATE convocation_notice SET created_at = created_at - interval '{seconds} seconds' "
                                    "WHERE status = 'pending'")


def attachments(message) -> dict[str, tuple[str, bytes]]:
    return {part.get_filename(): (part.get_content_type(), part.get_payload(decode=True), part.get_param("method"))
            for part in message.iter_attachments()}


def events(ics: bytes) -> tuple[Calendar, list]:
    calendar = Calendar.from_ical(ics)
    return calendar, [c for c in calendar.walk("VEVENT")]


def by_recipient(smtp) -> dict[str, list]:
    out: dict[str, list] = {}
    for rcpts, message in smtp.messages:
        for r in rcpts:
            out.setdefault(r, []).append(message)
    return out


@pytest.mark.smoke
async def test_enrolment_mails_the_convocation_pdf_and_the_invitation(demo, smtp, run_jobs):
    session_id = await make_session()
    people = await learners()
    await add_sources(session_id, people, SourceKind.manual)
    assert await ConvocationNotice.count().where(ConvocationNotice.session == session_id) == 2  # in the transaction
    await run_jobs()
    learner = await User.select().where(User.id == people[0]).first()
    (message,) = by_recipient(smtp)[learner["email"]]
    assert message["Subject"] == "Convocation : Qualité de vie au travail"
    files = attachments(message)
    pdf_name = next(n for n in files if n.endswith(".pdf"))
    assert files[pdf_name][0] == "application/pdf" and files["invitation-26C03S9.ics"][0] == "text/calendar"
    assert files["invitation-26C03S9.ics"][2] == "REQUEST"  # the MIME part says it: clients offer to accept
    ics_part = next(p for p in message.iter_attachments() if p.get_filename().endswith(".ics"))
    assert ics_part.get_content_charset() == "utf-8"  # names and places are UTF-8: declared (issue 20)
    content = pdf_text(files[pdf_name][1])
    assert len(PdfReader(io.BytesIO(files[pdf_name][1])).pages) == 1  # one A4 page, signature area included
    assert_tagged_pdf(files[pdf_name][1], f"Convocation — {learner['first_name']} {learner['last_name']}")
    start = today() + timedelta(days=20)
    for expected in ("Convocation à la formation", learner["first_name"], learner["last_name"],
                     "Qualité de vie au travail", "09:00–12:30, 13:30–17:00", "Salle Rhône", "Claire Martin",
                     "Pièce d'identité", "Ordinateur portable", "CH BUIS LES BARONNIES", "4 demi-journées, 14 h"):
        assert expected in content, expected
    calendar, vevents = events(files["invitation-26C03S9.ics"][1])
    assert calendar["METHOD"] == "REQUEST" and len(vevents) == 4
    assert [e.decoded("DTSTART") for e in vevents][0].tzinfo.key == "Europe/Paris"
    assert vevents[0].decoded("DTSTART").replace(tzinfo=None) == datetime.combine(start, time(9))
    assert vevents[3].decoded("DTEND").replace(tzinfo=None) == datetime.combine(start + timedelta(days=1), time(17))
    assert vevents[0]["DTSTART"].params["TZID"] == "Europe/Paris"
    assert [t["TZID"] for t in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert "Salle Rhône" in str(vevents[0]["LOCATION"]) and int(vevents[0]["SEQUENCE"]) == 0
    assert len({str(e["UID"]) for e in vevents}) == 4
    # Enrolling them again (another way) mails nothing more.
    await add_sources(session_id, people, SourceKind.registration)
    smtp.messages.clear()
    await run_jobs()
    assert smtp.messages == []


@pytest.mark.smoke
async def test_updates_keep_the_uid_raise_the_sequence_and_unenrolment_cancels(client, smtp, run_jobs):
    session_id = await make_session()
    people = await learners()
    await add_sources(session_id, people, SourceKind.manual)
    await run_jobs()
    email = (await User.select(User.email).where(User.id == people[0]).first())["email"]
    _, first = events(attachments(by_recipient(smtp)[email][0])["invitation-26C03S9.ics"][1])
    uids = [str(e["UID"]) for e in first]

    # The manager sends the convocations again: nobody gets the same convocation (same SEQUENCE) twice.
    await login(client, "alp001.get")
    page = text((await client.get(f"/sessions/{session_id}/convocations")).text)
    assert "Déjà convoqués 2" in page and "Jamais convoqués 0" in page
    smtp.messages.clear()
    for who in ("new", "all"):
        nothing = await post_form(client, f"/sessions/{session_id}/convocations", {"who": who}, follow_redirects=True)
        assert "Aucune convocation à envoyer" in text(nothing.text)
    await run_jobs()
    assert smtp.messages == []

    # A slot moves on the settings page: an update, SEQUENCE 1, the same UIDs with the new time.
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    start = session["start_date"]
    form = {"start_date": start.isoformat(), "end_date": session["end_date"].isoformat(),
            "full_name": session["full_name"], "short_name": "QVT", "visible": "1", "code": session["code"],
            "place": session["place"], "contact": session["contact"], "what_to_bring": session["what_to_bring"],
            "auto_convocations": "1", "notify": "1",
            "slots": "\n".join(f"{(start + timedelta(days=d)):%d/%m/%Y} {h}" for d in (0, 1)
                               for h in ("09:30-12:30", "13:30-17:00"))}
    smtp.messages.clear()
    assert (await post_form(client, f"/sessions/{session_id}/parametres", form)).status_code == 303
    await run_jobs()
    (update,) = by_recipient(smtp)[email]
    assert update["Subject"].startswith("Modification de votre convocation")
    _, changed = events(attachments(update)["invitation-26C03S9.ics"][1])
    assert [str(e["UID"]) for e in changed] == uids and {int(e["SEQUENCE"]) for e in changed} == {1}
    assert changed[0].decoded("DTSTART").replace(tzinfo=None) == datetime.combine(start, time(9, 30))
    # Saving again without a change mails nothing.
    smtp.messages.clear()
    await post_form(client, f"/sessions/{session_id}/parametres", form)
    await run_jobs()
    assert smtp.messages == []

    # One slot removed: the update cancels it in a second attachment (METHOD:CANCEL).
    smtp.messages.clear()
    await post_form(client, f"/sessions/{session_id}/parametres", {**form, "slots": form["slots"].rsplit("\n", 1)[0]})
    await run_jobs()
    files = attachments(by_recipient(smtp)[email][0])
    _, kept = events(files["invitation-26C03S9.ics"][1])
    cancel, gone = events(files["annulation-26C03S9.ics"][1])
    assert len(kept) == 3 and cancel["METHOD"] == "CANCEL" and [str(e["UID"]) for e in gone] == uids[3:]

    # Unenrolled: METHOD:CANCEL for every event, a higher SEQUENCE, the same UIDs.
    smtp.messages.clear()
    await remove_sources(session_id, [people[0]], SourceKind.manual)
    await run_jobs()
    (cancellation,) = by_recipient(smtp)[email]
    assert cancellation["Subject"] == "Annulation : Qualité de vie au travail"
    assert list(attachments(cancellation)) == ["annulation-26C03S9.ics"]
    assert attachments(cancellation)["annulation-26C03S9.ics"][2] == "CANCEL"
    calendar, cancelled = events(attachments(cancellation)["annulation-26C03S9.ics"][1])
    assert calendar["METHOD"] == "CANCEL" and [str(e["UID"]) for e in cancelled] == uids[:3]
    assert {int(e["SEQUENCE"]) for e in cancelled} == {3} and {str(e["STATUS"]) for e in cancelled} == {"CANCELLED"}
    # Enrolled again: a new REQUEST, with a SEQUENCE above the cancellation's.
    smtp.messages.clear()
    await add_sources(session_id, [people[0]], SourceKind.manual)
    await run_jobs()
    _, back = events(attachments(by_recipient(smtp)[email][0])["invitation-26C03S9.ics"][1])
    assert [str(e["UID"]) for e in back] == uids[:3] and {int(e["SEQUENCE"]) for e in back} == {4}


@pytest.mark.smoke
async def test_cancelling_the_session_cancels_every_invitation_and_keeps_the_records(client, smtp, run_jobs):
    session_id = await make_session()
    people = await learners()
    await add_sources(session_id, people, SourceKind.manual)
    await run_jobs()
    await login(client, "alp001.get")
    confirm = await client.get(f"/sessions/{session_id}/annuler")
    assert confirm.status_code == 200 and "Annuler la session" in text(confirm.text)
    smtp.messages.clear()
    done = await post_form(client, f"/sessions/{session_id}/annuler", follow_redirects=True)
    assert "Session annulée" in text(done.text)
    await run_jobs()
    assert len(smtp.messages) == 2
    for _, message in smtp.messages:
        assert "est annulée" in message.get_body(("plain",)).get_content()
        calendar, _ = events(attachments(message)["annulation-26C03S9.ics"][1])
        assert calendar["METHOD"] == "CANCEL"
    assert await TrainingSession.exists().where(TrainingSession.id == session_id)
    assert await Enrolment.count().where(Enrolment.session == session_id) == 2
    again = await post_form(client, f"/sessions/{session_id}/annuler", follow_redirects=True)
    assert "déjà annulée" in text(again.text)
    refused = await post_form(client, f"/sessions/{session_id}/convocations", {"who": "all"}, follow_redirects=True)
    assert "annulée" in text(refused.text)


async def test_cancelling_a_session_that_is_over_mails_no_one(client, smtp, run_jobs):
    """Nothing is mailed about a session that is over — but « Annuler la session » on one mailed
    every learner « La session … est annulée » about a training they had attended, and its
    METHOD:CANCEL took it out of their calendars."""
    session_id = await make_session()
    people = await learners()
    await add_sources(session_id, people, SourceKind.manual)
    await run_jobs()
    assert len(smtp.messages) == 2  # convoked before it took place
    await TrainingSession.update({TrainingSession.start_date: today() - timedelta(days=10),
                                  TrainingSession.end_date: today() - timedelta(days=9)}).where(
        TrainingSession.id == session_id)
    await login(client, "alp001.get")
    smtp.messages.clear()
    assert "Elle est terminée : aucun courriel n'est envoyé." in text(
        (await client.get(f"/sessions/{session_id}/annuler")).text)
    done = await post_form(client, f"/sessions/{session_id}/annuler", follow_redirects=True)
    assert "Elle était terminée : aucun courriel n'est envoyé" in text(done.text)
    await run_jobs()
    assert smtp.messages == []
    assert (await TrainingSession.select(TrainingSession.cancelled_at).where(
        TrainingSession.id == session_id).first())["cancelled_at"] is not None


async def test_a_session_title_with_a_line_break_still_gets_its_convocations_mailed(client, smtp, run_jobs):
    """A title posted with a line break (a forged form: the page's input has none) went into the
    mails' Subject: Python refuses a header with a line feed (no injection), so every convocation of
    the session failed to build, try after try, and no learner was ever convoked."""
    session_id = await make_session()
    await login(client, "alp001.get")
    start = today() + timedelta(days=20)
    saved = await post_form(client, f"/sessions/{session_id}/parametres", {
        "start_date": start.isoformat(), "end_date": (start + timedelta(days=1)).isoformat(),
        "full_name": "Qualité de vie\r\nBcc: intrus@example.org", "short_name": "QVT", "visible": "1",
        "code": "26C03S9", "auto_convocations": "1"})
    assert saved.status_code == 303
    people = await learners(count=1)
    await add_sources(session_id, people, SourceKind.manual)
    await run_jobs()
    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert "intrus@example.org" not in recipients and message["Bcc"] is None
    assert message["Subject"] == "Convocation : Qualité de vie Bcc: intrus@example.org"


async def test_cohort_sync_and_the_automatic_setting(demo, smtp, run_jobs, redis_client):
    session_id = await make_session(code="26C03S8")
    manual_only = await make_session(code="26C03S7", auto=False)
    est = (await TrainingSession.select(TrainingSession.establishment).where(TrainingSession.id == session_id).first())
    cohort = (await Cohort.insert(Cohort(establishment=est["establishment"], name="QVT", visible=True)).returning(
        Cohort.id))[0]["id"]
    people = await learners(count=3)
    await CohortMember.insert(*[CohortMember(cohort=cohort, user=u) for u in people])
    await CohortSync.insert(CohortSync(session=session_id, cohort=cohort), CohortSync(session=manual_only, cohort=cohort))
    await enrolments.request_sync(redis_client, cohort)
    await run_jobs()
    subjects = sorted(m["Subject"] for _, m in smtp.messages)
    assert subjects == ["Convocation : Qualité de vie au travail"] * 3
    assert all(len(list(m.iter_attachments())) == 2 for _, m in smtp.messages)
    # The session that does not send them by itself: none until the manager does.
    assert not await ConvocationNotice.exists().where(ConvocationNotice.session == manual_only)


@pytest.mark.smoke
async def test_reminders_are_mailed_once_with_two_workers_at_once(demo, smtp, run_jobs, redis_client):
    from app.jobs.worker import build_worker
    from app.queue import enqueue

    seven = await make_session(starts_in=7, code="26C03S6")
    one = await make_session(starts_in=1, code="26C03S5")
    later = await make_session(starts_in=12, code="26C03S4")
    people = await learners(count=4)
    for session_id in (seven, one, later):
        await add_sources(session_id, people, SourceKind.manual)
    await run_jobs()
    # The convocations went out before today.
    await ConvocationNotice.update({ConvocationNotice.created_at: datetime.now().astimezone() - timedelta(days=3)}).where(
        ConvocationNotice.id > 0)
    smtp.messages.clear()
    for n in range(4):  # the cron in two workers, twice each (restarts)
        await enqueue(redis_client, "send_convocation_reminders", _job_id=f"reminders-test-{n}")
    workers = [build_worker(burst=True, poll_delay=0.05, cron_jobs=[]) for _ in range(2)]
    try:
        await asyncio.gather(*(w.main() for w in workers))
    finally:
        for w in workers:
            await w.close()
    await run_jobs()
    subjects = [m["Subject"] for _, m in smtp.messages]
    assert sorted(subjects) == sorted(
        ["Rappel : votre formation commence dans 7 jours — Qualité de vie au travail"] * 4
        + ["Rappel : votre formation commence demain — Qualité de vie au travail"] * 4)
    per_person = by_recipient(smtp)
    assert len(per_person) == 4 and all(len(m) == 2 for m in per_person.values())
    assert all(len(list(m.iter_attachments())) == 2 for _, m in smtp.messages)
    # Again tomorrow (D-6 for the first): nothing more.
    smtp.messages.clear()
    assert await convocations.queue_reminders(today() + timedelta(days=1)) == 0


async def test_downloads_are_scoped(client, new_client):
    session_id = await make_session()
    people = await learners()
    await add_sources(session_id, people, SourceKind.manual)
    other_session = await make_session(establishment="DAM001", code="26C03S3")
    await add_sources(other_session, await learners("DAM001", 1), SourceKind.manual)
    dam_learner = (await learners("DAM001", 1))[0]
    await login(client, "alp001.get")
    participants = await client.get(f"/sessions/{session_id}/participants")
    assert f"/sessions/{session_id}/convocations/{people[0]}/convocation.pdf" in participants.text
    pdf = await client.get(f"/sessions/{session_id}/convocations/{people[0]}/convocation.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    ics = await client.get(f"/sessions/{session_id}/convocations/{people[0]}/invitation.ics")
    # A downloaded calendar file is PUBLISH (issue 20, point 24); REQUEST is the invitation mailed.
    assert ics.status_code == 200 and Calendar.from_ical(ics.content)["METHOD"] == "PUBLISH"
    # Another establishment's session, or someone not enrolled: 404, the same words.
    for url in (f"/sessions/{other_session}/convocations/{dam_learner}/convocation.pdf",
                f"/sessions/{other_session}/convocations/{dam_learner}/invitation.ics",
                f"/sessions/{other_session}/convocations",
                f"/sessions/{session_id}/convocations/{dam_learner}/convocation.pdf"):
        response = await client.get(url)
        assert response.status_code == 404, url
    # The learner: their own, before the session starts; never someone else's session.
    username = (await User.select(User.username).where(User.id == people[0]).first())["username"]
    async with new_client() as learner_client:
        await login(learner_client, username)
        home = await learner_client.get("/")
        assert f"/mes-sessions/{session_id}/convocation.pdf" in home.text
        mine = await learner_client.get(f"/mes-sessions/{session_id}/convocation.pdf")
        assert mine.status_code == 200 and "Convocation à la formation" in pdf_text(mine.content)
        assert (await learner_client.get(f"/mes-sessions/{session_id}/invitation.ics")).status_code == 200
        assert (await learner_client.get(f"/mes-sessions/{other_session}/convocation.pdf")).status_code == 404
        assert (await learner_client.get(f"/sessions/{session_id}/convocations/{people[0]}/convocation.pdf")
                ).status_code in (403, 404)


async def test_a_cancelled_session_offers_no_convocation_to_its_managers_either(client, new_client):
    """The learner got « introuvable » for a cancelled session's convocation, but its managers still
    downloaded a « Convocation » PDF and an invitation METHOD:REQUEST / CONFIRMED with the SEQUENCE of
    the cancellation mailed: forwarded, it put the training back in the learner's calendar."""
    session_id = await make_session()
    people = await learners()
    await add_sources(session_id, people, SourceKind.manual)
    await login(client, "alp001.get")
    ics = await client.get(f"/sessions/{session_id}/convocations/{people[0]}/invitation.ics")
    assert ics.headers["content-type"] == "text/calendar; charset=utf-8"  # one charset, not two
    assert (await post_form(client, f"/sessions/{session_id}/annuler")).status_code == 303
    participants = text((await client.get(f"/sessions/{session_id}/participants")).text)
    assert "Session annulée" in participants
    assert f"/sessions/{session_id}/convocations/{people[0]}/" not in participants
    for kind in ("convocation.pdf", "invitation.ics"):
        response = await client.get(f"/sessions/{session_id}/convocations/{people[0]}/{kind}")
        assert response.status_code == 404, kind
        assert "Cette session est annulée" in text(response.text)
    username = (await User.select(User.username).where(User.id == people[0]).first())["username"]
    async with new_client() as learner_client:
        await login(learner_client, username)
        assert (await learner_client.get(f"/mes-sessions/{session_id}/invitation.ics")).status_code == 404


async def test_a_session_without_slots_gets_an_all_day_event(demo, smtp, run_jobs):
    """No automatic convocation while the session has no slots (issue 20: a convocation without hours);
    the manager may still send one (« Envoyer les convocations »): one all-day event over its dates."""
    session_id = await make_session(slots=False)
    people = await learners(count=1)
    await add_sources(session_id, people, SourceKind.manual)
    await run_jobs()
    assert smtp.messages == []
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    assert await convocations.queue_for_session(session, only_new=True) == 1
    await run_jobs()
    (_, message), = smtp.messages
    files = attachments(message)
    _, (event,) = events(files["invitation-26C03S9.ics"][1])
    start = today() + timedelta(days=20)
    assert event.decoded("DTSTART") == start and event.decoded("DTEND") == start + timedelta(days=2)
    assert isinstance(event.decoded("DTSTART"), date) and not isinstance(event.decoded("DTSTART"), datetime)
    pdf_name = next(n for n in files if n.endswith(".pdf"))
    assert "Les horaires vous seront communiqués" in pdf_text(files[pdf_name][1])


STORM_TITLE = "Session du {:%d-%m-%Y} au {:%d-%m-%Y}_Prévention des risques psychosociaux et qualité de vie au travail"


async def test_no_convocation_storm_one_grouped_mail_that_says_what_changed(client, smtp, run_jobs):
    """Issue 20: enrolling people, then setting slots and place (the order a GET works in) mailed each
    a convocation with no hours or place, then two « Modification » within seconds, the second the
    same as the first. Now: nothing while the session has no slots nor place; saving them says
    « Enregistrer préviendra N inscrits » with the choice not to; the changes of a short window make
    one mail; an update says what changed (before → after); one that changes nothing they see mails
    no one; the subject has single spaces."""
    session_id = await make_session(slots=False)
    start = today() + timedelta(days=20)
    title = STORM_TITLE.format(start, start + timedelta(days=1))
    await TrainingSession.update({TrainingSession.place: "", TrainingSession.full_name: title}).where(
        TrainingSession.id == session_id)
    people = await learners(count=2)
    await add_sources(session_id, people, SourceKind.manual)
    await run_jobs()
    assert smtp.messages == []  # no slots, no place: no convocation yet

    await login(client, "alp001.get")
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    start = session["start_date"]
    form = {"start_date": start.isoformat(), "end_date": session["end_date"].isoformat(), "full_name": title,
            "short_name": "QVT", "visible": "1", "code": session["code"], "place": "Salle Rhône", "contact": "",
            "what_to_bring": "", "auto_convocations": "1",
            "slots": f"{start:%d/%m/%Y} 09:00-12:30\n{start:%d/%m/%Y} 13:30-17:00"}
    asked = await post_form(client, f"/sessions/{session_id}/parametres", form)
    assert asked.status_code == 200 and "Enregistrer préviendra 2 inscrits" in text(asked.text)
    assert await slots_of(session_id) == []  # nothing saved before the answer
    assert (await post_form(client, f"/sessions/{session_id}/parametres", {**form, "notify": "1"})).status_code == 303
    # A second change seconds later (the place completed): grouped with the first.
    form["place"] = "Salle Rhône\n12 rue des Lilas, 26170 Buis-les-Baronnies"
    assert (await post_form(client, f"/sessions/{session_id}/parametres", {**form, "notify": "1"})).status_code == 303
    await run_jobs(age=False)
    assert smtp.messages == []  # within the window: nothing yet
    await run_jobs()
    mails = by_recipient(smtp)
    assert len(smtp.messages) == 2 and all(len(m) == 1 for m in mails.values())
    message = next(iter(mails.values()))[0]
    assert message["Subject"] == f"Convocation : {title}"  # one space each, not « au  18-12-2026 »
    body = message.get_body(("plain",)).get_content()
    assert "09:00–12:30, 13:30–17:00" in body and "12 rue des Lilas" in body

    # Hours moved, then moved back within the window: nothing learners see changed, no mail.
    smtp.messages.clear()
    moved = {**form, "slots": f"{start:%d/%m/%Y} 09:30-12:30\n{start:%d/%m/%Y} 13:30-17:00", "notify": "1"}
    assert (await post_form(client, f"/sessions/{session_id}/parametres", moved)).status_code == 303
    assert (await post_form(client, f"/sessions/{session_id}/parametres", {**form, "notify": "1"})).status_code == 303
    await run_jobs()
    assert smtp.messages == []

    # The place changes: one update, which says what changed, before → after.
    changed = {**form, "place": "Salle Durance", "notify": "1"}
    asked = await post_form(client, f"/sessions/{session_id}/parametres", {**changed, "notify": ""})
    assert "Enregistrer préviendra 2 inscrits" in text(asked.text)
    assert (await post_form(client, f"/sessions/{session_id}/parametres", changed)).status_code == 303
    await run_jobs()
    assert len(smtp.messages) == 2
    update = smtp.messages[0][1]
    assert update["Subject"] == f"Modification de votre convocation : {title}"
    assert "Lieu : Salle Rhône, 12 rue des Lilas, 26170 Buis-les-Baronnies → Salle Durance" in \
        update.get_body(("plain",)).get_content()

    # « Enregistrer sans prévenir »: saved, nobody mailed.
    smtp.messages.clear()
    quiet = {**changed, "place": "Salle Isère", "notify": "0"}
    assert (await post_form(client, f"/sessions/{session_id}/parametres", quiet)).status_code == 303
    await run_jobs()
    assert smtp.messages == []
    assert (await TrainingSession.select(TrainingSession.place).where(
        TrainingSession.id == session_id).first())["place"] == "Salle Isère"


async def slots_of(session_id: int) -> list:
    return await SessionSlot.select().where(SessionSlot.session == session_id)
