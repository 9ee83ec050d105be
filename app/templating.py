"""One Jinja environment for pages, mails and PDFs, with the French filters."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar.response import Template

from app.dates import date_fr, datetime_fr, short_datetime_fr
from app.services.catalogue import ACTIVITY_KINDS
from app.services.roles import ROLE_LABELS

ACTIVITY_LABELS = dict(ACTIVITY_KINDS)
from app.settings import TEMPLATE_DIR


def _number(value) -> str:
    return f"{value:,}".replace(",", "\u202f") if isinstance(value, int) else str(value)


@lru_cache(maxsize=1)
def jinja_env() -> Environment:
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
        number=_number,
        role_label=lambda role: ROLE_LABELS.get(role, role),
        activity_kind=lambda kind: ACTIVITY_LABELS.get(kind, kind),
    )
    env.globals.update(ROLE_LABELS=ROLE_LABELS)
    return env


def render(request, page: str, context: dict, region: str | None = None, status_code: int = 200) -> Template:
    """The whole page, or only its swappable region when htmx asks for it.

    ``region`` is a ``_region.html`` partial that ``page`` includes; an htmx request targeting it
    gets just that partial. The answer varies on HX-Request, so caches keep both.
    """
    name = region if (region and getattr(request, "htmx", False)) else page
    return Template(template_name=name, context=context, status_code=status_code, headers={"Vary": "HX-Request"})


def confirm_page(request, question: str, back: str, button: str = "Supprimer") -> Template:
    """The confirmation step of a destructive action: a page with a POST form (works without JS)."""
    return render(request, "confirm.html", {"question": question, "action": request.url.path, "back": back, "button": button})
