"""Logging in, the rate limit on failures, loading the current user, changing a password."""

from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from app.dates import now
from app.services.errors import DomainError, ValidationFailed
from app.services.passwords import dummy_hash, hash_password, needs_rehash, policy_error, verify_password
from app.services.ratelimit import FailureLimit
from app.services.roles import CurrentUser, Grant
from app.settings import get_settings
from app.tables.accounts import RoleAssignment, User


class LoginRefused(DomainError):
    status_code = 400


class TooManyAttempts(LoginRefused):
    status_code = 429


GENERIC_FAILURE = "Nom d'utilisateur ou mot de passe incorrect."
# An attempt that waited too long for the checks ahead of it (many at once, a loaded server): no
# failure to speak of, and no new password to ask for.
BUSY = "Beaucoup de connexions sont en cours de vérification : réessayez dans un instant."


@dataclass(frozen=True)
class Login:
    user_id: int
    # Stored in the session: a password change bumps the user's version, and every session opened
    # with an older one is worth nothing (see load_current_user).
    credentials_version: int


def _limits() -> tuple[FailureLimit, FailureLimit]:
    """Failed logins per account and per client address, in one fixed window."""
    sec = get_settings().security
    return (
        FailureLimit("login-account", sec.login_max_failures_per_account, sec.login_window_seconds),
        FailureLimit("login-ip", sec.login_max_failures_per_ip, sec.login_window_seconds),
    )


def _wait_text(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


async def authenticate(redis, username: str, password: str, ip: str) -> Login:
    """Who logs in when the credentials are right; LoginRefused with a French message otherwise.

    Only failures count, per address and per account (FailureLimit, atomically in Redis). An attempt
    is held back while the checks in flight could still use up the limit, and refused once the
    window holds it: however many guesses arrive at once, no more than the limit get a password
    check, and ten right passwords at once all log in (a check in flight is no failure)."""
    username = (username or "").strip().lower()
    if not username or not password:
        raise LoginRefused("Saisissez votre nom d'utilisateur et votre mot de passe.")
    per_account, per_ip = _limits()
    account_key = username[:150]
    token = secrets.token_hex(8)
    if not await per_ip.begin(redis, ip, token):
        if await per_ip.busy(redis, ip):
            raise TooManyAttempts(BUSY)
        wait = _wait_text(await per_ip.retry_after(redis, ip))
        raise TooManyAttempts(f"Trop de tentatives de connexion échouées depuis ce poste. Réessayez dans {wait}.")
    failed = False  # an attempt refused, or cut short by an error, checked no password
    try:
        if not await per_account.begin(redis, account_key, token):
            # No password was checked: this attempt guessed nothing from this address.
            if await per_account.busy(redis, account_key):
                raise TooManyAttempts(BUSY)
            wait = _wait_text(await per_account.retry_after(redis, account_key))
            raise TooManyAttempts(
                f"Trop de tentatives de connexion échouées pour ce compte. "
                f"Réessayez dans {wait} ou demandez un nouveau mot de passe à votre gestionnaire."
            )
        try:
            row = (
                await User.select(User.id, User.password_hash, User.is_suspended, User.credentials_version)
                .where(User.username == username)
                .first()
            )
            # argon2 is CPU-bound: keep the event loop free for other requests.
            ok = await asyncio.to_thread(verify_password, row["password_hash"] if row else dummy_hash(), password)
            failed = not row or not ok
        finally:
            await per_account.end(redis, account_key, token, failed)
    finally:
        await per_ip.end(redis, ip, token, failed)
    if failed:
        raise LoginRefused(GENERIC_FAILURE)  # counted on both
    await per_account.reset(redis, account_key)
    if row["is_suspended"]:
        raise LoginRefused("Votre compte est suspendu. Contactez le gestionnaire de votre établissement.")
    values = {User.last_access: now()}
    if needs_rehash(row["password_hash"]):
        # The same password with today's cost: not a new password, sessions stay.
        values[User.password_hash] = await asyncio.to_thread(hash_password, password)
    await User.update(values).where(User.id == row["id"])
    return Login(row["id"], row["credentials_version"])


def new_password_values(password_hash: str, force_change: bool) -> dict:
    """The columns every new password writes (the user's own change, a manager's, an import's): the
    hash, and a new credentials version, which ends every session opened with the old password."""
    return {
        User.password_hash: password_hash,
        User.force_password_change: force_change,
        User.credentials_version: User.credentials_version + 1,
    }


async def credentials_version(user_id: int) -> int:
    row = await User.select(User.credentials_version).where(User.id == user_id).first()
    return row["credentials_version"] if row else -1


async def load_current_user(user_id: int, credentials_version: int | None = None) -> CurrentUser | None:
    """The user with their grants; None when unknown or suspended (their session ends at once), or
    when ``credentials_version`` (a session's) is older than the user's: the password changed since."""
    row = (
        await User.select(
            User.id,
            User.username,
            User.first_name,
            User.last_name,
            User.email,
            User.establishment,
            User.force_password_change,
            User.is_suspended,
            User.last_access,
            User.credentials_version,
        )
        .where(User.id == user_id)
        .first()
    )
    if row is None or row["is_suspended"]:
        return None
    if credentials_version is not None and credentials_version != row["credentials_version"]:
        return None
    grants = await RoleAssignment.select(
        RoleAssignment.role, RoleAssignment.delegation, RoleAssignment.establishment
    ).where(RoleAssignment.user == user_id)
    # "Dernier accès" without a write on every request.
    if row["last_access"] is None or now() - row["last_access"] > timedelta(minutes=5):
        await User.update({User.last_access: now()}).where(User.id == user_id)
    return CurrentUser(
        id=row["id"],
        username=row["username"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        establishment_id=row["establishment"],
        force_password_change=row["force_password_change"],
        grants=tuple(
            Grant(role=g["role"], delegation_id=g["delegation"], establishment_id=g["establishment"])
            for g in grants
        ),
    )


async def change_password(user_id: int, current: str, new: str, confirm: str) -> int:
    """The user's own change; returns the new credentials version (the caller's session keeps it,
    the user's other sessions end)."""
    errors: dict[str, str] = {}
    row = await User.select(User.password_hash, User.username).where(User.id == user_id).first()
    if row is None:
        raise ValidationFailed({"current": "Compte introuvable."})
    if not await asyncio.to_thread(verify_password, row["password_hash"], current or ""):
        errors["current"] = "Le mot de passe actuel est incorrect."
    problem = policy_error(new or "")
    if problem:
        errors["new"] = problem
    elif new == current:
        errors["new"] = "Le nouveau mot de passe doit être différent de l'actuel."
    elif new.lower() == row["username"].lower():
        errors["new"] = "Le mot de passe ne peut pas être votre nom d'utilisateur."
    if not errors and new != confirm:
        errors["confirm"] = "Les deux mots de passe ne correspondent pas."
    if errors:
        raise ValidationFailed(errors)
    new_hash = await asyncio.to_thread(hash_password, new)
    updated = await User.update(new_password_values(new_hash, force_change=False)).where(
        User.id == user_id
    ).returning(User.credentials_version)
    return updated[0]["credentials_version"]
