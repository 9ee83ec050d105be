"""Simultaneous misses of the analytics dashboard (issue 24, point 3), on bench/analytics.py's data
(100,000 users, 300,000 enrolments, 1,000,000 completions; BENCH_SCALE as that bench).

MISSES requests (each its own Redis connection, as requests of several web processes and hosts)
ask for the network's dashboard at the moment its cache expired:
- as before issue 24, each computes it (MISSES builds at once);
- through app/cache.py, one computes and the others wait for its figures.
Reports how many computed and when the last request had its figures.
Run: BENCH_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/cache_stampede.py
"""

import asyncio
import os
import time

import _setup
from analytics import SEED, SUMMARY, counts, sql

MISSES, RUNS = _setup.scale((8, 3), (3, 1))


async def _everyone_at_once(ask) -> tuple[float, list]:
    started = time.perf_counter()
    results = await asyncio.gather(*(ask(i) for i in range(MISSES)))
    return (time.perf_counter() - started) * 1000, results


async def main():
    from redis.asyncio import Redis

    from app import db
    from app.demo import load_demo
    from app.services import analytics
    from app.services.scope import Scope

    await db.open_pool()
    await load_demo(with_sessions=False)
    for statement in SEED + SUMMARY:
        await sql(statement)
    print(f"(machine load average {' '.join(open('/proc/loadavg').read().split()[:3])} — shared with other work)")
    print(f"Data: {await counts()}")
    everything = Scope(everything=True, establishment_ids=frozenset(), delegation_ids=frozenset())
    key = analytics.cache_key(everything, analytics.Filters())
    connections = [Redis.from_url(os.environ["REDIS_URL"]) for _ in range(MISSES)]
    try:
        for run in range(RUNS):
            alone = (await analytics.build(everything, analytics.Filters()))["compute_ms"]
            before, built = await _everyone_at_once(lambda i: analytics.build(everything, analytics.Filters()))
            await connections[0].delete(key)
            after, results = await _everyone_at_once(
                lambda i: analytics.dashboard(connections[i], everything, analytics.Filters()))
            computed = sum(not r["cached"] for r in results)
            _setup.check(computed == 1, f"{computed} computes for {MISSES} simultaneous misses")
            _setup.check(len({r["computed_at"] for r in results}) == 1, "not all the same figures")
            print(f"  run {run + 1}: one compute alone {alone:.0f} ms; {MISSES} misses at once — each computing: "
                  f"{MISSES} computes, all answered in {before:.0f} ms (slowest compute "
                  f"{max(b['compute_ms'] for b in built):.0f} ms); single flight: {computed} compute, all answered "
                  f"in {after:.0f} ms")
    finally:
        await connections[0].delete(key)
        for c in connections:
            await c.aclose()
    await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
