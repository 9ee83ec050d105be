"""Satisfaction survey mails on PostgreSQL (issue 23): 5,000 learners of a session whose hot survey
has opened.

- the cron's first run: 5,000 invitations created and their 5,000 mails queued in the outbox (with
  the group's sending job), for the record;
- eight days later: 5,000 first reminders queued (target <= 5 s), then a second run queues none.

Run: .venv/bin/python bench/survey_reminders.py   (BENCH_SMOKE=1: 20 learners)
"""

import json
import time
from datetime import time as clock, timedelta

import _setup

LEARNERS = _setup.size(5000, 20)


async def main() -> None:
    from app import db
    from app.dates import now, today
    from app.queue import connect
    from app.services.enrolments import add_sources
    from app.services.surveys import invitations
    from app.services.surveys.questions import parse_survey_text
    from app.services.surveys.settings import HOT_MODEL
    from app.tables.accounts import User
    from app.tables.catalogue import SessionActivity, SessionSlot, TrainingSession
    from app.tables.learning import SourceKind
    from app.tables.outbox import Mail
    from app.tables.quality import SurveyInvitation

    await db.open_pool()
    alp001, ids = await _setup.seed_learners(LEARNERS, _setup.random_names(23), prefix="alp001.s.avis")
    start = today() - timedelta(days=3)
    session = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session bench questionnaires", short_name="bench", start_date=start,
        end_date=start + timedelta(days=1), code="26X23S1", auto_convocations=False)).returning(
        TrainingSession.id))[0]["id"]
    await SessionSlot.insert(*[SessionSlot(session=session, day=start + timedelta(days=d), starts=a, ends=b)
                               for d in (0, 1) for a, b in ((clock(9), clock(12, 30)), (clock(13, 30), clock(17)))])
    await SessionActivity.insert(SessionActivity(
        session=session, kind="survey", title="Satisfaction à chaud", required=False, completion="none",
        quiz=json.dumps(parse_survey_text(HOT_MODEL), ensure_ascii=False), survey_phase="hot"))
    await add_sources(session, ids, SourceKind.manual)
    await User.raw("ANALYZE")
    redis = await connect()

    t0 = time.perf_counter()
    first = await invitations.run_survey_mails(redis)
    print(f"first run: {first['created']} invitations created and {first['invited']} mails queued in "
          f"{time.perf_counter() - t0:.2f} s")
    _setup.check(first["created"] == first["invited"] == LEARNERS, f"first run: {first}, not {LEARNERS} each")

    later = now() + timedelta(days=8)
    t0 = time.perf_counter()
    reminded = await invitations.run_survey_mails(redis, later)
    elapsed = time.perf_counter() - t0
    print(f"{reminded['reminded']} survey reminders queued in {elapsed:.2f} s (target <= 5 s)")
    _setup.check(reminded["reminded"] == LEARNERS, f"reminders: {reminded}, not {LEARNERS}")
    again = await invitations.run_survey_mails(redis, later + timedelta(minutes=10))
    _setup.check(again == {"created": 0, "invited": 0, "reminded": 0}, f"a second run mailed again: {again}")
    mails = await Mail.count().where(Mail.category == "survey")
    _setup.check(mails == 2 * LEARNERS, f"{mails} survey mails in the outbox, not {2 * LEARNERS}")
    reminders = await SurveyInvitation.count().where(SurveyInvitation.reminders == 1)
    _setup.check(reminders == LEARNERS, f"{reminders} invitations reminded once, not {LEARNERS}")
    if not _setup.SMOKE:
        _setup.check(elapsed <= 5, f"{LEARNERS} reminders took {elapsed:.2f} s (target 5 s)")
    await redis.aclose()
    await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
