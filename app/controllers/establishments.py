"""An establishment as its managers see it ("Gestion des contenus et catégories")."""

from __future__ import annotations

from litestar.params import FromPath
from litestar import Request, get
from litestar.response import Template

from app.services.roles import ADMIN, GED, GET
from app.services.scope import require_establishment
from app.tables.accounts import RoleAssignment, User
from app.web import current_user


@get("/etablissements/{establishment_id:int}", opt={"roles": (ADMIN, GED, GET)})
async def establishment_page(request: Request, establishment_id: FromPath[int]) -> Template:
    establishment = await require_establishment(current_user(request), establishment_id)
    managers = await RoleAssignment.select(
        RoleAssignment.user.first_name.as_alias("first_name"),
        RoleAssignment.user.last_name.as_alias("last_name"),
        RoleAssignment.user.username.as_alias("username"),
    ).where((RoleAssignment.establishment == establishment_id) & (RoleAssignment.role == GET))
    user_count = await User.count().where(User.establishment == establishment_id)
    return Template(
        "establishments/detail.html",
        context={"establishment": establishment, "managers": managers, "user_count": user_count},
    )


HANDLERS = [establishment_page]
