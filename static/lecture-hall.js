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

  function params() { return new URLSearchParams(window.location.search); }

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
  var reveal = null;  // {cells: [...], step: n}

  function revealSlots() {
    var wanted = (params().get("reveal") || "").split(",");
    var slots = wanted.map(function (w) { return SLOTS[w.trim().toLowerCase()]; })
      .filter(function (s) { return s; });
    return slots;
  }

  function collectCells(slots) {
    var pattern = new RegExp("^w([1-9][0-9]*)(" + slots.join("|") + ")$");
    var cells = [];
    document.querySelectorAll("table.layers button.fig[data-cell]").forEach(function (b) {
      if (pattern.test(b.getAttribute("data-cell"))) cells.push(b.parentElement);
    });
    return cells;
  }

  function bar() {
    var existing = document.getElementById("reveal-bar");
    if (existing) return existing;
    var div = document.createElement("div");
    div.id = "reveal-bar";
    div.className = "reveal-bar";
    div.setAttribute("role", "region");
    div.setAttribute("aria-label", "reveal mode");
    var prev = document.createElement("button");
    prev.type = "button"; prev.setAttribute("data-reveal", "prev"); prev.textContent = "← hide last";
    var next = document.createElement("button");
    next.type = "button"; next.setAttribute("data-reveal", "next"); next.textContent = "reveal next →";
    var all = document.createElement("button");
    all.type = "button"; all.setAttribute("data-reveal", "all"); all.textContent = "reveal all";
    var status = document.createElement("span");
    status.className = "reveal-status"; status.setAttribute("aria-live", "polite");
    div.append(prev, next, all, status);
    document.body.appendChild(div);
    return div;
  }

  function paint() {
    if (!reveal) return;
    reveal.cells.forEach(function (td, i) {
      var hidden = i >= reveal.step;
      td.classList.toggle("veiled", hidden);
      td.classList.toggle("just-revealed", i === reveal.step - 1);
      var button = td.querySelector("button.fig");
      if (button) button.setAttribute("aria-hidden", hidden ? "true" : "false");
      if (button) button.tabIndex = hidden ? -1 : 0;
    });
    var done = reveal.step >= reveal.cells.length;
    document.querySelectorAll("dl.totals").forEach(function (dl) {
      dl.classList.toggle("veiled-totals", !done);
    });
    var status = bar().querySelector(".reveal-status");
    status.textContent = "revealed " + reveal.step + " of " + reveal.cells.length;
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
    var slots = revealSlots();
    if (!slots.length) { reveal = null; return; }
    var cells = collectCells(slots);
    var step = parseInt(params().get("step") || "0", 10);
    reveal = {cells: cells, step: isNaN(step) ? 0 : Math.max(0, Math.min(cells.length, step))};
    paint();
    var last = reveal.cells[reveal.step - 1];  // resuming: show where it got to
    if (last && last.scrollIntoView) last.scrollIntoView({block: "center"});
  }

  // -- events ---------------------------------------------------------------------------------
  document.addEventListener("keydown", function (evt) {
    if (typing(evt.target) || evt.ctrlKey || evt.metaKey || evt.altKey) return;
    if (evt.key === "p" || evt.key === "P") {
      setProjector(!projector());
      evt.preventDefault();
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
    var control = target.closest("[data-reveal]");
    if (control && reveal) {
      var what = control.getAttribute("data-reveal");
      setStep(what === "next" ? reveal.step + 1 : what === "prev" ? reveal.step - 1
                                                                     : reveal.cells.length);
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
  });
  document.addEventListener("htmx:afterSettle", startReveal);

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
