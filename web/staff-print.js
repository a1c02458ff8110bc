// Printing at a scale: staff choose the scale (1:500 … 1:10,000 or their own), the paper (A4 or
// A3, portrait or landscape), a title and a note. machizu says where the map goes on the sheet
// and at which zoom the scale is true at the map's centre (GET /print/layout); the map is drawn
// again off screen at that size and zoom, at print resolution, with the layers and labels now
// showing, and sent back with the sheet (POST /print), which returns the PDF.
import { maplibregl } from "/web/common.js";
import { legendGroups } from "/web/staff-tools.js";

const $ = (id) => document.getElementById(id);
const SCALES = [500, 1000, 2500, 5000, 10000];

/** The scale of the view now, at its centre, rounded to two significant figures. */
function viewScale(map) {
  const metresPerPx = 40075016.686 * Math.cos((map.getCenter().lat * Math.PI) / 180) / (512 * 2 ** map.getZoom());
  const scale = metresPerPx / (0.0254 / 96);
  const pow = 10 ** (Math.floor(Math.log10(scale)) - 1);
  return Math.round(scale / pow) * pow;
}

/** Draws the current map off screen at `layout`'s size and zoom; resolves to a PNG. */
async function drawMap(ctx, layout, center) {
  const box = document.createElement("div");
  const css = (px) => `${Math.round(px / layout.pixel_ratio)}px`;
  Object.assign(box.style, { position: "fixed", left: "-20000px", top: "0", width: css(layout.map_px[0]), height: css(layout.map_px[1]) });
  box.setAttribute("aria-hidden", "true");
  document.body.append(box);
  // Text on paper is finer than on a screen: labels that say so start earlier (地番 at 1:2,500).
  const style = ctx.map.getStyle();
  for (const layer of style.layers) {
    const printFrom = layer.metadata?.["machizu:label"]?.print_minzoom;
    if (printFrom !== undefined) layer.minzoom = printFrom;
  }
  const map = new maplibregl.Map({
    container: box,
    style,
    center,
    zoom: layout.zoom,
    pixelRatio: layout.pixel_ratio,
    interactive: false,
    attributionControl: false,
    fadeDuration: 0,
    canvasContextAttributes: { preserveDrawingBuffer: true },
  });
  try {
    await new Promise((resolve, reject) => {
      map.once("idle", resolve);
      setTimeout(() => reject(new Error("the map did not finish drawing in 60 s")), 60_000);
    });
    return await new Promise((resolve) => map.getCanvas().toBlob(resolve, "image/png"));
  } finally {
    map.remove();
    box.remove();
  }
}

export function setupScalePrint(ctx) {
  const dialog = $("print-dialog");
  const form = $("print-form");
  const t = () => ctx.t();
  const scaleSelect = form.elements.scale;
  const free = form.elements.free_scale;

  function fill() {
    const tt = t();
    $("print-dialog-title").textContent = tt.printScaleTitle;
    for (const el of form.querySelectorAll("[data-t]")) el.textContent = tt[el.dataset.t];
    scaleSelect.replaceChildren(...SCALES.map((s) => new Option(`1:${s.toLocaleString("en")}`, s)), new Option(tt.freeScale, "free"));
  }

  function showFree() {
    free.disabled = scaleSelect.value !== "free";
    free.closest("label").hidden = free.disabled;
  }

  $("print-scale").addEventListener("click", () => {
    fill();
    const now = viewScale(ctx.map);
    scaleSelect.value = String(SCALES.reduce((a, b) => (Math.abs(b - now) < Math.abs(a - now) ? b : a)));
    free.value = now;
    showFree();
    $("print-error").hidden = true;
    dialog.showModal();
    scaleSelect.focus();
  });
  scaleSelect.addEventListener("change", showFree);
  $("print-cancel").addEventListener("click", () => dialog.close());

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const tt = t();
    const error = $("print-error");
    error.hidden = true;
    const scale = scaleSelect.value === "free" ? Math.round(Number(free.value)) : Number(scaleSelect.value);
    const { lng, lat } = ctx.map.getCenter();
    const frame = { paper: form.elements.paper.value, orientation: form.elements.orientation.value, scale, lat };
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    $("print-progress").textContent = tt.printMaking;
    try {
      const query = new URLSearchParams(frame);
      const r = await ctx.api(`/print/layout?${query}`);
      const layout = await r.json();
      if (!r.ok) throw new Error(layout.message);
      const picture = await drawMap(ctx, layout, [lng, lat]);
      const sheet = {
        ...frame, lon: lng, zoom: layout.zoom, pixel_ratio: layout.pixel_ratio, lang: ctx.lang(),
        title: form.elements.title.value, note: form.elements.note.value, legend: legendGroups(ctx),
      };
      const body = new FormData();
      body.append("sheet", new Blob([JSON.stringify(sheet)], { type: "application/json" }));
      body.append("map", picture, "map.png");
      const answer = await ctx.api("/print", { method: "POST", body });
      if (!answer.ok) throw new Error((await answer.json().catch(() => ({}))).message ?? answer.status);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(await answer.blob());
      a.download = answer.headers.get("content-disposition")?.match(/filename="([^"]+)"/)?.[1] ?? "machizu.pdf";
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
      dialog.close();
      ctx.status(tt.printDone(`1:${scale.toLocaleString("en")}`));
    } catch (err) {
      if (err instanceof ctx.SignedOut) return;
      error.hidden = false;
      error.textContent = `${tt.printFailed} ${err.message}`;
      error.focus();
    } finally {
      submit.disabled = false;
      $("print-progress").textContent = "";
    }
  });
}
