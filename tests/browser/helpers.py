"""Screenshots for a person to look at (TREMPLIN_SCREENSHOTS=1): never a reason for a test to fail."""

import os

from playwright.async_api import expect


async def snap(page, name: str) -> None:
    """TREMPLIN_SCREENSHOTS=1 writes /tmp/tremplin-<name>.png; any other value is the path prefix
    (TREMPLIN_SCREENSHOTS=/tmp/mine- writes /tmp/mine-<name>.png), for checkouts side by side."""
    prefix = os.environ.get("TREMPLIN_SCREENSHOTS")
    if not prefix:
        return
    try:
        path = f"/tmp/tremplin-{name}.png" if prefix == "1" else f"{prefix}{name}.png"
        await page.screenshot(path=path, full_page=True, timeout=10_000)
    except Exception:  # noqa: BLE001 - a screenshot is a convenience
        pass


async def browser_login(page, live_server, username, password="Demo-2026!"):
    await page.goto(live_server + "/connexion")
    await page.get_by_label("Nom d'utilisateur").fill(username)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Connexion").click()
    await page.wait_for_url(live_server + "/")


async def first_login(page, live_server, username, password, new_password):
    """Log in with a temporary password, go through the forced change, land on the home page."""
    await page.goto(live_server + "/connexion")
    await page.get_by_label("Nom d'utilisateur").fill(username)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Connexion").click()
    await page.wait_for_url("**/mot-de-passe")
    await page.get_by_label("Mot de passe actuel").fill(password)
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(new_password)
    await page.get_by_label("Nouveau mot de passe (encore)").fill(new_password)
    await page.get_by_role("button", name="Enregistrer").click()
    await page.wait_for_url(live_server + "/")


async def fill_identity(page, postal_code: str = "26110") -> None:
    """Step 4 of the registration wizard, as Zoé Lemaître (zoe@example.org)."""
    await page.get_by_label("Mme").check()
    await page.get_by_label("Prénom").fill("Zoé")
    await page.get_by_label("Nom de famille").fill("Lemaître")
    await page.get_by_label("Adresse de courriel").fill("zoe@example.org")
    await page.get_by_label("Confirmer votre courriel").fill("zoe@example.org")
    await page.get_by_label("Code postal").fill(postal_code)


async def _financing(page):
    await page.get_by_label("Financement par ma collectivité").check()


async def _organisation(page):
    await page.get_by_label("Mairie de Nyons").check()


async def _mandate(page):
    await page.get_by_label("Maire", exact=True).check()


async def _dietary(page):
    await page.get_by_role("group", name="Contraintes alimentaires").get_by_label("Non").check()


WIZARD_STEPS = {2: _financing, 3: _organisation, 4: fill_identity, 5: _mandate, 6: _dietary}


async def walk_registration(page, through: int) -> None:
    """From a session's registration page (/inscription/<code>), the wizard's steps 2 to ``through``
    answered and sent (financed by the collectivity, Mairie de Nyons, Zoé Lemaître, maire, no dietary
    constraint); the page then shows step ``through`` + 1. Each step is waited for by its title."""
    title = page.locator(".step-count")
    await page.get_by_role("button", name="Étape suivante").click()
    for number in range(2, through + 1):
        await expect(title).to_contain_text(f"Étape {number} sur")
        await WIZARD_STEPS[number](page)
        await page.get_by_role("button", name="Étape suivante").click()
    await expect(title).to_contain_text(f"Étape {through + 1} sur")
