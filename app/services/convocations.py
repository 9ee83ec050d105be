"""Convocations and calendar invitations (issue 12, SPEC X2).

What happens, and where:
- Every change that concerns a learner's invitation writes a ``ConvocationNotice`` in its own
  transaction, set-based (one INSERT … SELECT whatever the number): enrolment by any way
  (`enrolments.add_sources`, the cohort sync) → a convocation; losing the last way of enrolment → a
  cancellation; a change of the session's slots, place or dates → an update; the session cancelled →
  a cancellation; « Envoyer les convocations » → a convocation; the D-7 / D-1 cron → a reminder.
- A job (`build_pending`, one per session and batch) renders the PDF and the ``.ics`` of each
  notice and writes the outbox mails with their attachments; the outbox sends them. A 500-learner
  cohort is queued in milliseconds; its PDFs are rendered in the background.
- What a notice says is decided when its mail is built, from the facts of that moment: a learner
  unenrolled meanwhile gets no convocation, one enrolled again gets no cancellation.
- One convocation per enrolment and SEQUENCE (the notice's unique ``dedup_key``, inserted with ON
  CONFLICT DO NOTHING): a second click, a second tab or a race mails nobody twice.
- A notice is built at most MAX_ATTEMPTS times (a failed build waits 2, 4, 8, 16 minutes, then the
  sweep hands it back); then it is ``failed``: on /ops, and on the session's convocation page
  (`failures`, with the mails the outbox gave up on), where « Envoyer les convocations » retries it.

Invitations (RFC 5545 / 5546, the icalendar library): one VEVENT per time slot, all under the
enrolment's UIDs ``convocation-<enrolment>-<n>@host`` (n = the slot's rank), so a client shows the
half-days as they are — a two-day session is not a 33-hour block — and every event is updated in
place. One SEQUENCE per enrolment (``Enrolment.invitation_sequence``), raised for every enrolment of
the session when its slots, place or dates change (one UPDATE), when the learner is unenrolled and
when they are enrolled again; a session without slots gets one all-day event over its dates.
A slot that disappears is cancelled by a second attachment (METHOD:CANCEL): a calendar object has
one METHOD. Times are Europe/Paris wall-clock times (TZID with its VTIMEZONE).

Sessions mail their convocations automatically unless their setting « Envoyer les convocations
automatiquement » is off (then the manager sends them with the button); updates, cancellations and
reminders go to whoever was convoked, whatever the setting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parseaddr
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from app import db
from app.dates import date_fr, local_now, now, today
from app.jobs import kinds
from app.pdf import bounded
from app.pdf.render import render_pdf_sync
from app.services import outbox, progress, slots
from app.services.certificates import CIVILITY_SQL
from app.services.errors import DomainError, NotFound
from app.services.session_names import name_for_documents
from app.settings import get_settings
from app.tables.convocations import ConvocationNotice, NoticeKind, NoticeStatus
from app.tables.learning import Enrolment

log = logging.getLogger(__name__)

TEMPLATE = "pdf/convocation.html"
CATEGORY = "convocation"
BATCH = 25
CLAIM = timedelta(minutes=10)
NOT_FOUND = "Convocation introuvable."
# A reminder is about a convocation mailed before: these kinds (built or on their way) are one.
_CONVOKED = ("EXISTS (SELECT 1 FROM convocation_notice n WHERE n.enrolment = e.id "
             "AND n.kind IN ('convocation', 'update') AND n.status IN ('pending', 'building', 'sent'))")
_INSERT = ("INSERT INTO convocation_notice (enrolment, session, kind, status, dedup_key, sequence, events, created_at) "
           "SELECT e.id, e.session, '{kind}', 'pending', {key}, e.invitation_sequence, '', CURRENT_TIMESTAMP "
           "FROM enrolment e JOIN training_session s ON s.id = e.session ")
# One convocation per enrolment and SEQUENCE (an update states the same invitation): the unique
# dedup_key makes a second insert a no-op (ON CONFLICT DO NOTHING), whatever clicked or raced.
_INVITATION_KEY = "'invitation:' || CAST(e.id AS TEXT) || ':' || CAST(e.invitation_sequence AS TEXT)"
_ONCE = " ON CONFLICT (dedup_key) DO NOTHING"
MAX_ATTEMPTS = 5
# Issue 20: a session is convoked automatically only once learners can be told when and where — it has
# slots, and a place or a link (needs the alias s for training_session).
_READY = ("EXISTS (SELECT 1 FROM session_slot rsl WHERE rsl.session = s.id) "
          "AND (COALESCE(s.place, '') <> '' OR COALESCE(s.remote_url, '') <> '')")
# Changes of a session's settings within this window make one mail: an update waits until the session
# has had no newer change for that long (the latest states it all; `build_pending`).
GROUP_WINDOW = timedelta(seconds=120)


def _insert(kind: NoticeKind) -> str:
    key = _INVITATION_KEY if kind in (NoticeKind.convocation, NoticeKind.update) else "NULL"
    return _INSERT.replace("{kind}", kind.value).replace("{key}", key)


def retry_delay(attempts: int) -> timedelta:
    """How long a notice whose build failed waits before its next attempt: 2, 4, 8, 16 minutes."""
    return timedelta(minutes=min(60, 2 ** attempts))


# Nothing is mailed about a session that is over.
_OPEN = "s.cancelled_at IS NULL AND s.end_date >= {} "


def _marks(ids: list[int]) -> str:
    return ", ".join("{}" for _ in ids)


# -- notices, written in the caller's transaction -----------------------------------------------------
async def on_enrolled(enrolment_ids: list[int]) -> None:
    """Enrolments just made active (`add_sources`, the cohort sync): their convocation — once the
    session has slots and a place or link (else it comes when they are set, `on_session_changed`)."""
    ids = sorted(set(enrolment_ids))
    if ids:
        await ConvocationNotice.raw(
            _insert(NoticeKind.convocation)
            + f"WHERE e.id IN ({_marks(ids)}) AND s.auto_convocations AND {_READY} AND " + _OPEN + _ONCE,
            *ids, today())


async def on_unenrolled(enrolment_ids: list[int]) -> None:
    """Enrolments just made inactive: a cancellation for those who were convoked (their SEQUENCE
    was raised by the same UPDATE that deactivated them)."""
    ids = sorted(set(enrolment_ids))
    if ids:
        await ConvocationNotice.raw(
            _insert(NoticeKind.cancellation)
            + f"WHERE e.id IN ({_marks(ids)}) AND {_CONVOKED} AND " + _OPEN, *ids, today())


async def on_session_changed(session_id: int, notify: bool = True) -> None:
    """The session's slots, place or dates changed (in that change's transaction): every invitation
    of the session gets SEQUENCE+1; unless the manager chose not to tell them, the convoked learners
    an update, and — the session now saying when and where, convocations automatic — those never
    convoked their first convocation (an « update » notice too: mailed as a convocation, grouped)."""
    await Enrolment.update({Enrolment.invitation_sequence: Enrolment.invitation_sequence + 1}).where(
        Enrolment.session == session_id)
    if notify:
        await ConvocationNotice.raw(
            _insert(NoticeKind.update)
            + f"WHERE e.session = {{}} AND e.active AND ({_CONVOKED} OR (s.auto_convocations AND {_READY})) AND "
            + _OPEN + _ONCE, session_id, today())


async def would_notify(session_id: int, ready: bool) -> int:
    """How many learners a change of the session's dates, slots, place or link would mail (« Enregistrer
    préviendra N inscrits »): the convoked, and — ``ready``: the session will say when and where —
    those never convoked if convocations are automatic. None about a session over or cancelled."""
    rows = await Enrolment.raw(
        "SELECT COUNT(*) AS n FROM enrolment e JOIN training_session s ON s.id = e.session "
        f"WHERE e.session = {{}} AND e.active AND ({_CONVOKED}"
        + (" OR s.auto_convocations" if ready else "") + ") AND " + _OPEN, session_id, today())
    return rows[0]["n"]


async def on_session_cancelled(session_id: int) -> None:
    """The session was cancelled: every invitation is cancelled (SEQUENCE+1) — unless the session
    is over: nothing is mailed about a training that took place, nor taken out of calendars."""
    await Enrolment.update({Enrolment.invitation_sequence: Enrolment.invitation_sequence + 1}).where(
        Enrolment.session == session_id)
    await ConvocationNotice.raw(
        _insert(NoticeKind.cancellation)
        + f"WHERE e.session = {{}} AND e.active AND {_CONVOKED} AND s.end_date >= {{}}", session_id, today())


async def queue_for_session(session: dict, only_new: bool) -> int:
    """« Envoyer les convocations »: one for every active learner, or only for those never convoked.
    Idempotent: a learner who has (or is about to get) the convocation of their current SEQUENCE gets
    none again — a double submit or a second tab queues nothing. Returns how many are queued."""
    if session.get("cancelled_at"):
        raise DomainError("Cette session est annulée : aucune convocation ne peut être envoyée.")
    if session["end_date"] < today():
        raise DomainError("Cette session est terminée : aucune convocation ne peut être envoyée.")
    condition = f"AND NOT {_CONVOKED} " if only_new else ""
    rows = await ConvocationNotice.raw(
        _insert(NoticeKind.convocation)
        + f"WHERE e.session = {{}} AND e.active {condition}" + _ONCE + " RETURNING id", session["id"])
    return len(rows)


REMINDERS = ((NoticeKind.reminder_7, (7, 6)), (NoticeKind.reminder_1, (1,)))


async def queue_reminders(day: date | None = None) -> int:
    """The D-7 and D-1 reminders due today (D-7 also the day after, should the cron have missed a
    day): one row per (kind, enrolment) — its dedup_key — inserted with ON CONFLICT DO NOTHING, so
    however many workers run this, and however often, a learner gets each reminder once. Only for
    a convocation mailed before today. Returns how many were queued now."""
    day = day or today()
    midnight = datetime.combine(day, time(0), ZoneInfo(get_settings().timezone)).astimezone(timezone.utc)
    queued = 0
    for kind, offsets in REMINDERS:
        starts = [day + timedelta(days=d) for d in offsets]
        rows = await ConvocationNotice.raw(
            "INSERT INTO convocation_notice (enrolment, session, kind, status, dedup_key, sequence, events, created_at) "
            f"SELECT e.id, e.session, '{kind.value}', 'pending', '{kind.value}:' || CAST(e.id AS TEXT), "
            "e.invitation_sequence, '', CURRENT_TIMESTAMP FROM enrolment e JOIN training_session s ON s.id = e.session "
            f"WHERE e.active AND s.cancelled_at IS NULL AND s.start_date IN ({_marks(starts)}) "
            "AND EXISTS (SELECT 1 FROM convocation_notice n WHERE n.enrolment = e.id AND n.status = 'sent' "
            "AND n.kind IN ('convocation', 'update') AND n.created_at < {}) "
            "ON CONFLICT (dedup_key) DO NOTHING RETURNING id", *starts, midnight)
        queued += len(rows)
    return queued


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


def _sql_moment(moment: datetime):
    """An instant compared with a CURRENT_TIMESTAMP the database wrote (SQLite: its text form, UTC)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if db.is_sqlite() else moment


