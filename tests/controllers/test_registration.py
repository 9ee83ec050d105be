"""SPEC F1-F3: the public wizard, the confirmation link, the notifications with the BI, and the
back-office workflow to the final enrolment — through HTTP, with a real worker and SMTP server."""

import io
import re
from datetime import date, timedelta, time

import pytest
from pypdf import PdfReader

from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, TrainingSession
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from app.tables.registration import Organisation, RefItem, RegistrationRequest
from tests.helpers import csrf_token, login, post_form, text


async def _session(seats=None, start_in_days=30, code="26C03S1"):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    qvt = await CourseTemplate.select().where(CourseTemplate.code == "C03").first()
    start = date.today() + timedelta(days=start_in_days)
    row = await TrainingSession.insert(TrainingSession(
        establishment=alp001, template=qvt["id"], full_name="Session QVT", short_name="QVT", start_date=start,
        end_date=start + timedelta(days=1), code=code, seats=seats)).returning(TrainingSession.id)
    return row[0]["id"]


async def _ref(kind, label):
    return (await RefItem.select(RefItem.id).where((RefItem.kind == kind) & (RefItem.label == label)).first())["id"]


async def _answers():
    org = (await Organisation.select(Organisation.id).where(Organisation.name == "Mairie de Nyons").first())["id"]
    return {
        2: {"funding": await _ref("funding_method", "Financement par ma collectivité")},
        3: {"organisation": org},
        4: {"civility": "Mme", "first_name": "Élodie", "last_name": "D'Artagnan-Lé", "email": "elodie@example.org",
            "email_confirm": "elodie@example.org", "postal_code": "26110", "phone": "04 75 00 00 00",
            "expectations": "Mutualiser les équipements."},
        5: {"mandate": await _ref("candidate_state", "Adjoint.e au Maire"), "mandate_year": "2020"},
        6: {"dietary": "yes", "dietary_details": "Végétarienne"},
        7: {"disability": "1"},
        8: {"consent_carpool": "yes", "consent_mailing": "no", "consent_image": "yes"},
        9: {"cgv": "1"},
    }


async def _fill(client, code="26C03S1"):
    response = await post_form(client, "/inscription/", {"code": code, "action": "new"})
    assert response.status_code == 303, text(response.text)
    for step, data in (await _answers()).items():
        response = await post_form(client, f"/inscription/etape/{step}", {**data, "go": "next"})
        assert response.status_code == 303, (step, text(response.text))
    return response


def _link(smtp, pattern):
    for _, message in reversed(smtp.messages):
        body = (message.get_payload(decode=True) or b"").decode() if not message.is_multipart() else \
            next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
        found = re.search(pattern, body)
        if found:
            return found.group(0)
    raise AssertionError(f"no mail matches {pattern}")


