"""Demo data for the embedded default: loaded only into an empty database, never in production."""

from __future__ import annotations

import random

from app.services.passwords import hash_password
from app.services.roles import ADMIN, GED, GET, LEARNER, REGISTRATION_MANAGER, REGISTRATION_TESTER, TRAINER
from app.services.text import fold, user_text_fields
from app.settings import get_settings
from app.tables.accounts import RoleAssignment, User
from app.tables.org import Delegation, Establishment

DEMO_PASSWORD = "Demo-2026!"

DELEGATIONS = [("ALP", "ALPES"), ("DAM", "AUVERGNE-MASSIF CENTRAL")]
ESTABLISHMENTS = [
    ("ALP001", "CH BUIS LES BARONNIES", "ALP"),
    ("ALP002", "EHPAD LES ÉDELWEISS", "ALP"),
    ("DAM001", "CH D'AMBERT", "DAM"),
    ("DAM016", "EHPAD VERT BOIS", "DAM"),
]
FIRST_NAMES = [
    "Valentin", "Élodie", "Léa", "Mathéo", "Chloé", "Hugo", "Inès", "Noé", "Zoé", "Raphaël",
    "Camille", "Louis", "Anaïs", "Jérôme", "Françoise", "Gaëlle", "Théo", "Manon", "Loïc", "Céline",
]
LAST_NAMES = [
    "Blondel", "Ollivet", "Dupond", "Lefèvre", "Girard", "Rousseau", "Bénard", "Mercier", "Faure",
    "André", "Lemaître", "Chevalier", "Gauthier", "Perrin", "Morel", "Fontaine", "Roux", "Noël",
    "D'Artagnan", "Bérenger", "Lacroix", "Moreau", "Garnier", "Barbier", "Marchand",
]
STAFF = [
    # username, first name, last name, roles [(role, delegation code, establishment code)]
    ("admin", "Alice", "Administratrice", [(ADMIN, None, None)]),
    ("ged.alp", "Gérard", "Alpes", [(GED, "ALP", None)]),
    ("alp001.get", "Emma", "Gestionnaire", [(GET, None, "ALP001"), (GET, None, "ALP002")]),
    ("dam001.get", "Damien", "Gestionnaire", [(GET, None, "DAM001")]),
    ("inscriptions", "Emma", "Inscriptions", [(REGISTRATION_MANAGER, None, None)]),
    ("testeur", "Wiley", "Testeur", [(REGISTRATION_TESTER, None, None)]),
]


TEMPLATES = [
    ("C01", "Réglementation, enjeux et mise en œuvre de l'entretien professionnel",
     "Réglementation, enjeux et mise en œuvre de l'entretien professionnel_C4_Inscription Institutionnelle",
     "Connaître le cadre réglementaire de l'entretien professionnel et savoir le conduire.", "7 heures",
     [("page", "Généralités", True), ("video", "Le cadre réglementaire", True), ("quiz", "Quiz final", True)]),
    ("C03", "Qualité de vie au travail (QVT)", "Qualité de vie au travail (QVT)_C4_Inscription institutionnelle",
     "Identifier les leviers de la qualité de vie au travail.\nEngager une démarche QVT avec son équipe.", "14 heures",
     [("quiz", "Positionnement", False), ("page", "Généralités", True), ("page", "Qualité de vie au travail (QVT)", True),
      ("reminder", "Réengagement", False), ("quiz", "Évaluation des acquis", True)]),
    ("C07", "Les fondamentaux de la laïcité", "Les fondamentaux de la laïcité_C4_Inscription institutionnelle",
     "Comprendre le principe de laïcité et son application dans la fonction publique hospitalière.", "3 heures 30",
     [("page", "Généralités", True), ("video", "Histoire et principes", True), ("quiz", "Cas pratiques", True)]),
]


REFERENCE_LISTS = {
    "funding_method": ["Financement par ma collectivité", "Financement personnel"],
    "candidate_state": ["Maire", "Adjoint.e au Maire", "Conseiller.e municipale", "Président.e d'EPCI",
                        "Conseiller.e communautaire", "Conseiller.e départementale", "Conseiller.e régionale", "Autre"],
    "establishment_type": ["Mairie", "Commune", "EPCI", "Département", "CFA"],
}
ORGANISATIONS = [
    ("Mairie de Buis-les-Baronnies", "Mairie", "26170", "Buis-les-Baronnies", True, True),
    ("Communauté de communes des Baronnies", "EPCI", "26170", "Buis-les-Baronnies", True, False),
    ("Mairie de Nyons", "Mairie", "26110", "Nyons", True, True),
    ("Mairie de Mollans-sur-Ouvèze", "Mairie", "26170", "Mollans-sur-Ouvèze", False, False),
]


DEMO_OPERATOR = "HGI Formation des élus"  # the operator's name in the demo (as seed 003 names it: HGI)


