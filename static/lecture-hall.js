// The lecture hall's modes. Projector mode (large type, AAA contrast, enlarged charts): the
// "projector" button, the P key, or ?projector=1, which stays in the URL (and in the URLs
// htmx pushes, and in the site's links). Reveal mode (?reveal=output,params,macs, or any
// column): those cells of the per-layer table start hidden and are revealed one at a time, in
// reading order, by a click, the "reveal next" button or the arrow keys; &step=N in the URL
// says how far it has got, so a reload or a copied link resumes there. No inline script or
// style: the CSP forbids both; every look is a class in lecture-hall.css.
"use strict";

(function () {
  var root = document.documentElement;
  //: the reveal parameter's names for the table's column slots
  var SLOTS = {output: "output", weights: "weights", biases: "biases", params: "params",
               macs: "count", flops: "count", count: "count", activations: "activations",
               memory: "memory", rf: "rf"};

  // A live session's follower shows the instructor's state, not its own URL's: its reveal
  // mode and step are the ones the followed result carries (templates/live_follow.html).
  function params() {
    var followed = document.querySelector("#live-result[data-query]");
    return new URLSearchParams(followed ? followed.getAttribute("data-query")
                                        : window.location.search);
  }

  function setParam(name, value) {
    var p = params();
    if (value === null) p.delete(name); else p.set(name, value);
    var query = p.toString();
    window.history.replaceState(window.history.state, "",
      window.location.pathname + (query ? "?" + query : "") + window.location.hash);
  }

  function typing(target) {
    return target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // -- projector mode ---------------------------------------------------------------------
  function projector() { return root.classList.contains("projector"); }

  function setProjector(on) {
    root.classList.toggle("projector", on);
    setParam("projector", on ? "1" : null);
    document.querySelectorAll("[data-projector-toggle]").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  // the site's own links keep the mode
  function keepMode(link) {
    if (!projector() || !link.getAttribute("href") || link.origin !== window.location.origin) return;
    if (/^\/(static|api|docs|openapi)/.test(link.pathname)) return;
    var url = new URL(link.href);
    url.searchParams.set("projector", "1");
    link.href = url.toString();
  }

  // -- reveal mode --------------------------------------------------------------------------
  // While revealing, an answer is not on the page at all: a hidden cell's content, and every
  // other place an answer shows (the summary and totals, the claims, the planner, the diagram,
  // the charts, the numbers written in the spec), are taken out and kept here until revealed.
  var reveal = null;  // {cells: [...], step: n}
  var cellStash = new Map();  // td -> its content
  var blockStash = [];  // [element, placeholder]
  var editorStash = null;  // the spec as written
  var titleStash = null;
  var BLOCKS = ["#analysis > .summary", "#analysis > .planner", "#analysis > .net-claims",
                "#analysis > .warnings", "#analysis > .calc-arch", "#rf-panel > *", "#line-problems",
                "#model-result > .planner", "#model-result > .what-differs",
                "#model-result > .model-arch", "#model-result > .model-charts", "section.run"];
  //: a bracketed volume or number, and a figure written after a key ("params: 1,728")
  var BRACKET = /\[\s*[0-9][0-9\s,]*(?:[x×*]\s*[0-9]+\s*){0,2}\]/g;
  var CLAIM = /\b(memory|activations|params|parameters|weights|biases|macs|ops|flops|output|rf)\s*:/i;

  function revealSlots() {
    var wanted = (params().get("reveal") || "").split(",");
    var slots = [];
    wanted.forEach(function (w) {
      var s = SLOTS[w.trim().toLowerCase()];
      if (s && slots.indexOf(s) < 0) slots.push(s);
    });
    return slots;
  }

  function collectCells(slots) {
    var pattern = new RegExp("^w([1-9][0-9]*)(" + slots.join("|") + ")$");
    var cells = [];
    document.querySelectorAll("table.layers td.num").forEach(function (td) {
      var b = td.querySelector("button.fig[data-cell]");
      var id = b ? b.getAttribute("data-cell") : td.getAttribute("data-cell");
      if (id && pattern.test(id)) { td.setAttribute("data-cell", id); cells.push(td); }
    });
    return cells;
  }

  // the spec without the figures written on its lines: the input's volume and the notes'
  // "FC: [1x1x4096]" (the only count given) stay, as the calculator reads them
  function stripAnswers(text) {
    return text.split(/\r\n|\r|\n/).map(function (line) {
      if (/^\s*total\b/i.test(line)) return "";
      var m = CLAIM.exec(line);
      if (m && line.slice(0, m.index).trim()) line = line.slice(0, m.index).replace(/\s+$/, "");
      if (!/\binput\b/i.test(line) && !/^\s*fc\s*:/i.test(line)) {
        line = line.replace(BRACKET, "").replace(/^\s+/, "");
      }
      return line;
    }).join("\n");
  }

  function veilCell(td) {
    if (cellStash.has(td)) return;
    cellStash.set(td, td.innerHTML);
    td.innerHTML = "";
    var b = document.createElement("button");
    b.type = "button"; b.className = "veil"; b.setAttribute("data-reveal", "next");
    b.setAttribute("aria-label", "hidden: reveal the next answer");
    b.textContent = "?";
    td.appendChild(b);
    td.classList.add("veiled");
  }

  function unveilCell(td) {
    if (!cellStash.has(td)) return;
    td.innerHTML = cellStash.get(td);
    cellStash.delete(td);
    td.classList.remove("veiled");
  }

  function hideBlocks() {
    BLOCKS.forEach(function (sel) {
      document.querySelectorAll(sel).forEach(function (el) {
        if (el.classList.contains("veiled-block")) return;
        var p = document.createElement("p");
        p.className = "veiled-block";
        if (el.id) p.id = el.id;  // an out-of-band swap still finds its place
        p.textContent = el.classList.contains("summary")
          ? "Totals and claims: hidden while revealing, shown at the end."
          : "Hidden while revealing.";
        el.replaceWith(p);
        blockStash.push([el, p]);
      });
    });
    var spec = document.getElementById("spec");
    if (spec && editorStash === null) {
      editorStash = spec.value;
      spec.defaultValue = stripAnswers(spec.value);  // the element's text too, not only its value
      spec.value = spec.defaultValue;
      spec.readOnly = true;
      spec.classList.add("veiled-spec");
    }
    if (titleStash === null) { titleStash = document.title; document.title = "archcalc · revealing"; }
  }

  function showBlocks() {
    blockStash.forEach(function (pair) { if (pair[1].isConnected) pair[1].replaceWith(pair[0]); });
    blockStash = [];
    var spec = document.getElementById("spec");
    if (spec && editorStash !== null) {
      spec.defaultValue = editorStash;
      spec.value = editorStash;
      spec.readOnly = false;
      spec.classList.remove("veiled-spec");
    }
    editorStash = null;
    if (titleStash !== null) document.title = titleStash;
    titleStash = null;
  }

  function panel() {
    var existing = document.getElementById("reveal-panel");
    if (existing) return existing;
    var div = document.createElement("div");
    div.id = "reveal-panel";
    div.className = "reveal-panel";
    div.setAttribute("role", "region");
    div.setAttribute("aria-label", "reveal mode");
    div.hidden = true;
    var header = document.querySelector("header.site");
    (header || document.body).appendChild(div);
    return div;
  }

  function button(what, text) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "btn"; b.setAttribute("data-reveal", what); b.textContent = text;
    return b;
  }

  // choosing: the table's columns as check boxes, then "start"
  function showChooser() {
    var div = panel();
    div.textContent = "";
    var fieldset = document.createElement("fieldset");
    var legend = document.createElement("legend");
    legend.textContent = "Reveal these columns one cell at a time:";
    fieldset.appendChild(legend);
    var wanted = revealSlots();
    if (!wanted.length) wanted = ["output", "params", "count"];
    document.querySelectorAll("table.layers thead th.num").forEach(function (th) {
      var m = /\bcol-([a-z]+)\b/.exec(th.className);
      if (!m) return;
      var label = document.createElement("label");
      label.className = "check";
      var box = document.createElement("input");
      box.type = "checkbox"; box.value = m[1]; box.checked = wanted.indexOf(m[1]) >= 0;
      label.append(box, " " + th.textContent.trim());
      fieldset.appendChild(label);
    });
    div.append(fieldset, button("start", "start revealing"), button("close", "close"));
    div.hidden = false;
    setToggles(true);
  }

  function showBar() {
    var div = panel();
    if (!div.querySelector(".reveal-status")) {
      div.textContent = "";
      var status = document.createElement("span");
      status.className = "reveal-status"; status.setAttribute("aria-live", "polite");
      div.append(button("prev", "← hide last"), button("next", "reveal next →"),
                 button("all", "reveal all"), status, button("stop", "stop revealing"));
    }
    div.hidden = false;
    setToggles(true);
  }

  function closePanel() {
    var div = document.getElementById("reveal-panel");
    if (div) { div.hidden = true; div.textContent = ""; }
    setToggles(false);
  }

  function setToggles(open) {
    document.querySelectorAll("[data-reveal-toggle]").forEach(function (b) {
      b.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function paint() {
    if (!reveal) return;
    reveal.cells.forEach(function (td, i) {
      if (i >= reveal.step) veilCell(td); else unveilCell(td);
      td.classList.toggle("just-revealed", i === reveal.step - 1);
    });
    if (reveal.step >= reveal.cells.length) showBlocks(); else hideBlocks();
    showBar();
    panel().querySelector(".reveal-status").textContent =
      "revealed " + reveal.step + " of " + reveal.cells.length;
    root.classList.add("revealing");
  }

  function setStep(step) {
    if (!reveal) return;
    reveal.step = Math.max(0, Math.min(reveal.cells.length, step));
    setParam("step", String(reveal.step));
    paint();
    var last = reveal.cells[reveal.step - 1];
    if (last && last.scrollIntoView) last.scrollIntoView({block: "nearest"});
  }

  function startReveal() {
    cellStash.forEach(function (html, td) {  // a swap brought new cells: the old ones are gone
      if (!td.isConnected) cellStash.delete(td);
    });
    blockStash = blockStash.filter(function (pair) { return pair[1].isConnected; });
    var slots = revealSlots();
    if (!slots.length || !document.querySelector("table.layers")) { reveal = null; return; }
    var cells = collectCells(slots);
    var step = parseInt(params().get("step") || "0", 10);
    reveal = {cells: cells, step: isNaN(step) ? 0 : Math.max(0, Math.min(cells.length, step))};
    paint();
    var last = reveal.cells[reveal.step - 1];  // resuming: show where it got to
    if (last && last.scrollIntoView) last.scrollIntoView({block: "center"});
  }

  function stopReveal() {
    if (reveal) reveal.cells.forEach(unveilCell);
    cellStash.forEach(function (html, td) { td.innerHTML = html; td.classList.remove("veiled"); });
    cellStash = new Map();
    document.querySelectorAll("td.just-revealed").forEach(function (td) { td.classList.remove("just-revealed"); });
    showBlocks();
    reveal = null;
    root.classList.remove("revealing");
    setParam("reveal", null);
    setParam("step", null);
    closePanel();
  }

  function chosenSlots() {
    return Array.prototype.filter.call(panel().querySelectorAll("input[type=checkbox]"),
      function (b) { return b.checked; }).map(function (b) { return b.value; });
  }

  // paper gets the whole table: everything comes back while printing
  var printing = window.matchMedia ? window.matchMedia("print") : null;
  function onPrint(evt) {
    if (!reveal) return;
    if (evt.matches) {
      cellStash.forEach(function (html, td) { td.innerHTML = html; });
      blockStash.forEach(function (pair) { if (pair[1].isConnected) pair[1].replaceWith(pair[0]); });
    } else {
      cellStash.forEach(function (html, td) { cellStash.delete(td); td.classList.remove("veiled"); });
      blockStash = [];
      paint();
    }
  }
  if (printing && printing.addEventListener) printing.addEventListener("change", onPrint);
  window.addEventListener("beforeprint", function () { onPrint({matches: true}); });
  window.addEventListener("afterprint", function () { onPrint({matches: false}); });

  // -- events ---------------------------------------------------------------------------------
  document.addEventListener("keydown", function (evt) {
    if (typing(evt.target) || evt.ctrlKey || evt.metaKey || evt.altKey) return;
    if (evt.key === "p" || evt.key === "P") {
      setProjector(!projector());
      evt.preventDefault();
    } else if ((evt.key === "r" || evt.key === "R") && document.querySelector("table.layers")) {
      if (reveal) showBar(); else showChooser();
      evt.preventDefault();
    } else if (evt.key === "Escape" && !reveal) {
      closePanel();
    } else if (reveal && (evt.key === "ArrowRight" || evt.key === "ArrowDown")) {
      setStep(reveal.step + 1);
      evt.preventDefault();
    } else if (reveal && (evt.key === "ArrowLeft" || evt.key === "ArrowUp")) {
      setStep(reveal.step - 1);
      evt.preventDefault();
    }
  });

  document.addEventListener("click", function (evt) {
    var target = evt.target instanceof Element ? evt.target : null;
    if (!target) return;
    var toggle = target.closest("[data-projector-toggle]");
    if (toggle) { setProjector(!projector()); return; }
    var opener = target.closest("[data-reveal-toggle]");
    if (opener) {
      var open = panel().hidden;
      if (!open) closePanel(); else if (reveal) showBar(); else showChooser();
      if (!open && reveal) showBar();  // while revealing the bar stays
      return;
    }
    var control = target.closest("[data-reveal]");
    if (control) {
      var what = control.getAttribute("data-reveal");
      if (what === "start") {
        var slots = chosenSlots();
        if (!slots.length) return;
        setParam("reveal", slots.join(","));
        setParam("step", "0");
        panel().textContent = "";
        startReveal();
      } else if (what === "close") {
        closePanel();
      } else if (what === "stop") {
        stopReveal();
      } else if (reveal) {
        setStep(what === "next" ? reveal.step + 1 : what === "prev" ? reveal.step - 1
                                                                       : reveal.cells.length);
      }
      evt.preventDefault();
      return;
    }
    var veiled = target.closest("td.veiled");
    if (veiled && reveal) { setStep(reveal.step + 1); evt.preventDefault(); return; }
    var link = target.closest("a[href]");
    if (link) keepMode(link);
  }, true);

  // htmx requests (the model page's controls, the calculator) keep the mode in the URLs they push
  document.addEventListener("htmx:configRequest", function (evt) {
    if (projector() && evt.detail.verb === "get") evt.detail.parameters.projector = "1";
    var p = params();
    if (p.get("reveal") && evt.detail.verb === "get") {
      evt.detail.parameters.reveal = p.get("reveal");
      evt.detail.parameters.step = p.get("step") || "0";
    }
    // the spec as written goes to the server, not the one shown while revealing
    if (editorStash !== null && evt.detail.parameters.spec !== undefined) {
      evt.detail.parameters.spec = editorStash;
    }
  });
  document.addEventListener("htmx:afterSettle", function (evt) {
    var id = evt.detail && evt.detail.elt ? evt.detail.elt.id : "";
    if (id !== "gutter" && id !== "line-problems") startReveal();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var on = params().get("projector") === "1" || projector();
    root.classList.toggle("projector", on);
    document.querySelectorAll("[data-projector-toggle]").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    startReveal();
  });
})();

// The architecture diagram's boxes show their row in the table: the blocks around it are
// opened, the row scrolled to, outlined and its first figure focused.
(function () {
  document.addEventListener("click", function (evt) {
    var target = evt.target instanceof Element ? evt.target : null;
    var link = target && target.closest("a[data-arch-row]");
    if (!link) return;
    var tr = document.querySelector('table.layers tr[data-row="' + link.getAttribute("data-arch-row") + '"]');
    if (!tr) return;
    evt.preventDefault();
    (tr.getAttribute("data-in") || "").split(" ").forEach(function (g) {
      if (!g) return;
      var toggle = document.querySelector('tr.group-head[data-group="' + g + '"] button.toggle[aria-expanded="false"]');
      if (toggle) toggle.click();
    });
    document.querySelectorAll("tr.arch-target").forEach(function (r) { r.classList.remove("arch-target"); });
    tr.classList.add("arch-target");
    tr.scrollIntoView({block: "center"});
    var fig = tr.querySelector("button.fig");
    if (fig) fig.focus({preventScroll: true});
  });
})();

// The model page's table comes whole (its form is not the calculator's, which app.js asks for
// the rows of a block when one is opened): keep every row, so blocks open in place.
(function () {
  document.querySelectorAll(".model-page table.layers tr.folded").forEach(function (tr) {
    tr.classList.remove("folded");  // before app.js drops the folded rows on DOMContentLoaded
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".model-page table.layers tr.group-head[data-lazy]").forEach(function (tr) {
      delete tr.dataset.lazy;
    });
  });
})();

// ... and each table row that the diagram draws gets a "diagram" link to its box.
(function () {
  function link() {
    document.querySelectorAll(".model-page table.layers tr.row[data-row]").forEach(function (tr) {
      var n = tr.getAttribute("data-row");
      var meta = tr.querySelector(".meta");
      if (!meta || meta.querySelector("a.to-arch")) return;
      if (!document.querySelector('svg.arch-svg a[data-arch-row="' + n + '"]')) return;
      var a = document.createElement("a");
      a.href = "#arch-title";
      a.className = "to-arch";
      a.setAttribute("data-to-arch", n);
      a.textContent = "diagram";
      meta.append(" · ", a);
    });
  }
  document.addEventListener("click", function (evt) {
    var target = evt.target instanceof Element ? evt.target : null;
    var a = target && target.closest("a[data-to-arch]");
    if (!a) return;
    var box = document.querySelector('svg.arch-svg a[data-arch-row="' + a.getAttribute("data-to-arch") + '"]');
    if (!box) return;
    evt.preventDefault();
    document.querySelectorAll("svg.arch-svg a.arch-hit").forEach(function (b) { b.classList.remove("arch-hit"); });
    box.classList.add("arch-hit");
    box.scrollIntoView({block: "center", inline: "center"});
    box.focus({preventScroll: true});
  });
  document.addEventListener("DOMContentLoaded", link);
  document.addEventListener("htmx:afterSettle", link);
})();

// The one-layer page follows the typing. With the quiz on, the answers typed so far are not sent
// until "Check" (else the first key typed would reveal the working), and switching the quiz on
// takes the answers off the page at once, before the server's answer arrives.
(function () {
  function quizOn(form) {
    var box = form.querySelector("input[name=quiz]");
    return Boolean(box && box.checked);
  }
  document.addEventListener("htmx:configRequest", function (evt) {
    var form = evt.detail.elt;
    if (!form || form.id !== "layer-form" || !quizOn(form)) return;
    var trigger = evt.detail.triggeringEvent;
    if (trigger && trigger.type === "submit") return;
    Object.keys(evt.detail.parameters).forEach(function (k) {
      if (/^a_/.test(k)) delete evt.detail.parameters[k];
    });
  });
  document.addEventListener("change", function (evt) {
    var box = evt.target instanceof Element ? evt.target.closest("#layer-form input[name=quiz]") : null;
    if (!box || !box.checked) return;
    document.querySelectorAll("#layer-result .steps, #layer-result .layer-out, #layer-result .marks, " +
                              "#layer-result .layer-score, #layer-result .rf-warnings").forEach(function (el) {
      el.remove();
    });
  });
})();
