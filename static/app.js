// archcalc's page behaviour. Everything works without it (the form is a GET); with it, htmx
// updates the result as you type, the editor numbers its lines, links to a line select it,
// and block groups collapse. No inline script anywhere: the page's CSP forbids it.
"use strict";
document.documentElement.classList.add("js");

(function () {
  var groupState = {};  // block path -> expanded?, kept across live updates
  var allOpen = false;  // "expand all" was pressed

  // the blocks to send open: an htmx answer leaves out the rows of the others
  function openPaths() {
    if (allOpen) return ["*"];
    return Object.keys(groupState).filter(function (path) { return groupState[path]; });
  }

  // ask again when a block whose rows the last answer left out is opened
  function refetch() {
    var form = document.getElementById("calc");
    if (form && window.htmx) window.htmx.trigger(form, "submit");
  }

  function editor() { return document.getElementById("spec"); }

  // where a line ends: the engine's one rule (app/engine/lines.py), so that the gutter's numbers
  // and the engine's error lines agree whatever else (a form feed, U+2028) the text holds
  var LINE_BREAK = /\r\n|\r|\n/;
  function specLines(text) { return text.split(LINE_BREAK); }

  function renumber() {
    var spec = editor(), gutter = document.getElementById("gutter");
    if (!spec || !gutter) return;
    var want = specLines(spec.value).length, have = gutter.children.length;
    for (; have < want; have++) {
      var li = document.createElement("li");
      li.textContent = String(have + 1);
      gutter.appendChild(li);
    }
    for (; have > want; have--) gutter.removeChild(gutter.lastElementChild);
    gutter.scrollTop = spec.scrollTop;
  }

  function selectLine(n) {
    var spec = editor();
    if (!spec) return;
    var text = spec.value, lines = specLines(text), start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) {
      start += lines[i].length;
      start += text.substr(start, 2) === "\r\n" ? 2 : 1;  // the line end itself
    }
    var end = start + (lines[n - 1] || "").length;
    spec.focus();
    spec.setSelectionRange(start, end);
    var lineHeight = spec.scrollHeight / Math.max(lines.length, 1);
    spec.scrollTop = Math.max(0, (n - 3) * lineHeight);
  }

  function applyGroups(root) {
    var heads = root.querySelectorAll("tr.group-head");
    var closed = {};
    heads.forEach(function (tr) {
      var path = tr.dataset.path, button = tr.querySelector("button.toggle");
      if (path in groupState) button.setAttribute("aria-expanded", String(groupState[path]));
      if (button.getAttribute("aria-expanded") !== "true") closed[tr.dataset.group] = true;
    });
    root.querySelectorAll("tr[data-in]").forEach(function (tr) {
      var inside = tr.dataset.in ? tr.dataset.in.split(" ") : [];
      var hide = inside.some(function (g) { return closed[g]; });
      tr.classList.toggle("folded", hide);
    });
  }

  document.addEventListener("click", function (evt) {
    var target = evt.target instanceof Element ? evt.target : null;
    if (!target) return;
    var link = target.closest("a[data-line]");
    if (link) {
      evt.preventDefault();
      selectLine(parseInt(link.dataset.line, 10));
      return;
    }
    // a figure's working also opens on a click (browsers that do not focus a clicked button)
    var fig = target.closest("button.fig");
    if (fig) {
      var cell = fig.closest("td");
      document.querySelectorAll("td.num.open").forEach(function (td) {
        if (td !== cell) td.classList.remove("open");
      });
      cell.classList.toggle("open");
      return;
    }
    var toggle = target.closest("button.toggle");
    if (toggle) {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      var head = toggle.closest("tr");
      groupState[head.dataset.path] = open;
      if (!open) allOpen = false;
      if (open && head.dataset.lazy) refetch();
      else applyGroups(document);
      return;
    }
    var all = target.closest("button[data-expand]");
    if (all) {
      var expand = all.dataset.expand === "all";
      var lazy = false;
      allOpen = expand;
      document.querySelectorAll("tr.group-head").forEach(function (tr) {
        groupState[tr.dataset.path] = expand;
        lazy = lazy || Boolean(tr.dataset.lazy);
      });
      if (expand && lazy) refetch();
      else applyGroups(document);
    }
  });

  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") {
      document.querySelectorAll("td.num.open").forEach(function (td) { td.classList.remove("open"); });
    }
  });

  document.addEventListener("focusout", function (evt) {
    var cell = evt.target instanceof Element ? evt.target.closest("td.num.open") : null;
    if (cell) cell.classList.remove("open");
  });

  document.addEventListener("input", function (evt) {
    if (evt.target === editor()) renumber();
  });

  document.addEventListener("scroll", function (evt) {
    if (evt.target === editor()) {
      var gutter = document.getElementById("gutter");
      if (gutter) gutter.scrollTop = editor().scrollTop;
    }
  }, true);

  document.addEventListener("htmx:configRequest", function (evt) {
    if (evt.detail.elt && evt.detail.elt.id === "calc") evt.detail.parameters.open = openPaths();
  });

  // a 422 answer (the spec is broken) swaps the problem list in; the table stays, marked stale
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.xhr && evt.detail.xhr.status === 422) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    renumber();
    applyGroups(document);
  });

  // a full page has every row (it must read without JavaScript); with it, the rows of the
  // collapsed blocks go, as in an htmx answer, so that the first keystroke's swap does not
  // have to clear thousands of hidden elements; opening a block asks for its rows
  function dropFoldedRows() {
    document.querySelectorAll("table.layers tr.folded").forEach(function (tr) { tr.remove(); });
    document.querySelectorAll("table.layers tr.group-head").forEach(function (tr) {
      var button = tr.querySelector("button.toggle");
      if (button && button.getAttribute("aria-expanded") !== "true") tr.dataset.lazy = "true";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    dropFoldedRows();
    renumber();
    applyGroups(document);
  });
})();
