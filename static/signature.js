/* Signature pad (issue 22), written for Tremplin: no dependency, no inline script (CSP).
   Each [data-signature-pad] gets its canvas shown and drawable with a finger, a pen or the mouse
   (pointer events); on submit the drawing goes into the pad's hidden field as a PNG data URL.
   A pad marked data-required refuses to submit an empty drawing. Without JavaScript nothing here
   runs: the canvas stays hidden and the form is a plain confirmation. */
(function () {
  "use strict";
  function setUp(pad) {
    var canvas = pad.querySelector("canvas");
    var field = pad.querySelector("input[type=hidden]");
    var clear = pad.querySelector("[data-clear]");
    var error = pad.querySelector("[data-pad-error]");
    var form = pad.closest("form");
    if (!canvas || !field || !form || !canvas.getContext) return;
    var ctx = canvas.getContext("2d");
    var drawn = false, drawing = false, last = null;
    canvas.hidden = false;
    if (clear) clear.hidden = false;
    pad.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
    function reset() {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
      drawn = false; field.value = "";
    }
    function point(e) {
      var r = canvas.getBoundingClientRect();
      return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
    }
    canvas.addEventListener("pointerdown", function (e) {
      drawing = true; last = point(e);
      if (canvas.setPointerCapture) canvas.setPointerCapture(e.pointerId);
      ctx.beginPath(); ctx.arc(last.x, last.y, 1.5, 0, 2 * Math.PI); ctx.fillStyle = "#111"; ctx.fill();
      drawn = true; if (error) error.hidden = true;
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) return;
      var p = point(e);
      ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
      last = p; e.preventDefault();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    if (clear) clear.addEventListener("click", reset);
    form.addEventListener("submit", function (e) {
      if (drawn) { field.value = canvas.toDataURL("image/png"); return; }
      field.value = "";
      if (pad.hasAttribute("data-required")) {
        e.preventDefault();
        if (error) error.hidden = false;
      }
    });
    reset();
  }
  function init() { document.querySelectorAll("[data-signature-pad]").forEach(setUp); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
