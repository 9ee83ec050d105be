"""The Jinja environment's base: the template folder and the French filters that need no service
(dates, numbers, sizes, wrapping). Pages and mails add the services' labels (app/http/templating.py);
documents (app/pdf/render.py, used by the services) take it as it is, so rendering a PDF imports no
service and no web plumbing."""

from __future__ import annotations

import re

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from app.dates import date_fr, datetime_fr, short_date_fr, short_datetime_fr
from app.numbers import number_fr
from app.settings import TEMPLATE_DIR


def _days(value) -> str:
    """A duration in days, "12,5 j"; a dash when there is none."""
    return "—" if value is None else f"{number_fr(value, 1)} j"


def _filesize(size: int) -> str:
    if size >= 1_048_576:
        return number_fr(size / 1_048_576, 1) + " Mo"
    return number_fr(max(1, size // 1024)) + " Ko"


def keep_words(value) -> Markup:
    """Text that wraps at its spaces only: a hyphenated word ("Mollans-sur-Ouvèze",
    "AUVERGNE-MASSIF") or a time range ("13:30–17:00") is never cut at its dash (a browser or
    WeasyPrint would), in a table cell."""
    parts = re.split(r"(\s+)", str(value or ""))
    return Markup("").join(Markup('<span class="nowrap">{}</span>').format(p) if "-" in p or "–" in p else p
                           for p in parts)


def email_wrap(value, at_break: bool = False) -> Markup:
    """Addresses ("a@b, c@d") that may wrap between them, never inside one; ``at_break``: also
    just after the "@" (a long domain in a narrow column), never inside a name."""
    def one(address: str) -> Markup:
        local, at, domain = address.partition("@")
        if at_break and at:
            return Markup('<span class="nowrap">{}@</span><wbr><span class="nowrap">{}</span>').format(local, domain)
        return Markup('<span class="nowrap">{}</span>').format(address)

    return Markup(", ").join(one(a.strip()) for a in str(value or "").split(",") if a.strip())


def base_env() -> Environment:
    """A new environment with the filters above (each caller adds its own and caches it)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        datetime_fr=datetime_fr,
        date_fr=date_fr,
        short_datetime_fr=short_datetime_fr,
        short_date_fr=short_date_fr,
        number=number_fr,
        days=_days,
        filesize=_filesize,
        keep_words=keep_words,
        email_wrap=email_wrap,
    )
    return env
