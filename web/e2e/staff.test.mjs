// The staff map in headless Chromium: a wrong password, signing in (the cookie's flags), every
// layer in the list, an edit of a hazardous building that shows on the map after saving, a
// stale edit that shows the conflict, the form's own checks and the server's errors, measuring,
// printing, and signing out. Screenshots go to test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { artifacts, bin, expectRedraw, idle, launch, newContext, root, startServer, watchErrors } from "./support.mjs";

const PASSWORD = "雪の夜の見回り 2026";
let server, browser;

before(async () => {
  server = await startServer({
    // Playback counts this test's own plow's fixes: no simulated demo plows.
    config: "[live]\ndemo_plows = 0\n",
    setup: [
      { args: ["users", "add", "tanaka", "--display-name", "田中 花子（建設課）"], input: `${PASSWORD}\n` },
      { args: ["vehicles", "add", "--id", "plow-01", "--name", "除雪ドーザ1号", "--kind", "plow", "--operator", "尾花沢建設"] },
    ],
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

async function signIn(page, password = PASSWORD) {
  await page.fill('input[name="name"]', "tanaka");
  await page.fill('input[name="password"]', password);
  await page.click('#sign-in button[type="submit"]');
}

/** The status of hazardous building `id` as drawn now. */
async function drawnStatus(page, id) {
  return page.evaluate((id) => {
    const f = window.machizuMap.queryRenderedFeatures({ layers: ["hazardous-buildings"] }).find((f) => f.id === id);
    return f?.properties.status;
  }, id);
}

/** Clicks hazardous building `id` on the map and opens its editor. */
async function openEditorOf(page, id) {
  const point = await page.evaluate((id) => {
    const map = window.machizuMap;
    const f = map.queryRenderedFeatures({ layers: ["hazardous-buildings"] }).find((f) => f.id === id);
    return map.project(f.geometry.coordinates);
  }, id);
  const box = await page.locator("#map canvas").boundingBox();
  await page.mouse.click(box.x + point.x, box.y + point.y);
  await page.locator(".maplibregl-popup button.edit").click();
  await page.locator("#editor[open]").waitFor();
  await page.waitForFunction(() => document.querySelector('#edit-form select[name="status"]')?.value);
}

test("staff sign in, edit with conflicts and checks, measure, print and sign out", async () => {
  const context = await newContext(browser, { viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/staff`);

  // A wrong password: the message, and no session.
  await signIn(page, "not the password");
  await page.locator("#sign-in-error").waitFor();
  assert.match(await page.textContent("#sign-in-error"), /ユーザー名またはパスワードが違います/);
  assert.equal((await context.cookies()).length, 0);
  await page.screenshot({ path: join(artifacts, "staff-wrong-password.png") });

  await signIn(page);
  await page.locator("#panel").waitFor();
  assert.match(await page.textContent("#who"), /田中 花子/);
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, "machizu_session");
  assert.ok(cookie.httpOnly);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(cookie.path, "/staff");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the session");

  // Go to a hazardous building; every layer, staff-only ones included, is listed.
  const target = await page.evaluate(async () => {
    const r = await fetch("/staff/api/ogc/collections/hazardous_buildings/items?limit=1");
    const f = (await r.json()).features[0];
    return { id: f.id, coordinates: f.geometry.coordinates, owner: f.properties.owner_name };
  });
  assert.ok(target.owner, "staff see owners");
  await page.evaluate((c) => window.machizuMap.jumpTo({ center: c, zoom: 17 }), target.coordinates);
  await idle(page);
  const listed = await page.$$eval("#layers input[type=checkbox]", (inputs) => inputs.map((i) => i.dataset.layer));
  for (const id of ["parcels", "roads", "hazardous_buildings", "road_events", "snowplow_trails", "snowplows_fleet"]) {
    assert.ok(listed.includes(id), `${id} in ${listed}`);
  }
  assert.ok(await page.isVisible('input[data-opacity="parcels"]'));
  await page.screenshot({ path: join(artifacts, "staff-map.png") });

  // The popup shows staff attributes; edit the status: the map shows the change after saving.
  await openEditorOf(page, target.id);
  const before = await page.inputValue('#edit-form select[name="status"]');
  const after = before === "解体済" ? "要経過観察" : "解体済";
  await page.selectOption('#edit-form select[name="status"]', after);
  await page.fill('#edit-form textarea[name="notes"]', "雪下ろし要請済み");
  await expectRedraw(page);
  await page.click('#edit-form button[type="submit"]');
  await page.locator("#editor:not([open])").waitFor({ state: "attached" });
  await page.waitForFunction(() => document.getElementById("status").textContent === "保存しました");
  await page.waitForFunction(([id, status]) => {
    const f = window.machizuMap.queryRenderedFeatures({ layers: ["hazardous-buildings"] }).find((f) => f.id === id);
    return f?.properties.status === status;
  }, [target.id, after], { timeout: 30_000 });
  assert.equal(await drawnStatus(page, target.id), after);
  await page.screenshot({ path: join(artifacts, "staff-after-edit.png") });

  // A stale edit: someone else saves meanwhile; saving the form shows the conflict.
  await openEditorOf(page, target.id);
  await page.evaluate(async (id) => {
    const session = await (await fetch("/staff/session")).json();
    const item = `/staff/api/ogc/collections/hazardous_buildings/items/${id}`;
    const etag = (await fetch(item)).headers.get("ETag");
    const r = await fetch(item, {
      method: "PATCH",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf, "If-Match": etag },
      body: JSON.stringify({ properties: { notes: "別の職員が更新" } }),
    });
    if (!r.ok) throw new Error(`the other edit: ${r.status}`);
  }, target.id);
  await page.selectOption('#edit-form select[name="status"]', "特定空家等");
  await page.click('#edit-form button[type="submit"]');
  await page.locator("#edit-error").waitFor();
  assert.match(await page.textContent("#edit-error"), /他の職員によって更新されています/);
  await page.screenshot({ path: join(artifacts, "staff-conflict.png") });
  // Reloading takes the other person's change; then the save goes through.
  await page.click("#edit-error button");
  await page.waitForFunction(() => document.querySelector('#edit-form textarea[name="notes"]').value === "別の職員が更新");
  assert.ok(await page.isHidden("#edit-error"));
  await page.selectOption('#edit-form select[name="status"]', "特定空家等");
  await page.click('#edit-form button[type="submit"]');
  await page.locator("#editor:not([open])").waitFor({ state: "attached" });

  // The form checks before sending (a required field), and shows what the server refuses.
  await openEditorOf(page, target.id);
  await page.evaluate(() => {
    const s = document.querySelector('#edit-form select[name="status"]');
    s.add(new Option("", ""));
    s.value = "";
  });
  let sent = 0;
  const count = (r) => r.method() === "PATCH" && sent++;
  page.on("request", count);
  await page.click('#edit-form button[type="submit"]');
  assert.match(await page.textContent('.field-error[data-for="status"]'), /必須/);
  assert.equal(sent, 0, "nothing is sent while the form has problems");
  await page.evaluate(() => {
    const s = document.querySelector('#edit-form select[name="status"]');
    s.add(new Option("倒壊", "倒壊"));
    s.value = "倒壊";
  });
  await page.click('#edit-form button[type="submit"]');
  await page.locator("#edit-error").waitFor();
  assert.equal(sent, 1);
  assert.match(await page.textContent('.field-error[data-for="status"]'), /is not one of/);
  page.off("request", count);
  await page.click("#edit-form button:not(.primary)");

  // Measuring a distance along two clicks 200 px apart at zoom 17.
  await page.click("#tools summary");
  await page.click("#measure-distance");
  const box = await page.locator("#map canvas").boundingBox();
  const expected = await page.evaluate(() => {
    const map = window.machizuMap;
    const c = map.getCanvas().getBoundingClientRect();
    const a = map.unproject([c.width / 2 - 100, c.height / 2]);
    const b = map.unproject([c.width / 2 + 100, c.height / 2]);
    return a.distanceTo(b);
  });
  await page.mouse.click(box.x + box.width / 2 - 100, box.y + box.height / 2);
  await page.mouse.click(box.x + box.width / 2 + 100, box.y + box.height / 2);
  const measured = Number((await page.textContent("#measure-result")).match(/([\d.]+) m/)[1]);
  assert.ok(Math.abs(measured - expected) < 0.5, `${measured} m vs ${expected} m`);
  await page.click("#measure-clear");

  // Printing: a PNG with the frame below the map, and the print sheet with legend and attribution.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#print-png")]);
  const png = readFileSync(await download.path());
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const canvas = await page.evaluate(() => [window.machizuMap.getCanvas().width, window.machizuMap.getCanvas().height]);
  assert.equal(width, canvas[0]);
  assert.ok(height > canvas[1] + 60, `the frame adds a footer: ${height} vs ${canvas[1]}`);
  await download.saveAs(join(artifacts, "staff-print.png"));
  await page.evaluate(() => window.dispatchEvent(new Event("beforeprint")));
  await page.emulateMedia({ media: "print" });
  const sheet = await page.textContent("#print-sheet");
  assert.match(sheet, /出典：国土地理院/);
  assert.match(sheet, /特定空家等/);
  assert.match(sheet, /北/);
  await page.pdf({ path: join(artifacts, "staff-print.pdf"), format: "A4", landscape: true });
  await page.emulateMedia({ media: "screen" });

  // Signing out: the sign-in form again, and the staff area closed.
  await page.click("#sign-out");
  await page.locator("#sign-in").waitFor();
  const status = await page.evaluate(async () => (await fetch("/staff/api/layers")).status);
  assert.equal(status, 401);
  // The conflict (412) and the refused value (422) were asked for; nothing else went wrong.
  assert.deepEqual(errors.filter((e) => !/\b(412|422)\b/.test(e)), []);
  await context.close();
});

test("staff search, draw a road closure, follow a plow live, play it back, measure an area", async () => {
  const context = await newContext(browser, { viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/staff`);
  await signIn(page);
  await page.locator("#panel").waitFor();
  await idle(page);

  // Search by 地番 as people type it; a result takes the map there and shows the parcel.
  await page.fill("#q", "１２３");
  await page.click('#search button[type="submit"]');
  await page.locator("#results button").first().waitFor();
  await page.locator("#results button").first().click();
  const popup = page.locator(".maplibregl-popup");
  await popup.waitFor();
  assert.match(await popup.locator('td[data-attribute="chiban"]').textContent(), /123/);
  assert.ok(await page.evaluate(() => window.machizuMap.getZoom() > 15));
  await page.screenshot({ path: join(artifacts, "staff-search.png") });
  await popup.locator(".maplibregl-popup-close-button").click();

  // A road closure: draw it, the form refuses an end before the start, then it is on the map.
  await page.evaluate(() => window.machizuMap.jumpTo({ center: [140.41, 38.605], zoom: 17 }));
  await idle(page);
  await page.click("#tools summary");
  await page.click("#new-road-event");
  const box = await page.locator("#map canvas").boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.click(cx - 120, cy);
  await page.mouse.click(cx, cy + 10);
  await page.mouse.dblclick(cx + 120, cy);
  await page.locator("#editor[open]").waitFor();
  assert.equal(await page.getAttribute("#edit-form", "data-layer"), "road_events");
  await page.selectOption('#edit-form select[name="kind"]', "通行止め");
  await page.fill('#edit-form textarea[name="reason"]', "除雪作業のため");
  await page.fill('#edit-form input[name="starts_at"]', "2026-12-24T08:00");
  await page.fill('#edit-form input[name="ends_at"]', "2026-12-24T07:00");
  await page.click('#edit-form button[type="submit"]');
  assert.match(await page.textContent('.field-error[data-for="ends_at"]'), /開始より後/);
  await page.fill('#edit-form input[name="ends_at"]', "2026-12-24T17:00");
  await expectRedraw(page);
  await page.click('#edit-form button[type="submit"]');
  await page.waitForFunction(() => window.machizuMap.queryRenderedFeatures({ layers: ["road-events"] })
    .some((f) => f.properties.reason === "除雪作業のため"), null, { timeout: 30_000 });
  const stored = await page.evaluate(async () => {
    const r = await fetch("/staff/api/ogc/collections/road_events/items?limit=100");
    return (await r.json()).features.find((f) => f.properties.reason === "除雪作業のため");
  });
  assert.equal(stored.geometry.coordinates.length, 3);
  assert.equal(Date.parse(stored.properties.starts_at), Date.parse("2026-12-24T08:00:00+09:00"));
  await page.screenshot({ path: join(artifacts, "staff-road-closure.png") });

  // A plow reports two positions 40 m apart: it appears on the staff map at once, where it is
  // now, and its trail is drawn once the tiles are reloaded — even when the reload is asked for
  // while an earlier reload's tiles, fetched before the fixes, are still on their way (held back
  // here for 3 s): the map waits for them, then fetches again, rather than let them land last
  // and wipe the trail out.
  let holding = true;
  let fetched = 0;
  let open = 0;
  const isTile = (url) => url.pathname.startsWith("/staff/api/tiles/") && url.pathname.endsWith(".mvt");
  const holdBack = async (route) => {
    open++;
    const held = holding;
    const response = await route.fetch();
    fetched++;
    if (held) await delay(3000);
    await route.fulfill({ response });
    open--;
  };
  await page.route(isTile, holdBack);
  const refreshTiles = () => page.evaluate(async () => (await import("/web/common.js")).refreshTiles(window.machizuMap));
  await refreshTiles();
  while (fetched === 0) await delay(50);
  await delay(300); // the rest of the view's tiles, asked for together
  const firstBatch = fetched;

  const credential = server.outputs[1];
  const center = await page.evaluate(() => window.machizuMap.getCenter().toArray());
  const now = Math.floor(Date.now() / 1000);
  const metresPerDegree = 111_320 * Math.cos((center[1] * Math.PI) / 180);
  for (const [seconds, east] of [[now - 10, -20], [now, 20]]) {
    const report = new URL("/ingest/osmand", server.base);
    const fix = { id: credential, lat: center[1], lon: center[0] + east / metresPerDegree, timestamp: seconds, speed: 8, bearing: 90 };
    for (const [k, v] of Object.entries(fix)) report.searchParams.set(k, String(v));
    assert.equal((await fetch(report)).status, 200);
  }
  // The marker moves on to the newer fix, east of the centre.
  await page.waitForFunction((lon) => window.machizuMap.queryRenderedFeatures({ layers: ["snowplows-fleet"] })
    .some((f) => f.properties.vehicle_id === "plow-01" && f.geometry.coordinates[0] > lon), center[0], { timeout: 10_000 });
  holding = false;
  await refreshTiles();
  while (open > 0 || fetched < 2 * firstBatch) await delay(50);
  await expectRedraw(page);
  await idle(page);
  const trail = await page.evaluate(() => window.machizuMap.queryRenderedFeatures({ layers: ["snowplow-trails"] })
    .filter((f) => f.properties.vehicle_id === "plow-01").map((f) => f.properties));
  assert.ok(trail.length > 0, "the trail is drawn after the reload, and stays");
  assert.equal(trail[0].vehicle_kind, "plow");
  await page.unroute(isTile, holdBack);

  // Playback of the last hours has both fixes: a period the user left alone runs to the moment
  // the button is pressed, not to when the page was opened (a stale end stands for that here).
  const jst = (ms) => new Date(ms + 9 * 3600_000).toISOString().slice(0, 16);
  await page.evaluate((stale) => { document.getElementById("pb-to").value = stale; }, jst(Date.now() - 3600_000));
  await page.click("#pb-load");
  await page.waitForFunction(() => /^2 件の位置/.test(document.getElementById("pb-status").textContent));
  assert.ok(await page.isEnabled("#pb-play"));
  // A period the user picks is kept: one that ended an hour ago has none of them.
  await page.fill("#pb-to", jst(Date.now() - 3600_000));
  await page.click("#pb-load");
  await page.waitForFunction(() => /^0 件の位置/.test(document.getElementById("pb-status").textContent));
  assert.ok(!(await page.isEnabled("#pb-play")));

  // Measuring an area: a right triangle of 200 × 200 px.
  await page.click("#measure-area");
  await page.mouse.click(cx - 100, cy - 100);
  await page.mouse.click(cx + 100, cy - 100);
  await page.mouse.click(cx + 100, cy + 100);
  const expected = await page.evaluate(() => {
    const map = window.machizuMap;
    const c = map.getCanvas().getBoundingClientRect();
    const a = map.unproject([c.width / 2 - 100, c.height / 2 - 100]);
    const b = map.unproject([c.width / 2 + 100, c.height / 2 - 100]);
    const d = map.unproject([c.width / 2 + 100, c.height / 2 + 100]);
    return (a.distanceTo(b) * b.distanceTo(d)) / 2;
  });
  const area = Number((await page.textContent("#measure-result")).match(/面積: ([\d.]+) m²/)[1]);
  assert.ok(Math.abs(area - expected) / expected < 0.01, `${area} m² vs ${expected} m²`);
  await page.screenshot({ path: join(artifacts, "staff-tools.png") });

  // English on a click.
  await page.click("#panel .lang");
  assert.equal(await page.textContent("#sign-out"), "Sign out");

  // An administrator sets the password again, which ends every session of the account: the
  // next request sends the user back to the sign-in form, saying why, and signing in works.
  execFileSync(bin, ["users", "passwd", "tanaka", "--data", server.dataDir], { cwd: root, input: `${PASSWORD}\n`, stdio: ["pipe", "ignore", "inherit"] });
  await page.fill("#q", "１２３");
  await page.click('#search button[type="submit"]');
  await page.locator("#sign-in").waitFor();
  assert.match(await page.textContent("#sign-in-error"), /session has ended/);
  assert.ok(await page.isHidden("#app"));
  await signIn(page);
  await page.locator("#panel").waitFor();
  await idle(page);
  assert.deepEqual(errors, []);
  await context.close();
});

test("staff see every gauge, with a week's and the season's chart and CSV export", async () => {
  const context = await newContext(browser, { viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/staff`);
  await signIn(page);
  await page.locator("#panel").waitFor();
  // The staff-only snow-ditch gauge: where it is, through the staff API.
  const at = await page.evaluate(async () => {
    const things = await (await fetch("/staff/api/sta/v1.1/Things?$expand=Locations")).json();
    return things.value.find((t) => /流雪溝/.test(t.name)).Locations[0].location.coordinates;
  });
  await page.evaluate((at) => window.machizuMap.jumpTo({ center: at, zoom: 17 }), at);
  await idle(page);
  await page.waitForFunction((at) => {
    const map = window.machizuMap;
    const p = map.project(at);
    return map.queryRenderedFeatures([[p.x - 3, p.y - 3], [p.x + 3, p.y + 3]], { layers: ["sensors-all"] }).length > 0;
  }, at, { timeout: 30_000 });
  const point = await page.evaluate((at) => window.machizuMap.project(at), at);
  const box = await page.locator("#map canvas").boundingBox();
  await page.mouse.click(box.x + point.x, box.y + point.y);
  const panel = page.locator(".maplibregl-popup section.station");
  await panel.locator("svg.chart polyline.values").waitFor();
  assert.match(await panel.locator("h2").textContent(), /流雪溝/);
  assert.equal(await panel.locator('button[data-period="day"]').getAttribute("aria-pressed"), "true");

  // The season, from the hourly aggregates: a min–max band and the mean.
  await panel.locator('button[data-period="season"]').click();
  await panel.locator("svg.chart polygon.band").waitFor();
  assert.equal(await panel.locator('button[data-period="season"]').getAttribute("aria-pressed"), "true");
  assert.match(await panel.locator("svg.chart title").textContent(), /今シーズン/);
  assert.match(await panel.locator("ul.chart-summary").textContent(), /今シーズン（1時間ごと）: 最高 [\d.]+ cm/);
  const hours = (await panel.locator("svg.chart polyline.values").getAttribute("points")).split(" ").length;
  assert.ok(hours >= 20, `a day of hours at least: ${hours}`);
  await page.screenshot({ path: join(artifacts, "staff-gauge-season.png") });

  // CSV of the season: a header and one row an hour.
  const [download] = await Promise.all([page.waitForEvent("download"), panel.locator("a.csv").click()]);
  assert.match(download.suggestedFilename(), /^datastream-\d+-season\.csv$/);
  const csv = readFileSync(await download.path(), "utf8").trim().split("\n");
  assert.equal(csv[0], "hour,count,min,mean,max");
  assert.equal(csv.length - 1, hours);
  for (const row of csv.slice(1)) assert.match(row, /^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z,\d+,[\d.]+,[\d.]+,[\d.]+$/);
  assert.deepEqual(errors, []);
  await context.close();
});
