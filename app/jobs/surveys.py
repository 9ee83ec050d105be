"""The surveys' cron (issue 23): learners' invitations due, their mails and reminders, and the
financers' reminders. Idempotent whatever the number of workers (app/services/surveys/invitations.py)."""

from app.dates import now
from app.services.surveys import financers, invitations
from app.services.surveys.settings import delays


async def send_survey_mails(ctx) -> dict:
    moment = now()
    done = await invitations.run_survey_mails(ctx["redis"], moment)
    d = await delays()
    done["financers_reminded"] = await financers.mail_reminders(
        ctx["redis"], moment, d["survey_reminder_1_days"], d["survey_reminder_2_days"])
    return done
