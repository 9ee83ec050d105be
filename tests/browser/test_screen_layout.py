"""Issue 9, at 1366×768 without JavaScript: tables never cut a word, a badge or an address
(hyphenated names included), the reference lists show whole labels, row actions stay on one line."""

import pytest

from app.tables.registration import RefItem
from tests.browser.helpers import browser_login, snap

pytestmark = pytest.mark.browser

# The words of the main area drawn on more than one line (a word cut by the browser), and the
# rows whose actions do not sit on one line.
LAYOUT = """() => {
  const broken = [], actions = [];
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    if (!node.parentElement.closest('td, th')) continue;
    const re = /\\S+/g; let m;
    while ((m = re.exec(node.data))) {
      const r = document.createRange(); r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
      const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  for (const cell of document.querySelectorAll('main td.actions')) {
    const kids = [...cell.querySelectorAll(':scope > a, :scope > form button, :scope > details > summary')];
    if (new Set(kids.map(k => Math.round(k.getBoundingClientRect().bottom / 4))).size > 1) actions.push(cell.innerText);
  }
  return {broken, actions};
}"""


async def test_tables_keep_words_whole_and_reference_labels_uncut(browser, live_server, demo):
    await RefItem.insert(RefItem(kind="candidate_state", label="Conseiller.e départemental.e délégué.e à la formation des élus",
                                 position=99))
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        for path in ("/utilisateurs", "/roles", "/gestion-inscriptions/etablissements",
                     "/gestion-inscriptions/listes/candidate_state"):
            await page.goto(live_server + path)
            found = await page.evaluate(LAYOUT)
            assert found == {"broken": [], "actions": []}, (path, found)
            await snap(page, "i9-layout" + path.replace("/", "-"))
        # The last one, a reference list: a long label is shown whole in its input.
        field = page.get_by_label("Libellé de « Conseiller.e départemental.e délégué.e à la formation des élus »")
        assert await field.evaluate("e => e.scrollWidth <= e.clientWidth")
    finally:
        await context.close()
