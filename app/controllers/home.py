"""The home page: what this user can do, and the establishments they manage."""

from __future__ import annotations

from datetime import date

from litestar import Request, get
from litestar.response import Redirect, Template

from piccolo.query.functions.aggregate import Count

from app.services.roles import LEARNER
from app.services.scope import establishments_in_scope
from app.tables.accounts import User
from app.web import current_user


@get("/")
async def home(request: Request) -> Template | Redirect:
    user = current_user(request)
    establishments = []
    counts = {}
    if user.manages_establishments:
        establishments = await establishments_in_scope(user)
        if establishments:
            ids = [e["id"] for e in establishments]
            # One grouped query for every establishment's count of accounts.
            rows = (
                await User.select(User.establishment.as_alias("id"), Count(User.id, alias="n"))
                .where(User.establishment.is_in(ids))
                .group_by(User.establishment)
            )
            counts = {r["id"]: r["n"] for r in rows}
    my_sessions = []
    if user.has_role(LEARNER):
        from app.tables.catalogue import Enrolment, TrainingSession

        enrolled = Enrolment.select(Enrolment.session).where((Enrolment.user == user.id) & (Enrolment.active == True))  # noqa: E712
        my_sessions = await TrainingSession.select(
            TrainingSession.id, TrainingSession.full_name, TrainingSession.code, TrainingSession.start_date,
            TrainingSession.end_date,
        ).where(TrainingSession.id.is_in(enrolled) & (TrainingSession.visible == True)).order_by(  # noqa: E712
            TrainingSession.start_date)
    return Template(
        "home.html",
        context={"establishments": establishments, "counts": counts, "is_learner": user.has_role(LEARNER),
                 "my_sessions": my_sessions, "today": date.today()},
    )


HANDLERS = [home]
