"""Hardening (issue 8, item 2): no password is readable once its mail has left; the registration
back office sees the registration's mails only; test mode redirects registration mails only; an
import's file passwords are not kept."""

import pytest

from app.services import outbox
from app.tables.accounts import RoleAssignment, User
from app.tables.imports import ImportRow
from app.tables.org import Establishment
from app.tables.outbox import Mail
from tests.helpers import login, post_form, text


def _body(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


async def _generate_and_inform(client, establishment_id: int, username: str, email: str) -> None:
    response = await post_form(client, f"/etablissements/{establishment_id}/comptes/nouveau", {
        "username": username, "generate_password": "1", "first_name": "Noé", "last_name": "Secret",
        "email": email, "establishment": establishment_id, "status": "fph_agent"})
    assert response.status_code == 303, text(response.text)


@pytest.mark.smoke
async def test_the_password_is_never_stored_in_the_body_and_erased_once_sent(client, smtp, run_jobs):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    await login(client, "alp001.get")
    await _generate_and_inform(client, alp001, "alp001.n.secret", "noe.secret@example.org")
    mail = await Mail.select().where(Mail.category == "credentials").first()
    assert outbox.SECRET_MARK in mail["body_text"] and mail["secret"]
    assert mail["secret"] not in mail["body_text"]
    await run_jobs()
    (_, message), = smtp.messages
    password = _body(message).split("Mot de passe : ")[1].split("\n")[0].strip()
    assert password == mail["secret"] and outbox.SECRET_MARK not in _body(message)
    sent = await Mail.select().where(Mail.id == mail["id"]).first()
    assert sent["status"] == "sent" and sent["secret"] == ""
    assert password not in sent["body_text"]


async def test_the_registration_back_office_sees_registration_mails_only(client, smtp):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    await login(client, "alp001.get")
    await _generate_and_inform(client, alp001, "alp001.n.secret", "noe.secret@example.org")
    credentials = await Mail.select(Mail.id).where(Mail.category == "credentials").first()
    from app import db

    async with db.transaction():
        registration_mail = await outbox.queue_mail(
            ["zoe@example.org"], "Vos identifiants pour votre inscription",
            f"Mot de passe : {outbox.SECRET_MARK}\n", category="registration", secret="Zz-Secret-2026!")
    await post_form(client, "/deconnexion")
    await login(client, "inscriptions")
    listing = text((await client.get("/gestion-inscriptions/emails")).text)
    assert "Vos identifiants pour votre inscription" in listing
    assert "noe.secret@example.org" not in listing
    foreign = await client.get(f"/gestion-inscriptions/emails/{credentials['id']}")
    missing = await client.get("/gestion-inscriptions/emails/999999")
    assert foreign.status_code == missing.status_code == 404
    assert text(foreign.text) == text(missing.text)
    assert (await post_form(client, f"/gestion-inscriptions/emails/{credentials['id']}/renvoyer")).status_code == 404
    # A registration mail that carries a password shows it masked.
    page = await client.get(f"/gestion-inscriptions/emails/{registration_mail}")
    assert page.status_code == 200
    assert "Zz-Secret-2026!" not in page.text and "masqué" in text(page.text)


async def test_test_mode_redirects_registration_mails_only(demo):
    from app import db

    await outbox.set_setting("test_mode", "1")
    tester = await User.select(User.email).where(User.username == "testeur").first()
    async with db.transaction():
        credentials = await outbox.queue_mail(["agent@example.org"], "Identifiants", f"{outbox.SECRET_MARK}",
                                              category="credentials", secret="x")
        registration = await outbox.queue_mail(["zoe@example.org"], "Demande", "Corps", category="registration")
    rows = {r["id"]: r for r in await Mail.select().where(Mail.id.is_in([credentials, registration]))}
    assert rows[credentials]["recipients"] == "agent@example.org" and not rows[credentials]["is_test"]
    assert rows[registration]["recipients"] == tester["email"] and rows[registration]["is_test"]
    assert rows[registration]["subject"].startswith("[TEST]")
    assert await RoleAssignment.exists().where(RoleAssignment.role == "registration_tester")


async def test_an_import_does_not_keep_the_file_passwords(client, run_jobs, smtp):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    await login(client, "alp001.get")
    csv = ("firstname;lastname;password;email;profile_field_matricule\n"
           "Anaïs;Gardien;Secret-Fichier-2026!;anais.gardien@example.org;4411\n").encode()
    response = await client.post(f"/etablissements/{alp001}/import/", files={"file": ("comptes.csv", csv, "text/csv")},
                                 data={"_csrf_token": client.cookies.get("csrftoken")})
    assert response.status_code == 303, text(response.text)
    batch_url = response.headers["location"]
    await run_jobs()  # the analysis of the file, for the preview
    assert (await post_form(client, batch_url.rstrip("/") + "/confirmer")).status_code == 303
    await run_jobs()
    assert await User.exists().where(User.username == "alp001.a.gardien")
    rows = await ImportRow.select(ImportRow.password)
    assert rows and all(r["password"] == "" for r in rows)
