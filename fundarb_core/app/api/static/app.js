// fundarb dashboard: plain JavaScript, no dependencies, nothing loaded from elsewhere.
"use strict";

const view = document.getElementById("view");
const state = { token: localStorage.getItem("fundarb.token") || "", route: "", refreshTimer: null, events: [],
  positions: { sort: "created_at", order: "desc", status: "all", offset: 0, limit: 50 } };

// -- helpers ---------------------------------------------------------------------------------------------------

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function num(x) { return x === null || x === undefined || x === "" ? null : Number(x); }
function money(x, sign = true) {
  const v = num(x);
  if (v === null || Number.isNaN(v)) return "–";
  const s = Math.abs(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return (v < 0 ? "−" : sign && v > 0 ? "+" : "") + s;
}
function cls(x) { const v = num(x); return v === null || v === 0 ? "" : v > 0 ? "pos" : "neg"; }
function pct(x, digits = 1) { const v = num(x); return v === null ? "–" : (v * 100).toFixed(digits) + "%"; }
function price(x) {
  const v = num(x);
  if (v === null) return "–";
  const digits = Math.abs(v) >= 1000 ? 2 : Math.abs(v) >= 1 ? 4 : 6;
  return v.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: digits });
}
function qty(x) { return x === null || x === undefined ? "–" : esc(String(x).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "")); }
function when(iso) { return iso ? iso.replace("T", " ").replace(/(:\d\d)(\.\d+)?(\+00:00|Z)$/, "$1") : "–"; }
function short(id) { return id ? esc(String(id).slice(0, 8)) : "–"; }
function notice(text, ok = false) {
  const el = document.getElementById("notice");
  el.textContent = text; el.hidden = !text; el.className = ok ? "ok" : "";
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch("/api" + path, { method: options.method || "GET", headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(typeof data.detail === "string" ? data.detail : response.status + " " + response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

async function act(path, body, done) {
  try {
    await api(path, { method: "POST", body: body || {} });
    notice(done, true);
    refresh();
  } catch (err) {
    notice((err.status === 401 ? "Enter a token: " : err.status === 403 ? "Not allowed: " : "") + err.message);
  }
}

// -- the equity chart (SVG) ------------------------------------------------------------------------------------

function chart(points) {
  if (points.length < 2) return '<p class="muted">No closed position yet: the curve starts with the first close.</p>';
  const W = 900, H = 260, L = 64, R = 12, T = 12, B = 28;
  const xs = points.map((p) => Date.parse(p.at));
  const series = { net: points.map((p) => num(p.net)), funding: points.map((p) => num(p.funding)),
    price: points.map((p) => num(p.price)), fees: points.map((p) => -num(p.fees)) };
  const all = Object.values(series).flat().concat([0]);
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi === lo) { hi += 1; lo -= 1; }
  const x0 = Math.min(...xs), x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  const X = (t) => L + ((t - x0) / (x1 - x0)) * (W - L - R);
  const Y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const path = (vals) => vals.map((v, i) => (i ? "H" + X(xs[i]).toFixed(1) + "V" : "M" + X(xs[i]).toFixed(1) + ",") + Y(v).toFixed(1)).join("");
  const colors = { net: "#4aa3ff", funding: "#b07cff", price: "#3fb872", fees: "#ff9a52" };
  const ticks = [lo, (lo + hi) / 2, hi].map((v) => `<line class="axis" x1="${L}" x2="${W - R}" y1="${Y(v)}" y2="${Y(v)}"/>` +
    `<text x="${L - 6}" y="${Y(v) + 4}" text-anchor="end">${esc(money(v, false))}</text>`).join("");
  const lines = Object.entries(series).map(([k, vals]) =>
    `<path d="${path(vals)}" fill="none" stroke="${colors[k]}" stroke-width="${k === "net" ? 2.5 : 1.5}"/>`).join("");
  const n = points.length - 1;
  const now = `<circle cx="${X(xs[n]).toFixed(1)}" cy="${Y(series.net[n]).toFixed(1)}" r="4" fill="${colors.net}"/>`;
  const first = new Date(x0).toISOString().slice(0, 16).replace("T", " "), last = new Date(x1).toISOString().slice(0, 16).replace("T", " ");
  return `<div class="chart"><svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="equity curve">${ticks}
    <line class="axis" x1="${L}" x2="${W - R}" y1="${Y(0)}" y2="${Y(0)}" stroke-dasharray="3 3"/>${lines}${now}
    <text x="${L}" y="${H - 8}">${first}</text><text x="${W - R}" y="${H - 8}" text-anchor="end">${last}</text></svg>
    <div class="legend"><span><i class="l-net"></i>net (USD)</span><span><i class="l-funding"></i>funding</span>
    <span><i class="l-price"></i>price PnL</span><span><i class="l-fees"></i>fees (paid)</span><span>● now, with the open positions' unrealised PnL</span></div></div>`;
}

// -- tables ----------------------------------------------------------------------------------------------------

function positionTable(items, sortable) {
  const cols = [["symbol", "symbol", true], ["status", "status", true], ["pair", "long / short", false],
    ["notional_usd", "notional", true, "num"], ["price", "price PnL", false, "num"], ["funding", "funding", false, "num"],
    ["fees", "fees", false, "num"], ["realized_pnl", "net", true, "num"], ["liq", "liq. distance", false, "num"],
    ["created_at", "opened", true]];
  const s = state.positions;
  const head = cols.map(([key, label, canSort, c]) => {
    const on = sortable && canSort;
    const sorted = on && s.sort === key ? " sorted" + (s.order === "asc" ? " asc" : "") : "";
    return `<th class="${c || ""}${on ? " sortable" : ""}${sorted}" ${on ? `data-sort="${key}"` : ""}>${label}</th>`;
  }).join("");
  const rows = items.map((p) => {
    const liq = num(p.liquidation_distance);
    return `<tr class="link" data-position="${esc(p.id)}">
      <td><b>${esc(p.symbol)}</b></td><td>${esc(p.status)}</td><td>${esc(p.long_venue)} / ${esc(p.short_venue)}</td>
      <td class="num">${money(p.notional_usd, false)}</td>
      <td class="num ${cls(p.pnl.price)}">${money(p.pnl.price)}</td><td class="num ${cls(p.pnl.funding)}">${money(p.pnl.funding)}</td>
      <td class="num">${money(p.pnl.fees, false)}</td><td class="num ${cls(p.pnl.net)}"><b>${money(p.pnl.net)}</b></td>
      <td class="num ${liq !== null && liq < 0.2 ? "warn" : ""}">${pct(p.liquidation_distance)}</td><td>${when(p.opened_at || p.created_at)}</td></tr>`;
  }).join("");
  return `<table class="positions"><thead><tr>${head}</tr></thead><tbody>${rows ||
    `<tr><td colspan="${cols.length}" class="muted">none</td></tr>`}</tbody></table>`;
}

function eventItem(e, fresh) {
  const d = e.data || {};
  const net = d.net === undefined || d.net === null ? null : "net " + money(d.net) + " USD";
  const what = [d.symbol, d.command, d.alert, d.action_type, d.reason, net].filter((x) => x !== undefined && x !== null).join(" · ");
  return `<li class="${fresh ? "fresh" : ""}" data-event="${esc(e.id)}"><span class="at">${when(e.at)}</span>` +
    `<span class="kind">${esc(e.kind)}</span><span>${esc(what)}</span></li>`;
}

// -- pages -----------------------------------------------------------------------------------------------------

const pages = {
  async overview() {
    const [bot, pnl, open, events] = await Promise.all([api("/state"), api("/pnl"),
      api("/positions?status=open&limit=100"), api("/events?limit=20")]);
    state.events = events.items;
    const s = pnl.summary;
    const card = (label, value, c = "") => `<div class="card"><div class="label">${label}</div><div class="value ${c}">${value}</div></div>`;
    const pending = bot.pending_commands.map((c) => esc(c.command)).join(", ");
    return `<h1>Overview</h1>
    <div class="grid">
      <section class="panel" id="bot"><h2>Bot</h2>
        <span class="state ${esc(bot.state)}" id="bot-state">${esc(bot.state)}</span>
        ${pending ? `<span class="badge">pending: ${pending}</span>` : ""}
        <div class="controls">
          <button class="pause" data-control="pause">Pause</button>
          <button class="resume" data-control="resume">Resume</button>
          <button class="halt" data-control="halt">Halt</button>
        </div>
        <dl class="facts"><dt>lease</dt><dd>${bot.lease ? esc(bot.lease.owner) : "none (no bot running)"}</dd>
          <dt>last scan</dt><dd>${when(bot.last_scan_at)}</dd><dt>last event</dt><dd>${when(bot.last_event_at)}</dd></dl>
      </section>
      <section class="panel"><h2>PnL (USD)</h2><div class="cards">
        ${card("net realised", money(s.realised_net), cls(s.realised_net))}${card("funding", money(s.funding), cls(s.funding))}
        ${card("price", money(s.price), cls(s.price))}${card("fees", money(s.fees, false))}
        ${card("unrealised (open)", money(s.unrealised), cls(s.unrealised))}${card("open / closed", `${s.open} / ${s.closed}`)}
      </div></section>
    </div>
    <section class="panel"><h2>Equity: cumulative PnL with funding, price and fees</h2>${chart(pnl.points)}</section>
    <section class="panel"><h2>Open positions (${open.total})</h2>${positionTable(open.items, false)}</section>
    <section class="panel"><h2>Recent events</h2><ul class="events" id="events">${events.items.map((e) => eventItem(e)).join("")}</ul></section>`;
  },

  async positions() {
    const s = state.positions;
    const q = `?status=${s.status}&sort=${s.sort}&order=${s.order}&limit=${s.limit}&offset=${s.offset}`;
    const page = await api("/positions" + q);
    const options = ["all", "open", "closed", "opening", "closing", "close_failed", "failed"]
      .map((o) => `<option ${o === s.status ? "selected" : ""}>${o}</option>`).join("");
    const last = Math.min(s.offset + s.limit, page.total);
    return `<h1>Positions</h1><div class="toolbar"><label>status <select id="status-filter">${options}</select></label>
      <span class="muted">${page.total ? s.offset + 1 : 0}–${last} of ${page.total}</span>
      <button id="prev" ${s.offset === 0 ? "disabled" : ""}>← Previous</button><button id="next" ${last >= page.total ? "disabled" : ""}>Next →</button></div>
      <section class="panel">${positionTable(page.items, true)}</section>`;
  },

  async position(id) {
    const p = await api("/positions/" + encodeURIComponent(id));
    const legs = p.legs.map((l) => `<tr><td>${esc(l.venue)}</td><td>${esc(l.side)}</td><td class="num">${qty(l.quantity)}</td>
      <td class="num">${qty(l.filled_quantity)}</td><td class="num">${price(l.entry_price)}</td><td class="num">${price(l.mark_price)}</td>
      <td class="num">${price(l.exit_price)}</td><td class="num">${pct(p.liquidation_distance_by_venue[l.venue])}</td></tr>`).join("");
    const orders = p.orders.map((o) => `<tr><td>${when(o.created_at)}</td><td>${esc(o.venue)}</td><td>${esc(o.side)}</td>
      <td>${esc(o.order_type)} ${esc(o.time_in_force)}${o.reduce_only ? " reduce-only" : ""}</td><td class="num">${qty(o.quantity)}</td>
      <td class="num">${price(o.price)}</td><td>${esc(o.status || "intent")}</td><td class="num">${qty(o.filled_quantity)}</td>
      <td class="num">${price(o.avg_price)}</td><td class="num">${esc(money(o.fees, false))}</td></tr>`).join("");
    const funding = p.funding_payments.map((f) => `<tr><td>${when(f.at)}</td><td>${esc(f.venue)}</td><td class="num ${cls(f.amount)}">${money(f.amount)}</td></tr>`).join("");
    const open = ["open", "close_failed"].includes(p.status);
    return `<h1>${esc(p.symbol)} <span class="badge">${esc(p.status)}</span> <span class="muted">${esc(p.id)}</span></h1>
      <div class="grid"><section class="panel"><h2>PnL (USD${p.pnl.realised ? ", realised" : ", at the last marks"})</h2>
        <dl class="facts"><dt>price</dt><dd class="${cls(p.pnl.price)}">${money(p.pnl.price)}</dd><dt>funding</dt><dd class="${cls(p.pnl.funding)}">${money(p.pnl.funding)}</dd>
        <dt>fees</dt><dd>${money(p.pnl.fees, false)}</dd><dt>net</dt><dd class="${cls(p.pnl.net)}"><b>${money(p.pnl.net)}</b></dd></dl></section>
        <section class="panel"><h2>Position</h2><dl class="facts"><dt>long / short</dt><dd>${esc(p.long_venue)} / ${esc(p.short_venue)}</dd>
        <dt>notional</dt><dd>${money(p.notional_usd, false)} USD</dd><dt>entry APR</dt><dd>${pct(p.net_apr_at_entry)}</dd>
        <dt>opened</dt><dd>${when(p.opened_at)}</dd><dt>closed</dt><dd>${when(p.closed_at)} ${esc(p.exit_reason || "")}</dd></dl>
        ${open ? `<div class="controls"><button class="danger" id="close-position">Close position</button></div>` : ""}</section></div>
      <section class="panel"><h2>Legs</h2><table><thead><tr><th>venue</th><th>side</th><th class="num">quantity</th><th class="num">filled</th>
        <th class="num">entry</th><th class="num">mark</th><th class="num">exit</th><th class="num">liq. distance</th></tr></thead><tbody>${legs}</tbody></table></section>
      <section class="panel"><h2>Orders</h2><table><thead><tr><th>at</th><th>venue</th><th>side</th><th>type</th><th class="num">qty</th>
        <th class="num">price</th><th>status</th><th class="num">filled</th><th class="num">avg</th><th class="num">fees</th></tr></thead>
        <tbody>${orders || '<tr><td colspan="10" class="muted">none</td></tr>'}</tbody></table></section>
      <section class="panel"><h2>Funding payments</h2><table><thead><tr><th>at</th><th>venue</th><th class="num">amount</th></tr></thead>
        <tbody>${funding || '<tr><td colspan="3" class="muted">none yet</td></tr>'}</tbody></table></section>
      <section class="panel"><h2>Events</h2><ul class="events">${p.events.map((e) => eventItem(e)).join("")}</ul></section>`;
  },

  async opportunities() {
    const scan = await api("/opportunities");
    const rows = scan.items.map((o) => `<tr><td><b>${esc(o.symbol)}</b></td><td>${esc(o.long_venue)}</td><td>${esc(o.short_venue)}</td>
      <td class="num ${cls(o.net_apr)}"><b>${pct(o.net_apr)}</b></td><td class="num">${pct(o.gross_apr)}</td><td class="num">${pct(o.cost, 3)}</td>
      <td class="num">${o.breakeven_hours === null ? "–" : num(o.breakeven_hours).toFixed(1) + " h"}</td><td class="num">${pct(o.price_gap, 3)}</td></tr>`).join("");
    return `<h1>Opportunities</h1><p class="muted">The bot's last scan: ${when(scan.at)}. Cost is the round-trip fee rate;
      breakeven is how long the spread takes to pay it.</p><section class="panel"><table><thead><tr><th>symbol</th><th>long</th><th>short</th>
      <th class="num">net APR</th><th class="num">gross APR</th><th class="num">cost</th><th class="num">breakeven</th><th class="num">price gap</th></tr></thead>
      <tbody>${rows || '<tr><td colspan="8" class="muted">no scan yet</td></tr>'}</tbody></table></section>`;
  },

  async actions() {
    const [actions, transfers] = await Promise.all([api("/actions?limit=200"), api("/transfers?limit=100")]);
    const rows = actions.items.map((a) => `<tr data-action="${esc(a.id)}"><td>${short(a.plan_id)}.${esc(a.seq)}</td><td>${esc(a.action_type)}</td>
      <td><span class="badge">${esc(a.status)}</span></td><td>${a.position_id ? `<a href="#/positions/${esc(a.position_id)}">${short(a.position_id)}</a>` : "–"}</td>
      <td>${esc(a.reason || "")}</td><td class="num">${esc(a.attempts)}</td><td>${esc(a.error || "")}</td><td>
      ${a.can_approve ? `<button class="approve" data-approve="${esc(a.id)}">Approve</button>` : ""}
      ${a.can_cancel ? `<button class="danger" data-cancel="${esc(a.id)}">Cancel</button>` : ""}</td></tr>`).join("");
    const trows = transfers.items.map((t) => `<tr><td>${when(t.created_at)}</td><td>${esc(t.route)}</td><td>${esc(t.from_venue)} → ${esc(t.to_venue)}</td>
      <td class="num">${money(t.amount, false)} ${esc(t.asset)}</td><td><span class="badge">${esc(t.state)}</span></td><td>${esc(t.error || "")}</td></tr>`).join("");
    return `<h1>Actions &amp; transfers</h1><section class="panel"><h2>Plan actions</h2><table><thead><tr><th>action</th><th>type</th><th>status</th>
      <th>position</th><th>reason</th><th class="num">attempts</th><th>error</th><th></th></tr></thead>
      <tbody>${rows || '<tr><td colspan="8" class="muted">no actions</td></tr>'}</tbody></table></section>
      <section class="panel"><h2>Transfers</h2><table><thead><tr><th>created</th><th>route</th><th>venues</th><th class="num">amount</th><th>state</th><th>error</th></tr></thead>
      <tbody>${trows || '<tr><td colspan="6" class="muted">no transfers</td></tr>'}</tbody></table></section>`;
  },

  async events() {
    const events = await api("/events?limit=200");
    state.events = events.items;
    return `<h1>Events</h1><p class="muted">Live: new events appear at the top as the bot records them.</p>
      <section class="panel"><ul class="events" id="events">${events.items.map((e) => eventItem(e)).join("")}</ul></section>`;
  },
};

// -- routing, refresh, live stream -----------------------------------------------------------------------------

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "positions" && parts[1]) return ["position", decodeURIComponent(parts[1])];
  return [pages[parts[0]] ? parts[0] : "overview", null];
}

async function render() {
  const [name, arg] = parseRoute();
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.route === (name === "position" ? "positions" : name)));
  try {
    const html = await pages[name](arg);
    if (parseRoute()[0] === name) { view.innerHTML = html; view.dataset.page = name; }
  } catch (err) {
    view.innerHTML = err.status === 401
      ? '<h1>Token needed</h1><p class="muted">This server needs an API token: enter it at the top right.</p>'
      : `<h1>Could not load</h1><p class="neg">${esc(err.message)}</p>`;
  }
}

function refresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(render, 150);
}

function onEvent(e) {
  const list = document.getElementById("events");
  if (list && !list.querySelector(`[data-event="${e.id}"]`)) {
    list.insertAdjacentHTML("afterbegin", eventItem(e, true));
    while (list.children.length > 200) list.lastElementChild.remove();
  }
  if (view.dataset.page !== "events") refresh();
}

async function stream() {
  // fetch, not EventSource: EventSource cannot send the Authorization header, and a token in a URL would be logged.
  const live = document.getElementById("live");
  for (;;) {
    try {
      const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
      const response = await fetch("/api/events/stream", { headers, cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      live.textContent = "live"; live.className = "live on";
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch (err) { /* reconnect below */ }
    live.textContent = "offline"; live.className = "live off";
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

view.addEventListener("click", (ev) => {
  const t = ev.target.closest("[data-control],[data-approve],[data-cancel],[data-sort],[data-position],#close-position,#prev,#next");
  if (!t) return;
  const s = state.positions;
  if (t.dataset.control === "halt" && !confirm("Halt the bot? It stops after its current tick; restart it with fundarb run.")) return;
  if (t.dataset.control) act("/control/" + t.dataset.control, {}, `${t.dataset.control}: sent; the bot applies it at its next tick`);
  else if (t.dataset.approve) act(`/actions/${encodeURIComponent(t.dataset.approve)}/approve`, undefined, "approved; the bot carries the plan on");
  else if (t.dataset.cancel) act(`/actions/${encodeURIComponent(t.dataset.cancel)}/cancel`, {}, "cancelled");
  else if (t.id === "close-position") {
    const id = parseRoute()[1];
    if (confirm("Close this position now?")) act(`/positions/${encodeURIComponent(id)}/close`, undefined, "close queued; the bot closes it at its next tick");
  } else if (t.dataset.sort) {
    s.order = s.sort === t.dataset.sort && s.order === "desc" ? "asc" : "desc"; s.sort = t.dataset.sort; s.offset = 0; render();
  } else if (t.id === "prev") { s.offset = Math.max(0, s.offset - s.limit); render(); }
  else if (t.id === "next") { s.offset += s.limit; render(); }
  else if (t.dataset.position) location.hash = "#/positions/" + encodeURIComponent(t.dataset.position);
});
view.addEventListener("change", (ev) => {
  if (ev.target.id === "status-filter") { state.positions.status = ev.target.value; state.positions.offset = 0; render(); }
});
document.getElementById("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = document.getElementById("token");
  state.token = input.value.trim(); input.value = "";
  if (state.token) localStorage.setItem("fundarb.token", state.token); else localStorage.removeItem("fundarb.token");
  notice(state.token ? "token saved in this browser" : "token cleared", true);
  render();
});
window.addEventListener("hashchange", () => { notice(""); render(); });
setInterval(() => { if (!document.hidden && view.dataset.page !== "events") render(); }, 5000);  // marks move without events
render();
stream();
