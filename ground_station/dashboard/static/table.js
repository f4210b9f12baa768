// The transfers page: a live table (polled), sortable by any column, filtered by task and codec
// on the server (GET /v1/transfers?task=&codec=), the per-codec summary and the charts.
"use strict";

const PAGE_LIMIT = 1000;
const NUMERIC = new Set(["bpp", "psnr_db", "f1_positive", "f1_macro", "link_seconds"]);
const table = {
  rows: new Map(),      // transfer_id -> <tr>
  items: [],
  sortKey: "created_at",
  descending: true,
  chartVersion: null,
};

function compare(a, b) {
  const key = table.sortKey;
  let x = a[key], y = b[key];
  if (key === "created_at") { x = Date.parse(x) || 0; y = Date.parse(y) || 0; }
  const missing = (v) => v === null || v === undefined;
  if (missing(x) || missing(y)) return missing(x) - missing(y); // blanks last either way
  const order = NUMERIC.has(key) || key === "created_at" ? x - y : String(x).localeCompare(String(y));
  return table.descending ? -order : order;
}

function thumbnail(url, alt) {
  return url ? EODL.el("img", { src: url, alt, class: "thumb", loading: "eager", width: "64" })
             : EODL.el("span", { class: "muted", text: "none" });
}

function buildRow(item) {
  const cells = {};
  const tr = EODL.el("tr", { "data-transfer-id": item.transfer_id });
  const link = EODL.el("a", { href: `/transfers/${encodeURIComponent(item.transfer_id)}`, text: item.transfer_id });
  const add = (name, node, cls) => { cells[name] = EODL.el("td", { class: cls }, node); tr.append(cells[name]); };
  add("transfer_id", link);
  for (const name of ["task", "codec", "rate_target", "state"]) add(name, "");
  for (const name of ["bpp", "psnr_db", "f1_positive", "f1_macro", "link_seconds", "age"]) add(name, "", "num");
  add("quicklook", "");
  add("mask", "");
  tr.cells_ = cells;
  tr.images_ = {};
  return tr;
}

function setImage(tr, name, url, alt) {
  if (tr.images_[name] === url) return; // keep loaded images across polls
  tr.images_[name] = url;
  tr.cells_[name].replaceChildren(thumbnail(url, alt));
}

function updateRow(tr, item, now) {
  const c = tr.cells_;
  c.task.textContent = item.task;
  c.codec.textContent = item.codec;
  c.rate_target.textContent = item.rate_target || "-";
  c.state.textContent = item.state;
  c.state.className = `state state-${item.state}`;
  if (item.reason) c.state.title = item.reason;
  c.bpp.textContent = EODL.number(item.bpp, 3);
  c.psnr_db.textContent = EODL.number(item.psnr_db, 2);
  c.f1_positive.textContent = EODL.number(item.f1_positive, 3);
  c.f1_macro.textContent = EODL.number(item.f1_macro, 3);
  c.link_seconds.textContent = EODL.number(item.link_seconds, 2);
  c.age.textContent = EODL.age(item.created_at, now);
  setImage(tr, "quicklook", item.quicklook_url, `quicklook of ${item.scene_id}`);
  setImage(tr, "mask", item.mask_url, `predicted mask of ${item.scene_id}`);
}

function render() {
  const body = document.querySelector("#transfers tbody");
  const now = Date.now();
  const seen = new Set();
  for (const item of [...table.items].sort(compare)) {
    let tr = table.rows.get(item.transfer_id);
    if (!tr) { tr = buildRow(item); table.rows.set(item.transfer_id, tr); }
    updateRow(tr, item, now);
    body.append(tr); // moves an existing row into sorted position
    seen.add(item.transfer_id);
  }
  for (const [id, tr] of table.rows) {
    if (!seen.has(id)) { tr.remove(); table.rows.delete(id); }
  }
  for (const th of document.querySelectorAll("#transfers th")) {
    const key = th.querySelector("button")?.dataset.key;
    th.setAttribute("aria-sort", key === table.sortKey ? (table.descending ? "descending" : "ascending") : "none");
  }
}

function fillSelect(select, values) {
  const current = select.value;
  const known = new Set([...select.options].map((o) => o.value));
  for (const value of values) if (!known.has(value)) select.append(EODL.el("option", { value, text: value }));
  select.value = current;
}

function renderSummary(groups) {
  const body = document.querySelector("#summary tbody");
  body.replaceChildren(...groups.map((g) => EODL.el("tr", {},
    EODL.el("td", { text: g.task }), EODL.el("td", { text: g.codec }),
    EODL.el("td", { class: "num", text: g.count }), EODL.el("td", { class: "num", text: g.processed }),
    EODL.el("td", { class: "num", text: g.failed }),
    EODL.el("td", { class: "num", text: EODL.number(g.mean_bpp, 3) }),
    EODL.el("td", { class: "num", text: EODL.number(g.mean_psnr_db, 2) }),
    EODL.el("td", { class: "num", text: EODL.number(g.mean_f1_positive, 3) }),
    EODL.el("td", { class: "num", text: EODL.number(g.mean_f1_macro, 3) }))));
  fillSelect(document.getElementById("filter-task"), [...new Set(groups.map((g) => g.task))].sort());
  fillSelect(document.getElementById("filter-codec"), [...new Set(groups.map((g) => g.codec))].sort());
}

function refreshCharts(groups) {
  // Charts are redrawn only when the set of transfers or their states changed.
  const version = groups.map((g) => `${g.task}.${g.codec}.${g.count}.${g.processed}.${g.failed}`).join("|");
  if (version === table.chartVersion) return;
  table.chartVersion = version;
  const stamp = Date.now();
  for (const img of document.querySelectorAll("img.chart")) {
    img.src = `/dashboard/charts/${img.dataset.chart}.png?v=${stamp}`;
  }
}

async function poll() {
  const params = new URLSearchParams({ limit: PAGE_LIMIT });
  for (const name of ["task", "codec"]) {
    const value = document.getElementById(`filter-${name}`).value;
    if (value) params.set(name, value);
  }
  try {
    const [page, summary] = await Promise.all([
      EODL.getJson(`/v1/transfers?${params}`), EODL.getJson("/v1/summary")]);
    table.items = page.items;
    render();
    renderSummary(summary.groups);
    refreshCharts(summary.groups);
    document.getElementById("shown").textContent =
      `showing ${page.items.length} of ${page.total} matching transfers`;
    EODL.setStatus(`${page.total} transfers - updated ${new Date().toLocaleTimeString()}`);
    document.body.dataset.loaded = "true";
  } catch (error) {
    EODL.setStatus(`cannot reach the ground station: ${error.message}`, true);
  }
}

function start() {
  for (const button of document.querySelectorAll("#transfers th button")) {
    button.addEventListener("click", () => {
      const key = button.dataset.key;
      table.descending = table.sortKey === key ? !table.descending : key === "created_at";
      table.sortKey = key;
      render();
    });
  }
  for (const select of document.querySelectorAll("#filters select")) select.addEventListener("change", poll);
  poll();
  setInterval(() => { if (document.getElementById("live").checked) poll(); }, EODL.pollMs());
}

start();