_FACTS = (
    "SELECT e.id, e.active, e.invitation_sequence, e.\"user\", u.first_name, u.last_name, u.email, "
    + CIVILITY_SQL + " AS civility, s.id AS session_id, s.full_name AS session_name, s.code AS session_code, "
    "s.start_date, s.end_date, s.place, s.remote_url, s.contact, s.what_to_bring, s.cancelled_at, "
    "s.establishment, es.name AS establishment_name "
    "FROM enrolment e JOIN app_user u ON u.id = e.\"user\" JOIN training_session s ON s.id = e.session "
    "JOIN establishment es ON es.id = s.establishment WHERE e.id IN ({ids})"
)


async def facts(enrolment_ids: list[int]) -> dict[int, dict]:
    """What the documents state, per enrolment (one query, plus one for the slots of their sessions)."""
    ids = sorted({int(i) for i in enrolment_ids})
    if not ids:
        return {}

    rows = await Enrolment.raw(_FACTS.format(ids=", ".join(str(i) for i in ids)))
    by_session = {sid: await slots.for_session(sid) for sid in {r["session_id"] for r in rows}}
    for row in rows:
        row["slots"] = by_session[row["session_id"]]
        # A name left with other dates than the session's is never printed (issue 20).
        row["session_name"] = name_for_documents(row["session_name"], row["start_date"], row["end_date"])
    return {r["id"]: r for r in rows}


