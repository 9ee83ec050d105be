"""Accessibility (RGAA, issue 25): the footer statement on every page, the public declaration with
the official model's sections, edited by the administrator (sanitised), and the « Signaler un
problème d'accessibilité » form that reaches the operator through the outbox (CSRF, French
messages, rate-limited)."""

from app.controllers.accessibility import REPORTS
from app.services import accessibility
from app.tables.outbox import Mail
from tests.helpers import login, post_form, text

SECTIONS = ("État de conformité", "Résultats des tests", "Contenus non accessibles",
            "Établissement de cette déclaration", "Retour d'information et contact", "Voies de recours")
FOOTER = 'href="/accessibilite">Accessibilité : partiellement conforme</a>'


async def test_every_page_states_its_conformance_and_links_the_declaration(client):
    assert FOOTER in (await client.get("/connexion")).text  # public
    assert FOOTER in (await client.get("/inscription/")).text  # the public wizard
    await login(client, "admin")
    assert FOOTER in (await client.get("/")).text and FOOTER in (await client.get("/admin/delegations")).text
    await client.post("/deconnexion", data={})


async def test_the_declaration_is_public_with_the_models_sections_and_the_recourse(client, new_client):
    async with new_client() as visitor:
        page = await visitor.get("/accessibilite/")
    assert page.status_code == 200
    shown = text(page.text)
    assert "Déclaration d'accessibilité" in shown and "partiellement conforme" in shown
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page.text, section
    assert "Défenseur des droits" in shown and 'href="/accessibilite/signaler"' in page.text


async def test_the_administrator_edits_the_declaration_and_scripts_are_dropped(client, new_client):
    await login(client, "ged.alp")
    assert (await client.get("/administration/accessibilite/")).status_code in (403, 404)
    await login(client, "admin")
    form = await client.get("/administration/accessibilite/")
    assert form.status_code == 200 and "Voies de recours" in form.text  # the default, to start from
    empty = await post_form(client, "/administration/accessibilite/", {"declaration": "  ", "contact": "pas-une-adresse"})
    assert empty.status_code == 422
    assert "Le texte de la déclaration est obligatoire." in text(empty.text)
    assert "Saisissez une adresse de courriel valide" in text(empty.text)
    # One address: a list would send each report to every address in it.
    listed = await post_form(client, "/administration/accessibilite/", {
        "declaration": "<p>x</p>", "contact": "a@b.fr,intrus@example.org"})
    assert listed.status_code == 422 and "Saisissez une adresse de courriel valide" in text(listed.text)
    saved = await post_form(client, "/administration/accessibilite/", {
        "declaration": '<h2>État de conformité</h2><p>Totalement conforme.</p><script>alert(1)</script>'
                       '<p onclick="x()">Audit <a href="javascript:alert(1)">ici</a></p>',
        "contact": "accessibilite@example.org"})
    assert saved.status_code == 303
    async with new_client() as visitor:
        page = (await visitor.get("/accessibilite/")).text
    assert "Totalement conforme." in page and "<script>alert" not in page and "onclick" not in page
    assert "javascript:" not in page


async def test_a_report_reaches_the_operator_through_the_outbox(client, new_client):
    async with new_client() as visitor:
        form = await visitor.get("/accessibilite/signaler?page=/inscription/etape/2")
        assert form.status_code == 200 and 'value="/inscription/etape/2"' in form.text
        no_csrf = await visitor.post("/accessibilite/signaler", data={"description": "x"})
        assert no_csrf.status_code == 403
        missing = await post_form(visitor, "/accessibilite/signaler", {"page": "/", "description": " ", "email": "moi@"})
        assert missing.status_code == 422
        shown = text(missing.text)
        assert "Décrivez le problème rencontré." in shown and "Saisissez une adresse de courriel valide" in shown
        assert await Mail.count().where(Mail.category == "accessibility") == 0
        sent = await post_form(visitor, "/accessibilite/signaler", {
            "page": "/inscription/etape/2", "description": "Le bouton Suivant n'est pas lu\npar mon lecteur d'écran.",
            "email": "usager@example.org"})
        assert sent.status_code == 303 and sent.headers["location"] == "/accessibilite"
        thanks = text((await visitor.get("/accessibilite/")).text)
        assert "votre signalement a été transmis" in thanks
    mail = await Mail.select().where(Mail.category == "accessibility").first()
    admins = await accessibility._recipients()  # no contact set: the administrators
    assert admins and all(a in mail["recipients"] for a in admins) and mail["status"] == "queued"
    assert mail["subject"] == "Signalement d'un problème d'accessibilité"
    assert "Le bouton Suivant n'est pas lu\npar mon lecteur d'écran." in mail["body_text"]
    assert "/inscription/etape/2" in mail["body_text"] and "usager@example.org" in mail["body_text"]


async def test_reports_are_rate_limited_per_address(client, new_client):  # client: Redis emptied first
    async with new_client() as visitor:
        for _ in range(REPORTS.limit):
            assert (await post_form(visitor, "/accessibilite/signaler", {"description": "Contraste"})).status_code == 303
        refused = await post_form(visitor, "/accessibilite/signaler", {"description": "Contraste"})
    assert refused.status_code == 429 and "Trop de demandes" in text(refused.text)
