// Notices in the staff map: every notice (drafts, cancelled and ended ones too) listed with its
// state and push delivery counts (sent, failed, gone, waiting); a form to write, update and
// cancel one, with its area chosen from the districts, drawn on the map, or a buffer around a
// feature picked on the map. Drawing works by keyboard too: the map pans with the arrow keys and
// "add the map centre" adds a corner. Everything goes through /staff/api/notices.
import { bounds } from "/web/notices.js";
import { fromLocalInput, toLocalInput } from "/web/staff-edit.js";

const $ = (id) => document.getElementById(id);
const CATEGORIES = ["snow", "road", "river", "lifeline", "disaster", "other"];
const SEVERITIES = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
const URGENCIES = ["Immediate", "Expected", "Future", "Past", "Unknown"];
const CERTAINTIES = ["Observed", "Likely", "Possible", "Unlikely", "Unknown"];
const EMPTY = { type: "FeatureCollection", features: [] };


function field(labelText, input, hint) {
  const label = document.createElement("label");
  const span = document.createElement("span");
  span.textContent = labelText;
  label.append(span, input);
  if (hint) label.append(Object.assign(document.createElement("small"), { textContent: hint }));
  return label;
}

function select(name, values, text, value) {
  const s = document.createElement("select");
  s.name = name;
  for (const v of values) s.add(new Option(text(v), v));
  s.value = value;
  return s;
}

