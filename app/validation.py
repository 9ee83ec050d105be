"""Declared form rules: what a single field must be (present, at most so long, of this pattern, one of
these values, a whole number within bounds), written once on the form dataclass and checked in one
place, into the French messages people read.

    @dataclass
    class DelegationForm:
        code: Annotated[str, Pattern(CODE_RE, "Le code est obligatoire : …")] = ""
        name: Annotated[str, Required("Le nom est obligatoire."), MaxLen(200, "Le nom")] = ""

``declared_errors(form)`` gives ``{field: message}`` for the fields that break a rule, the first
broken rule of each field in the order they are written (as the services' ``if … elif …`` did).
A service starts from it and adds only the rules that need the database or several fields; the CSV
import checks its rows against the same declarations (``field_errors``, ``max_length``).

Numbers: ``app/http/forms.py`` turns a posted number into an int, or None when the text is not a whole
number; it notes the fields typed but unreadable (``unreadable``) so an ``IntRange`` says « doit être
un entier » for "abc" as for "-3", and stays silent for an empty optional field.

This module is below the services and the web layer: it imports nothing of the app.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Any, Iterable

UNREADABLE = "_unreadable_fields"  # set on a form instance by app/http/forms.py parse_form


class Rule:
    message: str

    def broken(self, value: Any, unreadable: bool) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def error(self, value: Any) -> str:
        return self.message


@dataclass(frozen=True)
class Required(Rule):
    """Not empty (after the form's stripping)."""

    message: str

    def broken(self, value: Any, unreadable: bool) -> bool:
        # A typed but unreadable number is not « empty »: its own rule (IntRange) says what is wrong.
        return not unreadable and (value is None or value == "" or value == [])


@dataclass(frozen=True)
class MaxLen(Rule):
    """At most ``limit`` characters: refused, never cut. ``label`` starts the sentence
    (« Le nom ne peut pas dépasser 200 caractères. »), or ``message`` replaces it."""

    limit: int
    label: str = "Ce champ"
    message: str = ""

    def broken(self, value: Any, unreadable: bool) -> bool:
        return isinstance(value, str) and len(value) > self.limit

    def error(self, value: Any) -> str:
        limit = f"{self.limit:,}".replace(",", " ")  # 5 000: the separator the messages were written with
        return self.message or f"{self.label} ne peut pas dépasser {limit} caractères."


@dataclass(frozen=True)
class Pattern(Rule):
    """The whole value matches ``regex``. An empty value passes unless ``required``."""

    regex: str | re.Pattern
    message: str
    required: bool = False

    def broken(self, value: Any, unreadable: bool) -> bool:
        if value in ("", None):
            return self.required
        return re.fullmatch(self.regex, str(value)) is None


@dataclass(frozen=True)
class OneOf(Rule):
    """One of ``values`` (the stored English values of a choice). An empty value passes unless
    ``required``."""

    values: tuple
    message: str
    required: bool = True

    def broken(self, value: Any, unreadable: bool) -> bool:
        if value in ("", None):
            return self.required
        return value not in self.values


@dataclass(frozen=True)
class IntRange(Rule):
    """A whole number within [low, high]: a typed text that is not one breaks it too. Empty passes
    (the field is optional; add ``Required`` when it is not)."""

    low: int
    high: int
    message: str

    def broken(self, value: Any, unreadable: bool) -> bool:
        if unreadable:
            return True
        return value is not None and not self.low <= value <= self.high


def rules_of(model: type) -> dict[str, tuple[Rule, ...]]:
    """The declared rules of each field of a form dataclass, by field name (cached on the class)."""
    cached = model.__dict__.get("__declared_rules__")
    if cached is not None:
        return cached
    hints = typing.get_type_hints(model, include_extras=True)
    rules = {}
    for f in dataclasses.fields(model):
        declared = tuple(a for a in getattr(hints.get(f.name), "__metadata__", ()) if isinstance(a, Rule))
        if declared:
            rules[f.name] = declared
    setattr(model, "__declared_rules__", rules)
    return rules


def field_errors(model: type, values: dict[str, Any], only: Iterable[str] | None = None,
                 unreadable: Iterable[str] = (), kinds: tuple[type, ...] = (Rule,)) -> dict[str, str]:
    """``{field: message}`` for the values (by field name) that break ``model``'s declared rules; only
    the fields named in ``only`` when given (a CSV row checks the columns it has), and only the rules
    of ``kinds`` (the import checks the account form's lengths: its other rules have their own words)."""
    unreadable = set(unreadable)
    errors: dict[str, str] = {}
    for name, rules in rules_of(model).items():
        if only is not None and name not in only:
            continue
        value = values.get(name)
        for rule in rules:
            if isinstance(rule, kinds) and rule.broken(value, name in unreadable):
                errors[name] = rule.error(value)
                break
    return errors


def declared_errors(form: Any) -> dict[str, str]:
    """The declared rules broken by a filled form (a dataclass instance)."""
    values = {f.name: getattr(form, f.name) for f in dataclasses.fields(form)}
    return field_errors(type(form), values, unreadable=getattr(form, UNREADABLE, ()))


def max_length(model: type, name: str) -> int | None:
    """The declared maximum length of a field, for a CSV column or a template's ``maxlength``."""
    return next((r.limit for r in rules_of(model).get(name, ()) if isinstance(r, MaxLen)), None)
