"""« Mes données » (issue 25) end to end, in the production shape: a learner asks from the app, a
separate `tremplin worker` process builds the ZIP, the learner downloads it — everything about them
(account, enrolments, completions, messages, attendance, registration requests, certificates as PDFs),
no secret, and nothing of anybody else; nobody else downloads it."""

import io
import json
import re
import zipfile

from pypdf import PdfReader

from app.tables.accounts import User
from app.tables.audit import AuditEvent
from app.tables.learning import DiscussionMessage
from app.tables.registration import RegistrationRequest
from tests import processes
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session


async def test_a_learner_downloads_everything_about_them_and_nothing_of_anyone_else(client, new_client):
    session_id, _, learners, _ = await completed_session(learners_count=2, complete=2)
    me, other = [await User.select().where(User.id == uid).first() for uid in learners]
    await DiscussionMessage.insert(
        DiscussionMessage(session=session_id, author=me["id"], body="Ma question sur le module 2"),
        DiscussionMessage(session=session_id, author=other["id"], body="Message de quelqu'un d'autre"))
    await RegistrationRequest.insert(RegistrationRequest(
        email=me["email"], first_name=me["first_name"], last_name=me["last_name"], reference="REQ-MOI", status="confirmed"))
    worker, log = processes.start(processes.WORKER, "tremplin-worker-my-data.log")
    try:
        await login(client, me["username"])
        assert "Préparer mes données" in text((await client.get("/mes-donnees")).text)
        response = await post_form(client, "/mes-donnees")
        assert response.status_code == 303
        job_url = response.headers["location"]

        async def finished():
            partial = await client.get(job_url, headers={"HX-Request": "true"})
            assert "échoué" not in text(partial.text), text(partial.text)
            return partial.status_code == 286 and partial.text

        done = await processes.until(finished, "the « Mes données » job", "tremplin-worker-my-data.log")
        link = re.search(r'href="(/mes-donnees/[^"]+)"', done).group(1)
        download = await client.get(link)
        assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    finally:
        processes.stop(worker, log)

    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = archive.namelist()
    assert {"LISEZ-MOI.txt", "donnees.json", "compte.csv", "inscriptions.csv", "activites_terminees.csv",
            "messages.csv", "presences.csv", "demandes_inscription.csv", "attestations.csv"} <= set(names)
    data = json.loads(archive.read("donnees.json"))
    assert [a["username"] for a in data["compte"]] == [me["username"]]
    assert "password_hash" not in data["compte"][0] and "credentials_version" not in data["compte"][0]
    assert {e["session"] for e in data["inscriptions"]} == {session_id}
    assert len(data["activites_terminees"]) == 2
    assert [m["body"] for m in data["messages"]] == ["Ma question sur le module 2"]
    assert [r["reference"] for r in data["demandes_inscription"]] == ["REQ-MOI"]
    pdfs = [n for n in names if n.startswith("attestations/")]
    assert len(pdfs) == 1
    reader = PdfReader(io.BytesIO(archive.read(pdfs[0])))
    assert me["last_name"] in "".join(page.extract_text() for page in reader.pages)
    # Nothing of the other learner, in any file.
    everything = b"".join(archive.read(n) for n in names if not n.endswith(".pdf")).decode("utf-8", "replace")
    for trace in (other["username"], other["email"], "Message de quelqu'un d'autre"):
        assert trace not in everything, trace
    assert me["username"] in archive.read("compte.csv").decode("utf-8-sig")
    # The request is in the audit trail; nobody else can use the link.
    assert await AuditEvent.exists().where((AuditEvent.action == "data.exported") & (AuditEvent.actor == me["id"]))
    async with new_client() as someone:
        await login(someone, other["username"])
        assert (await someone.get(link)).status_code == 404