async def _last_events(enrolment_ids: list[int]) -> dict[int, list[dict]]:
    """The events of the last invitation each enrolment was mailed (to cancel them)."""
    if not enrolment_ids:
        return {}
    rows = await ConvocationNotice.select(ConvocationNotice.enrolment, ConvocationNotice.events).where(
        ConvocationNotice.enrolment.is_in(sorted(set(enrolment_ids))) & (ConvocationNotice.status == NoticeStatus.sent)
        & (ConvocationNotice.events != "")).order_by(ConvocationNotice.id)
    return {r["enrolment"]: json.loads(r["events"]) for r in rows}  # the latest wins


async def _last_told(enrolment_ids: list[int]) -> dict[int, dict]:
    """What the last convocation, update or reminder mailed told each enrolment (issue 20)."""
    if not enrolment_ids:
        return {}
    rows = await ConvocationNotice.select(ConvocationNotice.enrolment, ConvocationNotice.told).where(
        ConvocationNotice.enrolment.is_in(sorted(set(enrolment_ids))) & (ConvocationNotice.status == NoticeStatus.sent)
        & (ConvocationNotice.told != "")).order_by(ConvocationNotice.id)
    return {r["enrolment"]: json.loads(r["told"]) for r in rows}  # the latest wins


TOLD_LABELS = {"dates": "Dates", "horaires": "Horaires", "lieu": "Lieu", "lien": "Lien de connexion"}


