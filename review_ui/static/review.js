// Keyboard shortcuts, the implied consumption while typing, and the photo view controls.
// Served from /static under the CSP (no inline script). The server enforces every rule on its own;
// this file only makes the page faster to work with.
(function () {
  "use strict";

  function typing(event) {
    var el = event.target;
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  function click(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  }

  function parseGerman(text) {
    var clean = String(text).trim().replace(/\./g, "").replace(",", ".");
    if (!/^\d+(\.\d+)?$/.test(clean)) { return null; }
    return parseFloat(clean);
  }

  function formatGerman(value, places) {
    var fixed = value.toFixed(places).split(".");
    var whole = fixed[0].replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    return fixed.length > 1 ? whole + "," + fixed[1] : whole;
  }

  function updateImplied() {
    var box = document.getElementById("expectation");
    var out = document.getElementById("implied");
    var input = document.getElementById("value");
    if (!box || !out || !input || !box.dataset.last) { return; }
    var value = parseGerman(input.value);
    if (value === null) { out.textContent = "–"; return; }
    var last = parseFloat(box.dataset.last);
    var used = value - last;
    if (used < 0) { used = parseFloat(box.dataset.rollover) - last + value; }
    var high = parseFloat(box.dataset.high);
    out.textContent = formatGerman(used, parseInt(box.dataset.places, 10)) + " " + box.dataset.unit;
    out.classList.toggle("out-of-band", value < last || value > high);
  }

  // Select the k-th digit of the value field so that typing replaces it.
  function selectDigit(k) {
    var input = document.getElementById("value");
    if (!input) { return; }
    var seen = 0;
    for (var i = 0; i < input.value.length; i++) {
      if (/\d/.test(input.value[i])) {
        seen += 1;
        if (seen === k) { input.focus(); input.setSelectionRange(i, i + 1); return; }
      }
    }
  }

  // Select the digit `r` places from the right (the OCR digits align with the value from the right).
  function selectFromRight(r) {
    var input = document.getElementById("value");
    if (!input) { return; }
    var positions = [];
    for (var i = 0; i < input.value.length; i++) {
      if (/\d/.test(input.value[i])) { positions.push(i); }
    }
    var at = positions[positions.length - r];
    if (at !== undefined) { input.focus(); input.setSelectionRange(at, at + 1); }
  }

  var view = { zoom: 1, turn: 0, contrast: false };
  function applyView() {
    document.querySelectorAll("img.zoomable").forEach(function (img) {
      img.style.transform = "scale(" + view.zoom + ") rotate(" + view.turn + "deg)";
      img.classList.toggle("contrast", view.contrast);
    });
  }
  var photoActions = {
    "zoom-in": function () { view.zoom = Math.min(view.zoom * 1.25, 6); },
    "zoom-out": function () { view.zoom = Math.max(view.zoom / 1.25, 1); },
    "rotate": function () { view.turn = (view.turn + 90) % 360; },
    "contrast": function () { view.contrast = !view.contrast; }
  };

  var keys = {
    "?": function () { var d = document.getElementById("keys"); if (d) { d.showModal(); } },
    "n": function () { window.location.href = "/next"; },
    "p": function () { window.location.href = "/queue"; },
    "e": function () { var v = document.getElementById("value"); if (v) { v.focus(); v.select(); } },
    "x": function () {
      var d = document.querySelector("details.reject");
      if (d) { d.open = true; document.getElementById("reason").focus(); }
    },
    "b": function () { click("#confirm"); },
    "u": function () { click("#undo"); },
    "+": function () { photoActions["zoom-in"](); applyView(); },
    "-": function () { photoActions["zoom-out"](); applyView(); },
    "r": function () { photoActions.rotate(); applyView(); },
    "c": function () { photoActions.contrast(); applyView(); }
  };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey) { return; }
    if (event.altKey && /^Digit[1-9]$/.test(event.code)) {
      var radio = document.querySelector('input[name="meter_id"][data-key="' + event.code.slice(5) + '"]');
      if (radio) { radio.checked = true; radio.focus(); event.preventDefault(); }
      return;
    }
    if (event.key === "Escape" && typing(event)) { event.target.blur(); return; }
    if (typing(event) || event.altKey) { return; }
    if (/^[1-9]$/.test(event.key) && document.getElementById("value")) {
      selectDigit(parseInt(event.key, 10));
      event.preventDefault();
      return;
    }
    var action = keys[event.key];
    if (action) { action(); event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("value");
    if (input) { input.addEventListener("input", updateImplied); }
    document.querySelectorAll("[data-from-right]").forEach(function (button) {
      button.addEventListener("click", function () { selectFromRight(parseInt(button.dataset.fromRight, 10)); });
    });
    document.querySelectorAll("[data-fill]").forEach(function (button) {
      button.addEventListener("click", function () {
        var v = document.getElementById("value");
        if (v) { v.value = button.dataset.fill; v.focus(); updateImplied(); }
      });
    });
    document.querySelectorAll("[data-photo]").forEach(function (button) {
      button.addEventListener("click", function () { photoActions[button.dataset.photo](); applyView(); });
    });
  });
})();
