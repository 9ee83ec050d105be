"""The mail outbox: a mail is a row first, written in the caller's transaction; a job sends it.

Delivery is at-least-once and never lost: a failed attempt records the error and schedules the
next one with exponential backoff; a cron sweep re-enqueues anything due (after a Redis outage or
a crashed worker). The row is claimed atomically before sending, so two workers never send it twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
import email.policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr

import aiosmtplib

from app import db, queue
from app.bulk import bulk_insert
from app.dates import now
from app.jobs import kinds
from app.services import audit
from app.services.roles import REGISTRATION_TESTER
from app.settings import get_settings
from app.tables.accounts import RoleAssignment
from app.tables.outbox import Mail, MailAttachment, PlatformSetting

log = logging.getLogger(__name__)

SEND_JOB = "send_mail"  # app/jobs/kinds.py SEND_MAIL: enqueued through its declaration


async def _enqueue_send(redis, mail_id: int, arq_job_id: str, **arq_options) -> None:
    await kinds.SEND_MAIL.enqueue(redis, mail_id, _job_id=arq_job_id, **arq_options)
# Where a mail's secret (a password, a signed link) goes in its stored body; see Mail.secret.
SECRET_MARK = "\u27e6secret\u27e7"
MASKED = "•••••••• (masqué)"
# Test mode redirects the mails of the online registration, and only those: other people's
# credentials never go to the testers. A registration mail carrying a secret (a password, a signed
# link) still goes to its own recipient, the only one who may have it; the testers get a copy with
# the secret masked, which says so (``_tester_copy``).
REGISTRATION_CATEGORY = "registration"
TEST_MASK_NOTE = ("Ce courriel contient un mot de passe ou un lien personnel : il a été envoyé à son destinataire, "
                  "seul à pouvoir le recevoir, et il est masqué dans cette copie.")


def is_registration(category: str) -> bool:
    return category == REGISTRATION_CATEGORY or category.startswith(REGISTRATION_CATEGORY + "-")


def masked(body: str) -> str:
    """The body as the back office may show it."""
    return body.replace(SECRET_MARK, MASKED)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


# Read on many pages (the operator's name on every page of the wizard): its SQL built once.
_setting = db.reused(lambda key: PlatformSetting.select(PlatformSetting.value).where(PlatformSetting.key == key).first())


async def get_setting(key: str, default: str = "") -> str:
    row = await _setting(key)
    return row["value"] if row else default


async def set_setting(key: str, value: str) -> None:
    """Write one platform setting; a changed value is recorded in the audit trail (its key, not its value)."""
    row = await PlatformSetting.select(PlatformSetting.value).where(PlatformSetting.key == key).first()
    if row is None:
        await PlatformSetting.insert(PlatformSetting(key=key, value=value))
    elif row["value"] != value:
        await PlatformSetting.update({PlatformSetting.value: value}).where(PlatformSetting.key == key)
    else:
        return
    await audit.record("settings.changed", "setting", None, key)


async def test_mode_enabled() -> bool:
    return (await get_setting("test_mode", "0")) == "1"


async def tester_addresses() -> list[str]:
    rows = await RoleAssignment.select(RoleAssignment.user.email.as_alias("email")).where(
        RoleAssignment.role == REGISTRATION_TESTER
    )
    return sorted({r["email"] for r in rows if r["email"]})


def _clean(addresses) -> list[str]:
    if isinstance(addresses, str):
        addresses = [addresses]
    return [a.strip() for a in addresses if a and a.strip()]


# A mail written but not to be sent before a person has reviewed where it goes (a registration's
# BI to an organisation a requester typed): neither the jobs nor the sweep touch it until
# ``release_held``; ``drop_held`` closes it unsent.
HELD = "held"
DROPPED = "cancelled"


async def _mail_rows(messages, category: str, held: bool = False) -> list[dict]:
    """The values of the mail rows for (to, subject, body_text[, body_html[, secret]]) tuples, test
    mode applied once: plain dicts by column name, no ORM object (an import's 10,000 credentials
    mails were two seconds of building Mail objects for a bulk insert)."""
    is_test = is_registration(category) and await test_mode_enabled()
    testers = await tester_addresses() if is_test else []
    rows = []
    for message in messages:
        to, subject, body_text = message[0], message[1], message[2]
        # A subject is one line: a title or a name typed with a line break (a forged form) would make
        # every try of the mail fail (Python refuses a header with a line feed, so no injection).
        subject = " ".join(str(subject).split())
        body_html = message[3] if len(message) > 3 else ""
        secret = message[4] if len(message) > 4 else ""
        if secret and SECRET_MARK not in body_text:
            raise ValueError("a mail's secret needs SECRET_MARK in its body")
        intended = _clean(to)
        # A fictitious address (person without e-mail, SPEC A2) is never mailed.
        recipients = [a for a in intended if ".fictif@" not in a]
        status, error = "queued", ""
        if is_test and not secret:
            recipients = testers
            subject = f"[TEST] {subject}"
            body_text = f"[Mode test — destinataire(s) prévu(s) : {', '.join(intended)}]\n\n{body_text}"
            if not recipients:
                status, error = "failed", "Mode test actif mais aucun testeur de l'inscription locale n'est défini."
        if not recipients and status == "queued":
            status, error = "failed", "Adresse fictive : message non envoyé." if intended else "Aucun destinataire."
        if held and status == "queued":
            status = HELD
        rows.append({
            "recipients": ", ".join(recipients), "intended_recipients": ", ".join(intended), "subject": subject[:300],
            "body_text": body_text, "body_html": body_html, "secret": secret, "status": status, "last_error": error,
            "is_test": is_test and not secret, "category": category,
        })
    return rows


async def queue_mail(
    to,
    subject: str,
    body_text: str,
    body_html: str = "",
    attachments: list[Attachment] | tuple = (),
    category: str = "",
    group_key: str = "",
    secret: str = "",
    held: bool = False,
) -> int:
    """Store a mail to send. Call it inside the transaction of the change that causes it;
    ``group_key`` ties it to what it is about (e.g. a registration request). A password or a signed
    link goes in ``secret``, at the place of SECRET_MARK in the body: it is erased once sent.
    ``held``: kept unsent until ``release_held`` (do not dispatch it)."""
    (row,) = await _mail_rows([(to, subject, body_text, body_html, secret)], category, held)
    mail = Mail(**row, group_key=group_key)
    await mail.save()
    if secret and is_registration(category) and await test_mode_enabled():
        await _tester_copy(mail)
    if attachments:
        await MailAttachment.insert(
            *[
                MailAttachment(mail=mail.id, filename=a.filename, content_type=a.content_type, content=a.content)
                for a in attachments
            ]
        )
    return mail.id


async def _tester_copy(mail: Mail) -> None:
    """Test mode, a registration mail with a secret: it left for its own recipient; the testers get
    a copy without the secret, handed to the queue once the caller's transaction commits."""
    intended = _clean(mail.intended_recipients.split(","))
    testers = [a for a in await tester_addresses() if a not in intended]
    if not testers:
        return
    note = f"[Mode test — destinataire(s) : {', '.join(intended)}. {TEST_MASK_NOTE}]"
    copy = Mail(recipients=", ".join(testers), intended_recipients=mail.intended_recipients,
                subject=f"[TEST] {mail.subject}"[:300], body_text=f"{note}\n\n{masked(mail.body_text)}",
                body_html=masked(mail.body_html), secret="", status="queued", is_test=True, category=mail.category,
                group_key=mail.group_key)
    await copy.save()

    async def hand_over() -> None:
        redis = await queue.connect()
        try:
            await dispatch(redis, [copy.id])
        finally:
            await redis.aclose()

    # Outside a transaction of ours: now; inside one not ours, the sweep sends it within a minute.
    if not db.after_commit(hand_over) and not db.in_transaction():
        await hand_over()


