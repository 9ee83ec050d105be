"""The managers' home (issue 20 point 21) counts the convocations that could not be sent on every
visit: it must read the failing notices, not every convocation its establishments ever sent joined
to its mail (100 000 sent convocations made each home page 0.35 s slower)."""

import json
from datetime import date

from app.services import dashboard
from app.services.scope import Scope
from app.tables.accounts import RoleAssignment
from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from tests.helpers import login, text

SENT_PER_LEARNER = 300


def _rows_read(plan: dict, relations: set[str]) -> int:
    """Rows the plan read from these tables (kept or removed by a filter), over every loop; not those
    of « no later notice » (a failing learner's own notices, through the enrolment index)."""
    total = 0
    if plan.get("Relation Name") in relations and plan.get("Alias") != "later":
        loops = plan.get("Actual Loops", 1)
        total += (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * loops
    for child in plan.get("Plans", []):
        total += _rows_read(child, relations)
    return total


async def test_the_home_page_reads_the_failed_convocations_not_all_those_sent(client):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    session = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session convoquée", short_name="SC", start_date=date(2027, 5, 3),
        end_date=date(2027, 5, 4), code="27Q00S1", place="Salle 1")).returning(TrainingSession.id))[0]["id"]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001))]
    await Enrolment.insert(*[Enrolment(session=session, user=u) for u in learners])
    # Every learner convoked many times over (sent, their mail delivered)…
    await Enrolment.raw(
        "INSERT INTO convocation_notice (enrolment, session, kind, status) SELECT e.id, e.session, 'update', 'sent' "
        "FROM enrolment e CROSS JOIN generate_series(1, {}) g WHERE e.session = {}", SENT_PER_LEARNER, session)
    await Enrolment.raw(
        "INSERT INTO mail (recipients, subject, body_text, status, category, group_key) "
        "SELECT 'x@example.org', 'Convocation', '-', 'sent', 'convocation', 'convocation:' || CAST(n.id AS TEXT) "
        "FROM convocation_notice n WHERE n.session = {}", session)
    # …then the last one of two learners failed: one could not be built, one's mail was refused.
    enrolments = [r["id"] for r in await Enrolment.select(Enrolment.id).where(Enrolment.session == session)
                  .order_by(Enrolment.id)]
    await Enrolment.raw("INSERT INTO convocation_notice (enrolment, session, kind, status) "
                        "VALUES ({}, {}, 'update', 'failed')", enrolments[0], session)
    refused = await Enrolment.raw("INSERT INTO convocation_notice (enrolment, session, kind, status) "
                                  "VALUES ({}, {}, 'update', 'sent') RETURNING id", enrolments[1], session)
    await Enrolment.raw("INSERT INTO mail (recipients, subject, body_text, status, category, group_key) "
                        "VALUES ('y@example.org', 'Convocation', '-', 'failed', 'convocation', {})",
                        f"convocation:{refused[0]['id']}")
    await Enrolment.raw("ANALYZE convocation_notice")
    await Enrolment.raw("ANALYZE mail")

    await login(client, "alp001.get")
    home = text((await client.get("/")).text)
    assert "2 convocation(s) non envoyée(s) — Session convoquée" in home

    scope = Scope(everything=False, establishment_ids=frozenset([alp001]), delegation_ids=frozenset())
    sql, args = dashboard.failed_convocations_sql(scope)
    plan = await Enrolment.raw("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)
    raw = plan[0]["QUERY PLAN"]
    root = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    sent = len(enrolments) * SENT_PER_LEARNER
    read = _rows_read(root, {"convocation_notice", "mail"})
    assert read < 100, f"{read} rows read for 2 failures among {sent} convocations sent"
