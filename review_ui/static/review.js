// Keyboard shortcuts, the implied consumption while typing, the photo and counter view controls,
// and the one-digit fix from the OCR's alternatives.
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

  // The index in the value field of the digit `r` places from the right (the OCR digits align
  // with the value from the right), or undefined.
  function digitFromRight(input, r) {
    var positions = [];
    for (var i = 0; i < input.value.length; i++) {
      if (/\d/.test(input.value[i])) { positions.push(i); }
    }
    return positions[positions.length - r];
  }

  // Select the digit `r` places from the right.
  function selectFromRight(r) {
    var input = document.getElementById("value");
    if (!input) { return; }
    var at = digitFromRight(input, r);
    if (at !== undefined) { input.focus(); input.setSelectionRange(at, at + 1); }
  }

  // Put `digit` in place of the digit `r` places from the right, leaving it selected.
  function setFromRight(r, digit) {
    var input = document.getElementById("value");
    if (!input) { return; }
    var at = digitFromRight(input, r);
    if (at === undefined) { return; }
    input.value = input.value.slice(0, at) + digit + input.value.slice(at + 1);
    input.focus();
    input.setSelectionRange(at, at + 1);
    updateImplied();
  }

  // One view state per viewer ("photo", "counter"); the elements with data-view follow it.
  var views = {};
  function stateOf(name) {
    if (!views[name]) { views[name] = { zoom: 1, turn: 0, contrast: false }; }
    return views[name];
  }
  function applyView(name) {
    var view = stateOf(name);
    document.querySelectorAll('.zoomable[data-view="' + name + '"]').forEach(function (el) {
      el.style.transform = "scale(" + view.zoom + ") rotate(" + view.turn + "deg)";
      el.classList.toggle("contrast", view.contrast);
    });
  }
  var photoActions = {
    "zoom-in": function (view) { view.zoom = Math.min(view.zoom * 1.25, 6); },
    "zoom-out": function (view) { view.zoom = Math.max(view.zoom / 1.25, 1); },
    "rotate": function (view) { view.turn = (view.turn + 90) % 360; },
    "contrast": function (view) { view.contrast = !view.contrast; }
  };
  function act(action, name) { photoActions[action](stateOf(name)); applyView(name); }
  function actOnAll(action) { act(action, "photo"); if (document.getElementById("counter-crop")) { act(action, "counter"); } }

  // Next / previous relative to the task shown; elsewhere "next" is the oldest free task.
  function go(direction) {
    var here = document.querySelector("[data-task]");
    if (here) { window.location.href = "/tasks/" + here.dataset.task + "/" + direction; }
    else if (direction === "next") { window.location.href = "/next"; }
  }

  var keys = {
    "?": function () { var d = document.getElementById("keys"); if (d) { d.showModal(); } },
    "n": function () { go("next"); },
    "p": function () { go("previous"); },
    "q": function () { window.location.href = "/queue"; },
    "e": function () { var v = document.getElementById("value"); if (v) { v.focus(); v.select(); } },
    "x": function () {
      var d = document.querySelector("details.reject");
      if (d) { d.open = true; document.getElementById("reason").focus(); }
    },
    "b": function () { click("#confirm"); },
    "u": function () { click("#undo"); },
    "+": function () { actOnAll("zoom-in"); },
    "-": function () { actOnAll("zoom-out"); },
    "r": function () { actOnAll("rotate"); },
    "c": function () { actOnAll("contrast"); }
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
      button.addEventListener("click", function () {
        var r = parseInt(button.dataset.fromRight, 10);
        if (button.dataset.digit !== undefined) { setFromRight(r, button.dataset.digit); }
        else { selectFromRight(r); }
      });
    });
    document.querySelectorAll("[data-fill]").forEach(function (button) {
      button.addEventListener("click", function () {
        var v = document.getElementById("value");
        if (v) { v.value = button.dataset.fill; v.focus(); updateImplied(); }
      });
    });
    document.querySelectorAll("[data-photo]").forEach(function (button) {
      button.addEventListener("click", function () { act(button.dataset.photo, button.dataset.target || "photo"); });
    });
  });
})();