async def _load_registration() -> None:
    from app.services.outbox import set_setting
    from app.tables.registration import Organisation, RefItem

    for kind, labels in REFERENCE_LISTS.items():
        await RefItem.insert(*[RefItem(kind=kind, label=label, position=i) for i, label in enumerate(labels)])
    types = {r["label"]: r["id"] for r in await RefItem.select(RefItem.id, RefItem.label).where(
        RefItem.kind == "establishment_type")}
    await Organisation.insert(*[
        Organisation(name=name, kind=types[kind], postal_code=cp, city=city, referenced=referenced,
                     under_agreement=agreement, position=i,
                     validation_email=f"formation@{city.lower().replace(' ', '-').replace('è', 'e')}.demo.tremplin.local")
        for i, (name, kind, cp, city, referenced, agreement) in enumerate(ORGANISATIONS)
    ])
    await set_setting("disability_email", "handicap@demo.tremplin.local")
    await set_setting("operator_copy_email", "inscriptions@demo.tremplin.local")
    await set_setting("operator_name", DEMO_OPERATOR)
    await set_setting("cgv_text", f"Les frais pédagogiques sont facturés selon les conditions générales de {DEMO_OPERATOR}. "
                                  "Vos données sont traitées conformément au RGPD ; vous disposez d'un droit d'accès, "
                                  "de rectification et d'effacement.")


async def _copy_activities(session_id: int, template_id: int) -> list[dict]:
    """The template's activities copied into the session, as the content import copies them; the
    copies (id, kind, title, assessment) in the template's order."""
    from app.services.activities import copied_activity
    from app.tables.catalogue import SessionActivity, TemplateActivity

    activities = await TemplateActivity.select().where(TemplateActivity.template == template_id).order_by(
        TemplateActivity.position)
    rows = await SessionActivity.insert(*[copied_activity(session_id, a, a["position"]) for a in activities]).returning(
        SessionActivity.id)
    return [{"id": r["id"], "kind": a["kind"], "title": a["title"], "assessment": a["assessment"],
             "survey_phase": a["survey_phase"], "quiz": a["quiz"]} for r, a in zip(rows, activities)]


async def _load_provider() -> None:
    """The training organisation the certificats de réalisation and the BPF name (issue 22)."""
    from app.services.certificates.provider import KEYS
    from app.services.outbox import set_setting

    for field, value in {"name": DEMO_OPERATOR, "nda": "84260123426", "address": "12 place du Marché\n26110 Nyons",
                         "signatory": "Hélène Girard", "signatory_title": "Directrice"}.items():
        await set_setting(KEYS[field], value)


async def _load_sessions(establishment_id: int) -> None:
    """One open session per template, a few weeks ahead, ready for the public registration."""
    from datetime import timedelta

    from app.dates import now, today
    from app.services.sessions import next_code, propose_full_name
    from app.tables.catalogue import CourseTemplate, TrainingSession

    # Two-day sessions on Tuesday and Wednesday, weeks apart: training happens on working days.
    start = today() + timedelta(days=40)
    start += timedelta(days=(1 - start.weekday()) % 7)
    for n, template in enumerate(await CourseTemplate.select().order_by(CourseTemplate.code)):
        begin, end = start + timedelta(days=7 * n), start + timedelta(days=7 * n + 1)
        name = propose_full_name(begin, end, template["title"])
        code = await next_code(begin, template["code"])
        row = await TrainingSession.insert(TrainingSession(
            establishment=establishment_id, template=template["id"], full_name=name, short_name=name,
            start_date=begin, end_date=end, code=code, seats=12,
            certificate_text=template["certificate_text"], progress_block=True, discussion_block=True,
            imported_at=now(),
        )).returning(TrainingSession.id)
        await _copy_activities(row[0]["id"], template["id"])


