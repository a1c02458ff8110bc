// Editing in the staff map: a form built from the layer's schema (code lists as choices, dates
// as date pickers, required fields marked), checked before it is sent, then written through
// OGC API – Features Part 4 with the feature's ETag: the server's field errors are shown by their
// fields, and a change made meanwhile by someone else is shown as a conflict.
import { valueLabel } from "/web/common.js";

/** The layers staff edit in the map. */
export const EDITABLE = new Set(["hazardous_buildings", "road_events"]);
const LONG_TEXT = new Set(["notes", "reason", "detour"]);
const NOT_EDITED = new Set(["source"]);
const $ = (id) => document.getElementById(id);

/** An RFC 3339 time as the value of a datetime-local input, in Japan time. */
export function toLocalInput(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? "" : new Date(ms + 9 * 3600_000).toISOString().slice(0, 16);
}

/** A datetime-local value (Japan time) as RFC 3339. */
export function fromLocalInput(value) {
  return value ? `${value}:00+09:00` : null;
}

function inputFor(attribute, lang) {
  let input;
  if (attribute.values?.length) {
    input = document.createElement("select");
    const options = attribute.required ? attribute.values : ["", ...attribute.values];
    for (const v of options) input.add(new Option(v ? valueLabel(lang, v) : "—", v));
  } else if (LONG_TEXT.has(attribute.name)) {
    input = document.createElement("textarea");
    input.rows = 3;
  } else {
    input = document.createElement("input");
    input.type = { date: "date", datetime: "datetime-local", integer: "number", real: "number" }[attribute.type] ?? "text";
    if (attribute.type === "real") input.step = "any";
  }
  input.name = attribute.name;
  input.required = attribute.required;
  return input;
}

function readValue(attribute, input) {
  const v = input.value.trim();
  if (v === "") return null;
  if (attribute.type === "datetime") return fromLocalInput(v);
  if (attribute.type === "integer" || attribute.type === "real") return Number(v);
  return v;
}

function writeValue(attribute, input, value) {
  if (value === null || value === undefined) input.value = "";
  else if (attribute.type === "datetime") input.value = toLocalInput(value);
  else input.value = String(value);
}

/**
 * Opens the form for feature `id` of `layerId`, or for a new feature with `geometry` when
 * `id` is null.
 */
