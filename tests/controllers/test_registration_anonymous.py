"""Issue 19: the public wizard's limits and mails.

- The anonymous limits count per draft and per e-mail as well as per address, the address's
  ceiling a setting: a shared office or a venue's Wi-Fi registers dozens of people; abuse is still
  refused.
- A mail to an address nobody has confirmed carries nothing the visitor typed, and one mailbox gets
  at most a few such mails an hour, whoever asks.
- Test mode never hands a real person's signed links or password to the testers.
"""

import re

import httpx
import pytest

from app.settings import get_settings
from app.tables.outbox import Mail
from app.tables.registration import RegistrationRequest
from tests.controllers.test_registration import _answers, _link, _session
from tests.helpers import login, post_form, text

TESTER = "testeur@demo.tremplin.local"


def _client_at(app, address: str) -> httpx.AsyncClient:
    """A browser at another client address (the app sees it as uvicorn's proxy headers would give it)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 5000)),
                             base_url="http://testserver.local", follow_redirects=False)


def _body(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode().replace("\r\n", "\n")


def _mailbox(smtp, address: str) -> list:
    """The mails one SMTP recipient got (``address``: the start of the address)."""
    return [m for rcpt, m in smtp.messages if any(r.lower().startswith(address) for r in rcpt)]


async def _register(client, email: str, first_name: str = "Élodie", last_name: str = "Durand") -> httpx.Response:
    """The whole wizard; returns the answer to the last step."""
    response = await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    assert response.status_code == 303, text(response.text)
    answers = await _answers()
    answers[4] = {**answers[4], "first_name": first_name, "last_name": last_name, "email": email,
                  "email_confirm": email}
    for step, data in answers.items():
        response = await post_form(client, f"/inscription/etape/{step}", {**data, "go": "next"})
        if step < 9:
            assert response.status_code == 303, (step, text(response.text))
    return response


@pytest.fixture
def drafts_per_address(monkeypatch):
    """Set REGISTRATION_DRAFTS_PER_ADDRESS for one test (the settings are read again)."""
    def set_to(value: int) -> None:
        monkeypatch.setenv("REGISTRATION_DRAFTS_PER_ADDRESS", str(value))
        get_settings.cache_clear()

    yield set_to
    monkeypatch.delenv("REGISTRATION_DRAFTS_PER_ADDRESS", raising=False)
    get_settings.cache_clear()


# -- 1. limits per draft, per e-mail, per address ----------------------------------------------------
async def test_a_training_day_on_one_wifi_registers_everyone(client, new_client, smtp):
    """40 people on the venue's Wi-Fi (one address): every draft is accepted, and 25 of them go to
    the end (the old per-address limits refused the 31st draft and the 21st submission)."""
    await _session()
    for n in range(40):
        async with new_client() as phone:
            if n < 25:
                response = await _register(phone, f"elu{n}@example.org", last_name=f"Élu{n}")
                assert response.status_code == 303 and response.headers["location"] == "/inscription/envoyee", (
                    n, text(response.text))
            else:
                response = await post_form(phone, "/inscription/", {"code": "26C03S1", "action": "new"})
                assert response.status_code == 303, (n, text(response.text))
    assert await RegistrationRequest.count().where(RegistrationRequest.status == "awaiting_confirmation") == 25
    assert await RegistrationRequest.count().where(RegistrationRequest.status == "draft") == 15


async def test_the_address_ceiling_is_a_setting_and_still_refuses_a_script(app, client, new_client,
                                                                          drafts_per_address):
    await _session()
    drafts_per_address(5)
    for n in range(5):
        async with new_client() as visitor:
            assert (await post_form(visitor, "/inscription/", {"code": "26C03S1", "action": "new"})).status_code == 303
    async with new_client() as script:
        response = await post_form(script, "/inscription/", {"code": "26C03S1", "action": "new"})
        assert response.status_code == 429
        assert "Trop de demandes, réessayez dans quelques minutes." in text(response.text)
    # Another address is not affected.
    async with _client_at(app, "192.0.2.10") as elsewhere:
        assert (await post_form(elsewhere, "/inscription/", {"code": "26C03S1", "action": "new"})).status_code == 303
    assert await RegistrationRequest.count().where(RegistrationRequest.status == "draft") == 6


async def test_an_ipv6_network_counts_as_one_address(app, client, drafts_per_address):
    """Hostile pass (issue 19): a visitor on IPv6 has a whole /64 (2^64 addresses, each of them a new
    counter): the per-address ceiling counted per address let a script rotate its address and
    never meet it. Another /64 is another client."""
    await _session()
    drafts_per_address(3)
    for n in range(4):
        async with _client_at(app, f"2001:db8:1:2::{n + 1:x}") as visitor:
            response = await post_form(visitor, "/inscription/", {"code": "26C03S1", "action": "new"})
            assert response.status_code == (303 if n < 3 else 429), (n, text(response.text))
    async with _client_at(app, "2001:db8:1:3::1") as elsewhere:
        assert (await post_form(elsewhere, "/inscription/", {"code": "26C03S1", "action": "new"})).status_code == 303


# -- 2. what an anonymous visitor can make the platform mail -------------------------------------------
async def test_one_mailbox_gets_at_most_three_confirmation_mails_an_hour_whoever_asks(app, client, smtp, run_jobs):
    """Four requesters from four addresses type the same victim's address (case and « +suffix »
    changed): three mails leave, the fourth submission says why and keeps the answers; « nouveau
    lien » and « suivi » then send nothing more and answer as always."""
    await _session()
    addresses = ["victime@example.org", "Victime@Example.org", "victime+1@example.org", "victime+2@example.org"]
    for n, email in enumerate(addresses):
        async with _client_at(app, f"198.51.100.{n + 1}") as requester:
            response = await _register(requester, email, last_name=f"Nom{n}")
            if n < 3:
                assert response.status_code == 303, (n, text(response.text))
            else:
                page = text(response.text)
                assert response.status_code == 422
                assert ("Nous ne pouvons pas envoyer d'autre courriel à cette adresse pour le moment (au plus 3 "
                        "courriels par heure pour une même adresse)") in page
                assert "Vos réponses sont conservées." in page
                draft = await RegistrationRequest.select().where(RegistrationRequest.last_name == "Nom3").first()
                assert draft["status"] == "draft" and draft["cgv_accepted"]
    await run_jobs()
    assert len(_mailbox(smtp, "victime")) == 3
    first = await RegistrationRequest.select().where(RegistrationRequest.last_name == "Nom0").first()
    async with _client_at(app, "203.0.113.7") as other:
        response = await post_form(other, "/inscription/nouveau-lien",
                                   {"email": "victime@example.org", "reference": first["reference"]})
        assert response.status_code == 303
        flash = text((await other.get(response.headers["location"])).text)
        assert "Si une demande en attente correspond, un nouveau lien vient de vous être envoyé par courriel" in flash
        response = await post_form(other, "/inscription/suivi",
                                   {"email": "victime@example.org", "reference": first["reference"]})
        assert response.status_code == 303
        flash = text((await other.get(response.headers["location"])).text)
        assert "un lien de suivi vient de vous être envoyé par courriel (au plus 3 courriels par heure" in flash
    await run_jobs()
    assert len(_mailbox(smtp, "victime")) == 3
    assert await Mail.count().where(Mail.intended_recipients.like("victime%")) == 3
    # Another mailbox is not affected.
    async with _client_at(app, "203.0.113.8") as someone:
        assert (await _register(someone, "quelquun@example.org", last_name="Autre")).status_code == 303


async def test_gmail_dots_and_googlemail_are_one_mailbox_for_the_cap(app, client, smtp, run_jobs):
    """Hostile pass (issue 19): Gmail ignores the dots of an address and googlemail.com is gmail.com,
    so « v.ictime@gmail.com » is the victim's inbox too: the fourth variant is refused like the
    fourth « +suffix »."""
    await _session()
    addresses = ["victime.cible@gmail.com", "v.ictimecible@gmail.com", "victimecible@googlemail.com",
                 "vic.time.cible+4@gmail.com"]
    for n, email in enumerate(addresses):
        async with _client_at(app, f"198.51.100.{n + 20}") as requester:
            response = await _register(requester, email, last_name=f"Gm{n}")
            assert response.status_code == (303 if n < 3 else 422), (n, text(response.text))
    assert "Nous ne pouvons pas envoyer d'autre courriel à cette adresse pour le moment" in text(response.text)
    await run_jobs()
    assert await Mail.count().where(Mail.intended_recipients.like("%mail.com")) == 3


async def test_an_address_with_header_syntax_is_refused_not_mailed_to_its_group_member(client, new_client):
    """Hostile pass (issue 19): « 1:victime@example.org » passed the address check, and a mail's To
    header reads it as a group whose one member is victime@example.org — « 2:victime@… », « 3:… »
    were as many mailboxes to the per-recipient cap (and to the one-account-per-address rule). Such
    an address, or a quoted one, is refused at step 4 with the French message."""
    await _session()
    answers = await _answers()
    for email in ("1:victime@example.org", '"victime"@example.org', "victime(x)@example.org"):
        async with new_client() as visitor:
            assert (await post_form(visitor, "/inscription/", {"code": "26C03S1", "action": "new"})).status_code == 303
            for step in (2, 3):
                assert (await post_form(visitor, f"/inscription/etape/{step}", {**answers[step], "go": "next"})
                        ).status_code == 303
            response = await post_form(visitor, "/inscription/etape/4", {**answers[4], "email": email,
                                                                          "email_confirm": email, "go": "next"})
            assert response.status_code == 422, (email, response.status_code)
            assert "Adresse de courriel invalide." in text(response.text)


async def test_nothing_typed_reaches_an_unconfirmed_address(client, smtp, run_jobs):
    """The first name typed with a line break and a link is not in the confirmation mail, the follow
    link mail nor the cancellation mail while the address is unconfirmed; once confirmed, the
    requester's own name comes back, on one line."""
    await _session()
    typed = "Zoé\r\nGagnez 1000 € : https://spam.example.com/offre"
    assert (await _register(client, "zoe@example.org", first_name=typed)).status_code == 303
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "zoe@example.org").first()
    response = await post_form(client, "/inscription/suivi", {"email": "zoe@example.org",
                                                              "reference": request["reference"]})
    assert response.status_code == 303
    await run_jobs()
    follow = _link(smtp, r"http://testserver\.local/inscription/suivi/\S+").replace("http://testserver.local", "")
    assert (await post_form(client, f"{follow}/annuler")).status_code == 303
    await run_jobs()
    mails = _mailbox(smtp, "zoe@example.org")
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == ["Confirmez votre adresse pour votre demande d'inscription",
                        f"Suivi de votre demande {request['reference']}",
                        f"Votre demande d'inscription {request['reference']} est annulée"]
    for message in mails:
        body = _body(message)
        assert body.startswith("Bonjour,\n") and "Zoé" not in body and "spam.example" not in body and "Gagnez" not in body
        assert "spam.example" not in message["Subject"]

    # Confirmed: the name (folded on one line) greets its owner.
    smtp.messages.clear()
    assert (await _register(client, "zoe2@example.org", first_name="Zoé\r\nMarie")).status_code == 303
    await run_jobs()
    path = _link(smtp, r"http://testserver\.local/inscription/confirmer/\S+").replace("http://testserver.local", "")
    assert (await client.get(path)).status_code == 200
    second = await RegistrationRequest.select().where(RegistrationRequest.email == "zoe2@example.org").first()
    smtp.messages.clear()
    await post_form(client, "/inscription/suivi", {"email": "zoe2@example.org", "reference": second["reference"]})
    await run_jobs()
    (mail,) = [m for m in _mailbox(smtp, "zoe2@example.org") if m["Subject"].startswith("Suivi de votre demande")]
    assert _body(mail).startswith("Bonjour Zoé Marie,\n")


