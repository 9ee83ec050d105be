"""Issue 24 point 4: the upload of an import file answers at once; a job analyses its rows, the
batch page shows the analysis's progress (refreshing itself without JavaScript, polled with it), then
the preview — or the French reason the analysis refused the file, with the upload form."""

import asyncio

from app.jobs import kinds
from app.services import imports, progress
from app.tables.files import StoredFile
from app.tables.imports import ImportBatch, ImportRow
from app.tables.jobs import JobRun
from tests.helpers import login, post_form, text
from tests.jobs.test_import_accounts import HEADER, _alp001, _upload

LINES = [HEADER, "Valentin;Blondel;Anfh_2025!;v.blondel@example.org;812;", "Béa;Trice;;bea.trice@example.org;1234;",
         "Luc;Sansmail;Luc-2025!;;99;"]


async def _uploaded(client) -> dict:
    await login(client, "alp001.get")
    response = await _upload(client, await _alp001(), LINES, analyse=False)
    assert response.status_code == 303, text(response.text)
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    return await ImportBatch.select().where(ImportBatch.id == batch_id).first()


async def test_the_page_shows_the_analysis_then_the_preview(client, run_jobs, redis_client):
    batch = await _uploaded(client)
    # Stored, not analysed: the request did not analyse the rows.
    assert batch["status"] == "analysing" and batch["total_rows"] == 3
    assert await ImportRow.count().where(ImportRow.batch == batch["id"]) == 0
    run = await JobRun.select().where(JobRun.kind == "analyse_import").first()
    assert run["status"] == "queued" and run["args"] == f"[{batch['id']}, {run_args_file(run)}]"
    assert await StoredFile.exists().where(StoredFile.id == run_args_file(run))

    page = (await client.get(f"/imports/{batch['id']}")).text
    assert '<noscript><meta http-equiv="refresh"' in page  # without JavaScript it comes back by itself
    assert "Analyse du fichier" in text(page) and "En attente de démarrage" in text(page)
    assert "Confirmer l'importation" not in text(page)
    assert "Import en cours d'analyse — comptes.csv (3 ligne(s), ALP001)" in text((await client.get("/")).text)
    partial = await client.get(f"/taches/{batch['token']}", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and 'data-hx-trigger="every 1s"' in partial.text  # polls on

    await run_jobs()
    batch = await ImportBatch.select().where(ImportBatch.id == batch["id"]).first()
    assert batch["status"] == "preview"
    assert await ImportRow.count().where(ImportRow.batch == batch["id"]) == 3
    assert not await StoredFile.exists().where(StoredFile.id == run_args_file(run))  # its rows hold it now
    assert (await JobRun.select(JobRun.status).where(JobRun.id == run["id"]).first())["status"] == "succeeded"
    partial = await client.get(f"/taches/{batch['token']}", headers={"HX-Request": "true"})
    assert partial.status_code == 286 and "Terminé." in text(partial.text)  # stops polling, links the preview
    assert f'href="/imports/{batch["id"]}"' in partial.text and "Voir l'aperçu de l'import" in text(partial.text)
    page = (await client.get(f"/imports/{batch['id']}")).text
    assert "3 prête(s)" in text(page) and "Confirmer l'importation" in text(page)
    assert "alp001.l.sansmail" in text(page) and '<meta http-equiv="refresh"' not in page
    # Decided and confirmed as before: the analysis's token gives way to the import's.
    assert (await post_form(client, f"/imports/{batch['id']}/confirmer")).status_code == 303
    await run_jobs()
    assert "Importation terminée : 3 créé(s)" in text((await client.get(f"/imports/{batch['id']}")).text)


def run_args_file(run: dict) -> int:
    return int(run["args"].strip("[]").split(",")[1])


async def test_a_file_the_analysis_refuses_says_why_with_the_upload_form(client, run_jobs, settings_env):
    batch = await _uploaded(client)
    # The worker's limit is lower than the web's when the file reaches it (a deployment under way).
    settings_env(IMPORT_MAX_ROWS=2)
    await run_jobs()
    refused = await ImportBatch.select().where(ImportBatch.id == batch["id"]).first()
    assert refused["status"] == "refused"
    assert await ImportRow.count().where(ImportRow.batch == batch["id"]) == 0
    assert await StoredFile.count() == 0
    page = (await client.get(f"/imports/{batch['id']}")).text
    assert "Le fichier contient 3 lignes : un import est limité à 2 comptes." in text(page)
    assert f'action="/etablissements/{batch["establishment"]}/import' in page and 'type="file"' in page
    assert "Confirmer l'importation" not in text(page) and '<meta http-equiv="refresh"' not in page
    assert "Import refusé — comptes.csv" in text((await client.get("/")).text)  # the home page's "to do"
    partial = await client.get(f"/taches/{batch['token']}", headers={"HX-Request": "true"})
    assert partial.status_code == 286 and "Le fichier contient 3 lignes" in text(partial.text)
    # Nothing to confirm.
    await post_form(client, f"/imports/{batch['id']}/confirmer")
    assert (await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch["id"]).first())["status"] == "refused"


