"""SPEC F4-F5: the back office's reference lists, organisations, settings, PDF test and outbox."""

import io

import pytest
from pypdf import PdfReader

from app import db
from app.services import outbox
from app.tables.outbox import Mail
from app.tables.registration import Organisation, RefItem
from tests.helpers import assert_tagged_pdf, login, post_form, text

BASE = "/gestion-inscriptions"


async def _labels(kind):
    return [r["label"] for r in await RefItem.select(RefItem.label).where(RefItem.kind == kind).order_by(RefItem.position)]


@pytest.mark.smoke
async def test_reference_lists_add_reorder_hide_delete(client):
    await login(client, "inscriptions")
    page = (await client.get(f"{BASE}/listes/funding_method")).text
    assert "Méthodes de financement" in text(page) and 'value="Financement par ma collectivité"' in page
    response = await post_form(client, f"{BASE}/listes/funding_method", {"label": "CPF"})
    assert response.status_code == 303
    response = await post_form(client, f"{BASE}/listes/funding_method", {"label": "CPF"})
    assert response.status_code == 422 and "existe déjà" in text(response.text)
    assert await _labels("funding_method") == ["Financement par ma collectivité", "Financement personnel", "CPF"]
    cpf = await RefItem.select(RefItem.id).where(RefItem.label == "CPF").first()
    await post_form(client, f"{BASE}/listes/funding_method/{cpf['id']}/monter")
    await post_form(client, f"{BASE}/listes/funding_method/{cpf['id']}/monter")
    assert await _labels("funding_method") == ["CPF", "Financement par ma collectivité", "Financement personnel"]
    await post_form(client, f"{BASE}/listes/funding_method/{cpf['id']}/masquer")
    assert (await RefItem.select(RefItem.hidden).where(RefItem.id == cpf["id"]).first())["hidden"] is True
    await post_form(client, f"{BASE}/listes/funding_method/{cpf['id']}/supprimer")
    assert "CPF" not in await _labels("funding_method")
    # An entry in use cannot be deleted.
    mairie = await RefItem.select(RefItem.id).where(RefItem.label == "Mairie").first()
    response = await post_form(client, f"{BASE}/listes/establishment_type/{mairie['id']}/supprimer")
    assert response.status_code == 400 and "masquez-le plutôt" in text(response.text)
    assert (await client.get(f"{BASE}/listes/nimportequoi")).status_code == 404


async def test_organisations_review_and_reference(client):
    await login(client, "inscriptions")
    listing = text((await client.get(f"{BASE}/etablissements?referenced=no")).text)
    assert "Mairie de Mollans-sur-Ouvèze" in listing and "Mairie de Nyons" not in listing
    org = await Organisation.select().where(Organisation.referenced == False).first()  # noqa: E712
    await post_form(client, f"{BASE}/etablissements/{org['id']}/referencer")
    assert (await Organisation.select(Organisation.referenced).where(Organisation.id == org["id"]).first())["referenced"]
    response = await post_form(client, f"{BASE}/etablissements/nouveau", {"name": "", "postal_code": "123",
                                                                          "validation_email": "x"})
    body = text(response.text)
    assert response.status_code == 422 and "Le nom est obligatoire." in body and "Code postal : 5 chiffres." in body
    response = await post_form(client, f"{BASE}/etablissements/nouveau", {
        "name": "Mairie de Vaison", "postal_code": "84110", "validation_email": "elus@vaison.example.org",
        "referenced": "1", "under_agreement": "1"})
    assert response.status_code == 303
    assert await Organisation.exists().where(Organisation.name == "Mairie de Vaison")


