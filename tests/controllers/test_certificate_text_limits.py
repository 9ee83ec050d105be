"""Issue 19 §1: a certificate text is filled by substitution only — a placeholder with a format spec
({prenom:>1000000} pads the first name to a million characters, {prenom:>99999…} raises) is refused
when saved, and one stored before (an old database) is filled without it; a PDF render is bounded
in time, and one that fails is « Échec de génération », retried a bounded number of times."""

import dataclasses
import hashlib
import json
from datetime import timedelta

import pytest

from app.dates import now
from app.pdf import bounded
from app.services import certificates, learning
from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, TrainingSession
from app.tables.certificates import Certificate
from app.tables.learning import CompletionHow
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session, pdf_text

PADDED = "Atteste que {prenom:>1000000} {nom} a suivi {session}."
OVERFLOW = "Atteste que {prenom:>99999999999999999999} {nom} a suivi {session}."


async def test_a_placeholder_with_a_format_is_refused_when_saved_with_a_french_message(client):
    session_id, *_ = await completed_session(complete=0)
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    form = {"start_date": "2026-06-02", "end_date": "2026-06-03", "full_name": session["full_name"],
            "short_name": "QVT", "visible": "1", "code": session["code"]}
    await login(client, "alp001.get")
    for typed, field in ((PADDED, "{prenom:>1000000}"), (OVERFLOW, "{prenom:>99999999999999999999}"),
                         ("{nom!r} a suivi", "{nom!r}"), ("{prenom.__class__} a suivi", "{prenom.__class__}"),
                         ("{nom[0]} a suivi", "{nom[0]}")):
        refused = await post_form(client, f"/sessions/{session_id}/parametres", {**form, "certificate_text": typed})
        assert refused.status_code == 422, typed
        page = text(refused.text)
        assert f"Le champ {field} n'est pas permis : écrivez" in page and "sans format" in page, page
        assert "Paramètres enregistrés" not in page
    stored = await TrainingSession.select(TrainingSession.certificate_text).where(TrainingSession.id == session_id).first()
    assert stored["certificate_text"] == ""
    # The exact words for the payload, and the unknown names keep their message.
    assert certificates.template_errors(PADDED) == \
        "Le champ {prenom:>1000000} n'est pas permis : écrivez {prenom} sans format."
    assert certificates.template_errors("{formation}").startswith("Champ inconnu : {formation}.")

    # A course template's text (copied into the sessions made from it) is checked the same way.
    await login(client, "admin")
    refused = await post_form(client, "/catalogue/nouveau", {"code": "C98", "title": "Hygiène", "certificate_text": PADDED})
    assert refused.status_code == 422
    assert "Le champ {prenom:>1000000} n'est pas permis : écrivez {prenom} sans format." in text(refused.text)
    assert not await CourseTemplate.exists().where(CourseTemplate.code == "C98")


async def _learner_completes_over_http(client, session_id: int, activities: list[int], username: str):
    await TrainingSession.update({TrainingSession.visible: True}).where(TrainingSession.id == session_id)
    await login(client, username)
    answers = [await post_form(client, f"/mes-sessions/{session_id}/activites/{a}/terminer", {"done": "1"})
               for a in activities]
    return answers


@pytest.mark.parametrize("stored", [PADDED, OVERFLOW])
async def test_a_text_stored_with_a_format_still_completes_and_is_filled_without_it(client, stored):
    """An old database holds the payload: the learner's « J'ai terminé » is recorded (never a 500),
    the certificate states the plain first name and its PDF is sealed at once."""
    session_id, activities, learners, enrolments = await completed_session(complete=0)
    await TrainingSession.update({TrainingSession.certificate_text: stored}).where(TrainingSession.id == session_id)
    learner = await User.select(User.username, User.first_name, User.last_name).where(User.id == learners[0]).first()
    answers = await _learner_completes_over_http(client, session_id, activities, learner["username"])
    assert [a.status_code for a in answers] == [303, 303], [text(a.text)[:300] for a in answers]
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    assert certificate["snapshot"]["text"] == (f"Atteste que {learner['first_name']} {learner['last_name']} a suivi "
                                               f"{certificate['snapshot']['session']}.")
    assert certificate["pdf_sha256"] != certificates.UNSEALED and not certificate["render_failed"]
    assert "a suivi" in pdf_text(await certificates.pdf_of(certificate))


