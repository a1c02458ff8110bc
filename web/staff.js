// The staff map (/staff): sign-in, then every layer through the staff area (/staff/api) with a
// layer list (toggle, opacity, legend), attributes on a click, search, live snowplows and
// trails, editing, measuring, playback and printing, and for admins layers made from files (the
// last five in their own modules).
import {
  attributeTable, buildLayerList, createMap, featureAt, followVehicles, initialLang, keepPopupInView, loadStyle,
  maplibregl, refreshTiles, rememberLang, strings,
} from "/web/common.js";
import { addFileLayers } from "/web/file-layers.js";
import { addLabels, setLabelLang } from "/web/labels.js";
import { cameraPanel, stationPanel } from "/web/sensors.js";
import { EDITABLE, drawLine, openEditor } from "/web/staff-edit.js";
import { setupLayerAdmin } from "/web/staff-layers.js";
import { setupNotices } from "/web/staff-notices.js";
import { setupScalePrint } from "/web/staff-print.js";
import { setupMeasure, setupPlayback, setupPrint } from "/web/staff-tools.js";

const API = "/staff/api";
let lang = initialLang();
let session = null;
const t = () => strings(lang);
const $ = (id) => document.getElementById(id);

/** Thrown when the session has ended; the sign-in form is showing, so nothing more to do. */
class SignedOut extends Error {}
window.addEventListener("unhandledrejection", (e) => {
  if (e.reason instanceof SignedOut) e.preventDefault();
});

/** A request to the staff area: writes carry the CSRF token; a 401 means sign in again. */
async function api(path, { method = "GET", body, headers = {} } = {}) {
  const h = { ...headers };
  if (method !== "GET") h["X-CSRF-Token"] = session?.csrf ?? "";
  const form = body instanceof FormData;
  if (body !== undefined && !form) h["Content-Type"] = "application/json";
  const response = await fetch(API + path, { method, headers: h, body: body === undefined || form ? body : JSON.stringify(body) });
  if (response.status === 401) {
    showSignIn(t().sessionExpired);
    throw new SignedOut();
  }
  return response;
}

function translate() {
  document.documentElement.lang = lang;
  document.title = t().staffTitle;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t()[el.dataset.t];
  for (const el of document.querySelectorAll(".lang")) el.textContent = t().switchTo;
  $("q").placeholder = t().searchPlaceholder;
  if (session) $("who").textContent = t().signedInAs(session.user.display_name);
}

function showSignIn(message) {
  session = null;
  ctx.stopLive?.();
  $("app").hidden = true;
  $("sign-in").hidden = false;
  const error = $("sign-in-error");
  error.hidden = !message;
  error.textContent = message ?? "";
  $("sign-in").elements.name.focus();
}

$("sign-in").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const response = await fetch("/staff/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: form.elements.name.value, password: form.elements.password.value }),
  });
  form.elements.password.value = "";
  if (response.ok) return start(await response.json());
  const messages = { 401: t().signInFailed, 403: t().signInDisabled, 429: t().signInLocked };
  showSignIn(messages[response.status] ?? (await response.json()).message);
});

$("sign-out").addEventListener("click", async () => {
  await fetch("/staff/session", { method: "DELETE", headers: { "X-CSRF-Token": session.csrf } });
  showSignIn();
});

for (const button of document.querySelectorAll(".lang")) {
  button.addEventListener("click", () => {
    lang = lang === "ja" ? "en" : "ja";
    rememberLang(lang);
    translate();
    if (ctx.map) {
      buildLayerList($("layers"), { map: ctx.map, style: ctx.style, catalog: ctx.catalog, lang, withOpacity: true });
      setLabelLang(ctx.map, lang);
    }
    ctx.notices?.draw();
    ctx.layerAdmin?.show();
  });
}

/** What the staff modules share. */
const ctx = {
  api,
  SignedOut,
  lang: () => lang,
  role: () => session?.user.role,
  t,
  status(message) {
    $("status").textContent = message;
  },
  /** Reloads our vector tiles (after an edit; for trails). */
  refreshTiles: () => refreshTiles(ctx.map),
};