@pytest.mark.smoke
async def test_whole_journey_to_the_final_enrolment(client, new_client, smtp, run_jobs):
    session_id = await _session()
    page = text((await client.get("/inscription/26C03S1")).text)
    # No time slots yet: the days only, no invented hours.
    assert "Qualité de vie au travail (QVT)" in page and "Du " in page and "09:00" not in page
    from app.tables.catalogue import SessionSlot

    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    await SessionSlot.insert(SessionSlot(session=session_id, day=session["start_date"], starts=time(9, 0), ends=time(12, 30)),
                             SessionSlot(session=session_id, day=session["end_date"], starts=time(13, 30), ends=time(17, 15)))
    page = text((await client.get("/inscription/26C03S1")).text)
    assert ", 09:00 au " in page and ", 17:15" in page and "09:00–12:30" in page
    # Where and who (issue 12): a remote session says so (its link is for the convoked only), and its contact.
    await TrainingSession.update({TrainingSession.remote_url: "https://visio.example.org/qvt",
                                  TrainingSession.contact: "Claire Martin"}).where(TrainingSession.id == session_id)
    answer = (await client.get("/inscription/26C03S1")).text
    assert "À distance" in text(answer) and "Contact : Claire Martin" in text(answer)
    assert "visio.example.org" not in answer
    response = await _fill(client)
    assert response.headers["location"] == "/inscription/envoyee"
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "elodie@example.org").first()
    assert request["status"] == "awaiting_confirmation"
    assert text((await client.get("/inscription/envoyee")).text).count(request["reference"]) == 1
    await run_jobs()
    link = _link(smtp, r"http://testserver\.local/inscription/confirmer/\S+")
    path = link.replace("http://testserver.local", "")
    confirmed = await client.get(path)
    assert confirmed.status_code == 200 and "Adresse confirmée" in text(confirmed.text)
    reused = await client.get(path)
    assert reused.status_code == 400 and "déjà été utilisé" in text(reused.text)
    await run_jobs()
    subjects = {m["Subject"]: (rcpt, m) for rcpt, m in smtp.messages}
    assert f"Votre demande d'inscription {request['reference']}" in subjects
    assert f"Bulletin d'inscription {request['reference']} à valider" in subjects, list(subjects)
    rcpt, bi_mail = subjects[f"Bulletin d'inscription {request['reference']} à valider"]
    assert rcpt == ["formation@nyons.demo.tremplin.local"]
    pdf = next(p for p in bi_mail.walk() if p.get_content_type() == "application/pdf").get_payload(decode=True)
    content = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for expected in ("Élodie", "Mairie de Nyons", "Adjoint.e au Maire", "Végétarienne", "aménagement", "26C03S1"):
        assert expected in content, expected
    copy_rcpt, _ = subjects[f"[Copie] Bulletin d'inscription {request['reference']} à valider"]
    assert "inscriptions@demo.tremplin.local" in copy_rcpt

    # The back office: the steps in order, an out-of-order click refused.
    async with new_client() as manager:
        await login(manager, "inscriptions")
        base = f"/gestion-inscriptions/demandes/{request['id']}"
        listing = text((await manager.get("/gestion-inscriptions/demandes?status=confirmed")).text)
        assert request["reference"] in listing
        response = await post_form(manager, f"{base}/validate_operator")
        assert response.status_code == 400 and "n'est pas possible à cette étape" in text(response.text)
        for action in ("validate_instance", "validate_operator", "validate_requester"):
            response = await post_form(manager, f"{base}/{action}")
            assert response.status_code == 303, (action, text(response.text))
        detail = text((await manager.get(base)).text)
        assert "Inscription définitive" in detail and "6. Validation instance (BI signé)" in detail and "inscriptions" in detail
        # The request's own mails, and only those, are listed on its page.
        assert f"[Copie] Bulletin d'inscription {request['reference']} à valider" in detail
        assert detail.count("Confirmez votre adresse") == 1
    await run_jobs()
    credentials = _link(smtp, r"Nom d'utilisateur : \S+\s+Mot de passe : \S+")
    username, password = re.findall(r": (\S+)", credentials)
    assert username == "ext.e.dartagnan-le"  # an external trainee (issue 20 point 3)
    assert any("pas encore validée" in m["Subject"] for _, m in smtp.messages)
    user = await User.select(User.id).where(User.username == username).first()
    assert await Enrolment.exists().where((Enrolment.session == session_id) & (Enrolment.user == user["id"]))
    async with new_client() as learner:
        await login(learner, username, password)
        assert (await learner.get("/")).headers["location"] == "/mot-de-passe"


async def test_steps_validate_and_keep_values_and_a_draft_survives(client, new_client):
    await _session()
    await post_form(client, "/inscription/", {"code": "26c03s1", "action": "new"})
    response = await post_form(client, "/inscription/etape/2", {"go": "next"})
    assert response.status_code == 422 and "Choisissez une méthode de financement." in text(response.text)
    answers = await _answers()
    await post_form(client, "/inscription/etape/2", {**answers[2], "go": "next"})
    await post_form(client, "/inscription/etape/3", {**answers[3], "go": "next"})
    response = await post_form(client, "/inscription/etape/4", {**answers[4], "email_confirm": "autre@example.org", "go": "next"})
    assert response.status_code == 422 and "Les deux adresses de courriel ne correspondent pas." in text(response.text)
    assert 'value="Élodie"' in response.text
    # A reload, or the browser closed and opened again: the same cookie finds the draft.
    cookie = client.cookies.get("tremplin_draft", path="/inscription")
    async with new_client() as later:
        later.cookies.set("tremplin_draft", cookie, path="/inscription")
        page = await later.get("/inscription/etape/4")
        assert 'value="Élodie"' in page.text and "Informations sur le stagiaire" in page.text
        back = await later.get("/inscription/etape/2")
        assert f'value="{answers[2]["funding"]}" checked' in back.text
    response = await post_form(client, "/inscription/etape/6", {"dietary": "yes", "go": "next"})
    assert response.status_code in (303, 422)  # step 6 not reached yet: shown at the last reached step
    response = await post_form(client, "/inscription/etape/4", {**answers[4], "go": "next"})
    response = await post_form(client, "/inscription/etape/5", {**answers[5], "go": "next"})
    response = await post_form(client, "/inscription/etape/6", {"dietary": "yes", "go": "next"})
    assert response.status_code == 422 and "Merci de préciser vos contraintes alimentaires." in text(response.text)