export function setupNotices(ctx) {
  const { map } = ctx;
  let notices = [];
  let districts = null;

  const areaSource = () => {
    if (!map.getSource("notice-draft")) {
      map.addSource("notice-draft", { type: "geojson", data: EMPTY });
      map.addLayer({ id: "notice-draft-fill", type: "fill", source: "notice-draft", filter: ["==", "$type", "Polygon"],
        paint: { "fill-color": "#d55e00", "fill-opacity": 0.15 } });
      map.addLayer({ id: "notice-draft-line", type: "line", source: "notice-draft",
        paint: { "line-color": "#d55e00", "line-width": 3, "line-dasharray": [2, 1] } });
      map.addLayer({ id: "notice-draft-points", type: "circle", source: "notice-draft", filter: ["==", "$type", "Point"],
        paint: { "circle-radius": 5, "circle-color": "#d55e00", "circle-stroke-color": "#000", "circle-stroke-width": 1 } });
    }
    return map.getSource("notice-draft");
  };

  async function loadDistricts() {
    if (districts) return districts;
    const r = await ctx.api("/ogc/collections/districts/items?limit=500");
    districts = r.ok ? (await r.json()).features.map((f) => f.properties).filter((p) => p.name) : [];
    return districts;
  }

  async function refresh() {
    const r = await ctx.api("/notices?all=true");
    if (!r.ok) return;
    notices = (await r.json()).items.map((i) => i._machizu);
    draw();
  }

  function stateOf(n, t) {
    if (n.status === "published" && Date.parse(n.ends_at) <= Date.now()) return t.noticeState.ended;
    return t.noticeState[n.status];
  }

  function draw() {
    const t = ctx.t();
    const list = $("notice-list");
    list.replaceChildren();
    if (!notices.length) list.append(Object.assign(document.createElement("li"), { textContent: t.noNotices }));
    for (const n of notices) {
      const li = document.createElement("li");
      li.className = "notice-row";
      const head = document.createElement("p");
      const strong = document.createElement("strong");
      strong.textContent = `【${t.severity[n.severity]}】${ctx.lang() === "en" && n.title_en ? n.title_en : n.title}`;
      head.append(strong, ` — ${stateOf(n, t)}`);
      const meta = document.createElement("p");
      meta.className = "notice-meta";
      meta.textContent = `${t.category[n.category]}・${t.noticeArea}: ${ctx.lang() === "en" ? n.area_desc_en : n.area_desc}`;
      const d = n.delivery ?? {};
      const counts = document.createElement("p");
      counts.className = "delivery";
      counts.textContent = t.deliveryCounts(d.sent ?? 0, d.failed ?? 0, d.gone ?? 0, d.pending ?? 0);
      const buttons = document.createElement("div");
      buttons.className = "buttons";
      const show = Object.assign(document.createElement("button"), { type: "button", textContent: t.showOnMap });
      show.addEventListener("click", () => fit(n.area));
      buttons.append(show);
      if (n.status !== "cancelled") {
        const edit = Object.assign(document.createElement("button"), { type: "button", textContent: t.edit });
        edit.addEventListener("click", () => openForm(n));
        const cancel = Object.assign(document.createElement("button"), { type: "button", textContent: t.cancelNotice });
        cancel.addEventListener("click", () => cancelNotice(n));
        buttons.append(edit, cancel);
      }
      for (const b of buttons.children) b.setAttribute("aria-describedby", `notice-title-${n.id}`);
      strong.id = `notice-title-${n.id}`;
      li.append(head, meta, counts, buttons);
      list.append(li);
    }
  }

  function fit(area) {
    map.fitBounds(bounds(area), { padding: 40, maxZoom: 16, duration: 0 });
    areaSource().setData({ type: "Feature", geometry: area, properties: {} });
  }

  async function cancelNotice(n) {
    const t = ctx.t();
    if (!window.confirm(t.confirmCancelNotice(n.title))) return;
    const r = await ctx.api(`/notices/${n.id}`, { method: "DELETE", headers: { "If-Match": `"${n.version}"` } });
    ctx.status(r.ok ? t.noticeCancelled : `${t.serverRejected} ${(await r.json().catch(() => ({}))).message ?? r.status}`);
    await refresh();
  }

  /**
   * Leaves the dialog so the user can work on the map: `mode` "draw" collects corners (a click,
   * or "add the map centre"), "pick" takes the feature clicked. Resolves to a Polygon, a
   * {layer, fid, name} or null when abandoned.
   */
  function onMap(mode) {
    const t = ctx.t();
    const dialog = $("notice-dialog");
    dialog.close();
    const bar = $("map-task");
    bar.hidden = false;
    $("map-task-hint").textContent = mode === "draw" ? t.drawAreaHint : t.pickFeatureHint;
    $("map-task-centre").hidden = mode !== "draw";
    $("map-task-done").hidden = mode !== "draw";
    const points = [];
    ctx.busy = true;
    map.doubleClickZoom.disable();
    map.getCanvas().style.cursor = "crosshair";
    const show = () => {
      const features = points.map((p) => ({ type: "Feature", geometry: { type: "Point", coordinates: p }, properties: {} }));
      if (points.length >= 3) features.push({ type: "Feature", geometry: { type: "Polygon", coordinates: [[...points, points[0]]] }, properties: {} });
      else if (points.length === 2) features.push({ type: "Feature", geometry: { type: "LineString", coordinates: points }, properties: {} });
      areaSource().setData({ type: "FeatureCollection", features });
      $("map-task-count").textContent = mode === "draw" ? t.cornersAdded(points.length) : "";
    };
    show();
    $(mode === "draw" ? "map-task-centre" : "map-task-cancel").focus();
    return new Promise((resolve) => {
      const finish = (value) => {
        map.off("click", click);
        map.off("dblclick", done);
        for (const [id, f] of handlers) $(id).removeEventListener("click", f);
        document.removeEventListener("keydown", escape);
        bar.hidden = true;
        ctx.busy = false;
        map.getCanvas().style.cursor = "";
        setTimeout(() => map.doubleClickZoom.enable(), 0);
        dialog.showModal();
        resolve(value);
      };
      const polygon = () => {
        const ring = points.filter((p, i) => i === 0 || p[0] !== points[i - 1][0] || p[1] !== points[i - 1][1]);
        return ring.length >= 3 ? { type: "Polygon", coordinates: [[...ring, ring[0]]] } : null;
      };
      const click = (e) => {
        if (mode === "draw") {
          points.push([e.lngLat.lng, e.lngLat.lat]);
          return show();
        }
        const { x, y } = e.point;
        const f = map.queryRenderedFeatures([[x - 4, y - 4], [x + 4, y + 4]]).find((x) => x.layer.metadata?.["machizu:layer"] && x.id !== undefined);
        if (!f) return;
        const layer = f.layer.metadata["machizu:layer"];
        const title = ctx.byId.get(layer)?.title[ctx.lang()] ?? layer;
        finish({ layer, fid: f.id, name: `${title} ${f.properties.name ?? f.properties.label ?? f.id}` });
      };
      const done = (e) => {
        e?.preventDefault?.();
        finish(polygon());
      };
      const centre = () => {
        const c = map.getCenter();
        points.push([c.lng, c.lat]);
        show();
      };
      const escape = (e) => e.key === "Escape" && finish(null);
      const handlers = [["map-task-centre", centre], ["map-task-done", done], ["map-task-cancel", () => finish(null)]];
      for (const [id, f] of handlers) $(id).addEventListener("click", f);
      map.on("click", click);
      if (mode === "draw") map.on("dblclick", done);
      document.addEventListener("keydown", escape);
    });
  }

  /** The form for notice `n`, or a new notice when `n` is undefined. */
  async function openForm(n) {
    const t = ctx.t();
    const lang = ctx.lang();
    const dialog = $("notice-dialog");
    const form = $("notice-form");
    form.replaceChildren();
    const heading = Object.assign(document.createElement("h2"), { id: "notice-dialog-title" });
    heading.textContent = n ? `${t.editNotice}: ${n.title}` : t.newNotice;
    const alert = Object.assign(document.createElement("div"), { id: "notice-error", role: "alert", hidden: true });
    const input = (name, value = "", attrs = {}) => Object.assign(document.createElement("input"), { name, value, ...attrs });
    const text = (name, value = "") => Object.assign(document.createElement("textarea"), { name, value, rows: 3 });
    const ends = n?.ends_at ?? new Date(Date.now() + 6 * 3600_000).toISOString();
    const starts = n?.starts_at ?? new Date().toISOString();
    form.append(heading, alert,
      field(`${t.noticeTitle} *`, input("title", n?.title, { required: true, maxLength: 200 })),
      field(`${t.noticeBody} *`, text("body", n?.body)),
      field(t.noticeTitleEn, input("title_en", n?.title_en ?? "", { lang: "en" })),
      field(t.noticeBodyEn, Object.assign(text("body_en", n?.body_en ?? ""), { lang: "en" })),
      field(t.categoryLabel, select("category", CATEGORIES, (c) => t.category[c], n?.category ?? "snow")),
      field(t.severityLabel, select("severity", SEVERITIES, (s) => t.severity[s], n?.severity ?? "Moderate")),
      field(t.urgencyLabel, select("urgency", URGENCIES, (u) => t.urgency[u], n?.urgency ?? "Expected")),
      field(t.certaintyLabel, select("certainty", CERTAINTIES, (c) => t.certainty[c], n?.certainty ?? "Likely")),
      field(t.startsAt, input("starts_at", toLocalInput(starts), { type: "datetime-local" })),
      field(`${t.endsAt} *`, input("ends_at", toLocalInput(ends), { type: "datetime-local", required: true })));

    // The area: a district, a drawn polygon, or a buffer around a feature.
    const spec = n?.area_spec ?? {};
    let kind = spec.district !== undefined ? "district" : spec.buffer_m !== undefined ? "buffer" : n ? "drawn" : "district";
    let drawn = kind === "drawn" ? n.area : null;
    const titleOf = (layer) => ctx.byId.get(layer)?.title[lang] ?? layer;
    let picked = kind === "buffer" ? { layer: spec.layer, fid: spec.fid, name: `${titleOf(spec.layer)} ${spec.fid}` } : null;
    const area = document.createElement("fieldset");
    area.append(Object.assign(document.createElement("legend"), { textContent: `${t.noticeArea} *` }));
    const kinds = document.createElement("div");
    kinds.className = "choices";
    for (const k of ["district", "drawn", "buffer"]) {
      const radio = input("area_kind", k, { type: "radio", checked: k === kind, id: `area-kind-${k}` });
      const label = Object.assign(document.createElement("label"), { htmlFor: radio.id, textContent: t.areaKind[k] });
      radio.addEventListener("change", () => {
        kind = k;
        showKind();
      });
      kinds.append(radio, label);
    }
    const districtBox = document.createElement("div");
    const districtSelect = Object.assign(document.createElement("select"), { name: "district" });
    for (const d of await loadDistricts()) districtSelect.add(new Option(lang === "en" && d.name_en ? d.name_en : d.name, d.code ?? d.name));
    if (spec.district !== undefined) districtSelect.value = spec.district;
    districtBox.append(field(t.district, districtSelect));
    const drawnBox = document.createElement("div");
    const drawnState = Object.assign(document.createElement("p"), { className: "area-state" });
    const drawButton = Object.assign(document.createElement("button"), { type: "button", textContent: t.drawArea });
    drawnBox.append(drawButton, drawnState);
    const bufferBox = document.createElement("div");
    const pickedState = Object.assign(document.createElement("p"), { className: "area-state" });
    const pickButton = Object.assign(document.createElement("button"), { type: "button", textContent: t.pickFeature });
    const metres = input("buffer_m", String(spec.buffer_m ?? 300), { type: "number", min: 1, max: 20000, step: 1 });
    bufferBox.append(pickButton, pickedState, field(t.bufferMetres, metres));
    const showKind = () => {
      districtBox.hidden = kind !== "district";
      drawnBox.hidden = kind !== "drawn";
      bufferBox.hidden = kind !== "buffer";
      drawnState.textContent = drawn ? t.areaDrawn(drawn.coordinates[0].length - 1) : t.noAreaYet;
      pickedState.textContent = picked ? `${t.pickedFeature}: ${picked.name}` : t.noAreaYet;
      areaSource().setData(kind === "drawn" && drawn ? { type: "Feature", geometry: drawn, properties: {} } : EMPTY);
    };
    drawButton.addEventListener("click", async () => {
      drawn = (await onMap("draw")) ?? drawn;
      showKind();
      drawButton.focus();
    });
    pickButton.addEventListener("click", async () => {
      picked = (await onMap("pick")) ?? picked;
      showKind();
      pickButton.focus();
    });
    area.append(kinds, districtBox, drawnBox, bufferBox);
    form.append(area);
    showKind();

    const buttons = document.createElement("div");
    buttons.className = "buttons";
    const publish = Object.assign(document.createElement("button"), { type: "submit", value: "published", className: "primary",
      textContent: n?.status === "published" ? t.updateNotice : t.publishNotice });
    buttons.append(publish);
    if (!n || n.status === "draft") {
      buttons.append(Object.assign(document.createElement("button"), { type: "submit", value: "draft", textContent: t.saveDraft }));
    }
    const close = Object.assign(document.createElement("button"), { type: "button", textContent: t.cancel });
    close.addEventListener("click", () => dialog.close());
    buttons.append(close);
    form.append(buttons);

    form.onsubmit = async (e) => {
      e.preventDefault();
      const f = form.elements;
      const value = (name) => f[name].value.trim() || null;
      let areaValue = null;
      if (kind === "district") areaValue = districtSelect.value ? { district: districtSelect.value } : null;
      if (kind === "drawn") areaValue = drawn;
      if (kind === "buffer" && picked) areaValue = { buffer_m: Number(metres.value), layer: picked.layer, fid: picked.fid };
      const problems = [];
      if (!value("title")) problems.push(t.noticeTitle);
      if (!value("body")) problems.push(t.noticeBody);
      if (!value("ends_at")) problems.push(t.endsAt);
      if (!areaValue) problems.push(t.noticeArea);
      if (problems.length) return showAlert(`${t.required}: ${problems.join("、")}`);
      const body = {
        title: value("title"), body: value("body"), title_en: value("title_en"), body_en: value("body_en"),
        category: f.category.value, severity: f.severity.value, urgency: f.urgency.value, certainty: f.certainty.value,
        starts_at: fromLocalInput(value("starts_at")), ends_at: fromLocalInput(value("ends_at")), area: areaValue,
        status: e.submitter?.value === "draft" ? "draft" : "published",
      };
      for (const k of ["title_en", "body_en", "starts_at"]) if (body[k] === null && !n) delete body[k];
      const r = n
        ? await ctx.api(`/notices/${n.id}`, { method: "PATCH", body, headers: { "If-Match": `"${n.version}"` } })
        : await ctx.api("/notices", { method: "POST", body });
      if (r.ok) {
        dialog.close();
        ctx.status(body.status === "draft" ? t.noticeSavedDraft : t.noticePublished);
        areaSource().setData(EMPTY);
        await refresh();
        return;
      }
      const answer = await r.json().catch(() => ({}));
      showAlert(r.status === 412 ? t.noticeConflict : `${t.serverRejected} ${answer.message ?? r.status}`);
    };
    function showAlert(message) {
      alert.hidden = false;
      alert.textContent = message;
      alert.focus?.();
    }
    dialog.showModal();
    form.elements.title.focus();
  }

  $("new-notice").addEventListener("click", () => openForm());
  $("notices-staff").addEventListener("toggle", (e) => e.target.open && refresh());
  refresh();
  setInterval(() => $("notices-staff").open && refresh(), 30_000);
  return { refresh, draw };
}
