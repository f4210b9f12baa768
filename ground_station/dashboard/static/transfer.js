// One transfer's page: metrics (polled until processed), the imagery panels the dashboard
// renders from the ground's decode, the ground's own quicklook and mask, and the container header.
"use strict";

const transferId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const METRICS = [
  ["scene_id", "Scene", null], ["task", "Task", null], ["codec", "Codec", null],
  ["rate_target", "Rate target", null], ["state", "State", null], ["reason", "Reason", null],
  ["bands", "Bands", null], ["height", "Height px", null], ["width", "Width px", null],
  ["container_bytes", "Container bytes", null], ["payload_bytes", "Payload bytes", null],
  ["bpp", "bpp (container)", 4], ["payload_bpp", "bpp (payload only)", 4],
  ["bits_per_sample", "Bits per sample", 4], ["psnr_db", "PSNR dB (onboard)", 2],
  ["roi_fraction", "ROI share of the scene (onboard detector)", 3],
  ["digest_verified", "Reconstruction digest verified", null],
  ["f1_positive", "F1 positive class", 4], ["f1_macro", "F1 macro", 4],
  ["decode_ms", "Decode ms", 1], ["segment_ms", "Segment ms", 1], ["device", "Device", null],
  ["segmentation_note", "Segmentation note", null], ["link_seconds", "Link seconds", 2],
  ["created_at", "Announced", null], ["first_chunk_at", "First chunk", null],
  ["committed_at", "Committed", null], ["processed_at", "Processed", null],
  ["received_chunks", "Chunks received", null], ["chunk_count", "Chunks", null],
];
let panelsShown = false;

function fillTable(id, rows) {
  document.querySelector(`#${id} tbody`).replaceChildren(...rows.map(([name, value]) =>
    EODL.el("tr", {}, EODL.el("th", { scope: "row", text: name }), EODL.el("td", { text: value }))));
}

function showMetrics(view) {
  const rows = METRICS
    .filter(([key]) => view[key] !== null && view[key] !== undefined)
    .map(([key, label, digits]) => [label, digits === null ? String(view[key]) : EODL.number(view[key], digits)]);
  fillTable("metrics", rows);
}

function figure(url, title, caption) {
  const img = EODL.el("img", { src: url, alt: title, class: "panel" });
  return EODL.el("figure", {}, img, EODL.el("figcaption", { text: caption || title }));
}

function showPanels(view, index) {
  const figures = index.panels.map((p) => figure(p.url, p.title, `${p.title} (decoded at the ground)`));
  if (view.quicklook_url) figures.push(figure(view.quicklook_url, "Quicklook", "Quicklook as stored by the ground"));
  if (view.mask_url) figures.push(figure(view.mask_url, "Predicted mask", "Predicted mask as stored by the ground (white = positive)"));
  document.getElementById("panels").replaceChildren(...figures);
  const notes = Object.entries(index.notes).map(([key, value]) => EODL.el("li", {
    text: typeof value === "string" ? value
      : `${key}: ` + Object.entries(value).map(([k, v]) => `${k.toUpperCase()} ${v} px`).join(", "),
  }));
  document.getElementById("notes").replaceChildren(...notes);
  fillTable("header", Object.entries(index.header).map(([k, v]) =>
    [k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)]));
  fillTable("metadata", Object.entries(index.metadata).map(([k, v]) =>
    [k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)]));
}

const PRODUCTS = {
  "raster.tif": "Decoded raster (Cloud-Optimized GeoTIFF)",
  "mask.tif": "Predicted mask (Cloud-Optimized GeoTIFF)",
  "detections.geojson": "Detections (GeoJSON, WGS84)",
  "quicklook.png": "Quicklook (PNG)",
  "item.json": "STAC item",
};
let placeShown = false;

function ringOf(footprint) {
  const ring = footprint.coordinates[0];
  return ring.slice(0, ring.length - 1);
}

