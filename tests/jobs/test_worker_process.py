"""Production shape for the jobs (issue 8 "done means", issue 11 defects 1 and 2): a separate
`tremplin worker` process, which shares nothing with the app but PostgreSQL and Redis (same
DATABASE_URL, REDIS_URL and QUEUE_NAME as the test), runs the large Excel exports — of a list the
app once defined in a controller too — the account import (the analysis of the uploaded file, then
the import) and the content import; and arq's own command, given Tremplin's WorkerSettings, works
Tremplin's queue."""

import dataclasses
import io
import sys
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

from app import db
from app.services import outbox
from app.tables.accounts import User
from app.tables.catalogue import ContentImport, CourseTemplate, SessionActivity, TrainingSession
from app.tables.imports import ImportBatch
from app.tables.org import Establishment
from app.tables.outbox import Mail
from app.tables.registration import RegistrationRequest
from tests import processes
from tests.helpers import csrf_token, login, post_form, text

EVIL = "=cmd|' /C calc'!A0"


async def _export_through_the_job(client, url: str, log_name: str) -> openpyxl.Workbook:
    response = await client.get(url)
    assert response.status_code == 303, response.text[:500]
    job_url = response.headers["location"]

    async def finished():
        partial = await client.get(job_url, headers={"HX-Request": "true"})
        assert "Export impossible" not in partial.text and "a échoué" not in partial.text, text(partial.text)
        return partial.status_code == 286 and "Terminé." in text(partial.text)

    await processes.until(finished, f"export {url}", log_name)
    download = await client.get(f"/exports/{job_url.rsplit('/', 1)[1]}")
    assert download.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(download.content))


async def test_exports_and_imports_run_in_a_separate_worker_process(client, smtp, monkeypatch):
    import app.http.tableview as tableview

    # The app (this process) sends every export of more than 3 rows to the worker.
    settings = dataclasses.replace(tableview.get_settings(), export_inline_max_rows=3)
    monkeypatch.setattr(tableview, "get_settings", lambda: settings)
    seen = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    await User.update({User.last_access: seen}).where(User.username.like("alp001.%"))
    await User.update({User.first_name: EVIL}).where(User.username == "dam001.get")
    await RegistrationRequest.insert(*[
        RegistrationRequest(reference=f"DEM-{i}", status="confirmed", first_name="Léa", last_name=f"Martin{i}",
                            email=f"lea{i}@example.org", submitted_at=seen - timedelta(days=i)) for i in range(5)])
    worker, log = processes.start(processes.WORKER, "tremplin-worker.log")
    try:
        # (a) The large export of the users list, downloaded and opened.
        await login(client, "admin")
        book = await _export_through_the_job(client, "/utilisateurs?export=xlsx", "tremplin-worker.log")
        sheet = book.worksheets[0]
        rows = list(sheet.iter_rows(values_only=False))
        headers = [c.value for c in rows[0]]
        assert headers[:3] == ["Prénom / Nom de famille", "Nom d'utilisateur", "Adresse de courriel"]
        assert len(rows) - 1 == await User.count()
        by_username = {r[1].value: r for r in rows[1:]}
        access = headers.index("Dernier accès")
        learner = next(u for u in by_username if u.startswith("alp001.") and u != "alp001.get")
        cell = by_username[learner][access]
        assert cell.is_date and cell.value == datetime(2026, 3, 2, 10, 30)  # a real date, in Paris time
        assert by_username["dam001.get"][access].value is None  # never: empty, not the text « Jamais »
        evil = by_username["dam001.get"][0]
        assert evil.data_type == "s" and evil.value == f"'{EVIL} Gestionnaire"  # text, never a formula
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:I{len(rows)}"

        # A list the app defined in a controller before: the worker finds it too (issue 11, defect 1).
        await login(client, "inscriptions")
        book = await _export_through_the_job(client, "/gestion-inscriptions/demandes?export=xlsx", "tremplin-worker.log")
        values = [[c.value for c in r] for r in book.worksheets[0].iter_rows()]
        assert len(values) == 6 and sorted(v[1] for v in values[1:]) == [f"DEM-{i}" for i in range(5)]

        # (b) The account import.
        alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
        await login(client, "alp001.get")
        lines = ["firstname;lastname;password;email;profile_field_matricule;cohort1",
                 "Valentin;Blondel;Anfh_2025!;v.blondel@example.org;812;", "Béa;Trice;;bea.trice@example.org;1234;"]
        upload = await client.post(f"/etablissements/{alp001}/import/",
                                   files={"file": ("comptes.csv", ("\r\n".join(lines) + "\r\n").encode(), "text/csv")},
                                   data={"_csrf_token": await csrf_token(client)})
        assert upload.status_code == 303, text(upload.text)
        batch_id = int(upload.headers["location"].rsplit("/", 1)[1])

        async def analysed():  # the analysis of its rows: a job of the worker too (issue 24 point 4)
            batch = await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch_id).first()
            return batch["status"] == "preview"

        await processes.until(analysed, "the analysis of the uploaded file", "tremplin-worker.log")
        assert "2 prête(s)" in text((await client.get(f"/imports/{batch_id}")).text)
        assert (await post_form(client, f"/imports/{batch_id}/confirmer")).status_code == 303

        async def imported():
            batch = await ImportBatch.select(ImportBatch.status, ImportBatch.created_count).where(
                ImportBatch.id == batch_id).first()
            return batch if batch["status"] == "done" else None

        batch = await processes.until(imported, "the account import", "tremplin-worker.log")
        assert batch["created_count"] == 2
        assert await User.exists().where(User.username == "alp001.v.blondel")
        report = text((await client.get(f"/imports/{batch_id}")).text)
        assert "Importation terminée : 2 créé(s)" in report
        # Its credentials mail leaves through the same worker.
        await processes.until(lambda: Mail.exists().where((Mail.status == "sent") & Mail.recipients.like("%bea.trice%")),
                     "the credentials mail", "tremplin-worker.log")

        # (c) The content import of a session (the wizard's last step).
        template = await CourseTemplate.select(CourseTemplate.id).where(CourseTemplate.code == "C03").first()
        created = await post_form(client, f"/etablissements/{alp001}/sessions/nouvelle", {
            "template": "", "start_date": "2026-06-12", "end_date": "2026-06-16", "establishment": alp001,
            "visible": "1", "action": "save"})
        assert created.status_code == 303
        session = await TrainingSession.select(TrainingSession.id).first()
        url = f"/sessions/{session['id']}/import"
        await post_form(client, url, {"step": "1", "go": "next", "template": template["id"]})
        await post_form(client, url, {"step": "2", "go": "next"})
        await post_form(client, url, {"step": "3", "go": "next"})
        assert (await post_form(client, url, {"step": "4", "go": "next"})).status_code == 303

        async def content_imported():
            job = await ContentImport.select(ContentImport.status).where(ContentImport.session == session["id"]).first()
            return job is not None and job["status"] == "done"

        await processes.until(content_imported, "the content import", "tremplin-worker.log")
        assert await SessionActivity.count().where(SessionActivity.session == session["id"]) > 0
        assert "Importation terminée." in text((await client.get(url)).text)
    finally:
        processes.stop(worker, log)