def test_filling_is_substitution_only_and_capped():
    from app.services import user_templates

    values = {"prenom": "Léa", "nom": "Morel"}
    assert user_templates.fill("{prenom:>1000000} {nom!r} {nom.__class__} {inconnu} {{x}}", values) == \
        "Léa Morel Morel  {x}"
    assert user_templates.fill("{prenom:>99999999999999999999}", values) == "Léa"
    assert len(user_templates.fill("{nom}" * 100_000, values)) == user_templates.FILLED_MAX
    assert user_templates.fill("Accolade { seule", values) == "Accolade { seule"


@pytest.mark.smoke
async def test_a_render_past_its_deadline_is_an_echec_de_generation_retried_a_bounded_number_of_times(
        client, monkeypatch):
    """A certificate the old code issued with the payload (its snapshot's text padded to a million
    characters) froze whoever rendered it: now its render is stopped at the deadline and recorded,
    tried again later three times in all, shown to managers and on /ops; a re-issue fixes it."""
    settings = dataclasses.replace(bounded.get_settings(), pdf_render_timeout=3.0)
    monkeypatch.setattr(bounded, "get_settings", lambda: settings)
    session_id, activities, learners, enrolments = await completed_session(complete=1)
    enrolment = enrolments[learners[0]]
    row = await Certificate.select().where(Certificate.enrolment == enrolment).first()
    snapshot = json.loads(row["snapshot"]) if isinstance(row["snapshot"], str) else row["snapshot"]
    snapshot["text"] = "Atteste que " + f"{snapshot['prenom']:>1000000}" + f" {snapshot['nom']} a suivi la session."
    await Certificate.update({Certificate.snapshot: json.dumps(snapshot), Certificate.pdf_sha256: certificates.UNSEALED,
                              Certificate.issued_at: now() - timedelta(minutes=2)}).where(Certificate.id == row["id"])

    started = now()
    assert await certificates.seal_unsealed() == 0
    assert (now() - started).total_seconds() < 20  # bounded: the old code rendered it for minutes
    failed = await Certificate.select().where(Certificate.id == row["id"]).first()
    assert failed["pdf_sha256"] == certificates.UNSEALED and failed["render_attempts"] == 1
    assert "dépassé 3 s" in failed["render_error"] and failed["render_retry_at"] > now()
    # Not again every minute: the next runs skip it until its retry time.
    assert await certificates.seal_unsealed() == 0
    assert (await Certificate.select().where(Certificate.id == row["id"]).first())["render_attempts"] == 1
    for _ in range(2):
        await Certificate.update({Certificate.render_retry_at: now() - timedelta(seconds=1)}).where(
            Certificate.id == row["id"])
        await certificates.seal_unsealed()
    assert (await Certificate.select().where(Certificate.id == row["id"]).first())["render_attempts"] == 3
    await Certificate.update({Certificate.render_retry_at: None}).where(Certificate.id == row["id"])
    started = now()
    assert await certificates.seal_unsealed() == 0  # given up: skipped at once
    assert (now() - started).total_seconds() < 1
    assert (await Certificate.select().where(Certificate.id == row["id"]).first())["render_attempts"] == 3

    # Managers see it; its download says so in French, without rendering it again; /ops counts it.
    await login(client, "alp001.get")
    page = text((await client.get(f"/sessions/{session_id}/attestations")).text)
    assert "Échec de génération" in page and "abandonné après 3 essais" in page and "dépassé 3 s" in page
    started = now()
    download = await client.get(f"/attestations/{row['id']}")
    assert download.status_code == 503 and "n'a pas pu être généré" in text(download.text)
    assert (now() - started).total_seconds() < 1
    await login(client, "admin")
    ops = text((await client.get("/ops")).text)
    assert "Attestations en échec de génération" in ops and "1 attestation(s) en échec de génération" in ops

    # « Réémettre »: a new version from today's facts, rendered and sealed.
    await login(client, "alp001.get")
    reissued = await post_form(client, f"/attestations/{row['id']}/reemettre")
    assert reissued.status_code == 303
    latest = await certificates.for_enrolment(enrolment)
    assert latest["version"] == 2 and latest["pdf_sha256"] != certificates.UNSEALED and not latest["render_failed"]
    assert hashlib.sha256(await certificates.pdf_of(latest)).hexdigest() == latest["pdf_sha256"]
    assert "Échec de génération" not in text((await client.get(f"/sessions/{session_id}/attestations")).text)


