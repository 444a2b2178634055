// The kgqa page: a chat with streamed answers, the cited subgraph (cytoscape), feedback and sources.
// No build step; every text from the server goes into the page through textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("kgqa-token") || "", session: null, cy: null, answers: new Map(),
                scope: null, polling: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "on") Object.entries(value).forEach(([ev, fn]) => node.addEventListener(ev, fn));
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function button(label, onClick, attrs = {}) {
  return el("button", { type: "button", ...attrs, on: { click: onClick } }, label);
}

// --- the API, with the token asked for once and kept in session storage -------------------------
async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    askToken("This server needs an access token.");
    throw new Error("a token is needed");
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = JSON.stringify((await response.json()).detail); } catch (e) { /* not JSON */ }
    throw new Error(`${response.status}: ${detail}`);
  }
  return response;
}

function askToken(message) {
  $("token-form").hidden = false;
  $("token-error").textContent = message || "";
  $("token-input").focus();
}

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.token = $("token-input").value.trim();
  sessionStorage.setItem("kgqa-token", state.token);
  $("token-input").value = "";
  $("token-form").hidden = true;
  await start();
});
$("set-token").addEventListener("click", () => askToken(""));

// --- start: who am I, the KB's size, a new session ------------------------------------------------
async function start() {
  try {
    const me = await (await api("/v1/whoami")).json();
    state.scope = me.scope;
    $("tab-sources").hidden = me.scope !== "admin";
    const stats = await (await api("/v1/stats")).json();
    $("kb-stats").textContent = `${stats.triples} triples, ${stats.entities} entities, ${stats.sources} sources`;
    await newSession();
  } catch (error) {
    $("kb-stats").textContent = String(error.message || error);
  }
}

async function newSession() {
  state.session = (await (await api("/v1/sessions", { method: "POST" })).json()).id;
  $("log").replaceChildren();
  drawGraph(null);
}
$("new-chat").addEventListener("click", () => newSession().then(() => $("question").focus()));

// --- asking, with the answer streamed as Server-Sent Events ---------------------------------------
$("ask-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("question").value.trim();
  if (text) { $("question").value = ""; say(text); }
});

async function say(text) {
  $("log").append(el("li", { class: "user" }, text));
  const item = el("li", { class: "bot", "aria-busy": "true" });
  const body = el("div", { class: "answer-text" }, "");
  item.append(body);
  $("log").append(item);
  item.scrollIntoView({ block: "end" });
  $("ask").disabled = true;
  try {
    const response = await api(`/v1/sessions/${state.session}/turns`, { method: "POST", json: { text, stream: true } });
    for await (const [kind, data] of sseEvents(response)) {
      if (kind === "piece") body.textContent += data.text;
      else if (kind === "answer") { renderAnswer(item, data); item.scrollIntoView({ block: "nearest" }); }
      else if (kind === "error") body.textContent += ` (error: ${data.detail})`;
    }
  } catch (error) {
    body.textContent = `Error: ${error.message || error}`;
  } finally {
    item.removeAttribute("aria-busy");
    $("ask").disabled = false;
  }
}

async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let kind = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) kind = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;  // an SSE comment: the server's heartbeat while it generates
      yield [kind, JSON.parse(data)];
    }
  }
}

