"""Declared form rules (app/validation.py) read through the real form parser (app/http/forms.py)."""

from dataclasses import dataclass
from typing import Annotated

from app.http.forms import parse_form
from app.services.activities import ActivityForm
from app.services.org import DelegationForm
from app.validation import IntRange, MaxLen, Required, declared_errors, field_errors, max_length


@dataclass
class Sample:
    name: Annotated[str, Required("Le nom est obligatoire."), MaxLen(5, "Le nom")] = ""
    count: Annotated[int | None, IntRange(1, 9, "Un entier de 1 à 9.")] = None
    free: str = ""


def test_the_first_broken_rule_of_each_field_speaks_in_french():
    assert declared_errors(parse_form(Sample, {"name": " ", "count": ""})) == {"name": "Le nom est obligatoire."}
    assert declared_errors(parse_form(Sample, {"name": "abcdef", "count": "12"})) == {
        "name": "Le nom ne peut pas dépasser 5 caractères.", "count": "Un entier de 1 à 9."}
    assert declared_errors(parse_form(Sample, {"name": "abc", "count": "3", "free": "x" * 9999})) == {}


def test_a_typed_number_that_is_not_one_breaks_its_range_rule_an_empty_one_does_not():
    assert declared_errors(parse_form(Sample, {"name": "a", "count": "trois"})) == {"count": "Un entier de 1 à 9."}
    assert declared_errors(parse_form(Sample, {"name": "a", "count": "9" * 40})) == {"count": "Un entier de 1 à 9."}
    assert declared_errors(parse_form(Sample, {"name": "a"})) == {}


def test_limits_are_readable_by_other_paths_and_long_limits_are_written_the_french_way():
    assert max_length(DelegationForm, "name") == 200
    assert field_errors(Sample, {"name": "abcdefg"}, only={"name"}) == {"name": "Le nom ne peut pas dépasser 5 caractères."}
    assert MaxLen(5000, "Le texte").error("") == "Le texte ne peut pas dépasser 5 000 caractères."


def test_declared_rules_of_real_forms():
    assert declared_errors(parse_form(DelegationForm, {"code": "a", "name": "Alpes"})) == {
        "code": "Le code est obligatoire : 2 à 16 lettres majuscules ou chiffres (ex. ALP)."}
    errors = declared_errors(parse_form(ActivityForm, {"kind": "forged", "title": "T", "video_url": "javascript:x",
                                                       "pass_mark": "101"}))
    assert errors == {"kind": "Type d'activité inconnu.",
                      "video_url": "Le lien de la vidéo doit commencer par https:// (ou http://).",
                      "pass_mark": "Le seuil de réussite est un pourcentage entre 0 et 100."}