# The columns of the bulk inserts, in the order of their tuples.
BULK_COLUMNS = [Mail.recipients, Mail.intended_recipients, Mail.subject, Mail.body_text, Mail.body_html, Mail.secret,
                Mail.status, Mail.tries, Mail.last_error, Mail.is_test, Mail.category, Mail.group_key, Mail.created_at]


async def queue_mails(messages: list[tuple], category: str, group_key: str) -> int:
    """Many mails at once (bulk insert), e.g. an import's credentials, all under ``group_key`` for
    the ``send_mail_group`` job. Returns how many are queued (fictitious addresses are not)."""
    rows = await _mail_rows(messages, category)
    t = now()
    await bulk_insert(Mail, BULK_COLUMNS, [
        (m["recipients"], m["intended_recipients"], m["subject"], m["body_text"], m["body_html"], m["secret"],
         m["status"], 0, m["last_error"], m["is_test"], category, group_key, t)
        for m in rows
    ])
    return sum(1 for m in rows if m["status"] == "queued")


async def queue_documents(messages: list[tuple], category: str) -> list[int]:
    """Many mails with attachments at once: (group_key, to, subject, body_text, [Attachment…]) each,
    every group_key distinct. Three statements whatever the number (bulk insert of the mails, their
    ids read back by group key, bulk insert of the attachments); call it in the transaction of what
    the mails are about. Returns the ids of the mails to dispatch (fictitious addresses are not)."""
    if not messages:
        return []
    rows = await _mail_rows([(m[1], m[2], m[3]) for m in messages], category)
    t = now()
    await bulk_insert(Mail, BULK_COLUMNS, [
        (m["recipients"], m["intended_recipients"], m["subject"], m["body_text"], "", "", m["status"], 0,
         m["last_error"], m["is_test"], category, message[0], t)
        for m, message in zip(rows, messages)
    ])
    keys = [m[0] for m in messages]
    ids = {r["group_key"]: (r["id"], r["status"]) for r in await Mail.select(Mail.id, Mail.group_key, Mail.status).where(
        Mail.group_key.is_in(keys) & (Mail.category == category))}
    await bulk_insert(MailAttachment, [MailAttachment.mail, MailAttachment.filename, MailAttachment.content_type,
                                       MailAttachment.content], [
        (ids[m[0]][0], a.filename, a.content_type, a.content) for m in messages for a in m[4]])
    return sorted(mail_id for mail_id, status in ids.values() if status == "queued")


