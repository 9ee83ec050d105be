"""axe-core in the browser tests (issue 25): the checker, run on the page as it is shown.

axe-core is vendored (tests/browser/vendor/axe.min.js, its licence header kept; from the npm registry:
``npm pack axe-core@4.14.1``), never fetched at run time. It is evaluated into the page through the
DevTools protocol, so the app's Content-Security-Policy does not stop it.

A browser context with JavaScript disabled cannot run axe (its timers never fire); the page "without
JavaScript" is therefore the page served with the app's own scripts refused (``without_app_scripts``):
the DOM a browser without JavaScript shows, <noscript> content unwrapped, then checked.
"""

from __future__ import annotations

import re
from pathlib import Path

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
# Level A and AA of WCAG 2.0 and 2.1: what RGAA 4.1 rests on.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      targets: v.nodes.map(n => n.target.join(' '))}));
}"""

_UNWRAP_NOSCRIPT = """() => {
  for (const n of document.querySelectorAll('body noscript')) {
    const t = document.createElement('template');
    t.innerHTML = n.textContent;
    n.replaceWith(t.content);
  }
}"""


async def violations(page) -> list[dict]:
    """axe's violations of level A/AA on the page as it is now: [{id, impact, help, targets}]."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE_SOURCE + "\n;0")
    return await page.evaluate(_RUN, TAGS)


def describe(where: str, found: list[dict]) -> list[str]:
    """One line per violated rule: ``where  rule-id (impact): target, target…``."""
    return [f"{where}  {v['id']} ({v['impact']}): {', '.join(v['targets'][:5])}" for v in found]


async def without_app_scripts(context) -> None:
    """The context's pages load without the app's JavaScript (htmx, app.js…): refused requests."""
    await context.route(re.compile(r".*/static/.*\.js(\?.*)?$"), lambda route: route.abort())


async def unwrap_noscript(page) -> None:
    """What a browser without JavaScript shows of <noscript> (a scripting page hides it)."""
    await page.evaluate(_UNWRAP_NOSCRIPT)
