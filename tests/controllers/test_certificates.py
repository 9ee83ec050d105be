"""Certificates over HTTP (issue 12, D3): the settings' text, the managers' page and downloads (scope),
revocation and re-issue, the learner's own download, the public verification page, the ZIP job."""

import hashlib
import json
import io
import re
import zipfile

import pytest

from app.services import certificates
from app.tables.accounts import User
from app.tables.audit import AuditEvent
from app.tables.catalogue import TrainingSession
from app.tables.certificates import Certificate
from app.tables.outbox import Mail, MailAttachment
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session, pdf_text


async def _learner_username(user_id: int) -> str:
    return (await User.select(User.username).where(User.id == user_id).first())["username"]


async def test_the_session_settings_edit_the_certificate_text_with_checked_placeholders(client):
    session_id, *_ = await completed_session(complete=0)
    await login(client, "alp001.get")
    page = text((await client.get(f"/sessions/{session_id}/parametres")).text)
    assert "Texte de l'attestation" in page and "{date_delivrance}" in page
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    form = {"start_date": "2026-06-02", "end_date": "2026-06-03", "full_name": session["full_name"],
            "short_name": "QVT", "visible": "1", "code": session["code"]}
    bad = await post_form(client, f"/sessions/{session_id}/parametres",
                          {**form, "certificate_text": "{prenom} {nom} a suivi {formation}."})
    assert bad.status_code == 422
    assert "Champ inconnu : {formation}" in text(bad.text)
    assert "{prenom} {nom} a suivi {formation}." in bad.text  # nothing typed is lost
    assert (await TrainingSession.select().where(TrainingSession.id == session_id).first())["certificate_text"] == ""
    ok = await post_form(client, f"/sessions/{session_id}/parametres",
                         {**form, "certificate_text": "{civilite} {prenom} {nom} a suivi {session}."})
    assert ok.status_code == 303
    assert (await TrainingSession.select().where(TrainingSession.id == session_id).first())["certificate_text"] == \
        "{civilite} {prenom} {nom} a suivi {session}."
    # A form without the field (the creation form, an old client) leaves the text alone.
    await post_form(client, f"/sessions/{session_id}/parametres", form)
    assert (await TrainingSession.select().where(TrainingSession.id == session_id).first())["certificate_text"] != ""


@pytest.mark.smoke
async def test_managers_download_revoke_and_reissue_and_every_version_stays_verifiable(client, new_client):
    session_id, activities, learners, enrolments = await completed_session()
    await login(client, "alp001.get")
    page = text((await client.get(f"/sessions/{session_id}/attestations")).text)
    first = await certificates.for_enrolment(enrolments[learners[0]])
    assert first["display_code"] in page and "Valide" in page
    download = await client.get(f"/attestations/{first['id']}")
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == first["pdf_sha256"]

    # A name correction, then « Réémettre »: version 2 with the new name, version 1 superseded.
    await User.update({User.last_name: "Martin-Corrigé"}).where(User.id == learners[0])
    assert (await post_form(client, f"/attestations/{first['id']}/reemettre")).status_code == 303
    second = await certificates.for_enrolment(enrolments[learners[0]])
    assert (second["version"], second["status"]) == (2, "valid") and second["code"] != first["code"]
    assert "Martin-Corrigé" in pdf_text((await client.get(f"/attestations/{second['id']}")).content)
    assert "version 2" in pdf_text((await client.get(f"/attestations/{second['id']}")).content)
    # Re-issuing from the superseded version is refused (only from the latest).
    refused = await post_form(client, f"/attestations/{first['id']}/reemettre", follow_redirects=True)
    assert "version plus récente" in text(refused.text)

    # Revocation needs a reason; then the status says so.
    empty = await post_form(client, f"/attestations/{second['id']}/revoquer", {"reason": "  "})
    assert empty.status_code == 422 and "motif" in text(empty.text)
    await post_form(client, f"/attestations/{second['id']}/revoquer", {"reason": "Présence non justifiée"})
    rows = await Certificate.select().where(Certificate.enrolment == enrolments[learners[0]]).order_by(Certificate.version)
    assert [(r["version"], r["status"]) for r in rows] == [(1, "superseded"), (2, "revoked")]
    assert rows[1]["revoked_reason"] == "Présence non justifiée" and rows[1]["revoked_by"] is not None
    trail = await AuditEvent.select().where(AuditEvent.action == "certificate.revoked")
    assert [(t["actor_label"], t["target_id"], json.loads(t["details"])["reason"]) for t in trail] == [
        ("alp001.get", second["id"], "Présence non justifiée")]
    # And after a revocation, « Réémettre » makes version 3.
    await post_form(client, f"/attestations/{second['id']}/reemettre")
    assert (await certificates.for_enrolment(enrolments[learners[0]]))["version"] == 3
    assert await Certificate.count().where(Certificate.enrolment == enrolments[learners[0]]) == 3

    async with new_client() as anonymous:
        for code, label, name in ((first["code"], "Remplacée", first["snapshot"]["nom"]),
                                  (second["code"], "Révoquée", "Martin-Corrigé")):
            page = text((await anonymous.get(f"/verifier/{code}")).text)
            assert label in page and "n'est plus valable" in page and name in page


