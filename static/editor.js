// The calculator's spec editor: line numbers that follow its wrapped lines, links that select a
// line, the rows of the line being edited kept in view, and each problem drawn in the editor at
// its line. Everything works without it (the problems are listed under the editor). No inline
// script or style attribute anywhere: the page's CSP forbids them.
"use strict";

(function () {
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
    sizeGutter(spec, gutter);
    gutter.scrollTop = spec.scrollTop;
    drawNotes();
  }

  // the editor wraps long lines: each line number takes the height of its wrapped line,
  // measured in a hidden copy of the editor's text box that is emptied straight after
  var measure = null, measured = {key: "", heights: []};
  function sizeGutter(spec, gutter) {
    var items = gutter.children;
    if (window.getComputedStyle(spec).whiteSpace !== "pre-wrap" || !spec.clientWidth) {
      applyHeights(items, []);
      return;
    }
    // a live update swaps in a new gutter for the same text: the last measure still holds
    var key = spec.clientWidth + "\n" + spec.value;
    if (measured.key === key) {
      applyHeights(items, measured.heights);
      return;
    }
    if (!measure) {
      measure = document.createElement("div");
      measure.className = "spec-measure";
      measure.setAttribute("aria-hidden", "true");
    }
    if (measure.parentNode !== spec.parentNode) spec.parentNode.appendChild(measure);
    var cs = window.getComputedStyle(spec);
    measure.style.width = (spec.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)) + "px";
    var lines = specLines(spec.value), frag = document.createDocumentFragment();
    lines.forEach(function (line) {
      var div = document.createElement("div");
      div.textContent = line || "\u200b";
      frag.appendChild(div);
    });
    measure.appendChild(frag);
    var heights = Array.prototype.map.call(measure.children, function (d) { return d.offsetHeight; });
    measure.textContent = "";
    measured = {key: key, heights: heights};
    applyHeights(items, heights);
  }

  // the heights go in a constructed style sheet, not in style attributes: htmx copies an
  // element's attributes while settling a swap, and a copied style attribute breaks the CSP
  var gutterSheet = null, gutterRules = "";
  function applyHeights(items, heights) {
    if (!gutterSheet) {
      if (!("adoptedStyleSheets" in document)) return;
      gutterSheet = new CSSStyleSheet();
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([gutterSheet]);
    }
    var line = Math.min.apply(null, heights.length ? heights : [0]), rules = [];
    for (var i = 0; i < items.length && i < heights.length; i++) {
      if (heights[i] > line) rules.push("#gutter > li:nth-child(" + (i + 1) + ") { height: " + heights[i] + "px; }");
    }
    var text = rules.join("\n");
    if (text !== gutterRules) { gutterSheet.replaceSync(text); gutterRules = text; }
  }

  var sizing = false;
  function resizeSoon() {
    if (sizing) return;
    sizing = true;
    window.requestAnimationFrame(function () { sizing = false; renumber(); });
  }
  window.addEventListener("resize", resizeSoon);

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
    var gutter = document.getElementById("gutter"), li = gutter && gutter.children[n - 1];
    if (li && gutter.firstElementChild) {  // the line numbers follow the wrapped lines
      spec.scrollTop = Math.max(0, li.offsetTop - gutter.firstElementChild.offsetTop - 2 * li.offsetHeight);
    } else {
      spec.scrollTop = Math.max(0, (n - 3) * spec.scrollHeight / Math.max(lines.length, 1));
    }
    drawNotes();
  }

  // -- each problem drawn in the editor, in a row under its line (above it when the row would
  // cover the line being typed): a link that selects the line, so Tab from the editor reaches
  // it; the list under the editor stays for reading them all at once ------------------------
  var notesSheet = null;

  function notesLayer(spec) {
    var layer = document.getElementById("editor-notes");
    if (layer) return layer;
    layer = document.createElement("div");
    layer.id = "editor-notes";
    layer.className = "editor-notes";
    layer.setAttribute("role", "group");
    layer.setAttribute("aria-label", "problems at their lines");
    spec.parentNode.appendChild(layer);
    var described = (spec.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf("editor-notes") < 0) {
      described.push("editor-notes");
      spec.setAttribute("aria-describedby", described.join(" "));
    }
    return layer;
  }

  // the problems of the last answer, from the list the server sends beside the gutter
  function problems() {
    var out = [];
    document.querySelectorAll("#line-problems > li").forEach(function (li) {
      var where = li.querySelector("[data-line]");
      if (!where) return;
      var text = "";
      li.childNodes.forEach(function (node) { if (node !== where) text += node.textContent; });
      out.push({line: parseInt(where.dataset.line, 10), kind: li.classList.contains("warning") ? "warning" : "error",
                message: text.trim()});
    });
    return out;
  }

  // positions go in a constructed style sheet, like the gutter's heights (CSP: no style="")
  function placeNotes(rules) {
    if (!notesSheet) {
      if (!("adoptedStyleSheets" in document)) return;
      notesSheet = new CSSStyleSheet();
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([notesSheet]);
    }
    notesSheet.replaceSync(rules.join("\n"));
  }

  function drawNotes() {
    var spec = editor(), gutter = document.getElementById("gutter");
    if (!spec || !gutter || !gutter.firstElementChild) return;
    var found = problems(), layer = notesLayer(spec);
    spec.setAttribute("aria-invalid", String(found.some(function (p) { return p.kind === "error"; })));
    var key = JSON.stringify(found);
    if (layer.dataset.key !== key) {  // rebuilt only when the problems change
      layer.textContent = "";
      found.forEach(function (p, i) {
        var a = document.createElement("a");
        a.className = "editor-note " + p.kind;
        a.href = "#line-" + p.line;
        a.dataset.line = String(p.line);
        a.dataset.note = String(i);
        var where = document.createElement("span");
        where.className = "where";
        where.textContent = (p.kind === "error" ? "✗ line " : "⚠ line ") + p.line + ": ";
        a.appendChild(where);
        a.appendChild(document.createTextNode(p.message));
        a.title = p.message;
        layer.appendChild(a);
      });
      layer.dataset.key = key;
    }
    layer.classList.toggle("empty", found.length === 0);
    if (!found.length) { placeNotes([]); return; }
    // the layer covers the text box; a line's top is its number's, less what the box scrolled
    var first = gutter.firstElementChild.offsetTop;
    var caret = specLines(spec.value.slice(0, spec.selectionStart || 0)).length;
    var caretItem = gutter.children[caret - 1];
    var rules = ["#editor-notes { top: " + spec.offsetTop + "px; left: " + spec.offsetLeft + "px; width: " +
                 spec.clientWidth + "px; height: " + spec.clientHeight + "px; }"];
    var padTop = parseFloat(window.getComputedStyle(spec).paddingTop) || 0;
    Array.prototype.forEach.call(layer.children, function (a) {
      var li = gutter.children[parseInt(a.dataset.line, 10) - 1];
      if (!li) { rules.push("#editor-notes > [data-note='" + a.dataset.note + "'] { display: none; }"); return; }
      var top = li.offsetTop - first + padTop - spec.scrollTop, h = a.offsetHeight;
      var below = top + li.offsetHeight;
      var y = below;
      if (caretItem && document.activeElement === spec) {
        var cTop = caretItem.offsetTop - first + padTop - spec.scrollTop, cBottom = cTop + caretItem.offsetHeight;
        if (below < cBottom && cTop < below + h) y = top - h;  // it would cover the caret's line
      }
      rules.push("#editor-notes > [data-note='" + a.dataset.note + "'] { top: " + Math.round(y) + "px; }");
    });
    placeNotes(rules);
  }

  // while typing, the rows of the line being edited come into view in the result pane
  function showEditedRow() {
    var spec = editor();
    if (!spec || document.activeElement !== spec) return;
    var line = specLines(spec.value.slice(0, spec.selectionStart)).length;
    var best = null;
    document.querySelectorAll("table.layers tr[data-row] .meta a[data-line]").forEach(function (a) {
      var n = parseInt(a.dataset.line, 10);
      if (n <= line && (!best || n >= parseInt(best.dataset.line, 10))) best = a;
    });
    var tr = best && best.closest("tr");
    if (tr && tr.offsetParent) tr.scrollIntoView({block: "nearest"});
  }

  document.addEventListener("click", function (evt) {
    var link = evt.target instanceof Element ? evt.target.closest("a[data-line]") : null;
    if (!link) return;
    evt.preventDefault();
    selectLine(parseInt(link.dataset.line, 10));
  });

  document.addEventListener("input", function (evt) {
    if (evt.target === editor()) resizeSoon();
  });
  // the caret moving onto a line under a problem's row moves the row above its line
  ["keyup", "focusin", "focusout", "mouseup"].forEach(function (name) {
    document.addEventListener(name, function (evt) { if (evt.target === editor()) drawNotes(); });
  });

  document.addEventListener("scroll", function (evt) {
    if (evt.target === editor()) {
      var gutter = document.getElementById("gutter");
      if (gutter) gutter.scrollTop = editor().scrollTop;
      drawNotes();
    }
  }, true);

  // htmx settles each swapped element (the result, and out of band the gutter and the line
  // problems): the numbers and the notes follow each, the edited row the result
  document.addEventListener("htmx:afterSettle", function (evt) {
    var id = evt.detail && evt.detail.elt ? evt.detail.elt.id : "";
    renumber();  // cheap: the text's last measure is kept
    if (id === "result-region") showEditedRow();
  });

  document.addEventListener("DOMContentLoaded", renumber);
})();
