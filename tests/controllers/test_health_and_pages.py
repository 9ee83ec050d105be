import pytest

from tests.helpers import login, text


@pytest.mark.smoke
async def test_healthz_reports_database_and_redis(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "outbox": "ok"}
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.smoke
async def test_static_files_are_public_and_htmx_is_vendored(client):
    response = await client.get("/static/htmx-2.0.11.min.js")
    assert response.status_code == 200 and b"htmx" in response.content[:200]
    assert (await client.get("/static/app.css")).status_code == 200


async def test_unknown_page_gets_a_french_404(client):
    await login(client, "admin")
    response = await client.get("/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in text(response.text)


async def test_navigation_shows_only_what_the_role_may_use(client, new_client):
    await login(client, "admin")
    nav = (await client.get("/")).text
    assert 'href="/admin/delegations"' in nav and 'href="/roles"' in nav
    async with new_client() as get_client:
        await login(get_client, "alp001.get")
        nav = (await get_client.get("/")).text
        assert 'href="/admin/delegations"' not in nav and 'href="/roles"' not in nav


async def test_a_form_page_carries_the_csrf_token_and_htmx_sends_it(client):
    await login(client, "admin")
    page = (await client.get("/admin/delegations/nouvelle")).text
    token = client.cookies.get("csrftoken")
    assert f'name="_csrf_token" value="{token}"' in page
    assert f'data-hx-headers=\'{{"x-csrftoken": "{token}"}}\'' in page


def test_every_posting_form_of_every_template_has_the_csrf_field():
    """Every <form> of the templates that is not a GET form (search filters) holds
    ``csrf_field()``: a form without it is refused by the CSRF middleware with a 403."""
    import re
    from pathlib import Path

    import app

    forms = missing = 0
    templates = Path(app.__file__).parent / "templates"
    for path in sorted(templates.rglob("*.html")):
        for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", path.read_text(), re.S | re.I):
            if 'method="get"' in match.group(1).lower():
                continue
            forms += 1
            if "csrf_field()" not in match.group(2):
                missing += 1
                print(path.relative_to(templates), match.group(1)[:80])
    assert forms > 40 and missing == 0