async def test_two_copies_of_the_analysis_write_one_set_of_rows(client, redis_client):
    """A second worker (or a retry) analysing the same batch at the same time: one batch, its rows once."""
    batch = await _uploaded(client)
    run = await JobRun.select().where(JobRun.kind == "analyse_import").first()
    file_id = run_args_file(run)
    # The same upload submitted again is the same run (its key): nothing new queued.
    assert await kinds.IMPORT_ANALYSIS.submit(redis_client, batch["id"], file_id) is None
    outcomes = await asyncio.gather(*(imports.analyse_upload(redis_client, batch["id"], file_id) for _ in range(3)))
    assert sorted(o.get("rows", 0) for o in outcomes) == [0, 0, 3], outcomes
    assert await ImportBatch.count() == 1
    lines = [r["line"] for r in await ImportRow.select(ImportRow.line).where(ImportRow.batch == batch["id"])]
    assert sorted(lines) == [2, 3, 4]
    assert await imports.analyse_upload(redis_client, batch["id"], file_id) == {"skipped": "not analysing"}
    state = await progress.get(redis_client, batch["token"])
    assert state["state"] == "done" and state["done"] == 3


async def test_an_abandoned_analysis_says_so(client, redis_client):
    """The job layer gives the run up (an operator's abort): the page says the analysis failed."""
    from app.jobs import durable
    from app.jobs.worker import BOUND

    batch = await _uploaded(client)
    run = await JobRun.select().where(JobRun.kind == "analyse_import").first()
    assert await durable.abort(redis_client, [run["id"]], None, "test", bound=BOUND) == 1
    page = text((await client.get(f"/imports/{batch['id']}")).text)
    assert "L'analyse du fichier n'a pas abouti (Arrêté par un opérateur.)" in page
    assert "Choisir un fichier" in page


async def test_an_analysis_that_fails_its_last_try_gives_the_upload_form_back(client, run_jobs, settings_env,
                                                                               monkeypatch):
    """A bug in the analysis (not a refusal) on every try: once the job layer gives up, the batch
    says so with the upload form, instead of « analysing » for ever (the review of issue 24)."""
    import sys

    upload = sys.modules["app.services.imports.upload"]  # the package names a function « upload » too
    batch = await _uploaded(client)
    settings_env(JOBS_RETRY_BASE="0.05")

    async def broken(*args, **kwargs):
        raise RuntimeError("a bug in the analysis")

    monkeypatch.setattr(upload, "analyse", broken)
    for _ in range(20):
        await run_jobs()
        run = await JobRun.select(JobRun.status, JobRun.tries).where(JobRun.kind == "analyse_import").first()
        if run["status"] == "failed":
            break
        await asyncio.sleep(0.2)
    assert run["status"] == "failed" and run["tries"] == 3
    refused = await ImportBatch.select().where(ImportBatch.id == batch["id"]).first()
    assert refused["status"] == "refused"
    page = text((await client.get(f"/imports/{batch['id']}")).text)
    assert "L'analyse du fichier n'a pas abouti (Échec après 3 essai(s).) : déposez-le de nouveau." in page
    assert "Analyse du fichier" not in page


async def test_another_manager_sees_the_analysis_without_a_progress_box_they_cannot_follow(client, run_jobs):
    """The progress box polls /taches/<token>, which answers the uploader alone: another manager of
    the establishment (here an administrator) got a bar frozen at 0 %. Their page refreshes itself."""
    batch = await _uploaded(client)
    await login(client, "admin")
    page = (await client.get(f"/imports/{batch['id']}")).text
    assert "Analyse du fichier en cours (3 ligne(s))… La page se met à jour d'elle-même." in text(page)
    assert f"/taches/{batch['token']}" not in page
    assert '<meta http-equiv="refresh" content="3">' in page and "<noscript><meta" not in page
    await run_jobs()
    page = (await client.get(f"/imports/{batch['id']}")).text
    assert "Confirmer l'importation" in text(page) and 'http-equiv="refresh"' not in page


async def test_the_same_file_posted_twice_at_once_is_one_batch(client, new_client, run_jobs):
    """A double submit (a double click, two tabs) of the same file by the same person: one batch, one
    analysis; both requests land on its page, the second told why in French. Another person, or a
    different file, makes a batch of its own; so does the same file once its import is confirmed."""
    await login(client, "alp001.get")
    establishment = await _alp001()
    answers = await asyncio.gather(*(_upload(client, establishment, LINES, analyse=False) for _ in range(2)))
    assert [a.status_code for a in answers] == [303, 303], [text(a.text)[:300] for a in answers]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    assert await ImportBatch.count() == 1
    assert await JobRun.count().where(JobRun.kind == "analyse_import") == 1
    assert await StoredFile.count() == 1
    # (The flash of the second may be lost to the first's session write: two requests of one browser
    # at once. A browser shows the last answer anyway.)

    await run_jobs()  # the preview: a third post of the file, later, still finds it, and says so
    again = await _upload(client, establishment, LINES, analyse=False)
    assert again.headers["location"] == answers[0].headers["location"] and await ImportBatch.count() == 1
    page = text((await client.get(again.headers["location"])).text)
    assert "Ce fichier vient déjà d'être déposé : voici son import" in page and "Confirmer l'importation" in page
    other = await _upload(client, establishment, [*LINES, "Ana;Lyse;;ana.lyse@example.org;77;"], analyse=False)
    assert other.status_code == 303 and await ImportBatch.count() == 2
    async with new_client() as admin:
        await login(admin, "admin")
        assert (await _upload(admin, establishment, LINES, analyse=False)).status_code == 303
    assert await ImportBatch.count() == 3

    batch_id = int(answers[0].headers["location"].rsplit("/", 1)[1])
    assert (await post_form(client, f"/imports/{batch_id}/confirmer")).status_code == 303
    anew = await _upload(client, establishment, LINES, analyse=False)  # imported on purpose once more
    assert anew.status_code == 303 and anew.headers["location"] != answers[0].headers["location"]
    assert await ImportBatch.count() == 4
