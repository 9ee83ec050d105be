"""The home page: what this user can do, and the establishments they manage."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from app.dates import today
from app.http.responder import render
from app.http.web import current_user
from app.services import dashboard, learner, org, trainers
from app.services.registration import waiting_count
from app.services.roles import LEARNER, TRAINER
from app.services.scope import establishment_scope, establishments_in_scope
from app.services.signing import learner as signing


@get("/", name="home")
async def home(request: Request) -> Template:
    user = current_user(request)
    establishments, counts, board = [], {}, None
    if user.manages_establishments:
        establishments = await establishments_in_scope(user)
        counts = await org.user_counts([e["id"] for e in establishments])
        board = await dashboard.for_manager(await establishment_scope(user))
    is_learner = user.has_role(LEARNER)
    waiting = None
    if user.has_role("registration_manager"):
        waiting = await waiting_count()
    return render(request, "home.html", {
        "waiting_requests": waiting, "board": board,
        "establishments": establishments, "counts": counts, "is_learner": is_learner,
        "my": await learner.home(user.id) if is_learner else None, "today": today(),
        # Issue 22: « Mes sessions (formateur) ».
        "training": await trainers.home(user.id) if user.has_role(TRAINER) else None,
        # « Signer ma présence » (issue 22): the slots open for signing now, of the learner's sessions.
        "sign_now": await signing.open_slots(user.id) if is_learner else [],
    })


HANDLERS = [home]
