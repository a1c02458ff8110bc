// Layers made from files (admins, in the staff map): upload a file as a new layer and see what
// the reader made of it (counts, skipped features, notes), then choose who sees the layer and
// each of its fields, replace its data or remove it. The server reads the file with the import
// pipeline (/admin/layers); a file it cannot take changes nothing, and the page says why.
import { buildLayerList } from "/web/common.js";
import { addFileLayer, fileLayerStyle, removeFileLayer } from "/web/file-layers.js";
import { addLabels } from "/web/labels.js";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

/** The message of a failed answer. */
async function failure(response) {
  return (await response.json().catch(() => ({}))).message ?? `HTTP ${response.status}`;
}

/** The report of a read file: the summary, then what was skipped and noticed. */
function reportOf(t, summary, report) {
  const box = el("div", {}, el("p", { textContent: summary }));
  for (const [heading, lines] of [[t.layerSkipped(report.skipped.length), report.skipped], [t.layerNotes, report.notes]]) {
    if (lines.length) box.append(el("p", { textContent: heading }), el("ul", {}, ...lines.map((l) => el("li", { textContent: l }))));
  }
  return box;
}

/**
 * Sets up the admin's panel; returns `show`, which shows it to admins (with their layers) and
 * hides it from everyone else, as whoever is signed in now.
 */
