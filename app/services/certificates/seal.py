"""Certificates: rendering and hashing after commit (inline, by the job, or by the sweep), and render failures."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from app import db
from app.dates import now
from app.jobs import kinds
from app.pdf import bounded
from app.queue import connect
from app.services.errors import DomainError
from app.tables.certificates import Certificate
from app.services.certificates.issue import SEAL_INLINE, UNSEALED
from app.services.certificates.render import _load, render


def _in_transaction() -> bool:
    return db.engine().current_transaction.get() is not None


async def _store_hashes(hashes: dict[int, str]) -> int:
    """One UPDATE for any number; only rows still unsealed (a concurrent seal wrote the same).
    Returns how many this UPDATE sealed."""
    if not hashes:
        return 0
    cases = " ".join("WHEN {} THEN {}" for _ in hashes)
    args = [a for pair in hashes.items() for a in pair]
    ids = ", ".join(str(int(i)) for i in hashes)
    rows = await Certificate.raw(f"UPDATE certificate SET pdf_sha256 = CASE id {cases} END "
                                 f"WHERE id IN ({ids}) AND pdf_sha256 = '' RETURNING id", *args)
    return len(rows)


# « Échec de génération »: a PDF that could not be rendered (an error, or past the render deadline) is
# tried again by the cron after a delay, RENDER_ATTEMPTS times in all, then given up: shown to managers
# (session's certificates page) and on /ops, until a re-issue (e.g. after the text is fixed).
RENDER_ATTEMPTS = 3
RENDER_RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=30))  # after the 1st, the 2nd failure


class NotRendered(DomainError):
    status_code = 503

    def __init__(self, reason: str):
        super().__init__(f"Le PDF de cette attestation n'a pas pu être généré ({reason}). Un gestionnaire peut "
                         "corriger le texte de l'attestation de la session puis la réémettre.")


def failure_reason(error: Exception) -> str:
    if isinstance(error, bounded.RenderFailed):
        return str(error)
    return f"erreur pendant le rendu du PDF ({type(error).__name__})"[:300]


async def _record_failures(failures: dict[int, str]) -> None:
    """Each certificate's failed attempt and its reason (one UPDATE), then when it may be tried again
    (one UPDATE per delay)."""
    if not failures:
        return
    ids = ", ".join(str(int(i)) for i in failures)
    cases = " ".join("WHEN {} THEN {}" for _ in failures)
    args = [a for pair in failures.items() for a in pair]
    await Certificate.raw(
        f"UPDATE certificate SET render_error = CASE id {cases} END, render_attempts = render_attempts + 1, "
        f"render_retry_at = NULL WHERE id IN ({ids}) AND pdf_sha256 = ''", *args)
    at = now()
    for attempts, delay in enumerate(RENDER_RETRY_AFTER, start=1):  # when each may be tried again
        await Certificate.update({Certificate.render_retry_at: at + delay}).where(
            Certificate.id.is_in(list(failures)) & (Certificate.render_attempts == attempts))


def given_up(row: dict) -> bool:
    return bool(row.get("render_error")) and row.get("render_attempts", 0) >= RENDER_ATTEMPTS


async def _seal_rows(rows: list[dict]) -> int:
    """Render and hash these unsealed certificates (id, snapshot), stored by one UPDATE; one that
    cannot be rendered (an error, or past the render deadline) gets its failed attempt recorded,
    never holding up the others. Returns how many this call sealed."""
    hashes, failures = {}, {}
    for r in rows:
        try:
            hashes[r["id"]] = hashlib.sha256(await render(_load(r["snapshot"]))).hexdigest()
        except Exception as error:  # noqa: BLE001 - recorded: retried later a bounded number of times
            logging.getLogger(__name__).warning("certificate %s: its PDF could not be rendered: %s", r["id"], error)
            failures[r["id"]] = failure_reason(error)
    await _record_failures(failures)
    return await _store_hashes(hashes)


async def seal_now(enrolment_ids: list[int]) -> int:
    """Render and hash the unsealed certificates of these enrolments (outside any transaction)."""
    if not enrolment_ids:
        return 0
    rows = await Certificate.select(Certificate.id, Certificate.snapshot).where(
        Certificate.enrolment.is_in(sorted(set(enrolment_ids))) & (Certificate.pdf_sha256 == UNSEALED)
        & (Certificate.render_attempts < RENDER_ATTEMPTS))
    return await _seal_rows(rows)


SWEEP_AGE = timedelta(minutes=1)  # younger ones are being sealed by their own action or job
SWEEP_BATCH = 50
SWEEP_MAX = 300  # per run (~85 ms a PDF: well within the minute between two runs)
SWEEP_BUDGET = timedelta(seconds=50)  # no new batch after this: renders failing at their deadline wait the next run


async def seal_unsealed(older_than: timedelta = SWEEP_AGE, batch: int = SWEEP_BATCH, limit: int = SWEEP_MAX) -> int:
    """Cron: certificates still unsealed a minute after their issue (their seal job could not be
    queued, or was lost) are rendered and hashed here, by batches — one SELECT and one UPDATE each,
    no transaction held while WeasyPrint renders. Idempotent: only unsealed rows are written, so a
    second worker running it at the same time writes nothing twice (the PDF is the same bytes).
    One whose render failed waits for its retry time, and is given up after RENDER_ATTEMPTS.
    Returns how many this run sealed."""
    sealed = seen = after = 0
    before = started = now()
    before -= older_than
    while seen < limit and now() - started < SWEEP_BUDGET:
        rows = await Certificate.raw(
            "SELECT id, snapshot FROM certificate WHERE pdf_sha256 = '' AND issued_at < {} AND id > {} "
            "AND render_attempts < {} AND (render_retry_at IS NULL OR render_retry_at <= {}) "
            "ORDER BY id LIMIT {}", before, after, RENDER_ATTEMPTS, now(), min(batch, limit - seen))
        if not rows:
            break
        sealed += await _seal_rows(rows)
        after, seen = rows[-1]["id"], seen + len(rows)
    return sealed


async def seal(enrolment_ids: list[int], redis=None) -> int:
    """After the commit that issued these enrolments' certificates: render and hash their PDFs, here
    for a few, by the `seal_certificates` job for many. Inside a caller's transaction it does
    nothing: that caller seals after its own commit (or the first download does). Returns how many
    were sealed here."""
    if not enrolment_ids or _in_transaction():
        return 0
    if len(enrolment_ids) <= SEAL_INLINE:
        return await seal_now(enrolment_ids)

    ids = sorted(set(int(i) for i in enrolment_ids))
    own = redis is None
    try:
        redis = redis or await connect()
        digest = hashlib.sha256(repr(ids).encode()).hexdigest()[:16]
        await kinds.SEAL_CERTIFICATES.enqueue(redis, ids, _job_id=f"seal-certificates:{digest}")
    except Exception:  # noqa: BLE001 - the certificates are issued; the first download seals them
        logging.getLogger(__name__).exception("Could not queue the sealing of %d certificates", len(ids))
    finally:
        if own and redis is not None:
            await redis.aclose()
    return 0
