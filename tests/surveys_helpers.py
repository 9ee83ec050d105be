"""Builders for the survey tests (issue 23): a session with slots in the past or the future, its
learners able to log in, a survey activity on it."""

from __future__ import annotations

import json
from datetime import date, timedelta

from app.services.passwords import hash_password
from app.services.surveys.questions import parse_survey_text
from app.tables.accounts import User
from app.tables.catalogue import SessionActivity
from tests import factories
from tests.helpers import DEMO_PASSWORD

SMALL = """Dans l'ensemble, êtes-vous satisfait(e) ?
[échelle 1-5]

Recommanderiez-vous cette formation ?
[échelle 1-10]

Qu'avez-vous préféré ?
[choix multiple]
- Les exercices
- Les échanges
- Les supports

Le rythme était-il adapté ?
[choix unique]
- Oui
- Non

Vos commentaires
[texte libre] [facultatif]"""
GOOD = {"q0": ["4"], "q1": ["9"], "q2": ["0", "2"], "q3": ["1"], "q4": ["Très bien, merci."]}


async def survey_session(learners: int = 2, days_ago: int = 3, slots: int = 2, phase: str = "hot",
                         anonymous: bool = False, questions: str = SMALL, with_password: bool = False):
    """A session whose slots start ``days_ago`` days ago (negative: in the future), ``learners``
    enrolled, and one survey activity. Returns (BuiltSession, activity id)."""
    est = await factories.establishment()
    start = date.today() - timedelta(days=days_ago)
    built = await factories.session_with_learners(est, learners_count=learners, slots=slots, start=start)
    if with_password:
        await User.update({User.password_hash: hash_password(DEMO_PASSWORD)}).where(User.id.is_in(built.learners))
    activity = await SessionActivity.insert(SessionActivity(
        session=built.id, kind="survey", title="Votre avis à chaud", required=False, completion="none",
        quiz=json.dumps(parse_survey_text(questions), ensure_ascii=False), survey_phase=phase,
        anonymous=anonymous)).returning(SessionActivity.id)
    return built, activity[0]["id"]


async def username(user_id: int) -> str:
    return (await User.select(User.username).where(User.id == user_id).first())["username"]
