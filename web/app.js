// The first map page: every public layer over the demo city, with a layer list and a
// Japanese/English switch. Style from /styles/machizu.json; catalog from /layers.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { STRINGS } from "/web/i18n.js";

const params = new URLSearchParams(location.search);
let lang = params.get("lang") === "en" ? "en" : "ja";

const [style, catalog] = await Promise.all([
  fetch("/styles/machizu.json").then((r) => r.json()),
  fetch("/layers").then((r) => r.json()),
]);
// The style names its TileJSON by path; MapLibre wants an absolute URL.
for (const source of Object.values(style.sources)) {
  if (source.url) source.url = new URL(source.url, location.href).href;
}

const [lon, lat] = catalog.city.center;
const map = new maplibregl.Map({
  container: "map",
  style,
  center: [lon, lat],
  zoom: catalog.city.zoom,
  hash: true,
  attributionControl: { compact: false },
});
map.addControl(new maplibregl.NavigationControl(), "top-right");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
window.machizuMap = map;
map.on("idle", () => { window.machizuIdle = true; });
map.on("movestart", () => { window.machizuIdle = false; });

/** Style layers drawn for a catalog layer (their `source-layer`). */
function styleLayersOf(id) {
  return style.layers.filter((l) => l["source-layer"] === id).map((l) => l.id);
}

function swatchColour(id) {
  const layers = style.layers.filter((l) => l["source-layer"] === id);
  const legend = layers.find((l) => l.metadata?.["machizu:legend"]);
  if (legend) return legend.metadata["machizu:legend"];
  const paint = layers[0]?.paint ?? {};
  const c = paint["line-color"] ?? paint["fill-color"] ?? paint["circle-color"];
  return typeof c === "string" ? c : "#888";
}

function render() {
  const t = STRINGS[lang];
  document.documentElement.lang = lang;
  document.title = t.title;
  document.getElementById("title").textContent = t.title;
  document.getElementById("lang").textContent = t.switchTo;
  document.getElementById("map").setAttribute("aria-label", t.mapLabel);
  const notice = document.getElementById("notice");
  notice.hidden = !catalog.dataset_notice;
  notice.textContent = catalog.dataset_notice ?? "";
  const box = document.getElementById("layers");
  box.replaceChildren();
  const legend = document.createElement("legend");
  legend.textContent = t.layers;
  box.append(legend);
  for (const layer of catalog.layers) {
    const ids = styleLayersOf(layer.id);
    if (ids.length === 0) continue;
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.dataset.layer = layer.id;
    input.checked = map.getLayoutProperty(ids[0], "visibility") !== "none";
    input.addEventListener("change", () => {
      for (const id of ids) map.setLayoutProperty(id, "visibility", input.checked ? "visible" : "none");
    });
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = swatchColour(layer.id);
    label.append(input, swatch, document.createTextNode(layer.title[lang]));
    box.append(label);
  }
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "ja" ? "en" : "ja";
  render();
});
map.on("load", render);
