// What the public map, the embed and the staff map share: languages, the style and its
// basemap, the layer list with legend and opacity, attribute tables, live vehicles.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import ja from "/web/i18n/ja.js";
import en from "/web/i18n/en.js";

export { maplibregl };
const STRINGS = { ja, en };

/** Japanese unless `?lang=en` or the reader chose English before. */
export function initialLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "en" || asked === "ja") return asked;
  return storage()?.getItem("machizu.lang") === "en" ? "en" : "ja";
}

/** Local storage, if the browser lets this page have it (not always in a third-party iframe). */
function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function strings(lang) {
  return STRINGS[lang];
}

export function rememberLang(lang) {
  storage()?.setItem("machizu.lang", lang);
}

/** A data value as shown in `lang` (legend entries, code lists). */
export function valueLabel(lang, value) {
  return lang === "en" ? (en.values[value] ?? value) : value;
}

/** Teaches the English of a Japanese data value (the title of a layer made from a file). */
export function learnValue(ja, english) {
  if (english && english !== ja) en.values[ja] = english;
}

/** A style with its sources' URLs made absolute (MapLibre wants them so). */
export async function loadStyle(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const style = await response.json();
  for (const source of Object.values(style.sources)) {
    if (source.url) source.url = new URL(source.url, location.href).href;
  }
  return style;
}

/** The catalog layer a style layer draws. */
export function catalogLayerOf(styleLayer) {
  return styleLayer.metadata?.["machizu:layer"];
}

/** The style layers drawing catalog layer `id`. */
export function styleLayersOf(style, id) {
  return style.layers.filter((l) => catalogLayerOf(l) === id).map((l) => l.id);
}

/**
 * A map in `container` with `style`. Attribution is always shown in full (地理院タイル must be
 * credited); when the basemap cannot be loaded (no network), it is hidden and our own layers
 * stay as the basemap, with `onBasemapLost` called once.
 */