function drawFootprint(ring, points) {
  const svg = document.getElementById("footprint");
  const lons = ring.map((p) => p[0]), lats = ring.map((p) => p[1]);
  const west = Math.min(...lons), east = Math.max(...lons), south = Math.min(...lats), north = Math.max(...lats);
  const shrink = Math.cos(((north + south) / 2) * Math.PI / 180);  // a degree of longitude is shorter
  const span = Math.max((east - west) * shrink, north - south) || 1;
  const xy = ([lon, lat]) => [10 + ((lon - west) * shrink / span) * 200, 10 + ((north - lat) / span) * 200];
  const ns = "http://www.w3.org/2000/svg";
  const outline = document.createElementNS(ns, "polygon");
  outline.setAttribute("points", ring.map((p) => xy(p).join(",")).join(" "));
  outline.setAttribute("class", "footprint");
  const dots = points.map((p) => {
    const [x, y] = xy(p);
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x); dot.setAttribute("cy", y); dot.setAttribute("r", 3);
    dot.setAttribute("class", "detection");
    return dot;
  });
  svg.replaceChildren(outline, ...dots);
  document.getElementById("footprint-figure").hidden = false;
}

async function showPlace(view) {
  document.getElementById("place-note").textContent = view.georef_note || "";
  const rows = [];
  let points = [];
  if (view.files["detections.geojson"]) {
    const found = await EODL.getJson(view.files["detections.geojson"]);
    points = found.features.filter((f) => f.geometry.type === "Point").map((f) => f.geometry.coordinates);
  }
  if (view.footprint) {
    const ring = ringOf(view.footprint);
    const lon = ring.reduce((s, p) => s + p[0], 0) / ring.length;
    const lat = ring.reduce((s, p) => s + p[1], 0) / ring.length;
    const lons = ring.map((p) => p[0]), lats = ring.map((p) => p[1]);
    rows.push(["Centre (lat, lon)", `${lat.toFixed(5)}, ${lon.toFixed(5)}`]);
    rows.push(["Footprint W, S, E, N", [Math.min(...lons), Math.min(...lats), Math.max(...lons),
      Math.max(...lats)].map((v) => v.toFixed(5)).join(", ")]);
    drawFootprint(ring, points);
  }
  if (view.detections !== null && view.detections !== undefined) rows.push(["Detections", String(view.detections)]);
  document.querySelector("#place tbody").replaceChildren(...rows.map(([name, value]) =>
    EODL.el("tr", {}, EODL.el("th", { scope: "row", text: name }), EODL.el("td", { text: value }))));
  const links = Object.entries(view.files).map(([name, url]) =>
    EODL.el("li", {}, EODL.el("a", { href: url, text: PRODUCTS[name] || name })));
  document.getElementById("products").replaceChildren(...links);
}

async function refresh() {
  try {
    const view = await EODL.getJson(`/v1/transfers/${encodeURIComponent(transferId)}`);
    showMetrics(view);
    if (view.state === "processed" && !panelsShown) {
      EODL.setStatus("decoding the container for the imagery...");
      const index = await EODL.getJson(`/dashboard/transfers/${encodeURIComponent(transferId)}/panels`);
      showPanels(view, index);
      panelsShown = true;
    }
    if (view.state === "processed" && !placeShown) {
      await showPlace(view);
      placeShown = true;
    }
    const done = view.state === "processed" || view.state === "failed";
    EODL.setStatus(done ? `${view.state}${view.reason ? ": " + view.reason : ""}` : `${view.state}: waiting...`,
      view.state === "failed");
    document.body.dataset.loaded = done ? "true" : "waiting";
    return done;
  } catch (error) {
    EODL.setStatus(error.message, true);
    return false;
  }
}

async function start() {
  document.getElementById("transfer-id").textContent = transferId;
  document.title = `${transferId} - EO Downlink`;
  while (!(await refresh())) await new Promise((resolve) => setTimeout(resolve, EODL.pollMs()));
}

start();