@pytest.mark.smoke
async def test_arq_own_command_works_tremplins_queue(demo, smtp, redis_client):
    """`arq app.jobs.worker.WorkerSettings` reads Tremplin's queue on Tremplin's Redis (issue 11, defect 2)."""
    async with db.transaction():
        mail_id = await outbox.queue_mail(["arq@example.org"], "Par la commande arq", "Corps")
    await outbox.dispatch(redis_client, [mail_id])
    worker, log = processes.start([sys.executable, "-m", "arq", "app.jobs.worker.WorkerSettings"], "arq-worker.log")
    try:
        async def sent():
            row = await Mail.select(Mail.status).where(Mail.id == mail_id).first()
            return row["status"] == "sent"

        await processes.until(sent, "the mail", "arq-worker.log", timeout=60)
        assert [m["Subject"] for _, m in smtp.messages] == ["Par la commande arq"]
    finally:
        processes.stop(worker, log)


async def test_send_all_convocations_runs_in_a_separate_worker_process(client, smtp):
    """« Envoyer les convocations » (issue 12, X2): the job renders the PDFs and the invitations in a
    `tremplin worker` process, the progress page follows it, the outbox mails them."""
    from app.services.enrolments import add_sources
    from app.tables.convocations import ConvocationNotice
    from app.tables.learning import SourceKind
    from tests.services.test_convocations import learners, make_session

    session_id = await make_session(auto=False)
    people = await learners(count=3)
    await add_sources(session_id, people, SourceKind.manual)
    assert not await ConvocationNotice.exists()  # the session does not send them by itself
    worker, log = processes.start(processes.WORKER, "convocations-worker.log")
    try:
        await login(client, "alp001.get")
        response = await post_form(client, f"/sessions/{session_id}/convocations", {"who": "new"})
        assert response.status_code == 303
        job_url = response.headers["location"]

        async def finished():
            partial = await client.get(job_url, headers={"HX-Request": "true"})
            return partial.status_code == 286 and "Terminé." in text(partial.text)

        await processes.until(finished, "the convocations", "convocations-worker.log")

        async def delivered():
            return len(smtp.messages) == 3

        await processes.until(delivered, "the convocation mails", "convocations-worker.log")
        for _, message in smtp.messages:
            assert message["Subject"] == "Convocation : Qualité de vie au travail"
            assert sorted(p.get_content_type() for p in message.iter_attachments()) == ["application/pdf",
                                                                                        "text/calendar"]
    finally:
        processes.stop(worker, log)


async def test_attendance_sheet_job_runs_in_a_separate_worker_process(client):
    """A large session's attendance sheet (issue 12) built by a `tremplin worker` process: the
    progress page follows it, its link downloads the PDF the worker wrote."""
    import re

    from app.tables.jobs import JobRun
    from tests.controllers.test_attendance import _session, pdf_pages

    data = await _session(code="26X00W1")
    worker, log = processes.start(processes.WORKER, "sheet-worker.log")
    try:
        await login(client, "alp001.get")
        started = await post_form(client, f"/sessions/{data['session']}/emargement")
        assert started.status_code == 303
        job_url = started.headers["location"]

        async def finished():
            partial = await client.get(job_url, headers={"HX-Request": "true"})
            assert "Échec" not in text(partial.text), text(partial.text)
            return partial if partial.status_code == 286 and "Terminé." in text(partial.text) else None

        partial = await processes.until(finished, "the attendance sheet", "sheet-worker.log")
        run = await JobRun.select(JobRun.status).where(JobRun.kind == "build_attendance_sheet").first()
        assert run["status"] == "succeeded"
        link = re.search(r'href="(/sessions/\d+/emargement/[^"]+)"', partial.text)[1]
        sheet = await client.get(link)
        assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
        pages = pdf_pages(sheet.content)
        assert len(pages) == 3 and all("ARNAUD Zoé" in p and "Signature du formateur" in p for p in pages)
    finally:
        processes.stop(worker, log)
