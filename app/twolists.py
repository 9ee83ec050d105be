"""The two-list selector (seed 000, step 4) as one HTTP pattern: "Inscrire mes utilisateurs" and
the members of a cohort both render ``_two_lists.html`` and handle its Add/Remove the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request, Response

from app.templating import render
from app.web import form_data, form_lists, redirect


def two_lists_page(request: Request, page: str, *, current: tuple[list, int], potential: tuple[list, int],
                   titles: tuple[str, str], action: str, q_current: str, q_potential: str,
                   message: str | None = None, **context) -> Response:
    """The whole page, or just the two lists for htmx."""
    return render(request, page, {
        **context, "current": current[0], "current_count": current[1], "potential": potential[0],
        "potential_count": potential[1], "current_title": titles[0], "potential_title": titles[1],
        "action": action, "q_current": q_current, "q_potential": q_potential, "message": message,
    }, region="_two_lists.html")


async def two_lists_post(
    request: Request,
    *,
    add: Callable[[list[str]], Awaitable[str]],
    remove: Callable[[list[str]], Awaitable[str]],
    page: Callable[[str, str, str], Awaitable[Response]],
    back: str,
) -> Response:
    """Add or Remove the selected ids; htmx gets the lists again (with the searches kept), a plain
    form a redirect with the message."""
    data = await form_data(request)
    if data.get("go") == "add":
        message = await add(await form_lists(request, "add"))
    else:
        message = await remove(await form_lists(request, "remove"))
    if getattr(request, "htmx", False):
        return await page(str(data.get("q_current", "")), str(data.get("q_potential", "")), message)
    return redirect(request, back, message)
