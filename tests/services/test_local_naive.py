"""local_naive (an export's date-time cells): the cached offset per UTC day gives Paris wall-clock
time exactly as astimezone does, across the spring and autumn clock changes."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app import dates
from app.dates import local_naive

PARIS = ZoneInfo("Europe/Paris")


def reference(value: datetime) -> datetime:
    return value.astimezone(PARIS).replace(tzinfo=None)


@pytest.mark.parametrize("change", [date(2026, 3, 29), date(2026, 10, 25), date(2025, 10, 26), date(2027, 3, 28)])
def test_every_minute_around_a_clock_change_is_the_wall_clock_time(change):
    start = datetime.combine(change - timedelta(days=2), datetime.min.time(), timezone.utc)
    instants = [start + timedelta(minutes=m, microseconds=m * 7) for m in range(5 * 24 * 60)]
    converted = [local_naive(v) for v in instants]
    assert converted == [reference(v) for v in instants]
    # the second 02:30 of an autumn night stays the second one (fold), as astimezone makes it
    assert [c.fold for c in converted] == [reference(v).fold for v in instants]
    # the day of the change goes through astimezone; the days around it through their cached offset
    offsets = dates._DAY_OFFSETS["Europe/Paris"]
    assert offsets[change] is None
    assert offsets[change - timedelta(days=1)] != offsets[change + timedelta(days=1)]


def test_the_changes_themselves():
    utc = timezone.utc
    # spring: 02:00 in Paris does not exist, 01:59:59 CET is followed by 03:00 CEST
    assert local_naive(datetime(2026, 3, 29, 0, 59, 59, tzinfo=utc)) == datetime(2026, 3, 29, 1, 59, 59)
    assert local_naive(datetime(2026, 3, 29, 1, 0, tzinfo=utc)) == datetime(2026, 3, 29, 3, 0)
    # autumn: 02:30 twice, an hour apart
    first = local_naive(datetime(2026, 10, 25, 0, 30, tzinfo=utc))
    second = local_naive(datetime(2026, 10, 25, 1, 30, tzinfo=utc))
    assert (first, first.fold, second, second.fold) == (datetime(2026, 10, 25, 2, 30), 0, datetime(2026, 10, 25, 2, 30), 1)
    assert local_naive(datetime(2026, 10, 26, 12, 0, tzinfo=utc)) == datetime(2026, 10, 26, 13, 0)
    assert local_naive(datetime(2026, 10, 24, 12, 0, 0, 123456, tzinfo=utc)) == datetime(2026, 10, 24, 14, 0, 0, 123456)


def test_naive_and_other_zones_and_nothing():
    assert local_naive(None) is None
    # naive = UTC (SQLite's), as before
    assert local_naive(datetime(2026, 7, 1, 10, 0)) == datetime(2026, 7, 1, 12, 0)
    # an instant in another zone: its own offset first
    new_york = datetime(2026, 7, 1, 6, 0, tzinfo=ZoneInfo("America/New_York"))
    assert local_naive(new_york) == datetime(2026, 7, 1, 12, 0) == reference(new_york)
    assert local_naive(datetime(2026, 1, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))) == datetime(2026, 1, 2, 2, 30)
    # the ends of what a datetime can hold do not break the day's check
    assert local_naive(datetime(9999, 12, 31, 12, 0, tzinfo=timezone.utc)) == datetime(9999, 12, 31, 13, 0)
