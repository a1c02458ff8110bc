// Map text two ways, measured in headless Chromium on the public map (issue #19):
//   none         — no map text at all (the labels module adds nothing), for the baseline;
//   local        — as built: the style has no `glyphs` URL, MapLibre draws every glyph from the
//                  device's fonts (TinySDF);
//   server-latin — SDF glyph ranges (PBF) served from an open font, MapLibre's default otherwise:
//                  kana and kanji still drawn locally (`localIdeographFontFamily`), Latin and
//                  digits from the server;
//   server-all   — every glyph from the server (`localIdeographFontFamily: false`), the only way
//                  the text looks the same on every device.
// For each, at the first view (z13) and in the town at z17.3 (地番 and road names), the median of
// three cold loads from navigation to the map's first idle, the glyph requests and bytes, and the
// page's JS heap; a screenshot of each for the look (test-artifacts/glyphs-*.png).
//
// The ranges come from Noto Sans CJK JP (Debian's fonts-noto-cjk), made with build_pbf_glyphs
// (`cargo install build_pbf_glyphs`, needs libfreetype-dev) after taking the JP face out of the
// collection (fontTools):
//   node scripts/measure-glyphs.mjs GLYPH_DIR      (GLYPH_DIR holds 0-255.pbf … 65280-65535.pbf)
import { createServer } from "node:http";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { artifacts, idle, launch, newContext, startServer } from "../web/e2e/support.mjs";

const dir = process.argv[2];
if (!dir) throw new Error("usage: node scripts/measure-glyphs.mjs GLYPH_DIR");
const ranges = new Map(readdirSync(dir).filter((f) => f.endsWith(".pbf")).map((f) => [f, gzipSync(readFileSync(join(dir, f)))]));

// The glyph server: any fontstack, gzip, cacheable, CORS (as martin or a CDN would answer).
const glyphs = createServer((req, res) => {
  const body = ranges.get(decodeURIComponent(req.url).split("/").pop());
  if (!body) return res.writeHead(404).end();
  res.writeHead(200, {
    "content-type": "application/x-protobuf", "content-encoding": "gzip", "content-length": body.length,
    "cache-control": "public, max-age=86400", "access-control-allow-origin": "*",
  }).end(body);
});
await new Promise((resolve) => glyphs.listen(0, "127.0.0.1", resolve));
const glyphBase = `http://127.0.0.1:${glyphs.address().port}/glyphs`;

const server = await startServer();
const browser = await launch();

async function load(variant, hash, screenshot) {
  const context = await newContext(browser, { viewport: { width: 1280, height: 800 } });
  if (variant === "none") {
    await context.route(`${server.base}/web/labels.js`, async (route) => {
      const text = await (await route.fetch()).text();
      await route.fulfill({ body: text.replace("style.layers.push(symbol);", ""), contentType: "text/javascript" });
    });
  }
  if (variant === "server-latin" || variant === "server-all") {
    await context.route(`${server.base}/styles/public.json`, async (route) => {
      const style = await (await route.fetch()).json();
      style.glyphs = `${glyphBase}/{fontstack}/{range}.pbf`;
      await route.fulfill({ json: style });
    });
  }
  if (variant === "server-all") {
    await context.route(`${server.base}/web/common.js`, async (route) => {
      const text = await (await route.fetch()).text();
      await route.fulfill({ body: text.replace("dragRotate: false,", "dragRotate: false, localIdeographFontFamily: false,"), contentType: "text/javascript" });
    });
  }
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  let glyphBytes = 0;
  let glyphRequests = 0;
  page.on("response", async (r) => {
    if (!r.url().startsWith(glyphBase)) return;
    glyphRequests++;
    glyphBytes += Number(r.headers()["content-length"] ?? 0);
  });
  await page.goto(`${server.base}/map${hash}`);
  await idle(page);
  const firstView = await page.evaluate(() => window.machizuFirstView);
  const { metrics } = await cdp.send("Performance.getMetrics");
  const heap = metrics.find((m) => m.name === "JSHeapUsedSize").value;
  const placed = await page.evaluate(() => window.machizuMap.queryRenderedFeatures().filter((f) => f.layer.type === "symbol").length);
  if (screenshot) await page.screenshot({ path: join(artifacts, `glyphs-${variant}${hash.replaceAll("/", "_").replace("#", "-")}.png`) });
  await context.close();
  return { firstView, glyphRequests, glyphBytes, heap, placed };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const hash of (process.env.VIEWS ?? ",#17.3/38.6005/140.4065").split(",")) {
  for (const variant of (process.env.VARIANTS ?? "none,local,server-latin,server-all").split(",")) {
    await load(variant, hash, false); // warm the server's tile cache and the browser
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await load(variant, hash, i === 0));
    rows.push({
      view: hash || "first view (z13)",
      variant,
      first_view_ms: Math.round(median(runs.map((r) => r.firstView))),
      samples_ms: runs.map((r) => Math.round(r.firstView)),
      glyph_requests: runs[0].glyphRequests,
      glyph_kb_gzip: Math.round(runs[0].glyphBytes / 1024),
      js_heap_mb: +(median(runs.map((r) => r.heap)) / 2 ** 20).toFixed(1),
      labels_placed: runs[0].placed,
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
}
await browser.close();
server.stop();
glyphs.close();
