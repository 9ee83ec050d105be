// After an htmx swap (static, no eval: the Content-Security-Policy allows neither inline scripts nor
// eval). htmx itself focuses an [autofocus] element of the new content, or the element of the same
// id as the one that had the focus (the button just used). Here:
// - the new content's data-announce text is read out by the page's live region (#live-region);
// - if the focus still fell to the page body, it goes to the new content's first field in error,
//   else its first heading.
(function () {
  function announce(text) {
    var region = document.getElementById("live-region");
    if (!region || !text) { return; }
    region.textContent = "";
    // Emptied then filled on the next frame: the same sentence twice in a row is read twice.
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function lostFocus() {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.target;
    if (!(root instanceof Element) || !root.isConnected) { return; }
    var source = root.hasAttribute("data-announce") ? root : root.querySelector("[data-announce]");
    if (source) { announce(source.getAttribute("data-announce")); }
    if (lostFocus()) {
      var target = root.querySelector("[aria-invalid='true'], [autofocus], h1, h2, h3");
      if (target) {
        if (!target.matches("input, select, textarea, button, a[href], [tabindex]")) {
          target.setAttribute("tabindex", "-1");
        }
        target.focus();
      }
    }
  });
})();
