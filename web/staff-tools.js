// The staff map's tools: measuring distance and area on the ground, playing back the vehicles'
// stored positions over a chosen period, and printing the view (PNG, or PDF through the
// browser's print) with scale bar, north arrow, legend and attribution.
import { catalogLayerOf, maplibregl, valueLabel } from "/web/common.js";

const $ = (id) => document.getElementById(id);
const EMPTY = { type: "FeatureCollection", features: [] };

/** Adds a GeoJSON source and its layers once. */
function overlay(map, id, layers) {
  if (map.getSource(id)) return map.getSource(id);
  map.addSource(id, { type: "geojson", data: EMPTY });
  for (const layer of layers) map.addLayer({ source: id, ...layer });
  return map.getSource(id);
}

/** The area of a ring of [lon, lat] on the WGS 84 sphere of equal area, in m². */
export function ringArea(ring) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  let sum = 0;
  for (let i = 0; i < ring.length; i++) {
    const [l1, p1] = ring[i];
    const [l2, p2] = ring[(i + 1) % ring.length];
    sum += (l2 - l1) * rad * (2 + Math.sin(p1 * rad) + Math.sin(p2 * rad));
  }
  return Math.abs((sum * r * r) / 2);
}

function formatLength(m) {
  return m >= 1000 ? `${(m / 1000).toFixed(3)} km` : `${m.toFixed(1)} m`;
}

function formatArea(m2) {
  return m2 >= 10_000 ? `${m2.toFixed(0)} m²（${(m2 / 10_000).toFixed(3)} ha）` : `${m2.toFixed(1)} m²`;
}

export function setupMeasure(ctx) {
  const { map } = ctx;
  let mode = null;
  let points = [];
  const source = () => overlay(map, "measure", [
    { id: "measure-fill", type: "fill", filter: ["==", "$type", "Polygon"], paint: { "fill-color": "#0072b2", "fill-opacity": 0.2 } },
    { id: "measure-line", type: "line", paint: { "line-color": "#0072b2", "line-width": 3 } },
    { id: "measure-points", type: "circle", filter: ["==", "$type", "Point"], paint: { "circle-radius": 5, "circle-color": "#0072b2" } },
  ]);
  function show() {
    const t = ctx.t();
    const features = points.map((p) => ({ type: "Feature", geometry: { type: "Point", coordinates: p }, properties: {} }));
    let text = "";
    if (mode === "area" && points.length >= 3) {
      const ring = [...points, points[0]];
      features.push({ type: "Feature", geometry: { type: "Polygon", coordinates: [ring] }, properties: {} });
      text = `${t.area}: ${formatArea(ringArea(points))}`;
    } else if (points.length >= 2) {
      features.push({ type: "Feature", geometry: { type: "LineString", coordinates: points }, properties: {} });
      let d = 0;
      for (let i = 1; i < points.length; i++) d += maplibregl.LngLat.convert(points[i - 1]).distanceTo(maplibregl.LngLat.convert(points[i]));
      text = `${t.distance}: ${formatLength(d)}`;
    }
    source().setData({ type: "FeatureCollection", features });
    $("measure-result").textContent = text || (mode ? t.measureHint : "");
  }
  const click = (e) => {
    points.push([e.lngLat.lng, e.lngLat.lat]);
    show();
  };
  const stop = (e) => {
    e?.preventDefault();
    map.off("click", click);
    map.off("dblclick", stop);
    map.getCanvas().style.cursor = "";
    ctx.busy = false;
    setTimeout(() => map.doubleClickZoom.enable(), 0);
  };
  function begin(m) {
    stop();
    mode = m;
    points = [];
    ctx.busy = true;
    map.doubleClickZoom.disable();
    map.getCanvas().style.cursor = "crosshair";
    map.on("click", click);
    map.on("dblclick", stop);
    show();
  }
  $("measure-distance").addEventListener("click", () => begin("distance"));
  $("measure-area").addEventListener("click", () => begin("area"));
  $("measure-clear").addEventListener("click", () => {
    stop();
    mode = null;
    points = [];
    show();
  });
}

/** `datetime-local` value of a time, in Japan time. */
function localValue(ms) {
  return new Date(ms + 9 * 3600_000).toISOString().slice(0, 16);
}

