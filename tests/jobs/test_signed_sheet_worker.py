"""The seal_slot_sheet job (issue 22) in the production shape: queued by the closing's ``after_close``
in this process, run by a separate `tremplin worker` process sharing only PostgreSQL and Redis, which
renders the signed sheet in its render pool, keeps it and records its SHA-256."""

import hashlib

from app.jobs import kinds
from app.services.signing import sheet
from app.tables.evidence import SlotClosure
from app.services import files
from app.tables.jobs import JobRun
from tests import processes
from tests._closures import closed_slot
from tests.services.test_certificates import pdf_text


async def test_a_separate_worker_process_seals_the_sheet_of_a_closed_slot(demo):
    built = await closed_slot(learners=4, excused=(2,))
    worker, log = processes.start(processes.WORKER, "tremplin-worker-sheet.log")
    try:
        await sheet.after_close(built.slot_id)  # its own Redis connection, as after a commit

        async def sealed():
            run = await JobRun.select(JobRun.status, JobRun.error).where(JobRun.kind == kinds.SLOT_SHEET.name).first()
            assert run is not None and run["status"] != "failed", run
            return run["status"] == "succeeded"

        await processes.until(sealed, "the signed sheet's job", "tremplin-worker-sheet.log")
    finally:
        processes.stop(worker, log)
    closure = await SlotClosure.select().where(SlotClosure.slot == built.slot_id).first()
    pdf = await files.content(closure["file"])
    assert hashlib.sha256(pdf).hexdigest() == closure["pdf_sha256"]
    assert all(name in pdf_text(pdf) for name in built.names)
    # What this process renders is what the worker kept: the same bytes.
    assert await sheet.render(await sheet.closure_of(built.slot_id)) == pdf
