// What the browser tests share: machizu started on a free port over a fresh demo city (with
// its own config), Debian's Chromium driven by playwright-core, the 地理院タイル basemap served
// from a stand-in (tests do not depend on the network), and helpers to wait for the map.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createServer, request as httpRequest } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const root = resolve(import.meta.dirname, "../..");
export const bin = resolve(process.env.MACHIZU_BIN ?? join(root, "target/debug/machizu"));
export const artifacts = join(root, "test-artifacts");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(artifacts, { recursive: true });

/** A 1×1 pale blue PNG: the basemap tiles' stand-in. */
export const BASEMAP_TILE = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGM4cecDAAUEApW2I4mxAAAAAElFTkSuQmCC", "base64");

/**
 * Starts machizu with a fresh demo city; `config` is TOML added to its config file, `setup`
 * runs CLI commands on the data directory first. Resolves to { base, stop, dataDir, outputs }
 * (what each setup command printed) and `servingAt` (when it said it was serving, ms).
 */
export async function startServer({ config = "", setup = [] } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "machizu-e2e-"));
  const configFile = join(dataDir, "machizu.toml");
  writeFileSync(configFile, config);
  const outputs = [];
  for (const { args, input } of setup) {
    outputs.push(execFileSync(bin, [...args, "--data", dataDir], { cwd: root, input, stdio: ["pipe", "pipe", "inherit"] }).toString().trim());
  }
  const server = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir, "--config", configFile], {
    cwd: root,
    env: { ...process.env, RUST_LOG: "machizu=info", NO_COLOR: "1" },
  });
  const base = await new Promise((resolveUrl, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`machizu did not start in 300 s:\n${log}`)), 300_000);
    const onData = (chunk) => {
      log += chunk;
      const m = log.replace(/\x1b\[[0-9;]*m/g, "").match(/machizu is serving address=(\S+)/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(`http://${m[1]}`);
      }
    };
    server.stdout.on("data", onData);
    server.stderr.on("data", onData);
    server.on("error", (e) => reject(new Error(`cannot start ${bin}: ${e}`)));
    server.on("exit", (code) => reject(new Error(`machizu exited with ${code}:\n${log}`)));
  });
  const stop = () => {
    server.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { base, stop, dataDir, outputs, servingAt: Date.now() };
}

export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-quic",
      "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** A fresh context (cold cache, no cookies) with the basemap stand-in. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  await context.route("https://cyberjapandata.gsi.go.jp/**", (route) =>
    route.fulfill({ status: 200, contentType: "image/png", body: BASEMAP_TILE, headers: { "cache-control": "max-age=3600" } }));
  return context;
}

/** Collects page errors, console errors and failed requests of `page`. */
export function watchErrors(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && !/status of 401/.test(m.text()) && errors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && r.status() !== 401 && errors.push(`${r.status()} ${r.url()}`));
  return errors;
}

/**
 * Records the URLs `page` asks for; `check()` asserts that nothing went anywhere but machizu at
 * `base` (and the basemap, which tests stand in for) and that no glyph or font was asked for.
 */
export function watchRequests(page, base) {
  const urls = [];
  page.on("request", (r) => urls.push(r.url()));
  return {
    check() {
      assert.deepEqual(urls.filter((u) => !u.startsWith(base) && !u.startsWith("https://cyberjapandata.gsi.go.jp/")), []);
      assert.deepEqual(urls.filter((u) => /glyph|font|\.pbf|\.woff2?|\.[ot]tf/i.test(u)), []);
    },
  };
}

/**
 * One cold load of the public map in a fresh context (nothing cached, no cookies): ms from
 * navigation start to MapLibre's first idle (every tile of the view loaded and drawn).
 */