async def _load_session_in_progress(establishment_id: int, learner_ids: list[int]) -> None:
    """A session that started two weeks ago, its learners at every stage: not started, half-way,
    completed, with quiz attempts (failed then passed). Written set-based, through the services."""
    import json
    from datetime import timedelta

    from app.dates import now, today
    from app.services.enrolments import add_sources
    from app.services.certificates import seal_now
    from app.services.learning import refresh_and_issue
    from app.services.sessions import next_code, propose_full_name
    from app.tables.catalogue import CourseTemplate, TrainingSession
    from app.tables.learning import ActivityCompletion, CompletionHow, Enrolment, QuizAttempt, SourceKind

    template = await CourseTemplate.select().where(CourseTemplate.code == "C01").first()
    begin, end = today() - timedelta(days=14), today() + timedelta(days=30)
    name = propose_full_name(begin, end, template["title"])
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=establishment_id, template=template["id"], full_name=name, short_name=name,
        start_date=begin, end_date=end, code=await next_code(begin, template["code"]), seats=None,
        certificate_text=template["certificate_text"], progress_block=True, discussion_block=True, imported_at=now(),
    )).returning(TrainingSession.id))[0]["id"]
    copied = await _copy_activities(session_id, template["id"])
    # The activities a learner works through (the questionnaires open at the end of the session).
    activity_ids = [a["id"] for a in copied if a["kind"] != "survey"]
    quiz_id = next(a["id"] for a in copied if a["kind"] == "quiz")
    await add_sources(session_id, learner_ids, SourceKind.manual)
    enrolments = [r["id"] for r in await Enrolment.select(Enrolment.id).where(
        Enrolment.session == session_id).order_by(Enrolment.user)]
    # Stages, in learner order: a third not started, a third half-way, a third completed.
    stage = {e: (i * 3) // len(enrolments) for i, e in enumerate(enrolments)}
    moment = now()
    completions, attempts = [], []
    wrong = json.dumps({0: [1], 1: [0], 2: [0]})
    right = json.dumps({0: [0], 1: [0], 2: [0, 1]})
    for i, enrolment in enumerate(enrolments):
        done = {0: 0, 1: len(activity_ids) - 1, 2: len(activity_ids)}[stage[enrolment]]
        for n, activity in enumerate(activity_ids[:done]):
            completions.append(ActivityCompletion(
                enrolment=enrolment, activity=activity, completed_at=moment - timedelta(days=10 - n, hours=i),
                how=CompletionHow.manual if n == 0 else CompletionHow.automatic))
        if stage[enrolment] >= 1:  # half-way learners failed the quiz once; finishers then passed it
            attempts.append(QuizAttempt(enrolment=enrolment, activity=quiz_id, answers=wrong, score=33, passed=False,
                                        submitted_at=moment - timedelta(days=3, hours=i)))
        if stage[enrolment] == 2:
            attempts.append(QuizAttempt(enrolment=enrolment, activity=quiz_id, answers=right, score=100, passed=True,
                                        submitted_at=moment - timedelta(days=2, hours=i)))
    if completions:
        await ActivityCompletion.insert(*completions)
    if attempts:
        await QuizAttempt.insert(*attempts)
    await Enrolment.update({Enrolment.last_visit: moment - timedelta(days=1), Enrolment.last_activity: activity_ids[0]}).where(
        Enrolment.id.is_in([e for e in enrolments if stage[e] >= 1] or [-1]))
    # The finishers get their certificate as in real use (issued on completion, then sealed): the
    # demo shows « Attestation de suivi de formation », the ZIP and the public verification.
    await _past_days_attended(session_id, begin, enrolments, stage)
    issued = await refresh_and_issue(session_id=session_id)
    await seal_now(issued)


async def _past_days_attended(session_id: int, begin, enrolments: list[int], stage: dict[int, int]) -> None:
    """Issue 20 point 9: a believable session in progress — enrolled a week before it began (before
    any visit or completion), two past days of slots (9:00-12:30, 13:30-17:00) with attendance
    recorded: learners who started were present, the others absent then excused. Self-contained:
    whatever the certificate rule asks of attendance, the finishers attended every slot."""
    from datetime import datetime, time, timedelta, timezone

    from app import db
    from app.services import attendance
    from app.tables.catalogue import SessionSlot
    from app.tables.evidence import AttendanceRecord
    from app.tables.learning import Attendance, Enrolment

    enrolled = datetime.combine(begin - timedelta(days=7), time(8), timezone.utc)
    await Enrolment.update({Enrolment.enrolled_at: enrolled}).where(Enrolment.session == session_id)
    days = (begin, begin + timedelta(days=1))
    await SessionSlot.insert(*[SessionSlot(session=session_id, day=day, starts=starts, ends=ends)
                               for day in days for starts, ends in ((time(9), time(12, 30)), (time(13, 30), time(17)))])
    slot_ids = [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session_id)
                .order_by(SessionSlot.day).order_by(SessionSlot.starts)]
    recorded = datetime.combine(days[-1], time(17, 30), timezone.utc)
    marks = [attendance.Mark(e, slot, "present") if stage[e] >= 1 else attendance.Mark(e, slot, "absent") if n < 2
             else attendance.Mark(e, slot, "excused", reason="Rendez-vous médical")
             for e in enrolments for n, slot in enumerate(slot_ids)]
    if marks:  # through the one writer of attendance (records and their projection), dated that evening
        async with db.transaction():
            await attendance.append(marks, "manager", None)
            await AttendanceRecord.update({AttendanceRecord.recorded_at: recorded}).where(
                AttendanceRecord.slot.is_in(slot_ids))
            await Attendance.update({Attendance.recorded_at: recorded}).where(Attendance.slot.is_in(slot_ids))


# Issue 22: an external trainer (named by the external people's rule) and the session they train today.
DEMO_TRAINER = ("ext.c.formatrice", "Claire", "Formatrice")


async def _load_training_today(establishment_id: int, learner_ids: list[int], password_hash: str) -> None:
    """« Claire Formatrice » (ext.c.formatrice, an external person) trains a one-day session of today
    whose one slot covers the working day (08:00–19:00), six learners enrolled: ``tremplin dev`` shows
    the trainer's home, their view of the session and the « Émargement » of the slot at once."""
    from datetime import time

    from app.dates import now, today
    from app.services.enrolments import add_sources
    from app.services.sessions import next_code, propose_full_name
    from app.tables.catalogue import CourseTemplate, SessionSlot, TrainingSession
    from app.tables.evidence import SessionTrainer
    from app.tables.learning import SourceKind

    template = await CourseTemplate.select().where(CourseTemplate.code == "C07").first()
    day = today()
    name = propose_full_name(day, day, template["title"])
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=establishment_id, template=template["id"], full_name=name, short_name=name, start_date=day,
        end_date=day, code=await next_code(day, template["code"]), seats=12,
        certificate_text=template["certificate_text"], progress_block=True, discussion_block=True, imported_at=now(),
        place="CH de Buis-les-Baronnies\nSalle Ventoux", contact="Emma Gestionnaire, 04 75 00 00 00",
        what_to_bring="De quoi prendre des notes",
    )).returning(TrainingSession.id))[0]["id"]
    await _copy_activities(session_id, template["id"])
    await SessionSlot.insert(SessionSlot(session=session_id, day=day, starts=time(8), ends=time(19)))
    await add_sources(session_id, learner_ids, SourceKind.manual)
    username, first, last = DEMO_TRAINER
    email = f"{username}@demo.tremplin.local"
    trainer_id = (await User.insert(User(
        username=username, password_hash=password_hash, first_name=first, last_name=last, email=email,
        external=True, **user_text_fields(first, last, username, email))).returning(User.id))[0]["id"]
    await RoleAssignment.insert(RoleAssignment(user=trainer_id, role=TRAINER))
    await SessionTrainer.insert(SessionTrainer(session=session_id, user=trainer_id))


