"""Issue 20 point 6: a draft resumed only in the browser that started it (its cookie). Once the
e-mail step is filled, « Recevoir un lien pour reprendre » mails a signed, expiring, single-use link
that moves the draft to another browser (started on a phone, finished on a PC)."""

import re

from app.tables.registration import RegistrationRequest
from tests.controllers.test_registration import _answers, _link, _session
from tests.helpers import post_form, text


async def _to_step_5(client):
    response = await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    assert response.status_code == 303
    answers = await _answers()
    for step in (2, 3, 4):
        page = text((await client.get(f"/inscription/etape/{step}")).text)
        assert "Recevoir un lien pour reprendre" not in page  # no address yet
        response = await post_form(client, f"/inscription/etape/{step}", {**answers[step], "go": "next"})
        assert response.status_code == 303
    return answers


async def test_a_draft_started_on_a_phone_is_finished_on_a_pc(client, new_client, smtp, run_jobs):
    await _session()
    answers = await _to_step_5(client)
    page = text((await client.get("/inscription/etape/5")).text)
    assert "Recevoir un lien pour reprendre" in page and "elodie@example.org" in page
    response = await post_form(client, "/inscription/reprendre")
    assert response.status_code == 303 and response.headers["location"] == "/inscription/etape/5"
    assert "Un lien pour reprendre votre demande vient d'être envoyé" in text((await client.get("/inscription/etape/5")).text)
    await run_jobs()
    (recipients, message), = [(r, m) for r, m in smtp.messages if m["Subject"] == "Reprendre votre demande d'inscription"]
    assert recipients == ["elodie@example.org"]
    body = message.get_payload(decode=True).decode()
    # An address nobody confirmed yet: nothing the visitor typed in the mail, only the link.
    for typed in ("Élodie", "D'Artagnan", "Mutualiser", "26110", "04 75"):
        assert typed not in body
    link = _link(smtp, r"http://testserver\.local/inscription/reprendre/\S+").replace("http://testserver.local", "")
    async with new_client() as pc:
        # Following the link (a mail scanner does too) takes nothing: a page and a button.
        page = await pc.get(link)
        assert page.status_code == 200 and "Reprendre ma demande ici" in text(page.text)
        assert (await pc.get("/inscription/etape/5")).status_code == 303  # not yet this browser's
        response = await post_form(pc, link)
        assert response.status_code == 303 and response.headers["location"] == "/inscription/etape/5"
        page = (await pc.get("/inscription/etape/4")).text
        assert 'value="elodie@example.org"' in page and 'value="Élodie"' in page
        for step in range(5, 10):
            response = await post_form(pc, f"/inscription/etape/{step}", {**answers[step], "go": "next"})
            assert response.status_code == 303, (step, text(response.text))
        assert response.headers["location"] == "/inscription/envoyee"
        # Used once: the link now says so.
        again = await pc.get(link)
        assert again.status_code == 400 and "n'existe plus" in text(again.text)
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "elodie@example.org").first()
    assert request["status"] == "awaiting_confirmation"
    # The phone no longer holds the draft.
    response = await client.get("/inscription/etape/6")
    assert response.status_code == 303 and "expired" in response.headers["location"]


async def test_a_resume_link_works_once_and_a_forged_one_not_at_all(client, new_client, smtp, run_jobs):
    await _session()
    await _to_step_5(client)
    await post_form(client, "/inscription/reprendre")
    await run_jobs()
    link = _link(smtp, r"http://testserver\.local/inscription/reprendre/\S+").replace("http://testserver.local", "")
    async with new_client() as pc:
        assert (await post_form(pc, link)).status_code == 303
    async with new_client() as someone_else:
        response = await post_form(someone_else, link)
        assert response.status_code == 400 and "déjà servi" in text(response.text)
        forged = re.sub(r"reprendre/.", "reprendre/x", link)
        page = await someone_else.get(forged)
        assert page.status_code == 400 and "n'est pas valide" in text(page.text)
    # Asking again and again: a few per draft, then the French 429 page, and no more mails.
    async with new_client() as pc:
        answers = await _to_step_5(pc)
        codes = [(await post_form(pc, "/inscription/reprendre")).status_code for _ in range(4)]
        assert codes == [303, 303, 303, 429]
        _ = answers


async def test_resume_links_count_in_the_per_mailbox_cap_whatever_the_draft(client, new_client, smtp, run_jobs):
    """Several drafts giving one address (a script, or someone else's address): that mailbox still
    gets at most three mails an hour a visitor causes, resume links included."""
    await _session()
    sent = []
    for _ in range(2):
        async with new_client() as visitor:
            await _to_step_5(visitor)
            for _ in range(2):
                response = await post_form(visitor, "/inscription/reprendre")
                assert response.status_code == 303
                sent.append(text((await visitor.get("/inscription/etape/5")).text))
    assert sum("Un lien pour reprendre votre demande vient d'être envoyé" in page for page in sent) == 3
    assert "au plus 3 courriels par heure pour une même adresse" in sent[-1]
    await run_jobs()
    resume_mails = [m for r, m in smtp.messages if m["Subject"] == "Reprendre votre demande d'inscription"]
    assert len(resume_mails) == 3