# -- 3. test mode and other people's secrets --------------------------------------------------------
async def test_test_mode_never_gives_a_tester_a_real_requesters_links_or_password(client, new_client, smtp, run_jobs):
    await _session()
    async with new_client() as manager:
        await login(manager, "inscriptions")
        assert (await post_form(manager, "/gestion-inscriptions/reglages", {"test_mode": "1"})).status_code == 303

    # A real person registers while test mode is on.
    assert (await _register(client, "vraie.personne@example.org", first_name="Vraie", last_name="Personne")
            ).status_code == 303
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "vraie.personne@example.org").first()
    await post_form(client, "/inscription/suivi", {"email": "vraie.personne@example.org",
                                                   "reference": request["reference"]})
    await run_jobs()
    own = _mailbox(smtp, "vraie.personne@example.org")
    assert sorted(m["Subject"] for m in own) == ["Confirmez votre adresse pour votre demande d'inscription",
                                                 f"Suivi de votre demande {request['reference']}"]
    # Only its owner has the link: they confirm with it.
    (confirmation,) = [m for m in own if m["Subject"].startswith("Confirmez")]
    confirm = re.search(r"http://testserver\.local(/inscription/confirmer/\S+)", _body(confirmation)).group(1)
    assert (await client.get(confirm)).status_code == 200
    await run_jobs()
    async with new_client() as manager:
        await login(manager, "inscriptions")
        for action in ("validate_instance", "validate_operator"):
            response = await post_form(manager, f"/gestion-inscriptions/demandes/{request['id']}/{action}")
            assert response.status_code == 303, (action, text(response.text))
    await run_jobs()

    copies = _mailbox(smtp, TESTER)
    subjects = [m["Subject"] for m in copies]
    for expected in ("[TEST] Confirmez votre adresse pour votre demande d'inscription",
                     f"[TEST] Suivi de votre demande {request['reference']}",
                     f"[TEST] Votre demande d'inscription {request['reference']}",
                     "[TEST] Vos identifiants pour votre inscription"):
        assert expected in subjects, (expected, subjects)
    bodies = "\n".join(_body(m) for m in copies)
    # No signed link, no password in the tester's mailbox; the copies say why.
    assert "/inscription/confirmer/" not in bodies and "/inscription/suivi/" not in bodies
    assert re.search(r"Mot de passe : •••••••• \(masqué\)", bodies)
    assert bodies.count("il a été envoyé à son destinataire, seul à pouvoir le recevoir, et il est masqué dans "
                        "cette copie") == 3
    # The owner has their credentials and logs in; nothing the tester received lets anyone in.
    (owner_mail,) = [m for m in _mailbox(smtp, "vraie.personne@example.org")
                     if m["Subject"] == "Vos identifiants pour votre inscription"]
    username, password = re.search(r"Nom d'utilisateur : (\S+)\s+Mot de passe : (\S+)", _body(owner_mail)).groups()
    assert password != "••••••••"
    assert password not in bodies
    async with new_client() as tester:
        for guess in re.findall(r"Mot de passe : (\S+)", bodies) + ["••••••••"]:
            refused = await post_form(tester, "/connexion", {"username": username, "password": guess})
            assert refused.status_code != 303
    async with new_client() as owner:
        await login(owner, username, password)
    # The settings page says it, in the words of a registration manager.
    async with new_client() as manager:
        await login(manager, "inscriptions")
        settings = text((await manager.get("/gestion-inscriptions/reglages")).text)
        assert "ceux-là partent toujours à leur destinataire, seul à pouvoir les recevoir" in settings
