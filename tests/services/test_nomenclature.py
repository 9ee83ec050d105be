"""SPEC A1: usernames `<code>.<initial>.<nom>`, test accounts `<code>.<nom>.test`."""

import pytest

from app.services.accounts import (
    fictitious_email,
    name_slug,
    normalise_matricule,
    suggest_test_username,
    suggest_username,
)


@pytest.mark.smoke
@pytest.mark.parametrize(
    "code,first,last,expected",
    [
        ("DAM023", "Laurent", "Ollivet", "dam023.l.ollivet"),  # the seed's examples
        ("ALP002", "Valentin", "Blondel", "alp002.v.blondel"),
        # Accents folded, apostrophe and spaces dropped, the hyphen of a compound name kept.
        ("ALP002", "Élodie", "D'Artagnan-Lé", "alp002.e.dartagnan-le"),
        ("ALP001", "Jean-Pierre", "Le Goff", "alp001.j.legoff"),
        ("ALP001", "Œdipe", "Cœur", "alp001.o.coeur"),
        ("ALP001", "  zoé ", "  DE LA FONTAINE  ", "alp001.z.delafontaine"),
        ("ALP001", "Ana", "Núñez—García", "alp001.a.nunezgarcia"),
        ("ALP001", "Anne", "Lambert--Durand", "alp001.a.lambert-durand"),
        ("ALP001", "", "Martin", "alp001.x.martin"),
    ],
)
def test_agent_usernames(code, first, last, expected):
    assert suggest_username(code, first, last) == expected


@pytest.mark.smoke
def test_test_account_usernames():
    assert suggest_test_username("DAM016", "EPHAD Vert-Bois") == "dam016.ephadvertbois.test"


def test_name_slug_keeps_only_safe_characters():
    assert name_slug("O'Brien-Smith Jr.") == "obrien-smithjr"
    assert name_slug("-Dupont-") == "dupont"


def test_matricule_is_prefixed_once():
    assert normalise_matricule("812") == "000812"
    assert normalise_matricule(" 81 2 ") == "000812"
    assert normalise_matricule("000812") == "000812"
    assert normalise_matricule("") == ""


def test_fictitious_address():
    assert fictitious_email("alp002.v.blondel") == "alp002.v.blondel.fictif@tremplin.local"


async def test_free_username_proposes_the_next_suffix(demo):
    from app.services.accounts import free_username
    from app.tables.accounts import User

    taken = (await User.select(User.username).where(User.username.like("alp001.%")).where(
        User.username != "alp001.get").first())["username"]
    assert await free_username("alp001.z.nobody") == "alp001.z.nobody"
    assert await free_username(taken) == f"{taken}2"
    assert await free_username(taken, taken={f"{taken}2"}) == f"{taken}3"
