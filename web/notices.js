// Current notices (GET /notices, a JSON Feed) on the public map and the embed: a banner with
// each notice's severity in words, category, title and period (its text and area folded under
// it), and the areas drawn over the map. "地図で見る" fits the map to a notice's area; a link to
// /map#notice=ID (what a push notification opens) does so on load. Refreshed every minute.
import { strings } from "/web/common.js";

const SOURCE = "notices";
const COLOURS = { Extreme: "#7b1fa2", Severe: "#c62828", Moderate: "#ef6c00", Minor: "#1565c0", Unknown: "#455a64" };

/** The bounding box of a GeoJSON geometry as [[west, south], [east, north]]. */
export function bounds(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === "number") {
      b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]);
      b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return [[b[0], b[1]], [b[2], b[3]]];
}

function period(n, lang) {
  const f = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "ja-JP",
    { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo" });
  return `${f.format(new Date(n.starts_at))} – ${f.format(new Date(n.ends_at))}`;
}

/** The notices banner in `box` and the areas on `map`; `focus` is a notice id to show at once. */
export function noticeBanner({ map, box, focus }) {
  let lang = "ja";
  let notices = [];
  const expanded = new Set(focus ? [focus] : []);

  function show(id) {
    const n = notices.find((x) => x.id === id);
    if (n) map.fitBounds(bounds(n.area), { padding: 40, maxZoom: 16 });
  }

  function draw() {
    const t = strings(lang);
    box.hidden = notices.length === 0;
    box.setAttribute("aria-label", t.notices);
    box.replaceChildren();
    for (const n of notices) {
      const en = lang === "en" && n.title_en;
      const item = document.createElement("article");
      item.className = `notice severity-${n.severity.toLowerCase()}`;
      item.style.borderLeftColor = COLOURS[n.severity];
      const head = document.createElement("button");
      head.type = "button";
      head.className = "notice-head";
      head.setAttribute("aria-expanded", String(expanded.has(n.id)));
      const level = document.createElement("strong");
      level.className = "notice-level";
      level.textContent = `【${t.severity[n.severity]}】`;
      const title = document.createElement("span");
      title.textContent = `${lang === "en" ? n.category_name_en : n.category_name}: ${en ? n.title_en : n.title}`;
      head.append(level, title);
      const details = document.createElement("div");
      details.className = "notice-details";
      details.id = `notice-${n.id}`;
      details.hidden = !expanded.has(n.id);
      head.setAttribute("aria-controls", details.id);
      const body = document.createElement("p");
      body.textContent = en ? (n.body_en ?? n.body) : n.body;
      const meta = document.createElement("p");
      meta.className = "notice-meta";
      meta.textContent = `${t.noticeArea}: ${lang === "en" ? n.area_desc_en : n.area_desc}・${t.period}: ${period(n, lang)}`;
      const go = document.createElement("button");
      go.type = "button";
      go.className = "notice-show";
      go.textContent = t.showOnMap;
      go.addEventListener("click", () => show(n.id));
      details.append(body, meta, go);
      head.addEventListener("click", () => {
        if (expanded.has(n.id)) expanded.delete(n.id); else expanded.add(n.id);
        details.hidden = !expanded.has(n.id);
        head.setAttribute("aria-expanded", String(expanded.has(n.id)));
      });
      item.append(head, details);
      box.append(item);
    }
    const data = {
      type: "FeatureCollection",
      features: notices.map((n) => ({ type: "Feature", id: n.id, geometry: n.area, properties: { id: n.id, colour: COLOURS[n.severity] } })),
    };
    if (map.getSource(SOURCE)) map.getSource(SOURCE).setData(data);
    else {
      map.addSource(SOURCE, { type: "geojson", data });
      map.addLayer({ id: "notices-fill", type: "fill", source: SOURCE, paint: { "fill-color": ["get", "colour"], "fill-opacity": 0.12 } });
      map.addLayer({ id: "notices-line", type: "line", source: SOURCE,
        paint: { "line-color": ["get", "colour"], "line-width": 2.5, "line-dasharray": [3, 2] } });
    }
  }

  async function load() {
    const r = await fetch("/notices").catch(() => undefined);
    if (!r?.ok) return;
    notices = (await r.json()).items.map((i) => i._machizu);
    draw();
  }

  const ready = load().then(() => { if (focus) show(focus); });
  setInterval(load, 60_000);
  return {
    ready,
    setLang(l) {
      lang = l;
      draw();
    },
  };
}