def told_of(f: dict) -> dict:
    """What a convocation tells the learner about when and where, as they read it."""
    return {"dates": f"du {date_fr(f['start_date'])} au {date_fr(f['end_date'])}",
            "horaires": " ; ".join(f"{day} : {hours}" for day, hours in slots.by_day(f["slots"])) or "non précisés",
            "lieu": ", ".join(place_lines(f)) or "non précisé", "lien": f["remote_url"] or "aucun"}


def changes(before: dict | None, after: dict) -> list[str]:
    """« Horaires : … → … » for each thing told that changed (none known before: nothing to compare)."""
    if not before:
        return []
    return [f"{label} : {before.get(key, '')} → {after[key]}" for key, label in TOLD_LABELS.items()
            if before.get(key) != after[key]]


def events_of(f: dict) -> list[dict]:
    """The invitation's events: one per slot (Paris wall-clock times), else one all-day event."""
    if f["slots"]:
        return [{"start": datetime.combine(s.day, s.starts).isoformat(timespec="minutes"),
                 "end": datetime.combine(s.day, s.ends).isoformat(timespec="minutes")} for s in f["slots"]]
    return [{"start": f["start_date"].isoformat(), "end": (f["end_date"] + timedelta(days=1)).isoformat()}]


def _decide(kind: str, f: dict | None, previous: list[dict] | None) -> str | None:
    """What to mail for a notice now, or None (skipped): the facts of the moment decide."""
    if f is None:
        return None
    live = f["active"] and not f["cancelled_at"]
    if kind == NoticeKind.cancellation.value:
        return kind if previous and not live else None
    return kind if live else None


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


