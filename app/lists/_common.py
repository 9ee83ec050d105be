"""Small helpers shared by the list definitions."""

from __future__ import annotations

from app.numbers import to_int


def int_or_none(value) -> int | None:
    return to_int(value)


def yes_no(value: bool) -> str:
    return "Oui" if value else "Non"
