"""Issue 20 point 7: the wizard on a 390 px phone — step 7's disability sentence reads as one
paragraph next to its box (it was split into three columns), step 8's long consent legends sit
inside their box (the fieldset's border ran through them). JS on and off."""


import pytest

from tests.factories import qvt_session
from tests.browser.helpers import snap, walk_registration

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_steps_7_and_8_fit_a_phone(browser, live_server, demo, javascript):
    await qvt_session()
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 390, "height": 844})
    page = await context.new_page()
    tag = "js" if javascript else "nojs"
    try:
        await page.goto(live_server + "/inscription/26C03S1")
        await walk_registration(page, through=6)

        label = page.locator("label").filter(has_text="Ma situation nécessite un aménagement particulier")
        await label.wait_for()
        box = await label.bounding_box()
        # One paragraph of at most 4 lines beside the box (in three columns it took 7 lines).
        assert box["height"] < 4.5 * 24, box
        assert box["x"] + box["width"] <= 390
        await snap(page, f"i7-step7-{tag}")
        await page.get_by_role("button", name="Étape suivante").click()

        for name in ("covoiturage", "offre de formation", "utiliser mon image"):
            group = page.get_by_role("group").filter(has_text=name)
            legend, fieldset = group.locator("legend"), group
            legend_box, fieldset_box = await legend.bounding_box(), await fieldset.bounding_box()
            # The legend starts below the fieldset's top border, inside the box.
            assert legend_box["y"] > fieldset_box["y"] + 1, (name, legend_box, fieldset_box)
        await snap(page, f"i7-step8-{tag}")
    finally:
        await context.close()
