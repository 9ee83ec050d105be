"""What is typed in a list's search is text, never a pattern: « 50% » and « a_b » find only
themselves (app/services/text.py ``contains`` and ``starts_with``: LIKE with the wildcards escaped
and an ESCAPE clause), on PostgreSQL and SQLite alike."""

from datetime import date

import pytest

from app.services.text import contains, search_text, user_text_fields
from app.tables.accounts import User
from app.tables.catalogue import TrainingSession
from app.tables.org import Establishment
from tests.helpers import login, text

pytestmark = pytest.mark.smoke


async def _alp001() -> int:
    return (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]


async def _users(*people: tuple[str, str, str]) -> None:
    alp001 = await _alp001()
    for username, last, email in people:
        await User.insert(User(username=username, password_hash="x", first_name="Marie", last_name=last, email=email,
                               establishment=alp001, **user_text_fields("Marie", last, username, email)))


async def _listed(client, query: str) -> str:
    return text((await client.get(f"/utilisateurs?per_page=100&{query}")).text)


async def test_an_underscore_or_a_percent_sign_in_a_users_search_is_text(client):
    await _users(("lit.under", "Lebrun", "marie_lebrun@example.org"),
                 ("lit.dot", "Lebrun", "marie.lebrun@example.org"),
                 ("lit.a", "A_b", "ab1@example.org"), ("lit.b", "Axb", "ab2@example.org"),
                 ("lit.pct", "Cent", "cent%pour@example.org"), ("lit.nopct", "Cent", "centpour@example.org"))
    await login(client, "alp001.get")
    found = await _listed(client, "email=marie_lebrun")
    assert "lit.under" in found and "lit.dot" not in found
    found = await _listed(client, "email=t%pour")  # « % » is no wildcard either
    assert "lit.pct" in found and "lit.nopct" not in found
    # One or two letters: the name begins with them (starts_with), the « _ » as typed.
    found = await _listed(client, "last_name=a_")
    assert "lit.a" in found and "lit.b" not in found
    found = await _listed(client, "last_name=a_b")
    assert "lit.a" in found and "lit.b" not in found
    # A backslash (the escape character) is text too.
    assert "lit." not in await _listed(client, "email=marie\\_lebrun")
    # Case ignored (ILIKE on PostgreSQL: the registration lists' searches), wildcards still text.
    rows = await User.select(User.username).where(contains(User.email, "MARIE_LEBRUN", ignore_case=True))
    assert [r["username"] for r in rows] == ["lit.under"]


async def test_a_percent_sign_in_a_sessions_search_is_text(client):
    alp001 = await _alp001()
    for code, name in (("25LIT1S1", "Tarif réduit 50% à distance"), ("25LIT2S1", "Les 50 ans du service")):
        await TrainingSession.insert(TrainingSession(
            establishment=alp001, full_name=name, short_name=name[:20], start_date=date(2025, 6, 2),
            end_date=date(2025, 6, 30), code=code, search_text=search_text(code, name, name[:20])))
    await login(client, "alp001.get")
    page = text((await client.get(f"/etablissements/{alp001}/sessions/?q=50%25&per_page=100")).text)
    assert "Tarif réduit 50% à distance" in page and "Les 50 ans du service" not in page
