"""French dates with Babel: 'mercredi 28 mai 2025, 18:08'."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from app.settings import get_settings


def _local(value: datetime) -> datetime:
    tz = ZoneInfo(get_settings().timezone)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(tz)


def datetime_fr(value: datetime | None, empty: str = "Jamais") -> str:
    if value is None:
        return empty
    return format_datetime(_local(value), "EEEE d MMMM y, HH:mm", locale="fr_FR")


def date_fr(value: date | datetime | None, empty: str = "") -> str:
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = _local(value).date()
    return format_date(value, "EEEE d MMMM y", locale="fr_FR")


def short_datetime_fr(value: datetime | None, empty: str = "") -> str:
    if value is None:
        return empty
    return format_datetime(_local(value), "dd/MM/y HH:mm", locale="fr_FR")


def now() -> datetime:
    return datetime.now(timezone.utc)


def local_naive(value: datetime | None) -> datetime | None:
    """Paris wall-clock time without tzinfo, as a spreadsheet cell wants it."""
    return None if value is None else _local(value).replace(tzinfo=None)
