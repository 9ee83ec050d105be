"""The BPF of a year computed by a separate `tremplin worker` process (production shape, issue 23):
the admin asks from the app, the worker computes and keeps the figures, the progress page links to them."""

from app.tables.quality import YearReport
from tests import processes
from tests.helpers import login, post_form, text
from tests.services.test_bpf import YEAR, build


async def test_bpf_job_runs_in_a_separate_worker_process(client):
    await build()
    worker, log = processes.start(processes.WORKER, "tremplin-worker-bpf.log")
    try:
        await login(client, "admin")
        response = await post_form(client, "/bpf/calculer", {"year": str(YEAR)})
        assert response.status_code == 303
        job_url = response.headers["location"]

        async def finished():
            partial = await client.get(job_url, headers={"HX-Request": "true"})
            assert "Échec" not in text(partial.text), text(partial.text)
            return partial.status_code == 286 and "Terminé." in text(partial.text)

        await processes.until(finished, "the BPF job", "tremplin-worker-bpf.log")
        assert await YearReport.count().where(YearReport.year == YEAR) == 2
        page = text((await client.get(f"/bpf/?year={YEAR}")).text)
        assert "Total (F-1) 6 26" in page
    finally:
        processes.stop(worker, log)
