"""The two-list selector (seed 000, step 4) as one HTTP pattern: "Inscrire mes utilisateurs" and
the members of a cohort both render ``_two_lists.html`` and handle its Add/Remove the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from litestar import Request, Response

from app.http.forms import read_form
from app.http.responder import redirect, render, wants_fragment
from app.services.errors import DomainError


@dataclass
class TwoListsForm:
    go: str = ""  # add, remove
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    q_current: str = ""
    q_potential: str = ""


@dataclass(frozen=True)
class Notice:
    text: str
    category: str = "success"


def two_lists_page(request: Request, page: str, *, current: tuple[list, int], potential: tuple[list, int],
                   titles: tuple[str, str], action: str, q_current: str, q_potential: str,
                   notice: Notice | None = None, **context) -> Response:
    """The whole page, or just the two lists for htmx."""
    return render(request, page, {
        **context, "current": current[0], "current_count": current[1], "potential": potential[0],
        "potential_count": potential[1], "current_title": titles[0], "potential_title": titles[1],
        "action": action, "q_current": q_current, "q_potential": q_potential, "notice": notice,
    }, region="_two_lists.html")


async def two_lists_post(
    request: Request,
    *,
    add: Callable[[list[str]], Awaitable[str]],
    remove: Callable[[list[str]], Awaitable[str]],
    page: Callable[[str, str, Notice], Awaitable[Response]],
    back: str,
) -> Response:
    """Add or Remove the selected ids; htmx gets the lists again (with the searches kept), a plain
    form a redirect with the message. A refusal (a full session) is shown the same way, as an error."""
    form = await read_form(request, TwoListsForm)
    try:
        notice = Notice(await add(form.add) if form.go == "add" else await remove(form.remove))
    except DomainError as refused:
        notice = Notice(refused.message, "error")
    if wants_fragment(request):
        return await page(form.q_current, form.q_potential, notice)
    return redirect(request, back, notice.text, notice.category)