export function setupPlayback(ctx) {
  const { map } = ctx;
  // Until the user picks a period, it is the last twelve hours up to now — now when the
  // button is pressed, not when the page was opened (a map stays open all night).
  let picked = false;
  const defaultPeriod = () => {
    if (picked) return;
    const now = Date.now();
    $("pb-from").value = localValue(now - 12 * 3600_000);
    $("pb-to").value = localValue(now + 120_000); // whole minutes: at least a minute ahead
  };
  defaultPeriod();
  for (const id of ["pb-from", "pb-to"]) $(id).addEventListener("change", () => { picked = true; });
  let fixes = [];
  let range = [0, 0];
  let timer = null;
  const source = () => overlay(map, "playback", [
    { id: "playback-tracks", type: "line", filter: ["==", "$type", "LineString"], paint: { "line-color": "#cc79a7", "line-width": 3 } },
    { id: "playback-vehicles", type: "circle", filter: ["==", "$type", "Point"], paint: { "circle-radius": 7, "circle-color": "#cc79a7", "circle-stroke-color": "#000", "circle-stroke-width": 1.5 } },
  ]);
  function showAt(ms) {
    const tracks = new Map();
    for (const f of fixes) {
      if (f.ms > ms) break;
      if (!tracks.has(f.vehicle)) tracks.set(f.vehicle, []);
      tracks.get(f.vehicle).push([f.lon, f.lat]);
    }
    const features = [];
    for (const [vehicle, line] of tracks) {
      if (line.length >= 2) features.push({ type: "Feature", geometry: { type: "LineString", coordinates: line }, properties: { vehicle } });
      features.push({ type: "Feature", geometry: { type: "Point", coordinates: line.at(-1) }, properties: { vehicle } });
    }
    source().setData({ type: "FeatureCollection", features });
    $("pb-status").textContent = `${ctx.t().fixesLoaded(fixes.length)} — ${localValue(ms).replace("T", " ")}`;
  }
  const slider = $("pb-time");
  slider.addEventListener("input", () => showAt(range[0] + ((range[1] - range[0]) * Number(slider.value)) / 1000));
  $("pb-load").addEventListener("click", async () => {
    defaultPeriod();
    const from = `${$("pb-from").value}:00+09:00`;
    const to = `${$("pb-to").value}:00+09:00`;
    fixes = [];
    let offset = 0;
    while (offset !== undefined && fixes.length < 100_000) {
      const q = new URLSearchParams({ from, to, limit: "10000", offset: String(offset) });
      const page = await (await ctx.api(`/live/fixes?${q}`)).json();
      fixes.push(...page.fixes.filter((f) => !f.flags));
      offset = page.next_offset;
    }
    for (const f of fixes) f.ms = Date.parse(f.time);
    fixes.sort((a, b) => a.ms - b.ms);
    range = [Date.parse(from), Date.parse(to)];
    slider.disabled = $("pb-play").disabled = fixes.length === 0;
    slider.value = "1000";
    showAt(range[1]);
  });
  $("pb-play").addEventListener("click", () => {
    if (timer) {
      clearInterval(timer);
      timer = null;
      $("pb-play").textContent = ctx.t().play;
      return;
    }
    if (Number(slider.value) >= 1000) slider.value = "0";
    $("pb-play").textContent = ctx.t().pause;
    timer = setInterval(() => {
      slider.value = String(Math.min(1000, Number(slider.value) + 5));
      slider.dispatchEvent(new Event("input"));
      if (Number(slider.value) >= 1000) $("pb-play").click();
    }, 50);
  });
}

/** The legend of the layers showing: each layer's title and its entries. */
export function legendGroups(ctx) {
  const lang = ctx.lang();
  const groups = new Map();
  for (const layer of ctx.map.getStyle().layers) {
    const id = catalogLayerOf(layer);
    const entries = layer.metadata?.["machizu:legend"] ?? [];
    if (!id || !entries.length || ctx.map.getLayoutProperty(layer.id, "visibility") === "none") continue;
    const plowed = layer.metadata?.["machizu:legend-title"] === "plowed";
    const title = plowed ? ctx.t().plowed : (ctx.byId.get(id)?.title[lang] ?? id);
    const group = groups.get(title) ?? groups.set(title, []).get(title);
    for (const [colour, value] of entries) {
      group.push({ colour, label: plowed ? ctx.t().plowedClass[value] : valueLabel(lang, value) });
    }
  }
  return [...groups].map(([title, entries]) => ({ title, entries }));
}

/** The legend of what is drawn now, as [colour, text] (plowed classes named as such). */
function visibleLegend(ctx) {
  const plowed = ctx.t().plowed;
  return legendGroups(ctx).flatMap(({ title, entries }) =>
    entries.map(({ colour, label }) => [colour, title === plowed ? `${plowed}: ${label}` : label]));
}

/** The attributions of the visible sources, as text. */
function attributionText(ctx) {
  const box = document.querySelector(".maplibregl-ctrl-attrib-inner");
  return (box?.textContent ?? "").replace(/\s+/g, " ").trim() || "machizu";
}

