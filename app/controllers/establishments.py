"""An establishment as its managers see it ("Gestion des contenus et catégories")."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from app.http.responder import render
from app.http.web import current_user
from app.services import org
from app.services.roles import ADMIN, GED, GET
from app.services.scope import require_establishment


@get("/etablissements/{establishment_id:int}", opt={"roles": (ADMIN, GED, GET)}, name="establishments.show")
async def establishment_page(request: Request, establishment_id: FromPath[int]) -> Template:
    establishment = await require_establishment(current_user(request), establishment_id)
    return render(request, "establishments/detail.html", {
        "establishment": establishment, "managers": await org.establishment_managers(establishment_id),
        "user_count": (await org.user_counts([establishment_id])).get(establishment_id, 0),
    })


HANDLERS = [establishment_page]