async def test_closed_past_and_full_sessions(client, smtp, run_jobs):
    assert "Aucune session ouverte" in text((await client.get("/inscription/26XXXS9")).text)
    await _session(start_in_days=-1, code="26C03S8")
    assert "déjà commencé" in text((await client.get("/inscription/26C03S8")).text)
    await _session(seats=1, code="26C03S2")
    assert "liste d'attente" not in text((await client.get("/inscription/26C03S2")).text)
    await _fill(client, "26C03S2")
    await run_jobs()
    path = _link(smtp, r"http://testserver\.local/inscription/confirmer/\S+").replace("http://testserver.local", "")
    await client.get(path)
    # The one seat is taken: the next requester is told and put on the waiting list.
    client.cookies.clear()
    assert "complète" in text((await client.get("/inscription/26C03S2")).text)
    await _fill(client, "26C03S2")
    last = await RegistrationRequest.select().order_by(RegistrationRequest.id, ascending=False).first()
    assert last["waiting_list"] is True


async def test_forged_and_expired_links_and_double_submit(client, smtp, run_jobs):
    await _session()
    await _fill(client)
    assert await RegistrationRequest.count().where(RegistrationRequest.status == "awaiting_confirmation") == 1
    # Sending the last step again does not create a second request.
    response = await post_form(client, "/inscription/etape/9", {"cgv": "1", "go": "next"})
    assert response.status_code == 303
    assert await RegistrationRequest.count().where(RegistrationRequest.status != "draft") == 1
    forged = await client.get("/inscription/confirmer/eyJpZCI6MX0.forged.signature")
    assert forged.status_code == 400 and "n'est pas valide" in text(forged.text)
    from itsdangerous import URLSafeTimedSerializer

    from app.services import registration

    old = URLSafeTimedSerializer("test-secret-key-0123456789abcdef0123456789", salt="confirm")
    request = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    import time as _time
    from unittest import mock

    with mock.patch("itsdangerous.timed.time.time", return_value=_time.time() - registration.CONFIRM_MAX_AGE - 60):
        expired_token = old.dumps({"id": request["id"], "nonce": request["confirmation_nonce"]})
    expired = await client.get(f"/inscription/confirmer/{expired_token}")
    assert expired.status_code == 400 and "a expiré" in text(expired.text)
    assert "Recevoir un nouveau lien" in text(expired.text)
    response = await post_form(client, "/inscription/nouveau-lien", {"email": "elodie@example.org",
                                                                      "reference": request["reference"]})
    assert response.status_code == 303
    await run_jobs()
    assert sum("Confirmez votre adresse" in m["Subject"] for _, m in smtp.messages) == 2


async def test_back_office_requires_the_manager_role_and_a_reason_to_refuse(client, new_client, run_jobs, smtp):
    await _session()
    await _fill(client)
    request = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    async with new_client() as get:
        await login(get, "alp001.get")
        assert (await post_form(get, f"/gestion-inscriptions/demandes/{request['id']}/refuse", {"reason": "x"})).status_code == 403
    async with new_client() as manager:
        await login(manager, "inscriptions")
        response = await post_form(manager, f"/gestion-inscriptions/demandes/{request['id']}/refuse", {"reason": ""})
        assert response.status_code == 422 and "Indiquez le motif" in text(response.text)
        response = await post_form(manager, f"/gestion-inscriptions/demandes/{request['id']}/refuse",
                                   {"reason": "Session réservée aux élus du département."})
        assert response.status_code == 303
        response = await post_form(manager, f"/gestion-inscriptions/demandes/{request['id']}/validate_instance")
        assert response.status_code == 400
    await run_jobs()
    assert any("est refusée" in m["Subject"] for _, m in smtp.messages)
    _ = csrf_token


