"""Attendance (feuilles d'émargement, issue 12): a session's printable sheet (one page per slot) and
the grid where a manager records who was present, absent or excused at each slot."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from app.http.forms import form_data
from app.http.responder import private_download, redirect, render, start_job, stored_download, url, wants_fragment
from app.http.web import current_user
from app.jobs import kinds
from app.jobs import results
from app.lists._common import int_or_none
from app.services import attendance
from app.services.signing import review
from app.services.errors import ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.services.sessions import session_in_scope

SHEET_GONE = "Cette feuille d'émargement n'est plus disponible : préparez-la à nouveau."

# The grid is the managers' view and correction tool over the attendance records (issue 22): the
# trainers sign slots on their own page (controllers/signing.py); after a slot's closing, a change
# here is a correction with its reason.
MANAGERS = (ADMIN, GED, GET)


class AttendanceController(Controller):
    path = "/sessions/{session_id:int}"
    opt = {"roles": MANAGERS}

    @get("/emargement.pdf", name="attendance.sheet")
    async def sheet(self, request: Request, session_id: FromPath[int]) -> Response:
        """The sheet's PDF; for a large session (SHEET_INLINE_MAX_ROWS), a page that prepares it in
        the background instead."""
        session = await session_in_scope(current_user(request), session_id)
        context = await attendance.sheet_context(session)
        if attendance.sheet_in_background(context):
            return render(request, "attendance/sheet.html", {
                "session": session, "learners": len(context["learners"]), "slots": len(context["slots"])})
        return private_download(await attendance.sheet_pdf(context), attendance.sheet_filename(session))

    @post("/emargement", name="attendance.sheet_job")
    async def sheet_job(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await session_in_scope(user, session_id)
        return await start_job(
            request, kinds.ATTENDANCE_SHEET, f"Feuille d'émargement de la session {session['code']}",
            lambda token: (session_id, user.id, token),
            result_route="attendance.sheet_download", result_params={"session_id": session_id},
            once=f"session:{session_id}", again="La feuille d'émargement de cette session est déjà en préparation : la voici.")

    @get("/emargement/{token:str}", name="attendance.sheet_download", opt={"no_compression": True})
    async def sheet_download(self, request: Request, session_id: FromPath[int], token: FromPath[str]) -> Response:
        user = current_user(request)
        await session_in_scope(user, session_id)  # out of scope: « Session introuvable », as a missing one
        state, stored = await results.owned_result(request.app.state.redis, user, token, SHEET_GONE,
                                                   "application/pdf", session_id=session_id)
        return stored_download(stored, state.get("filename", "emargement.pdf"), "application/pdf")

    @get("/presences", name="attendance.grid")
    async def grid(self, request: Request, session_id: FromPath[int], page: FromQuery[int | None] = None) -> Template:
        session = await session_in_scope(current_user(request), session_id)
        return await self._page(request, session, page or 1)

    async def _page(self, request, session, page, errors=None, posted=None, status_code=200, notice=None,
                    notice_category=None, reason="") -> Template:
        grid = await attendance.grid(session["id"], page)
        if posted:  # show what was typed again, not what is stored
            for row in grid.rows:
                row["cells"] = {s["id"]: posted.get((row["id"], s["id"]), row["cells"].get(s["id"], ""))
                                for s in grid.slots}
        return render(request, "attendance/grid.html", {
            "session": session, "grid": grid, "errors": errors or {},
            "url": url(request, "attendance.grid", session_id=session["id"]),
            "total_hours": attendance.hours_fr(grid.total_minutes), "notice": notice,
            "notice_category": notice_category, "reason": reason, "reason_max": attendance.REASON_MAX,
            "closures": await review.closures(session["id"]), "corrections": await review.corrections(session["id"])},
            region="attendance/_grid.html",
            status_code=status_code)

    @post("/presences", name="attendance.save")
    async def save(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await session_in_scope(user, session_id)
        form = await form_data(request)
        page = int_or_none(form.get("page")) or 1  # "²" is a digit to str.isdigit(), not to int()
        cells = attendance.cells_from_form(form)
        fill = int_or_none(form.get("fill"))
        if fill is not None:  # « Compléter : présents »: the slot's cells left blank become « présent »
            cells = {k: (v or ("present" if k[1] == fill else v)) for k, v in cells.items()}
        reason = str(form.get("reason") or "")
        try:
            saved = await attendance.save(user.id, session_id, cells, request.app.state.redis, reason=reason)
        except ValidationFailed as invalid:
            return await self._page(request, session, page, invalid.errors, cells, status_code=422, reason=reason)
        message = f"Présences enregistrées : {saved.changed} modification(s)." if saved.changed else \
            "Aucune modification : les présences étaient déjà enregistrées ainsi."
        if saved.completed:
            message += f" {saved.completed} inscrit(s) ont achevé la session : attestation délivrée."
        category = "success" if saved.changed else "info"
        if wants_fragment(request):  # htmx: the grid again in place, with the message
            return await self._page(request, session, page, notice=message, notice_category=category)
        return redirect(request, url(request, "attendance.grid", {"page": page if page > 1 else None},
                                     session_id=session_id), message, category)


HANDLERS = [AttendanceController]