# Issue 23: elected officials trained last year (external trainees of a member municipality).
DEMO_ELECTED = [("Marc", "Dufour"), ("Sylvie", "Reynaud"), ("Hervé", "Chabert"), ("Nadia", "Bouvier")]
COMMENTS = ["Très bons échanges avec le groupe.", "Des cas pratiques concrets, directement utiles.",
            "Un peu dense sur une seule journée.", "Formatrice à l'écoute et disponible.",
            "J'aurais aimé plus d'exemples tirés des collectivités."]


async def _load_finished_session(establishment_id: int, code: str, begin, learner_ids: list[int],
                                 trainer_ids: list[int], place: str, rng: random.Random,
                                 registered: list[int] = ()) -> int:
    """A two-day session over (09:00–12:30, 13:30–17:00 each day): everyone attended but for an
    excused half-day and an absence, everyone completed it and has their certificates; the first
    slot was trained by both trainers; the questionnaires that have opened were mailed, most learners
    answered. Issue 23: the published indicators, the survey results and the BPF have real figures."""
    import json
    from datetime import datetime, time, timedelta, timezone

    from app import db
    from app.dates import now
    from app.services import attendance
    from app.services.certificates import seal_now
    from app.services.enrolments import add_sources
    from app.services.learning import refresh_and_issue
    from app.services.sessions import next_code, propose_full_name
    from app.tables.catalogue import CourseTemplate, SessionSlot, TrainingSession
    from app.tables.evidence import AttendanceRecord, SessionTrainer, SlotTrainer
    from app.tables.learning import ActivityCompletion, Attendance, CompletionHow, Enrolment, QuizAttempt, SourceKind

    template = await CourseTemplate.select().where(CourseTemplate.code == code).first()
    days = (begin, begin + timedelta(days=1))
    name = propose_full_name(days[0], days[1], template["title"])
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=establishment_id, template=template["id"], full_name=name, short_name=name,
        start_date=days[0], end_date=days[1], code=await next_code(days[0], code), seats=12,
        certificate_text=template["certificate_text"], progress_block=True, discussion_block=True,
        imported_at=now(), place=place, contact="Emma Gestionnaire, 04 75 00 00 00",
    )).returning(TrainingSession.id))[0]["id"]
    copied = await _copy_activities(session_id, template["id"])
    await SessionSlot.insert(*[SessionSlot(session=session_id, day=day, starts=starts, ends=ends) for day in days
                               for starts, ends in ((time(9), time(12, 30)), (time(13, 30), time(17)))])
    slots = [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session_id)
             .order_by(SessionSlot.day).order_by(SessionSlot.starts)]
    await SessionTrainer.insert(*[SessionTrainer(session=session_id, user=t) for t in trainer_ids])
    await SlotTrainer.insert(*[SlotTrainer(slot=slots[0], user=t) for t in trainer_ids],
                             *[SlotTrainer(slot=slot, user=trainer_ids[0]) for slot in slots[1:]])
    await add_sources(session_id, learner_ids, SourceKind.manual)
    # ``registered``: people who came through the public registration (their completed requests).
    for user_id, request_id in await _completed_requests(session_id, registered, days[0]):
        await add_sources(session_id, [user_id], SourceKind.registration, request=request_id)
    enrolments = [r["id"] for r in await Enrolment.select(Enrolment.id).where(
        Enrolment.session == session_id).order_by(Enrolment.user)]
    evening = datetime.combine(days[1], time(17, 30), timezone.utc)
    await Enrolment.update({Enrolment.enrolled_at: evening - timedelta(days=21)}).where(Enrolment.session == session_id)
    marks = [attendance.Mark(e, slot, "present") for e in enrolments for slot in slots]
    marks[-1] = attendance.Mark(enrolments[-1], slots[-1], "excused", reason="Rendez-vous médical")
    marks[-len(slots) - 1] = attendance.Mark(enrolments[-2], slots[-1], "absent")
    async with db.transaction():
        await attendance.append(marks, "manager", None)
        await AttendanceRecord.update({AttendanceRecord.recorded_at: evening}).where(AttendanceRecord.slot.is_in(slots))
        await Attendance.update({Attendance.recorded_at: evening}).where(Attendance.slot.is_in(slots))
    # The learning: every required activity done; the quizzes tried (positioning at entry, then passed).
    work = [a for a in copied if a["kind"] != "survey" and a["assessment"] != "entry"]
    await ActivityCompletion.insert(*[
        ActivityCompletion(enrolment=e, activity=a["id"], completed_at=evening - timedelta(hours=2),
                           how=CompletionHow.automatic) for e in enrolments for a in work])
    attempts = []
    for i, e in enumerate(enrolments):
        for a in copied:
            if a["kind"] != "quiz":
                continue
            questions = json.loads(a["quiz"])
            right = {n: [j for j, c in enumerate(q["choices"]) if c["correct"]] for n, q in enumerate(questions)}
            answers = dict(right)
            if a["assessment"] == "entry" or i % 4 == 3:  # at entry most miss the second half; some at exit
                answers.update({n: [len(q["choices"]) - 1] for n, q in enumerate(questions) if n >= len(questions) // 2
                                and (a["assessment"] == "entry" or n == len(questions) - 1)})
            score = sum(answers[n] == right[n] for n in right) * 100 // len(right)
            moment = datetime.combine(days[0] if a["assessment"] == "entry" else days[1], time(10), timezone.utc)
            attempts.append(QuizAttempt(enrolment=e, activity=a["id"], answers=json.dumps(answers), score=score,
                                        passed=score >= 60, submitted_at=moment))
    if attempts:
        await QuizAttempt.insert(*attempts)
    issued = await refresh_and_issue(session_id=session_id)
    await seal_now(issued)
    # The questionnaires opened so far: à chaud at the end of the last slot, à froid 60 days later.
    await _answered_surveys(session_id, template["id"], copied, enrolments, evening, rng)
    return session_id