async def group_mail_ids(group_key: str) -> list[int]:
    rows = await Mail.select(Mail.id).where((Mail.group_key == group_key) & (Mail.status == "queued")).order_by(Mail.id)
    return [r["id"] for r in rows]


async def release_held(group_keys: list[str], recipients: list[str]) -> list[dict]:
    """The held mails of these groups may leave, to ``recipients`` (the reviewed address; without
    one they are dropped). In test mode they still go to the testers. Returns the mails (id, group_key,
    recipients, status) for the caller to dispatch the queued ones once committed."""
    if not group_keys:
        return []
    rows = await Mail.select(Mail.id, Mail.group_key, Mail.is_test, Mail.recipients).where(
        (Mail.status == HELD) & Mail.group_key.is_in(group_keys))
    intended = _clean(recipients)
    real = [a for a in intended if ".fictif@" not in a]
    released = []
    for row in rows:
        to = row["recipients"] if row["is_test"] else ", ".join(real)
        values = {Mail.status: "queued" if to else DROPPED, Mail.recipients: to}
        if not row["is_test"]:
            values[Mail.intended_recipients] = ", ".join(intended)
        if not to:
            values[Mail.last_error] = "Aucune adresse vérifiée : message non envoyé."
        await Mail.update(values).where((Mail.id == row["id"]) & (Mail.status == HELD))
        released.append({"id": row["id"], "group_key": row["group_key"], "recipients": to,
                         "status": values[Mail.status]})
    return released


