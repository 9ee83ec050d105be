"""Small helpers that act like a browser: fetch the CSRF cookie, post forms, log in."""

from __future__ import annotations

import html
import io
import re

from pypdf import PdfReader

DEMO_PASSWORD = "Demo-2026!"


async def csrf_token(client) -> str:
    token = client.cookies.get("csrftoken")
    if not token:
        await client.get("/connexion")
        token = client.cookies.get("csrftoken")
    assert token, "the app should set a CSRF cookie on a GET"
    return token


async def post_form(client, url: str, data: dict | None = None, htmx: bool = False, **kwargs):
    token = await csrf_token(client)
    headers = {"HX-Request": "true"} if htmx else {}
    return await client.post(url, data={**(data or {}), "_csrf_token": token}, headers=headers, **kwargs)


async def login(client, username: str, password: str = DEMO_PASSWORD):
    response = await post_form(client, "/connexion", {"username": username, "password": password})
    assert response.status_code == 303, response.text
    return response


def text(page: str) -> str:
    """Visible text of an HTML page, whitespace folded (good enough for assertions)."""
    without_tags = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(without_tags)).strip()


async def attended_every_slot(session_id: int, enrolment_id: int) -> None:
    """Record the learner present at every slot of the session, as its manager would: completion
    (and so the certificate) asks for the slots' hours attended too (100 % by default)."""
    from app.services import attendance
    from app.tables.catalogue import SessionSlot

    slots = [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session_id)]
    assert slots, "the session has slots"
    await attendance.save(None, session_id, {(enrolment_id, slot): "present" for slot in slots})


def pdf_accessibility(pdf: bytes) -> dict:
    """What assistive technology gets from a PDF (issue 25): a structure tree with content, marked
    content, the document's language and a title."""
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    tree = root.get("/StructTreeRoot")
    return {"structure": bool(tree is not None and tree.get_object().get("/K")),
            "marked": bool((root.get("/MarkInfo") or {}).get("/Marked")),
            "lang": str(root.get("/Lang", "")), "title": str((reader.metadata or {}).get("/Title") or "")}


def assert_tagged_pdf(pdf: bytes, title_part: str) -> None:
    info = pdf_accessibility(pdf)
    assert info["structure"] and info["marked"] and info["lang"] == "fr", info
    assert title_part in info["title"], info