async def test_the_back_office_cancels_a_request_without_a_reason(client, new_client):
    """The reason is required to refuse, not to cancel (the field used to block « Annuler la demande »)."""
    await _session()
    await _fill(client)
    request = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    async with new_client() as manager:
        await login(manager, "inscriptions")
        page = (await manager.get(f"/gestion-inscriptions/demandes/{request['id']}")).text
        assert 'name="reason" required' not in page
        response = await post_form(manager, f"/gestion-inscriptions/demandes/{request['id']}/cancel", {"reason": ""})
        assert response.status_code == 303
    assert (await RegistrationRequest.select().where(RegistrationRequest.id == request["id"]).first())["status"] == "cancelled"


async def test_follow_and_cancel_through_a_signed_link(client, new_client, smtp, run_jobs):
    await _session()
    await _fill(client)
    request = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    async with new_client() as someone:
        # A wrong e-mail or reference: the same answer, and no mail.
        response = await post_form(someone, "/inscription/suivi", {"email": "intrus@example.org",
                                                                   "reference": request["reference"]})
        assert response.status_code == 303
        response = await post_form(someone, "/inscription/suivi", {"email": "elodie@example.org",
                                                                   "reference": request["reference"]})
        assert response.status_code == 303
        await run_jobs()
        follows = [m for _, m in smtp.messages if m["Subject"].startswith("Suivi de votre demande")]
        assert len(follows) == 1
        body = next(p for p in follows[0].walk() if p.get_content_type() == "text/plain").get_content()
        path = "/inscription/" + re.search(r"/inscription/(suivi/\S+)", body).group(1)
        page = text((await someone.get(path)).text)
        assert request["reference"] in page and "En attente de confirmation" in page
        assert (await someone.get(path[:-4] + "abcd")).status_code == 400  # a tampered token
        response = await post_form(someone, path + "/annuler")
        assert response.status_code == 303
        assert (await RegistrationRequest.select(RegistrationRequest.status).where(
            RegistrationRequest.id == request["id"]).first())["status"] == "cancelled"


async def test_a_logged_in_requester_gets_the_trainee_fields_prefilled(client):
    """Issue 9: after "J'ai déjà un compte" and the login, the requester is back in the wizard where
    they were, the trainee fields (the confirmation of the address too) prefilled, and the request
    is tied to their account."""
    await _session()
    response = await post_form(client, "/inscription/", {"code": "26C03S1", "action": "login"})
    assert response.headers["location"] == "/connexion?next=%2Finscription%2Fetape%2F2"
    login_page = await client.get(response.headers["location"])
    assert 'name="next" value="/inscription/etape/2"' in login_page.text
    response = await post_form(client, "/connexion", {"username": "alp001.get", "password": "Demo-2026!",
                                                      "next": "/inscription/etape/2"})
    assert response.headers["location"] == "/inscription/etape/2"
    assert "Mode de financement" in text((await client.get("/inscription/etape/2")).text)
    answers = await _answers()
    for step in (2, 3):
        await post_form(client, f"/inscription/etape/{step}", {**answers[step], "go": "next"})
    page = await client.get("/inscription/etape/4")
    assert 'value="Emma"' in page.text
    assert page.text.count('value="alp001.get@demo.tremplin.local"') == 2  # the address and its confirmation
    # A forged next never leaves the site.
    response = await post_form(client, "/connexion", {"username": "alp001.get", "password": "Demo-2026!",
                                                      "next": "https://evil.example.org/inscription"})
    assert response.headers["location"] == "/"