async def drop_held(group_keys: list[str], reason: str) -> int:
    """Held mails of these groups will never leave (what they were about is closed)."""
    if not group_keys:
        return 0
    rows = await Mail.update({Mail.status: DROPPED, Mail.last_error: reason}).where(
        (Mail.status == HELD) & Mail.group_key.is_in(group_keys)).returning(Mail.id)
    return len(rows)


async def delivered_recipients(group_key: str, category: str) -> list[str]:
    """Who has been (or is being) sent the mails of this group and category: the addresses a
    follow-up about the same thing goes to."""
    rows = await Mail.select(Mail.intended_recipients).where(
        (Mail.group_key == group_key) & (Mail.category == category)
        & Mail.status.is_in(["queued", "sending", "retry", "sent"]))
    return sorted({a for r in rows for a in _clean(r["intended_recipients"].split(","))})


def job_id(mail_id: int, tries: int) -> str:
    return f"mail:{mail_id}:{tries}"


async def dispatch(redis, mail_ids: list[int]) -> None:
    """Enqueue the sending of freshly committed mails. If Redis is down the sweep catches up."""
    try:
        for mail_id in mail_ids:
            await _enqueue_send(redis, mail_id, job_id(mail_id, 0))
    except Exception:  # noqa: BLE001 - the row is safe; the cron sweep will enqueue it
        log.warning("could not enqueue mails %s; the outbox sweep will", mail_ids, exc_info=True)


def backoff(tries: int) -> float:
    mail = get_settings().mail
    return min(mail.retry_cap, mail.retry_base * (2 ** max(0, tries - 1)))


async def _claim(mail_id: int) -> dict | None:
    t = now()
    rows = (
        await Mail.update({Mail.status: "sending", Mail.locked_until: t + timedelta(seconds=get_settings().mail.claim_seconds)})
        .where(
            (Mail.id == mail_id)
            & Mail.status.is_in(["queued", "retry"])
            & ((Mail.next_attempt_at.is_null()) | (Mail.next_attempt_at <= t))
        )
        .returning(*Mail.all_columns())
    )
    return rows[0] if rows else None


def message_id_domain() -> str:
    """The domain of the Message-IDs: MAIL_MESSAGE_ID_DOMAIN, else the sender's (MAIL_FROM)."""
    mail = get_settings().mail
    domain = mail.message_id_domain or parseaddr(mail.sender)[1].rpartition("@")[2]
    return domain.strip().strip(">").lower() or "localhost"


async def build_message(mail: dict) -> EmailMessage:
    message = EmailMessage()
    message["From"] = get_settings().mail.sender
    message["To"] = mail["recipients"]
    message["Subject"] = mail["subject"]
    # RFC 5322: Date is mandatory (the time of this try); the Message-ID's domain is the sender's.
    message["Date"] = format_datetime(now())
    message["Message-ID"] = make_msgid(idstring=f"tremplin-{mail['id']}", domain=message_id_domain())
    message["X-Tremplin-Mail-Id"] = str(mail["id"])
    secret = mail.get("secret") or ""
    message.set_content(mail["body_text"].replace(SECRET_MARK, secret))
    if mail["body_html"]:
        message.add_alternative(mail["body_html"].replace(SECRET_MARK, secret), subtype="html")
    attachments = await MailAttachment.select().where(MailAttachment.mail == mail["id"]).order_by(MailAttachment.id)
    for a in attachments:
        # "text/calendar; method=REQUEST": the type, then its parameters.
        mime, *parameters = [p.strip() for p in a["content_type"].split(";")]
        maintype, _, subtype = mime.partition("/")
        params = dict(p.partition("=")[::2] for p in parameters if "=" in p)
        message.add_attachment(bytes(a["content"]), maintype=maintype, subtype=subtype or "octet-stream",
                               filename=a["filename"], params=params or None)
    return message