// --- one answer: text with citation buttons, reasoning, citations, choices, feedback, graph --------
function renderAnswer(item, answer) {
  state.answers.set(answer.id, answer);
  item.dataset.answerId = answer.id;
  item.replaceChildren(textWithCitations(answer));
  if (answer.clarification) {
    item.append(el("div", { class: "row" }, ...answer.clarification.options.map((option, i) =>
      button(`${i + 1}. ${option.label}${option.facts.length ? " (" + option.facts.join("; ") + ")" : ""}`,
             () => say(String(i + 1)), { class: "choice" }))));
    return;
  }
  const path = answer.relation_path;
  if (path) {
    item.append(el("p", { class: "meta" },
      `Reasoning: ${path.topic_label} → ${path.text} (score ${path.score.toFixed(2)}); `
      + `confidence ${answer.confidence.toFixed(2)}`));
  }
  if (answer.answers.length) {
    item.append(el("div", { class: "row" }, el("span", { class: "meta" }, "Answers:"),
      ...answer.answers.slice(0, 8).map((a) => button(a.label, () => showEntity(a.id), { class: "answer-entity" }))));
  }
  const cited = new Set([...answer.cited, ...answer.answers.flatMap((a) => a.citations)]);
  const shown = answer.citations.filter((c) => cited.has(c.number));
  if (shown.length) {
    item.append(el("ol", { class: "citations", "aria-label": "citations" }, ...shown.map((c) =>
      el("li", { value: String(c.number) }, button(`[${c.number}]`, () => highlight(answer, c.number), { class: "cite" }),
         ` ${c.text} `, el("span", { class: "meta" }, `(${where(c)})`)))));
  }
  const next = el("div", { class: "row follow-ups", "aria-label": "follow-up questions" });
  item.append(next);
  suggest(answer, next);
  item.append(feedbackRow(answer), el("div", { class: "row" },
    button("Show graph", () => drawGraph(answer)),
    button("Export subgraph (Mermaid)", () => exportSubgraph(answer, "mermaid")),
    button("Export subgraph (DOT)", () => exportSubgraph(answer, "dot"))));
  drawGraph(answer);
}

// follow-ups the session resolves: "And its <relation>?" (a pronoun) and "What about <neighbour>?"
async function suggest(answer, row) {
  const path = answer.relation_path;
  if (!path) return;
  let topic;
  try { topic = await (await api(`/v1/entities/${encodeURI(path.topic)}?limit=60`)).json(); } catch (e) { return; }
  const used = new Set(path.text.split(/\s+/));
  const out = topic.edges.filter((e) => e.subject === topic.id && !used.has(e.predicate_label.split(" ")[0]));
  const relations = [...new Set(out.map((e) => e.predicate_label))]
    .filter((label) => !/ (of|in|by|code)$/.test(label)).slice(0, 2);
  const neighbour = out.find((e) => !e.object.startsWith("lit:") && e.object !== topic.id);
  const questions = relations.map((label) => `And its ${label}?`);
  if (neighbour) questions.push(`What about ${neighbour.object_label}?`);
  if (!questions.length) return;
  row.append(el("span", { class: "meta" }, "Follow up:"),
             ...questions.map((q) => button(q, () => say(q), { class: "follow-up" })));
}

function textWithCitations(answer) {
  const out = el("div", { class: "answer-text" });
  const parts = answer.text.split(/(\[[\d,\s]+\])/);
  for (const part of parts) {
    const numbers = /^\[([\d,\s]+)\]$/.exec(part);
    if (!numbers) { out.append(part); continue; }
    for (const n of numbers[1].split(",").map((x) => parseInt(x, 10)).filter((x) => !isNaN(x))) {
      out.append(button(`[${n}]`, () => highlight(answer, n), { class: "cite", "aria-label": `citation ${n}` }));
    }
  }
  return out;
}

function where(citation) {
  if (citation.kind === "path") return citation.triples.map((t) => t.line ? `${t.source}:${t.line}` : t.source).join("; ");
  return `${citation.source || "?"}${citation.offset != null ? "@" + citation.offset : citation.line ? ":" + citation.line : ""}`;
}

function feedbackRow(answer) {
  const status = el("span", { class: "meta", role: "status" });
  const correction = el("input", { type: "text", placeholder: "the right answer (optional)", "aria-label": "correction" });
  const wrong = el("span", { class: "row", hidden: "" }, correction,
    button("Send", () => send(false, correction.value.trim() || null)));
  async function send(correct, corrected) {
    try {
      await api("/v1/feedback", { method: "POST", json: { answer_id: answer.id, correct, answer: corrected } });
      status.textContent = "Thanks, feedback sent.";
      wrong.hidden = true;
    } catch (error) { status.textContent = `Feedback failed: ${error.message}`; }
  }
  return el("div", { class: "row" },
    button("✓ Right", () => send(true, null), { "aria-label": "the answer is right" }),
    button("✗ Wrong", () => { wrong.hidden = false; correction.focus(); }, { "aria-label": "the answer is wrong" }),
    wrong, status);
}

async function exportSubgraph(answer, format) {
  const text = await (await api(`/v1/answers/${answer.id}/subgraph?format=${format}`)).text();
  const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })),
                         download: `kgqa-${answer.id.slice(0, 8)}.${format === "mermaid" ? "mmd" : "dot"}` });
  document.body.append(link);
  link.click();
  link.remove();
}