export async function coldFirstView(browser, base) {
  const context = await newContext(browser, { viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/map`);
  const ms = await page.evaluate(() => window.machizuFirstView);
  await context.close();
  return ms;
}

/** Waits until the map in `frame` (a page or a frame) has drawn everything. */
export async function idle(frame) {
  await frame.waitForFunction(() => window.machizuMap?.loaded() && window.machizuIdle === true, null, { timeout: 90_000 });
}

/** Makes the next idle count: after a change, call this, change, then `idle`. */
export async function expectRedraw(frame) {
  await frame.evaluate(() => { window.machizuIdle = false; window.machizuMap.triggerRepaint(); });
}

/** The map canvas's pixels (RGBA) in `frame`. */
export async function pixels(frame) {
  return frame.evaluate(() => {
    const source = window.machizuMap.getCanvas();
    const c = document.createElement("canvas");
    c.width = source.width;
    c.height = source.height;
    const g = c.getContext("2d");
    g.drawImage(source, 0, 0);
    return Array.from(g.getImageData(0, 0, c.width, c.height).data);
  });
}

/** The share of pixels that differ between two captures. */
export function difference(a, b) {
  let differ = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 30) differ++;
  }
  return differ / (a.length / 4);
}

/** The counts of rendered features per source layer in `frame`. */
export async function renderedCounts(frame) {
  return frame.evaluate(() => {
    const counts = {};
    for (const f of window.machizuMap.queryRenderedFeatures()) {
      const key = f.sourceLayer ?? f.source;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  });
}

/** Keys that only staff may ever receive. */
export const STAFF_ONLY = ["owner_name", "owner_address", "owner_contact", "internal_note", "contact", "vehicle_id", "operator", "snowplows_fleet", "snowplow_trails", "parcels_arbitrary"];

const AXE_SOURCE = readFileSync(join(root, "web/node_modules/axe-core/axe.min.js"), "utf8");

/**
 * The WCAG 2.1 A and AA violations axe-core finds in `page` as it is now (within `include`, a
 * CSS selector, if given), as "rule: target" strings.
 */
export async function axeViolations(page, include) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (include) => {
    const result = await window.axe.run(include ? { include: [include] } : document,
      { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }, include);
  return violations;
}

/** Listens on a free loopback port; resolves to the base URL. */
async function listen(server) {
  await new Promise((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  return `http://127.0.0.1:${server.address().port}`;
}

/**
 * Serves the file at `path` as `/{name}` the way a city's web server or CDN serves a PMTiles
 * archive: range requests (206) and CORS for another site's map. Resolves to { url, ranges
 * (each range asked for), close }.
 */
export async function serveArchive(path, name) {
  const ranges = [];
  const cors = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "range, if-match",
    "access-control-expose-headers": "etag, content-range",
  };
  const server = createServer((req, res) => {
    if (req.method === "OPTIONS") return res.writeHead(204, cors).end();
    let body;
    try {
      body = req.url === `/${name}` ? readFileSync(path) : undefined;
    } catch {}
    if (!body) return res.writeHead(404, cors).end();
    const headers = { ...cors, etag: `"${body.length}"`, "accept-ranges": "bytes", "content-type": "application/octet-stream" };
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (!m) return res.writeHead(200, headers).end(body);
    const [start, end] = [Number(m[1]), Math.min(m[2] ? Number(m[2]) : Infinity, body.length - 1)];
    ranges.push(`${start}-${end}`);
    res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${end}/${body.length}` }).end(body.subarray(start, end + 1));
  });
  const base = await listen(server);
  return { url: `${base}/${name}`, ranges, close: () => server.close() };
}

/**
 * A pull-through cache in front of machizu at `upstream`, as a CDN or nginx with
 * `proxy_cache_use_stale error` is: every request goes to machizu while it answers, and the GET
 * answers it gave (not live streams) are kept; when machizu cannot be reached, a kept answer
 * is served again (`x-cache: STALE`) and anything else gets 502. Resolves to { base, stale
 * (the paths served stale), close }.
 */
export async function cachingProxy(upstream) {
  const kept = new Map();
  const stale = [];
  const server = createServer((req, res) => {
    const key = req.url;
    // The Host header goes through, so machizu's links (TileJSON tile URLs) point at the cache.
    const up = httpRequest(`${upstream}${key}`, { method: req.method, headers: req.headers }, (answer) => {
      if (req.method === "GET" && answer.statusCode === 200 && !key.startsWith("/live/")) {
        const chunks = [];
        answer.on("data", (c) => chunks.push(c));
        answer.on("end", () => kept.set(key, { headers: answer.headers, body: Buffer.concat(chunks) }));
      }
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    up.on("error", () => {
      const hit = req.method === "GET" && kept.get(key);
      if (!hit) return res.writeHead(502, { "content-type": "application/json" }).end('{"error":"machizu cannot be reached"}');
      stale.push(key);
      res.writeHead(200, { ...hit.headers, "x-cache": "STALE" }).end(hit.body);
    });
    req.pipe(up);
    res.on("close", () => up.destroy()); // a visitor gone (a live stream) ends the upstream request
  });
  const base = await listen(server);
  return { base, stale, close: () => { server.closeAllConnections(); server.close(); } };
}
