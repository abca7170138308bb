// The ops dashboard page: polls /api/overview every 2 s and renders it; inspects and replays
// dead letters. Builds the DOM with textContent only: reasons and headers come from the broker.
// Every /api/ call carries the operator's bearer token, kept in this tab's sessionStorage; the
// page asks for one when it has none or the API refuses it (401), and says why on a 403.
"use strict";

const REFRESH_MS = 2000;
const TOKEN_KEY = "hearth.dashboard.token";
let refreshTimer = null;

function currentToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function showAuthMessage(text) {
  const message = document.getElementById("auth-message");
  message.textContent = text || "";
  message.hidden = !text;
}

// Shows the token form (with why, when there is a reason) and stops polling until a token comes.
function askForToken(reason) {
  clearTimeout(refreshTimer);
  showAuthMessage(reason);
  document.getElementById("sign-in").hidden = false;
  document.getElementById("ops").hidden = true;
  document.getElementById("forget-token").hidden = !currentToken();
  document.getElementById("refreshed").textContent = "waiting for an access token";
  document.getElementById("token-input").focus();
}

function useToken(token) {
  const cleaned = token.trim().replace(/^Bearer\s+/i, "");
  if (!cleaned) return;
  sessionStorage.setItem(TOKEN_KEY, cleaned);
  showAuthMessage("");
  document.getElementById("token-input").value = "";
  document.getElementById("sign-in").hidden = true;
  document.getElementById("ops").hidden = false;
  document.getElementById("forget-token").hidden = false;
  document.getElementById("refreshed").textContent = "connecting…";
  scheduleRefresh(0);
}

// A link such as http://127.0.0.1:8000/#token=... hands the page a token once; it leaves the
// address bar (and so the history) at once.
function takeTokenFromFragment() {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (token === null) return false;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  useToken(token);
  return true;
}

// fetch with the token. A 401 means the token is missing, expired or not trusted: ask for
// another and throw; other answers go back to the caller with their body.
async function api(path, options) {
  const token = currentToken();
  if (!token) {
    askForToken("");
    throw new Error("no access token");
  }
  const headers = { ...(options && options.headers), authorization: `Bearer ${token}` };
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 && currentToken() === token) {
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken(`The access token was refused (${body.message || "HTTP 401"}): paste a new one.`);
    throw new Error("access token refused");
  }
  return { response, body, token };
}

function refusal(response, body) {
  const reason = body.message || `HTTP ${response.status}`;
  return response.status === 403 ? `not allowed with this token: ${reason}` : reason;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else if (k === "onclick") node.addEventListener("click", v);
    else node[k] = v;
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function count(n) {
  return n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en-US");
}

function rate(r) {
  if (r === null || r === undefined) return "…";
  return r >= 100 ? Math.round(r).toLocaleString("en-US") : r.toFixed(r >= 10 ? 1 : 2);
}

// Keeps the nodes that did not change, so a button under the pointer survives a refresh.
function replaceKeepingEqual(parent, nodes) {
  const old = parent.children;
  parent.replaceChildren(...nodes.map((node, i) => (old[i] && old[i].isEqualNode(node) ? old[i] : node)));
}

function replaceRows(table, rows) {
  replaceKeepingEqual(table.querySelector("tbody"), rows);
}

function renderServices(services) {
  const cards = services.map((s) =>
    el("div", { class: `card ${s.status}`, "data-service": s.name },
      el("h3", {}, s.name, el("span", { class: `status ${s.status}` }, s.status)),
      el("dl", {},
        ...Object.entries(s.checks).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
        el("dt", {}, "outbox backlog"), el("dd", { class: "outbox" }, count(s.outbox_backlog)),
        el("dt", {}, "parked events"), el("dd", { class: "parked" }, count(s.parked)),
        el("dt", {}, "dead letters"), el("dd", { class: "dead-letters" }, count(s.dead_letters)),
      ),
      el("div", { class: "links" },
        el("a", { href: s.docs }, "/docs"),
        el("a", { href: s.openapi }, "/openapi.json"),
      ),
    ));
  replaceKeepingEqual(document.getElementById("services"), cards);
}

function renderTopics(topics) {
  replaceRows(document.getElementById("topics"), topics.map((t) =>
    el("tr", { "data-topic": t.topic },
      el("td", {}, t.topic),
      el("td", { class: "num produced" }, count(t.produced)),
      el("td", { class: "num produced-rate" }, rate(t.produced_rate)),
      el("td", { class: "num consumed" }, count(t.consumed)),
      el("td", { class: "num consumed-rate" }, rate(t.consumed_rate)),
    )));
}

function renderGroups(groups) {
  const rows = groups.flatMap((g) => g.topics.map((t) =>
    el("tr", { "data-group": g.group, "data-topic": t.topic },
      el("td", {}, g.group),
      el("td", {}, t.topic),
      el("td", { class: `num lag${t.lag > 0 ? " hot" : ""}` }, count(t.lag)),
      el("td", { class: "num consumed-rate" }, rate(t.consumed_rate)),
      el("td", { class: "outcomes" },
        Object.entries(t.outcomes).map(([k, v]) => `${k} ${count(v)}`).join(", ")),
    )));
  replaceRows(document.getElementById("groups"), rows);
}

function renderDeadLetterCounts(services) {
  replaceRows(document.getElementById("dead-letter-counts"), services.map((s) =>
    el("tr", { "data-service": s.name },
      el("td", {}, s.name),
      el("td", { class: `num count${s.dead_letters > 0 ? " hot" : ""}` }, count(s.dead_letters)),
      el("td", {}, Object.entries(s.dead_letters_by_kind).map(([k, v]) => `${k} ${count(v)}`).join(", ")),
      el("td", {}, el("button", { class: "inspect", onclick: () => inspect(s.name) }, "Inspect")),
    )));
}

function scheduleRefresh(ms) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, ms);
}

