"""The security headers on every answer (app/http/security.py): a Content-Security-Policy without
inline script, no framing, a same-origin referrer, nosniff, HSTS in production only, and pages that
show a password kept out of every cache."""

import httpx
import pytest

from app.http.static import static_url
from app.tables.accounts import User
from tests.helpers import login, post_form, text


def _csp(response) -> dict[str, list[str]]:
    directives = {}
    for part in response.headers["content-security-policy"].split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def _assert_protected(response):
    csp = _csp(response)
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts == ["'self'"], csp  # no 'unsafe-inline', no 'unsafe-eval', no other origin
    assert csp.get("style-src", csp.get("default-src")) == ["'self'"]
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")


@pytest.mark.smoke
async def test_pages_fragments_errors_and_static_files_carry_the_headers(client):
    responses = [await client.get("/connexion")]
    await login(client, "alp001.get")
    responses += [
        await client.get("/utilisateurs/"),
        await client.get("/utilisateurs/?q=a", headers={"HX-Request": "true"}),  # an htmx fragment
        await client.get("/utilisateurs/999999/modifier"),  # an error page
        await client.get(static_url("app.css")),
        await client.get(static_url("htmx-2.0.11.min.js")),
    ]
    for response in responses:
        assert response.status_code in (200, 404), response.url
        _assert_protected(response)
        assert "strict-transport-security" not in response.headers  # not in test mode
    assert responses[-2].headers["content-type"] == "text/css; charset=utf-8"
    assert responses[-1].headers["content-type"] in ("text/javascript; charset=utf-8",
                                                     "application/javascript; charset=utf-8")


async def test_hsts_in_production_mode_only(app, database, settings_env):
    settings_env(TREMPLIN_MODE="production")
    from app.asgi import create_app

    production = create_app()
    async with production.lifespan():
        transport = httpx.ASGITransport(app=production, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="https://tremplin.example") as browser:
            for url in ("/connexion", static_url("app.css")):
                response = await browser.get(url)
                assert response.status_code == 200
                _assert_protected(response)
                assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
                if url == "/connexion":  # behind TLS, the CSRF cookie is Secure too
                    assert "; secure" in response.headers["set-cookie"].lower()


async def test_the_page_showing_a_generated_password_is_never_cached(client):
    await User.update({User.email: "alp001.x.y.fictif@tremplin.local"}).where(User.username.like("alp001.%.%"))
    target = await User.select(User.id).where(User.username.like("alp001.%.%")).first()
    await login(client, "alp001.get")
    response = await post_form(client, f"/utilisateurs/{target['id']}/mot-de-passe")
    assert response.status_code == 200 and "communiquez-lui vous-même ce mot de passe" in text(response.text)
    assert "no-store" in response.headers["cache-control"]
    _assert_protected(response)
    # Other pages are private (no shared cache) but may be revalidated.
    other = await client.get("/utilisateurs/")
    assert "private" in other.headers["cache-control"] and "no-store" not in other.headers["cache-control"]



async def test_answers_made_outside_any_route_carry_the_headers_too(client):
    """An unknown path, a CSRF refusal, a refused form: answered before (or without) a route."""
    unknown = await client.get("/nexiste-pas")
    assert unknown.status_code == 404 and "introuvable" in text(unknown.text).lower()
    await client.get("/connexion")
    forged = await client.post("/connexion", data={"username": "admin", "password": "x"})
    assert forged.status_code == 403
    too_many = await post_form(client, "/connexion", {f"f{i}": "" for i in range(2000)})
    assert too_many.status_code == 413 and "trop volumineux" in text(too_many.text)
    for response in (unknown, forged, too_many):
        _assert_protected(response)
        assert "private" in response.headers["cache-control"]