async def test_the_wizard_login_link_brings_the_requester_back_to_the_same_step(client):
    await _session()
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    answers = await _answers()
    for step in (2, 3):
        await post_form(client, f"/inscription/etape/{step}", {**answers[step], "go": "next"})
    page = await client.get("/inscription/etape/4")
    link = re.search(r'href="(/connexion\?next=[^"]+)"', page.text).group(1)
    assert link == "/connexion?next=%2Finscription%2Fetape%2F4"
    response = await post_form(client, "/connexion", {"username": "alp001.get", "password": "Demo-2026!",
                                                      "next": "/inscription/etape/4"})
    assert response.headers["location"] == "/inscription/etape/4"
    page = await client.get("/inscription/etape/4")
    assert 'value="Emma"' in page.text and page.text.count('value="alp001.get@demo.tremplin.local"') == 2
    for step in range(4, 10):
        data = answers[step] if step != 4 else {**answers[4], "email": "emma@example.org", "email_confirm": "emma@example.org"}
        response = await post_form(client, f"/inscription/etape/{step}", {**data, "go": "next"})
        assert response.status_code == 303, text(response.text)
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "emma@example.org").first()
    emma = await User.select(User.id).where(User.username == "alp001.get").first()
    assert request["user"] == emma["id"]


async def test_step_2_goes_back_to_step_1_and_the_draft_is_resumed(client):
    await _session()
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    answers = await _answers()
    await post_form(client, "/inscription/etape/2", {**answers[2], "go": "next"})
    page = await client.get("/inscription/etape/2")
    assert "Étape précédente" in text(page.text)
    response = await post_form(client, "/inscription/etape/2", {"go": "previous"})
    assert response.status_code == 303 and response.headers["location"] == "/inscription/26C03S1"
    start = await client.get(response.headers["location"])
    assert 'value="resume" checked' in start.text and "Reprendre ma demande en cours (étape 3" in text(start.text)
    response = await post_form(client, "/inscription/", {"code": "26C03S1", "action": "resume"})
    assert response.headers["location"] == "/inscription/etape/3"
    back = await client.get("/inscription/etape/2")
    assert f'value="{answers[2]["funding"]}" checked' in back.text  # nothing lost on the way


async def test_cancelling_the_draft_asks_first_even_without_javascript(client):
    await _session()
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    answers = await _answers()
    await post_form(client, "/inscription/etape/2", {**answers[2], "go": "next"})
    response = await post_form(client, "/inscription/etape/3", {"go": "cancel"})
    assert response.status_code == 303 and response.headers["location"] == "/inscription/annuler"
    assert await RegistrationRequest.count().where(RegistrationRequest.status == "draft") == 1
    page = await client.get("/inscription/annuler")
    body = text(page.text)
    assert page.status_code == 200 and "Abandonner votre demande d'inscription en cours ?" in body
    assert "Non, revenir à ma demande" in body and 'action="/inscription/annuler"' in page.text
    # With htmx the button leads to the same page.
    response = await post_form(client, "/inscription/etape/3", {"go": "cancel"}, htmx=True)
    assert response.headers["hx-redirect"] == "/inscription/annuler"
    response = await post_form(client, "/inscription/annuler")
    assert response.status_code == 303
    assert await RegistrationRequest.count().where(RegistrationRequest.status == "draft") == 0


async def test_a_cancellation_by_the_requester_asks_first_and_tells_the_instance_and_the_operator(
        client, new_client, smtp, run_jobs):
    await _session()
    await _fill(client)
    await run_jobs()
    path = _link(smtp, r"http://testserver\.local/inscription/confirmer/\S+").replace("http://testserver.local", "")
    await client.get(path)
    await run_jobs()  # the BI goes to the instance (Mairie de Nyons) and the copy to the operator
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "elodie@example.org").first()
    await post_form(client, "/inscription/suivi", {"email": "elodie@example.org", "reference": request["reference"]})
    await run_jobs()
    follow = "/inscription/" + _link(smtp, r"/inscription/(suivi/\S+)").split("/inscription/", 1)[1]
    page = await client.get(follow)
    assert f'href="{follow}/annuler"' in page.text  # a link to the confirmation, not a one-click form
    confirm = await client.get(follow + "/annuler")
    body = text(confirm.text)
    assert confirm.status_code == 200 and f"Annuler votre demande d'inscription {request['reference']}" in body
    assert "Non, garder ma demande" in body and "HGI Formation des élus en est informé" in body  # the demo operator
    assert (await RegistrationRequest.select(RegistrationRequest.status).where(
        RegistrationRequest.id == request["id"]).first())["status"] == "confirmed"
    smtp.messages.clear()
    response = await post_form(client, follow + "/annuler")
    assert response.status_code == 303
    await run_jobs()
    ref = request["reference"]
    sent = {m["Subject"]: rcpt for rcpt, m in smtp.messages}
    assert sent[f"Votre demande d'inscription {ref} est annulée"] == ["elodie@example.org"]
    assert sent[f"Demande d'inscription {ref} annulée"] == ["formation@nyons.demo.tremplin.local"]
    assert "inscriptions@demo.tremplin.local" in sent[f"[Copie] Demande d'inscription {ref} annulée"]
    # Cancelled: the page no longer offers it, the confirmation page sends back.
    assert "Annuler ma demande" not in text((await client.get(follow)).text)
    assert (await client.get(follow + "/annuler")).headers["location"] == follow


