"""French dates with Babel: 'mercredi 28 mai 2025, 18:08'."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from app.settings import get_settings


def _local(value: datetime) -> datetime:
    tz = ZoneInfo(get_settings().timezone)  # ZoneInfo caches its instances
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(tz)


# Babel takes 100 to 400 µs a call; the same days come back on every page (a session's dates in
# the registration wizard's header): each text is kept. A local datetime's key holds its zone's
# name: two equal instants in two zones are equal datetimes, not the same text.
@lru_cache(maxsize=4096)
def _format_date(value: date, pattern: str) -> str:
    return format_date(value, pattern, locale="fr_FR")


@lru_cache(maxsize=4096)
def _format_datetime(value: datetime, zone: str, pattern: str) -> str:
    return format_datetime(value, pattern, locale="fr_FR")


def datetime_fr(value: datetime | None, empty: str = "Jamais") -> str:
    if value is None:
        return empty
    local = _local(value)
    return _format_datetime(local, str(local.tzinfo), "EEEE d MMMM y, HH:mm")


def _day(value: date | datetime | None, pattern: str, empty: str) -> str:
    """A day in French with a Babel pattern; an instant is first the day it is in TIMEZONE."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = _local(value).date()
    return _format_date(value, pattern)


def date_fr(value: date | datetime | None, empty: str = "") -> str:
    """'mardi 2 juin 2026'."""
    return _day(value, "EEEE d MMMM y", empty)


def day_fr(value: date | datetime | None, empty: str = "") -> str:
    """'2 juin 2026', for documents (a certificate's dates)."""
    return _day(value, "d MMMM y", empty)


def short_date_fr(value: date | datetime | None, empty: str = "") -> str:
    """dd/mm/yyyy, for dense tables. Numbers only: no locale data needed, so plain strftime (Babel
    costs ~100 µs a call, felt on a grid of 1,500 cells)."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = _local(value).date()
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def short_datetime_fr(value: datetime | None, empty: str = "") -> str:
    """dd/mm/yyyy hh:mm."""
    if value is None:
        return empty
    value = _local(value)
    return f"{value.day:02d}/{value.month:02d}/{value.year} {value.hour:02d}:{value.minute:02d}"


# How far the clock is set forward: always zero, except in a test that makes time pass
# (tests/conftest.py ``clock``) instead of sleeping — rate-limit windows, the job sweep's delays.
_ahead = timedelta(0)
_controlled = False


def set_ahead(offset: timedelta, controlled: bool = True) -> None:
    """Set the clock ``offset`` ahead of the real time (tests only); ``controlled=False`` with a zero
    offset gives the real clock back."""
    global _ahead, _controlled
    _ahead, _controlled = offset, controlled


def clock_controlled() -> bool:
    """True while a test drives the clock (``set_ahead``): what must expire on it cannot rely on
    Redis's own TTLs alone (app/services/ratelimit.py)."""
    return _controlled


MONTH_DAYS = 30.44  # a month, in days, for periods counted in months (retention)


def months_before(moment: datetime, months: int) -> datetime:
    return moment - timedelta(days=round(months * MONTH_DAYS))


def now() -> datetime:
    """The one clock: an aware UTC instant (stored as such)."""
    return datetime.now(timezone.utc) + _ahead


def now_ms() -> int:
    """The same clock in milliseconds since the epoch (the rate-limit windows' unit in Redis)."""
    return int(now().timestamp() * 1000)


def local_now() -> datetime:
    """Now on the wall clocks of the platform (TIMEZONE, Europe/Paris), aware."""
    return now().astimezone(ZoneInfo(get_settings().timezone))


def today() -> date:
    """Today in TIMEZONE — never the server's own date (a server on UTC is still "yesterday"
    between midnight and 1 or 2 in the morning in Paris)."""
    return local_now().date()


# TIMEZONE's offset from UTC on each UTC day already met, None for a day on which it changes (the
# spring and autumn changes): an export converts a million instants with a dict lookup each rather
# than a time-zone search each (and without datetime.replace, ~1 µs a call). One cache per zone.
_DAY_OFFSETS: dict[str, dict[date, timedelta | None]] = {}
_UTC = timezone.utc
_UNKNOWN = object()
_combine = datetime.combine


def _day_offset(offsets: dict, day: date, tz: ZoneInfo) -> timedelta | None:
    """The zone's offset throughout UTC day ``day`` (checked at every hour and at its last
    microsecond), or None if it changes that day."""
    start = _combine(day, time(), _UTC)
    try:
        instants = [start + timedelta(hours=h) for h in range(24)] + [start + timedelta(days=1, microseconds=-1)]
        seen = {at.astimezone(tz).utcoffset() for at in instants}
    except OverflowError:  # the first or last day a datetime can hold
        seen = set()
    offset = seen.pop() if len(seen) == 1 else None
    if len(offsets) > 20_000:  # a bound (50 years of days), never met by real data
        offsets.clear()
    offsets[day] = offset
    return offset


def local_naive(value: datetime | None) -> datetime | None:
    """Paris wall-clock time without tzinfo, as a spreadsheet cell wants it. An instant in UTC (as
    the database gives them; naive = UTC, as SQLite's) is moved by its UTC day's offset (cached);
    any other, or one on a day the offset changes, goes through astimezone."""
    if value is None:
        return None
    tzinfo = value.tzinfo
    if tzinfo is _UTC or tzinfo is None:
        name = get_settings().timezone
        offsets = _DAY_OFFSETS.get(name)
        if offsets is None:
            offsets = _DAY_OFFSETS[name] = {}
        day = value.date()
        offset = offsets.get(day, _UNKNOWN)
        if offset is _UNKNOWN:
            offset = _day_offset(offsets, day, ZoneInfo(name))
        if offset is not None:
            return _combine(day, value.time()) + offset
    local = _local(value)
    return _combine(local.date(), local.time())  # naive, fold kept (as replace(tzinfo=None) did)
