// The public map over a PMTiles archive ([web] tiles_archive, issue #20): the archive that
// `machizu export --format pmtiles` wrote is served by a separate web server (another origin,
// range requests), and the map behind a pull-through cache (a CDN, or nginx with
// proxy_cache_use_stale). The layers in the archive come from it and the rest from machizu;
// with machizu stopped, a new visitor still gets the map, and parcels in places nobody looked
// at before come from the archive.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { artifacts, bin, cachingProxy, idle, launch, newContext, renderedCounts, root, serveArchive, startServer, watchErrors } from "./support.mjs";

let server, browser, archive, proxy, dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "machizu-archive-"));
  const path = join(dir, "city.pmtiles");
  archive = await serveArchive(path, "city.pmtiles");
  server = await startServer({ config: `[web]\ntiles_archive = "${archive.url}"\n` });
  // Exported while the server runs, as a city's nightly job does; the default layers leave
  // out the roads, whose plowed times the server keeps changing.
  execFileSync(bin, ["export", "--format", "pmtiles", "--output", path, "--maxzoom", "16", "--data", server.dataDir], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  proxy = await cachingProxy(server.base);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  proxy?.close();
  archive?.close();
  server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the public map through the cache at a view; resolves to { page, context, requests }. */
async function open(view) {
  const context = await newContext(browser, { viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(`${proxy.base}/map#${view}`);
  await idle(page);
  return { page, context, requests };
}

test("the public map draws the archive's layers from the archive and keeps working with machizu stopped", async () => {
  // A street in the middle of the demo city at z16, where parcels and roads are drawn.
  const { page, context, requests } = await open("16/38.6/140.406");
  const errors = watchErrors(page);
  const archived = await page.evaluate(() => window.machizuArchived);
  for (const id of ["parcels", "buildings", "boundary", "districts"]) assert.ok(archived.includes(id), `${id} from the archive: ${archived}`);
  assert.ok(!archived.includes("roads"), "the roads' plowed times come from machizu");
  const tiles = requests.filter((u) => u.startsWith(proxy.base) && /\/tiles\/[^/]+\/\d+\/\d+\/\d+\.mvt/.test(u));
  assert.ok(tiles.length > 0 && tiles.every((u) => !/parcels|buildings/.test(u)), `tiles from machizu: ${tiles}`);
  assert.ok(tiles.some((u) => /\/tiles\/[^/]*roads/.test(u)), "roads tiles from machizu");
  assert.ok(archive.ranges.length > 2, `range requests to the archive: ${archive.ranges}`);
  const seen = await renderedCounts(page);
  assert.ok(seen.parcels > 10 && seen.roads > 0, JSON.stringify(seen));
  await page.screenshot({ path: join(artifacts, "archive-public-map.png") });
  assert.deepEqual(errors, []);
  await context.close();

  // The outage: machizu is gone; the cache and the archive are not.
  server.stop();
  const rangesBefore = archive.ranges.length;
  const later = await open("16/38.55/140.47"); // about 8 km away: tiles nobody asked for yet
  assert.ok(proxy.stale.includes("/map") && proxy.stale.includes("/layers"), `served stale: ${proxy.stale}`);
  const counts = await renderedCounts(later.page);
  assert.ok(counts.parcels > 10, `parcels drawn from the archive alone: ${JSON.stringify(counts)}`);
  assert.ok(archive.ranges.length > rangesBefore, "new parts of the archive read");
  await later.page.screenshot({ path: join(artifacts, "archive-public-map-outage.png") });
  await later.context.close();
});
