"""Logging in, the rate limit on failures, loading the current user, changing a password."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.dates import now
from app.services.errors import DomainError, ValidationFailed
from app.services.passwords import dummy_hash, hash_password, needs_rehash, policy_error, verify_password
from app.services.roles import CurrentUser, Grant
from app.services.text import fold
from app.settings import get_settings
from app.tables.accounts import RoleAssignment, User


class LoginRefused(DomainError):
    status_code = 400


GENERIC_FAILURE = "Nom d'utilisateur ou mot de passe incorrect."


def _keys(username: str, ip: str) -> tuple[str, str]:
    return f"login:fail:account:{fold(username).strip()}", f"login:fail:ip:{ip}"


async def _check_rate_limit(redis, username: str, ip: str) -> None:
    sec = get_settings().security
    account_key, ip_key = _keys(username, ip)
    account_failures, ip_failures = await redis.mget(account_key, ip_key)
    minutes = max(1, sec.login_window_seconds // 60)
    if account_failures and int(account_failures) >= sec.login_max_failures_per_account:
        raise LoginRefused(
            f"Trop de tentatives de connexion échouées pour ce compte. "
            f"Réessayez dans {minutes} minutes ou demandez un nouveau mot de passe à votre gestionnaire."
        )
    if ip_failures and int(ip_failures) >= sec.login_max_failures_per_ip:
        raise LoginRefused(
            f"Trop de tentatives de connexion échouées depuis ce poste. Réessayez dans {minutes} minutes."
        )


async def _record_failure(redis, username: str, ip: str) -> None:
    window = get_settings().security.login_window_seconds
    pipe = redis.pipeline(transaction=False)
    for key in _keys(username, ip):
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
    await pipe.execute()


async def authenticate(redis, username: str, password: str, ip: str) -> int:
    """The user's id when the credentials are right; LoginRefused with a French message otherwise."""
    username = (username or "").strip().lower()
    if not username or not password:
        raise LoginRefused("Saisissez votre nom d'utilisateur et votre mot de passe.")
    await _check_rate_limit(redis, username, ip)
    row = (
        await User.select(User.id, User.password_hash, User.is_suspended)
        .where(User.username == username)
        .first()
    )
    # argon2 is CPU-bound: keep the event loop free for other requests.
    ok = await asyncio.to_thread(verify_password, row["password_hash"] if row else dummy_hash(), password)
    if not row or not ok:
        await _record_failure(redis, username, ip)
        raise LoginRefused(GENERIC_FAILURE)
    if row["is_suspended"]:
        raise LoginRefused("Votre compte est suspendu. Contactez le gestionnaire de votre établissement.")
    await redis.delete(_keys(username, ip)[0])
    values = {User.last_access: now()}
    if needs_rehash(row["password_hash"]):
        values[User.password_hash] = await asyncio.to_thread(hash_password, password)
    await User.update(values).where(User.id == row["id"])
    return row["id"]


async def load_current_user(user_id: int) -> CurrentUser | None:
    """The user with their grants; None when unknown or suspended (their session ends at once)."""
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
        )
        .where(User.id == user_id)
        .first()
    )
    if row is None or row["is_suspended"]:
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


async def change_password(user_id: int, current: str, new: str, confirm: str) -> None:
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
    await User.update({User.password_hash: new_hash, User.force_password_change: False}).where(
        User.id == user_id
    )