async def test_back_office_steps_8_and_10_ask_for_a_confirmation(client, new_client, smtp, run_jobs):
    await _session()
    await _fill(client)
    await run_jobs()
    await client.get(_link(smtp, r"http://testserver\.local/inscription/confirmer/\S+").replace("http://testserver.local", ""))
    await run_jobs()  # the BI leaves (step 6 waits for it, issue 20)
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "elodie@example.org").first()
    base = f"/gestion-inscriptions/demandes/{request['id']}"
    async with new_client() as manager:
        await login(manager, "inscriptions")
        page = await manager.get(base)
        assert f'action="{base}/validate_instance"' in page.text  # step 6, the BI sent: one click
        assert (await manager.get(f"{base}/validate_instance")).status_code == 404
        await post_form(manager, f"{base}/validate_instance")
        page = await manager.get(base)
        assert f'href="{base}/validate_operator"' in page.text and f'action="{base}/validate_operator"' not in page.text
        confirm = await manager.get(f"{base}/validate_operator")
        body = text(confirm.text)
        assert confirm.status_code == 200 and "« 8. Validation opérateur » pour la demande" in body
        assert "Un compte de stagiaire externe sera créé pour Mme Élodie D'Artagnan-Lé" in body
        assert "elodie@example.org" in body
        assert f'action="{base}/validate_operator"' in confirm.text and "Revenir à la demande" in body
        assert (await RegistrationRequest.select(RegistrationRequest.status).where(
            RegistrationRequest.id == request["id"]).first())["status"] == "instance_validated"
        assert (await post_form(manager, f"{base}/validate_operator")).status_code == 303
        confirm = await manager.get(f"{base}/validate_requester")
        assert "sera inscrit(e) à la session 26C03S1" in text(confirm.text)
        # Asked for a step that is not the next one: back to the request.
        assert (await manager.get(f"{base}/validate_operator")).headers["location"] == base
        # The session says when and where (issue 20: no automatic convocation before that).
        from datetime import time

        from app.tables.catalogue import SessionSlot

        session = await TrainingSession.select().where(TrainingSession.code == "26C03S1").first()
        await TrainingSession.update({TrainingSession.place: "Salle Ventoux"}).where(TrainingSession.id == session["id"])
        await SessionSlot.insert(SessionSlot(session=session["id"], day=session["start_date"], starts=time(9),
                                             ends=time(12, 30)))
        assert (await post_form(manager, f"{base}/validate_requester")).status_code == 303
        # 10. done: enrolled by the online registration, the convocation follows (issue 12, X2),
        # the civility of the request on it.
        smtp.messages.clear()
        await run_jobs()
        convocation = [m for rcpt, m in smtp.messages if m["Subject"] == "Convocation : Session QVT"]
        assert len(convocation) == 1 and convocation[0]["To"] == "elodie@example.org"
        files = {p.get_filename(): p.get_payload(decode=True) for p in convocation[0].iter_attachments()}
        assert sorted(files) == ["convocation-26C03S1-D-Artagnan-Le-Elodie.pdf", "invitation-26C03S1.ics"]
        from tests.services.test_certificates import pdf_text

        assert "Mme Élodie D'Artagnan-Lé" in pdf_text(files["convocation-26C03S1-D-Artagnan-Le-Elodie.pdf"])
