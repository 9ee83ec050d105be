"""Certificates (« Attestation de fin de formation », SPEC D3, and « Certificat de réalisation », issue 22):
the managers' page of a session's
certificates (download one, revoke, re-issue, mail, ZIP of all), the learner's own download, and the
public verification page (no login)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from app.controllers.certificate_provider import ProviderController
from app.controllers.signed_sheets import VERIFY_LIMIT, sheet_page
from app.http.forms import read_form, read_pdf
from app.http.responder import confirm_page, private_download, redirect, render, start_job, stored_download, url
from app.http.web import client_ip, current_user
from app.jobs import kinds, results
from app.services import certificates
from app.services.errors import ValidationFailed
from app.services.outbox import dispatch
from app.services.signing import sheet_read
from app.services.roles import ADMIN, GED, GET
from app.services.sessions import session_in_scope
from app.services.text import Multiline

MANAGERS = (ADMIN, GED, GET)
# VERIFY_LIMIT (app/controllers/signed_sheets.py): the public verification pages' one limit.
ZIP_GONE = "Ce fichier n'est plus disponible : relancez la création du ZIP."


@dataclass
class RevokeForm:
    reason: Multiline = ""


class SessionCertificatesController(Controller):
    path = "/sessions/{session_id:int}/attestations"
    opt = {"roles": MANAGERS}

    @get("/", name="certificates.session")
    async def index(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await session_in_scope(current_user(request), session_id)
        rows = await certificates.for_session(session_id)
        provider = await certificates.provider.load()
        return render(request, "certificates/session.html", {
            "session": session, "certificates": rows, "kind_labels": certificates.KIND_LABELS,
            "provider_missing": certificates.provider.MISSING if not certificates.provider.ready(provider) else "",
            "valid_count": sum(1 for r in rows if r["status"] == "valid")})

    @post("/zip", name="certificates.zip")
    async def make_zip(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await session_in_scope(user, session_id)
        # A second click (or a second tab) while this user's ZIP of this session is being built
        # follows that one: a large session's ZIP keeps every core of a worker busy a minute.
        return await start_job(request, kinds.CERTIFICATES_ZIP, f"Attestations de la session {session['code']} (ZIP)",
                               lambda token: (session_id, user.id, token), result_route="certificates.zip_download",
                               once=f"session:{session_id}", again="Le ZIP de cette session est déjà en préparation : le voici.")


class CertificateController(Controller):
    path = "/attestations"
    opt = {"roles": MANAGERS}

    @get("/{certificate_id:int}", name="certificates.download")
    async def download(self, request: Request, certificate_id: FromPath[int]) -> Response:
        certificate = await certificates.in_scope(current_user(request), certificate_id)
        return private_download(await certificates.pdf_of(certificate), certificate["filename"])

    @get("/{certificate_id:int}/revoquer", name="certificates.confirm_revoke")
    async def confirm_revoke(self, request: Request, certificate_id: FromPath[int]) -> Template:
        certificate = await certificates.in_scope(current_user(request), certificate_id)
        return render(request, "certificates/revoke.html", {"certificate": certificate, "values": {}, "errors": {}})

    @post("/{certificate_id:int}/revoquer", name="certificates.revoke")
    async def revoke(self, request: Request, certificate_id: FromPath[int]) -> Response:
        user = current_user(request)
        form = await read_form(request, RevokeForm)
        try:
            certificate = await certificates.revoke(user, certificate_id, form.reason)
        except ValidationFailed as invalid:
            certificate = await certificates.in_scope(user, certificate_id)
            return render(request, "certificates/revoke.html", {
                "certificate": certificate, "values": {"reason": form.reason}, "errors": invalid.errors},
                status_code=422)
        return redirect(request, url(request, "certificates.session", session_id=certificate["session"]),
                        f"Attestation {certificate['display_code']} révoquée.")

    @get("/{certificate_id:int}/reemettre", name="certificates.confirm_reissue")
    async def confirm_reissue(self, request: Request, certificate_id: FromPath[int]) -> Template:
        certificate = await certificates.in_scope(current_user(request), certificate_id)
        snap = certificate["snapshot"]
        return confirm_page(
            request, f"Réémettre : {certificate['kind_label']} de {snap['prenom']} {snap['nom']} ?",
            url(request, "certificates.session", session_id=certificate["session"]), button="Réémettre",
            details=["Une nouvelle version est établie avec les informations actuelles (nom corrigé, etc.) "
                     "et un nouveau code.",
                     "La version actuelle reste vérifiable, avec le statut « Remplacée »."])

    @post("/{certificate_id:int}/reemettre", name="certificates.reissue")
    async def reissue(self, request: Request, certificate_id: FromPath[int]) -> Response:
        user = current_user(request)
        certificate = await certificates.in_scope(user, certificate_id)
        back = url(request, "certificates.session", session_id=certificate["session"])
        try:
            new = await certificates.reissue(user, certificate_id)
        except ValidationFailed as invalid:
            return redirect(request, back, " ".join(invalid.errors.values()), "error")
        return redirect(request, back, f"Nouvelle version {new['version']} délivrée : code {new['display_code']}.")

    @post("/{certificate_id:int}/envoyer", name="certificates.mail")
    async def mail(self, request: Request, certificate_id: FromPath[int]) -> Response:
        user = current_user(request)
        certificate = await certificates.in_scope(user, certificate_id)
        back = url(request, "certificates.session", session_id=certificate["session"])
        try:
            mail_id = await certificates.mail_to_learner(user, certificate_id)
        except ValidationFailed as invalid:
            return redirect(request, back, " ".join(invalid.errors.values()), "error")
        await dispatch(request.app.state.redis, [mail_id])
        return redirect(request, back, "Certificat de réalisation envoyé par courriel à l'apprenant."
                        if certificate["kind"] == "realisation" else "Attestation envoyée par courriel à l'apprenant.")

    @get("/zip/{token:str}", name="certificates.zip_download", opt={"no_compression": True})
    async def zip_download(self, request: Request, token: FromPath[str]) -> Response:
        state, stored = await results.owned_result(request.app.state.redis, current_user(request), token, ZIP_GONE,
                                                   "application/zip")
        return stored_download(stored, state.get("filename", "attestations-et-certificats.zip"), "application/zip")


@get("/mes-sessions/{session_id:int}/attestation", name="certificates.mine")
async def my_certificate(request: Request, session_id: FromPath[int], kind: FromQuery[str | None] = None) -> Response:
    """The learner's own certificate (``?kind=realisation``: their certificat de réalisation); someone
    else's, or none yet, is « introuvable »."""
    certificate = await certificates.learner_certificate(
        current_user(request), session_id, "realisation" if kind == "realisation" else "completion")
    return private_download(await certificates.pdf_of(certificate), certificate["filename"])


