"""Password hashing (argon2id) and the password policy of SPEC A2."""

from __future__ import annotations

import secrets
import string
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.settings import get_settings

POLICY_TEXT = (
    "Le mot de passe doit comporter au moins 8 caractère(s), au moins 1 minuscule(s), "
    "au moins 1 majuscule(s), au moins 1 caractère(s) spécial(aux) (ni lettre, ni chiffre, ni espace)"
)


class Password(str):
    """The type of a password field in a form model: kept exactly as typed, never stripped."""


SPECIAL_MISSING = "au moins 1 caractère spécial (ni lettre, ni chiffre, ni espace)"


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    sec = get_settings().security
    return PasswordHasher(
        time_cost=sec.argon2_time_cost,
        memory_cost=sec.argon2_memory_cost,
        parallelism=sec.argon2_parallelism,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# A valid hash of nothing anyone can type: verifying against it costs the same time as a real
# account, so a login attempt on an unknown username does not answer faster.
@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(32))


def password_problems(password: str) -> list[str]:
    """What the password misses from the policy, in French; empty when it complies."""
    problems = []
    if len(password) < 8:
        problems.append("au moins 8 caractères")
    if not any(c.islower() for c in password):
        problems.append("au moins 1 minuscule")
    if not any(c.isupper() for c in password):
        problems.append("au moins 1 majuscule")
    # A space is not a "special character": "Motdepasse 1" has none.
    if not any(not c.isalnum() and not c.isspace() for c in password):
        problems.append(SPECIAL_MISSING)
    return problems


def policy_error(password: str) -> str | None:
    problems = password_problems(password)
    if not problems:
        return None
    return "Le mot de passe doit comporter " + ", ".join(problems) + "."


class _Draws:
    """Uniform random draws from the operating system's CSPRNG (``secrets``), read 64 bytes at a time:
    ``secrets.choice`` asks the kernel for every character, and an import generates 10,000 passwords
    (half a second of its job). A byte is kept only below the largest multiple of ``n`` (rejection),
    so every index stays exactly equally likely."""

    def __init__(self):
        self.buffer, self.at = b"", 0

    def below(self, n: int) -> int:
        """An integer in [0, n), n at most 256."""
        limit = 256 - 256 % n
        while True:
            if self.at >= len(self.buffer):
                self.buffer, self.at = secrets.token_bytes(64), 0
            byte = self.buffer[self.at]
            self.at += 1
            if byte < limit:
                return byte % n

    def choice(self, chars: str) -> str:
        return chars[self.below(len(chars))]

    def shuffle(self, items: list) -> None:
        """Fisher-Yates, as ``random.shuffle``."""
        for i in reversed(range(1, len(items))):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def generate_password(length: int = 12) -> str:
    """A random password that always satisfies the policy."""
    alphabet = string.ascii_letters + string.digits
    symbols = "!#$%&*+-=?@_"
    draws = _Draws()
    while True:
        chars = [draws.choice(alphabet) for _ in range(length - 2)]
        chars += [draws.choice(symbols), draws.choice(string.digits)]
        draws.shuffle(chars)
        candidate = "".join(chars)
        if not password_problems(candidate):
            return candidate


# -- cheap hashes for bulk-created temporary passwords ------------------------------------------
@lru_cache(maxsize=1)
def _temporary_hasher() -> PasswordHasher:
    # argon2id with a small cost: a bulk import of 10,000 accounts would otherwise spend half an
    # hour hashing. Such a password is temporary (the change is forced at first login, where the
    # new one gets the full cost) and any login re-hashes it with the full cost (needs_rehash).
    return PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)


def hash_temporary_password(password: str) -> str:
    return _temporary_hasher().hash(password)


@lru_cache(maxsize=1)
def _generated_hasher() -> PasswordHasher:
    # A password we generate (generate_password: 12 random characters, some 66 bits) cannot be
    # guessed, whatever the hash's cost: argon2id's smallest cost is enough, and 10,000 of them in an
    # import take a second instead of five. A password a person chose (the import file's) keeps the
    # temporary cost above; both are re-hashed with the full cost at login (needs_rehash).
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def hash_generated_password(password: str) -> str:
    return _generated_hasher().hash(password)