async def test_a_get_never_reaches_another_establishments_certificates(client):
    session_id, activities, learners, enrolments = await completed_session(establishment="DAM001")
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    await login(client, "alp001.get")
    missing = await client.get("/attestations/999999")
    assert missing.status_code == 404
    for path in (f"/attestations/{certificate['id']}", f"/attestations/{certificate['id']}/revoquer",
                 f"/attestations/{certificate['id']}/reemettre", f"/sessions/{session_id}/attestations"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "introuvable" in text(response.text)
    assert (await client.get(f"/attestations/{certificate['id']}")).text == missing.text
    for path in (f"/attestations/{certificate['id']}/revoquer", f"/attestations/{certificate['id']}/reemettre",
                 f"/attestations/{certificate['id']}/envoyer", f"/sessions/{session_id}/attestations/zip"):
        assert (await post_form(client, path, {"reason": "x"})).status_code == 404, path
    assert (await Certificate.select().where(Certificate.id == certificate["id"]).first())["status"] == "valid"


async def test_the_learner_downloads_their_own_certificate_and_only_theirs(client, new_client):
    session_id, activities, learners, enrolments = await completed_session(learners_count=3, complete=2)
    await login(client, await _learner_username(learners[0]))
    mine = await client.get(f"/mes-sessions/{session_id}/attestation")
    assert mine.status_code == 200 and mine.content.startswith(b"%PDF")
    learner = await User.select().where(User.id == learners[0]).first()
    assert learner["last_name"] in pdf_text(mine.content)
    async with new_client() as other:
        # Enrolled but not complete: nothing yet, and the same answer as a session that does not exist.
        await login(other, await _learner_username(learners[2]))
        none_yet = await other.get(f"/mes-sessions/{session_id}/attestation")
        assert none_yet.status_code == 404
        assert (await other.get("/mes-sessions/999999/attestation")).text == none_yet.text
        # Someone else's: there is no way to name it (the route is the session, the person is the login).
        assert (await other.get(f"/attestations/{(await certificates.for_enrolment(enrolments[learners[0]]))['id']}")
                ).status_code in (403, 404)
    # The learner's page partial: shown once complete, with the download link.
    from app.http.templating import jinja_env

    def url_for(name, **params):
        return client._transport.app.route_reverse(name, **params)

    partial = jinja_env().get_template("certificates/_learner.html")
    shown = partial.render(certificate=await certificates.for_enrolment(enrolments[learners[0]]), session_id=session_id,
                           url_for=url_for)
    assert "Attestation de fin de formation" in shown and f"/mes-sessions/{session_id}/attestation" in shown
    assert "Attestation" not in partial.render(certificate=await certificates.for_enrolment(enrolments[learners[2]]),
                                                session_id=session_id, url_for=url_for)


@pytest.mark.smoke
async def test_the_public_page_shows_what_the_certificate_states_and_nothing_else(client, new_client):
    session_id, activities, learners, enrolments = await completed_session()
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    learner = await User.select().where(User.id == learners[0]).first()
    async with new_client() as anonymous:
        page = await anonymous.get(f"/verifier/{certificate['code']}")
        assert page.status_code == 200
        shown = text(page.text)
        assert "Attestation authentique et valide" in shown
        assert f"{learner['first_name']} {learner['last_name']}" in shown
        assert "Qualité de vie au travail" in shown and "du 2 juin 2026 au 3 juin 2026" in shown
        assert learner["email"] not in shown and learner["username"] not in shown and "ALP001" not in shown
        # Typed by hand: lower case, spaces instead of the dash.
        typed = await anonymous.get("/verifier", params={"code": certificate["display_code"].lower().replace("-", " ")})
        assert "Attestation authentique et valide" in text(typed.text)
        # Unknown (a well-formed code nobody holds) and malformed answer the same way.
        body = "23456789A"
        unknown_code = body + certificates.check_char(body)
        assert unknown_code != certificate["code"]
        typo = certificate["code"][:3] + ("Z" if certificate["code"][3] != "Z" else "Y") + certificate["code"][4:]
        answers = []
        for code in (unknown_code, typo, "NIMPORTEQU", "<script>"[:10].ljust(10, "x")):
            response = await anonymous.get("/verifier", params={"code": code})
            answers.append((response.status_code, text(response.text).replace(code, "CODE")))
        assert len(set(answers)) == 1 and answers[0][0] == 404
        assert "Aucun document ne correspond à ce code" in answers[0][1]

        # The uploaded PDF: the issued one matches, a modified one does not.
        pdf = (await anonymous.get("/verifier")).status_code == 200 and await certificates.pdf_of(certificate)
        same = await post_form(anonymous, f"/verifier/{certificate['code']}",
                               files={"file": ("attestation.pdf", pdf, "application/pdf")})
        assert same.status_code == 200 and "Le fichier est identique" in text(same.text)
        tampered = pdf.replace(learner["last_name"].encode(), b"X" * len(learner["last_name"].encode()), 1) \
            if learner["last_name"].encode() in pdf else pdf[:-10] + b"0000000000"
        changed = await post_form(anonymous, f"/verifier/{certificate['code']}",
                                  files={"file": ("attestation.pdf", tampered, "application/pdf")})
        assert "ne correspond pas" in text(changed.text)
        not_pdf = await post_form(anonymous, f"/verifier/{certificate['code']}",
                                  files={"file": ("photo.png", b"\x89PNG....", "image/png")})
        assert not_pdf.status_code == 422 and "pas un PDF" in text(not_pdf.text)
        too_big = await post_form(anonymous, f"/verifier/{certificate['code']}",
                                  files={"file": ("big.pdf", b"%PDF" + b"0" * certificates.UPLOAD_MAX_BYTES, "application/pdf")})
        assert too_big.status_code == 422 and "trop volumineux" in text(too_big.text)


async def test_the_public_page_is_rate_limited(client, new_client):
    from app.controllers.certificates import VERIFY_LIMIT

    async with new_client() as anonymous:
        statuses = [(await anonymous.get("/verifier", params={"code": "ABCDE-FGHJK"})).status_code
                    for _ in range(VERIFY_LIMIT.limit + 2)]
    assert statuses[:VERIFY_LIMIT.limit] == [404] * VERIFY_LIMIT.limit
    assert statuses[-1] == 429
    async with new_client() as anonymous:
        assert "Trop de vérifications" in text((await anonymous.get("/verifier", params={"code": "X"})).text)


async def test_all_certificates_of_a_session_as_a_zip_built_by_a_job(client, new_client, run_jobs, monkeypatch):
    # The PDFs are rendered by the render pool, ahead of the stream: the same files, in the same order.
    from app.jobs import certificates as zip_job

    monkeypatch.setattr(zip_job, "WINDOW", 2)
    session_id, activities, learners, enrolments = await completed_session(learners_count=3, complete=3)
    await login(client, "alp001.get")
    started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
    assert started.status_code == 303
    job_url = started.headers["location"]
    assert "En attente" in text((await client.get(job_url)).text)
    await run_jobs()
    done = await client.get(job_url)
    assert "Terminé" in text(done.text) and "Télécharger les 3 attestations" in text(done.text)
    link = re.search(r'href="([^"]+)"[^>]*>Télécharger les 3', done.text)[1]
    archive = await client.get(link)
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        names = z.namelist()
        assert len(names) == 3 and all(n.endswith(".pdf") for n in names)
        issued = {c["filename"]: c["pdf_sha256"] for c in await certificates.for_session(session_id)}
        assert {n: hashlib.sha256(z.read(n)).hexdigest() for n in names} == issued  # each file its own PDF
    # The ZIP is its requester's: another manager gets « introuvable ».
    async with new_client() as other:
        await login(other, "dam001.get")
        assert (await other.get(link)).status_code == 404 and (await other.get(job_url)).status_code == 404


async def test_the_certificate_is_mailed_to_the_learner_with_the_pdf(client, smtp, run_jobs):
    session_id, activities, learners, enrolments = await completed_session()
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    await login(client, "alp001.get")
    sent = await post_form(client, f"/attestations/{certificate['id']}/envoyer", follow_redirects=True)
    assert "envoyée par courriel" in text(sent.text)
    await run_jobs()
    learner = await User.select().where(User.id == learners[0]).first()
    recipients, message = smtp.messages[-1]
    assert recipients == [learner["email"]] or ".fictif@" in learner["email"]
    attachment = next(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert hashlib.sha256(attachment.get_content()).hexdigest() == certificate["pdf_sha256"]
    assert certificate["display_code"] in message.get_body(("plain",)).get_content()


async def test_a_double_click_on_envoyer_mails_the_certificate_once(client, new_client):
    """« Envoyer par courriel » sent twice at once (a double click, or the same manager in two
    browsers): one mail, and the second answer says why. Two sessions, so that each answer's flash
    message is its own."""
    import asyncio

    from app.tables.outbox import Mail

    session_id, activities, learners, enrolments = await completed_session()
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    async with new_client() as other:
        await login(client, "alp001.get")
        await login(other, "alp001.get")
        answers = await asyncio.gather(*(post_form(c, f"/attestations/{certificate['id']}/envoyer",
                                                   follow_redirects=True) for c in (client, other)))
    pages = [text(a.text) for a in answers]
    assert await Mail.count().where(Mail.group_key == f"certificate:{certificate['id']}") == 1
    assert sorted(("envoyée par courriel" in p, "vient d'être envoyée" in p) for p in pages) == [
        (False, True), (True, False)]
    # Later clicks within the 10 minutes: still one mail.
    again = text((await post_form(client, f"/attestations/{certificate['id']}/envoyer", follow_redirects=True)).text)
    assert "vient d'être envoyée" in again
    assert await Mail.count().where(Mail.group_key == f"certificate:{certificate['id']}") == 1


async def test_an_unenrolled_learner_keeps_the_certificate_of_the_training_they_completed(client, new_client):
    """Unenrolment ends the participation, not what was achieved: the learner still finds and
    downloads their valid certificate (same bytes), and it still verifies as valid."""
    from app.services.enrolments import remove_sources
    from app.tables.learning import SourceKind

    session_id, activities, learners, enrolments = await completed_session(learners_count=2, complete=1)
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    await remove_sources(session_id, learners, SourceKind.manual)
    async with new_client() as learner:
        await login(learner, await _learner_username(learners[0]))
        home = text((await learner.get("/")).text)
        assert "Mes attestations de formations passées" in home and f"/mes-sessions/{session_id}/attestation" in (
            await learner.get("/")).text
        assert (await learner.get(f"/mes-sessions/{session_id}")).status_code == 404  # the session itself: gone
        mine = await learner.get(f"/mes-sessions/{session_id}/attestation")
        assert mine.status_code == 200 and mine.headers["content-type"] == "application/pdf"
        assert hashlib.sha256(mine.content).hexdigest() == (await Certificate.select(Certificate.pdf_sha256).where(
            Certificate.id == certificate["id"]).first())["pdf_sha256"]
    async with new_client() as other:  # the one who had not completed it: nothing to download
        await login(other, await _learner_username(learners[1]))
        assert "formations passées" not in text((await other.get("/")).text)
        assert (await other.get(f"/mes-sessions/{session_id}/attestation")).status_code == 404
    verified = text((await client.get(f"/verifier/{certificate['code']}")).text)
    assert "Valide" in verified


async def test_a_learner_without_a_real_address_is_not_said_to_be_mailed_their_certificate(client):
    """The outbox never sends to a fictitious address (an account made without e-mail): « Attestation
    envoyée par courriel » was shown all the same, and a failed mail left in the outbox."""
    from app.services.accounts import fictitious_email

    session_id, activities, learners, enrolments = await completed_session()
    username = await _learner_username(learners[0])
    await User.update({User.email: fictitious_email(username)}).where(User.id == learners[0])
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    await login(client, "alp001.get")
    before = await Mail.count()
    answer = await post_form(client, f"/attestations/{certificate['id']}/envoyer", follow_redirects=True)
    page = text(answer.text)
    assert "envoyée par courriel" not in page
    assert "n'a pas d'adresse électronique (adresse fictive)" in page
    assert await Mail.count() == before


async def test_homonyms_get_a_file_each_in_the_zip(client, run_jobs):
    """Two learners of the same name (the nomenclature's alp001.l.morel and alp001.l.morel2) had
    one file name in the ZIP: unzipping kept one certificate of the two."""
    from app.services import learning
    from app.tables.learning import CompletionHow

    session_id, activities, learners, enrolments = await completed_session(learners_count=3, complete=0)
    await User.update({User.first_name: "Léa", User.last_name: "Morel"}).where(User.id.is_in(learners[:2]))
    await User.update({User.first_name: "LÉA", User.last_name: "MOREL"}).where(User.id == learners[2])
    for enrolment in enrolments.values():
        for activity in activities:
            await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await login(client, "alp001.get")
    started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
    await run_jobs()
    done = await client.get(started.headers["location"])
    link = re.search(r'href="([^"]+)"[^>]*>Télécharger les 3', done.text)[1]
    with zipfile.ZipFile(io.BytesIO((await client.get(link)).content)) as z:
        names = z.namelist()
        assert len({n.casefold() for n in names}) == 3  # distinct on a case-insensitive disk too
        hashes = {hashlib.sha256(z.read(n)).hexdigest() for n in names}
    issued = await certificates.for_session(session_id)
    assert hashes == {c["pdf_sha256"] for c in issued}  # each learner's own certificate is there
    assert sorted(names) == sorted(c["filename"].removesuffix(".pdf") + f"-{c['display_code']}.pdf" for c in issued)


async def test_the_zip_is_served_by_a_web_process_without_the_workers_disk(client, run_jobs):
    """The worker wrote the ZIP under its own TREMPLIN_VAR_DIR and the web process looked for it on
    its own disk: with `tremplin worker` on another host (README, production), « Ce fichier n'est
    plus disponible » every time."""
    import shutil

    from app.jobs.certificates import ZIPS
    from app.settings import get_settings

    session_id, *_ = await completed_session(learners_count=2, complete=2)
    await login(client, "alp001.get")
    started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
    await run_jobs()
    done = await client.get(started.headers["location"])
    assert done.status_code == 200, (done.headers.get("location"), done.status_code)
    link = re.search(r'href="([^"]+)"[^>]*>Télécharger les 2', done.text)[1]
    shutil.rmtree(get_settings().var_dir / ZIPS, ignore_errors=True)  # the worker's scratch: not the web's
    assert not list((get_settings().var_dir).glob("**/*.zip"))  # nothing left on disk: stored in the database
    archive = await client.get(link)
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert archive.headers["cache-control"] == "private, no-store"
    code = (await TrainingSession.select(TrainingSession.code).where(TrainingSession.id == session_id).first())["code"]
    assert f'filename="attestations-et-certificats-{code}.zip"' in archive.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        assert len(z.namelist()) == 2


async def test_a_double_click_on_the_zip_builds_it_once(client, run_jobs):
    """Each click queued one more ZIP job (a large session's keeps every core of a worker busy for a
    minute): a double click, or a manager insisting, held the worker from the mails."""
    from app.tables.jobs import JobRun

    session_id, *_ = await completed_session(learners_count=2, complete=2)
    other_session, *_ = await completed_session(learners_count=3, complete=1)
    await login(client, "alp001.get")
    first = await post_form(client, f"/sessions/{session_id}/attestations/zip")
    second = await post_form(client, f"/sessions/{session_id}/attestations/zip", follow_redirects=True)
    assert second.url.path == first.headers["location"]
    assert "déjà en préparation" in text(second.text)
    other = await post_form(client, f"/sessions/{other_session}/attestations/zip")  # another session: its own
    assert other.headers["location"] != first.headers["location"]
    assert await JobRun.count().where(JobRun.kind == "build_certificates_zip") == 2
    await run_jobs()
    again = await post_form(client, f"/sessions/{session_id}/attestations/zip")  # once built: a new one
    assert again.headers["location"] != first.headers["location"]


async def test_the_certificates_page_states_when_a_session_with_slots_issues_them(client):
    """Issue 20's screenshot pass: the page said « achevé toutes les activités obligatoires » only,
    while a session with slots issues after its last slot, attendance recorded and the minimum met."""
    session_id, *_ = await completed_session(complete=0)
    await login(client, "alp001.get")
    page = text((await client.get(f"/sessions/{session_id}/attestations")).text)
    assert "si la session a des créneaux, après la fin du dernier, une fois ses présences saisies" in page
    assert "la présence minimale atteinte" in page


async def test_a_zip_queued_with_its_url_as_an_argument_still_runs(client, redis_client):
    """Runs queued before the controller wrote the result's URL into the progress carry it as a
    fourth argument (session_id, user_id, token, result_url), their progress without it: they still
    end with the link. A ZIP is not served by the exports' route."""
    from app.jobs.certificates import build_certificates_zip
    from app.services import progress

    session_id, *_ = await completed_session(learners_count=2, complete=2)
    manager = (await User.select(User.id).where(User.username == "alp001.get").first())["id"]
    token = "legacy-zip-token-0123456789"
    await progress.start(redis_client, token, manager, "Attestations (ZIP)")
    assert await build_certificates_zip({"redis": redis_client}, session_id, manager, token,
                                        f"/attestations/zip/{token}") == 2
    await login(client, "alp001.get")
    done = await client.get(f"/taches/{token}")
    link = re.search(r'href="([^"]+)"[^>]*>Télécharger les 2', done.text)[1]
    assert link == f"/attestations/zip/{token}"
    archive = await client.get(link)
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert (await client.get(f"/exports/{token}")).status_code == 404
