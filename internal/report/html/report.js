// Draws the run report from the JSON record embedded in the page. Every
// piece of data reaches the page through textContent or an attribute,
// never as markup: labels, case messages and logs are the tests' own text.
// The filter's state lives in the URL fragment (#status=failed&mark=unit&q=db),
// so a filtered view can be linked to, and a headless browser can open one.
"use strict";
(function () {
  const rec = JSON.parse(document.getElementById("suite-data").textContent);
  const root = document.getElementById("report");

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v; else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function dur(s) {
    if (s < 1) return Math.round(s * 1000) + "ms";
    if (s < 60) return s.toFixed(1) + "s";
    const m = Math.floor(s / 60), r = Math.round(s - m * 60);
    return m + "m" + (r < 10 ? "0" : "") + r + "s";
  }
  function pct(x) { return (x * 100).toFixed(x < 0.1 ? 1 : 0) + "%"; }
  const tests = rec.tests || [];
  const actions = rec.actions || [];
  const byLabel = new Map(tests.map(t => [t.label, t]));
  // shownStatus is what the status filter and the badges call a test.
  function shownStatus(t) { return t.cached && (t.status === "passed" || t.status === "skipped") ? "cached" : t.status; }
  function badge(t) {
    const kids = [el("span", { class: "st " + shownStatus(t), text: shownStatus(t) })];
    if (t.quarantined) kids.push(" ", el("span", { class: "st quarantined", text: "quarantined" }));
    return el("span", {}, ...kids);
  }
  function marks(t) { return (t.marks || []).map(m => el("span", { class: "mark", text: m })); }
  // A sparkline is one element painted by a gradient, a stripe per run:
  // a 10,000-test report would otherwise hold 200,000 of them.
  const sparkColor = { ".": "--passed", c: "--cached", f: "--flaky", F: "--failed", T: "--timeout", s: "--skipped" };
  function spark(s) {
    s = s || "";
    if (!s) return el("span", { class: "spark" });
    const w = 100 / s.length, stops = [];
    for (let i = 0; i < s.length; i++) {
      const c = "var(" + (sparkColor[s[i]] || "--skipped") + ")";
      stops.push(c + " " + (i * w) + "% " + ((i + 1) * w - w * 0.15) + "%", "transparent " + ((i + 1) * w - w * 0.15) + "% " + ((i + 1) * w) + "%");
    }
    return el("span", { class: "spark", "data-runs": s, title: "recent runs, oldest first: " + s,
      style: "width:" + (8 * s.length) + "px;background:linear-gradient(90deg," + stops.join(",") + ")" });
  }

  // ---- header
  const c = rec.counts || {};
  const failedN = (c.failed || 0) + (c.timeout || 0);
  let verdict = el("span", { class: "verdict ok", text: "passed" });
  if (rec.aborted) verdict = el("span", { class: "verdict stop", text: "stopped" });
  else if (rec.interrupted) verdict = el("span", { class: "verdict stop", text: "interrupted" });
  else if (failedN > 0) verdict = el("span", { class: "verdict bad", text: "failed" });
  root.append(el("h1", {}, "suite" + (rec.suite ? " " + rec.suite : ""), verdict));
  const started = rec.start ? new Date(rec.start).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "";
  root.append(el("div", { class: "meta" },
    "selection ", el("b", { text: rec.selection || "(current package)" }),
    rec.ci_shard ? " · CI shard " : null, rec.ci_shard ? el("b", { text: rec.ci_shard }) : null,
    " · seed ", el("b", { text: String(rec.seed) }),
    " · ", el("b", { text: String(rec.jobs) }), " workers",
    " · order ", el("b", { text: rec.order || "" }),
    started ? " · started " : null, started ? el("b", { text: started }) : null,
    rec.workspace ? " · workspace " : null, rec.workspace ? el("b", { text: rec.workspace }) : null));
  if (rec.aborted) root.append(el("p", { class: "failure", text: "The run was stopped: " + rec.aborted }));

  const chips = el("div", { class: "chips", id: "counts" });
  const chip = (cls, n, word) => chips.append(el("div", { class: "chip " + cls, "data-count": cls }, el("span", { class: "n", text: String(n) }), word));
  chip("passed", (c.passed || 0) + (c.flaky || 0), "passed");
  chip("failed", c.failed || 0, "failed");
  if (c.timeout) chip("timeout", c.timeout, "timed out");
  if (c.flaky) chip("flaky", c.flaky, "flaky");
  chip("skipped", c.skipped || 0, "skipped");
  chip("cached", c.cached || 0, "cached");
  if (c.quarantined) chip("quarantined", c.quarantined, "quarantined (" + (c.quarantined_failed || 0) + " failed)");
  if (rec.not_run) chip("skipped", rec.not_run, "not run");
  root.append(chips);

  const longest = Math.max(rec.wall_s, rec.expected_s || 0, rec.budget_s || 0, 1e-3);
  const time = el("div", { class: "time" });
  const timeRow = (name, s, over) => {
    if (!s) return;
    time.append(el("span", { text: name }), el("span", { class: "tbar" }, el("span", { class: over ? "over" : "", style: "width:" + (100 * s / longest) + "%" })), el("span", { text: dur(s) }));
  };
  timeRow("wall time", rec.wall_s, rec.over_budget);
  timeRow(rec.expected_known ? "predicted" : "predicted (partly)", rec.expected_s);
  timeRow("budget", rec.budget_s);
  root.append(time);
  if (rec.over_budget) root.append(el("p", { text: "Over budget: took " + dur(rec.wall_s) + " of a " + dur(rec.budget_s) + " budget." }));

  // ---- filter
  const statuses = ["all", "failed", "timeout", "flaky", "passed", "skipped", "cached", "quarantined", "interrupted"];
  const allMarks = [...new Set(tests.flatMap(t => t.marks || []))].sort();
  const fStatus = el("select", { id: "f-status", "aria-label": "status" }, ...statuses.map(s => el("option", { value: s, text: s === "all" ? "every status" : s })));
  const fMark = el("select", { id: "f-mark", "aria-label": "mark" }, el("option", { value: "", text: "every mark" }), ...allMarks.map(m => el("option", { value: m, text: m })));
  const fText = el("input", { id: "f-text", type: "search", placeholder: "label contains…", "aria-label": "label text" });
  const shown = el("span", { class: "shown", id: "f-shown" });
  root.append(el("div", { class: "filters" }, "Filter: ", fStatus, fMark, fText, shown));

  function matches(t, f) {
    if (!t) return true;
    if (f.status !== "all") {
      if (f.status === "quarantined") { if (!t.quarantined) return false; }
      else if (f.status === "failed") { if (t.status !== "failed" && t.status !== "timeout") return false; }
      else if (shownStatus(t) !== f.status) return false;
    }
    if (f.mark && !(t.marks || []).includes(f.mark)) return false;
    if (f.q && !t.label.toLowerCase().includes(f.q.toLowerCase())) return false;
    return true;
  }

  // ---- failures
  const bad = tests.filter(t => t.status === "failed" || t.status === "timeout" || t.status === "flaky");
  root.append(el("h2", { text: "Failed, timed out and flaky tests (" + bad.length + ")" }));
  const failures = el("section", { id: "failures" });
  if (!bad.length) failures.append(el("p", { class: "empty", text: "None: every executed test passed at its first attempt." }));
  for (const t of bad) {
    const card = el("div", { class: "failure " + t.status + (t.quarantined ? " quarantined" : ""), "data-label": t.label });
    card.append(el("div", {}, el("span", { class: "label", text: t.label }), " ", badge(t), ...marks(t), " ", el("span", { class: "logpath", text: dur(t.duration_s) }), " ", spark(t.recent)));
    if (t.failed_cases && t.failed_cases.length) {
      const ul = el("ul", { class: "cases" });
      for (const fc of t.failed_cases) ul.append(el("li", {}, fc.name, fc.message ? el("div", { class: "msg", text: fc.message }) : null));
      card.append(el("div", {}, "Failing cases:"), ul);
    }
    if (t.log_tail) card.append(el("pre", { class: "tail", text: t.log_tail }));
    if (t.log) card.append(el("div", { class: "logpath", text: "full log: " + t.log }));
    failures.append(card);
  }
  root.append(failures);

  // ---- timeline
  const ran = actions.filter(a => !a.cached);
  const cached = actions.filter(a => a.cached);
  root.append(el("h2", { text: "Timeline: " + ran.length + " executed on " + rec.jobs + " worker slots, " + cached.length + " cached" }));
  const span = Math.max(rec.wall_s, ...ran.map(a => a.start_s + a.dur_s), 1e-3);
  const tl = el("div", { class: "timeline", id: "timeline" });
  const lanes = [];
  for (let s = 0; s < Math.max(rec.jobs, 1); s++) {
    const track = el("div", { class: "track" });
    lanes.push(track);
    tl.append(el("div", { class: "lane" }, el("span", { class: "name", text: "slot " + s }), track));
  }
  const bars = [];
  for (const a of ran) {
    const lane = lanes[Math.min(Math.max(a.slot, 0), lanes.length - 1)];
    const b = el("div", {
      class: "bar " + a.status, "data-label": a.label,
      title: a.id + " — " + a.status + " — " + dur(a.dur_s) + (a.attempts > 1 ? " — " + a.attempts + " attempts" : ""),
      style: "left:" + (100 * a.start_s / span) + "%;width:" + (100 * a.dur_s / span) + "%",
    });
    bars.push(b);
    lane.append(b);
  }
  root.append(tl, el("div", { class: "axis" }, el("span", { text: "0s" }), el("span", { text: dur(span / 2) }), el("span", { text: dur(span) })));
  if (cached.length) {
    const ul = el("ul", { class: "cachedlist" });
    for (const a of cached) ul.append(el("li", { "data-label": a.label, text: a.id + " (" + dur(a.dur_s) + " when it ran)" }));
    root.append(el("details", {}, el("summary", { text: cached.length + " cached results (not run)" }), ul));
  }

  // ---- slowest
  const slow = [...ran].sort((x, y) => y.dur_s - x.dur_s).slice(0, 15);
  root.append(el("h2", { text: "Slowest tests" }));
  if (!slow.length) root.append(el("p", { class: "empty", text: "Nothing ran: every result came from the cache." }));
  else {
    const tb = el("tbody");
    const wall = Math.max(rec.wall_s, 1e-3);
    for (const a of slow) {
      const share = a.dur_s / wall;
      tb.append(el("tr", { "data-label": a.label }, el("td", { class: "num", text: dur(a.dur_s) }),
        el("td", { class: "num" }, el("span", { class: "share", style: "width:" + Math.min(100, share * 100) + "px" }), pct(share)),
        el("td", { class: "lbl", text: a.id })));
    }
    root.append(el("table", { id: "slowest" }, el("thead", {}, el("tr", {}, el("th", { text: "duration" }), el("th", { text: "share of wall time" }), el("th", { text: "test" }))), tb));
    root.append(el("p", { class: "meta", text: "A test's share is its duration over the run's wall time; with " + rec.jobs + " workers the shares add up to as much as " + rec.jobs * 100 + "%." }));
  }

  // ---- history
  root.append(el("h2", { text: "Flakiest tests (recent runs)" }));
  const flaky = rec.flaky || [];
  if (!flaky.length) root.append(el("p", { class: "empty", text: "No test flipped between passing and failing in its recent runs." }));
  else {
    const tb = el("tbody");
    for (const f of flaky) tb.append(el("tr", { "data-label": f.label }, el("td", { class: "num", text: pct(f.rate) }),
      el("td", { class: "num", text: f.flaky + " flaky, " + f.failed + " failed of " + f.runs }), el("td", {}, spark(f.recent)),
      el("td", { class: "lbl" }, f.label, f.quarantined ? el("span", { class: "mark", text: "quarantined" }) : null)));
    root.append(el("table", { id: "flakiest" }, el("thead", {}, el("tr", {}, el("th", { text: "rate" }), el("th", { text: "runs" }), el("th", { text: "recent" }), el("th", { text: "test" }))), tb));
  }
  const slower = rec.slower || [];
  if (slower.length) {
    root.append(el("h2", { text: "Tests that got slower" }));
    const tb = el("tbody");
    for (const s of slower) tb.append(el("tr", { "data-label": s.label }, el("td", { class: "num", text: s.factor.toFixed(1) + "×" }),
      el("td", { class: "num", text: dur(s.before_s) + " → " + dur(s.last_s) }), el("td", { class: "lbl", text: s.label })));
    root.append(el("table", { id: "slower" }, el("thead", {}, el("tr", {}, el("th", { text: "growth" }), el("th", { text: "median before → last" }), el("th", { text: "test" }))), tb));
  }

  // ---- every test
  root.append(el("h2", { text: "All tests (" + tests.length + ")" }));
  const tb = el("tbody");
  const rows = [];
  for (const t of tests) {
    const tr = el("tr", { class: "test", "data-label": t.label, "data-status": shownStatus(t) },
      el("td", {}, badge(t)), el("td", { class: "num", text: dur(t.duration_s) }), el("td", { class: "lbl", text: t.label }),
      el("td", { class: "marks" }, ...marks(t)), el("td", {}, spark(t.recent)));
    rows.push(tr);
    tb.append(tr);
  }
  // Off screen when the page opens, the table is laid out only when
  // scrolled to: its placeholder is as tall as its rows will be.
  root.append(el("div", { class: "offscreen", style: "contain-intrinsic-size:auto " + (30 + 25 * tests.length) + "px" }, el("table", { id: "tests" }, el("thead", {}, el("tr", {}, el("th", { text: "status" }), el("th", { text: "duration" }), el("th", { text: "test" }), el("th", { text: "marks" }), el("th", { text: "recent" }))), tb)));

  // ---- filtering, driven by and mirrored in the URL fragment
  const filtered = [...rows, ...bars, ...document.querySelectorAll(".failure[data-label], #slowest tr[data-label], #flakiest tr[data-label], #slower tr[data-label], .cachedlist li")];
  function readHash() {
    const p = new URLSearchParams(location.hash.replace(/^#/, ""));
    const st = p.get("status") || "all";
    fStatus.value = statuses.includes(st) ? st : "all";
    fMark.value = allMarks.includes(p.get("mark")) ? p.get("mark") : "";
    fText.value = p.get("q") || "";
  }
  function apply(write) {
    const f = { status: fStatus.value, mark: fMark.value, q: fText.value.trim() };
    let n = 0;
    for (const e of filtered) {
      const ok = matches(byLabel.get(e.getAttribute("data-label")), f);
      if (e.classList.contains("bar")) e.classList.toggle("dim", !ok);
      else e.hidden = !ok;
      if (ok && e.classList.contains("test")) n++;
    }
    shown.textContent = n + " of " + tests.length + " tests shown";
    if (write) {
      const p = new URLSearchParams();
      if (f.status !== "all") p.set("status", f.status);
      if (f.mark) p.set("mark", f.mark);
      if (f.q) p.set("q", f.q);
      history.replaceState(null, "", p.toString() ? "#" + p.toString() : location.pathname + location.search);
    }
  }
  fStatus.addEventListener("change", () => apply(true));
  fMark.addEventListener("change", () => apply(true));
  fText.addEventListener("input", () => apply(true));
  window.addEventListener("hashchange", () => { readHash(); apply(false); });
  readHash();
  apply(false);
  // Done: a headless browser dumping the DOM, or a test, can tell.
  document.body.setAttribute("data-rendered", String(tests.length));
  // For the benchmark: when the page was drawn and laid out, from the
  // start of navigation (reading offsetHeight lays the page out now).
  document.body.setAttribute("data-script-ms", String(Math.round(performance.now())));
  void document.body.offsetHeight;
  document.body.setAttribute("data-layout-ms", String(Math.round(performance.now())));
})();