export function setupLayerAdmin(ctx) {
  const t = () => ctx.t();
  const lang = () => ctx.lang();
  const form = $("layer-add");
  const error = $("layer-error");
  const dialog = $("layer-dialog");

  /** Reads the catalog again and redraws `id` (gone if `removed`) and the layer list. */
  async function refresh(id, removed = false) {
    ctx.catalog = await (await ctx.api("/layers")).json();
    ctx.byId = new Map(ctx.catalog.layers.map((l) => [l.id, l]));
    const layer = ctx.byId.get(id);
    if (removed || !layer) removeFileLayer(ctx.map, id);
    else {
      const drawn = { sources: ctx.style.sources, layers: fileLayerStyle(ctx.style, layer).layers };
      const labels = addLabels(drawn, { layers: [layer] }, { lang: lang(), staffMap: true }).layers.filter((l) => l.type === "symbol");
      addFileLayer(ctx.map, ctx.style, layer, labels);
    }
    ctx.style = ctx.map.getStyle();
    buildLayerList($("layers"), { map: ctx.map, style: ctx.style, catalog: ctx.catalog, lang: lang(), withOpacity: true });
    await list();
  }

  async function list() {
    const { layers } = await (await ctx.api("/admin/layers")).json();
    const items = layers.map((layer) => {
      const title = layer.title[lang()] || layer.title.ja;
      const button = el("button", { type: "button", textContent: t().layerSettings });
      button.setAttribute("aria-label", `${t().layerSettings}: ${title}`);
      button.addEventListener("click", () => settings(layer));
      return el("li", {}, el("span", { textContent: `${title}（${layer.id}）` }), button);
    });
    $("file-layers").replaceChildren(...(items.length ? items : [el("li", { textContent: t().noFileLayers })]));
  }

  function fail(message) {
    error.hidden = false;
    error.textContent = `${t().layerFailed} ${message}`;
    error.focus();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    $("layer-report").replaceChildren();
    const invalid = [...form.elements].find((input) => input.willValidate && !input.checkValidity());
    if (invalid) {
      fail(`${invalid.closest("label")?.querySelector("span")?.textContent ?? invalid.name}: ${invalid.validationMessage}`);
      invalid.focus();
      return;
    }
    const body = new FormData(form);
    if (!body.get("title_en")) body.set("title_en", body.get("title_ja"));
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    $("layer-report").textContent = t().layerReading;
    try {
      const response = await ctx.api("/admin/layers", { method: "POST", body });
      if (!response.ok) {
        $("layer-report").replaceChildren();
        return fail(await failure(response));
      }
      const { layer, report } = await response.json();
      const title = layer.title[lang()] || layer.title.ja;
      $("layer-report").replaceChildren(reportOf(t(), t().layerMade(title, report.imported), report));
      form.reset();
      await refresh(layer.id);
    } catch (err) {
      if (!(err instanceof ctx.SignedOut)) fail(err.message);
    } finally {
      submit.disabled = false;
    }
  });

  /** The settings dialog of one layer: titles, who sees it and each field, data, removal. */
  function settings(layer) {
    const tt = t();
    const title = layer.title[lang()] || layer.title.ja;
    const f = $("layer-form");
    const input = (name, value, props = {}) => el("input", { name, value, ...props });
    const labelled = (text, control) => el("label", {}, el("span", { textContent: text }), control);
    const radio = (value, text) =>
      el("label", {}, el("input", { type: "radio", name: "visibility", value, checked: layer.visibility === value }), el("span", { textContent: text }));
    const rows = layer.attributes.map((a) => {
      const box = el("input", { type: "checkbox", name: `public:${a.name}`, checked: a.visibility === "public" });
      box.setAttribute("aria-label", tt.attributePublicOf(a.title.ja));
      return el("tr", {}, el("td", { textContent: a.title.ja }), el("td", { textContent: tt.types[a.type] ?? a.type }), el("td", {}, box));
    });
    const head = el("tr", {}, ...[tt.attributeName, tt.attributeType, tt.attributePublic].map((h) => el("th", { scope: "col", textContent: h })));
    const message = el("p", { className: "error", role: "alert", tabIndex: -1, hidden: true });
    const status = el("div", { role: "status" });
    const replaceFile = input("replace", "", { type: "file", accept: ".zip,.gpkg,.geojson,.json,.csv,.fgb" });
    const replace = el("button", { type: "button", textContent: tt.replaceData });
    const remove = el("button", { type: "button", className: "danger", textContent: tt.removeLayer });
    const close = el("button", { type: "button", textContent: tt.close });
    f.replaceChildren(
      el("h2", { id: "layer-dialog-title", textContent: tt.layerSettingsTitle(title) }),
      labelled(tt.layerTitleJa, input("title_ja", layer.title.ja, { required: true, maxLength: 60 })),
      labelled(tt.layerTitleEn, input("title_en", layer.title.en, { maxLength: 60, lang: "en" })),
      labelled(tt.layerAttribution, input("attribution", layer.file?.attribution ?? "", { maxLength: 120 })),
      el("fieldset", {}, el("legend", { textContent: tt.layerVisibility }), radio("staff", tt.staffOnly), radio("public", tt.publicToo)),
      el("table", {}, el("caption", { textContent: tt.attributesTitle }), el("thead", {}, head), el("tbody", {}, ...rows)),
      message,
      status,
      el("div", { className: "buttons" }, el("button", { type: "submit", className: "primary", textContent: tt.save }), close),
      el("fieldset", {}, el("legend", { textContent: tt.replaceData }), labelled(tt.replaceFile, replaceFile), replace),
      el("div", { className: "buttons" }, remove),
    );
    const say = (text, isError) => {
      message.hidden = !isError;
      message.textContent = isError ? text : "";
      status.replaceChildren(isError ? "" : text);
      if (isError) message.focus();
    };
    f.onsubmit = async (e) => {
      e.preventDefault();
      const ja = f.elements.title_ja.value.trim();
      if (!ja) return say(`${tt.layerTitleJa}: ${f.elements.title_ja.validationMessage || "—"}`, true);
      const attributes = Object.fromEntries(
        layer.attributes.map((a) => [a.name, { visibility: f.elements[`public:${a.name}`].checked ? "public" : "staff" }]),
      );
      const body = {
        title: { ja, en: f.elements.title_en.value.trim() || ja },
        visibility: f.elements.visibility.value,
        attribution: f.elements.attribution.value,
        attributes,
      };
      const response = await ctx.api(`/admin/layers/${layer.id}`, { method: "PATCH", body });
      if (!response.ok) return say(await failure(response), true);
      layer = (await response.json()).layer;
      say(tt.layerSaved(layer.title[lang()] || layer.title.ja));
      await refresh(layer.id);
    };
    replace.onclick = async () => {
      const file = replaceFile.files[0];
      if (!file) return say(`${tt.replaceFile}: ${replaceFile.validationMessage || tt.replaceFile}`, true);
      const body = new FormData();
      body.append("file", file);
      replace.disabled = true;
      try {
        const response = await ctx.api(`/admin/layers/${layer.id}/data`, { method: "PUT", body });
        if (!response.ok) return say(`${tt.layerReplaceFailed} ${await failure(response)}`, true);
        const { report } = await response.json();
        say(reportOf(tt, tt.layerReplaced(title, report.imported, report.replaced), report));
        await refresh(layer.id);
      } finally {
        replace.disabled = false;
      }
    };
    remove.onclick = async () => {
      if (!confirm(tt.removeConfirm(title))) return;
      const response = await ctx.api(`/admin/layers/${layer.id}`, { method: "DELETE" });
      if (!response.ok) return say(await failure(response), true);
      dialog.close();
      ctx.status(tt.layerRemoved(title));
      await refresh(layer.id, true);
    };
    close.onclick = () => dialog.close();
    dialog.showModal();
    f.elements.title_ja.focus();
  }

  function show() {
    $("layer-admin").hidden = ctx.role() !== "admin";
    if (ctx.role() === "admin") list();
  }
  show();
  return { show };
}
