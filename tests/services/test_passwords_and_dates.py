from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.dates import datetime_fr
from app.services.passwords import generate_password, hash_password, password_problems, verify_password


@pytest.mark.smoke
@pytest.mark.parametrize(
    "password,missing",
    [
        ("Anfh-25", ["au moins 8 caractères"]),
        ("anfh_2025", ["au moins 1 majuscule"]),
        ("ANFH_2025", ["au moins 1 minuscule"]),
        ("Anfh2025x", ["au moins 1 caractère spécial (ni lettre, ni chiffre, ni espace)"]),
        # A space (or any blank) is not a special character.
        ("Anfh 2025", ["au moins 1 caractère spécial (ni lettre, ni chiffre, ni espace)"]),
        ("Anfh\t2025\u00a0", ["au moins 1 caractère spécial (ni lettre, ni chiffre, ni espace)"]),
        ("Anfh 2025!", []),
        ("Anfh_2025", []),
        ("Demo-2026!", []),
    ],
)
def test_password_policy_names_what_is_missing(password, missing):
    assert password_problems(password) == missing


def test_generated_passwords_follow_the_policy_and_differ():
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(not password_problems(p) for p in passwords)


@pytest.mark.smoke
def test_argon2_hash_verifies_only_the_right_password():
    h = hash_password("Anfh_2025")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "Anfh_2025")
    assert not verify_password(h, "anfh_2025")
    assert not verify_password("not-a-hash", "Anfh_2025")


@pytest.mark.smoke
def test_french_dates_as_in_the_seed():
    moment = datetime(2025, 5, 28, 18, 8, tzinfo=ZoneInfo("Europe/Paris"))
    assert datetime_fr(moment) == "mercredi 28 mai 2025, 18:08"
    # Stored in UTC, shown in Paris time.
    assert datetime_fr(moment.astimezone(ZoneInfo("UTC"))) == "mercredi 28 mai 2025, 18:08"
    assert datetime_fr(None) == "Jamais"
