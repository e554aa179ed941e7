// xbrd dashboard: reads the daemon's admin API with the bearer token the operator gives once
// (kept in sessionStorage, this tab only) and renders it; refreshes every REFRESH_MS.
// Figures carry their exact values in data-* attributes (amounts in base units).
"use strict";
(() => {
  const TOKEN_KEY = "xbrd.admin.token";
  const REFRESH_MS = 2000;
  const TX_PAGE = 1000;
  const TX_PAGES_MAX = 20;
  const TX_SHOWN = 20;
  const DECIMALS = 18n;
  const PALETTE = ["#3060c0", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#e67700", "#5c940d"];
  const $ = (id) => document.getElementById(id);

  class Unauthorized extends Error {}

  // ---- the API ------------------------------------------------------------------------------

  // GET `path` with the token; JSON (or text). `allow` lists statuses answered with a body that is
  // still wanted (/ready's 503); an `optional` route answering 404/409 (not this role) gives null.
  async function get(path, { text = false, optional = false, allow = [] } = {}) {
    const token = sessionStorage.getItem(TOKEN_KEY) || "";
    const resp = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
    if (resp.status === 401) throw new Unauthorized();
    if (optional && (resp.status === 404 || resp.status === 409)) return null;
    if (!resp.ok && !allow.includes(resp.status)) {
      let message = resp.statusText;
      try {
        message = (await resp.json()).error.message;
      } catch (_) { /* not an API error body */ }
      throw new Error(`${path}: ${resp.status} ${message}`);
    }
    return text ? resp.text() : resp.json();
  }

  // Every transaction, page by page (oldest first), up to TX_PAGES_MAX pages.
  async function allTransactions() {
    const items = [];
    let after = null;
    for (let page = 0; page < TX_PAGES_MAX; page++) {
      const q = after === null ? `limit=${TX_PAGE}` : `limit=${TX_PAGE}&after=${after}`;
      const p = await get(`/v1/transactions?${q}`, { optional: true });
      if (p === null) break;
      items.push(...p.items);
      if (p.next === null || p.next === undefined) break;
      after = p.next;
    }
    return items;
  }

  // ---- formatting ---------------------------------------------------------------------------

  // Base units (decimal string, 18 decimals) → "1234.5", at most 6 decimals (truncated).
  function units(s) {
    let v;
    try {
      v = BigInt(s);
    } catch (_) {
      return String(s);
    }
    const base = 10n ** DECIMALS;
    const sign = v < 0n ? "-" : "";
    if (v < 0n) v = -v;
    const frac = (v % base).toString().padStart(Number(DECIMALS), "0").slice(0, 6).replace(/0+$/, "");
    return `${sign}${v / base}${frac ? "." + frac : ""}`;
  }

  // Base units → a float of whole tokens, for charts only.
  function whole(s) {
    try {
      return Number(BigInt(s) / 10n ** 12n) / 1e6;
    } catch (_) {
      return null;
    }
  }

  const short = (id) => (id && id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id || "");
  const seconds = (s) => (s === null || !isFinite(s) ? "–" : s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);

  function cell(text, { cls, title, data } = {}) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (title) td.title = title;
    for (const [k, v] of Object.entries(data || {})) td.dataset[k] = v;
    return td;
  }

  function fill(tableId, rows) {
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren(...rows);
  }

  function row(cells, data = {}) {
    const tr = document.createElement("tr");
    tr.append(...cells);
    for (const [k, v] of Object.entries(data)) tr.dataset[k] = v;
    return tr;
  }

  const amountCell = (s, field) => cell(units(s), { cls: "num", title: `${s} base units`, data: { field, baseUnits: s } });

  // ---- Prometheus text ----------------------------------------------------------------------

  // Parses the text exposition: { types: {family: type}, samples: [{name, family, labels, value}] }.
  function parseMetrics(text) {
    const types = {};
    const samples = [];
    const sampleRe = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
    const labelRe = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (const line of text.split("\n")) {
      if (line.startsWith("# TYPE ")) {
        const [, , name, type] = line.split(/\s+/);
        types[name] = type;
        continue;
      }
      if (line.startsWith("#") || !line.trim()) continue;
      const m = sampleRe.exec(line);
      if (!m) continue;
      const labels = {};
      for (const l of (m[2] || "").matchAll(labelRe)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      const name = m[1];
      const family = [name, ...["_bucket", "_sum", "_count", "_total", "_created"].filter((s) => name.endsWith(s)).map((s) => name.slice(0, -s.length))]
        .reverse()
        .find((f) => f in types) || name;
      samples.push({ name, family, labels, value: Number(m[3]) });
    }
    return { types, samples };
  }

  const labelKey = (labels, without) =>
    Object.entries(labels)
      .filter(([k]) => k !== without)
      .map(([k, v]) => `${k}="${v}"`)
      .join(",");

  // The quantile q of a cumulative histogram [{le, count}] (linear within a bucket).
  function quantile(buckets, total, q) {
    if (!total) return null;
    const rank = q * total;
    let prevLe = 0;
    let prevCount = 0;
    for (const b of buckets) {
      if (b.count >= rank) {
        if (!isFinite(b.le)) return prevLe;
        const inBucket = b.count - prevCount;
        return inBucket ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
      }
      prevLe = b.le;
      prevCount = b.count;
    }
    return prevLe;
  }

  // Latency histograms (every histogram family but the admin API's own request latency).
  function latencies(metrics) {
    const series = new Map();
    for (const s of metrics.samples) {
      if (metrics.types[s.family] !== "histogram" || s.family.includes("admin_request")) continue;
      const labels = labelKey(s.labels, "le");
      const key = labels ? `${s.family}{${labels}}` : s.family;
      if (!series.has(key)) series.set(key, { key, buckets: [], sum: 0, count: 0 });
      const h = series.get(key);
      if (s.name.endsWith("_bucket")) h.buckets.push({ le: s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), count: s.value });
      else if (s.name.endsWith("_sum")) h.sum = s.value;
      else if (s.name.endsWith("_count")) h.count = s.value;
    }
    return [...series.values()].map((h) => {
      h.buckets.sort((a, b) => a.le - b.le);
      return { ...h, p50: quantile(h.buckets, h.count, 0.5), p95: quantile(h.buckets, h.count, 0.95) };
    });
  }

  // Counters labelled with an error URI, largest first (families absent on older daemons: none).
  function errorCounters(metrics) {
    return metrics.samples
      .filter((s) => "uri" in s.labels && metrics.types[s.family] === "counter" && !s.name.endsWith("_created"))
      .sort((a, b) => b.value - a.value);
  }

  // ---- rendering ----------------------------------------------------------------------------

  function renderStatus(status) {
    const role = $("status-role");
    role.textContent = status.role;
    role.dataset.role = status.role;
    const chain = status.chain || {};
    const session = status.session ? `session ${status.session.session_id} on ${status.session.realm}` : "no WAMP session";
    const block = chain.reachable ? `chain ${chain.chain_id} at block ${chain.block}` : `chain unreachable${chain.error ? ": " + chain.error : ""}`;
    $("status-line").textContent = `v${status.version} · up ${status.uptime_secs} s · ${session} · ${block}`;
  }

  function renderReady(ready) {
    const badge = $("ready");
    badge.textContent = ready.ready ? "ready" : `not ready${ready.error ? ": " + ready.error.message : ""}`;
    badge.className = `badge ${ready.ready ? "ok" : "fail"}`;
    badge.dataset.ready = String(!!ready.ready);
    const items = Object.entries(ready.checks || {}).map(([name, ok]) => {
      const li = document.createElement("li");
      li.textContent = name.replaceAll("_", " ");
      li.className = ok ? "ok" : "fail";
      li.dataset.check = name;
      li.dataset.ok = String(ok);
      return li;
    });
    $("checks").replaceChildren(...items);
  }

  function renderChannels(channels) {
    fill(
      "channels",
      channels.map((c) =>
        row(
          [
            cell(short(c.channel_oid), { cls: "id", title: c.channel_oid }),
            cell(c.channel_type),
            cell(c.state),
            amountCell(c.amount, "amount"),
            amountCell(c.remaining, "remaining"),
            amountCell(c.inflight, "inflight"),
            cell(String(c.seq), { cls: "num", data: { field: "seq" } }),
          ],
          { channel: c.channel_oid },
        ),
      ),
    );
  }

  function renderTransactions(items) {
    const count = (kind) => items.filter((t) => t.kind === kind).length;
    $("purchases-count").textContent = String(count("purchase"));
    $("sales-count").textContent = String(count("sale"));
    const byStatus = {};
    for (const t of items) if (t.status) byStatus[t.status] = (byStatus[t.status] || 0) + 1;
    $("sales-status").textContent = Object.keys(byStatus).length
      ? `(${Object.entries(byStatus).map(([s, n]) => `${s} ${n}`).join(", ")})`
      : "";
    const shown = items.slice(-TX_SHOWN).reverse();
    fill(
      "transactions",
      shown.map((t) =>
        row(
          [
            cell(String(t.id), { cls: "num" }),
            cell(new Date(t.time_ms).toLocaleString()),
            cell(t.kind),
            cell(short(t.key_id), { cls: "id", title: t.key_id }),
            amountCell(t.amount, "amount"),
            amountCell(t.balance, "balance"),
            cell(short(t.counterparty), { cls: "id", title: t.counterparty || "" }),
            cell(t.voided ? "voided" : t.status || "completed"),
          ],
          { id: String(t.id) },
        ),
      ),
    );
  }

  function renderKeys(keys) {
    $("keys-section").hidden = keys === null;
    if (keys === null) return;
    fill(
      "keys",
      keys.apis.map((a) =>
        row(
          [
            cell(short(a.api_id), { cls: "id", title: a.api_id }),
            cell(a.prefix),
            amountCell(a.price, "price"),
            cell(short(a.current_key_id), { cls: "id", title: a.current_key_id || "" }),
            cell(String(a.rotations), { cls: "num", data: { field: "rotations" } }),
            cell(a.next_rotation_ms ? new Date(a.next_rotation_ms).toLocaleTimeString() : "–"),
            cell(String(a.offers.length), { cls: "num", title: a.offers.join("\n"), data: { field: "offers" } }),
          ],
          { api: a.api_id },
        ),
      ),
    );
  }

  function renderMetrics(text) {
    const metrics = parseMetrics(text);
    fill(
      "latency",
      latencies(metrics).map((h) =>
        row([
          cell(h.key),
          cell(String(h.count), { cls: "num" }),
          cell(seconds(h.count ? h.sum / h.count : null), { cls: "num" }),
          cell(seconds(h.p50), { cls: "num" }),
          cell(seconds(h.p95), { cls: "num" }),
        ]),
      ),
    );
    fill(
      "errors",
      errorCounters(metrics).map((s) => row([cell(s.family), cell(s.labels.uri, { cls: "id" }), cell(String(s.value), { cls: "num" })], { uri: s.labels.uri })),
    );
  }

  // ---- charts (uPlot) -----------------------------------------------------------------------

  const charts = {};

  // Draws `series` ([{label, values}]) over `times` (Unix s) in the element `id`; the chart is
  // rebuilt when the set of series changes, else only its data.
  function chart(id, times, series) {
    const el = $(id);
    el.dataset.points = String(times.length);
    el.dataset.series = String(series.length);
    if (typeof uPlot === "undefined") {
      el.textContent = "the chart library did not load";
      return;
    }
    const shape = series.map((s) => s.label).join("|");
    const data = [times, ...series.map((s) => s.values)];
    const existing = charts[id];
    if (existing && existing.shape === shape) {
      existing.plot.setData(data);
      return;
    }
    if (existing) existing.plot.destroy();
    el.replaceChildren();
    // A single sample or a flat line still gets a readable range (uPlot's own collapses).
    const pad = (min, max, by) => (min === max ? [min - by(min), max + by(max)] : [min, max]);
    const opts = {
      width: Math.max(320, Math.min(520, el.parentElement.clientWidth || 520)),
      height: 240,
      scales: {
        x: { time: true, range: (u, min, max) => pad(min, max, () => 60) },
        y: { range: (u, min, max) => pad(min, max, (v) => Math.max(Math.abs(v) * 0.05, 1)) },
      },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: true } }))],
      axes: [{}, { size: 80, values: (u, splits) => splits.map((v) => v.toLocaleString(undefined, { maximumFractionDigits: 6 })) }],
    };
    charts[id] = { shape, plot: new uPlot(opts, data, el) };
  }

  function renderHistory(history) {
    $("history-samples").textContent = String(history.samples.length);
    $("history-samples").dataset.count = String(history.samples.length);
    $("history-interval").textContent = String(history.interval_secs);
    const times = history.samples.map((s) => s.time_ms / 1000);
    const series = (pick) => {
      const out = new Map();
      history.samples.forEach((sample, i) => {
        for (const [label, value] of pick(sample)) {
          if (!out.has(label)) out.set(label, new Array(history.samples.length).fill(null));
          out.get(label)[i] = whole(value);
        }
      });
      return [...out].map(([label, values]) => ({ label, values }));
    };
    const name = (a) => `${a.label || "address"} ${short(a.address)}`;
    chart(
      "chart-xbr",
      times,
      series((s) => [
        ...s.addresses.map((a) => [`${name(a)} XBR`, a.xbr]),
        ...s.channels.map((c) => [`${c.channel_type} channel ${short(c.channel_oid)}`, c.remaining]),
      ]),
    );
    chart("chart-eth", times, series((s) => s.addresses.map((a) => [`${name(a)} ETH`, a.eth])));
  }

  // ---- the loop -----------------------------------------------------------------------------

  let timer = null;

  async function refresh() {
    try {
      const [status, ready, history, channels, transactions, keys, metrics] = await Promise.all([
        get("/v1/status"),
        get("/ready", { allow: [503] }),
        get("/v1/balances/history"),
        get("/v1/channels", { optional: true }),
        allTransactions(),
        get("/v1/keys", { optional: true }),
        get("/metrics", { text: true }),
      ]);
      renderStatus(status);
      renderReady(ready);
      renderHistory(history);
      renderChannels(channels || []);
      renderTransactions(transactions);
      renderKeys(keys);
      renderMetrics(metrics);
      $("fetch-error").textContent = "";
      const done = $("refreshed");
      done.dataset.count = String(Number(done.dataset.count) + 1);
      done.textContent = new Date().toLocaleTimeString();
      $("app").dataset.loaded = "true";
    } catch (e) {
      if (e instanceof Unauthorized) {
        showLogin("the daemon refused this token");
        return;
      }
      $("fetch-error").textContent = `${e.message} (retrying)`;
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function showLogin(error) {
    clearTimeout(timer);
    sessionStorage.removeItem(TOKEN_KEY);
    $("app").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = error || "";
    $("token").focus();
  }

  function start() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = false;
    clearTimeout(timer);
    refresh();
  }

  // The metrics parsing, for tests in the browser.
  window.xbrdDashboard = Object.freeze({ parseMetrics, latencies, errorCounters });

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      start();
    });
    $("logout").addEventListener("click", () => showLogin());
    if (sessionStorage.getItem(TOKEN_KEY)) start();
    else showLogin();
  });
})();
