"""Issue 19: Redis down or frozen. The confirmation clicks during an outage got a bare 500, and with
Redis frozen (SIGSTOP: connections accepted, never answered) requests hung with no timeout. Now
every Redis client has socket timeouts (REDIS_TIMEOUT, REDIS_CONNECT_TIMEOUT) and a Redis failure
is the French 503 page with Retry-After (the partial for htmx); the same click works once Redis
answers again.

A redis-server of the test's own (tests/jobs/test_durable.OwnRedis), an app started on it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import asynccontextmanager

from app.tables.registration import RegistrationRequest
from tests.conftest import _http_client
from tests.controllers.test_registration import _fill, _session
from tests.controllers.test_registration_notifications import _awaiting
from tests.helpers import login, text
from tests.jobs.test_durable import OwnRedis

UNAVAILABLE = "Le service est momentanément indisponible, réessayez dans un instant."


@asynccontextmanager
async def app_on(redis: OwnRedis, settings_env):
    """The app on this Redis, every Redis call limited to 1 s."""
    from app.asgi import create_app

    settings_env(REDIS_URL=redis.url, REDIS_TIMEOUT=1, REDIS_CONNECT_TIMEOUT=1)
    application = create_app(run_worker=False)
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan():
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await asyncio.wait_for(started.wait(), 30)
    try:
        yield application
    finally:
        stop.set()
        await task


async def _timed_get(browser, path: str, **headers):
    began = time.monotonic()
    response = await asyncio.wait_for(browser.get(path, headers=headers), 20)
    return response, time.monotonic() - began


async def test_confirmation_clicks_while_redis_is_down_get_the_french_503_then_work(client, smtp, run_jobs,
                                                                                     settings_env):
    await _session()
    await _fill(client)
    await run_jobs()
    first = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    await RegistrationRequest.delete().where(RegistrationRequest.id == first["id"])
    paths = await _awaiting(first, 3)

    own = OwnRedis()
    own.start()
    try:
        async with app_on(own, settings_env) as application:
            async with _http_client(application) as browser:
                # The requester came through the wizard: their browser holds a session cookie.
                await browser.get("/inscription")
                browser.cookies.set("session", "a" * 40, domain="testserver.local")
                own.stop()  # Redis down (refused)
                for path in paths:
                    response, took = await _timed_get(browser, path)
                    assert response.status_code == 503, response.text[-500:]
                    assert UNAVAILABLE in text(response.text) and response.headers["retry-after"] == "10"
                    assert "Service momentanément indisponible" in text(response.text) and took < 10
                assert await RegistrationRequest.count().where(
                    RegistrationRequest.status == "awaiting_confirmation") == 3
                own.start()  # back, on the same port: the same click works
                for path in paths:
                    response, _ = await _timed_get(browser, path)
                    assert response.status_code == 200, text(response.text)[:500]
        assert await RegistrationRequest.count().where(RegistrationRequest.status == "confirmed") == 3
    finally:
        own.stop()


async def test_a_frozen_redis_answers_503_within_the_timeout_then_the_same_page_works(client, settings_env):
    own = OwnRedis()
    own.start()
    try:
        async with app_on(own, settings_env) as application:
            async with _http_client(application) as browser:
                await login(browser, "alp001.get")
                assert (await browser.get("/")).status_code == 200
                os.kill(own.process.pid, signal.SIGSTOP)  # frozen: connections accepted, nothing answered
                try:
                    response, took = await _timed_get(browser, "/")
                    assert response.status_code == 503 and took < 8
                    assert UNAVAILABLE in text(response.text) and response.headers["retry-after"] == "10"
                    assert "<html" in response.text.lower()  # a browser gets the whole page
                    partial, took = await _timed_get(browser, "/", **{"HX-Request": "true"})
                    assert partial.status_code == 503 and took < 8 and UNAVAILABLE in text(partial.text)
                    assert "<html" not in partial.text.lower() and partial.headers["hx-retarget"] == "#main"
                finally:
                    os.kill(own.process.pid, signal.SIGCONT)
                page = await browser.get("/")
                assert page.status_code == 200 and "Déconnexion" in text(page.text)
    finally:
        own.stop()


async def test_a_session_write_failing_as_the_page_leaves_gets_the_503_not_a_bare_500(demo, settings_env):
    """A flash message written to the session as the page leaves (« Votre demande a été annulée. »),
    Redis gone: the same French 503 (it was a bare 500), and the same post works once it is back."""
    own = OwnRedis()
    own.start()
    try:
        async with app_on(own, settings_env) as application:
            async with _http_client(application) as browser:
                await browser.get("/connexion")  # the CSRF cookie (no session: a GET writes none)
                own.stop()
                response = await browser.post("/inscription/annuler",
                                              data={"_csrf_token": browser.cookies.get("csrftoken")})
                assert response.status_code == 503, response.text[-300:]
                assert UNAVAILABLE in text(response.text) and response.headers["retry-after"] == "10"
                own.start()
                response = await browser.post("/inscription/annuler",
                                              data={"_csrf_token": browser.cookies.get("csrftoken")})
                assert response.status_code == 303
    finally:
        own.stop()
