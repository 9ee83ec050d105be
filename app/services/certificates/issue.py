"""Certificates: issuing them (set-based, in the caller's transaction) and when they are due."""

from __future__ import annotations

import json

from app import db
from app.dates import local_now, now
from app.tables.certificates import Certificate
from app.tables.learning import Enrolment
from app.services.certificates.provider import load as load_provider, ready as provider_ready
from app.services.certificates.realisation import CANDIDATE_SQL, KIND as REALISATION, issuable, snapshot as realisation_snapshot
from app.services.certificates.common import new_code
from app.services.certificates.render import _facts, _snapshot


UNSEALED = ""  # pdf_sha256 of a certificate whose PDF is not rendered yet
SEAL_INLINE = 5  # more certificates than this to seal after one action: the job does it


def _new_rows(facts_by_id: dict[int, dict], versions: dict[int, int], provider: dict | None = None) -> list[dict]:
    """The rows of new certificates, without their PDF (rendered after commit, see `seal`): attestations,
    or with ``provider`` certificats de réalisation."""
    issued_at = now().replace(microsecond=0)
    rows = []
    for enrolment_id, facts in facts_by_id.items():
        code = new_code()
        version = versions.get(enrolment_id, 1)
        if provider is None:
            snapshot = _snapshot(facts, code, version, issued_at)
        else:
            snapshot = realisation_snapshot(facts, provider, code, version, issued_at)
        rows.append({"enrolment": enrolment_id, "kind": "completion" if provider is None else REALISATION,
                     "version": snapshot["version"], "code": code,
                     "issued_at": issued_at, "snapshot": json.dumps(snapshot, ensure_ascii=False, sort_keys=True),
                     "pdf_sha256": UNSEALED})
    return rows


async def _insert(rows: list[dict]) -> int:
    """Insert new versions; a concurrent issue of the same enrolment (or an improbable code clash)
    is a no-op thanks to the unique indexes."""
    if not rows:
        return 0
    values = ", ".join("({}, {}, {}, {}, {}, {}, {}, 'valid')" for _ in rows)
    args = [a for r in rows for a in (r["enrolment"], r.get("kind", "completion"), r["version"], r["code"],
                                      r["issued_at"], r["snapshot"], r["pdf_sha256"])]
    inserted = await Certificate.raw(
        "INSERT INTO certificate (enrolment, kind, version, code, issued_at, snapshot, pdf_sha256, status) "
        f"VALUES {values} ON CONFLICT DO NOTHING RETURNING enrolment", *args)
    return sorted({r["enrolment"] for r in inserted})


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
    """Issue the first attestation of every completed enrolment among these that has none, and the
    first certificat de réalisation of every one with hours attended that has none (once the provider
    is set, read once for the batch), both only when due. Runs in the caller's transaction (the
    completion's, the attendance's). Returns the enrolments that got one or the other."""
    if not enrolment_ids:
        return []

    ids = ", ".join(str(i) for i in sorted(set(int(i) for i in enrolment_ids)))
    when_due, args = certificate_due_sql("e")
    async with db.transaction():
        due = await Enrolment.raw(
            f"SELECT e.id, (e.completed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM certificate c "
            f"WHERE c.enrolment = e.id AND c.kind = 'completion')) AS completion, ({CANDIDATE_SQL}) "
            f"AS realisation FROM enrolment e WHERE e.id IN ({ids}) AND {when_due}", *args)
        completion = [r["id"] for r in due if r["completion"]]
        real = [r["id"] for r in due if r["realisation"]]
        provider = await load_provider() if real else {}
        real = real if provider_ready(provider) else []
        facts = await _facts(sorted(set(completion) | set(real)))
        rows = _new_rows({i: facts[i] for i in completion if i in facts}, {})
        rows += _new_rows({i: facts[i] for i in real if i in facts and issuable(facts[i])}, {}, provider)
        return await _insert(rows)


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
    the last slot has ended after their attendance was recorded — get it, and enrolments with hours
    attended their certificat de réalisation (issue 22), set-based (one SELECT, one
    INSERT per batch). Returns the enrolments that got one; the caller seals them."""
    when_due, args = certificate_due_sql("e")
    # Certificats de réalisation only once the provider is set: else the same enrolments would be
    # picked at every run, crowding out the attestations due.
    wanted = "(e.completed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM certificate c WHERE c.enrolment = e.id " \
             "AND c.kind = 'completion'))"
    if provider_ready(await load_provider()):
        wanted = f"({wanted} OR ({CANDIDATE_SQL}))"
    rows = await Enrolment.raw(
        f"SELECT e.id FROM enrolment e WHERE {wanted} "
        # A pseudonymised account's evidence past its retention was deleted (app/services/retention/):
        # never issued again.
        "AND NOT EXISTS (SELECT 1 FROM app_user pu WHERE pu.id = e.\"user\" AND pu.pseudonymised_at IS NOT NULL) "
        "AND EXISTS (SELECT 1 FROM session_slot sl WHERE sl.session = e.session) AND " + when_due
        + f" ORDER BY e.id LIMIT {int(limit)}", *args)
    return list(await issue_for_enrolments([r["id"] for r in rows]) or [])