async function start(body) {
  session = body;
  $("sign-in").hidden = true;
  $("app").hidden = false;
  translate();
  if (ctx.map) {
    ctx.layerAdmin?.show();
    ctx.stopLive = followVehicles(ctx.map, `${API}/live/stream`);
    return;
  }
  const [style, catalog] = await Promise.all([
    loadStyle("/styles/staff.json"),
    api("/layers").then((r) => r.json()),
  ]);
  addFileLayers(style, catalog);
  addLabels(style, catalog, { lang, staffMap: true });
  Object.assign(ctx, { style, catalog, byId: new Map(catalog.layers.map((l) => [l.id, l])) });
  const notice = $("notice");
  notice.hidden = !catalog.dataset_notice;
  notice.textContent = catalog.dataset_notice ?? "";
  const map = createMap({
    container: "map",
    style,
    center: catalog.city.center,
    zoom: catalog.city.zoom,
    hash: true,
    onBasemapLost: () => {
      $("basemap-notice").hidden = false;
    },
  });
  ctx.map = map;
  map.on("load", () => {
    buildLayerList($("layers"), { map, style, catalog, lang, withOpacity: true });
    ctx.stopLive = followVehicles(map, `${API}/live/stream`);
    setInterval(() => session && ctx.refreshTiles(), 60_000);
  });
  map.on("click", (e) => {
    if (ctx.busy) return;
    const f = featureAt(map, e.point);
    if (!f) return;
    showFeature(f.layer.metadata["machizu:layer"], f.id, f.properties, e.lngLat);
  });
  setupSearch();
  setupMeasure(ctx);
  setupPlayback(ctx);
  setupPrint(ctx);
  setupScalePrint(ctx);
  ctx.notices = setupNotices(ctx);
  map.once("load", () => {
    ctx.layerAdmin = setupLayerAdmin(ctx);
  });
  $("new-road-event").addEventListener("click", async () => {
    const line = await drawLine(ctx);
    if (line) openEditor(ctx, "road_events", null, line);
  });
}

function showFeature(layerId, id, properties, lngLat) {
  const content = document.createElement("div");
  if (layerId === "sensors_all") {
    content.append(stationPanel(properties, { api, lang, staff: true, csvBase: API }));
  } else if (layerId === "cameras_all") {
    content.append(cameraPanel(properties, { base: API, lang }));
  }
  content.append(attributeTable(properties, ctx.byId.get(layerId), lang));
  if (EDITABLE.has(layerId) && id !== undefined) {
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "edit";
    edit.textContent = t().edit;
    edit.addEventListener("click", () => {
      popup.remove();
      openEditor(ctx, layerId, id);
    });
    content.append(edit);
  }
  const popup = new maplibregl.Popup({ maxWidth: "360px" }).setLngLat(lngLat).setDOMContent(content).addTo(ctx.map);
  keepPopupInView(ctx.map, popup);
}

function setupSearch() {
  $("search").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = $("q").value.trim();
    const list = $("results");
    list.replaceChildren();
    if (!q) return;
    const found = await (await api(`/search?q=${encodeURIComponent(q)}&limit=10`)).json();
    if (!found.features.length) {
      list.append(Object.assign(document.createElement("li"), { textContent: t().noResults }));
      return;
    }
    for (const f of found.features) {
      const layer = ctx.byId.get(f.layer);
      const p = f.properties;
      const name = p.chiban ? `${p.oaza ?? ""} ${p.aza ?? ""} ${p.chiban}`.trim() : (p.name ?? p.address ?? p.label ?? f.id);
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${name}（${layer?.title[lang] ?? f.layer}）`;
      button.addEventListener("click", () => {
        const bounds = new maplibregl.LngLatBounds();
        const add = (c) => (typeof c[0] === "number" ? bounds.extend(c) : c.forEach(add));
        add(f.geometry.coordinates);
        ctx.map.fitBounds(bounds, { padding: 80, maxZoom: 18, duration: 0 });
        showFeature(f.layer, f.id, p, bounds.getCenter());
      });
      const li = document.createElement("li");
      li.append(button);
      list.append(li);
    }
  });
}

translate();
const current = await fetch("/staff/session");
if (current.ok) start(await current.json());
else showSignIn();
