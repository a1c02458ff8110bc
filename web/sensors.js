// Gauges and cameras on both maps: a tap on a station opens its latest reading, its state in
// words and a chart of the last 24 hours with the threshold lines (staff: also 7 days and the
// season, and CSV); a tap on a camera opens its latest image with the time it was taken.
// Charts are SVG drawn here, with a text summary beside them for screen readers and for anyone
// who cannot read a chart; states are told in words and by line pattern, never by colour alone.
import { strings } from "/web/common.js";

const SVG = "http://www.w3.org/2000/svg";
// The level lines, lowest first (Okabe–Ito: readable with colour-vision deficiencies), each
// also with its own dash pattern.
const LEVEL_COLOURS = ["#0072b2", "#e69f00", "#d55e00", "#7b2d8e"];
const LEVEL_DASHES = ["6 3", "3 3", "8 2 2 2", "1 2"];

function el(tag, attributes = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attributes = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A time in Japan, as people there read it. */
function jst(iso, lang, withDate = false) {
  const options = { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit" };
  if (withDate) Object.assign(options, { month: "numeric", day: "numeric" });
  return new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "ja-JP", options);
}

function ago(iso, lang) {
  const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60_000));
  return strings(lang).minutesAgo(minutes);
}

/** A number as a chart tick: few digits. */
function tick(v) {
  return Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1);
}

/**
 * An SVG chart of `series` (from /sensors/datastreams/{id}/series): the values (a day) or the
 * hourly min–max band with the mean (longer), and each threshold up to the first above the
 * values, as labelled dashed lines.
 */
export function chart(series, lang) {
  const t = strings(lang);
  const W = 320, H = 170, left = 38, right = 8, top = 8, bottom = 22;
  const day = series.points.length > 0 || series.hours.length === 0;
  const rows = day
    ? series.points.map(([time, v]) => ({ x: Date.parse(time), lo: v, mid: v, hi: v }))
    : series.hours.map((h) => ({ x: Date.parse(h.hour) + 1_800_000, lo: h.min, mid: h.mean, hi: h.max }));
  const x0 = Date.parse(series.from), x1 = Date.parse(series.to);
  let lo = Math.min(...rows.map((r) => r.lo)), hi = Math.max(...rows.map((r) => r.hi));
  if (!rows.length) [lo, hi] = [0, 1];
  // The levels reached, and the next one up, so that the distance to it shows.
  const levels = [];
  for (const l of series.levels) {
    levels.push(l);
    if (l.value > hi) break;
  }
  for (const l of levels) [lo, hi] = [Math.min(lo, l.value), Math.max(hi, l.value)];
  const pad = (hi - lo) * 0.08 || 0.5;
  [lo, hi] = [lo - pad, hi + pad];
  const X = (x) => left + ((x - x0) / (x1 - x0)) * (W - left - right);
  const Y = (v) => top + (1 - (v - lo) / (hi - lo)) * (H - top - bottom);

  const id = `chart-${series.datastream}-${series.period}`;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": `${id}-title` });
  root.append(svg("title", { id: `${id}-title` }, `${series.name}: ${t.chartOf[series.period]}`));
  root.append(svg("rect", { x: left, y: top, width: W - left - right, height: H - top - bottom, class: "plot" }));
  for (let i = 0; i <= 3; i++) {
    const v = lo + ((hi - lo) * i) / 3;
    root.append(svg("line", { x1: left, x2: W - right, y1: Y(v), y2: Y(v), class: "grid" }));
    root.append(svg("text", { x: left - 4, y: Y(v) + 3, "text-anchor": "end", class: "tick" }, tick(v)));
  }
  // Time ticks: every 6 hours for a day, every day for a week, every two weeks for the season.
  const step = { day: 6 * 3_600_000, week: 86_400_000, season: 14 * 86_400_000 }[series.period];
  const offset = 9 * 3_600_000; // ticks on JST boundaries
  for (let x = Math.ceil((x0 + offset) / step) * step - offset; x <= x1; x += step) {
    root.append(svg("line", { x1: X(x), x2: X(x), y1: top, y2: H - bottom, class: "grid" }));
    const label = series.period === "day" ? jst(new Date(x).toISOString(), lang) : jst(new Date(x).toISOString(), lang, true).split(" ")[0];
    root.append(svg("text", { x: X(x), y: H - 6, "text-anchor": "middle", class: "tick" }, label));
  }
  levels.forEach((l, n) => {
    root.append(svg("line", {
      x1: left, x2: W - right, y1: Y(l.value), y2: Y(l.value), class: "level",
      stroke: LEVEL_COLOURS[n % 4], "stroke-dasharray": LEVEL_DASHES[n % 4],
    }));
    root.append(svg("text", { x: W - right - 2, y: Y(l.value) - 3, "text-anchor": "end", class: "level-name" },
      `${lang === "en" ? l.name_en : l.name_ja} ${l.value}`));
  });
  if (!day && rows.length) {
    const band = [...rows.map((r) => `${X(r.x)},${Y(r.hi)}`), ...rows.toReversed().map((r) => `${X(r.x)},${Y(r.lo)}`)];
    root.append(svg("polygon", { points: band.join(" "), class: "band" }));
  }
  if (rows.length) {
    root.append(svg("polyline", { points: rows.map((r) => `${X(r.x)},${Y(r.mid)}`).join(" "), class: "values" }));
  }
  return root;
}