export async function openEditor(ctx, layerId, id, geometry) {
  const { t, lang } = ctx;
  const layer = ctx.byId.get(layerId);
  const attributes = layer.attributes.filter((a) => !NOT_EDITED.has(a.name));
  const item = `/ogc/collections/${layerId}/items`;
  const dialog = $("editor");
  const form = $("edit-form");
  form.replaceChildren();
  form.dataset.layer = layerId;
  const heading = document.createElement("h2");
  heading.textContent = `${layer.title[lang()]} — ${id === null ? "+" : t().edit}`;
  const alert = Object.assign(document.createElement("div"), { id: "edit-error", role: "alert", hidden: true });
  form.append(heading, alert);
  const inputs = new Map();
  for (const a of attributes) {
    const label = document.createElement("label");
    const title = document.createElement("span");
    title.textContent = a.title[lang()] + (a.required ? " *" : "");
    const input = inputFor(a, lang());
    const error = Object.assign(document.createElement("span"), { className: "field-error", hidden: true });
    error.dataset.for = a.name;
    label.append(title, input, error);
    form.append(label);
    inputs.set(a.name, { a, input, error });
  }
  const buttons = document.createElement("div");
  buttons.className = "buttons";
  const save = Object.assign(document.createElement("button"), { type: "submit", textContent: t().save, className: "primary" });
  const cancel = Object.assign(document.createElement("button"), { type: "button", textContent: t().cancel });
  cancel.addEventListener("click", () => dialog.close());
  buttons.append(save, cancel);
  form.append(buttons);

  let etag = null;
  let original = {};
  async function load() {
    const response = await ctx.api(`${item}/${id}`);
    etag = response.headers.get("ETag");
    original = (await response.json()).properties;
    for (const { a, input } of inputs.values()) writeValue(a, input, original[a.name]);
  }
  if (id !== null) await load();

  function showAlert(message, withReload) {
    alert.hidden = false;
    alert.replaceChildren(document.createTextNode(message));
    if (withReload) {
      const reload = Object.assign(document.createElement("button"), { type: "button", textContent: t().reload });
      reload.addEventListener("click", async () => {
        await load();
        alert.hidden = true;
      });
      alert.append(" ", reload);
    }
  }

  /** The form's problems before anything is sent. */
  function check(values) {
    const problems = new Map();
    for (const { a } of inputs.values()) {
      if (a.required && values[a.name] === null) problems.set(a.name, t().required);
    }
    if (layerId === "road_events" && values.starts_at && values.ends_at && Date.parse(values.ends_at) <= Date.parse(values.starts_at)) {
      problems.set("ends_at", t().endsBeforeStarts);
    }
    return problems;
  }

  function showFieldErrors(problems) {
    for (const { a, error } of inputs.values()) {
      error.hidden = !problems.has(a.name);
      error.textContent = problems.get(a.name) ?? "";
    }
  }

  form.onsubmit = async (e) => {
    e.preventDefault();
    alert.hidden = true;
    const values = {};
    for (const { a, input } of inputs.values()) values[a.name] = readValue(a, input);
    const problems = check(values);
    showFieldErrors(problems);
    if (problems.size) return;
    let response;
    if (id === null) {
      response = await ctx.api(item, { method: "POST", body: { type: "Feature", geometry, properties: values } });
    } else {
      const changed = Object.fromEntries(Object.entries(values).filter(([k, v]) => v !== (original[k] ?? null)));
      response = await ctx.api(`${item}/${id}`, { method: "PATCH", body: { properties: changed }, headers: { "If-Match": etag } });
    }
    if (response.ok) {
      dialog.close();
      ctx.status(t().saved);
      ctx.refreshTiles();
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (response.status === 412) return showAlert(t().conflict, true);
    if (response.status === 422 && body.errors) {
      const byField = new Map();
      const general = [];
      for (const { path, message } of body.errors) {
        const name = path.replace(/^properties\./, "");
        if (inputs.has(name)) byField.set(name, message);
        else general.push(`${path}: ${message}`);
      }
      showFieldErrors(byField);
      showAlert(`${t().serverRejected} ${general.join("; ") || [...byField.values()].join("; ")}`);
      return;
    }
    showAlert(`${t().serverRejected} ${body.message ?? response.status}`);
  };
  dialog.showModal();
}

/** Lets the user draw a line on the map; resolves to its GeoJSON geometry (null if abandoned). */
export function drawLine(ctx) {
  const { map } = ctx;
  const points = [];
  const draft = () => ({
    type: "FeatureCollection",
    features: points.length > 1 ? [{ type: "Feature", geometry: { type: "LineString", coordinates: points }, properties: {} }] : [],
  });
  if (!map.getSource("draft")) {
    map.addSource("draft", { type: "geojson", data: draft() });
    map.addLayer({ id: "draft", type: "line", source: "draft", paint: { "line-color": "#d55e00", "line-width": 4, "line-dasharray": [1, 1] } });
  }
  ctx.busy = true;
  map.doubleClickZoom.disable();
  map.getCanvas().style.cursor = "crosshair";
  ctx.status(ctx.t().drawLineHint);
  return new Promise((resolve) => {
    const click = (e) => {
      points.push([e.lngLat.lng, e.lngLat.lat]);
      map.getSource("draft").setData(draft());
    };
    const finish = (e) => {
      e?.preventDefault?.();
      map.off("click", click);
      map.off("dblclick", finish);
      document.removeEventListener("keydown", escape);
      ctx.busy = false;
      map.getCanvas().style.cursor = "";
      setTimeout(() => map.doubleClickZoom.enable(), 0);
      ctx.status("");
      map.getSource("draft").setData({ type: "FeatureCollection", features: [] });
      // A double-click adds its point twice; keep distinct points.
      const line = points.filter((p, i) => i === 0 || p[0] !== points[i - 1][0] || p[1] !== points[i - 1][1]);
      resolve(e && line.length >= 2 ? { type: "LineString", coordinates: line } : null);
    };
    const escape = (e) => e.key === "Escape" && finish(null);
    map.on("click", click);
    map.on("dblclick", finish);
    document.addEventListener("keydown", escape);
  });
}