async function refresh() {
  let call;
  try {
    call = await api("/api/overview");
  } catch (error) {
    // No token, or it was refused: askForToken stopped polling and waits for a new one.
    if (currentToken()) {
      document.getElementById("refreshed").textContent = `dashboard unreachable: ${error.message}`;
      scheduleRefresh(REFRESH_MS);
    }
    return;
  }
  const { response, body: overview, token } = call;
  if (token !== currentToken()) return; // answered for a token since replaced
  if (response.status === 403) {
    askForToken(`This token may not read operations data (${overview.message}): paste one granting ops:read.`);
    return;
  }
  try {
    if (!response.ok) throw new Error(overview.message || `HTTP ${response.status}`);
    renderServices(overview.services);
    renderTopics(overview.topics);
    renderGroups(overview.groups);
    renderDeadLetterCounts(overview.services);
    document.getElementById("rate-window").textContent =
      `(rates: events/s over the last ${overview.rate_window_s} s)`;
    document.getElementById("refreshed").textContent =
      `live, updated ${new Date().toLocaleTimeString("en-GB")}`;
  } catch (error) {
    document.getElementById("refreshed").textContent = `dashboard unreachable: ${error.message}`;
  }
  scheduleRefresh(REFRESH_MS);
}

async function inspect(service) {
  const panel = document.getElementById("inspect");
  panel.hidden = false;
  panel.dataset.service = service;
  document.getElementById("inspect-service").textContent = service;
  document.getElementById("inspect-note").textContent = "loading…";
  let response, body;
  try {
    ({ response, body } = await api(`/api/dead-letters/${encodeURIComponent(service)}`));
  } catch (error) {
    document.getElementById("inspect-note").textContent = error.message;
    return;
  }
  if (!response.ok) {
    document.getElementById("inspect-note").textContent = refusal(response, body);
    replaceRows(document.getElementById("dead-letters"), []);
    return;
  }
  document.getElementById("inspect-note").textContent =
    `${body.records.length} newest on ${body.topic}${body.truncated ? " (older ones not shown)" : ""}`;
  replaceRows(document.getElementById("dead-letters"), body.records.map((d) =>
    el("tr", { class: "dead-letter", "data-partition": d.partition, "data-offset": d.offset },
      el("td", {}, `${d.partition}/${d.offset}`),
      el("td", {}, d.dead_lettered_at),
      el("td", { class: "kind" }, d.kind),
      el("td", { class: "reason" }, d.reason),
      el("td", { class: "from" },
        d.original_topic ? `${d.original_topic} ${d.original_partition}/${d.original_offset}` : "–"),
      el("td", {}, d.group),
      el("td", {}, d.ce_type),
      el("td", {}, d.ce_source || d.ce_id ? `${d.ce_source || "–"} / ${d.ce_id || "–"}` : "–"),
      el("td", {}, el("button", {
        class: "replay", onclick: () => replayDeadLetter(service, d.partition, d.offset),
      }, "Replay")),
    )));
}

async function replayDeadLetter(service, partition, offset) {
  const result = document.getElementById("replay-result");
  result.className = "";
  result.textContent = `replaying ${service}.dlq ${partition}/${offset}…`;
  let response, body;
  try {
    ({ response, body } = await api(`/api/dead-letters/${encodeURIComponent(service)}/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ partition, offset }),
    }));
  } catch (error) {
    result.className = "error";
    result.textContent = `not replayed: ${error.message}`;
    return;
  }
  result.className = response.ok ? "ok" : "error";
  result.textContent = response.ok ? body.message : `not replayed: ${refusal(response, body)}`;
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  useToken(document.getElementById("token-input").value);
});
document.getElementById("forget-token").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  askForToken("");
});
window.addEventListener("hashchange", takeTokenFromFragment);

if (!takeTokenFromFragment()) {
  if (currentToken()) useToken(currentToken());
  else askForToken("");
}
