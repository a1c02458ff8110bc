// Layers made from files by admins (/admin/layers): the catalog gives each one's colour from
// the palette; here each gets a source of its own (its TileJSON, staff or public as the style's
// tiles are) and a style by geometry — points as dots, lines as lines, areas filled with an
// outline — with a legend entry of its title. Not colour alone: the layer list names every
// entry, and points have a white ring and areas an outline that differ from the built-ins'.
import { catalogLayerOf, learnValue } from "/web/common.js";

/** Where the style's tiles come from: `/tiles` or `/staff/api/tiles`, as an absolute URL. */
function tilesBase(style) {
  return style.sources.machizu.url.replace(/\/tiles\/[^/]*\.json$/, "/tiles");
}

/** The source id of a layer made from a file. */
export const fileSourceId = (id) => `file-${id}`;

/** The source and style layers drawing `layer` (from the catalog) for `style`. */
export function fileLayerStyle(style, layer) {
  const colour = layer.colour;
  const source = { type: "vector", url: `${tilesBase(style)}/${layer.id}.json` };
  // MapLibre shows attribution as HTML: the admin's text goes in as text.
  if (layer.attribution) source.attribution = layer.attribution.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  learnValue(layer.title.ja, layer.title.en);
  const base = {
    source: fileSourceId(layer.id),
    "source-layer": layer.id,
    minzoom: layer.minzoom,
    metadata: { "machizu:layer": layer.id, "machizu:legend": [[colour, layer.title.ja]] },
  };
  const layers =
    layer.geometry === "point"
      ? [{ ...base, id: `${layer.id}-points`, type: "circle",
          paint: { "circle-color": colour, "circle-radius": ["interpolate", ["linear"], ["zoom"], 10, 3, 16, 6],
            "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } }]
      : layer.geometry === "line"
        ? [{ ...base, id: `${layer.id}-lines`, type: "line", layout: { "line-cap": "round", "line-join": "round" },
            paint: { "line-color": colour, "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1.5, 17, 4] } }]
        : [{ ...base, id: `${layer.id}-fill`, type: "fill", paint: { "fill-color": colour, "fill-opacity": 0.3 } },
           { ...base, id: `${layer.id}-outline`, type: "line", metadata: { "machizu:layer": layer.id },
             paint: { "line-color": colour, "line-width": 1.5, "line-dasharray": [3, 1] } }];
  return { source, layers };
}

/** Where a layer of `type` goes: areas and lines under the built-in points, points under the text. */
function beforeId(layers, type) {
  const below = type === "circle" ? (l) => l.type === "symbol" : (l) => l.type === "circle" || l.type === "symbol";
  return layers.find(below)?.id;
}

/** Adds every layer made from a file in `catalog` to `style`, before the map is made. */
export function addFileLayers(style, catalog) {
  for (const layer of catalog.layers.filter((l) => l.colour)) {
    const { source, layers } = fileLayerStyle(style, layer);
    style.sources[fileSourceId(layer.id)] = source;
    for (const l of layers) {
      const at = beforeId(style.layers, l.type);
      style.layers.splice(at ? style.layers.findIndex((s) => s.id === at) : style.layers.length, 0, l);
    }
  }
  return style;
}

/** Adds `layer` (from the catalog) to a running map, with `labels` (symbol layers for it). */
export function addFileLayer(map, style, layer, labels = []) {
  removeFileLayer(map, layer.id);
  const { source, layers } = fileLayerStyle(style, layer);
  map.addSource(fileSourceId(layer.id), source);
  for (const l of [...layers, ...labels]) map.addLayer(l, l.type === "symbol" ? undefined : beforeId(map.getStyle().layers, l.type));
}

/** Removes a layer made from a file from a running map. */
export function removeFileLayer(map, id) {
  for (const l of map.getStyle().layers.filter((s) => catalogLayerOf(s) === id)) map.removeLayer(l.id);
  if (map.getSource(fileSourceId(id))) map.removeSource(fileSourceId(id));
}
