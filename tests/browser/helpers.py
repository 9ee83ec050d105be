"""Screenshots for a person to look at (TREMPLIN_SCREENSHOTS=1): never a reason for a test to fail."""

import os


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
