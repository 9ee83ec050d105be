"""Screenshots for a person to look at (TREMPLIN_SCREENSHOTS=1): never a reason for a test to fail."""

import os


async def snap(page, name: str) -> None:
    if not os.environ.get("TREMPLIN_SCREENSHOTS"):
        return
    try:
        await page.screenshot(path=f"/tmp/tremplin-{name}.png", full_page=True, timeout=10_000)
    except Exception:  # noqa: BLE001 - a screenshot is a convenience
        pass