async def _completed_requests(session_id: int, user_ids: list[int], begin) -> list[tuple[int, int]]:
    """A completed registration request (seed 003: an elected official of a member municipality,
    their mandate, the municipality's financing) for each of these people, three weeks before the
    session: the financers' survey of that year asks their municipality."""
    from datetime import datetime, time, timedelta, timezone

    from app.tables.registration import RefItem, RegistrationRequest

    if not user_ids:
        return []
    refs = {(r["kind"], r["label"]): r["id"] for r in await RefItem.select(RefItem.id, RefItem.kind, RefItem.label)}
    people = await User.select(User.id, User.first_name, User.last_name, User.email, User.organisation).where(
        User.id.is_in(list(user_ids))).order_by(User.id)
    at = datetime.combine(begin - timedelta(days=21), time(10), timezone.utc)
    mandates = ["Maire", "Adjoint.e au Maire", "Conseiller.e municipale"]
    rows = await RegistrationRequest.insert(*[RegistrationRequest(
        reference=f"R{at:%y}-D{n:04d}", status="completed", step=9, session=session_id, user=p["id"],
        organisation=p["organisation"], funding=refs[("funding_method", "Financement par ma collectivité")],
        mandate=refs[("candidate_state", mandates[n % len(mandates)])], first_name=p["first_name"],
        last_name=p["last_name"], email=p["email"], postal_code="26110", cgv_accepted=True,
        submitted_at=at, confirmed_at=at, notified_at=at, created_at=at) for n, p in enumerate(people)]).returning(
        RegistrationRequest.id)
    return [(p["id"], r["id"]) for p, r in zip(people, rows)]


