"""The training provider (« dispensateur », issue 22) the certificat de réalisation names: an
administrator's page, /administration/organisme (name, NDA, address, signatory, stamp image)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.response import Response, Template

from app.http.forms import as_values, parse_form
from app.http.responder import redirect, render, url
from app.services.certificates import provider
from app.services.errors import ValidationFailed
from app.services.roles import ADMIN


class ProviderController(Controller):
    path = "/administration/organisme"
    opt = {"roles": (ADMIN,)}
    request_max_body_size = provider.STAMP_MAX_BYTES + 256 * 1024

    @staticmethod
    async def _page(request: Request, values: dict, errors: dict, status_code: int = 200) -> Template:
        current = await provider.load()
        return render(request, "certificates/provider.html", {
            "values": values, "errors": errors, "stamp": await provider.stamp_uri(current["stamp"]),
            "max_mb": provider.STAMP_MAX_BYTES // 1_048_576, "max_side": provider.STAMP_MAX_SIDE}, status_code=status_code)

    @get("/", name="certificates.provider")
    async def form(self, request: Request) -> Template:
        current = await provider.load()
        return await self._page(request, {**current, "nda": provider.nda_display(current["nda"])}, {})

    @post("/", name="certificates.save_provider")
    async def save(self, request: Request) -> Response:
        posted = await request.form()
        form = parse_form(provider.ProviderForm, posted)
        upload = posted.get("stamp")
        stamp = None
        if isinstance(upload, UploadFile) and upload.filename:
            stamp = await upload.read(provider.STAMP_MAX_BYTES + 1)
        try:
            await provider.save(form, stamp)
        except ValidationFailed as invalid:
            return await self._page(request, as_values(form), invalid.errors, status_code=422)
        return redirect(request, url(request, "certificates.provider"), "Organisme de formation enregistré.")


HANDLERS = [ProviderController]