async def test_a_completion_with_a_failing_render_is_recorded_and_the_pdf_follows(demo, monkeypatch):
    """The completion's transaction always commits the certificate's row, even when its render fails
    right after (here, past a tiny deadline): the row is there, marked, and tried again later."""
    settings = dataclasses.replace(bounded.get_settings(), pdf_render_timeout=0.001)
    monkeypatch.setattr(bounded, "get_settings", lambda: settings)
    session_id, activities, learners, enrolments = await completed_session(complete=0)
    enrolment = enrolments[learners[0]]
    for activity in activities:
        await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    row = await Certificate.select().where(Certificate.enrolment == enrolment).first()
    assert row is not None and row["pdf_sha256"] == certificates.UNSEALED and row["render_attempts"] == 1
    monkeypatch.undo()
    await Certificate.update({Certificate.render_retry_at: None,
                              Certificate.issued_at: now() - timedelta(minutes=2)}).where(Certificate.id == row["id"])
    assert await certificates.seal_unsealed() == 1
    assert (await certificates.for_enrolment(enrolment))["pdf_sha256"] != certificates.UNSEALED


def test_a_render_child_dies_with_its_parent_even_mid_render(tmp_path):
    """A web process or worker killed (SIGKILL) while its render child is stuck in a pathological
    document: the child exits too, instead of rendering on, then waiting, for ever."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    script = tmp_path / "parent.py"
    script.write_text(
        "import json, os, sys\n"
        "from app.pdf import bounded\n"
        "from app.services import certificates\n"
        "if __name__ == '__main__':\n"
        "    snapshot = {k: k for k in certificates.PLACEHOLDERS}\n"
        "    snapshot.update(text=' ' * 1000000 + 'x', session_code='', version=1, issued_at='', horaires='',\n"
        "                    lieu='', template_version=1, layout=2, verify_url='http://x/verifier/2222222222')\n"
        "    bounded.run(len, 'started')\n"
        "    print(json.dumps(list(bounded._current().pool._processes)), flush=True)\n"
        "    bounded.run(certificates.render_sync, snapshot, timeout=600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "PDF_RENDER_PROCESSES": "1"})
    try:
        children = json.loads(parent.stdout.readline())
        assert children
        def cpu_ticks(pid):  # utime + stime (/proc/<pid>/stat fields 14 and 15), in clock ticks
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])

        # The child is in the middle of the million-character render once it has spent 0.1 s on it.
        start = {pid: cpu_ticks(pid) for pid in children}
        deadline = time.monotonic() + 30
        while not any(cpu_ticks(pid) - start[pid] >= 0.1 * os.sysconf("SC_CLK_TCK") for pid in children):
            assert time.monotonic() < deadline, "the render child never started rendering"
            time.sleep(0.05)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") and
                                                  "Z" not in open(f"/proc/{pid}/stat").read().split()[2]
                                                  for pid in children):
            time.sleep(0.2)
        alive = [pid for pid in children if os.path.exists(f"/proc/{pid}")
                 and open(f"/proc/{pid}/stat").read().split()[2] != "Z"]
        assert alive == []
    finally:
        if parent.poll() is None:
            parent.kill()