async def _answered_surveys(session_id: int, template_id: int, copied: list[dict], enrolments: list[int],
                            closed, rng: random.Random) -> None:
    import json
    from datetime import timedelta

    from app.dates import now
    from app.tables.quality import SurveyInvitation, SurveyResponse

    for a in copied:
        if a["kind"] != "survey":
            continue
        opens = closed + timedelta(days=60 if a["survey_phase"] == "cold" else 0)
        if opens > now():
            continue
        anonymous = a["survey_phase"] == "hot"
        answering = enrolments[: max(1, len(enrolments) * 4 // 5)]
        await SurveyInvitation.insert(*[SurveyInvitation(
            enrolment=e, activity=a["id"], opens_at=opens, sent_at=opens, answered=e in answering,
            reminders=0 if e in answering else 2, reminded_at=None if e in answering else opens + timedelta(days=14),
            answered_on=None if anonymous or e not in answering else (opens + timedelta(days=1)).date())
            for e in enrolments])
        questions = json.loads(a["quiz"])
        await SurveyResponse.insert(*[SurveyResponse(
            activity=a["id"], session=session_id, template=template_id, phase=a["survey_phase"],
            enrolment=None if anonymous else e, submitted_on=None if anonymous else (opens + timedelta(days=1)).date(),
            answers=json.dumps(_demo_answers(questions, rng), ensure_ascii=False)) for e in answering])


def _demo_answers(questions: list[dict], rng: random.Random) -> dict:
    answers = {}
    for n, q in enumerate(questions):
        if q["type"] == "scale5":
            answers[str(n)] = rng.choice([3, 4, 4, 5, 5])
        elif q["type"] == "scale10":
            answers[str(n)] = rng.choice([6, 7, 8, 8, 9, 9, 10])
        elif q["type"] == "single":
            answers[str(n)] = rng.choice([0, 0, 0, 1]) % len(q["choices"])
        elif q["type"] == "multiple":
            answers[str(n)] = sorted({rng.randrange(len(q["choices"])) for _ in range(2)})
        elif rng.random() < 0.6:
            answers[str(n)] = rng.choice(COMMENTS)
    return answers


async def _load_elected(password_hash: str) -> list[int]:
    """Four elected officials of the Mairie de Nyons, external trainees (X4): no establishment."""
    from app.tables.registration import Organisation

    organisation = await Organisation.select(Organisation.id).where(Organisation.name == "Mairie de Nyons").first()
    users = []
    for first, last in DEMO_ELECTED:
        username = f"ext.{fold(first)[0]}.{fold(last)}".lower()
        email = f"{fold(first)}.{fold(last)}@nyons.demo.tremplin.local".lower()
        users.append(User(username=username, password_hash=password_hash, first_name=first, last_name=last, email=email,
                          status="elected", external=True, organisation=organisation["id"],
                          **user_text_fields(first, last, username, email)))
    ids = [r["id"] for r in await User.insert(*users).returning(User.id)]
    await RoleAssignment.insert(*[RoleAssignment(user=i, role=LEARNER) for i in ids])
    return ids


async def _load_quality_evidence(establishments: dict, ids: dict, learners: list, password_hash: str) -> None:
    """Issue 23: a session finished last month (ALP002's agents: indicators and survey results) and one
    of last November (agents and elected officials, two trainers: the BPF and the élus' report of the
    last closed year)."""
    from datetime import date, timedelta

    from app.dates import today

    rng = random.Random(23)
    trainer = (await User.select(User.id).where(User.username == DEMO_TRAINER[0]).first())["id"]
    internal = ids["alp001.get"]  # an agent of the network: an internal trainer in the BPF's frame E
    await RoleAssignment.insert(RoleAssignment(user=internal, role=TRAINER))
    month_ago = today() - timedelta(days=35)
    month_ago -= timedelta(days=(month_ago.weekday() - 1) % 7)  # a Tuesday
    await _load_finished_session(establishments["ALP001"], "C03", month_ago,
                                 [ids[u] for u, c in learners if c == "ALP002"][:10], [trainer],
                                 "CH de Buis-les-Baronnies\nSalle Ventoux", rng)
    november = date(today().year - 1, 11, 17)
    november += timedelta(days=(1 - november.weekday()) % 7)
    elected = await _load_elected(password_hash)
    await _load_finished_session(establishments["ALP001"], "C01", november,
                                 [ids[u] for u, c in learners if c == "ALP001"][6:10], [trainer, internal],
                                 "Mairie de Nyons\nSalle du conseil municipal", rng, registered=elected)


# Issue 20 point 9: each template's own pages and quiz (a newcomer's first look must be believable).
PAGES = {
    ("C01", "Généralités"): (
        "<h2>L'entretien professionnel : généralités</h2><p>Tous les deux ans, chaque agent a un entretien "
        "professionnel avec son supérieur hiérarchique direct. Il fait le point sur ses compétences, ses "
        "souhaits d'évolution et ses besoins de formation ; ce n'est pas l'entretien d'évaluation.</p><ul>"
        "<li><strong>Avant</strong> : la convocation au moins huit jours à l'avance, avec la fiche de poste et le "
        "dernier compte rendu.</li><li><strong>Pendant</strong> : un échange sur le parcours et le projet de "
        "l'agent.</li><li><strong>Après</strong> : un compte rendu signé des deux parties, versé au dossier.</li>"
        "</ul><p>Pour aller plus loin : <a href=\"https://www.legifrance.gouv.fr/\">Légifrance</a>.</p>"),
    ("C03", "Généralités"): (
        "<h2>La qualité de vie au travail : de quoi parle-t-on ?</h2><p>La QVT rassemble ce qui permet de "
        "concilier l'amélioration des conditions de travail des agents et la qualité du service rendu aux "
        "patients et aux résidents.</p><ul><li><strong>Le contenu du travail</strong> : autonomie, sens, "
        "charge.</li><li><strong>Les relations</strong> : collectif de travail, management, reconnaissance."
        "</li><li><strong>L'équilibre</strong> : horaires, temps personnel, santé.</li></ul>"),
    ("C03", "Qualité de vie au travail (QVT)"): (
        "<h2>Engager une démarche QVT dans son service</h2><p>Une démarche QVT part du travail réel : on "
        "observe, on écoute les équipes, puis on expérimente des changements avant de les généraliser.</p><ol>"
        "<li>Constituer un groupe de travail représentatif (agents, encadrement, représentants du personnel)."
        "</li><li>Établir un diagnostic partagé : absentéisme, turn-over, enquête auprès des agents.</li><li>"
        "Choisir deux ou trois actions, les tester sur un service pilote, en mesurer les effets.</li></ol>"),
    ("C07", "Généralités"): (
        "<h2>La laïcité dans la fonction publique hospitalière</h2><p>La laïcité garantit la liberté de "
        "conscience de chacun et la neutralité du service public. L'agent public est tenu à la neutralité "
        "dans l'exercice de ses fonctions ; l'usager, lui, est libre de manifester ses convictions, dans les "
        "limites du bon fonctionnement du service.</p><ul><li><strong>Loi du 9 décembre 1905</strong> : "
        "séparation des Églises et de l'État.</li><li><strong>Charte de la laïcité dans les services publics"
        "</strong> (2007).</li></ul>"),
}
QUIZZES = {
    "C03": [
        {"text": "Une démarche QVT commence par :", "choices": [
            {"text": "Un diagnostic partagé du travail réel", "correct": True},
            {"text": "L'achat de mobilier ergonomique", "correct": False},
            {"text": "Une note de service de la direction", "correct": False}]},
        {"text": "Qui associer au groupe de travail QVT ?", "choices": [
            {"text": "Les agents et l'encadrement", "correct": True},
            {"text": "Les représentants du personnel", "correct": True},
            {"text": "Uniquement la direction des ressources humaines", "correct": False}]},
        {"text": "Avant de généraliser une action, on :", "choices": [
            {"text": "La teste sur un service pilote et en mesure les effets", "correct": True},
            {"text": "L'applique à tout l'établissement le même jour", "correct": False},
            {"text": "Attend l'entretien professionnel suivant", "correct": False}]},
    ],
    "C07": [
        {"text": "Dans l'exercice de ses fonctions, un agent public :", "choices": [
            {"text": "Est tenu à la neutralité religieuse", "correct": True},
            {"text": "Peut afficher ses convictions s'il est discret", "correct": False},
            {"text": "N'a aucune obligation particulière", "correct": False}]},
        {"text": "Un patient hospitalisé peut-il recevoir la visite d'un ministre du culte ?", "choices": [
            {"text": "Oui, s'il le demande", "correct": True}, {"text": "Non, jamais", "correct": False},
            {"text": "Seulement le dimanche", "correct": False}]},
        {"text": "Quel texte pose la séparation des Églises et de l'État ?", "choices": [
            {"text": "La loi du 9 décembre 1905", "correct": True},
            {"text": "La Charte de la laïcité de 2007", "correct": False},
            {"text": "Le statut général des fonctionnaires", "correct": False}]},
    ],
}
PAGE_HTML = (
    "<h2>{title}</h2><p>Cette activité présente les notions essentielles de la formation. Lisez-la "
    "attentivement : le test final porte sur ces points.</p><ul><li><strong>Le cadre</strong> : ce que disent "
    "les textes et qui est concerné.</li><li><strong>Les enjeux</strong> : pour l'agent, pour l'équipe, pour "
    "l'établissement.</li><li><strong>La mise en œuvre</strong> : les étapes, les outils, les pièges à éviter."
    "</li></ul><p>Pour aller plus loin : <a href=\"https://www.legifrance.gouv.fr/\">Légifrance</a>.</p>"
)
DEMO_QUIZ = [
    {"text": "L'entretien professionnel a lieu :", "choices": [
        {"text": "Tous les deux ans", "correct": True}, {"text": "Tous les dix ans", "correct": False},
        {"text": "Uniquement à l'embauche", "correct": False}]},
    {"text": "Qui conduit l'entretien professionnel ?", "choices": [
        {"text": "Le supérieur hiérarchique direct", "correct": True}, {"text": "Un collègue", "correct": False},
        {"text": "L'agent lui-même", "correct": False}]},
    {"text": "Quels sujets l'entretien aborde-t-il ?", "choices": [
        {"text": "Les perspectives d'évolution professionnelle", "correct": True},
        {"text": "Les besoins de formation", "correct": True}, {"text": "La vie privée de l'agent", "correct": False}]},
]
DEMO_VIDEO = "https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ"
RULES = {"page": "manual", "video": "view", "file": "view", "quiz": "quiz", "forum": "none", "reminder": "none",
         "survey": "none"}


# Issue 23: every template ends with its satisfaction questionnaires (à chaud: anonymous; à froid), and
# C03's quizzes position the learners at entry and evaluate them at exit, per objective.
SURVEYS = [("survey", "Questionnaire de satisfaction à chaud", False),
           ("survey", "Questionnaire de satisfaction à froid", False)]
# (NSF code, BPF objective) of each template: the BPF's frames F-4 and F-3.
TEMPLATE_BPF = {"C01": ("315", "other"), "C03": ("315", "other"), "C07": ("128", "other")}
ASSESSMENTS = {("C03", "Positionnement"): "entry", ("C03", "Évaluation des acquis"): "exit"}
QUIZ_OBJECTIVES = {"C03": [1, 2, 2]}  # the objective each question of the template's quiz tests


def _survey_fields(title: str) -> dict:
    import json

    from app.services.surveys.settings import model_questions

    phase = "hot" if "chaud" in title else "cold"
    return {"survey_phase": phase, "anonymous": phase == "hot",
            "quiz": json.dumps(model_questions(phase), ensure_ascii=False),
            "content": "Votre avis nous aide à améliorer nos formations : quelques minutes suffisent."}


def _activity_fields(kind: str, title: str, code: str = "") -> dict:
    """Real content per kind and template: a page of rich text, a video link, a 3-question quiz
    (pass mark 60 %) on the template's subject."""
    import json

    fields = {"completion": RULES[kind], "content": f"Contenu de l'activité « {title} »."}
    if kind == "page":
        fields["content"] = PAGES.get((code, title)) or PAGE_HTML.format(title=title)
    elif kind == "video":
        fields.update(video_url=DEMO_VIDEO, content="Regardez la vidéo (environ 10 minutes) puis passez à la suite.")
    elif kind == "quiz":
        questions = [dict(q) for q in QUIZZES.get(code, DEMO_QUIZ)]
        for question, objective in zip(questions, QUIZ_OBJECTIVES.get(code, [])):
            question["objective"] = objective
        fields.update(quiz=json.dumps(questions, ensure_ascii=False), pass_mark=60,
                      assessment=ASSESSMENTS.get((code, title), ""),
                      content="Trois questions ; 60 % de bonnes réponses pour réussir. Autant de tentatives que nécessaire.")
        if fields["assessment"] == "entry":
            fields.update(completion="none", content="Avant de commencer : où en êtes-vous ? Ce test ne compte pas.")
    elif kind == "survey":
        fields.update(_survey_fields(title), completion="none")
    elif kind == "forum":
        fields["content"] = "Échangez avec les autres participants dans le bloc « Discuter » de la session."
    elif kind == "reminder":
        fields["content"] = "Rappel aux apprenants qui ne sont pas revenus depuis 7 jours (caché pour les apprenants)."
    return fields


async def _load_catalogue() -> None:
    from app.tables.catalogue import CourseTemplate, TemplateActivity

    for code, title, short_name, objectives, duration, activities in TEMPLATES:
        activities = [*activities, *SURVEYS]
        nsf_code, bpf_objective = TEMPLATE_BPF[code]
        row = await CourseTemplate.insert(CourseTemplate(
            code=code, title=title, short_name=short_name, objectives=objectives, duration=duration,
            nsf_code=nsf_code, bpf_objective=bpf_objective,
            # {duree}: the planned hours of the session's slots (the template's estimate without slots),
            # never a figure written into the text that the slots would contradict.
            certificate_text=f"Atteste que l'agent a suivi la formation « {title} » ({{duree}}).",
        )).returning(CourseTemplate.id)
        await TemplateActivity.insert(*[
            TemplateActivity(template=row[0]["id"], position=i, kind=kind, title=t, required=required,
                             **_activity_fields(kind, t, code))
            for i, (kind, t, required) in enumerate(activities)
        ])


def _username(code: str, first: str, last: str) -> str:
    return f"{code}.{fold(first)[0]}.{''.join(c for c in fold(last) if c.isalnum())}".lower()


async def load_demo(learners_per_establishment: int = 13, with_sessions: bool = True) -> None:
    if get_settings().is_production:
        raise RuntimeError("Demo data is never loaded in production mode.")
    # One hash for every demo account: the demo password is public anyway.
    password_hash = hash_password(DEMO_PASSWORD)
    await Delegation.insert(*[Delegation(code=c, name=n) for c, n in DELEGATIONS])
    delegations = {r["code"]: r["id"] for r in await Delegation.select(Delegation.id, Delegation.code)}
    await Establishment.insert(
        *[Establishment(code=c, name=n, delegation=delegations[d]) for c, n, d in ESTABLISHMENTS]
    )
    establishments = {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}

    users = []
    for username, first, last, grants in STAFF:
        home = next((e for _, _, e in grants if e), None)
        email = f"{username}@demo.tremplin.local"
        users.append(
            User(
                username=username, password_hash=password_hash, first_name=first, last_name=last, email=email,
                establishment=establishments.get(home), status="staff", matricule="",
                **user_text_fields(first, last, username, email),
            )
        )
    rng = random.Random(2026)
    seen = set()
    learners: list[tuple[str, str]] = []
    for code, _, _ in ESTABLISHMENTS:
        for _ in range(learners_per_establishment):
            while True:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                username = _username(code.lower(), first, last)
                if username not in seen:
                    seen.add(username)
                    break
            email = f"{username.split('.', 1)[1]}.fictif@demo.tremplin.local" if rng.random() < 0.2 else (
                f"{fold(first)}.{fold(last).replace(' ', '').replace(chr(39), '')}@{code.lower()}.demo.tremplin.local"
            )
            users.append(
                User(
                    username=username, password_hash=password_hash, first_name=first, last_name=last, email=email,
                    establishment=establishments[code], status="fph_agent", matricule=f"000{rng.randint(100, 9999)}",
                    **user_text_fields(first, last, username, email),
                )
            )
            learners.append((username, code))
    await User.insert(*users)
    ids = {r["username"]: r["id"] for r in await User.select(User.id, User.username)}

    grants = []
    for username, _, _, roles in STAFF:
        for role, delegation, establishment in roles:
            grants.append(
                RoleAssignment(
                    user=ids[username], role=role, delegation=delegations.get(delegation),
                    establishment=establishments.get(establishment),
                )
            )
    grants += [RoleAssignment(user=ids[u], role=LEARNER, establishment=establishments[c]) for u, c in learners]
    await RoleAssignment.insert(*grants)
    await _load_catalogue()
    await _load_registration()
    if with_sessions:
        await _load_provider()
        await _load_sessions(establishments["ALP001"])
        await _load_session_in_progress(establishments["ALP001"], [ids[u] for u, c in learners if c == "ALP001"])
        await _load_training_today(establishments["ALP001"], [ids[u] for u, c in learners if c == "ALP001"][:6],
                                   password_hash)
        await _load_quality_evidence(establishments, ids, learners, password_hash)
    from app.tables.cohorts import Cohort

    await Cohort.insert(Cohort(establishment=establishments["ALP001"], name="Cohorte_Ex25", visible=True))


def print_logins(loaded: bool, url: str, mail_dir, codes: list[str] | None = None) -> None:
    lines = [
        "",
        f"Tremplin is running on {url}",
        "Demo data loaded." if loaded else "Existing database kept (demo data is only loaded into an empty one).",
        f"Demo logins (password {DEMO_PASSWORD}):",
        "  admin          administrator",
        "  ged.alp        GED of delegation ALP (ALPES)",
        "  alp001.get     GET of ALP001 and ALP002",
        "  dam001.get     GET of DAM001 (delegation DAM)",
        "  inscriptions   local registration manager",
        "  testeur        registration tester",
        "  ext.c.formatrice  trainer (Formateur) of today's session, « Émargement » open all day",
        "  learners       e.g. the usernames listed under Rôles (alp001.v.blondel style)",
    ]
    if codes:
        lines.append("Public registration: " + ", ".join(f"{url}/inscription/{code}" for code in codes))
    if mail_dir:
        lines.append(f"Mails are delivered to the local SMTP sink and saved in {mail_dir}")
    print("\n".join(lines), flush=True)


async def open_session_codes() -> list[str]:
    from app.dates import today
    from app.tables.catalogue import TrainingSession

    rows = await TrainingSession.select(TrainingSession.code).where(
        (TrainingSession.visible == True) & (TrainingSession.start_date > today())  # noqa: E712
    ).order_by(TrainingSession.start_date).limit(5)
    return [r["code"] for r in rows]
