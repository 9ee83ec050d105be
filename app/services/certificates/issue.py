"""Certificates: issuing them (set-based, in the caller's transaction) and when they are due."""

from __future__ import annotations

import json

from app import db
from app.dates import local_now, now
from app.tables.certificates import Certificate
from app.tables.learning import Enrolment
from app.services.certificates.common import new_code
from app.services.certificates.render import _facts, _snapshot


UNSEALED = ""  # pdf_sha256 of a certificate whose PDF is not rendered yet
SEAL_INLINE = 5  # more certificates than this to seal after one action: the job does it


def _new_rows(facts_by_id: dict[int, dict], versions: dict[int, int]) -> list[dict]:
    """The rows of new certificates, without their PDF (rendered after commit, see `seal`)."""
    issued_at = now().replace(microsecond=0)
    rows = []
    for enrolment_id, facts in facts_by_id.items():
        code = new_code()
        snapshot = _snapshot(facts, code, versions.get(enrolment_id, 1), issued_at)
        rows.append({"enrolment": enrolment_id, "version": snapshot["version"], "code": code,
                     "issued_at": issued_at, "snapshot": json.dumps(snapshot, ensure_ascii=False, sort_keys=True),
                     "pdf_sha256": UNSEALED})
    return rows


async def _insert(rows: list[dict]) -> int:
    """Insert new versions; a concurrent issue of the same enrolment (or an improbable code clash)
    is a no-op thanks to the unique indexes."""
    if not rows:
        return 0
    values = ", ".join("({}, {}, {}, {}, {}, {}, 'valid')" for _ in rows)
    args = [a for r in rows for a in (r["enrolment"], r["version"], r["code"], r["issued_at"], r["snapshot"],
                                      r["pdf_sha256"])]
    inserted = await Certificate.raw(
        "INSERT INTO certificate (enrolment, version, code, issued_at, snapshot, pdf_sha256, status) "
        f"VALUES {values} ON CONFLICT DO NOTHING RETURNING enrolment", *args)
    return [r["enrolment"] for r in inserted]


def certificate_due_sql(enrolment: str = "e") -> tuple[str, list]:
    """The condition (and its arguments) for a complete enrolment's certificate to be due (issue 20):
    a session without slots, at once (its activities are the training); a session with slots, only
    once its last slot has ended (Paris wall clock) and the learner's attendance is recorded for every
    slot — a certificate never attests hours that have not taken place, nor unrecorded ones."""
    moment = local_now()
    day, clock = moment.date(), moment.time().replace(microsecond=0, tzinfo=None)
    args: list = [day.isoformat(), day.isoformat(), clock.isoformat()] if db.is_sqlite() else [day, day, clock]
    return ((f"(NOT EXISTS (SELECT 1 FROM session_slot dsl JOIN enrolment de ON de.session = dsl.session "
             f"WHERE de.id = {enrolment}.id) OR ("
             f"NOT EXISTS (SELECT 1 FROM session_slot dsl JOIN enrolment de ON de.session = dsl.session "
             f"WHERE de.id = {enrolment}.id AND (dsl.day > {{}} OR (dsl.day = {{}} AND dsl.ends > {{}}))) "
             f"AND NOT EXISTS (SELECT 1 FROM session_slot dsl JOIN enrolment de ON de.session = dsl.session "
             f"WHERE de.id = {enrolment}.id AND NOT EXISTS (SELECT 1 FROM attendance da "
             f"WHERE da.enrolment = {enrolment}.id AND da.slot = dsl.id))))"), args)


async def issue_for_enrolments(enrolment_ids: list[int]) -> list[int]:
    """Issue the first certificate of every completed enrolment among these that has none.
    Runs in the caller's transaction (the completion's). Returns the enrolments that got one."""
    if not enrolment_ids:
        return []

    ids = sorted(set(int(i) for i in enrolment_ids))
    when_due, args = certificate_due_sql("e")
    async with db.transaction():
        due = await Enrolment.raw(
            "SELECT e.id FROM enrolment e WHERE e.id IN (" + ", ".join(str(i) for i in ids) + ") "
            "AND e.completed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM certificate c WHERE c.enrolment = e.id) "
            "AND " + when_due, *args)
        facts = await _facts([r["id"] for r in due])
        return await _insert(_new_rows(facts, {}))


NOT_DUE = ("Pas de nouvelle attestation avant la fin du dernier créneau de la session et la saisie des présences "
           "de l'apprenant à chaque créneau.")


async def _due(enrolment_ids: list[int]) -> list[int]:
    """Those of these enrolments whose certificate may be issued now (certificate_due_sql)."""
    if not enrolment_ids:
        return []
    when_due, args = certificate_due_sql("e")
    rows = await Enrolment.raw("SELECT e.id FROM enrolment e WHERE e.id IN ("
                               + ", ".join(str(int(i)) for i in sorted(set(enrolment_ids))) + ") AND " + when_due, *args)
    return [r["id"] for r in rows]


DUE_BATCH = 500


async def issue_due(limit: int = DUE_BATCH) -> list[int]:
    """Cron (issue 20): complete enrolments of sessions with slots whose certificate became due since —
    the last slot has ended after their attendance was recorded — get it, set-based (one SELECT, one
    INSERT per batch). Returns the enrolments that got one; the caller seals them."""
    when_due, args = certificate_due_sql("e")
    rows = await Enrolment.raw(
        "SELECT e.id FROM enrolment e WHERE e.completed_at IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM session_slot sl WHERE sl.session = e.session) "
        "AND NOT EXISTS (SELECT 1 FROM certificate c WHERE c.enrolment = e.id) AND " + when_due
        + f" ORDER BY e.id LIMIT {int(limit)}", *args)
    return list(await issue_for_enrolments([r["id"] for r in rows]) or [])
