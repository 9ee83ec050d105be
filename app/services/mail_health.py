"""Is the mail leaving? A wrong MAIL_FROM (or SMTP password, or host) once left 18,036 mails waiting
with nothing said. An outbox whose every try of the last hour failed — at least ``MIN_FAILED``
mails tried, none sent — is reported by /healthz, at the top of /ops, in /ops/metrics and by
`tremplin worker` at start-up, which also asks the SMTP server whether it accepts the sender."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr

import aiosmtplib
from piccolo.query.functions.aggregate import Count

from app.dates import now
from app.settings import get_settings
from app.tables.outbox import Mail

WINDOW = timedelta(hours=1)
MIN_FAILED = 3
WAITING = ("queued", "sending", "retry")
RECIPIENT_REFUSED = "SMTPRecipientsRefused"  # how send_one records a refusal of every recipient


async def delivery_trouble(at: datetime | None = None) -> dict | None:
    """None while mail leaves; else how many mails failed their tries of the last hour (none sent),
    how many wait, and the latest error."""
    at = at or now()
    since = at - WINDOW
    # A recipient the server refuses (an address typed wrong, or typed on purpose by a visitor to
    # raise this alarm) says nothing about the outbox: only failures of the sending itself count.
    tried = (Mail.last_attempt_at >= since) & Mail.last_error.not_like(f"{RECIPIENT_REFUSED}%")
    rows = await Mail.select(Mail.status, Count(alias="n")).where(tried).group_by(Mail.status)
    counts = {r["status"]: r["n"] for r in rows}
    failed = counts.get("retry", 0) + counts.get("failed", 0)
    if counts.get("sent", 0) or failed < MIN_FAILED:
        return None
    latest = await Mail.select(Mail.last_error, Mail.last_attempt_at).where(
        tried & Mail.status.is_in(["retry", "failed"])).order_by(
        Mail.last_attempt_at, ascending=False).first()
    return {"failed": failed, "waiting": await Mail.count().where(Mail.status.is_in(list(WAITING))),
            "last_error": latest["last_error"] if latest else "", "last_attempt_at": latest and latest["last_attempt_at"]}


def trouble_text(trouble: dict) -> str:
    return (f"Les courriels ne partent plus : les {trouble['failed']} derniers essais d'envoi de l'heure ont tous "
            f"échoué, aucun n'est parti ; {trouble['waiting']} courriel(s) en attente. Vérifiez MAIL_FROM et "
            f"SMTP_* (dernière erreur : {trouble['last_error'][:300]}).")


async def smtp_problem() -> str | None:
    """Whether the SMTP server takes mail from MAIL_FROM: connect, log in, MAIL FROM, then reset —
    nothing is sent. None when it does; else what went wrong."""
    settings = get_settings().mail
    sender = parseaddr(settings.sender)[1]
    if "@" not in sender:
        return f"MAIL_FROM is not an address: {settings.sender!r}"
    client = aiosmtplib.SMTP(hostname=settings.host, port=settings.port, use_tls=settings.use_tls,
                             start_tls=settings.start_tls, timeout=settings.timeout)
    try:
        await client.connect()
        if settings.username:
            await client.login(settings.username, settings.password or "")
        await client.mail(sender)
        await client.rset()
    except Exception as exc:  # noqa: BLE001 - any refusal or network error is the report
        return f"the SMTP server {settings.host}:{settings.port} refuses mail from {sender}: {type(exc).__name__}: {exc}"
    finally:
        try:
            if client.is_connected:
                await client.quit()
        except Exception:  # noqa: BLE001
            client.close()
    return None


async def startup_problems() -> list[str]:
    """What `tremplin worker` says at start-up (English, in the worker's log, as its other lines)."""
    problems = []
    problem = await smtp_problem()
    if problem:
        problems.append(f"Mail cannot leave: {problem}. Check MAIL_FROM and SMTP_*.")
    try:
        trouble = await delivery_trouble()
    except Exception as exc:  # noqa: BLE001 - the database down is told elsewhere; the worker still starts
        trouble = None
        problems.append(f"Could not read the mail outbox: {type(exc).__name__}: {exc}")
    if trouble:
        problems.append(f"Mail outbox failing: every try of the last hour failed ({trouble['failed']} mails, none "
                        f"sent), {trouble['waiting']} waiting; last error: {trouble['last_error'][:300]}")
    return problems
