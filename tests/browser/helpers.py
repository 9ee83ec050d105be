"""Screenshots for a person to look at (TREMPLIN_SCREENSHOTS=1): never a reason for a test to fail."""

import os


async def snap(page, name: str) -> None:
    if not os.environ.get("TREMPLIN_SCREENSHOTS"):
        return
    try:
        await page.screenshot(path=f"/tmp/tremplin-{name}.png", full_page=True, timeout=10_000)
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
