"""What a manager does to an existing account (SPEC A3): a new password, suspension, deletion — each
recorded in the audit trail. Deleting an account that holds records of training deactivates it instead."""

from __future__ import annotations

import asyncio

from app import db
from app.dates import now
from app.services import audit, outbox
from app.services.accounts import credentials_mail, is_fictitious, user_in_scope
from app.services.auth import new_password_values
from app.services.errors import ValidationFailed
from app.services.passwords import generate_password, hash_password
from app.services.roles import CurrentUser
from app.tables.accounts import User
from app.tables.evidence import AttendanceRecord, SessionTrainer, SlotClosure
from app.tables.learning import DiscussionMessage, Enrolment


async def regenerate_password(user: CurrentUser, user_id: int, redis=None) -> tuple[str, bool]:
    """A new random password, change forced at next login; mailed when the address is real.
    Returns (password, mailed): the manager is shown the password when it could not be mailed."""
    target = await user_in_scope(user, user_id)
    password = generate_password()
    password_hash = await asyncio.to_thread(hash_password, password)
    mailed = not is_fictitious(target["email"])
    mail_ids = []
    async with db.transaction():
        await User.update(new_password_values(password_hash, force_change=True)).where(User.id == user_id)
        await audit.record("account.password_reset", "user", user_id, target["username"], {"mailed": mailed})
        if mailed:
            subject, body = credentials_mail(target["first_name"], target["username"], new_account=False)
            mail_ids.append(await outbox.queue_mail([target["email"]], subject, body, category="credentials",
                                                    secret=password))
    if redis is not None and mail_ids:
        await outbox.dispatch(redis, mail_ids)
    return password, mailed


async def set_suspended(user: CurrentUser, user_id: int, suspended: bool) -> dict:
    target = await user_in_scope(user, user_id)
    if target["id"] == user.id:
        raise ValidationFailed({"user": "Vous ne pouvez pas suspendre votre propre compte."},
                               "Vous ne pouvez pas suspendre votre propre compte.")
    async with db.transaction():
        await User.update({User.is_suspended: suspended}).where(User.id == user_id)
        await audit.record("account.suspended" if suspended else "account.reactivated", "user", user_id,
                           target["username"])
    return target


async def delete_account(user: CurrentUser, user_id: int) -> dict:
    target = await user_in_scope(user, user_id)
    if target["id"] == user.id:
        raise ValidationFailed({"user": "Vous ne pouvez pas supprimer votre propre compte."},
                               "Vous ne pouvez pas supprimer votre propre compte.")
    target["deactivated"] = await has_training_records(user_id)
    async with db.transaction():
        if target["deactivated"]:
            # Records of training are never lost by a click: the account goes, the person stays.
            await User.update({User.deactivated_at: now(), User.is_suspended: True}).where(User.id == user_id)
            await audit.record("account.deactivated", "user", user_id, target["username"])
        else:
            await remove_account(user_id, target["username"])
    return target


async def remove_account(user_id: int, label: str, details: dict | None = None) -> None:
    """The account deleted, and recorded as such (a manager's « Supprimer », an erasure request):
    only for an account without training records (``has_training_records``), in the caller's transaction."""
    await User.delete().where(User.id == user_id)
    await audit.record("account.deleted", "user", user_id, label, details)


async def has_training_records(user_id: int) -> bool:
    """Whether deleting the account would lose records of training: as a learner (enrolments), as a
    trainer (designated for a session, attendance they recorded, slots they closed: their name on the
    signed sheets' evidence would become NULL), or as an author in a session's discussion."""
    for table, column in ((Enrolment, Enrolment.user), (SessionTrainer, SessionTrainer.user),
                          (AttendanceRecord, AttendanceRecord.recorded_by), (SlotClosure, SlotClosure.closed_by),
                          (DiscussionMessage, DiscussionMessage.author)):
        if await table.exists().where(column == user_id):
            return True
    return False
