"""The BPF in Chromium, JavaScript on and off (issue 23): the admin opens the BPF of a year, sees the
completeness check, computes (progress, then the link to the figures), clicks a figure to see the
learners behind it, and downloads the Excel."""

import re

import pytest

from tests.browser.helpers import browser_login
from tests.services.test_bpf import YEAR, build

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_admin_computes_the_bpf_clicks_a_figure_and_exports(browser, live_server, demo, run_jobs, javascript):
    await build()
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        await page.goto(f"{live_server}/")
        await page.get_by_role("link", name="BPF", exact=True).click()
        await page.get_by_label("Exercice").select_option(str(YEAR))
        await page.get_by_role("button", name="Afficher").click()
        await page.wait_for_url(re.compile(rf"/bpf/?\?year={YEAR}$"))
        await page.get_by_role("heading", name="Vérifications avant dépôt").wait_for()
        assert await page.get_by_text("Créneaux sans formateur : 2").count() == 1
        await page.get_by_role("button", name=f"Calculer le bilan {YEAR}").click()
        if not javascript:
            await page.wait_for_url("**/taches/*")
        await page.get_by_text("En attente de démarrage").or_(page.get_by_text("Terminé.")).first.wait_for()
        await run_jobs()
        link = page.get_by_role("link", name=f"Voir le bilan {YEAR}")
        await link.wait_for(timeout=30_000)
        # The « not computed yet » message made way for the progress (JS) or is on no job page (no JS).
        assert await page.get_by_text("pas encore été calculé").count() == 0
        await link.click()
        await page.wait_for_url(re.compile(rf"/bpf/?\?year={YEAR}$"))
        await page.get_by_role("table", name=re.compile("F-1. Type de stagiaires")).wait_for()
        await page.get_by_role("link", name=re.compile(r"^dont agents publics : 2")).click()
        await page.wait_for_url("**/chiffres/f1.e_public")
        assert await page.get_by_role("cell", name=re.compile("25T1S1")).count() >= 1
        assert await page.get_by_text(re.compile(r"2 personnes, 13 h 30 exactement")).count() == 1
        await page.go_back()
        # Each frame's lines add up to its total (F-3: L1 counted in one line only).
        frame = page.get_by_role("table", name=re.compile("F-3. Objectif général"))
        assert await frame.get_by_role("link", name=re.compile(r"^Total \(F-3\) : 6 ")).count() == 1
        async with page.expect_download() as info:
            await page.get_by_role("link", name=f"Télécharger le BPF {YEAR} (Excel)").click()
        download = await info.value
        assert download.suggested_filename == f"BPF {YEAR}.xlsx"
        with open(await download.path(), "rb") as f:
            assert f.read(2) == b"PK"
    finally:
        await context.close()
