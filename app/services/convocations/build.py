"""Convocations: the job that turns pending notices into mails (claimed in batches, swept)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from app import db
from app.dates import now
from app.jobs import kinds
from app.services import outbox, progress
from app.tables.convocations import ConvocationNotice, NoticeKind, NoticeStatus
from app.services.convocations.common import BATCH, CATEGORY, CLAIM, GROUP_WINDOW, MAX_ATTEMPTS, _marks, _sql_moment, log, retry_delay
from app.services.convocations.documents import _documents, mail_text
from app.services.convocations.facts import _decide, _last_events, _last_told, changes, facts, told_of


# -- the job: notices to mails -----------------------------------------------------------------------
async def request_build(redis, session_id: int, key: str, token: str | None = None) -> None:
    """THE place that enqueues the building of a session's convocation mails. If Redis is down the
    sweep catches up (the notices are rows)."""
    try:
        await kinds.CONVOCATIONS.enqueue(redis, session_id, token, _job_id=f"convocations:{session_id}:{key}")
    except Exception:  # noqa: BLE001 - the notices are safe; sweep_stale will enqueue them
        log.warning("could not enqueue the convocations of session %s; the sweep will", session_id, exc_info=True)


async def dispatch_pending(redis, session_ids: list[int] | None = None, older_than: timedelta | None = None) -> int:
    """After a commit that may have written notices: a build job per session that has some waiting
    (its id names the newest notice, so a later batch is a new job). Returns how many sessions."""
    where = "status = 'pending'"
    args: list = []
    if session_ids is not None:
        if not session_ids:
            return 0
        where += f" AND session IN ({_marks(session_ids)})"
        args += list(session_ids)
    if older_than is not None:
        where += " AND created_at < {}"
        args.append(now() - older_than)
    rows = await ConvocationNotice.raw(
        f"SELECT session, MAX(id) AS newest FROM convocation_notice WHERE {where} GROUP BY session", *args)
    for row in rows:
        key = f"n{row['newest']}" if older_than is None else f"sweep{int(now().timestamp()) // 60}"
        await request_build(redis, row["session"], key)  # (an update younger than GROUP_WINDOW: the sweep's job)
    return len(rows)


# A notice given up: failed, its key released (« Envoyer les convocations » may queue it again).
_GIVE_UP = ("status = 'failed', locked_until = NULL, built_at = {}, "
            "dedup_key = CASE WHEN kind IN ('convocation', 'update') THEN NULL ELSE dedup_key END")
CRASHED = "Interrompu : le worker s'est arrêté pendant la préparation."


async def sweep(redis) -> int:
    """Cron: expired claims (a crashed worker's, or a failed build waiting for its next attempt) go
    back to pending — or to failed after MAX_ATTEMPTS —, then what waits for more than 30 seconds is
    enqueued."""
    moment = now()
    expired = "status = 'building' AND locked_until < {}"
    await ConvocationNotice.raw(
        f"UPDATE convocation_notice SET {_GIVE_UP}, last_error = CASE WHEN last_error = '' THEN {{}} "
        f"ELSE last_error END WHERE {expired} AND attempts >= {{}}", moment, CRASHED, moment, MAX_ATTEMPTS)
    await ConvocationNotice.raw(
        f"UPDATE convocation_notice SET status = 'pending', locked_until = NULL WHERE {expired}", moment)
    return await dispatch_pending(redis, older_than=timedelta(seconds=30))


async def _record_failures(failures: dict[int, tuple[int, str]]) -> None:
    """Builds that raised (notice id → (attempts, error)): given up after MAX_ATTEMPTS, else kept
    claimed until their next attempt (the sweep releases them then). One UPDATE per attempt count."""
    by_attempts: dict[int, dict[int, str]] = {}
    for notice_id, (attempts, error) in failures.items():
        by_attempts.setdefault(attempts, {})[notice_id] = error[:1000]
    moment = now()
    for attempts, errors in by_attempts.items():
        cases = " ".join("WHEN {} THEN {}" for _ in errors)
        args = [a for pair in errors.items() for a in pair]
        ids = ", ".join(str(int(i)) for i in errors)
        if attempts >= MAX_ATTEMPTS:
            await ConvocationNotice.raw(f"UPDATE convocation_notice SET last_error = CASE id {cases} END, {_GIVE_UP} "
                                        f"WHERE id IN ({ids})", *args, moment)
        else:
            await ConvocationNotice.raw(f"UPDATE convocation_notice SET last_error = CASE id {cases} END, "
                                        f"locked_until = {{}} WHERE id IN ({ids})", *args,
                                        moment + retry_delay(attempts))


async def _claim(session_id: int) -> list[dict]:
    """A batch of the session's waiting notices. Updates wait until the session has had no newer one
    for GROUP_WINDOW (changes in a row make one mail); of several convocations or updates of one
    enrolment only the latest is built (the others are skipped: it states everything)."""
    moment = now()
    await ConvocationNotice.raw(
        "UPDATE convocation_notice SET status = 'skipped', built_at = {} WHERE session = {} AND status = 'pending' "
        "AND kind IN ('convocation', 'update') AND EXISTS (SELECT 1 FROM convocation_notice later "
        "WHERE later.enrolment = convocation_notice.enrolment AND later.id > convocation_notice.id "
        "AND later.status = 'pending' AND later.kind IN ('convocation', 'update'))", moment, session_id)
    return await ConvocationNotice.raw(
        "UPDATE convocation_notice SET status = 'building', locked_until = {}, attempts = attempts + 1 "
        "WHERE status = 'pending' AND id IN (SELECT n.id FROM convocation_notice n WHERE n.session = {} "
        "AND n.status = 'pending' AND (n.kind <> 'update' OR NOT EXISTS (SELECT 1 FROM convocation_notice y "
        "WHERE y.session = n.session AND y.status = 'pending' AND y.kind = 'update' AND y.created_at > {})) "
        f"ORDER BY n.id LIMIT {BATCH}) RETURNING id, enrolment, kind, attempts",
        moment + CLAIM, session_id, _sql_moment(moment - GROUP_WINDOW))


async def build_pending(redis, session_id: int, token: str | None = None) -> dict:
    """The job: every waiting notice of the session becomes an outbox mail (PDF + .ics), by batches
    claimed atomically (two workers never build the same notice). Returns counts by outcome."""
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    total = await ConvocationNotice.count().where(
        (ConvocationNotice.session == session_id) & (ConvocationNotice.status == NoticeStatus.pending))
    if token:
        await progress.update(redis, token, state="running", total=total, done=0)
    while claimed := await _claim(session_id):
        enrolment_ids = [n["enrolment"] for n in claimed]
        by_enrolment, previous = await facts(enrolment_ids), await _last_events(enrolment_ids)
        told_before = await _last_told(enrolment_ids)
        # Of several notices about one invitation in a batch, the latest says it all.
        latest: dict[int, int] = {}
        for n in claimed:
            if not n["kind"].startswith("reminder"):
                latest[n["enrolment"]] = max(latest.get(n["enrolment"], 0), n["id"])
        messages, sent, skipped, failures = [], {}, [], {}
        for n in claimed:
            f = by_enrolment.get(n["enrolment"])
            kind = _decide(n["kind"], f, previous.get(n["enrolment"]))
            told = told_of(f) if f is not None and kind != NoticeKind.cancellation.value else None
            if kind == NoticeKind.update.value and not previous.get(n["enrolment"]):
                kind = NoticeKind.convocation.value  # never mailed before: this is their convocation
            changed = changes(told_before.get(n["enrolment"]), told) if told else []
            if kind is None or (n["enrolment"] in latest and not n["kind"].startswith("reminder")
                                and latest[n["enrolment"]] != n["id"]) or (
                    kind == NoticeKind.update.value and n["enrolment"] in told_before and not changed):
                skipped.append(n["id"])  # (an update that changes nothing they were told mails no one)
                continue
            try:
                attachments, events = await asyncio.to_thread(_documents, kind, f, previous.get(n["enrolment"]) or [])
                subject, body = mail_text(kind, f, changed)
            except Exception as error:  # noqa: BLE001 - this notice's attempt failed; the others go on
                log.warning("convocation notice %s: build attempt %s failed", n["id"], n["attempts"], exc_info=True)
                failures[n["id"]] = (n["attempts"], f"{type(error).__name__}: {error}")
                continue
            messages.append((f"convocation:{n['id']}", [f["email"]], subject, body, attachments))
            sent[n["id"]] = (f["invitation_sequence"], json.dumps(events) if events else "",
                             json.dumps(told, ensure_ascii=False, sort_keys=True) if told else "")
        async with db.transaction():
            mail_ids = await outbox.queue_documents(messages, CATEGORY)
            for (sequence, events, told), ids in _grouped(sent).items():
                await ConvocationNotice.update({
                    ConvocationNotice.status: NoticeStatus.sent, ConvocationNotice.sequence: sequence,
                    ConvocationNotice.events: events, ConvocationNotice.told: told, ConvocationNotice.built_at: now(),
                    ConvocationNotice.locked_until: None}).where(ConvocationNotice.id.is_in(ids))
            if failures:
                await _record_failures(failures)
            if skipped:
                await ConvocationNotice.update({ConvocationNotice.status: NoticeStatus.skipped,
                                                ConvocationNotice.built_at: now(),
                                                ConvocationNotice.locked_until: None}).where(
                    ConvocationNotice.id.is_in(skipped))
        await outbox.dispatch(redis, mail_ids)
        counts["sent"] += len(sent)
        counts["skipped"] += len(skipped)
        counts["failed"] += len(failures)
        if token:
            await progress.update(redis, token, done=min(total, sum(counts.values())))
    if token:
        await progress.update(redis, token, state="done", done=total, total=total)
    return counts


def _grouped(sent: dict[int, tuple]) -> dict[tuple, list[int]]:
    """Notices by (sequence, events): one UPDATE per group (a session's notices share their events)."""
    groups: dict[tuple, list[int]] = {}
    for notice_id, values in sent.items():
        groups.setdefault(values, []).append(notice_id)
    return groups
