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


async def test_every_form_carries_the_csrf_token_and_htmx_sends_it(client):
    await login(client, "admin")
    page = (await client.get("/admin/delegations/nouvelle")).text
    token = client.cookies.get("csrftoken")
    assert f'name="_csrf_token" value="{token}"' in page
    assert f'hx-headers=\'{{"x-csrftoken": "{token}"}}\'' in page