async def test_settings_and_test_mode(client, smtp, run_jobs, redis_client):
    await login(client, "inscriptions")
    response = await post_form(client, f"{BASE}/reglages", {"disability_email": "pas une adresse"})
    assert response.status_code == 422 and "Adresse de courriel invalide." in text(response.text)
    long_address = "x" * 300 + "@a.fr"  # past the 254 characters of an address: refused, not stored
    response = await post_form(client, f"{BASE}/reglages", {"operator_copy_email": long_address})
    assert response.status_code == 422
    assert "L'adresse de courriel ne peut pas dépasser 254 caractères." in text(response.text)
    assert await outbox.get_setting("operator_copy_email", "") != long_address
    response = await post_form(client, f"{BASE}/reglages", {
        "disability_email": "handicap@example.org", "operator_copy_email": "operateur@example.org",
        "cgv_text": "Conditions 2027", "test_mode": "1"})
    assert response.status_code == 303
    assert await outbox.get_setting("test_mode") == "1" and await outbox.get_setting("cgv_text") == "Conditions 2027"
    async with db.transaction():
        mail_id = await outbox.queue_mail(["demandeur@example.org"], "Confirmez votre adresse", "Corps",
                                          category="registration-confirm")
    await outbox.dispatch(redis_client, [mail_id])
    await run_jobs()
    assert smtp.messages[0][0] == ["testeur@demo.tremplin.local"]


async def test_pdf_test_renders_a_sample_bulletin(client):
    await login(client, "inscriptions")
    response = await client.get(f"{BASE}/test-pdf")
    assert response.headers["content-type"] == "application/pdf"
    content = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Bulletin d" in content and "26C03S1" in content and "Élodie" in content
    assert "Validation par l" in content and "Végétarien" not in content and "végétarien" in content
    assert_tagged_pdf(response.content, "Bulletin d'inscription — Élodie")


async def test_generated_mails_list_detail_and_resend(client, smtp, run_jobs, redis_client):
    smtp.stop()
    async with db.transaction():
        mail_id = await outbox.queue_mail(["a@example.org"], "Votre demande", "Bonjour", category="registration-bi",
                                          attachments=[outbox.Attachment("bi.pdf", "application/pdf", b"%PDF-test")])
    await outbox.dispatch(redis_client, [mail_id])
    await run_jobs()
    smtp.start()
    await login(client, "inscriptions")
    listing = text((await client.get(f"{BASE}/emails?status=failed")).text)
    assert "Votre demande" in listing and "a@example.org" in listing
    detail = await client.get(f"{BASE}/emails/{mail_id}")
    assert "bi.pdf" in detail.text and "Renvoyer maintenant" in detail.text
    attachment = await client.get(f"{BASE}/emails/{mail_id}/pieces/1")
    assert attachment.content == b"%PDF-test"
    response = await post_form(client, f"{BASE}/emails/{mail_id}/renvoyer")
    assert response.status_code == 303
    await run_jobs()
    assert (await Mail.select(Mail.status).where(Mail.id == mail_id).first())["status"] == "sent"
    assert [m["Subject"] for _, m in smtp.messages] == ["Votre demande"]


async def test_back_office_is_reserved_to_registration_managers(client):
    await login(client, "alp001.get")
    for url in (f"{BASE}/", f"{BASE}/reglages", f"{BASE}/emails", f"{BASE}/test-pdf"):
        response = await client.get(url)
        assert response.status_code == 403
        assert "Gestionnaire d'inscriptions locales" in text(response.text)


async def test_reference_entry_can_be_renamed(client):
    await login(client, "inscriptions")
    item = await RefItem.select(RefItem.id).where(RefItem.label == "Financement personnel").first()
    response = await post_form(client, f"{BASE}/listes/funding_method", {"item_id": item["id"], "label": "Financement sur fonds propres"})
    assert response.status_code == 303
    assert "Financement sur fonds propres" in await _labels("funding_method")
    assert "Financement personnel" not in await _labels("funding_method")


async def test_the_daily_task_comes_first_with_its_count(client):
    from app.tables.registration import RegistrationRequest

    await RegistrationRequest.insert(*[RegistrationRequest(status=s, email=f"r{i}@example.org", reference=f"R-TEST-{i}")
                                       for i, s in enumerate(["confirmed", "instance_validated", "draft", "completed"])])
    await login(client, "inscriptions")
    home = text((await client.get("/")).text)
    assert "2 demande(s) d'inscription en attente" in home
    index = text((await client.get("/gestion-inscriptions")).text)
    assert "Demandes d'inscription — 2 demande(s) en attente" in index
    assert index.index("Demandes d'inscription") < index.index("Réglages")