# -- documents ---------------------------------------------------------------------------------------
def _safe(text: str) -> str:
    """A file name part: accents dropped (Élodie → Elodie), anything else a dash."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", plain).strip("-") or "x"


def pdf_filename(f: dict) -> str:
    return f"convocation-{f['session_code']}-{_safe(f['last_name'])}-{_safe(f['first_name'])}.pdf"


# The part's METHOD parameter matches the object's (RFC 6047): mail clients then offer to add the
# event (or remove it) instead of only showing a file. The text is UTF-8 (names, places): said so.
ICS_REQUEST = "text/calendar; method=REQUEST; charset=utf-8"
ICS_CANCEL = "text/calendar; method=CANCEL; charset=utf-8"


def ics_filename(f: dict, cancel: bool = False) -> str:
    return f"{'annulation' if cancel else 'invitation'}-{f['session_code']}.ics"


def _documents(kind: str, f: dict, previous: list[dict]) -> tuple[list[outbox.Attachment], list[dict]]:
    """The attachments of a mail and the events it states (CPU-bound: run in a thread)."""
    if kind == NoticeKind.cancellation.value:
        return [outbox.Attachment(ics_filename(f, True), ICS_CANCEL, invitation_ics(f, cancel=previous))], []
    events = events_of(f)
    pdf = bounded.run(render_pdf_sync, TEMPLATE, pdf_context(f))  # in the render pool, with its deadline
    attachments = [outbox.Attachment(pdf_filename(f), "application/pdf", pdf),
                   outbox.Attachment(ics_filename(f), ICS_REQUEST, invitation_ics(f))]
    gone = [(n, e) for n, e in enumerate(previous, start=1) if n > len(events)]
    if gone:
        attachments.append(outbox.Attachment(ics_filename(f, True), ICS_CANCEL,
                                             invitation_ics(f, cancel=previous, only=[n for n, _ in gone])))
    return attachments, events


def place_lines(f: dict) -> list[str]:
    lines = [line for line in (f["place"] or "").splitlines() if line.strip()]
    if f["remote_url"] and not lines:
        lines = ["À distance"]
    return lines


def practical(session: dict, session_slots: list) -> dict:
    """What a learner needs to attend (the learner's session page, as on the convocation): the
    slots day by day, the place's lines (or « À distance »), the link, the contact, what to bring."""
    return {"jours": slots.by_day(session_slots), "duree": slots.summary(session_slots),
            "lieu": place_lines(session), "lien": session["remote_url"] or "", "contact": session["contact"] or "",
            "a_apporter": [line for line in (session["what_to_bring"] or "").splitlines() if line.strip()]}


def pdf_context(f: dict) -> dict:
    return {"c": {
        "civilite": f["civility"] or "", "prenom": f["first_name"], "nom": f["last_name"],
        "session": f["session_name"], "code": f["session_code"], "etablissement": f["establishment_name"],
        "date_debut": date_fr(f["start_date"]), "date_fin": date_fr(f["end_date"]),
        **practical(f, f["slots"]), "etablie_le": date_fr(local_now()),
    }}


async def render_pdf(f: dict) -> bytes:
    return await bounded.run_async(render_pdf_sync, TEMPLATE, pdf_context(f))


def uid(enrolment_id: int, n: int) -> str:
    host = urlparse(get_settings().base_url).hostname or "tremplin"
    return f"convocation-{enrolment_id}-{n}@{host}"


def _moment(value: str, tz: ZoneInfo):
    return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value).replace(tzinfo=tz)