class VerifyController(Controller):
    path = "/verifier"
    opt = {"public": True}
    request_max_body_size = certificates.UPLOAD_MAX_BYTES + 256 * 1024

    async def _page(self, request: Request, typed: str, upload: bytes | None = None,
                    upload_error: str | None = None) -> Template:
        """The one answer of the page: unknown and malformed codes get exactly the same."""
        context = {"typed": typed, "found": None, "looked_up": bool(typed.strip()), "upload_result": None,
                   "upload_error": upload_error, "max_mb": certificates.UPLOAD_MAX_BYTES // 1_048_576}
        status = 200
        if context["looked_up"]:
            client = client_ip(request)
            if not await VERIFY_LIMIT.allow(request.app.state.redis, client):
                return render(request, "certificates/verify.html", {**context, "limited": True}, status_code=429,
                              headers={"Retry-After": str(VERIFY_LIMIT.window)})
            context["found"] = found = await certificates.verify(typed)
            if found is None and (closure := await sheet_read.closure_code(typed)):  # a signed sheet's code
                # The sheet's page here (a lookup counted once; a POST's PDF checked, not dropped by a redirect).
                return await sheet_page(request, closure, upload, upload_error, counted=True)
            status = 200 if found else 404
            if found and upload is not None:
                context["upload_result"] = "match" if certificates.pdf_matches(found, upload) else "mismatch"
        if upload_error and status == 200:
            status = 422
        return render(request, "certificates/verify.html", context, status_code=status)

    @get("/", name="certificates.verify")
    async def form(self, request: Request, code: FromQuery[str | None] = None) -> Template:
        return await self._page(request, (code or "")[:64])

    @get("/{code:str}", name="certificates.verify_code")
    async def by_code(self, request: Request, code: FromPath[str]) -> Template:
        return await self._page(request, code[:64])

    @post("/{code:str}", name="certificates.verify_pdf")
    async def check_pdf(self, request: Request, code: FromPath[str]) -> Template:
        code = code[:64]
        content, error = await read_pdf(request, certificates.UPLOAD_MAX_BYTES, "Choisissez le fichier PDF de l'attestation.")
        return await self._page(request, code, upload=content, upload_error=error)


HANDLERS = [SessionCertificatesController, CertificateController, VerifyController, my_certificate, ProviderController]
