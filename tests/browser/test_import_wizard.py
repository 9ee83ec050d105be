"""SPEC A3 + A5 in Chromium: a GET imports a CSV; the new user gets the mail, logs in with the
mailed password and must change it first."""

import pytest
from playwright.async_api import expect


from tests.browser.helpers import browser_login, first_login, snap

pytestmark = pytest.mark.browser

CSV = (
    "firstname;lastname;password;email;profile_field_matricule;cohort1\r\n"
    "Zoé;Lemaître;;zoe.lemaitre@example.org;4242;Cohorte_Ex25\r\n"
    "Paul;Durand;Anfh_2025!;paul.durand@example.org;4243;\r\n"
    ";;;;;\r\n"
).encode("windows-1252")


async def _analysed(page, run_jobs, javascript: bool) -> None:
    """The uploaded file's page shows its analysis (a job) and then the preview: with JavaScript
    the progress polls and links the preview, without it the page refreshes itself."""
    await page.wait_for_url("**/imports/*")
    await expect(page.get_by_text("Analyse du fichier")).to_be_visible()
    await run_jobs()
    if javascript:
        await page.get_by_role("link", name="Voir l'aperçu de l'import").click()
    await expect(page.get_by_role("button", name="Confirmer l'importation")).to_be_visible(timeout=10_000)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_import_then_first_login_with_the_mailed_password(browser, live_server, demo, smtp, run_jobs, javascript):
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.get_by_role("link", name="CH BUIS LES BARONNIES").click()
        await page.get_by_role("link", name="Créer des comptes (via import CSV)").click()
        await page.get_by_label("Choisir un fichier").set_input_files(
            files=[{"name": "csv_GED_get_agent_s_FPH.csv", "mimeType": "text/csv", "buffer": CSV}])
        await page.get_by_role("button", name="Importation d'utilisateurs").click()
        await _analysed(page, run_jobs, javascript)
        await expect(page.get_by_text("2 prête(s)")).to_be_visible()
        await expect(page.get_by_role("cell", name="alp001.z.lemaitre")).to_be_visible()
        await snap(page, f"import-preview-{'js' if javascript else 'nojs'}")
        await page.get_by_role("button", name="Confirmer l'importation").click()
        await page.get_by_text("Import lancé").wait_for()
        await run_jobs()
        if javascript:
            # The progress partial polls by itself and ends with the link to the report.
            await page.get_by_role("link", name="Voir le rapport d'import").click()
        else:
            await page.reload()
        await page.get_by_text("Importation terminée : 2 créé(s), 0 mis à jour, 0 ignoré(s), 0 en échec.").wait_for()
        await snap(page, f"import-report-{'js' if javascript else 'nojs'}")
    finally:
        await context.close()

    await run_jobs()  # the credentials mail
    (recipients, message), = [m for m in smtp.messages if m[0] == ["zoe.lemaitre@example.org"]]
    body = message.get_payload(decode=True).decode()
    password = body.split("Mot de passe : ")[1].split("\n")[0].strip()
    assert "Nom d'utilisateur : alp001.z.lemaitre" in body

    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await first_login(page, live_server, "alp001.z.lemaitre", password, "Zoé-Lemaître-2026")
        await expect(page.get_by_role("heading", name="Bonjour Zoé")).to_be_visible()
    finally:
        await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_preview_decisions_keep_the_summary_right(browser, live_server, demo, run_jobs, javascript):
    """Issue 9: after a per-row decision the "Seront traitées" summary is the server's count, with
    JavaScript (swapped in place) and without (the form posts, the page comes back)."""
    from app.tables.accounts import User

    existing = await User.select(User.email, User.username).where(User.username.like("alp001.%.%")).where(
        User.email.not_like("%fictif%")).first()
    content = (
        "firstname;lastname;password;email;profile_field_matricule;cohort1\r\n"
        "Zoé;Lemaître;;zoe.lemaitre@example.org;4242;Nouvelle cohorte\r\n"
        "Paul;Durand;Anfh_2025!;paul.durand@example.org;4243;\r\n"
        f"Autre;Prénom;;{existing['email']};;\r\n"
        "Anne;Faible;faible;anne.faible@example.org;4244;\r\n"
        ";Martin;Anfh_2025!;martin@example.org;4245;\r\n"
    ).encode("utf-8")
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    name = "js" if javascript else "nojs"
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.get_by_role("link", name="CH BUIS LES BARONNIES").click()
        await page.get_by_role("link", name="Créer des comptes (via import CSV)").click()
        await page.get_by_label("Choisir un fichier").set_input_files(
            files=[{"name": "agents.csv", "mimeType": "text/csv", "buffer": content}])
        await page.get_by_role("button", name="Importation d'utilisateurs").click()
        await _analysed(page, run_jobs, javascript)
        summary = page.locator("#import-summary .will")
        await expect(summary).to_have_text(
            "Seront traitées : 2 création(s), 0 mise(s) à jour, 3 ligne(s) ignorée(s).", use_inner_text=True)
        await expect(page.get_by_text("Cohorte(s) créée(s) par l'import : « Nouvelle cohorte ».")).to_be_visible()
        await expect(page.get_by_text("cohorte créée", exact=True)).to_be_visible()
        await expect(page.get_by_text(existing["username"]).first).to_be_visible()
        assert "alp001.x." not in await page.content()
        await snap(page, f"import-decisions-before-{name}")

        for line, decision in ((4, "Mettre à jour (mot de passe conservé)"), (5, "Créer le compte")):
            select = page.get_by_label(f"Décision pour la ligne {line}")
            await select.select_option(label=decision)
            if javascript:
                decision_id = await select.evaluate("e => e.closest('.decision').id")
                await page.locator(f"#{decision_id} .ok").wait_for()
            else:
                await page.locator("form", has=select).get_by_role("button", name="OK").click()
                await page.wait_for_load_state()
        expected = "Seront traitées : 3 création(s), 1 mise(s) à jour, 1 ligne(s) ignorée(s)."
        await expect(summary).to_have_text(expected, use_inner_text=True)  # with JavaScript, once htmx swapped it
        await snap(page, f"import-decisions-after-{name}")
    finally:
        await context.close()
