// The public map (/map) and the embed (/embed?layers=…&center=lon,lat&zoom=…): public layers
// over the basemap, live snowplows, a layer list with legend, attributes on a tap. Everything
// it loads is public and cacheable; it never sends a credential.
import {
  attributeTable, buildLayerList, createMap, featureAt, followVehicles, initialLang, keepPopupInView, loadStyle,
  maplibregl, refreshTiles, rememberLang, strings, styleLayersOf,
} from "/web/common.js";
import { useArchive } from "/web/archive.js";
import { addFileLayers } from "/web/file-layers.js";
import { addLabels, setLabelLang } from "/web/labels.js";
import { noticeBanner } from "/web/notices.js";
import { cameraPanel, stationPanel } from "/web/sensors.js";
import { subscribePanel } from "/web/subscribe.js";

const params = new URLSearchParams(location.search);
// A push notification opens /map#notice=ID: read before the map takes the hash for its view.
const focusNotice = Number(location.hash.match(/^#notice=(\d+)$/)?.[1]) || undefined;
if (focusNotice) history.replaceState(null, "", location.pathname + location.search);
const embed = location.pathname === "/embed";
let lang = initialLang();
document.body.classList.toggle("embed", embed);

const [style, catalog] = await Promise.all([
  loadStyle("/styles/public.json"),
  fetch("/layers").then((r) => r.json()),
]);
const byId = new Map(catalog.layers.map((l) => [l.id, l]));
addFileLayers(style, catalog);
// Layers from the city's tiles archive, when it has one, before labels follow their sources.
const archive = style.metadata?.["machizu:archive"];
window.machizuArchived = archive ? await useArchive(style, archive) : [];
addLabels(style, catalog, { lang });

// Embed: only the layers asked for (and the basemap and the boundary that frame them).
const asked = params.get("layers")?.split(",").filter((id) => byId.has(id));
const only = asked?.length ? new Set([...asked, "basemap", "boundary"]) : undefined;
if (only) {
  for (const layer of style.layers) {
    const id = layer.metadata?.["machizu:layer"];
    if (id && !only.has(id)) (layer.layout ??= {}).visibility = "none";
  }
}
const centerParam = params.get("center")?.split(",").map(Number);
const center = centerParam?.length === 2 && centerParam.every(Number.isFinite) ? centerParam : catalog.city.center;
const zoomParam = Number(params.get("zoom"));
const zoom = params.has("zoom") && Number.isFinite(zoomParam) ? zoomParam : catalog.city.zoom;

const map = createMap({
  container: "map",
  style,
  center,
  zoom,
  hash: !embed,
  onBasemapLost: () => {
    document.getElementById("basemap-notice").hidden = false;
  },
});
window.machizuFirstView = new Promise((resolve) => map.once("idle", () => resolve(performance.now())));

// A tap shows the feature's public attributes; on a road, first when it was last plowed, in
// words ("今朝 5:40 に除雪済み"), as /query/plowed says it; on a gauge, its last 24 hours; on a
// camera, its latest image.
map.on("click", async (e) => {
  const f = featureAt(map, e.point);
  if (!f) return;
  const layerId = f.layer.metadata?.["machizu:layer"] ?? f.sourceLayer;
  const content = document.createElement("div");
  if (layerId === "sensors") content.append(stationPanel(f.properties, { api: (path) => fetch(path), lang }));
  else if (layerId === "cameras") content.append(cameraPanel(f.properties, { lang }));
  else content.append(attributeTable(f.properties, byId.get(layerId), lang));
  const popup = new maplibregl.Popup({ maxWidth: "340px" }).setLngLat(e.lngLat).setDOMContent(content).addTo(map);
  keepPopupInView(map, popup, document.getElementById("bar"));
  if (layerId !== "roads") return;
  const r = await fetch(`/query/plowed?lon=${e.lngLat.lng}&lat=${e.lngLat.lat}`).catch(() => undefined);
  const answer = r?.ok ? await r.json() : undefined;
  if (answer && String(answer.road?.id) === String(f.id)) {
    const said = document.createElement("p");
    said.className = "plowed-said";
    said.setAttribute("role", "status");
    said.textContent = answer.said[lang];
    content.prepend(said);
  }
});

const panel = document.getElementById("panel");
const menu = document.getElementById("menu");
function setPanel(open) {
  panel.hidden = !open;
  menu.setAttribute("aria-expanded", String(open));
}
menu.addEventListener("click", () => setPanel(panel.hidden));
// Open beside a wide map, folded away on a phone or in an embed.
setPanel(!embed && window.innerWidth > 700);

let notices;
let subscribe;
let loaded = false;
function render() {
  const t = strings(lang);
  notices?.setLang(lang);
  subscribe?.render();
  if (loaded) setLabelLang(map, lang);
  document.documentElement.lang = lang;
  document.title = t.publicTitle;
  document.getElementById("title").textContent = t.publicTitle;
  document.getElementById("lang").textContent = t.switchTo;
  menu.setAttribute("aria-label", t.menu);
  document.getElementById("map").setAttribute("aria-label", t.mapLabel);
  document.getElementById("basemap-notice").textContent = t.basemapOffline;
  const notice = document.getElementById("notice");
  notice.hidden = !catalog.dataset_notice;
  notice.textContent = catalog.dataset_notice ?? "";
  buildLayerList(document.getElementById("layers"), { map, style, catalog, lang, only });
  const bigger = document.getElementById("bigger");
  bigger.hidden = !embed;
  bigger.textContent = lang === "en" ? "Open the full map" : "大きな地図で見る";
  const c = map.getCenter();
  bigger.href = `/map${lang === "en" ? "?lang=en" : ""}#${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`;
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "ja" ? "en" : "ja";
  rememberLang(lang);
  render();
});
// The service worker shows notices pushed to this browser and opens the map at them.
if (!embed) navigator.serviceWorker?.register("/sw.js").catch(() => {});
map.on("load", () => {
  loaded = true;
  notices = noticeBanner({ map, box: document.getElementById("notices"), focus: focusNotice });
  window.machizuNotices = notices.ready;
  // Residents subscribe on the city's map itself, not inside another site's frame.
  if (!embed) {
    const box = document.getElementById("subscribe");
    box.hidden = false;
    subscribe = subscribePanel({ map, box, lang: () => lang });
  }
  render();
  if (styleLayersOf(style, "snowplows").length) followVehicles(map, "/live/stream");
  // Plowed times and trails change all night: the tiles are fetched again every minute (as
  // long as their cache allows), for residents who keep the map open through a storm.
  if (style.sources.machizu) setInterval(() => refreshTiles(map), 60_000);
});
