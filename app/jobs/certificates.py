"""All the certificates of a session as one ZIP (attestations and certificats de réalisation, issue 22), in the background, with progress (SPEC D3).

The ZIP is streamed to a scratch file by zipstream-ng: each PDF is rendered from its snapshot when
the stream reaches it. WeasyPrint is CPU-bound and single-threaded: the PDFs are rendered by the
worker's render pool (app/pdf/bounded.py: one per worker, PDF_RENDER_PROCESSES processes, shared
by the jobs running at once), at most WINDOW ahead of the stream, so memory holds a bounded number
of certificates whatever the session's size; the ZIP goes into the database a chunk at a time
(app/jobs/results.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from zipstream import ZipStream

from app.jobs import results
from app.pdf import bounded
from app.services import certificates, progress

ZIPS = "certificate-zips"  # the worker's scratch folder under var/ (app/jobs/results.py)
WINDOW = 16  # PDFs rendered ahead of the stream


def _rendered(snapshots: list[dict]):
    """The PDFs of these snapshots, in order, rendered by the worker's one render pool (shared with
    any other job rendering at the same time), at most WINDOW ahead of the stream; each within the
    render deadline (app/pdf/bounded.py), else RenderFailed."""
    return bounded.ordered(certificates.render_sync, snapshots, WINDOW)


def archive_names(rows: list[dict]) -> list[str]:
    """Each certificate's name in the ZIP, distinct even for case: homonyms (two « Léa Morel »,
    accounts alp001.l.morel and alp001.l.morel2) would share one name, and unzipping keeps only one
    of the files. A name shared by several gets each one's verification code."""
    counts = Counter(r["filename"].casefold() for r in rows)
    return [r["filename"] if counts[r["filename"].casefold()] == 1
            else r["filename"].removesuffix(".pdf") + f"-{r['display_code']}.pdf" for r in rows]


def _write_zip(path: Path, items: list[tuple[str, dict]], on_file) -> None:
    ordered = _rendered([snapshot for _, snapshot in items])

    def pdf():
        # The stream reads its entries in the order they were added: the next PDF is this entry's.
        yield next(ordered)
        on_file()

    stream = ZipStream(sized=False)  # stored: PDFs are compressed already
    for name, _ in items:
        stream.add(pdf(), arcname=name)
    partial = path.with_suffix(".part")
    with open(partial, "wb") as out:
        for chunk in stream:
            out.write(chunk)
    partial.replace(path)


async def build_certificates_zip(ctx, session_id: int, user_id: int, token: str, result_url: str = "") -> int:
    # ``result_url``: runs queued before the controller wrote it into the progress carry it here.
    redis = ctx["redis"]
    session = await results.session_in_users_scope(redis, token, user_id, session_id)
    if session is None:
        return 0
    # Without those whose PDF could not be generated (« échec de génération », shown on the page).
    valid = [c for c in await certificates.for_session(session_id) if c["status"] == "valid" and not c["render_given_up"]]
    await progress.update(redis, token, state="running", total=len(valid), done=0)
    counter = results.ThreadProgress(redis, token, len(valid))
    filename = f"attestations-et-certificats-{session['code']}.zip"  # attestations and certificats de réalisation
    scratch = results.scratch_path(ZIPS, token, ".zip")
    try:
        # A certificat de réalisation's stamp image is read here, once, not by each render.
        snapshots = await certificates.with_assets([c["snapshot"] for c in valid])
        await asyncio.to_thread(_write_zip, scratch, list(zip(archive_names(valid), snapshots)), counter.step)
        stored = await results.store(filename, "application/zip", scratch, user_id)
    except Exception as exc:
        await counter.flush(return_exceptions=True)
        reason = str(exc) if isinstance(exc, bounded.RenderFailed) else type(exc).__name__
        await progress.update(redis, token, state="failed", message=f"La création du ZIP a échoué : {reason}.")
        raise
    finally:
        scratch.unlink(missing_ok=True)
    # The counts written from the thread land before the final state (never after, undoing it).
    await counter.flush()
    await progress.update(
        redis, token, state="done", done=len(valid), session=session_id, **stored, **results.legacy_url(result_url),
        result_label=f"Télécharger les {len(valid)} " + ("attestations et certificats (ZIP)" if any(
            c["kind"] == "realisation" for c in valid) else "attestations (ZIP)"),
    )
    return len(valid)


async def seal_certificates(ctx, enrolment_ids: list[int]) -> int:
    """Render and hash the certificates just issued to these enrolments (after many completed at
    once, e.g. by one attendance sheet): idempotent, only unsealed rows are written."""
    return await certificates.seal_now(enrolment_ids)


async def seal_unsealed_certificates(ctx) -> int:
    """Cron: the certificates issued more than a minute ago and still unsealed (their seal job could
    not be queued or was lost), by bounded batches; idempotent with several workers."""
    return await certificates.seal_unsealed()
