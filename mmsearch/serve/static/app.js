// The mmsearch page: plain JS, no build step, no CDN. Talks to /api/v1 on this server.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("search"), message = $("message"), images = $("images"), rows = $("rows");
  const weakButton = $("show-weak");
  window.mmsearchTimings = [];  // first results painted, ms after submit (browser tests read it)
  let last = null;  // the last request, to re-run with show_weak

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined) node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function clock(s) {
    s = Math.floor(s); const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
    const p = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${p(m)}:${p(x)}` : `${p(m)}:${p(x)}`;
  }

  // "[word]" in keyword snippets marks a match: shown as <mark>, everything else as text.
  function highlighted(text) {
    const out = document.createDocumentFragment();
    const parts = String(text).split(/\[([^\]]*)\]/);
    parts.forEach((part, i) => out.append(i % 2 ? el("mark", {}, part) : document.createTextNode(part)));
    return out;
  }

  function snippetOf(hit) {
    const kw = (hit.why.signals || []).find((s) => s.signal === "keyword" && s.snippet);
    return kw ? kw.snippet : hit.segment.text;
  }

  function params() {
    const p = new URLSearchParams();
    const q = $("q").value.trim();
    if (q) p.set("q", q);
    if ($("type").value) p.append("type", $("type").value);
    if ($("after").value) p.set("after", $("after").value);
    if ($("before").value) p.set("before", $("before").value);
    p.set("k", "24");
    return p;
  }

  async function run(request) {
    last = request;
    const started = performance.now();
    message.className = ""; message.textContent = "Searching…"; weakButton.hidden = true;
    let response;
    try {
      response = request.body
        ? await fetch(`/api/v1/search?${request.params}`, { method: "POST", body: request.body })
        : await fetch(`/api/v1/search?${request.params}`);
    } catch (err) {
      message.className = "error"; message.textContent = `The server did not answer: ${err}`;
      return;
    }
    const data = await response.json();
    if (!response.ok) {
      images.replaceChildren(); rows.replaceChildren();
      message.className = "error"; message.textContent = data.error ? data.error.message : response.statusText;
      return;
    }
    render(data);
    requestAnimationFrame(() => {
      const ms = performance.now() - started;
      window.mmsearchTimings.push(ms);
      performance.measure("mmsearch:results", { start: started, duration: ms });
    });
  }

  function render(data) {
    const imageCards = [], rowCards = [];
    for (const hit of data.results) (isVisual(hit) ? imageCards : rowCards).push(card(hit));
    images.replaceChildren(...imageCards);
    rows.replaceChildren(...rowCards);
    if (!data.plan.spaces.length) {
      message.textContent = "Nothing is indexed yet: index a folder in the panel on the right.";
    } else if (!data.results.length && data.best_weak && data.best_weak.level === "probable") {
      // Hiding a likely-right answer reads as "broken": show it, marked as unsure (as the
      // CLI prints "probably: ..."), with the other weak hits behind the same click.
      const hit = data.best_weak;
      const shown = card(hit, "probable");
      (isVisual(hit) ? images : rows).replaceChildren(shown);
      message.className = "probable";
      message.textContent = `Probably: ${hit.path.split("/").pop()}. Not confident: it is below the ` +
        "confidence threshold, but above the probable bar or well ahead of the next file.";
      weakButton.hidden = false;
    } else if (!data.results.length && data.best_weak) {
      message.className = "none";
      message.textContent = `No confident match. The nearest was ${data.best_weak.path}, below the threshold.`;
      weakButton.hidden = false;
    } else if (!data.results.length) {
      message.textContent = "No results: no indexed file passes the filters.";
    } else {
      const weak = data.confident ? "" : " (all weak)";
      message.textContent = `${data.results.length} result${data.results.length === 1 ? "" : "s"}${weak}`;
    }
  }

  function isVisual(hit) { return hit.modality === "image" || hit.modality === "video"; }

  // level: "confident", "probable" or "weak" (a hit of the list carries confident only).
  function card(hit, level = hit.confident ? "confident" : "weak") {
    const seg = hit.segment;
    const name = hit.path.split("/").pop();
    const when = seg.start !== null ? ` at ${clock(seg.start)}${seg.end ? "-" + clock(seg.end) : ""}` : "";
    const thumb = `/thumb/${hit.item_id}?size=256${seg.kind === "frame" ? "&segment=" + hit.segment_id : ""}`;
    const why = el("pre", { class: "why", hidden: "" }, JSON.stringify(hit.why, null, 2));
    const whyButton = el("button", { type: "button", "aria-expanded": "false", onclick: () => {
      why.hidden = !why.hidden; whyButton.setAttribute("aria-expanded", String(!why.hidden));
    } }, "Why?");
    const actions = el("div", { class: "actions" }, whyButton,
      el("button", { type: "button", class: "more", onclick: () => moreLike(hit) }, "More like this"),
      el("a", { href: `/media/${hit.item_id}`, target: "_blank", rel: "noopener" }, "Open"));
    const marked = { confident: "", probable: " · probably", weak: " · weak" }[level];
    const meta = el("div", { class: "meta" }, `${hit.score.toFixed(2)} · ${hit.modality}${when}${marked}`);
    const attrs = { class: (isVisual(hit) ? "card" : "row") + (level === "confident" ? "" : ` ${level}`),
                    "data-item": hit.item_id, "data-path": hit.path };
    if (attrs.class.startsWith("card")) {
      return el("article", attrs, el("img", { src: thumb, alt: name, loading: "lazy", width: 140, height: 140 }),
        el("div", { class: "name", title: hit.path }, name), meta, actions, why);
    }
    const body = el("div", {}, el("div", { class: "name", title: hit.path }, name), meta);
    const text = snippetOf(hit);
    if (text) body.append(el("p", { class: "snippet" }, highlighted(text)));
    if (hit.modality === "audio") body.append(player(hit));
    body.append(actions, why);
    return el("article", attrs, el("img", { src: thumb, alt: "", width: 64, height: 64 }), body);
  }

  // The player starts at the matched moment: currentTime is set once metadata is known.
  function player(hit) {
    const start = hit.segment.start || 0;
    const audio = el("audio", { controls: "", preload: "metadata", src: `/media/${hit.item_id}`,
                                "data-start": start, "aria-label": `Play from ${clock(start)}` });
    audio.addEventListener("loadedmetadata", () => { audio.currentTime = start; }, { once: true });
    return audio;
  }

  // "More like this": the hit's own file as the example (text: its passage as the query).
  async function moreLike(hit) {
    if (hit.modality === "image" || hit.modality === "audio" || hit.modality === "video") {
      const blob = await (await fetch(`/media/${hit.item_id}`)).blob();
      const body = new FormData();
      const kind = hit.modality === "audio" ? "audio" : "image";
      body.append(kind, blob, hit.path.split("/").pop());
      body.append("spec", hit.path);
      const p = new URLSearchParams({ k: "24" });
      run({ params: p, body, label: `like ${hit.path}` });
    } else {
      $("q").value = (hit.segment.text || "").split(/\s+/).slice(0, 30).join(" ");
      submit();
    }
  }

  function submit() {
    const p = params();
    if (!p.get("q")) { message.textContent = "Type something to search for."; return; }
    history.replaceState(null, "", `/?${new URLSearchParams({ q: p.get("q") })}`);
    run({ params: p });
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  weakButton.addEventListener("click", () => {
    if (!last) return;
    const p = new URLSearchParams(last.params); p.set("show_weak", "true");
    run({ ...last, params: p });
  });

  // -- indexing panel: start a job, follow it by server-sent events, cancel it.
  const jobState = $("job-state"), bar = $("job-progress"), cancel = $("cancel-job");
  let jobId = null;
  function follow(job) {
    jobId = job.job_id; cancel.hidden = false; bar.hidden = false;
    const events = new EventSource(`/api/v1/jobs/${job.job_id}/events`);
    const show = (e) => {
      const j = JSON.parse(e.data);
      bar.max = Math.max(j.total, 1); bar.value = j.done;
      jobState.textContent = `${j.state}: ${j.done} of ${j.total || "?"} files` + (j.error ? ` — ${j.error}` : "");
      if (j.report) jobState.textContent += ` — ${j.report.indexed} indexed, ${j.report.unchanged} unchanged`;
    };
    events.addEventListener("progress", show);
    events.addEventListener("end", (e) => { show(e); events.close(); cancel.hidden = true; });
  }
  $("index-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const path = $("index-path").value.trim();
    if (!path) return;
    const r = await fetch("/api/v1/index", { method: "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify({ paths: [path] }) });
    const data = await r.json();
    if (!r.ok) { jobState.className = "error"; jobState.textContent = data.error.message; return; }
    jobState.className = ""; follow(data);
  });
  cancel.addEventListener("click", () => { if (jobId) fetch(`/api/v1/jobs/${jobId}`, { method: "DELETE" }); });
  fetch("/api/v1/server").then((r) => r.json()).then((s) => { if (s.job) follow(s.job); }).catch(() => {});

  const initial = new URLSearchParams(location.search).get("q");
  if (initial) { $("q").value = initial; submit(); }
})();
