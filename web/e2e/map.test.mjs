// The map page in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): the demo city's roads, water mains, sewer lines and parcels are drawn at
// the city centre, a layer toggle changes the picture, and the language switch works.
// Screenshots go to test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const bin = resolve(process.env.MACHIZU_BIN ?? join(root, "target/debug/machizu"));
const artifacts = join(root, "test-artifacts");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

let server, base, browser, dataDir;

/** Starts machizu on a free port with a fresh demo city; resolves to its base URL. */
function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), "machizu-e2e-"));
  server = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir], {
    cwd: root,
    env: { ...process.env, RUST_LOG: "machizu=info", NO_COLOR: "1" },
  });
  return new Promise((resolveUrl, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`machizu did not start in 240 s:\n${log}`)), 240_000);
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
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  base = await startServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-quic",
      "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function idle(page) {
  await page.waitForFunction(() => window.machizuMap?.loaded() && window.machizuIdle === true, null, { timeout: 90_000 });
}

async function renderedCounts(page) {
  return page.evaluate(() => {
    const counts = {};
    for (const f of window.machizuMap.queryRenderedFeatures()) {
      counts[f.sourceLayer] = (counts[f.sourceLayer] ?? 0) + 1;
    }
    return counts;
  });
}

test("the map page draws the demo city's layers at the city centre", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const tileStatuses = [];
  page.on("response", (r) => {
    if (r.url().includes("/tiles/")) tileStatuses.push(r.status());
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });

  await page.goto(`${base}/#15/38.6/140.406`);
  await idle(page);
  const counts = await renderedCounts(page);
  for (const layer of ["roads", "water_mains", "sewer_lines", "parcels", "boundary"]) {
    assert.ok(counts[layer] > 0, `${layer} is drawn: ${JSON.stringify(counts)}`);
  }
  assert.ok(tileStatuses.length > 0 && tileStatuses.every((s) => s === 200 || s === 204), `tile statuses ${tileStatuses}`);
  const before = await page.screenshot({ path: join(artifacts, "map-z15-centre.png") });

  // Japanese first: the title and the layer list are in Japanese, with the synthetic-data notice.
  assert.match(await page.textContent("#title"), /町図/);
  assert.match(await page.textContent("#layers"), /筆（地籍）/);
  assert.match(await page.textContent("#notice"), /架空/);

  // Turning parcels off removes them from the picture.
  await page.evaluate(() => { window.machizuIdle = false; });
  await page.click('input[data-layer="parcels"]');
  await page.evaluate(() => window.machizuMap.triggerRepaint());
  await idle(page);
  const without = await renderedCounts(page);
  assert.equal(without.parcels ?? 0, 0);
  assert.ok(without.roads > 0);
  const after = await page.screenshot({ path: join(artifacts, "map-z15-no-parcels.png") });
  assert.notDeepEqual(before, after, "the picture changes when parcels are hidden");

  // English on request.
  await page.click("#lang");
  assert.match(await page.textContent("#layers"), /Cadastral parcels/);
  assert.equal(await page.evaluate(() => document.documentElement.lang), "en");

  assert.deepEqual(errors, []);
  await page.close();
});
