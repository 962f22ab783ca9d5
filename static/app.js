// archcalc's page behaviour. Everything works without it (the form is a GET); with it, htmx
// updates the result as you type and block groups collapse (the editor is static/editor.js).
// No inline script anywhere: the page's CSP forbids it.
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
    // a click pins a figure's working open (and a second click closes it)
    var fig = target.closest("button.fig");
    if (fig) {
      if (pinned === fig) closeWorking();
      else { openWorking(fig); pinned = fig; }
      return;
    }
    if (pinned && !target.closest(".working-pop")) closeWorking();
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

  // -- a cell's working: one panel, fixed to the viewport and placed inside it, filled from the
  // cell's (hidden) working when the figure is focused, hovered or clicked -------------------
  var pop = null, shownFor = null, pinned = null, hoverTimer = 0;
  var GAP = 6, MARGIN = 8;

  function popover() {
    if (pop) return pop;
    pop = document.createElement("div");
    pop.id = "working-pop";
    pop.className = "working-pop";
    pop.setAttribute("role", "tooltip");
    pop.hidden = true;
    pop.addEventListener("mouseenter", function () { window.clearTimeout(hoverTimer); });
    pop.addEventListener("mouseleave", function () { if (!pinned) closeSoon(); });
    document.body.appendChild(pop);
    return pop;
  }

  function place(fig) {
    var box = popover(), r = fig.getBoundingClientRect();
    var vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
    box.style.maxHeight = (vh - 2 * MARGIN) + "px";
    box.style.left = "0px";
    box.style.top = "0px";
    var w = box.offsetWidth, h = box.offsetHeight;
    var left = Math.min(Math.max(MARGIN, r.right - w), vw - w - MARGIN);
    var top = r.bottom + GAP;
    if (top + h > vh - MARGIN) top = r.top - GAP - h;  // no room below: above the figure
    if (top < MARGIN) top = Math.max(MARGIN, vh - MARGIN - h);  // nor above: as low as fits
    box.style.left = Math.max(MARGIN, left) + "px";
    box.style.top = top + "px";
  }

  // a live update leaves the cells' working out: it is asked for (GET /working, with the
  // query of the table shown) when a cell is opened, and kept until the next update
  var fetched = {}, shownQuery = window.location.search;

  function workingOf(fig, box) {
    var working = fig.querySelector(".working");
    if (working) { box.innerHTML = working.innerHTML; return; }  // the server's escaped markup
    var id = fig.getAttribute("data-cell");
    if (fetched[id] !== undefined) { box.innerHTML = fetched[id]; return; }
    box.textContent = "working it out…";
    var query = new URLSearchParams(shownQuery);
    query.set("cell", id);
    fetch("/working?" + query.toString(), {headers: {"HX-Request": "true"}}).then(function (r) {
      return r.ok ? r.text() : Promise.reject(r.status);
    }).then(function (html) {
      fetched[id] = html;
      if (shownFor === fig) { box.innerHTML = html; place(fig); }
    }).catch(function () {
      if (shownFor === fig) { box.textContent = "The working is not available: reload the page."; place(fig); }
    });
  }

  function openWorking(fig) {
    if (!fig.getAttribute("data-cell")) return;
    window.clearTimeout(hoverTimer);
    var box = popover();
    if (shownFor !== fig) {
      if (shownFor) shownFor.removeAttribute("aria-describedby");
      if (shownFor) shownFor.closest("td").classList.remove("open");
      shownFor = fig;
      workingOf(fig, box);
    }
    box.hidden = false;
    fig.setAttribute("aria-describedby", "working-pop");
    fig.closest("td").classList.add("open");
    place(fig);
  }

  function closeWorking() {
    window.clearTimeout(hoverTimer);
    pinned = null;
    if (!pop || pop.hidden) return;
    pop.hidden = true;
    pop.textContent = "";
    if (shownFor) {
      shownFor.removeAttribute("aria-describedby");
      var td = shownFor.closest("td");
      if (td) td.classList.remove("open");
    }
    shownFor = null;
  }

  function closeSoon() {
    window.clearTimeout(hoverTimer);
    hoverTimer = window.setTimeout(function () {
      if (!pinned && !(document.activeElement && document.activeElement === shownFor)) closeWorking();
    }, 250);
  }

  document.addEventListener("focusin", function (evt) {
    var fig = evt.target instanceof Element ? evt.target.closest("button.fig") : null;
    if (fig) openWorking(fig);
  });
  document.addEventListener("focusout", function (evt) {
    var fig = evt.target instanceof Element ? evt.target.closest("button.fig") : null;
    if (fig && fig === shownFor && !pinned) closeWorking();
  });
  document.addEventListener("mouseover", function (evt) {
    var cell = evt.target instanceof Element ? evt.target.closest("td.num") : null;
    var fig = cell && cell.querySelector("button.fig");
    if (fig && !pinned) openWorking(fig);
  });
  document.addEventListener("mouseout", function (evt) {
    var cell = evt.target instanceof Element ? evt.target.closest("td.num") : null;
    var to = evt.relatedTarget instanceof Element ? evt.relatedTarget : null;
    if (cell && !(to && (cell.contains(to) || to.closest(".working-pop"))) && !pinned) closeSoon();
  });
  // a scrolled pane or page would leave the panel behind: it follows its figure
  document.addEventListener("scroll", function () {
    if (shownFor && pop && !pop.hidden) {
      if (document.body.contains(shownFor)) place(shownFor); else closeWorking();
    }
  }, true);
  window.addEventListener("resize", function () { if (shownFor) place(shownFor); });

  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") {
      closeWorking();
      document.querySelectorAll("details.col-chooser[open], details.instructor-help[open]").forEach(function (d) {
        d.open = false;
      });
    }
  });

  // -- the table's columns: hidden by the "columns" menu, kept across updates and in the URL --
  var hiddenCols = null;  // null: the defaults of the screen; else the slots hidden

  function setParam(name, value) {
    var p = new URLSearchParams(window.location.search);
    if (value === null) p.delete(name); else p.set(name, value);
    var query = p.toString();
    window.history.replaceState(window.history.state, "",
      window.location.pathname + (query ? "?" + query : "") + window.location.hash);
  }

  function applyColumns() {
    var root = document.documentElement;
    root.classList.toggle("cols-chosen", hiddenCols !== null);
    root.className.split(" ").forEach(function (c) {
      if (c.indexOf("hide-") === 0) root.classList.remove(c);
    });
    (hiddenCols || []).forEach(function (slot) { root.classList.add("hide-" + slot); });
    document.querySelectorAll("input[data-col]").forEach(function (box) {
      var th = document.querySelector("table.layers th.col-" + box.dataset.col);
      box.checked = Boolean(th) && window.getComputedStyle(th).display !== "none";
    });
  }

  document.addEventListener("change", function (evt) {
    var box = evt.target instanceof Element ? evt.target.closest("input[data-col]") : null;
    if (!box) return;
    hiddenCols = [];
    document.querySelectorAll(".col-chooser input[data-col]").forEach(function (b) {
      if (!b.checked && hiddenCols.indexOf(b.dataset.col) < 0) hiddenCols.push(b.dataset.col);
    });
    setParam("hide", hiddenCols.join(",") || "none");
    applyColumns();
  });

  // opening the diagram that a live update left out asks for it
  document.addEventListener("toggle", function (evt) {
    var d = evt.target;
    if (d instanceof Element && d.matches("details.calc-arch[data-arch-lazy]") && d.open) refetch();
  }, true);

  document.addEventListener("htmx:configRequest", function (evt) {
    if (evt.detail.elt && evt.detail.elt.id === "calc") evt.detail.parameters.open = openPaths();
    // the architecture diagram is drawn while it is open
    var drawing = document.querySelector("details.calc-arch");
    if (drawing && evt.detail.elt && evt.detail.elt.id === "calc") {
      if (drawing.open) evt.detail.parameters.arch = "1"; else delete evt.detail.parameters.arch;
    }
    // the batch planner stays as the user left it, open or closed, across live updates
    var planner = document.getElementById("planner");
    if (planner && evt.detail.elt && evt.detail.elt.id === "calc") {
      evt.detail.parameters.plan_open = planner.open ? "1" : "0";
    }
    if (hiddenCols !== null && evt.detail.verb === "get") {
      evt.detail.parameters.hide = hiddenCols.join(",") || "none";
    }
  });
  document.addEventListener("htmx:beforeSwap", function (evt) {
    closeWorking();
    // reveal mode keeps each veiled cell's content aside: a morph would fill the same cell
    // with its answer again, so while revealing the result is replaced, not morphed
    if (document.documentElement.classList.contains("revealing") && evt.detail.elt &&
        evt.detail.elt.id === "calc") evt.detail.swapOverride = "innerHTML settle:0ms";
  });
  // the table now shown answers the query of the request that brought it
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt, xhr = evt.detail.xhr;
    if (!elt || elt.id !== "calc" || !xhr || xhr.status !== 200) return;
    var url = evt.detail.pathInfo && evt.detail.pathInfo.finalRequestPath;
    if (url && url.indexOf("?") >= 0) followUrl(url);
    if (xhr.getResponseHeader("HX-Retarget")) return;  // the problems only: the table stays
    if (url && url.indexOf("?") >= 0) { shownQuery = url.slice(url.indexOf("?")); fetched = {}; }
  });

  // the URL follows the form (a broken spec too), so that it reproduces the page; it is
  // written once the frame showing the answer is drawn: with a whole network in it, the
  // browser's history call is among the slowest steps of a keystroke
  var urlWanted = null;
  function followUrl(url) {
    var first = urlWanted === null;
    urlWanted = url;
    if (!first) return;
    window.requestAnimationFrame(function () {
      window.setTimeout(function () {
        var path = urlWanted;
        urlWanted = null;
        if (path === window.location.pathname + window.location.search) return;
        window.history.replaceState(window.history.state, "", path);
        // as htmx's own hx-replace-url says it (the live presenter keeps its path on it)
        document.body.dispatchEvent(new CustomEvent("htmx:replacedInHistory",
                                                    {bubbles: true, detail: {path: path}}));
      }, 0);
    });
  }

  // a 422 answer (the spec is broken) swaps the problem list in; the table stays, marked stale
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.xhr && evt.detail.xhr.status === 422) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });

  // the result pane keeps its summary in view: the table's head goes under it
  function measureSummary() {
    var pane = document.getElementById("result-pane"), summary = pane && pane.querySelector(".summary");
    if (!summary) return;
    var sticky = window.getComputedStyle(summary).position === "sticky";
    pane.style.setProperty("--summary-h", (sticky ? summary.offsetHeight : 0) + "px");
  }

  // htmx settles each swapped element (the result, and out of band the gutter and the line
  // problems): each gets only the work it needs
  document.addEventListener("htmx:afterSettle", function (evt) {
    var id = evt.detail && evt.detail.elt ? evt.detail.elt.id : "";
    if (id === "gutter" || id === "line-problems") return;
    applyGroups(document);
    applyColumns();
    measureSummary();
  });
  window.addEventListener("resize", measureSummary);

  // a full page has every row and each cell's working (it must read without JavaScript); with
  // it, the rows of the collapsed blocks go, as in an htmx answer, so that the first keystroke's
  // swap does not have to clear thousands of hidden elements; opening a block asks for its
  // rows. On the calculator the cells' working goes too (asked for when a cell is opened), so
  // that the first keystroke's morph finds the table as the next answer writes it
  function dropFoldedRows() {
    document.querySelectorAll("table.layers tr.folded").forEach(function (tr) { tr.remove(); });
    document.querySelectorAll("#result-region table.layers button.fig > .working").forEach(function (w) {
      w.remove();
    });
    document.querySelectorAll("table.layers tr.group-head").forEach(function (tr) {
      var button = tr.querySelector("button.toggle");
      if (button && button.getAttribute("aria-expanded") !== "true") tr.dataset.lazy = "true";
    });
  }

  // a live update morphs the result in place (idiomorph): a part of the page equal to its new
  // version is left alone, so a keystroke restyles and lays out only the rows it changed
  function unchangedIsKept() {
    if (!window.Idiomorph) return;
    window.Idiomorph.defaults.callbacks.beforeNodeMorphed = function (old, fresh) {
      return !(old.nodeType === 1 && old.isEqualNode(fresh));
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    unchangedIsKept();
    var hide = new URLSearchParams(window.location.search).get("hide");
    if (hide !== null) {
      hiddenCols = hide.split(",").filter(function (s) { return /^[a-z]+$/.test(s) && s !== "none"; });
    }
    if (document.querySelector("table.layers")) document.documentElement.classList.add("has-layers");
    dropFoldedRows();
    applyGroups(document);
    applyColumns();
    measureSummary();
  });
})();
