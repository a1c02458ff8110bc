// The public map and the embed in headless Chromium: the first view with a cold cache, cache
// headers on everything loaded, no staff-only layer or attribute in any answer, a layer toggle
// that changes the pixels, a parcel's 地番 on a tap, a phone-sized screen, the embed inside an
// iframe on another origin, and the snippet. Screenshots go to test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  STAFF_ONLY, artifacts, axeViolations, coldFirstView, difference, expectRedraw, idle, launch, newContext, pixels, renderedCounts, startServer, watchErrors, watchRequests,
} from "./support.mjs";

let server, browser;

before(async () => {
  server = await startServer({
    config: "[notices.push]\nendpoint_origins = [\"http://127.0.0.1\"]\n",
    setup: [{ args: ["keys", "create", "--name", "e2e 防災担当", "--role", "staff"] }],
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** Records every answer from machizu: URL, status, headers and body. */
function recordAnswers(page, base) {
  const answers = [];
  page.on("response", async (r) => {
    if (!r.url().startsWith(base)) return;
    const body = r.status() === 200 ? await r.body().catch(() => Buffer.alloc(0)) : Buffer.alloc(0);
    answers.push({ url: r.url(), status: r.status(), headers: r.headers(), body });
  });
  return answers;
}

/** Asserts no answer carried staff data, and every one said how long it may be kept. */
function assertPublicAndCacheable(answers) {
  assert.ok(answers.length > 5, `answers: ${answers.map((a) => a.url)}`);
  for (const a of answers) {
    assert.ok(!a.url.includes("/staff"), `a public page asked for ${a.url}`);
    if (a.url.includes("/live/stream")) continue;
    assert.ok(a.headers["cache-control"], `${a.url} has Cache-Control`);
    // Live data (positions, the stations' latest readings in tiles) is revalidated by ETag on
    // every use (no-cache); everything else may be kept for a while.
    const live = a.url.includes("/live/") || a.url.includes("/tiles/sensors,cameras/");
    if (live && a.url.includes("/tiles/")) assert.match(a.headers["cache-control"], /no-cache/);
    if (a.status === 200 && !live) {
      assert.match(a.headers["cache-control"], /public, max-age=\d+/, `${a.url}: ${a.headers["cache-control"]}`);
    }
    // Data, not code: our scripts and MapLibre name no data.
    if (/\/(vendor|web)\//.test(a.url)) continue;
    const text = a.body.toString("latin1");
    for (const key of STAFF_ONLY) assert.ok(!text.includes(key), `${a.url} carries ${key}`);
  }
}

test("the public map's first view, cold, is public, cacheable and drawn without stalling", async () => {
  // How fast is measured by scripts/bench-first-view (docs/benchmarks.md): on this shared two-core
  // VM, drawing WebGL in software, one build's median moves between 2 and 4 s from hour to hour,
  // so a timed test here would fail at random. This bound only catches a view that stalls (a
  // request that hangs, a render that loops), well above the 1.5 s target.
  await coldFirstView(browser, server.base);
  const ms = await coldFirstView(browser, server.base);
  console.log(`public map first view with a cold cache: ${Math.round(ms)} ms (scripts/bench-first-view measures it)`);
  assert.ok(ms < 10_000, `first view in ${Math.round(ms)} ms`);

  // Once more, with every answer recorded.
  const context = await newContext(browser, { viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const answers = recordAnswers(page, server.base);
  await page.goto(`${server.base}/map`);
  await idle(page);
  const counts = await renderedCounts(page);
  for (const layer of ["roads", "water_mains", "sewer_lines", "boundary", "road_events"]) {
    assert.ok(counts[layer] > 0, `${layer} is drawn: ${JSON.stringify(counts)}`);
  }
  assert.ok(counts.basemap === undefined);
  // 地理院タイル's attribution is visible.
  assert.ok(await page.isVisible("text=出典：国土地理院"));
  assert.match(await page.textContent("#title"), /尾花沢市/);
  assert.match(await page.textContent("#notice"), /架空/);
  await page.screenshot({ path: join(artifacts, "public-map.png") });
  assertPublicAndCacheable(answers);

  // Toggling a layer changes the picture; toggling it back restores it. The demo's plows (and
  // their labels) move between captures: they are out of the picture for this comparison.
  await expectRedraw(page);
  await page.evaluate(() => {
    for (const id of ["snowplows", "snowplows-label"]) window.machizuMap.setLayoutProperty(id, "visibility", "none");
  });
  await idle(page);
  const withRoads = await pixels(page);
  await expectRedraw(page);
  await page.click('input[data-layer="roads"]');
  await idle(page);
  const withoutRoads = await pixels(page);
  const changed = difference(withRoads, withoutRoads);
  console.log(`hiding roads changes ${(changed * 100).toFixed(1)} % of the pixels`);
  assert.ok(changed > 0.01, `roads cover part of the view: ${changed}`);
  await page.screenshot({ path: join(artifacts, "public-map-without-roads.png") });
  await expectRedraw(page);
  await page.click('input[data-layer="roads"]');
  await idle(page);
  assert.ok(difference(withRoads, await pixels(page)) < 0.002, "the same picture again");

  // English on request.
  await page.click("#lang");
  assert.match(await page.textContent("#layers"), /Cadastral parcels/);
  assert.match(await page.textContent("#layers"), /within 1 hour/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("tapping a parcel shows its 地番", async () => {
  const context = await newContext(browser, { viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/map#17/38.6/140.406`);
  await idle(page);
  // A parcel under the middle of the view, away from roads and points.
  const target = await page.evaluate(() => {
    const map = window.machizuMap;
    const { width, height } = map.getCanvas().getBoundingClientRect();
    for (let dy = 0; dy < 200; dy += 7) {
      for (const sign of [1, -1]) {
        const point = [width / 2 + 40, height / 2 + sign * dy];
        const box = [[point[0] - 12, point[1] - 12], [point[0] + 12, point[1] + 12]];
        const all = map.queryRenderedFeatures(box);
        const only = all.every((f) => f.sourceLayer === "parcels" || f.sourceLayer === "boundary" || f.source === "basemap");
        const parcel = map.queryRenderedFeatures(point).find((f) => f.sourceLayer === "parcels");
        if (only && parcel) return { point, chiban: parcel.properties.chiban };
      }
    }
    return null;
  });
  assert.ok(target, "a parcel alone under the pointer");
  const box = await page.locator("#map canvas").boundingBox();
  await page.mouse.click(box.x + target.point[0], box.y + target.point[1]);
  const popup = page.locator(".maplibregl-popup");
  await popup.waitFor();
  assert.equal(await popup.locator('td[data-attribute="chiban"]').textContent(), target.chiban);
  assert.match(await popup.textContent(), /地番/);
  assert.ok(!(await popup.textContent()).includes("所有者"), "no owner in the public map");
  await page.screenshot({ path: join(artifacts, "public-parcel-popup.png") });
  assert.deepEqual(errors, []);
  await context.close();
});

/** The label features MapLibre placed (drawn, not hidden by a collision) of `styleLayer`. */
async function placedLabels(page, styleLayer) {
  return page.evaluate((id) => window.machizuMap.queryRenderedFeatures({ layers: [id] }).map((f) => f.properties), styleLayer);
}

/** Captures the map with and without its label layers; returns the share of pixels the labels change. */
async function labelInk(page) {
  const labels = await page.evaluate(() => window.machizuMap.getStyle().layers.filter((l) => l.type === "symbol").map((l) => l.id));
  const on = await pixels(page);
  await expectRedraw(page);
  await page.evaluate((ids) => ids.forEach((id) => window.machizuMap.setLayoutProperty(id, "visibility", "none")), labels);
  await idle(page);
  const off = await pixels(page);
  await expectRedraw(page);
  await page.evaluate((ids) => ids.forEach((id) => window.machizuMap.setLayoutProperty(id, "visibility", "visible")), labels);
  await idle(page);
  return difference(on, off);
}

for (const [width, height, phone] of [[360, 740, true], [1400, 900, false]]) {
  test(`map text at ${width} px: 地番 on parcels at z17, road and district names, following the language switch, with no glyph or font from anywhere`, async () => {
    const options = phone ? { viewport: { width, height }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : { viewport: { width, height } };
    const context = await newContext(browser, options);
    const page = await context.newPage();
    const errors = watchErrors(page);
    const requests = watchRequests(page, server.base);
    await page.goto(`${server.base}/map#17.3/38.6005/140.4065`);
    await idle(page);
    const chiban = await placedLabels(page, "parcels-label");
    assert.ok(chiban.length >= (phone ? 5 : 20), `地番 placed: ${chiban.length}`);
    assert.ok(chiban.every((p) => /^\d+(-\d+)?$/.test(p.chiban)), JSON.stringify(chiban.slice(0, 5)));
    assert.ok(new Set(chiban.map((p) => p.chiban)).size > chiban.length / 2, "different parcels, not one repeated");
    const roads = await placedLabels(page, "roads-label");
    assert.ok(roads.length > 0 && roads.every((p) => p.name), `road names placed: ${JSON.stringify(roads.slice(0, 3))}`);
    assert.equal(await page.evaluate(() => window.machizuMap.getLayer("hazardous_buildings-label")), undefined, "addresses of hazardous buildings are labelled in the staff map only");
    const ink = await labelInk(page);
    assert.ok(ink > 0.003, `the labels draw text: ${ink}`);
    await page.screenshot({ path: join(artifacts, `public-labels-${width}px.png`) });

    // District names in Japanese, then in English.
    await page.evaluate(() => window.machizuMap.jumpTo({ zoom: 11.2, center: [140.42, 38.62] }));
    await idle(page);
    const districts = await placedLabels(page, "districts-label");
    assert.ok(districts.length >= 2 && districts.every((p) => p.name && p.name_en), JSON.stringify(districts));
    const ja = await pixels(page);
    await expectRedraw(page);
    await page.click("#lang");
    await idle(page);
    const field = await page.evaluate(() => window.machizuMap.getLayoutProperty("districts-label", "text-field"));
    assert.deepEqual(field.slice(0, 2), ["coalesce", ["get", "name_en"]]);
    assert.ok((await placedLabels(page, "districts-label")).length >= 2);
    const switched = difference(ja, await pixels(page));
    assert.ok(switched > 0.001, `the names changed on the map: ${switched}`);
    await page.screenshot({ path: join(artifacts, `public-labels-en-${width}px.png`) });

    // Nothing was asked of anyone but machizu (the basemap stand-in aside), and no glyph or font at all.
    requests.check();
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test("the demo city's simulated plows move, plow roads and say so within a minute", async () => {
  // Its own server: the minute counts from this server's start.
  const server = await startServer();
  const context = await newContext(browser, { viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/map#15.5/38.6/140.405`);
  await idle(page);
  const deadline = () => ({ timeout: Math.max(1000, server.servingAt + 60_000 - Date.now()) });
  await page.evaluate(() => {
    window.plowsNow = () => window.machizuMap.queryRenderedFeatures({ layers: ["snowplows"] })
      .map((f) => ({ label: f.properties.label, at: f.geometry.coordinates }));
  });
  // Plows on the map, labelled synthetic…
  await page.waitForFunction(() => window.plowsNow().length > 0, null, deadline());
  const first = await page.evaluate(() => window.plowsNow());
  assert.ok(first.every((p) => /架空/.test(p.label)), JSON.stringify(first));
  // … that move …
  await page.waitForFunction((before) => window.plowsNow().some((p) => {
    const b = before.find((q) => q.label === p.label);
    return b && (b.at[0] !== p.at[0] || b.at[1] !== p.at[1]);
  }), first, deadline());
  await context.close();
  // … and a newcomer who opens the map within a minute of the server starting sees roads
  // drawn as plowed.
  let plowed;
  while (!plowed) {
    assert.ok(Date.now() - server.servingAt <= 60_000, "plowed roads within a minute of start");
    await new Promise((r) => setTimeout(r, Math.max(0, server.servingAt + 30_000 - Date.now())));
    const fresh = await newContext(browser, { viewport: { width: 1024, height: 768 } });
    const p = await fresh.newPage();
    const errs = watchErrors(p);
    await p.goto(`${server.base}/map#15.5/38.6/140.405`);
    await idle(p);
    const n = await p.evaluate(() => window.machizuMap.queryRenderedFeatures({ layers: ["roads-plowed"] }).length);
    if (n > 0) plowed = { context: fresh, page: p, errors: errs };
    else await fresh.close();
  }
  const { page: newcomer } = plowed;
  await newcomer.screenshot({ path: join(artifacts, "public-demo-plows.png") });

  // A tap on a plowed road (away from the plows) says when, in words.
  const target = await newcomer.evaluate(() => {
    const map = window.machizuMap;
    const plows = map.queryRenderedFeatures({ layers: ["snowplows"] }).map((f) => f.geometry.coordinates);
    const mids = map.queryRenderedFeatures({ layers: ["roads-plowed"] }).map((road) => {
      const c = road.geometry.type === "LineString" ? road.geometry.coordinates : road.geometry.coordinates[0];
      return [(c[0][0] + c[1][0]) / 2, (c[0][1] + c[1][1]) / 2];
    });
    const mid = mids.find((m) => plows.every((p) => Math.hypot(p[0] - m[0], p[1] - m[1]) > 0.0008)) ?? mids[0];
    // Only the roads under the finger (water mains run beside them).
    for (const layer of map.getStyle().layers) {
      if (!["roads", "roads-plowed", "background"].includes(layer.id) && layer.source !== "basemap") {
        map.setLayoutProperty(layer.id, "visibility", "none");
      }
    }
    map.jumpTo({ center: mid, zoom: 18 });
    return mid;
  });
  await idle(newcomer);
  const point = await newcomer.evaluate((mid) => window.machizuMap.project(mid), target);
  const box = await newcomer.locator("#map canvas").boundingBox();
  await newcomer.mouse.click(box.x + point.x, box.y + point.y);
  const said = newcomer.locator(".maplibregl-popup .plowed-said");
  await said.waitFor({ timeout: 10_000 });
  await newcomer.screenshot({ path: join(artifacts, "public-demo-plowed-road.png") });
  assert.match(await said.textContent(), /(今朝|今日|今日未明|昨夜|昨日) \d{1,2}:\d{2} に除雪済み/);
  assert.deepEqual([...errors, ...plowed.errors], []);
  await plowed.context.close();
  server.stop();
});

test("at 360 px wide the public map is usable", async () => {
  const context = await newContext(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/map`);
  await idle(page);
  assert.ok(await page.isHidden("#panel"), "the panel starts folded on a phone");
  const menu = await page.locator("#menu").boundingBox();
  assert.ok(menu.width >= 44 && menu.height >= 44, `touch target ${JSON.stringify(menu)}`);
  await page.tap("#menu");
  const panel = await page.locator("#panel").boundingBox();
  assert.ok(panel.x >= 0 && panel.x + panel.width <= 360, `panel inside the screen: ${JSON.stringify(panel)}`);
  const label = await page.locator('.layer label').first().boundingBox();
  assert.ok(label.height >= 44, "layer rows are finger-sized");
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), "no sideways scrolling");
  assert.ok(await page.isVisible("text=出典：国土地理院"));
  await page.screenshot({ path: join(artifacts, "public-map-360px.png") });
  assert.deepEqual(errors, []);
  await context.close();
});

test("the embed renders inside an iframe on another site, public only", async () => {
  // Another origin: a page of "the city website" on its own port.
  const embedUrl = `${server.base}/embed?layers=roads,road_events&center=140.406,38.6&zoom=15`;
  const site = createServer((_, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="ja"><body><h1>尾花沢市 除雪情報</h1><iframe id="m" src="${embedUrl}" width="360" height="480" style="border:0"></iframe></body></html>`);
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  after(() => site.close());
  const sitePage = `http://localhost:${site.address().port}/`;
  const context = await newContext(browser, { viewport: { width: 800, height: 700 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const answers = recordAnswers(page, server.base);
  await page.goto(sitePage);
  const frame = page.frame({ url: /\/embed/ });
  assert.ok(frame, "the iframe loaded the embed");
  await idle(frame);
  const counts = await renderedCounts(frame);
  assert.ok(counts.roads > 0 && counts.road_events > 0, JSON.stringify(counts));
  assert.ok(!counts.parcels && !counts.water_mains, `only the layers asked for: ${JSON.stringify(counts)}`);
  assert.ok(await frame.isVisible("text=出典：国土地理院"));
  assert.ok(await frame.isVisible("#menu"));
  await page.screenshot({ path: join(artifacts, "embed-in-iframe.png") });
  assertPublicAndCacheable(answers);
  assert.deepEqual(errors, []);
  await context.close();

  // The snippet to paste.
  const snippetPage = await browser.newPage();
  await snippetPage.goto(`${server.base}/embed/snippet?layers=roads,road_events&center=140.406,38.6&zoom=15`);
  const code = await snippetPage.inputValue("#snippet");
  assert.match(code, /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/embed\?layers=roads,road_events&amp;center=140\.406,38\.6&amp;zoom=15"/);
  await snippetPage.close();
});

test("without the network the basemap steps aside and our layers are the map", async () => {
  const context = await newContext(browser, { viewport: { width: 1024, height: 768 } });
  await context.route("https://cyberjapandata.gsi.go.jp/**", (route) => route.abort("internetdisconnected"));
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(`${server.base}/map`);
  await idle(page);
  await page.locator("#basemap-notice").waitFor();
  assert.match(await page.textContent("#basemap-notice"), /背景地図を読み込めません/);
  await page.click("#lang");
  assert.match(await page.textContent("#basemap-notice"), /The basemap cannot be loaded/);
  assert.equal(await page.evaluate(() => window.machizuMap.getLayoutProperty("basemap", "visibility")), "none");
  const counts = await renderedCounts(page);
  for (const layer of ["roads", "water_mains", "boundary"]) assert.ok(counts[layer] > 0, `${layer} is drawn: ${JSON.stringify(counts)}`);
  // Our own layers, drawn over the background colour, still make a picture.
  const drawn = await pixels(page);
  const background = drawn.slice(0, 4);
  let differ = 0;
  for (let i = 0; i < drawn.length; i += 4) if (Math.abs(drawn[i] - background[0]) + Math.abs(drawn[i + 1] - background[1]) + Math.abs(drawn[i + 2] - background[2]) > 30) differ++;
  assert.ok(differ / (drawn.length / 4) > 0.05, `drawn share ${differ / (drawn.length / 4)}`);
  await page.screenshot({ path: join(artifacts, "public-map-offline.png") });
  assert.deepEqual(pageErrors, []);
  await context.close();
});

/** The demo's station (or camera) named like `pattern`: its [lon, lat], from SensorThings. */
async function demoStation(pattern) {
  const things = await (await fetch(`${server.base}/sta/v1.1/Things?$expand=Locations&$top=100`)).json();
  const thing = things.value.find((t) => pattern.test(t.name));
  assert.ok(thing, `the demo has ${pattern}: ${things.value.map((t) => t.name)}`);
  return thing.Locations[0].location.coordinates;
}

/** Taps the feature of `styleLayer` drawn at [lon, lat] on a touch screen. */
async function tapFeature(page, styleLayer, at) {
  await page.waitForFunction(({ styleLayer, at }) => {
    const map = window.machizuMap;
    const p = map.project(at);
    return map.queryRenderedFeatures([[p.x - 3, p.y - 3], [p.x + 3, p.y + 3]], { layers: [styleLayer] }).length > 0;
  }, { styleLayer, at }, { timeout: 30_000 });
  const point = await page.evaluate((at) => window.machizuMap.project(at), at);
  const box = await page.locator("#map canvas").boundingBox();
  await page.touchscreen.tap(box.x + point.x, box.y + point.y);
}

test("at phone width, a gauge shows its last 24 hours with the level lines, and a camera its latest image", async () => {
  const gauge = await demoStation(/丹生川 水位観測所/);
  const camera = await demoStation(/河川監視カメラ/);
  const context = await newContext(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/map#17/${gauge[1]}/${gauge[0]}`);
  await idle(page);

  await tapFeature(page, "sensors", gauge);
  const panel = page.locator(".maplibregl-popup section.station");
  await panel.locator("svg.chart polyline.values").waitFor();
  assert.match(await panel.locator("h2").textContent(), /【架空】丹生川 水位観測所/);
  assert.match(await panel.textContent(), /架空の観測所/, "labelled synthetic");
  // The state in words (not colour alone), the latest value with its time, the day's range.
  const state = await panel.locator("p.state").textContent();
  assert.match(state, /\d+(\.\d+)? m・(平常|水防団待機水位|はん濫注意水位)/);
  const summary = await panel.locator("ul.chart-summary").textContent();
  assert.match(summary, /最新 \d+(\.\d+)? m/);
  assert.match(summary, /過去24時間: 最高 [\d.]+ m・最低 [\d.]+ m/);
  // A day of readings a minute apart, and at least the lowest two named levels as lines.
  const points = await panel.locator("svg.chart polyline.values").getAttribute("points");
  assert.ok(points.split(" ").length > 600, `a day's line: ${points.split(" ").length} points`);
  const levels = await panel.locator("svg.chart text.level-name").allTextContents();
  assert.ok(levels.some((l) => l.startsWith("水防団待機水位 1")) && levels.some((l) => l.startsWith("はん濫注意水位 1.5")), `${levels}`);
  assert.equal(await panel.locator("svg.chart").getAttribute("role"), "img");
  assert.match(await panel.locator("svg.chart title").textContent(), /過去24時間/);
  const popup = await page.locator(".maplibregl-popup").boundingBox();
  assert.ok(popup.x >= 0 && popup.x + popup.width <= 360, `the chart fits the phone: ${JSON.stringify(popup)}`);
  await page.screenshot({ path: join(artifacts, "public-gauge-360px.png") });
  await page.locator(".maplibregl-popup-close-button").tap();

  await tapFeature(page, "cameras", camera);
  const img = page.locator(".maplibregl-popup section.camera img");
  await img.waitFor();
  await page.waitForFunction(() => document.querySelector(".maplibregl-popup section.camera img")?.naturalWidth > 0);
  assert.equal(await img.evaluate((i) => i.naturalWidth), 320);
  assert.match(await img.getAttribute("alt"), /河川監視カメラ.*最新の画像.*撮影/);
  assert.match(await page.locator(".maplibregl-popup figcaption").textContent(), /撮影 \d+\/\d+ \d\d:\d\d（\d+分前）/);
  assert.match(await page.locator(".maplibregl-popup section.camera").textContent(), /架空のカメラ画像/);
  // Once the image has landed the map pans to keep the popup on the screen.
  await page.waitForFunction(() => {
    const r = document.querySelector(".maplibregl-popup").getBoundingClientRect();
    return r.left >= 0 && r.right <= 360;
  }, null, { timeout: 5_000 }).catch(() => {});
  const shown = await img.boundingBox();
  assert.ok(shown.width <= 340 && shown.x >= 0, `the image fits the phone: ${JSON.stringify(shown)}`);
  await page.screenshot({ path: join(artifacts, "public-camera-360px.png") });
  // The staff-only ditch gauge never reaches the public: not in the tiles, not in STA.
  const staffOnly = await page.evaluate(() => window.machizuMap.querySourceFeatures("stations", { sourceLayer: "sensors" })
    .filter((f) => /流雪溝/.test(f.properties.station)).length);
  assert.equal(staffOnly, 0);
  const things = await (await fetch(`${server.base}/sta/v1.1/Things`)).text();
  assert.ok(!things.includes("流雪溝"), "the staff-only station is hidden from STA");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a pushed notice shows as a notification once, an update replaces it, and a tap opens the map at it", async () => {
  const context = await newContext(browser);
  await context.grantPermissions(["notifications"], { origin: server.base });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
  await cdp.send("ServiceWorker.enable");
  await page.goto(`${server.base}/map`);
  // `ready` gives the worker while it may still be activating: wait until it is activated.
  await page.evaluate(async () => {
    const worker = (await navigator.serviceWorker.ready).active;
    if (worker.state !== "activated") {
      await new Promise((resolve) => worker.addEventListener("statechange", () => worker.state === "activated" && resolve()));
    }
  });
  const registration = registrations.findLast((r) => r.scopeURL === `${server.base}/` && !r.isDeleted);
  assert.ok(registration, `the service worker is registered for the site: ${JSON.stringify(registrations)}`);

  const push = (payload) => cdp.send("ServiceWorker.deliverPushMessage", {
    origin: server.base, registrationId: registration.registrationId, data: JSON.stringify(payload),
  });
  const shown = () => page.evaluate(async () => {
    const r = await navigator.serviceWorker.ready;
    return (await r.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
  });
  // Delivers `payload` until `check` holds for what is shown: a push that reaches a worker still
  // starting up may be dropped by the browser, and the worker shows a message once however
  // often it arrives.
  const pushUntil = async (payload, check) => {
    for (let attempt = 0; attempt < 10; attempt++) {
      await push(payload);
      for (let i = 0; i < 10; i++) {
        const n = await shown();
        if (check(n)) return n;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`notifications: ${JSON.stringify(await shown())}`);
  };
  const alert = { notice: 7, message: 21, type: "Alert", title: "国道13号 通行止め", body: "除雪作業のため通行止めです。",
    category: "road", severity: "Moderate", url: "/map#notice=7", tag: "notice-7" };
  let n = await pushUntil(alert, (n) => n.length === 1);
  assert.deepEqual([n[0].title, n[0].body, n[0].tag], [alert.title, alert.body, "notice-7"]);
  // The same message again (sent twice after a restart) is not shown again.
  await push({ ...alert, title: "二度目" });
  await new Promise((r) => setTimeout(r, 500));
  n = await shown();
  assert.deepEqual(n.map((x) => x.title), [alert.title]);
  // An update of the notice replaces its notification.
  n = await pushUntil({ ...alert, message: 22, type: "Update", title: "【更新】国道13号 通行止め" }, (n) => n[0]?.title.startsWith("【更新】"));
  assert.equal(n.length, 1);

  // A tap (the worker's notificationclick, as the system would send it) opens the map at the
  // notice in the map's own window.
  const reached = page.waitForURL(/\/map#notice=7$/, { timeout: 10_000 });
  const worker = context.serviceWorkers()[0] ?? await context.waitForEvent("serviceworker");
  await worker.evaluate(async () => {
    const [first] = await self.registration.getNotifications();
    self.dispatchEvent(Object.assign(new Event("notificationclick"), { notification: first, waitUntil: (p) => p }));
  });
  await reached;
  assert.deepEqual(errors, []);
  await context.close();
});

test("current notices show as a banner with their severity in words and their areas on the map, at phone width and in the embed", async () => {
  const key = server.outputs[0].split("\n").pop().trim();
  const ends = new Date(Date.now() + 6 * 3600_000).toISOString();
  const post = (body) => fetch(`${server.base}/notices`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body),
  }).then(async (r) => { assert.equal(r.status, 201, await r.clone().text()); return r.json(); });
  const severe = await post({
    title: "尾花沢地区に大雪警報", body: "不要不急の外出を控えてください。", title_en: "Heavy snow warning", body_en: "Stay at home if you can.",
    category: "snow", severity: "Severe", urgency: "Immediate", certainty: "Likely", ends_at: ends, area: { district: "尾花沢地区" },
  });
  await post({
    title: "断水のお知らせ", body: "配水管工事のため断水します。", category: "lifeline", severity: "Minor", urgency: "Expected",
    certainty: "Observed", ends_at: ends,
    area: { type: "Polygon", coordinates: [[[140.40, 38.595], [140.41, 38.595], [140.41, 38.605], [140.40, 38.605], [140.40, 38.595]]] },
  });

  const context = await newContext(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const errors = watchErrors(page);
  // As a push notification opens it: at the notice.
  await page.goto(`${server.base}/map#notice=${severe.id}`);
  await page.waitForFunction(() => window.machizuNotices);
  await page.evaluate(() => window.machizuNotices);
  await idle(page);
  const banner = page.locator("#notices");
  assert.equal(await banner.getAttribute("aria-label"), "お知らせ");
  const heads = await banner.locator(".notice-head").allTextContents();
  assert.deepEqual(heads.toSorted(), ["【情報】上下水道: 断水のお知らせ", "【重大】除雪・雪: 尾花沢地区に大雪警報"]);
  // The focused notice is open and the map shows its area.
  const open = banner.locator(`#notice-${severe.id}`);
  assert.ok(await open.isVisible());
  assert.match(await open.textContent(), /不要不急の外出を控えてください。.*対象地域: 尾花沢地区・期間: /s);
  const b = await page.evaluate(() => window.machizuMap.getBounds().toArray());
  assert.ok(b[0][0] > 140.3 && b[1][0] < 140.5 && b[0][1] > 38.5 && b[1][1] < 38.7, `the map is at 尾花沢地区: ${JSON.stringify(b)}`);
  const areas = await page.evaluate(() => window.machizuMap.querySourceFeatures("notices").map((f) => f.properties.id));
  assert.deepEqual([...new Set(areas)].length, 2);
  // The keyboard opens the other notice; the map goes to its area.
  const other = banner.locator(".notice-head", { hasText: "断水" });
  await other.focus();
  await page.keyboard.press("Enter");
  assert.equal(await other.getAttribute("aria-expanded"), "true");
  await banner.locator("article", { hasText: "断水" }).locator(".notice-show").click();
  await page.waitForFunction(() => {
    const c = window.machizuMap.getCenter();
    return Math.abs(c.lng - 140.405) < 1e-4 && Math.abs(c.lat - 38.6) < 1e-4 && window.machizuMap.getZoom() > 13.5;
  });
  // English.
  await page.locator("#lang").click();
  assert.ok((await banner.locator(".notice-head").allTextContents()).includes("【Severe】Snow and plowing: Heavy snow warning"));
  assert.equal(await banner.getAttribute("aria-label"), "Notices");
  const box = await banner.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 360, `the banner fits the phone: ${JSON.stringify(box)}`);
  await page.screenshot({ path: join(artifacts, "public-notices-360px.png") });
  // The embed shows them too.
  await page.goto(`${server.base}/embed?layers=roads`);
  await page.waitForFunction(() => window.machizuNotices);
  await page.evaluate(() => window.machizuNotices);
  assert.equal(await page.locator("#notices .notice").count(), 2);
  assert.deepEqual(errors, []);
  await context.close();
});

/**
 * Stands in for the browser's push service, which headless Chromium cannot reach (it would be
 * Google's, on the internet): PushManager.subscribe gives a subscription at `endpoint` with keys
 * made by the browser's WebCrypto, as a real subscription has. Everything else — the service
 * worker, the permission, the page's requests to machizu — is the browser's own.
 */
function pushServiceStandIn(endpoint) {
  // A browser keeps its subscription across page loads: so does the stand-in (in sessionStorage).
  const KEY = "push-service-stand-in";
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const subscription = (json) => ({
    endpoint: json.endpoint,
    toJSON: () => json,
    unsubscribe: async () => { sessionStorage.removeItem(KEY); return true; },
  });
  PushManager.prototype.getSubscription = async () => {
    const kept = sessionStorage.getItem(KEY);
    return kept ? subscription(JSON.parse(kept)) : null;
  };
  PushManager.prototype.subscribe = async (options) => {
    if (!options?.userVisibleOnly || !(options.applicationServerKey?.byteLength === 65)) throw new Error("a bad subscribe call");
    const keys = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const p256dh = b64(await crypto.subtle.exportKey("raw", keys.publicKey));
    const json = { endpoint, expirationTime: null, keys: { p256dh, auth: b64(crypto.getRandomValues(new Uint8Array(16))) } };
    sessionStorage.setItem(KEY, JSON.stringify(json));
    return subscription(json);
  };
}

test("a resident turns on notices for where they are and a chosen place, gets only what meets them, and removes everything with one tap", async () => {
  const received = [];
  const sink = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push({ url: req.url, urgency: req.headers.urgency, encoding: req.headers["content-encoding"] });
      res.writeHead(201).end();
    });
  });
  await new Promise((ok) => sink.listen(0, "127.0.0.1", ok));
  const endpoint = `http://127.0.0.1:${sink.address().port}/push/resident`;
  const context = await newContext(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true,
    geolocation: { longitude: 140.406, latitude: 38.6 } });
  await context.grantPermissions(["notifications", "geolocation"], { origin: server.base });
  await context.addInitScript(pushServiceStandIn, endpoint);
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/map`);
  await idle(page);
  await page.click("#menu");
  const panel = page.locator("#subscribe");
  await panel.waitFor();
  assert.match(await panel.locator("h2").textContent(), /お知らせを受け取る/);

  // Nothing chosen yet: it says so and sends nothing.
  await panel.getByRole("button", { name: "通知を受け取る" }).click();
  assert.match(await panel.locator(".push-status").textContent(), /場所を1つ以上/);

  // Where I am (the browser's location), and the map centre moved to 常盤地区 named 実家, 1 km.
  await panel.getByRole("button", { name: "現在地を追加" }).click();
  await panel.locator(".push-places li", { hasText: "現在地" }).waitFor();
  await page.evaluate(() => window.machizuMap.jumpTo({ center: [140.52, 38.66] }));
  await panel.getByLabel("場所の名前（任意）").fill("実家");
  await panel.getByRole("button", { name: "地図の中心を追加" }).click();
  await panel.getByLabel("実家 の範囲").selectOption("1000");
  await panel.getByLabel("その他").uncheck();
  await panel.getByLabel("English").check();
  assert.deepEqual(await axeViolations(page, "#subscribe"), []);
  await panel.getByRole("button", { name: "通知を受け取る" }).click();
  await panel.locator(".push-status", { hasText: "通知を受け取る設定をしました" }).waitFor();
  await page.screenshot({ path: join(artifacts, "public-subscribe-360.png") });

  // machizu keeps the subscription and the choices: a notice meeting 実家 in a chosen category is
  // pushed; one in a category not chosen, and one far from both places, are not.
  const key = server.outputs[0].split("\n").pop().trim();
  const ends = new Date(Date.now() + 3600_000).toISOString();
  const square = (x, y, d) => ({ type: "Polygon", coordinates: [[[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]] });
  const post = (category, area, title) => fetch(`${server.base}/notices`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ title, body: "試験", category, severity: "Severe", urgency: "Immediate", certainty: "Observed", ends_at: ends, area }),
  }).then(async (r) => assert.equal(r.status, 201, await r.text()));
  await post("other", square(140.52, 38.66, 0.01), "その他のお知らせ");
  await post("snow", square(140.35, 38.47, 0.005), "遠くの除雪");
  // 実家 is 1 km around (140.52, 38.66): a square whose edge is 600 m east of it meets the circle.
  await post("snow", square(140.52 + 0.012, 38.66, 0.005), "実家の近くの除雪");
  for (let i = 0; i < 60 && received.length === 0; i++) await delay(500);
  await delay(3000);
  assert.equal(received.length, 1, JSON.stringify(received));
  assert.deepEqual(received[0], { url: "/push/resident", urgency: "high", encoding: "aes128gcm" });
  const feed = await (await fetch(`${server.base}/notices`)).json();
  const near = feed.items.find((i) => i._machizu.title === "実家の近くの除雪")._machizu;
  // The staff list's counts show the one push sent for it.
  const all = await (await fetch(`${server.base}/notices?all=true`, { headers: { authorization: `Bearer ${key}` } })).json();
  assert.equal(all.items.find((i) => i._machizu.id === near.id)._machizu.delivery.sent, 1);

  // Back later: the panel shows the choices, and one tap removes everything.
  await page.reload();
  await idle(page);
  await page.click("#menu");
  await panel.locator(".push-places li", { hasText: "実家" }).waitFor();
  assert.equal(await panel.getByLabel("実家 の範囲").inputValue(), "1000");
  await panel.getByRole("button", { name: "通知をやめて、登録をすべて削除" }).click();
  await panel.locator(".push-status", { hasText: "登録をすべて削除しました" }).waitFor();
  assert.match(await panel.locator(".push-places").textContent(), /まだ場所がありません/);
  assert.equal(await page.evaluate(() => localStorage.getItem("machizu.push")), null);
  // machizu has nothing left for it: removing again finds nothing, and no notice reaches it.
  const again = await fetch(`${server.base}/push/subscriptions`, {
    method: "DELETE", headers: { "content-type": "application/json" }, body: JSON.stringify({ endpoint }),
  });
  assert.equal(again.status, 404);
  await post("snow", square(140.406, 38.6, 0.01), "削除後の除雪");
  await delay(4000);
  assert.equal(received.length, 1);
  assert.deepEqual(errors, []);
  await context.close();
  sink.close();
});
