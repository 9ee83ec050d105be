"""The mail outbox and platform settings."""

from enum import Enum

from piccolo.columns import Boolean, Bytea, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class MailStatus(str, Enum):
    queued = "queued"
    sending = "sending"  # claimed by a job (until locked_until)
    sent = "sent"
    retry = "retry"  # a try failed; another at next_attempt_at
    failed = "failed"  # every try used
    held = "held"  # waits for a person to review where it goes (app/services/outbox.py HELD)
    cancelled = "cancelled"  # a held mail closed unsent (DROPPED)


class Mail(Table):
    # Comma-separated addresses actually used for delivery.
    recipients = Text()
    # Who it was meant for (differs from recipients when test mode redirected it).
    intended_recipients = Text(default="")
    subject = Varchar(length=300)
    # The body as stored: a password or a signed link is never in it, only SECRET_MARK, replaced by
    # ``secret`` at sending time; ``secret`` is erased once the mail has left.
    body_text = Text()
    body_html = Text(default="")
    secret = Text(default="")
    status = Varchar(length=16, default="queued", index=True, choices=MailStatus)
    tries = Integer(default=0)
    last_error = Text(default="")
    is_test = Boolean(default=False)
    category = Varchar(length=64, default="")
    # Mails written together (an import's credentials) are sent by one job that finds them here.
    group_key = Varchar(length=64, default="", index=True)
    next_attempt_at = Timestamptz(null=True, default=None)
    locked_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    sent_at = Timestamptz(null=True, default=None)
    # When the last try to send it ended (sent or failed): /healthz, /ops and the worker's start-up
    # report an outbox whose every try of the last hour failed (app/services/mail_health.py).
    last_attempt_at = Timestamptz(null=True, default=None, index=True)


class MailAttachment(Table):
    mail = ForeignKey(references=Mail, on_delete=OnDelete.cascade, index=True)
    filename = Varchar(length=255)
    content_type = Varchar(length=100)
    content = Bytea()


class PlatformSetting(Table):
    key = Varchar(length=64, unique=True)
    value = Text(default="")