# Headers folded at 78 put a space before the fold next to an encoded word: readers then showed a long
# subject with two spaces (« au  18-12-2026 », issue 20). Up to SMTP's 998 a header stays one line.
SMTP_POLICY = email.policy.SMTP.clone(max_line_length=998)


async def deliver(message: EmailMessage) -> None:
    s = get_settings().mail
    recipients = [address for _, address in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))]
    await aiosmtplib.send(
        message.as_bytes(policy=SMTP_POLICY), sender=parseaddr(message["From"])[1], recipients=recipients,
        hostname=s.host,
        port=s.port,
        username=s.username,
        password=s.password,
        use_tls=s.use_tls,
        start_tls=s.start_tls,
        timeout=s.timeout,
    )


async def send_one(redis, mail_id: int) -> str:
    """Send one mail if it is due; returns what happened (for the job result)."""
    mail = await _claim(mail_id)
    if mail is None:
        return "skipped"
    tries = mail["tries"] + 1
    try:
        await deliver(await build_message(mail))
    except Exception as exc:  # noqa: BLE001 - any SMTP or network failure is retried
        settings = get_settings().mail
        final = tries >= settings.max_tries
        delay = backoff(tries)
        await Mail.update(
            {
                Mail.status: "failed" if final else "retry",
                Mail.tries: tries,
                Mail.last_error: f"{type(exc).__name__}: {exc}"[:2000],
                Mail.next_attempt_at: None if final else now() + timedelta(seconds=delay),
                Mail.locked_until: None,
                Mail.last_attempt_at: now(),
            }
        ).where(Mail.id == mail_id)
        if not final and redis is not None:
            await _enqueue_send(redis, mail_id, job_id(mail_id, tries), _defer_by=delay)
        return "failed" if final else "retry"
    # Once it has left, nobody can read the password or the link again.
    await Mail.update(
        {Mail.status: "sent", Mail.tries: tries, Mail.sent_at: now(), Mail.locked_until: None, Mail.last_error: "",
         Mail.secret: "", Mail.last_attempt_at: now()}
    ).where(Mail.id == mail_id)
    return "sent"


async def sweep(redis) -> int:
    """Enqueue every mail that is due, and release claims of crashed workers. Returns how many."""
    t = now()
    # An expired claim is a worker that died while sending (SIGKILL, out of memory). arq keeps that
    # job « in progress », its id taken, for the longest job timeout (an hour): handed over under the
    # same id it would wait that long. The try cut short counts (the mail may even have left), so
    # the next one has a job id of its own.
    await Mail.update({Mail.status: "retry", Mail.locked_until: None, Mail.tries: Mail.tries + 1}).where(
        (Mail.status == "sending") & (Mail.locked_until < t)
    )
    due = await Mail.select(Mail.id, Mail.tries).where(
        Mail.status.is_in(["queued", "retry"]) & ((Mail.next_attempt_at.is_null()) | (Mail.next_attempt_at <= t))
    )
    for row in due:
        await _enqueue_send(redis, row["id"], job_id(row["id"], row["tries"]))
    return len(due)


async def retry_now(redis, mail_id: int) -> bool:
    """Ops/back office: send a failed or waiting mail again at once (never a sent one: its secret
    is gone, and it was delivered)."""
    rows = (
        await Mail.update({Mail.status: "retry", Mail.next_attempt_at: None})
        .where((Mail.id == mail_id) & Mail.status.is_in(["failed", "retry", "queued"]))
        .returning(Mail.tries)
    )
    if not rows:
        return False
    await _enqueue_send(redis, mail_id, f"{job_id(mail_id, rows[0]['tries'])}:manual:{int(now().timestamp())}")
    return True
