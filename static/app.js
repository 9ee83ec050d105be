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

// A list's choice filter (templates/_table.html `choice_filter`): a text field whose matching
// choices htmx puts into its listbox as one types. Here the listbox behaves as one (the ARIA
// combobox pattern): ↓ and ↑ move through the options, Enter or a click picks one (its id goes
// into the hidden field, its label into the text field, and the form is sent), Escape closes it.
// Typing again drops the picked id: the text filters until another is picked. Without JavaScript
// the text field alone filters the list.
(function () {
  function listOf(input) { return document.getElementById(input.getAttribute("aria-controls")); }
  function inputOf(list) { return document.querySelector("[data-choice][aria-controls='" + list.id + "']"); }
  function pickable(list) { return Array.prototype.slice.call(list.querySelectorAll("[role=option][data-value]")); }

  function setOpen(input, list, open) {
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) { input.removeAttribute("aria-activedescendant"); }
  }

  function activate(input, list, option) {
    pickable(list).forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  function pick(input, option) {
    input.closest(".combo").querySelector("input[type=hidden]").value = option.getAttribute("data-value");
    input.value = option.getAttribute("data-label");
    setOpen(input, listOf(input), false);
    if (input.form) { input.form.requestSubmit(); }
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (input instanceof Element && input.matches("[data-choice]")) {
      input.closest(".combo").querySelector("input[type=hidden]").value = "";
      if (!input.value.trim()) { setOpen(input, listOf(input), false); }
    }
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!(input instanceof Element) || !input.matches("[data-choice]")) { return; }
    var list = listOf(input);
    var options = pickable(list);
    var current = document.getElementById(input.getAttribute("aria-activedescendant") || "");
    var index = options.indexOf(current);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) { return; }
      event.preventDefault();
      setOpen(input, list, true);
      var step = event.key === "ArrowDown" ? 1 : -1;
      activate(input, list, options[(index + step + options.length) % options.length] || options[0]);
    } else if (event.key === "Enter" && !list.hidden && current) {
      event.preventDefault();  // the picked choice, not the typed text
      pick(input, current);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();  // a search field would also clear its text
      setOpen(input, list, false);
    }
  });

  document.addEventListener("mousedown", function (event) {
    var option = event.target instanceof Element && event.target.closest(".suggestions [role=option][data-value]");
    if (option) {
      event.preventDefault();  // the focus stays in the text field
      pick(inputOf(option.parentElement), option);
    }
  });

  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (input instanceof Element && input.matches("[data-choice]")) { setOpen(input, listOf(input), false); }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.target;
    if (!(list instanceof Element) || !list.matches(".suggestions")) { return; }
    var input = inputOf(list);
    setOpen(input, list, list.children.length > 0 && document.activeElement === input);
  });
})();
