"""One job in a process of its own, for _setup.in_fresh_process: ``_job.py package.module:function
'[json args]'`` runs ``await function({"redis": ...}, *args)`` on the bench's database (BENCH_DB_NAME,
inherited) and prints, last, one JSON line: the job's result and getrusage's high-water marks of this
process and of its children."""

import asyncio
import importlib
import json
import resource
import sys

import _setup  # noqa: F401  (the environment first: the bench's database and Redis)


async def main(target: str, args: list):
    from app import db, queue

    module, name = target.split(":")
    function = getattr(importlib.import_module(module), name)
    await db.open_pool()
    redis = await queue.connect()
    try:
        return await function({"redis": redis}, *args)
    finally:
        await redis.aclose()
        await db.close_pool()


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
    print(json.dumps({"result": result,
                      "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
