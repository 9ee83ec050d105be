"""The signed attendance sheet of a closed slot (issue 22): its download by the managers in scope and
the slot's trainers, and its verification without an account (by the code printed on it, like a
certificate's: same rate limit, same « introuvable » answer, the same upload check)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.http.forms import read_pdf
from app.http.responder import private_download, render
from app.http.web import client_ip, current_user
from app.services.ratelimit import Limit
from app.services.signing import sheet_read

MAX_MB = sheet_read.UPLOAD_MAX_BYTES // 1_048_576
# The public verification pages' one limit (certificates' /verifier and the sheets'): a few lookups a
# minute per address is plenty for a person, useless for enumeration. One lookup counts once.
VERIFY_LIMIT = Limit("certificate-verify", 20, 60)


@get("/creneaux/{slot_id:int}/feuille-signee.pdf", name="signing.sheet")
async def signed_sheet(request: Request, slot_id: FromPath[int]) -> Response:
    """Managers in scope and the slot's trainers; anyone else, another establishment or a missing slot:
    the same 404. Before the closing, a French 409."""
    pdf, name = await sheet_read.staff_sheet(current_user(request), slot_id)
    return private_download(pdf, name)


async def sheet_page(request: Request, typed: str, upload: bytes | None = None, upload_error: str | None = None,
                     counted: bool = False) -> Template:
    """The sheet's verification page for ``typed``; ``counted``: this lookup was already counted
    against VERIFY_LIMIT (the /verifier form's fall-through). Unknown and malformed codes get exactly
    the same answer (the certificates' wording and page, certificates/verify.html)."""
    unknown = {"typed": typed, "found": None, "looked_up": True, "upload_result": None, "upload_error": None,
               "max_mb": MAX_MB}
    if not counted and not await VERIFY_LIMIT.allow(request.app.state.redis, client_ip(request)):
        return render(request, "certificates/verify.html", {**unknown, "limited": True}, status_code=429,
                      headers={"Retry-After": str(VERIFY_LIMIT.window)})
    found = await sheet_read.verify(typed)
    if found is None:
        return render(request, "certificates/verify.html", unknown, status_code=404)
    context = {"typed": typed, "found": found, "upload_result": None, "upload_error": upload_error, "max_mb": MAX_MB}
    if upload is not None:
        context["upload_result"] = "match" if sheet_read.pdf_matches(found, upload) else "mismatch"
    return render(request, "signed_sheets/verify.html", context, status_code=422 if upload_error else 200)


class SheetVerifyController(Controller):
    path = "/verifier/emargement"
    opt = {"public": True}
    request_max_body_size = sheet_read.UPLOAD_MAX_BYTES + 256 * 1024

    async def _page(self, request: Request, typed: str, upload: bytes | None = None,
                    upload_error: str | None = None) -> Template:
        return await sheet_page(request, typed, upload, upload_error)

    @get("/{code:str}", name="signing.verify")
    async def by_code(self, request: Request, code: FromPath[str]) -> Template:
        return await self._page(request, code[:64])

    @post("/{code:str}", name="signing.verify_pdf")
    async def check_pdf(self, request: Request, code: FromPath[str]) -> Template:
        code = code[:64]
        content, error = await read_pdf(request, sheet_read.UPLOAD_MAX_BYTES,
                                        "Choisissez le fichier PDF de la feuille d'émargement.")
        return await self._page(request, code, upload=content, upload_error=error)


HANDLERS = [signed_sheet, SheetVerifyController]
