"""Small helpers shared by the list definitions."""

from __future__ import annotations


def int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def yes_no(value: bool) -> str:
    return "Oui" if value else "Non"