def invitation_ics(f: dict, cancel: list[dict] | None = None, only: list[int] | None = None,
                   publish: bool = False) -> bytes:
    """The enrolment's invitation (METHOD:REQUEST), or the cancellation of the events ``cancel``
    (as last mailed; ``only`` some of their ranks) with METHOD:CANCEL. ``publish``: the calendar file
    downloaded from a page (METHOD:PUBLISH, RFC 5546): it adds the events to a calendar, where REQUEST
    is the organiser's invitation mailed to the attendee."""
    from icalendar import Calendar, Event, vCalAddress, vText

    tz = ZoneInfo(get_settings().timezone)
    settings = get_settings()
    calendar = Calendar()
    calendar.add("prodid", "-//Tremplin//Convocations//FR")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancel is not None else "PUBLISH" if publish else "REQUEST")
    events = cancel if cancel is not None else events_of(f)
    organizer = vCalAddress("mailto:" + (parseaddr(settings.mail.sender)[1] or "ne-pas-repondre@tremplin.local"))
    organizer.params["cn"] = vText(f["establishment_name"])
    attendee = vCalAddress(f"mailto:{f['email']}")
    attendee.params.update({"cn": vText(f"{f['first_name']} {f['last_name']}"), "role": vText("REQ-PARTICIPANT"),
                            "partstat": vText("NEEDS-ACTION"), "rsvp": vText("FALSE")})
    place = place_lines(f)
    description = [f"Session {f['session_code']} — {f['establishment_name']}"]
    if f["remote_url"]:
        description.append(f"Lien de connexion : {f['remote_url']}")
    if f["contact"]:
        description.append(f"Contact : {f['contact']}")
    if f["what_to_bring"]:
        description.append(f"À apporter : {' ; '.join(l.strip() for l in f['what_to_bring'].splitlines() if l.strip())}")
    stamp = now().replace(microsecond=0)
    timed = [e["start"] for e in events if len(e["start"]) > 10]
    if timed:
        calendar.add_component(_vtimezone(settings.timezone, int(min(timed)[:4]), int(max(timed)[:4])))
    for n, e in enumerate(events, start=1):
        if only is not None and n not in only:
            continue
        event = Event()
        event.add("uid", uid(f["id"], n))
        event.add("dtstamp", stamp)
        event.add("sequence", f["invitation_sequence"])
        event.add("dtstart", _moment(e["start"], tz))
        event.add("dtend", _moment(e["end"], tz))
        event.add("summary", f"Formation : {f['session_name']}")
        if place:
            event.add("location", ", ".join(place))
        if f["remote_url"]:
            event.add("url", f["remote_url"])
        event.add("description", "\n".join(description))
        event.add("organizer", organizer)
        event.add("attendee", attendee)
        event.add("status", "CANCELLED" if cancel is not None else "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()


@lru_cache(maxsize=32)
def _vtimezone(tzid: str, first_year: int, last_year: int):
    """The VTIMEZONE of the events' years (computed once: from 1970 to 2038, as icalendar does by
    default, it is five times larger and took 40 ms an invitation)."""
    from icalendar import Timezone

    return Timezone.from_tzid(tzid, first_date=date(first_year - 1, 1, 1), last_date=date(last_year + 1, 12, 31))


def mail_text(kind: str, f: dict, changed: list[str] | None = None) -> tuple[str, str]:
    title = f["session_name"]
    hello = f"Bonjour {f['first_name']} {f['last_name']},\n\n"
    when = f"du {date_fr(f['start_date'])} au {date_fr(f['end_date'])}"
    details = []
    for day, hours in slots.by_day(f["slots"]):
        details.append(f"- {day} : {hours}")
    place = place_lines(f)
    if place:
        details.append("Lieu : " + ", ".join(place))
    if f["remote_url"]:
        details.append(f"Lien de connexion : {f['remote_url']}")
    if f["contact"]:
        details.append(f"Contact : {f['contact']}")
    facts_text = ("\n".join(details) + "\n\n") if details else ""
    joined = ("Vous trouverez ci-joint votre convocation (PDF) et une invitation à ajouter à votre agenda "
              "(fichier .ics).\n\n")
    sign = f"L'équipe de formation — {f['establishment_name']}\n"
    if kind == NoticeKind.convocation.value:
        return (f"Convocation : {title}",
                hello + f"Vous êtes inscrit(e) à la formation « {title} » (session {f['session_code']}), {when}.\n\n"
                + facts_text + joined + sign)
    if kind == NoticeKind.update.value:
        what = ("Ce qui change :\n" + "\n".join(f"- {line}" for line in changed) + "\n\n") if changed else ""
        return (f"Modification de votre convocation : {title}",
                hello + f"Les horaires, le lieu ou les dates de la formation « {title} » ont changé.\n\n" + what
                + "Voici les informations à jour :\n\n" + facts_text
                + "Votre convocation mise à jour est jointe ; l'invitation jointe met votre agenda à jour.\n\n" + sign)
    if kind == NoticeKind.cancellation.value:
        reason = (f"La session de formation « {title} » ({when}) est annulée."
                  if f["cancelled_at"] else f"Votre inscription à la formation « {title} » ({when}) a été annulée.")
        return (f"Annulation : {title}", hello + reason + "\n\nLe fichier joint retire cette formation de votre "
                "agenda.\n\n" + (f"Pour toute question : {f['contact']}\n\n" if f["contact"] else "") + sign)
    days = "dans 7 jours" if kind == NoticeKind.reminder_7.value else "demain"
    return (f"Rappel : votre formation commence {days} — {title}",
            hello + f"Nous vous rappelons que la formation « {title} » commence {days}, "
            f"le {date_fr(f['start_date'])}.\n\n" + facts_text + joined + sign)


# -- downloads ---------------------------------------------------------------------------------------
async def _enrolment_facts(enrolment_id: int | None) -> dict:
    f = (await facts([enrolment_id])).get(enrolment_id) if enrolment_id else None
    if f is None:
        raise NotFound(NOT_FOUND)
    return f


async def for_learner(user_id: int, session_id: int) -> dict:
    """The learner's own: actively enrolled in a visible session that is not cancelled — before it
    starts too (that is when a convocation is needed); anything else is « introuvable »."""
    row = await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session_id) & (Enrolment.user == user_id) & (Enrolment.active == True)  # noqa: E712
        & (Enrolment.session.visible == True) & Enrolment.session.cancelled_at.is_null()  # noqa: E712
    ).first()
    return await _enrolment_facts(row["id"] if row else None)


CANCELLED = "Cette session est annulée : elle n'a plus de convocation ni d'invitation."


