// Map text: one symbol layer per labelled catalog layer the style draws (the catalog says which
// attribute and from which zoom: 地番 on parcels from z17, road names along the roads, names of
// points), on top of everything, following the language switch. Polygon layers are labelled at
// the label points their tiles carry (`<id>_label`: one per polygon, in the tile that holds it),
// lines along the line, points beside the point. MapLibre keeps labels from overlapping.
//
// Text is drawn in the browser from the device's own fonts (the style has no `glyphs` URL, so
// MapLibre renders every glyph locally): nothing is downloaded for it, from us or anyone else.
// docs/benchmarks.md ("Map text") has the measurements behind this choice.
import { catalogLayerOf } from "/web/common.js";
import en from "/web/i18n/en.js";

/** Japanese first: Noto (Linux, Android), Hiragino (Apple), Yu Gothic and Meiryo (Windows). */
export const LABEL_FONT = ["Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", "Meiryo", "sans-serif"];

/** The text a label shows in `lang`: the English attribute, or the value with code-list values translated. */
function textField(label, lang) {
  const text = ["to-string", ["get", label.text]];
  if (lang !== "en") return text;
  if (label.text_en) return ["coalesce", ["get", label.text_en], text];
  const pairs = Object.entries(en.values).flat();
  return pairs.length ? ["match", text, ...pairs, text] : text;
}

/** Layout and paint by geometry: along lines, centred on label points, beside points. */
function look(geometry) {
  const paint = { "text-color": "#1a1a1a", "text-halo-color": "#ffffff", "text-halo-width": 1.6 };
  if (geometry === "line") {
    return { layout: { "symbol-placement": "line", "text-size": 12, "text-max-angle": 30, "symbol-spacing": 300 }, paint };
  }
  if (geometry === "polygon") return { layout: { "text-size": 11, "text-padding": 1 }, paint };
  return {
    layout: { "text-size": 12, "text-anchor": "top", "text-offset": [0, 0.7], "text-max-width": 10, "text-optional": true },
    paint,
  };
}

/**
 * Adds the label layers to `style` (before the map is made) for the catalog's labelled layers
 * that `style` draws; `staffMap` includes those shown in the staff map only.
 */
export function addLabels(style, catalog, { lang, staffMap = false }) {
  for (const layer of catalog.layers) {
    const label = layer.label;
    if (!label || (label.staff_map_only && !staffMap)) continue;
    const drawn = style.layers.find((l) => catalogLayerOf(l) === layer.id && l.source);
    if (!drawn) continue;
    const { layout, paint } = look(layer.geometry);
    const symbol = {
      id: `${layer.id}-label`,
      type: "symbol",
      source: drawn.source,
      minzoom: Math.max(label.minzoom, drawn.minzoom ?? 0),
      metadata: { "machizu:layer": layer.id, "machizu:label": label },
      layout: { ...layout, "text-field": textField(label, lang), "text-font": LABEL_FONT, visibility: drawn.layout?.visibility ?? "visible" },
      paint,
    };
    // Past the zoom of the layer's own tiles (districts end at z16), the map is for finer text.
    if (layer.maxzoom < 18) symbol.maxzoom = layer.maxzoom + 1;
    if (label.source_layer) symbol["source-layer"] = label.source_layer;
    else if (drawn["source-layer"]) symbol["source-layer"] = drawn["source-layer"];
    if (drawn.filter && !label.source_layer) symbol.filter = drawn.filter;
    style.layers.push(symbol);
  }
  return style;
}

/** Switches every label on `map` to `lang`. */
export function setLabelLang(map, lang) {
  for (const l of map.getStyle().layers) {
    const label = l.metadata?.["machizu:label"];
    if (label) map.setLayoutProperty(l.id, "text-field", textField(label, lang));
  }
}