/** A round scale-bar length (m) and its width in CSS pixels, at most `max` pixels. */
function scaleBar(map, max) {
  const y = map.getContainer().clientHeight / 2;
  const metresPerPixel = map.unproject([0, y]).distanceTo(map.unproject([100, y])) / 100;
  const raw = max * metresPerPixel;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const metres = [5, 2, 1].map((m) => m * pow).find((m) => m <= raw) ?? pow;
  return { metres, pixels: metres / metresPerPixel };
}

/** Draws the print frame (title, scale bar, north arrow, legend, attribution) on `canvas`. */
function drawFrame(ctx, canvas, mapCanvas) {
  const { map } = ctx;
  const ratio = mapCanvas.width / map.getContainer().clientWidth;
  const legend = visibleLegend(ctx);
  const lineHeight = 18 * ratio;
  const columns = Math.max(1, Math.floor(mapCanvas.width / (220 * ratio)));
  const legendRows = Math.ceil(legend.length / columns);
  const footer = (70 + 0) * ratio + legendRows * lineHeight;
  canvas.width = mapCanvas.width;
  canvas.height = mapCanvas.height + footer;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.drawImage(mapCanvas, 0, 0);
  g.fillStyle = "#000";
  g.font = `${14 * ratio}px sans-serif`;
  const t = ctx.t();
  g.fillText(`${t.staffTitle} — ${t.printedAt} ${localValue(Date.now()).replace("T", " ")}`, 10 * ratio, mapCanvas.height + 20 * ratio);
  // Scale bar.
  const { metres, pixels } = scaleBar(map, 150);
  const x0 = 10 * ratio;
  const y0 = mapCanvas.height + 36 * ratio;
  g.fillRect(x0, y0, pixels * ratio, 4 * ratio);
  g.fillText(metres >= 1000 ? `${metres / 1000} km` : `${metres} m`, x0 + pixels * ratio + 6 * ratio, y0 + 6 * ratio);
  // North arrow (the map is never rotated: north is up).
  const nx = canvas.width - 30 * ratio;
  const ny = 20 * ratio;
  g.beginPath();
  g.moveTo(nx, ny);
  g.lineTo(nx - 10 * ratio, ny + 28 * ratio);
  g.lineTo(nx + 10 * ratio, ny + 28 * ratio);
  g.closePath();
  g.fillStyle = "#000";
  g.fill();
  g.fillText(t.north, nx - 5 * ratio, ny + 46 * ratio);
  // Legend.
  legend.forEach(([colour, text], i) => {
    const x = 10 * ratio + (i % columns) * 220 * ratio;
    const y = mapCanvas.height + 50 * ratio + Math.floor(i / columns) * lineHeight;
    g.fillStyle = colour;
    g.fillRect(x, y, 14 * ratio, 12 * ratio);
    g.strokeRect(x, y, 14 * ratio, 12 * ratio);
    g.fillStyle = "#000";
    g.fillText(text, x + 20 * ratio, y + 11 * ratio);
  });
  g.font = `${12 * ratio}px sans-serif`;
  g.fillText(attributionText(ctx), 10 * ratio, canvas.height - 8 * ratio);
}

export function setupPrint(ctx) {
  $("print-png").addEventListener("click", () => {
    const canvas = document.createElement("canvas");
    drawFrame(ctx, canvas, ctx.map.getCanvas());
    const a = document.createElement("a");
    a.download = `machizu-${localValue(Date.now()).replace(/[:T]/g, "")}.png`;
    a.href = canvas.toDataURL("image/png");
    a.click();
  });
  $("print-pdf").addEventListener("click", () => {
    preparePrintSheet(ctx);
    window.print();
  });
  window.addEventListener("beforeprint", () => preparePrintSheet(ctx));
}

/** Fills the sheet printed under the map: title, scale, north, legend and attribution. */
function preparePrintSheet(ctx) {
  const t = ctx.t();
  const sheet = $("print-sheet");
  sheet.replaceChildren();
  const title = document.createElement("h2");
  title.textContent = `${t.staffTitle} — ${t.printedAt} ${localValue(Date.now()).replace("T", " ")}`;
  const { metres, pixels } = scaleBar(ctx.map, 150);
  const scale = document.createElement("p");
  scale.className = "print-scale";
  scale.innerHTML = `<span class="bar" style="width:${pixels}px"></span> ${metres >= 1000 ? `${metres / 1000} km` : `${metres} m`} <span class="north">▲ ${t.north}</span>`;
  const legend = document.createElement("ul");
  legend.className = "print-legend";
  for (const [colour, text] of visibleLegend(ctx)) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = colour;
    li.append(sw, document.createTextNode(text));
    legend.append(li);
  }
  const attribution = document.createElement("p");
  attribution.className = "print-attribution";
  attribution.textContent = attributionText(ctx);
  sheet.append(title, scale, legend, attribution);
}