export function createMap({ container, style, center, zoom, hash = false, onBasemapLost }) {
  const map = new maplibregl.Map({
    container,
    style,
    center,
    zoom,
    hash,
    attributionControl: { compact: false },
    canvasContextAttributes: { preserveDrawingBuffer: true },
    dragRotate: false,
    // Labels appear at once rather than fading in: the map is idle when it looks done.
    fadeDuration: 0,
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.GeolocateControl({ trackUserLocation: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  let basemapLost = false;
  let basemapErrors = 0;
  map.on("error", (e) => {
    if (e.sourceId === "basemap" && !basemapLost && ++basemapErrors >= 3) {
      basemapLost = true;
      if (map.getLayer("basemap")) map.setLayoutProperty("basemap", "visibility", "none");
      onBasemapLost?.();
    }
  });
  window.machizuMap = map;
  map.on("idle", () => { window.machizuIdle = true; });
  map.on("movestart", () => { window.machizuIdle = false; });
  map.on("sourcedataloading", () => { window.machizuIdle = false; });
  return map;
}

function swatch(colour, kind) {
  const s = document.createElement("span");
  s.className = `swatch ${kind ?? ""}`;
  s.style.background = colour;
  return s;
}

/**
 * Fills `box` with one entry per catalog layer drawn by the style: a checkbox (with its
 * legend) and, when `withOpacity`, an opacity slider. `only` (a set of ids) limits the list.
 */
export function buildLayerList(box, { map, style, catalog, lang, withOpacity = false, only }) {
  const t = strings(lang);
  box.replaceChildren();
  const heading = document.createElement("h2");
  heading.textContent = t.layers;
  box.append(heading);
  const entries = [...catalog.layers.map((l) => ({ id: l.id, title: l.title[lang] }))];
  if (style.layers.some((l) => catalogLayerOf(l) === "basemap")) {
    entries.unshift({ id: "basemap", title: lang === "en" ? "Basemap (GSI)" : "背景地図（地理院タイル）" });
  }
  for (const { id, title } of entries) {
    const ids = styleLayersOf(style, id).filter((sid) => map.getLayer(sid));
    if (ids.length === 0 || (only && !only.has(id))) continue;
    const item = document.createElement("div");
    item.className = "layer";
    item.dataset.layer = id;
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.dataset.layer = id;
    input.checked = map.getLayoutProperty(ids[0], "visibility") !== "none";
    input.addEventListener("change", () => {
      for (const sid of ids) map.setLayoutProperty(sid, "visibility", input.checked ? "visible" : "none");
    });
    label.append(input, document.createTextNode(title));
    item.append(label);
    const legend = document.createElement("ul");
    legend.className = "legend";
    for (const sid of ids) {
      const layer = style.layers.find((l) => l.id === sid);
      const entries = layer.metadata?.["machizu:legend"] ?? [];
      const plowed = layer.metadata?.["machizu:legend-title"] === "plowed";
      if (plowed && entries.length) {
        const sub = document.createElement("li");
        sub.className = "legend-title";
        sub.textContent = t.plowed;
        legend.append(sub);
      }
      for (const [colour, value] of entries) {
        const li = document.createElement("li");
        const text = plowed ? t.plowedClass[value] : valueLabel(lang, value);
        li.append(swatch(colour, layer.type), document.createTextNode(text));
        legend.append(li);
      }
    }
    if (legend.children.length) item.append(legend);
    if (withOpacity) {
      const range = document.createElement("input");
      range.type = "range";
      range.min = "0";
      range.max = "100";
      range.value = "100";
      range.dataset.opacity = id;
      range.setAttribute("aria-label", `${title} ${t.opacity}`);
      range.addEventListener("input", () => setOpacity(map, ids, Number(range.value) / 100));
      item.append(range);
    }
    box.append(item);
  }
}

const OPACITY = { fill: "fill-opacity", line: "line-opacity", circle: "circle-opacity", raster: "raster-opacity" };

function setOpacity(map, ids, value) {
  for (const id of ids) {
    const layer = map.getLayer(id);
    const property = OPACITY[layer?.type];
    if (!property) continue;
    // Keep the style's own expression, scaled.
    const original = (layer.metadata ??= {})["machizu:opacity"] ??= map.getPaintProperty(id, property) ?? 1;
    map.setPaintProperty(id, property, typeof original === "number" ? original * value : ["*", value, original]);
  }
}

/**
 * Keeps `popup` inside the map and below `top` (the page's header bar): when it opens, and when
 * its content grows (a chart or an image landing), the map pans so the whole popup is in view.
 */
export function keepPopupInView(map, popup, top) {
  const fit = () => {
    const element = popup.getElement();
    if (!element?.isConnected) return observer.disconnect();
    const box = element.getBoundingClientRect();
    const bounds = map.getContainer().getBoundingClientRect();
    const below = Math.max(0, (top?.getBoundingClientRect().bottom ?? bounds.top) + 8 - box.top);
    const dy = below || Math.min(0, bounds.bottom - 8 - box.bottom);
    const dx = box.left < bounds.left ? bounds.left - box.left : Math.min(0, bounds.right - box.right);
    if (Math.abs(dy) > 1 || Math.abs(dx) > 1) map.panBy([-dx, -dy], { duration: 0 });
  };
  const observer = new ResizeObserver(fit);
  observer.observe(popup.getElement());
  popup.on("close", () => observer.disconnect());
  fit();
}

/** A table of a feature's attributes, titled from the catalog, in `lang`. */
export function attributeTable(properties, layerDef, lang) {
  const t = strings(lang);
  const table = document.createElement("table");
  table.className = "attributes";
  const caption = document.createElement("caption");
  caption.textContent = layerDef?.title[lang] ?? "";
  table.append(caption);
  const titles = new Map((layerDef?.attributes ?? []).map((a) => [a.name, a.title[lang]]));
  const names = layerDef ? layerDef.attributes.map((a) => a.name).filter((n) => n in properties) : Object.keys(properties);
  for (const name of names) {
    const row = table.insertRow();
    const th = document.createElement("th");
    th.textContent = titles.get(name) ?? name;
    const td = row.insertCell();
    const v = properties[name];
    td.textContent = v === null || v === undefined || v === "" ? t.noValue : String(v);
    td.dataset.attribute = name;
    row.prepend(th);
  }
  return table;
}

/**
 * The feature a tap at `point` means: the top-most point or line within a finger's width, else
 * the area under the finger.
 */
export function featureAt(map, point) {
  const r = 10;
  const box = [[point.x - r, point.y - r], [point.x + r, point.y + r]];
  const layers = map.getStyle().layers
    .filter((l) => catalogLayerOf(l) && catalogLayerOf(l) !== "basemap" && l.type !== "background" && l.type !== "symbol")
    .filter((l) => map.getLayoutProperty(l.id, "visibility") !== "none")
    .map((l) => l.id);
  const near = map.queryRenderedFeatures(box, { layers });
  const small = (f) => f.layer.type === "circle" || (f.layer.type === "line" && f.geometry.type.endsWith("LineString"));
  return near.find(small)
    ?? map.queryRenderedFeatures(point, { layers }).find((f) => f.layer.type === "fill")
    ?? near[0];
}

/**
 * Fetches the tiles of `sourceId` again, after their data changed (an edit, new trails).
 * MapLibre does not fetch a tile again while it is still on its way: it reparses what it has,
 * or lets the older answer land last. So a refresh asked for while tiles are loading waits
 * until they have arrived (checked every 100 ms: a tile that arrives unchanged fires no
 * event), then fetches them all again.
 */
export function refreshTiles(map, sourceId = "machizu") {
  if (!map.isSourceLoaded(sourceId)) {
    setTimeout(() => refreshTiles(map, sourceId), 100);
    return;
  }
  const source = map.getSource(sourceId);
  source.setUrl(source.url);
}

/**
 * Keeps the `live` GeoJSON source in step with a stream of vehicle positions (SSE: a
 * snapshot, then moved vehicles). Returns a function that stops it.
 */
export function followVehicles(map, url) {
  const vehicles = new Map();
  const show = () => map.getSource("live")?.setData({ type: "FeatureCollection", features: [...vehicles.values()] });
  const source = new EventSource(url);
  source.addEventListener("snapshot", (e) => {
    vehicles.clear();
    for (const f of JSON.parse(e.data).features) vehicles.set(f.id, f);
    show();
  });
  source.addEventListener("vehicles", (e) => {
    const frame = JSON.parse(e.data);
    for (const id of frame.removed ?? []) vehicles.delete(id);
    for (const f of frame.features) vehicles.set(f.id, f);
    show();
  });
  return () => source.close();
}
