"""Erasure requests (issue 25, RGPD article 17): a person asks from « Mes données » that their account
be erased; an administrator handles the request from a queue within a month, the legal hold applied
(the training evidence the law requires to keep restricts the erasure to a pseudonymisation), and the
answer is mailed. The row outlives the account: ``person_label`` and ``email`` say whose it was."""

from enum import Enum

from piccolo.columns import BigSerial, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User


class ErasureStatus(str, Enum):
    pending = "pending"
    erased = "erased"                  # the account deleted (no training record)
    pseudonymised = "pseudonymised"    # restricted: identity removed, evidence kept under legal hold
    refused = "refused"


class ErasureRequest(Table):
    id = BigSerial(primary_key=True)
    person = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    person_label = Varchar(length=300, default="")
    email = Varchar(length=254, default="")
    message = Text(default="")
    requested_at = Timestamptz(default=TimestamptzNow(), index=True)
    status = Varchar(length=16, default=ErasureStatus.pending, choices=ErasureStatus, index=True)
    answer = Text(default="")
    handled_at = Timestamptz(null=True, default=None)
    handled_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
