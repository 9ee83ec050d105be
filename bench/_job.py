"""One job in a process of its own, for _setup.in_fresh_process: ``_job.py package.module:function
'[json args]'`` runs ``await function({"redis": ...}, *args)`` on the bench's database (BENCH_DB_NAME,
inherited) and prints, last, one JSON line: the job's result, its time (imports and connections left
out), this process's high-water mark (VmHWM: getrusage's ru_maxrss of a process just exec'd holds the
RSS of the parent it was forked from), getrusage's of its largest finished child, and the CPU the
bench database's PostgreSQL backends spent during the job (the bench's own idle ones add nothing)."""

import asyncio
import importlib
import json
import resource
import sys
import time

import _setup  # noqa: F401  (the environment first: the bench's database and Redis)


async def main(target: str, args: list):
    from app import db, queue

    module, name = target.split(":")
    function = getattr(importlib.import_module(module), name)
    await db.open_pool()
    redis = await queue.connect()
    try:
        backends = _setup.Work.cpu_of_backends()
        started, cpu = time.perf_counter(), time.process_time()
        result = await function({"redis": redis}, *args)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu  # every thread of this process, imports and connections left out
        # Before the pool closes: the backends the job used are still there (new ones counted whole).
        after = _setup.Work.cpu_of_backends()
        return result, seconds, cpu, sum(used - backends.get(pid, 0.0) for pid, used in after.items())
    finally:
        await redis.aclose()
        await db.close_pool()


if __name__ == "__main__":
    result, seconds, job_cpu, pg_cpu = asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"result": result, "seconds": seconds, "cpu": own.ru_utime + own.ru_stime,
                      "children_cpu": children.ru_utime + children.ru_stime, "pg_cpu": pg_cpu, "job_cpu": job_cpu,
                      "self_kb": int(status["VmHWM"].split()[0]),
                      "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
