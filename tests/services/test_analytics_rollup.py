"""The analytics dashboard's rollup (issue 24, ten times the data; app/services/analytics_rollup.py):
on randomised data its figures are those computed from the enrolments, for every filter the rollup
serves, and stay so after each kind of write — the app's own helpers (enrolment, unenrolment,
completion, cohort sync, certificate) and plain SQL on every column the dashboard reads (the
triggers note the sessions, whoever writes). PostgreSQL: the embedded SQLite computes from the
enrolments (tests/controllers/test_analytics.py runs there too)."""

import math
import random
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from app.services import analytics, analytics_rollup
from app.services.scope import Scope
from app.tables.catalogue import CourseTemplate, TrainingSession
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="the rollup is PostgreSQL's")

EVERYTHING = Scope(everything=True, establishment_ids=frozenset(), delegation_ids=frozenset())


def _same(a, b, path="") -> list[str]:
    """Where two results differ (floats to 1e-9: the quantiles are computed by PostgreSQL on one side)."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return [d for k in sorted(keys, key=str) for d in _same(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} rows against {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
            return [f"{path}: {a!r} against {b!r}"]
        return []
    return [] if a == b else [f"{path}: {a!r} against {b!r}"]


VOLATILE = ("computed_at", "compute_ms")


async def check_equal(scope, f):
    rolled = await analytics.build(scope, f)
    direct = await analytics.build(scope, f, rollup=False)
    for key in VOLATILE:
        rolled.pop(key), direct.pop(key)
    differences = _same(rolled, direct)
    assert not differences, f"{f.key()}: " + "; ".join(differences[:8])
    return rolled


async def _filters_and_scopes():
    est = [r["id"] for r in await Establishment.select(Establishment.id).order_by(Establishment.id)]
    templates = [r["id"] for r in await CourseTemplate.select(CourseTemplate.id).order_by(CourseTemplate.id)]
    get = Scope(everything=False, establishment_ids=frozenset(est[:2]), delegation_ids=frozenset())
    cases = [(EVERYTHING, analytics.Filters()), (get, analytics.Filters()),
             (EVERYTHING, analytics.Filters(establishment=est[1])), (EVERYTHING, analytics.Filters(template=templates[0])),
             (EVERYTHING, analytics.Filters(audience="agents")), (get, analytics.Filters(audience="external")),
             (EVERYTHING, analytics.Filters(establishment=est[0], template=templates[1], audience="agents"))]
    assert all(analytics_rollup.usable(f) for _, f in cases)
    return cases


async def check_all(label=""):
    results = []
    for scope, f in await _filters_and_scopes():
        results.append(await check_equal(scope, f))
    return results


async def _random_network(rng: random.Random) -> list[int]:
    """Templates, sessions over the demo's establishments, external trainees, and enrolments with
    every state the dashboard tells apart — enrolled and completed around local midnights of month
    ends (a rounded second moves one to the next month), inactive ones, certificates of each kind."""
    from app.tables.accounts import User

    est = [r["id"] for r in await Establishment.select(Establishment.id).order_by(Establishment.id)]
    await CourseTemplate.insert(*[CourseTemplate(code=f"RT{i}", title=f"Modèle {i}", short_name=f"RT{i}")
                                  for i in range(3)])
    templates = [r["id"] for r in await CourseTemplate.select(CourseTemplate.id)] + [None]
    await TrainingSession.insert(*[TrainingSession(
        establishment=rng.choice(est), template=rng.choice(templates), full_name=f"Session {i}", short_name=f"R{i}",
        start_date=date(2025, 1, 1), end_date=date(2025, 12, 31), code=f"R{i:03d}") for i in range(14)])
    sessions = [r["id"] for r in await TrainingSession.select(TrainingSession.id)]
    await User.raw("UPDATE app_user SET external = TRUE WHERE id % 4 = 0")
    users = [r["id"] for r in await User.select(User.id)]

    def instant():
        if rng.random() < 0.3:  # around a local month end (Europe/Paris: 22:00 or 23:00 UTC)
            base = datetime(2025, rng.randint(1, 12), 1, tzinfo=timezone.utc) - timedelta(hours=rng.choice((1, 2)))
            return base + timedelta(seconds=rng.choice((-0.6, -0.4, 0.4, 0, 0.5, 1)))
        return datetime(2024, 6, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 600 * 86400))

    rows = []
    for s in sessions:
        for u in rng.sample(users, k=min(len(users), rng.randint(0, 25))):
            enrolled = instant()
            done = rng.random() < 0.5
            completed = enrolled + timedelta(seconds=rng.choice((0, 1, 3600, rng.randint(0, 90 * 86400)))) if done else None
            if done and rng.random() < 0.05:
                completed = enrolled - timedelta(days=40)  # an anomaly: before the enrolment
            rows.append(Enrolment(session=s, user=u, active=rng.random() < 0.85, enrolled_at=enrolled,
                                  completed_at=completed, required_total=3,
                                  required_done=3 if done else rng.choice((0, 0, 1, 2)),
                                  last_visit=enrolled if rng.random() < 0.6 else None,
                                  attended_minutes=rng.choice((0, 0, 30, 90))))
    await Enrolment.insert(*rows)
    await _certificates(rng)
    return sessions


async def _certificates(rng):
    from app.tables.certificates import Certificate

    ids = [r["id"] for r in await Enrolment.select(Enrolment.id)]
    await Certificate.insert(*[Certificate(
        enrolment=enrolment, status=rng.choice(("valid", "valid", "revoked")), code=f"RT{i:06d}", pdf_sha256="",
        kind=rng.choice(("completion", "completion", "realisation"))) for i, enrolment in enumerate(
            rng.sample(ids, k=len(ids) // 3))])


async def test_the_rollup_gives_the_enrolments_figures_on_random_data_and_after_every_kind_of_write(demo):
    rng = random.Random(24)
    sessions = await _random_network(rng)
    first = (await check_all())[0]
    assert first["totals"]["enrolled_count"] > 50 and first["totals"]["median_days"] is not None
    assert first["totals"]["certified_count"] > 0 and len(first["months"]) > 6
    # Plain SQL on each column the dashboard reads: the triggers note the sessions.
    writes = [
        "UPDATE enrolment SET active = NOT active WHERE id % 7 = 0",
        "UPDATE enrolment SET enrolled_at = enrolled_at - interval '33 days' WHERE id % 5 = 0",
        "UPDATE enrolment SET completed_at = enrolled_at + interval '2 days 3 hours' WHERE id % 6 = 1",
        "UPDATE enrolment SET completed_at = NULL WHERE id % 9 = 2",
        "UPDATE enrolment SET last_visit = NULL, required_done = 0 WHERE id % 4 = 3",
        "UPDATE enrolment SET attended_minutes = attended_minutes + 45 WHERE id % 3 = 0",
        f"UPDATE enrolment SET session = {sessions[0]} WHERE id IN (SELECT id FROM enrolment e WHERE NOT EXISTS "
        f"(SELECT 1 FROM enrolment x WHERE x.session = {sessions[0]} AND x.\"user\" = e.\"user\") ORDER BY id LIMIT 5)",
        "UPDATE app_user SET external = NOT external WHERE id % 5 = 1",
        "UPDATE certificate SET status = 'revoked' WHERE id % 2 = 0",
        "UPDATE certificate SET kind = 'completion' WHERE kind <> 'completion'",
        "DELETE FROM certificate WHERE id % 3 = 0",
        f"UPDATE training_session SET establishment = (SELECT max(id) FROM establishment), template = NULL "
        f"WHERE id = {sessions[1]}",
        f"DELETE FROM enrolment_source WHERE enrolment IN (SELECT id FROM enrolment WHERE session = {sessions[2]})",
        f"DELETE FROM certificate WHERE enrolment IN (SELECT id FROM enrolment WHERE session = {sessions[2]})",
        f"DELETE FROM enrolment WHERE session = {sessions[2]}",
    ]
    for statement in writes:
        await Enrolment.raw(statement)
        await check_all(statement)


async def test_the_apps_writers_are_seen(demo, redis_client):
    """The enrolment helper, unenrolment, a completion (the learning record's summary), a cohort
    sync and a revoked certificate: the next dashboard computed shows each."""
    from app.services import enrolments, learning
    from app.tables.catalogue import SessionActivity
    from app.tables.learning import CompletionHow, SourceKind
    from tests import factories

    rng = random.Random(7)
    await _random_network(rng)
    est = await factories.establishment(users=6)
    session_id = (await factories.session_with_learners(est, learners_count=0, slots=0)).id
    learners = [r["id"] for r in await _learners_of(est)]
    before = (await check_equal(EVERYTHING, analytics.Filters()))["totals"]["enrolled_count"]
    await enrolments.add_sources(session_id, learners[:4], SourceKind.manual)
    after = await check_equal(EVERYTHING, analytics.Filters())
    assert after["totals"]["enrolled_count"] == before + 4
    await enrolments.remove_sources(session_id, learners[:1], SourceKind.manual)
    assert (await check_equal(EVERYTHING, analytics.Filters()))["totals"]["enrolled_count"] == before + 3
    activities = [r["id"] for r in await SessionActivity.select(SessionActivity.id).where(
        SessionActivity.session == session_id)]
    if not activities:
        await SessionActivity.insert(SessionActivity(session=session_id, position=0, kind="page", title="Lire",
                                                     content="", required=True))
        activities = [r["id"] for r in await SessionActivity.select(SessionActivity.id).where(
            SessionActivity.session == session_id)]
        await learning.refresh_summaries(session_id=session_id)
    enrolment = (await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session_id) & (Enrolment.user == learners[1])).first())["id"]
    done_before = (await check_equal(EVERYTHING, analytics.Filters()))["totals"]["completed_count"]
    for activity in activities:
        await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    done = await check_equal(EVERYTHING, analytics.Filters())
    assert done["totals"]["completed_count"] == done_before + 1
    await learning.set_completion(enrolment, activities[0], False, CompletionHow.manual)
    assert (await check_equal(EVERYTHING, analytics.Filters()))["totals"]["completed_count"] == done_before


async def _learners_of(est):
    from app.tables.accounts import User

    return await User.select(User.id).where(User.establishment == est).order_by(User.id)


async def test_a_write_is_noted_for_the_next_refresh_only(demo):
    """The notes are taken before the enrolments are read: a refresh recomputes what was noted, and
    a dashboard computed after a write shows it (the cache aside)."""
    rng = random.Random(3)
    await _random_network(rng)
    assert await analytics_rollup.refresh() > 0
    assert await analytics_rollup.refresh() == 0
    await Enrolment.raw("UPDATE enrolment SET attended_minutes = attended_minutes + 1 WHERE id = (SELECT min(id) FROM enrolment)")
    assert await analytics_rollup.refresh() == 1
    # A column the dashboard does not read notes nothing.
    await Enrolment.raw("UPDATE enrolment SET invitation_sequence = invitation_sequence + 1")
    assert await analytics_rollup.refresh() == 0
    # Nor a visit of a learner who had started (last_visit is read as « started » only); a first one does.
    await Enrolment.raw("UPDATE enrolment SET last_visit = now() WHERE last_visit IS NOT NULL")
    assert await analytics_rollup.refresh() == 0
    if await Enrolment.exists().where(Enrolment.last_visit.is_null() & (Enrolment.required_done == 0)):
        await Enrolment.raw("UPDATE enrolment SET last_visit = now() WHERE id = (SELECT min(id) FROM enrolment "
                            "WHERE last_visit IS NULL AND required_done = 0)")
        assert await analytics_rollup.refresh() == 1
    # Nor an account's login (last_access); its « external » does.
    await Enrolment.raw("UPDATE app_user SET last_access = now()")
    assert await analytics_rollup.refresh() == 0
    await Enrolment.raw('UPDATE app_user SET external = NOT external WHERE id = (SELECT min("user") FROM enrolment)')
    assert await analytics_rollup.refresh() >= 1


def test_the_triggers_watch_every_enrolment_column_the_dashboard_reads():
    """A column added to the dashboard's query and not to the triggers would leave the rollup stale."""
    from app.tables.migrations import tremplin_2026_12_07t09_00_00_000000 as migration

    read = set()
    for f in (analytics.Filters(), analytics.Filters(audience="external", establishment=1, template=1)):
        sql, _ = analytics._fact_sql(EVERYTHING, f)
        read |= {m.strip('"') for m in re.findall(r'\be\.("?\w+"?)', sql)} - {"id"}
    assert read == set(analytics_rollup.WATCHED) == set(migration.ENROLMENT), read
