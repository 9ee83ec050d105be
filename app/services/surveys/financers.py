"""The financers' yearly survey (issue 23, indicator 30: « au moins annuellement »): launched for a
year by an administrator or a registration manager, sent to the organisations that referenced a
registration request that year (seed 003), at their validation address, with a signed link to a
public answering page (no login); two reminders; one answer per organisation (same rule as the
learners': the invitation is marked answered by an UPDATE … WHERE answered = false RETURNING and
the response written only when it returned the row)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from app import db
from app.dates import now, today
from app.jobs import kinds
from app.services import outbox
from app.services.errors import NotFound, ValidationFailed
from app.services.surveys.invitations import BATCH, paris
from app.services.surveys.links import FINANCER_SALT, financer_link, read_token
from app.services.surveys.questions import dump_questions, load_questions, parse_survey_text, read_answers
from app.services.surveys.settings import model_text
from app.settings import get_settings
from app.tables.quality import FinancerInvitation, FinancerSurvey, SurveyResponse

CATEGORY = "survey-financers"
NOT_FOUND = "Enquête introuvable."


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return paris(date(year, 1, 1), time(0)), paris(date(year + 1, 1, 1), time(0))


def _check_year(year: int | None) -> int:
    if year is None or not 2000 <= year <= today().year:
        raise ValidationFailed({"year": f"Indiquez une année entre 2000 et {today().year}."})
    return year


async def surveys() -> list[dict]:
    """The surveys launched, latest year first, with their counts (one query)."""
    return await FinancerSurvey.raw(
        "SELECT f.id, f.year, f.title, f.launched_at, COUNT(i.id) AS invited, "
        "COALESCE(SUM(CASE WHEN i.answered THEN 1 ELSE 0 END), 0) AS answered "
        "FROM financer_survey f LEFT JOIN financer_invitation i ON i.survey = f.id "
        "GROUP BY f.id, f.year, f.title, f.launched_at ORDER BY f.year DESC")


async def candidates_count(year: int) -> dict:
    """How many organisations referenced a request that year, and how many of them have a
    validation address (those are invited)."""
    start, end = _year_bounds(year)
    row = (await FinancerSurvey.raw(
        "SELECT COUNT(*) AS organisations, COALESCE(SUM(CASE WHEN o.validation_email <> '' THEN 1 ELSE 0 END), 0) "
        "AS with_email FROM organisation o WHERE o.merged_into IS NULL AND EXISTS (SELECT 1 FROM registration_request r "
        "WHERE r.organisation = o.id AND r.status NOT IN ('draft', 'awaiting_confirmation') AND r.submitted_at >= {} AND r.submitted_at < {})",
        start, end))[0]
    return {"organisations": row["organisations"], "with_email": row["with_email"]}


async def years_to_ask() -> list[int]:
    """The years (latest first, up to this one) in which organisations with a validation address
    referenced a registration request: the years a survey would reach someone. One query."""
    rows = await FinancerSurvey.raw(
        "SELECT DISTINCT EXTRACT(YEAR FROM r.submitted_at AT TIME ZONE {})::int AS year FROM registration_request r "
        "JOIN organisation o ON o.id = r.organisation WHERE o.merged_into IS NULL AND o.validation_email <> '' "
        "AND r.status NOT IN ('draft', 'awaiting_confirmation') AND r.submitted_at IS NOT NULL ORDER BY year DESC",
        get_settings().timezone)
    return [r["year"] for r in rows if 2000 <= r["year"] <= today().year]


def _mail(row: dict, year: int, reminder: int) -> tuple:
    subject = (f"Rappel : enquête de satisfaction {year} de nos formations" if reminder
               else f"Enquête de satisfaction {year} : votre avis sur nos formations")
    intro = ("Sauf erreur de notre part, vous n'avez pas encore répondu à notre enquête annuelle de satisfaction."
             if reminder else
             f"Des membres de votre structure ({row['name']}) ont suivi nos formations en {year}. Dans le cadre de "
             "notre démarche qualité (Qualiopi), nous recueillons chaque année l'avis des structures qui financent "
             "ou prescrivent ces formations.")
    body = (f"Madame, Monsieur,\n\n{intro}\n\nRépondre à l'enquête (quelques minutes, sans compte ni mot de passe) :\n"
            f"{outbox.SECRET_MARK}\n\nNous vous remercions par avance de votre contribution.\n\n"
            "Cordialement,\nL'équipe formation\n")
    return (row["email"], subject, body, "", financer_link(row["id"]))


async def _details(ids: list[int]) -> list[dict]:
    if not ids:
        return []
    return await FinancerInvitation.select(
        FinancerInvitation.id, FinancerInvitation.email, FinancerInvitation.reminders,
        FinancerInvitation.organisation.name.as_alias("name"), FinancerInvitation.survey.year.as_alias("year"),
    ).where(db.among(FinancerInvitation.id, ids))


async def _queue(redis, messages: list[tuple], key: str) -> int:
    if not messages:
        return 0
    queued = await outbox.queue_mails(messages, CATEGORY, key)
    await kinds.IMPORT_MAILS.submit(redis, key)
    return queued


async def launch(redis, year: int | None, user_id: int | None) -> dict:
    """Create « Enquête financeurs <year> » (questions copied from the model), its invitations and
    their mails, in one transaction. Refused if that year's survey exists or nobody is to be asked."""
    year = _check_year(year)
    questions = parse_survey_text(await model_text("financers"))
    start, end = _year_bounds(year)
    moment = now()
    async with db.transaction():
        made = await FinancerSurvey.raw(
            "INSERT INTO financer_survey (year, title, questions, launched_at, launched_by) "
            "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (year) DO NOTHING RETURNING id",
            year, f"Enquête financeurs {year}", dump_questions(questions), moment, user_id)
        if not made:
            raise ValidationFailed({"year": f"L'enquête financeurs {year} est déjà lancée."})
        survey_id = made[0]["id"]
        invited = await FinancerInvitation.raw(
            "INSERT INTO financer_invitation (survey, organisation, email, sent_at, reminders, answered) "
            "SELECT {}, o.id, o.validation_email, {}, 0, false FROM organisation o "
            "WHERE o.merged_into IS NULL AND o.validation_email <> '' AND EXISTS (SELECT 1 FROM registration_request r "
            "WHERE r.organisation = o.id AND r.status NOT IN ('draft', 'awaiting_confirmation') AND r.submitted_at >= {} AND r.submitted_at < {}) "
            "ON CONFLICT (survey, organisation) DO NOTHING RETURNING id", survey_id, moment, start, end)
        if not invited:
            raise ValidationFailed({"year": f"Aucune structure ayant adressé une demande d'inscription en {year} n'a "
                                            "d'adresse de validation : rien à envoyer."})
        queued = await _queue(redis, [_mail(r, year, 0) for r in await _details([r["id"] for r in invited])],
                              f"financers:{year}:0")
    return {"survey": survey_id, "invited": len(invited), "queued": queued}


