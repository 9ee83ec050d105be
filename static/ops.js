// The operations dashboard polls every 5 s (data-hx-trigger "every 5s" on [data-poll-visible]); this pauses
// it while the tab is hidden and refreshes at once when it is shown again. A trigger filter
// ("every 5s [document.visibilityState === 'visible']") would need eval, which the
// Content-Security-Policy and htmx.config.allowEval forbid here.
document.addEventListener("htmx:beforeRequest", function (event) {
  var element = event.detail && event.detail.elt;
  if (element && element.hasAttribute("data-poll-visible") && document.visibilityState !== "visible") {
    event.preventDefault();
  }
});
document.addEventListener("visibilitychange", function () {
  if (document.visibilityState === "visible") {
    document.dispatchEvent(new CustomEvent("ops:visible"));
  }
});