async def for_manager(session: dict, user_id: int) -> dict:
    """One learner's, for the session's managers (``session`` already checked in scope). Not for a
    cancelled session: its invitation (METHOD:REQUEST, same SEQUENCE as the cancellation mailed)
    forwarded to the learner would put the training back in their calendar."""
    if session.get("cancelled_at"):
        raise NotFound(CANCELLED)
    row = await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session["id"]) & (Enrolment.user == user_id) & (Enrolment.active == True)  # noqa: E712
    ).first()
    return await _enrolment_facts(row["id"] if row else None)


async def summary(session_id: int) -> dict:
    """For the send page: active learners, how many were ever convoked, the last mailing."""
    active = await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712
    rows = await Enrolment.raw(
        "SELECT COUNT(*) AS n FROM enrolment e WHERE e.session = {} AND e.active AND " + _CONVOKED, session_id)
    last = await ConvocationNotice.select(ConvocationNotice.built_at).where(
        (ConvocationNotice.session == session_id) & (ConvocationNotice.status == NoticeStatus.sent)).order_by(
        ConvocationNotice.built_at, ascending=False).first()
    waiting = await ConvocationNotice.count().where(
        (ConvocationNotice.session == session_id)
        & ConvocationNotice.status.is_in([NoticeStatus.pending, NoticeStatus.building]))
    return {"active": active, "convoked": rows[0]["n"], "never": active - rows[0]["n"],
            "last_sent": last["built_at"] if last else None, "waiting": waiting, "failed": await failures(session_id)}


# A notice that could not be built (failed), or built but whose mail the outbox gave up on; only the
# latest word to each learner still enrolled (a later notice on its way or sent replaces it).
# FAILED_FROM / FAILED_WHERE are also the home page's count (app/services/dashboard.py).
FAILED_FROM = (
    "convocation_notice n JOIN enrolment e ON e.id = n.enrolment "
    "LEFT JOIN mail m ON m.group_key = 'convocation:' || CAST(n.id AS TEXT) AND m.category = '" + CATEGORY + "' ")
FAILED_WHERE = (
    "e.active AND (n.status = 'failed' OR (n.status = 'sent' AND m.status = 'failed')) "
    "AND NOT EXISTS (SELECT 1 FROM convocation_notice later WHERE later.enrolment = n.enrolment "
    "AND later.id > n.id AND later.status IN ('pending', 'building', 'sent')) ")
# The notices that may be failing, found from the few failed rows through the status indexes, for a
# count over many sessions (the managers' home): FAILED_FROM alone joins every notice ever sent to its
# mail (100 000 sent convocations: 0.35 s on every home page). A mail's group key is "convocation:<id>".
FAILED_CANDIDATES = (
    "n.id IN (SELECT f.id FROM convocation_notice f WHERE f.status = 'failed' UNION "
    "SELECT CAST(CASE WHEN ltrim(substr(fm.group_key, 13), '0123456789') = '' THEN substr(fm.group_key, 13) END "
    "AS INTEGER) FROM mail fm WHERE fm.status = 'failed' AND fm.category = '" + CATEGORY + "' "
    "AND fm.group_key LIKE 'convocation:_%') ")
_FAILURES = (
    "SELECT n.id, n.kind, n.status, n.attempts, m.last_error AS mail_error, u.first_name, u.last_name "
    "FROM " + FAILED_FROM + "JOIN app_user u ON u.id = e.\"user\" "
    "WHERE n.session = {} AND " + FAILED_WHERE + "ORDER BY u.last_name_key, u.first_name_key, n.id"
)
KIND_LABELS = {NoticeKind.convocation.value: "Convocation", NoticeKind.update.value: "Modification",
               NoticeKind.cancellation.value: "Annulation", NoticeKind.reminder_7.value: "Rappel J-7",
               NoticeKind.reminder_1.value: "Rappel J-1"}


async def failures(session_id: int) -> list[dict]:
    """The session's convocations that could not be sent, with why in French (for its managers)."""
    rows = await ConvocationNotice.raw(_FAILURES, session_id)
    for r in rows:
        r["kind_label"] = KIND_LABELS.get(r["kind"], r["kind"])
        if r["status"] == NoticeStatus.failed.value:
            r["reason"] = f"préparation impossible ({r['attempts']} essais)"
        else:
            r["reason"] = f"courriel non remis : {r['mail_error'] or 'refusé par le serveur de messagerie'}"
    return rows