async def mail_reminders(redis, moment: datetime, first_days: int, second_days: int) -> int:
    """The financers' reminders due (the cron's; same delays and guard as the learners')."""
    async with db.transaction():
        rows = await FinancerInvitation.raw(
            "UPDATE financer_invitation SET reminders = reminders + 1, reminded_at = {} "
            "WHERE answered = false AND ((reminders = 0 AND sent_at <= {}) OR (reminders = 1 AND sent_at <= {} "
            "AND reminded_at <= {})) AND id IN (SELECT id FROM financer_invitation WHERE answered = false "
            "AND sent_at IS NOT NULL AND reminders < 2 ORDER BY id LIMIT {}) RETURNING id",
            moment, moment - timedelta(days=first_days), moment - timedelta(days=second_days),
            moment - timedelta(days=1), BATCH)
        details = await _details([r["id"] for r in rows])
        return await _queue(redis, [_mail(r, r["year"], r["reminders"]) for r in details],
                            f"financers-reminders:{moment.strftime('%Y%m%dT%H%M%S%f')}")


async def year_invitations(year: int) -> dict:
    """The year's survey and its invitations, organisation by organisation (one query each)."""
    survey = await FinancerSurvey.select().where(FinancerSurvey.year == year).first()
    if survey is None:
        raise NotFound(NOT_FOUND)
    rows = await FinancerInvitation.select(
        FinancerInvitation.id, FinancerInvitation.email, FinancerInvitation.sent_at, FinancerInvitation.reminders,
        FinancerInvitation.answered, FinancerInvitation.answered_on,
        FinancerInvitation.organisation.name.as_alias("name"), FinancerInvitation.organisation.city.as_alias("city"),
    ).where(FinancerInvitation.survey == survey["id"]).order_by(FinancerInvitation.organisation.name)
    return {"survey": survey, "invitations": rows, "answered": sum(1 for r in rows if r["answered"])}


async def invitation_by_token(token: str) -> dict:
    invitation_id = read_token(FINANCER_SALT, token)
    row = await FinancerInvitation.select(
        FinancerInvitation.id, FinancerInvitation.survey, FinancerInvitation.organisation, FinancerInvitation.answered,
        FinancerInvitation.answered_on, FinancerInvitation.organisation.name.as_alias("name"),
        FinancerInvitation.survey.title.as_alias("title"), FinancerInvitation.survey.questions.as_alias("questions"),
        FinancerInvitation.survey.closes_on.as_alias("closes_on"),
    ).where(FinancerInvitation.id == invitation_id).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    row["questions"] = load_questions(row["questions"])
    row["closed"] = row["closes_on"] is not None and row["closes_on"] < today()
    return row


async def answer(token: str, form: dict[str, list[str]]) -> bool:
    """Record the organisation's answer once; False when it had answered already."""
    invitation = await invitation_by_token(token)
    if invitation["answered"]:
        return False
    if invitation["closed"]:
        raise ValidationFailed({"survey": "Cette enquête est close."}, "Cette enquête est close.")
    answers = read_answers(invitation["questions"], form)
    day = today()
    async with db.write_transaction():
        marked = await FinancerInvitation.update({FinancerInvitation.answered: True,
                                                  FinancerInvitation.answered_on: day}).where(
            (FinancerInvitation.id == invitation["id"]) & (FinancerInvitation.answered == False)  # noqa: E712
        ).returning(FinancerInvitation.id)
        if not marked:
            return False
        await SurveyResponse.insert(SurveyResponse(
            financer_survey=invitation["survey"], organisation=invitation["organisation"], submitted_on=day,
            answers=json.dumps(answers, ensure_ascii=False)))
    return True
