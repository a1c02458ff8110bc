// The public layers from a PMTiles archive (`machizu export --format pmtiles`) that the city put
// on its web server or CDN ([web] tiles_archive): in a storm of visitors the tiles come from
// there, with no machizu behind them. The layers the archive holds are drawn from it through
// the `pmtiles://` protocol (range requests, read in place); the rest (the roads' plowed
// times, live layers) still from machizu. If the archive cannot be read, everything comes from
// machizu, as without one.
import { catalogLayerOf, maplibregl } from "/web/common.js";

/** How long the archive's header and metadata may take before the map goes without it. */
const ARCHIVE_TIMEOUT_MS = 5000;

/** Loads the PMTiles reader (a classic script that defines `pmtiles`), once. */
function loadReader() {
  if (window.pmtiles) return Promise.resolve(window.pmtiles);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/vendor/pmtiles/pmtiles.js";
    script.onload = () => resolve(window.pmtiles);
    script.onerror = () => reject(new Error("cannot load the PMTiles reader"));
    document.head.append(script);
  });
}

/**
 * Moves the style layers whose catalog layer the archive at `url` holds onto a source reading
 * the archive, and narrows the server's sources to the rest. Resolves to the ids of the layers
 * now read from the archive (empty when it could not be read: the style is left as it was).
 */
export async function useArchive(style, url) {
  let held;
  try {
    const reader = await loadReader();
    const archive = new reader.PMTiles(url);
    const metadata = await Promise.race([
      archive.getMetadata(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), ARCHIVE_TIMEOUT_MS)),
    ]);
    held = new Set((metadata?.vector_layers ?? []).map((l) => l.id));
    const protocol = new reader.Protocol();
    protocol.add(archive);
    maplibregl.addProtocol("pmtiles", protocol.tile);
  } catch (e) {
    console.warn(`the tiles archive ${url} cannot be read; all tiles come from the server:`, e.message);
    return [];
  }
  const fromArchive = (l) => held.has(catalogLayerOf(l)) && style.sources[l.source]?.type === "vector";
  const moved = style.layers.filter(fromArchive);
  if (!moved.length) return [];
  const before = new Set(moved.map((l) => l.source));
  for (const l of moved) l.source = "archive";
  style.sources.archive = { type: "vector", url: `pmtiles://${url}` };
  // Each server source keeps the layers still drawn from it (a TileJSON of those alone), or goes.
  for (const id of before) {
    const left = [...new Set(style.layers.filter((l) => l.source === id).map((l) => catalogLayerOf(l) ?? l["source-layer"]))];
    const source = style.sources[id];
    if (!left.length) delete style.sources[id];
    else source.url = source.url.replace(/\/tiles\/[^/]*\.json$/, `/tiles/${left.join(",")}.json`);
  }
  return [...new Set(moved.map(catalogLayerOf))];
}