/** The words beside a chart: the latest value and its time, the state, the range. */
export function summary(series, feature, lang) {
  const t = strings(lang);
  const values = series.points.length ? series.points.map(([, v]) => v) : series.hours.flatMap((h) => [h.min, h.max]);
  const parts = [];
  if (feature.state_class === "missing") {
    parts.push(`${t.stateLabel}: ${lang === "en" ? "no data" : "欠測"}`);
    if (feature.observed_at) parts.push(`${t.lastReading} ${jst(feature.observed_at, lang, true)}`);
  } else if (feature.value !== undefined && feature.value !== null) {
    parts.push(`${t.latest} ${feature.value} ${series.unit}（${jst(feature.observed_at, lang)}・${ago(feature.observed_at, lang)}）`);
    const state = lang === "en" ? feature.state_name_en : feature.state_name;
    if (state) parts.push(`${t.stateLabel}: ${state}`);
  }
  if (values.length) {
    parts.push(`${t.chartOf[series.period]}: ${t.highest} ${Math.max(...values)} ${series.unit}・${t.lowest} ${Math.min(...values)} ${series.unit}`);
  } else {
    parts.push(t.noReadings);
  }
  return parts;
}

/**
 * A station's panel for a popup: name, latest reading and state in words, and the chart of
 * the last 24 hours. `api(path)` fetches from the map's API; `staff` adds 7 days, the season
 * and CSV export.
 */
export function stationPanel(feature, { api, lang, staff = false, csvBase = "" }) {
  const t = strings(lang);
  const box = el("section", { class: "station", "aria-label": feature.station });
  box.append(el("h2", {}, feature.station));
  if (feature.observed) box.append(el("p", { class: "observed" }, feature.observed));
  const state = el("p", { class: `state state-${feature.state_class}` });
  box.append(state);
  const said = el("ul", { class: "chart-summary", "aria-live": "polite" });
  const figure = el("div", { class: "chart-box" });
  box.append(said, figure);
  if (String(feature.synthetic) === "true") box.append(el("p", { class: "synthetic" }, t.syntheticStation));
  let period = "day";
  const show = async () => {
    figure.replaceChildren(el("p", {}, t.loading));
    const r = await api(`/sensors/datastreams/${feature.datastream_id}/series?period=${period}`);
    if (!r.ok) {
      figure.replaceChildren(el("p", { role: "alert" }, t.chartFailed));
      return;
    }
    const series = await r.json();
    const name = lang === "en" ? feature.state_name_en : feature.state_name;
    state.textContent = feature.state_class === "missing" ? (lang === "en" ? "No data (欠測)" : "欠測")
      : (feature.value_text ? `${feature.value_text}${name ? `・${name}` : ""}` : name ?? "");
    said.replaceChildren(...summary(series, feature, lang).map((s) => el("li", {}, s)));
    figure.replaceChildren(chart(series, lang));
  };
  if (staff) {
    const periods = el("div", { class: "periods", role: "group", "aria-label": t.period });
    for (const p of ["day", "week", "season"]) {
      const b = el("button", { type: "button", "data-period": p, "aria-pressed": String(p === period) }, t.periodName[p]);
      b.addEventListener("click", () => {
        period = p;
        for (const o of periods.querySelectorAll("button")) o.setAttribute("aria-pressed", String(o === b));
        csv.href = `${csvBase}/sensors/datastreams/${feature.datastream_id}/series?period=${period}&format=csv`;
        show();
      });
      periods.append(b);
    }
    const csv = el("a", { class: "csv", download: "" }, t.csvExport);
    csv.href = `${csvBase}/sensors/datastreams/${feature.datastream_id}/series?period=${period}&format=csv`;
    box.append(periods, csv);
  }
  show();
  return box;
}

/** A camera's panel: its latest image with the time it was taken. */
export function cameraPanel(feature, { base = "", lang }) {
  const t = strings(lang);
  const box = el("section", { class: "camera", "aria-label": feature.name });
  box.append(el("h2", {}, feature.name));
  if (!feature.latest_at) {
    box.append(el("p", {}, t.noImage));
    return box;
  }
  const figure = el("figure");
  const taken = `${t.takenAt} ${jst(feature.latest_at, lang, true)}（${ago(feature.latest_at, lang)}）`;
  const img = el("img", {
    src: `${base}/sensors/cameras/${feature.camera_id}/latest.jpg?t=${encodeURIComponent(feature.latest_at)}`,
    alt: `${feature.name}: ${t.latestImage}（${taken}）`,
  });
  img.addEventListener("error", () => figure.replaceChildren(el("p", { role: "alert" }, t.imageFailed)));
  figure.append(img, el("figcaption", {}, taken));
  box.append(figure);
  if (String(feature.synthetic) === "true") box.append(el("p", { class: "synthetic" }, t.syntheticCamera));
  return box;
}
