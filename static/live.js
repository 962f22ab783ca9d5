// Live sessions (templates/live_*.html). The students' page follows the instructor through
// htmx's SSE extension; this file adds what markup alone cannot: the connection's state in
// words, the "try it myself" link kept to the followed spec, each student's own verdict picked
// from the reveal, and on the instructor's page, following the calculator's URL as they type.
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }

  // -- the students' page ----------------------------------------------------------------
  function follower(root) {
    var status = $("[data-live-status]", root);
    function say(text, cls) {
      if (!status) return;
      status.textContent = text;
      status.className = "live-status " + (cls || "");
    }
    say("connecting…", "wait");
    document.body.addEventListener("htmx:sseOpen", function () { say("following live", "ok"); });
    document.body.addEventListener("htmx:sseError", function () {
      say("reconnecting…", "wait");
    });
    function afterSwap() {
      var result = $("#live-result", root);
      var link = $("[data-live-try]", root);
      if (result && link && result.dataset.query !== undefined) {
        link.href = "/?" + result.dataset.query;
      }
      var mine = $("[data-live-answer]", root);
      if (mine) {
        try { sessionStorage.setItem("archcalc-live-" + mine.dataset.qid, mine.dataset.key); }
        catch (e) { /* private mode: the verdict is then not shown */ }
      }
      var slot = $("[data-live-mine]", root);
      if (slot && !slot.textContent) {
        var key = null;
        try { key = sessionStorage.getItem("archcalc-live-" + slot.dataset.qid); } catch (e) { }
        var verdict = key && root.querySelector('.live-verdicts li[data-key="' + key + '"]');
        slot.textContent = verdict ? verdict.textContent : "You did not answer this question.";
        slot.className = "live-mine " + (verdict && verdict.querySelector(".claim.right") ? "right" :
          verdict ? "wrong" : "");
      }
    }
    document.body.addEventListener("htmx:afterSwap", afterSwap);
    document.body.addEventListener("htmx:sseMessage", afterSwap);
    afterSwap();
  }

  // -- the instructor's page ---------------------------------------------------------------
  function presenter(panel) {
    var code = panel.dataset.livePresent;
    var base = "/live/" + code + "/present";
    var sent = location.search;
    // the calculator writes its state into the URL as "/?..."; keep the instructor's page
    document.body.addEventListener("htmx:replacedInHistory", function () {
      if (location.pathname !== base) history.replaceState(history.state, "", base + location.search);
    });
    document.body.addEventListener("htmx:pushedIntoHistory", function () {
      if (location.pathname !== base) history.replaceState(history.state, "", base + location.search);
    });
    // every change of the URL (typing, options, reveal steps) is what the class follows
    setInterval(function () {
      if (location.search === sent || !window.htmx) return;
      sent = location.search;
      htmx.ajax("POST", "/live/" + code + "/state", {
        target: "#live-ask", swap: "innerHTML", values: { query: sent.replace(/^\?/, "") }
      });
    }, 150);
  }

  // -- "Present live" on any page with a result --------------------------------------------
  function presentButtons() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.matches || !form.matches("form[data-present-live]")) return;
      var query = form.querySelector("input[name=query][data-present-url]");
      if (query) query.value = location.search.replace(/^\?/, "");
    }, true);
  }

  function start() {
    var root = $("[data-live-code]");
    if (root) follower(root);
    var panel = $("[data-live-present]");
    if (panel) presenter(panel);
    presentButtons();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