// --- the cited subgraph ---------------------------------------------------------------------------
function subgraph(answer) {
  const wanted = new Set([...answer.cited, ...answer.answers.flatMap((a) => a.citations)]);
  const paths = answer.citations.filter((c) => c.kind === "path");
  const chosen = paths.filter((c) => wanted.has(c.number));
  return chosen.length ? chosen : paths;
}

function drawGraph(answer) {
  const container = $("graph");
  document.querySelectorAll("#log li.selected").forEach((li) => li.classList.remove("selected"));
  if (state.cy) { state.cy.destroy(); state.cy = null; }
  $("graph-nodes").replaceChildren();
  container.dataset.nodes = "0";
  $("graph-count").textContent = "";
  $("details").replaceChildren(el("p", { class: "muted" }, "Select a node for its description, neighbours and sources."));
  if (!answer || typeof cytoscape === "undefined") return;
  document.querySelector(`#log li[data-answer-id="${answer.id}"]`)?.classList.add("selected");
  const nodes = new Map(), edges = new Map();
  const answerIds = new Set(answer.answers.map((a) => a.id));
  const topic = answer.relation_path ? answer.relation_path.topic : null;
  for (const c of subgraph(answer)) {
    c.nodes.forEach((id, i) => { if (!nodes.has(id)) nodes.set(id, { id, label: c.labels[i] || id, cites: [] }); });
    c.nodes.forEach((id) => nodes.get(id).cites.push(c.number));
    for (const t of c.triples) {
      const key = `${t.subject}|${t.predicate}|${t.object}`;
      if (!edges.has(key)) edges.set(key, { id: "e" + edges.size, source: t.subject, target: t.object,
        label: t.predicate_label, where: t.line ? `${t.source}:${t.line}` : t.source, cites: [] });
      edges.get(key).cites.push(c.number);
      for (const end of [t.subject, t.object]) if (!nodes.has(end)) nodes.set(end, { id: end, label: end, cites: [] });
    }
  }
  const elements = [
    ...[...nodes.values()].map((n) => ({ data: { ...n, cites: n.cites.join(",") },
      classes: answerIds.has(n.id) ? "answer" : n.id === topic ? "topic" : "" })),
    ...[...edges.values()].map((e) => ({ data: { ...e, cites: e.cites.join(",") } })),
  ];
  state.cy = cytoscape({
    container, elements, wheelSensitivity: 0.3, maxZoom: 2.5,
    layout: { name: "breadthfirst", directed: true, padding: 20, spacingFactor: 1.1 },
    style: [
      { selector: "node", style: { label: "data(label)", "font-size": 11, "background-color": "#8aa1c1",
        "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22 } },
      { selector: "node.answer", style: { "background-color": "#1b7f4b", shape: "round-rectangle" } },
      { selector: "node.topic", style: { "background-color": "#1f5fbf", shape: "diamond" } },
      { selector: "edge", style: { label: "data(label)", "font-size": 9, "curve-style": "bezier",
        "target-arrow-shape": "triangle", width: 1.5, "line-color": "#aab4c3", "target-arrow-color": "#aab4c3",
        "text-rotation": "autorotate", "text-background-color": "#fff", "text-background-opacity": 0.8 } },
      { selector: "node.hl", style: { "background-color": "#d9480f", "border-width": 2, "border-color": "#7a2600" } },
      { selector: "edge.hl", style: { "line-color": "#d9480f", "target-arrow-color": "#d9480f", width: 3 } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#d9480f" } },
    ],
  });
  state.cy.on("tap", "node", (event) => showEntity(event.target.id()));
  state.cy.on("tap", "edge", (event) => showEdge(event.target.data()));
  container.dataset.nodes = String(nodes.size);
  $("graph-count").textContent = `(${nodes.size} nodes, ${edges.size} edges, answer ${answer.id.slice(0, 8)})`;
  // the canvas cannot take keyboard focus: every node is also a button
  $("graph-nodes").replaceChildren(...[...nodes.values()].map((n) =>
    button(n.label, () => { state.cy.$(":selected").unselect(); state.cy.getElementById(n.id).select(); showEntity(n.id); },
           { class: "node-button" })));
}

function highlight(answer, number) {
  if (!state.cy || $("graph-count").textContent.indexOf(answer.id.slice(0, 8)) < 0) drawGraph(answer);
  if (!state.cy) return;
  state.cy.elements().removeClass("hl");
  state.cy.elements().filter((e) => String(e.data("cites") || "").split(",").includes(String(number))).addClass("hl");
  const c = answer.citations.find((x) => x.number === number);
  if (c && c.kind === "passage") {
    $("details").replaceChildren(el("h3", {}, `[${number}] passage`), el("p", {}, c.text), el("p", { class: "meta" }, where(c)));
  }
}

function showEdge(edge) {
  $("details").replaceChildren(el("h3", {}, edge.label), el("p", {}, `${edge.source} → ${edge.target}`),
    el("p", { class: "meta" }, `source ${edge.where}; citations ${edge.cites}`));
}

async function showEntity(id) {
  const details = $("details");
  details.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  try {
    const entity = await (await api(`/v1/entities/${encodeURI(id)}`)).json();
    const list = el("ul", { "aria-label": "neighbours" }, ...entity.edges.map((e) => el("li", {},
      `${e.subject_label} —${e.predicate_label}→ ${e.object_label} `, el("span", { class: "meta" },
      `[${e.line ? e.source + ":" + e.line : e.source}]`))));
    details.replaceChildren(el("h3", {}, entity.label), el("p", {}, entity.description || "(no description)"),
      el("p", { class: "meta" }, entity.id), list);
  } catch (error) {
    details.replaceChildren(el("p", { class: "error" }, String(error.message || error)));
  }
}

// --- the search box: the linker's candidates for a name --------------------------------------------
$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = $("search").value.trim();
  const out = $("search-results");
  if (!q) return;
  try {
    const found = await (await api(`/v1/search?q=${encodeURIComponent(q)}`)).json();
    const candidates = found.mentions.flatMap((m) => m.candidates);
    out.replaceChildren(...(candidates.length ? candidates.slice(0, 8).map((c) =>
      button(c.description ? `${c.label} (${c.description})` : c.label, () => showEntity(c.id), { class: "candidate" }))
      : [el("span", { class: "meta" }, `No entity found for "${q}".`)]));
  } catch (error) { out.replaceChildren(el("span", { class: "error" }, String(error.message || error))); }
});

// --- sources (admin) ------------------------------------------------------------------------------
function view(name) {
  $("chat-view").hidden = name !== "chat";
  $("sources-view").hidden = name !== "sources";
  $("tab-chat").setAttribute("aria-pressed", String(name === "chat"));
  $("tab-sources").setAttribute("aria-pressed", String(name === "sources"));
  if (name === "sources") loadSources();
}
$("tab-chat").addEventListener("click", () => view("chat"));
$("tab-sources").addEventListener("click", () => view("sources"));

async function loadSources() {
  const data = await (await api("/v1/sources")).json();
  $("source-rows").replaceChildren(...data.sources.map((s) => el("tr", {},
    el("td", {}, s.name), el("td", {}, s.format), el("td", {}, String(s.triples)), el("td", {}, s.state),
    el("td", {}, s.path), el("td", {}, button("Remove", () => sourceJob("DELETE", s.path), { "aria-label": `remove ${s.name}` })))));
  $("jobs").replaceChildren(...data.jobs.slice().reverse().map((j) => el("li", {},
    `${j.action} ${j.path}: ${j.state} (${j.elapsed.toFixed(1)} s)`
    + (j.report ? ` +${j.report.added} -${j.report.removed} triples` : "") + (j.error ? ` - ${j.error}` : ""))));
  const running = data.jobs.some((j) => j.state === "queued" || j.state === "running");
  clearTimeout(state.polling);
  if (running && !$("sources-view").hidden) state.polling = setTimeout(loadSources, 700);
}

async function sourceJob(method, path) {
  try {
    if (method === "POST") await api("/v1/sources", { method, json: { path } });
    else await api(`/v1/sources?path=${encodeURIComponent(path)}`, { method });
  } catch (error) { $("jobs").prepend(el("li", { class: "error" }, String(error.message))); }
  loadSources();
}
$("source-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const path = $("source-path").value.trim();
  if (path) sourceJob("POST", path);
});

start();
