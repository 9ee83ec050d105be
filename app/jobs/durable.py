"""The job layer: a job kind declared once, its runs recorded in ``JobRun`` (SPEC G1, G2).

A tracked kind writes a ``JobRun`` row when it is submitted — in the caller's transaction when one
is open (the outbox pattern: the row commits or rolls back with the work it stands for) — and is
handed to arq once that transaction has committed. A durable kind's runs are also re-enqueued by
the sweep while they wait (Redis refused the job, lost it, or the worker running it died).

The arq job of a run is ``run:<run id>:<suffix>``; the suffix differs for each hand-over ("0" the
first, "s<epoch>" a sweep's, "r<action id>" an operator's retry), so arq never drops a new hand-over
as a duplicate of an old one. Whatever the number of copies in Redis, the run executes once at a
time: the wrapper claims the row (queued/deferred → running) before calling the job function and
skips a run that is aborted, succeeded, failed or held by a live worker. Every job function is
idempotent besides (docs: ARCHITECTURE.md, Jobs).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Awaitable, Callable, Mapping
from uuid import uuid4

from arq import Retry
from arq import func as arq_func
from arq.constants import abort_jobs_ss
from arq.utils import timestamp_ms

from app import db
from app.bulk import bulk_insert
from app.dates import now
from app.numbers import number_fr
from app.jobs.redaction import redact
from app.queue import enqueue, enqueue_many
from app.settings import get_settings
from app.tables.jobs import JobAction, JobRun, JobStatus

log = logging.getLogger(__name__)

WAITING = [JobStatus.queued.value, JobStatus.deferred.value]
FINISHED = [JobStatus.succeeded.value, JobStatus.failed.value, JobStatus.aborted.value]
# A run still "running" this long past its kind's timeout has lost its worker.
STALE_GRACE = 5.0
# Host and pid, and a part of this process's own: a container restarted keeps its hostname and its
# pid 1, and the new process must not beat for the runs its dead predecessor held.
WORKER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
DIED = "Interrompu : le worker s'est arrêté ou le délai d'exécution est dépassé ({tries} essai(s))."
ABORTED = "Arrêté par un opérateur."
FAILED = "Échec après {tries} essai(s)."

GiveUp = Callable[[list[list], str], Awaitable[Any]]


def job_id(run_id: int, suffix: str) -> str:
    return f"run:{run_id}:{suffix}"


def run_id_of(arq_job_id: str | None) -> int | None:
    """The run of an arq job id ``run:<id>:<suffix>``; None for any other job (cron, mail)."""
    if not arq_job_id or not arq_job_id.startswith("run:"):
        return None
    head = arq_job_id[4:].split(":", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class JobKind:
    """One kind of background job, declared once in app/jobs/kinds.py — without its function, which
    the worker binds (app/jobs/worker.py, ``Bound``): services import the declarations to submit.

    ``key``: builds the run's deduplication key from the job's arguments (one run per key; a second
    submit with the same key is ignored); None: every submit is a new run.
    ``tracked``: a JobRun row records each run (the dashboard's history). ``durable``: the sweep
    re-enqueues its runs while they wait (a tracked kind that is not durable is a user's request
    nobody waits for after a failure — an export). An untracked kind (mail: its own outbox row is
    the durable record) is a plain arq job.
    """

    name: str
    key: Callable[..., str] | None = None
    durable: bool = True
    tracked: bool = True
    max_tries: int = 3
    timeout: float = 600
    options: dict = field(default_factory=dict)  # arq's own (keep_result, …) for the untracked kinds

    def __post_init__(self):
        if self.durable and not self.tracked:
            raise ValueError(f"{self.name}: a durable job kind is tracked")

    # -- submitting ---------------------------------------------------------------------------
    async def submit(self, redis, *args, created_by: int | None = None) -> int | None:
        """Record a run of this kind with these arguments and hand it to arq once the caller's
        transaction has committed (at once outside a transaction). Returns the run's id, or None
        when a run with the same key exists already (nothing new is queued).

        If arq cannot take it (Redis down), the run stays queued for the sweep and nothing is
        raised: the caller's work is committed and will be done."""
        if not self.tracked:
            raise TypeError(f"{self.name} is not tracked: use enqueue()")
        run_id = await record(self, list(args), created_by)
        if run_id is None:
            return None

        async def hand_over() -> None:
            await hand_to_arq(redis, [{"id": run_id, "kind": self.name, "args": list(args), "run_at": None}], "0")

        if not db.after_commit(hand_over) and not db.in_transaction():
            await hand_over()
        return run_id

    async def enqueue(self, redis, *args, _job_id: str | None = None, **arq_options):
        """An untracked kind (a mail send): straight to arq, as before the job layer."""
        if self.tracked:
            raise TypeError(f"{self.name} is tracked: use submit()")
        return await enqueue(redis, self.name, *args, _job_id=_job_id, **arq_options)

    # -- running ------------------------------------------------------------------------------
    def effective_timeout(self) -> float:
        return get_settings().jobs.timeout or self.timeout


@dataclass(frozen=True)
class Bound:
    """A declared kind bound to its job function, in the worker (app/jobs/worker.py ``BOUND``, the one
    place). ``on_give_up``: called with the arguments of runs that end without their function having
    recorded it (the worker died on the last try, an operator aborted, the last try raised) and a French reason: the
    work's own status (an import batch) must not say "running" for ever. Set-based: a list of
    argument lists."""

    kind: JobKind
    function: Callable[..., Awaitable[Any]]
    on_give_up: GiveUp | None = None

    def arq_function(self):
        kind, timeout = self.kind, self.kind.effective_timeout()
        if not kind.tracked:
            return arq_func(self.function, name=kind.name, timeout=timeout, max_tries=kind.max_tries, **kind.options)

        async def run(ctx, *args):
            return await _run_tracked(self, ctx, args)

        run.__qualname__ = run.__name__ = kind.name
        # arq's own timeout backs ours up (ours records the failure); its tries are per arq job id,
        # ours per run: it must not refuse a try the run still has.
        return arq_func(run, name=kind.name, timeout=timeout + 10, max_tries=kind.max_tries + 2, **kind.options)


# Every declared kind by name, bound (app/jobs/worker.py BOUND): what the operations on recorded runs
# below need to know (which kinds exist, their timeouts, their give-up hooks).
Bindings = Mapping[str, Bound]


# -- the JobRun rows -------------------------------------------------------------------------------
# One statement, compiled once: the per-enqueue cost of the layer (bench/bench_jobs_enqueue.py) is
# this INSERT; Piccolo's object and query building cost as much again, measured.
_INSERT_PG = (
    "INSERT INTO job_run (kind, job_key, args, status, tries, max_tries, enqueued_at, worker, result, error, "
    "created_by, created_at) VALUES ({}, {}, {}, 'queued', 0, {}, {}, '', '', '', {}, {}) "
    "ON CONFLICT (job_key) DO NOTHING RETURNING id"
)


async def record(kind: JobKind, args: list, created_by: int | None = None) -> int | None:
    """Write the run (in the current transaction if one is open). None if its key is taken."""
    key = (kind.key(*args) if kind.key else f"{kind.name}:{uuid4().hex}")[:200]
    t = now()
    if not db.is_sqlite():
        rows = await JobRun.raw(_INSERT_PG, kind.name, key, json.dumps(args), kind.max_tries, t, created_by, t)
    else:
        rows = await JobRun.insert(JobRun(
            kind=kind.name, job_key=key, args=json.dumps(args), status=JobStatus.queued.value,
            max_tries=kind.max_tries, enqueued_at=t, created_by=created_by, created_at=t,
        )).on_conflict(target=JobRun.job_key, action="DO NOTHING").returning(JobRun.id)
    return rows[0]["id"] if rows else None


# -- which arq jobs stand for a run ---------------------------------------------------------------
# The arq job ids a run was handed over as, beside the queue (a Redis set per run): the sweep and the
# abort look up their few candidates there and then ask the queue for those ids only (ZMSCORE), where
# reading the whole queue (ZRANGE 0 -1) every sweep costs thousands of entries after a large import.
# A run whose set expired or was lost (Redis flushed) reads as "not on the queue": the sweep hands it
# over again, and the claim makes that extra copy harmless.
HANDED_TTL = 7 * 24 * 3600
LOOKUP_CHUNK = 1000


def _handed_key(run_id: int) -> str:
    return f"{get_settings().redis.queue_name}:run:{run_id}"


async def _note_handed(redis, handed: list[tuple[int, str]]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for run_id, arq_job_id in handed:
            pipe.sadd(_handed_key(run_id), arq_job_id)
            pipe.expire(_handed_key(run_id), HANDED_TTL)
        await pipe.execute()


async def _queued_jobs(redis, run_ids: list[int]) -> dict[int, list[str]]:
    """The arq jobs of these runs that arq's queue holds (waiting, deferred or running), by run: one
    pipeline of SMEMBERS and one ZMSCORE per chunk of runs, whatever the length of the queue."""
    found: dict[int, list[str]] = {}
    queue_name = get_settings().redis.queue_name
    for start in range(0, len(run_ids), LOOKUP_CHUNK):
        chunk = run_ids[start:start + LOOKUP_CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for run_id in chunk:
                pipe.smembers(_handed_key(run_id))
            handed = await pipe.execute()
        members = [(run_id, m.decode() if isinstance(m, bytes) else m) for run_id, ms in zip(chunk, handed) for m in ms]
        if not members:
            continue
        scores = await redis.zmscore(queue_name, [m for _, m in members])
        for (run_id, member), score in zip(members, scores):
            if score is not None:
                found.setdefault(run_id, []).append(member)
    return found


async def hand_to_arq(redis, runs: list[dict], suffix: str) -> int:
    """Put these runs (id, kind, args, run_at) on arq's queue; returns how many. A Redis failure
    is logged, not raised: the runs are in the database and the sweep enqueues them later."""
    if not runs:
        return 0
    try:
        sent = await enqueue_many(redis, [
            (run["kind"], run["args"], job_id(run["id"], suffix), run.get("run_at")) for run in runs])
        await _note_handed(redis, [(run["id"], job_id(run["id"], suffix)) for run in runs])
        return sent
    except Exception:  # noqa: BLE001 - Redis is a transport: the row is the truth, the sweep retries
        log.warning("could not hand runs %s to arq; the sweep will", [r["id"] for r in runs][:20], exc_info=True)
        return 0


async def dispatch(redis, run_ids: list[int], suffix: str, bound: Bindings) -> int:
    """(Re-)enqueue these runs as they are in the database (one query to read them); the caller
    has set their status (queued). Returns how many arq accepted (0 if Redis is down: the sweep
    catches up). The operations dashboard's retry and ``tremplin jobs retry`` call it."""
    if not run_ids:
        return 0
    runs = []
    for start in range(0, len(run_ids), 5000):
        runs += await JobRun.select(JobRun.id, JobRun.kind, JobRun.args, JobRun.run_at).where(
            db.among(JobRun.id, run_ids[start:start + 5000]))
    for run in runs:
        run["args"] = json.loads(run["args"] or "[]")
    return await hand_to_arq(redis, [r for r in runs if r["kind"] in bound], suffix)


async def retry(redis, run_ids: list[int], actor_id: int | None, detail: str, bound: Bindings) -> int:
    """Operator retry: every try again (tries 0), queued now, the last error kept; one JobAction
    per run; then dispatched. Returns how many runs. Set-based (no query per run)."""
    if not run_ids:
        return 0
    t = now()
    runs = []
    for start in range(0, len(run_ids), 5000):
        runs += await JobRun.update({
            JobRun.status: JobStatus.queued.value, JobRun.tries: 0, JobRun.finished_at: None, JobRun.enqueued_at: t,
            JobRun.run_at: None,
        }).where(db.among(JobRun.id, run_ids[start:start + 5000]) & JobRun.status.is_in(
            [JobStatus.failed.value, JobStatus.aborted.value])).returning(JobRun.id, JobRun.kind, JobRun.args)
    if not runs:
        return 0
    await bulk_insert(JobAction, [JobAction.run, JobAction.action, JobAction.actor, JobAction.detail,
                                  JobAction.created_at], [(r["id"], "retry", actor_id, detail, t) for r in runs])
    # What dispatch() would read, the UPDATE returned: handed over without another query.
    for run in runs:
        run["args"], run["run_at"] = json.loads(run["args"] or "[]"), None
    await hand_to_arq(redis, [r for r in runs if r["kind"] in bound], f"c{int(t.timestamp() * 1000)}")
    return len(runs)


async def _give_up(bound: Bindings, runs: list[dict], reason: str) -> None:
    """The kinds' ``on_give_up`` for these runs (kind, args), one call per kind."""
    by_kind: dict[str, list[list]] = {}
    for run in runs:
        by_kind.setdefault(run["kind"], []).append(json.loads(run["args"] or "[]"))
    for kind, args in by_kind.items():
        hook = bound[kind].on_give_up if kind in bound else None
        if hook is not None:
            try:
                await hook(args, reason)
            except Exception:  # noqa: BLE001 - the run is recorded; its work's status is best effort
                log.exception("on_give_up of %s failed", kind)


async def abort(redis, run_ids: list[int], actor_id: int | None, detail: str = "", *, bound: Bindings) -> int:
    """Operator abort of queued, deferred or running runs: status aborted (the claim then skips any
    copy arq still holds), arq's ``Job.abort()`` for the running ones (the worker cancels the task;
    it needs ``allow_abort_jobs``, which the worker sets), one JobAction per run, and the kinds'
    ``on_give_up``. Returns how many runs were aborted."""
    if not run_ids:
        return 0
    t = now()
    runs = []
    for start in range(0, len(run_ids), 5000):
        runs += await JobRun.update({JobRun.status: JobStatus.aborted.value, JobRun.finished_at: t}).where(
            db.among(JobRun.id, run_ids[start:start + 5000])
            & JobRun.status.is_in([*WAITING, JobStatus.running.value])).returning(JobRun.id, JobRun.kind, JobRun.args)
    if not runs:
        return 0
    await bulk_insert(JobAction, [JobAction.run, JobAction.action, JobAction.actor, JobAction.detail,
                                  JobAction.created_at], [(r["id"], "abort", actor_id, detail, t) for r in runs])
    await _give_up(bound, runs, ABORTED)
    # What arq's Job.abort() writes, for every copy of these runs on the queue, in one pipeline
    # (Job.abort() then waits for each result): the worker cancels the running one.
    aborted = {r["id"] for r in runs}
    try:
        mine = [m for members in (await _queued_jobs(redis, sorted(aborted))).values() for m in members]
        if mine:
            await redis.zadd(abort_jobs_ss, {m: timestamp_ms() for m in mine})
    except Exception:  # noqa: BLE001 - the status is aborted: any copy that starts is skipped
        log.warning("arq abort of runs %s not written", sorted(aborted)[:20], exc_info=True)
    return len(runs)


# -- the wrapper around every tracked job function ---------------------------------------------
def backoff(tries: int) -> float:
    return get_settings().jobs.retry_base * (2 ** max(0, tries - 1))


async def _claim(run_id: int, kind: JobKind) -> dict | None:
    """queued/deferred → running (or a running run whose worker died, while it has tries left)."""
    t = now()
    stale = t - timedelta(seconds=kind.effective_timeout() + STALE_GRACE)
    rows = await JobRun.update({
        JobRun.status: JobStatus.running.value, JobRun.tries: JobRun.tries + 1, JobRun.started_at: t,
        JobRun.finished_at: None, JobRun.worker: WORKER[:200], JobRun.heartbeat_at: t,
    }).where(
        (JobRun.id == run_id)
        & (JobRun.status.is_in(WAITING)
           | ((JobRun.status == JobStatus.running.value) & (JobRun.started_at < stale)
              & (JobRun.tries < JobRun.max_tries)))
    ).returning(JobRun.tries, JobRun.max_tries)
    return rows[0] if rows else None


async def _finish(run_id: int, tries: int, values: dict) -> None:
    # Only the try that holds the run writes its outcome: not an aborted run, not a run another
    # worker took over meanwhile.
    await JobRun.update(values).where(
        (JobRun.id == run_id) & (JobRun.tries == tries) & (JobRun.status == JobStatus.running.value))


def _summary(result) -> str:
    if result is None:
        return ""
    text = json.dumps(result, default=str, ensure_ascii=False) if isinstance(result, (dict, list)) else str(result)
    return str(redact(text))[:1000]


async def _run_tracked(bound: Bound, ctx: dict, args: tuple):
    kind = bound.kind
    run_id = run_id_of(ctx.get("job_id"))
    if run_id is None:  # enqueued by name, outside the job layer (a job queued before it existed)
        return await bound.function(ctx, *args)
    claimed = await _claim(run_id, kind)
    if claimed is None:
        return "skipped"  # aborted, finished, or running elsewhere: this copy has nothing to do
    tries = claimed["tries"]
    try:
        async with asyncio.timeout(kind.effective_timeout()):
            result = await bound.function(ctx, *args)
    except asyncio.CancelledError:
        # The worker stops (or an operator aborted: the status says so already): the run waits
        # again, for arq's own retry or the sweep; this try counts.
        await asyncio.shield(_finish(run_id, tries, {JobRun.status: JobStatus.queued.value,
                                                     JobRun.enqueued_at: now()}))
        raise
    except Exception as exc:  # noqa: BLE001 - recorded, then retried or failed
        error = redact(traceback.format_exc())[-20000:]
        if isinstance(exc, TimeoutError):
            error = f"Délai d'exécution dépassé ({number_fr(kind.effective_timeout())} s).\n{error}"
        if tries < claimed["max_tries"]:
            delay = backoff(tries)
            await _finish(run_id, tries, {JobRun.status: JobStatus.deferred.value, JobRun.error: error,
                                          JobRun.run_at: now() + timedelta(seconds=delay), JobRun.enqueued_at: now()})
            raise Retry(defer=delay) from exc
        await _finish(run_id, tries, {JobRun.status: JobStatus.failed.value, JobRun.error: error,
                                      JobRun.finished_at: now()})
        # Its work's status (an import batch « analysing », a progress « en cours ») says it ended.
        await _give_up({kind.name: bound}, [{"kind": kind.name, "args": json.dumps(list(args))}],
                       FAILED.format(tries=tries))
        raise
    await _finish(run_id, tries, {JobRun.status: JobStatus.succeeded.value, JobRun.result: _summary(result),
                                  JobRun.finished_at: now()})
    return result


# -- the worker's heartbeat ---------------------------------------------------------------------
async def beat(worker: str = WORKER) -> int:
    """This worker is alive: the runs it holds say so (one UPDATE whatever their number). On
    PostgreSQL through a connection of its own, not the pool: jobs holding every pooled connection (a
    long import's transaction, syncs waiting on its lock) must not silence a live worker."""
    if db.is_sqlite():
        rows = await JobRun.update({JobRun.heartbeat_at: now()}).where(
            (JobRun.status == JobStatus.running.value) & (JobRun.worker == worker[:200])).returning(JobRun.id)
        return len(rows)
    connection = await db.engine().get_new_connection()
    try:
        done = await connection.execute("UPDATE job_run SET heartbeat_at = $1 WHERE status = $2 AND worker = $3",
                                        now(), JobStatus.running.value, worker[:200])
    finally:
        await connection.close()
    return int(done.rsplit(" ", 1)[-1])


async def heartbeat_forever() -> None:
    """The worker's heartbeat task (started with the worker, cancelled when it stops): every
    ``JOBS_HEARTBEAT_SECONDS`` its running runs' ``heartbeat_at`` is renewed. A worker killed
    (SIGKILL, the host gone) stops beating; the sweep then hands its runs over."""
    every = get_settings().jobs.heartbeat_every
    while True:
        try:
            await beat()
        except Exception:  # noqa: BLE001 - the database is away: beat again next time
            log.warning("worker heartbeat not written", exc_info=True)
        await asyncio.sleep(every)


# -- the sweep and the purge (crons) -----------------------------------------------------------
async def sweep(redis, bound: Bindings) -> dict:
    """Enqueue again the durable runs still waiting (handed to arq more than ``requeue_after``
    seconds ago and not on its queue; deferred ones past their time) and those whose worker died
    (its heartbeat silent for ``worker_dead_after`` seconds, or running past their timeout); fail
    the latter when they have no try left. Each run at most once per sweep; the claim makes extra
    copies harmless. Returns the counts."""
    settings = get_settings().jobs
    t = now()
    waited = t - timedelta(seconds=settings.requeue_after)
    silent = t - timedelta(seconds=settings.worker_dead_after)
    kinds = {name: b.kind for name, b in bound.items()}
    durable = [k.name for k in kinds.values() if k.durable]
    shortest = min((kinds[k].effective_timeout() for k in durable), default=0)
    candidates = await JobRun.select(
        JobRun.id, JobRun.kind, JobRun.args, JobRun.status, JobRun.run_at, JobRun.started_at, JobRun.tries,
        JobRun.max_tries, JobRun.heartbeat_at,
    ).where(
        JobRun.kind.is_in(durable or [""]) & (
            (JobRun.status.is_in(WAITING) & (JobRun.enqueued_at < waited)
             & (JobRun.run_at.is_null() | (JobRun.run_at < waited)))
            | ((JobRun.status == JobStatus.running.value)
               & ((JobRun.started_at < t - timedelta(seconds=shortest + STALE_GRACE))
                  | (JobRun.heartbeat_at < silent)
                  | (JobRun.heartbeat_at.is_null() & (JobRun.started_at < silent)))))
    ).order_by(JobRun.id).limit(5000)
    if not candidates:
        return {"enqueued": 0, "failed": 0}
    on_queue = await _queued_jobs(redis, [r["id"] for r in candidates if r["status"] != JobStatus.running.value])
    again, dead, lost = [], [], []
    for run in candidates:
        if run["status"] == JobStatus.running.value:
            timed_out = run["started_at"] < t - timedelta(seconds=kinds[run["kind"]].effective_timeout() + STALE_GRACE)
            if not timed_out and (run["heartbeat_at"] or run["started_at"]) >= silent:
                continue  # within its own timeout, and its worker is alive
            (again if run["tries"] < run["max_tries"] else dead).append(run)
        elif run["id"] not in on_queue:
            lost.append(run)
    given_up = []
    for tries in sorted({r["tries"] for r in dead}):
        given_up += await JobRun.update({JobRun.status: JobStatus.failed.value, JobRun.finished_at: t,
                                         JobRun.error: DIED.format(tries=tries)}).where(
            JobRun.id.is_in([r["id"] for r in dead if r["tries"] == tries])
            & (JobRun.status == JobStatus.running.value) & (JobRun.tries == tries)).returning(JobRun.kind, JobRun.args)
    await _give_up(bound, given_up, DIED.format(tries=max((r["tries"] for r in dead), default=0)))
    # The worker that held them is gone: they wait again (the claim takes them from here).
    resumed = []
    for start in range(0, len(again), 5000):
        chunk = again[start:start + 5000]
        resumed += [r["id"] for r in await JobRun.update({JobRun.status: JobStatus.queued.value, JobRun.enqueued_at: t})
                    .where(JobRun.id.is_in([r["id"] for r in chunk]) & (JobRun.status == JobStatus.running.value)
                           & (JobRun.started_at <= max(r["started_at"] for r in chunk))).returning(JobRun.id)]
    if lost:
        await JobRun.update({JobRun.enqueued_at: t}).where(JobRun.id.is_in([r["id"] for r in lost]))
    runs = [r for r in again if r["id"] in set(resumed)] + lost
    for run in runs:
        run["args"] = json.loads(run["args"] or "[]")
        run["run_at"] = None
    enqueued = await hand_to_arq(redis, runs, f"s{int(t.timestamp())}")
    if runs or dead:
        log.info("job sweep: %d run(s) enqueued again, %d failed (worker gone)", enqueued, len(dead))
    return {"enqueued": enqueued, "failed": len(dead)}


async def purge(older_than: timedelta | None = None) -> int:
    """Delete the finished runs older than ``older_than`` (default: the kept days). One DELETE."""
    older_than = older_than or timedelta(days=get_settings().jobs.keep_days)
    rows = await JobRun.delete().where(
        JobRun.status.is_in(FINISHED) & (JobRun.finished_at < now() - older_than)).returning(JobRun.id)
    return len(rows)
