"""The one parser of integers that come from outside: a query string, a form field, a header (Range),
a path segment, a field name (``a<enrolment>_<slot>``), a number in an uploaded file.

``int()`` on such text is not safe: Python refuses more than 4,300 digits with a ValueError (a 500
where nobody expected one), and a number it accepts may be beyond what the database holds (an id
past PostgreSQL's int4, a byte offset past bigint). ``to_int`` checks the length before converting,
takes only ASCII digits ("²" and "٣" are digits to ``str.isdigit()``, not to a person) and keeps the
value within bounds: anything else is ``default``, and the caller says in French what is wrong.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal

INT32_MAX = 2**31 - 1  # a serial id, a count, a page number (PostgreSQL "integer")
INT64_MAX = 2**63 - 1  # a byte offset, a size (PostgreSQL "bigint")
MAX_DIGITS = 19  # len(str(INT64_MAX)): nothing longer can be in range, so it is never converted

_INTEGER = re.compile(r"[+-]?[0-9]{1,%d}" % MAX_DIGITS)


def to_int(value, default=None, *, low: int = -INT32_MAX, high: int = INT32_MAX):
    """``value`` (text, bytes or an int) as an int within [low, high], else ``default``.
    Surrounding spaces are allowed; signs, separators, decimals and exponents are not."""
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int):
        number = value
    else:
        if isinstance(value, (bytes, bytearray)):
            value = value.decode("ascii", "replace")
        if not isinstance(value, str) or len(value) > MAX_DIGITS + 40:  # before any conversion
            return default
        text = value.strip()
        if not _INTEGER.fullmatch(text) or (low >= 0 and not text[0].isdigit()):  # a year, a count: no sign
            return default
        number = int(text)
    return number if low <= number <= high else default


def path_int(text: str) -> int:
    """The parser of Litestar's ``{name:int}`` path parameters: a ValueError (which Litestar answers
    with its 404, « La page ou l'élément demandé n'existe pas ») for anything that is not an id, so a
    5,000-digit segment or an id past int4 is a missing page, never a 500 nor a database error."""
    number = to_int(text, low=-INT32_MAX, high=INT32_MAX)
    if number is None:
        raise ValueError("not an id")
    return number


def number_fr(value, decimals: int | None = None) -> str:
    """French number format: 12 345 (narrow no-break space), 6,0 (decimal comma)."""
    pattern = None if decimals is None else "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale="fr_FR")


def rate_percent(part: int | float | None, whole: int | float | None) -> int | None:
    """``part`` ÷ ``whole`` × 100 rounded to a whole number, halves up (the Caisse des Dépôts' « taux de
    réalisation »: hours attended ÷ planned hours; 10.5 h of 14 h = 75 %); None without a whole."""
    if not whole:
        return None
    return int((Decimal(str(part or 0)) * 100 / Decimal(str(whole))).to_integral_value(rounding=ROUND_HALF_UP))
