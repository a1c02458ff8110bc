// The staff map in headless Chromium: a wrong password, signing in (the cookie's flags), every
// layer in the list, an edit of a hazardous building that shows on the map after saving, a
// stale edit that shows the conflict, the form's own checks and the server's errors, measuring,
// printing, and signing out. Screenshots go to test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createECDH, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { artifacts, axeViolations, bin, expectRedraw, idle, launch, newContext, root, startServer, watchErrors, watchRequests } from "./support.mjs";

const PASSWORD = "雪の夜の見回り 2026";
let server, browser;

before(async () => {
  server = await startServer({
    // Playback counts this test's own plow's fixes: no simulated demo plows.
    config: "[live]\ndemo_plows = 0\n[notices.push]\nendpoint_origins = [\"http://127.0.0.1\"]\nretry_ms = 200\n",
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

test("staff map text: 地番, road names and hazardous buildings' addresses, in both languages, with no glyph or font from anywhere", async () => {
  const context = await newContext(browser, { viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const requests = watchRequests(page, server.base);
  await page.goto(`${server.base}/staff#17.3/38.6005/140.4065`);
  await signIn(page);
  await idle(page);
  const placed = (id) => page.evaluate((id) => window.machizuMap.queryRenderedFeatures({ layers: [id] }).map((f) => f.properties), id);
  assert.ok((await placed("parcels-label")).length >= 20);
  assert.ok((await placed("roads-label")).length > 0);
  await page.screenshot({ path: join(artifacts, "staff-labels-1400px.png") });
  // Hazardous buildings, labelled with their addresses at z16.5 (those a collision leaves room for).
  const buildings = await (await page.request.get(`${server.base}/staff/api/ogc/collections/hazardous_buildings/items?limit=1000`)).json();
  const known = new Set(buildings.features.map((f) => f.properties.address));
  const [lon, lat] = buildings.features[0].geometry.coordinates;
  await page.evaluate(([lon, lat]) => window.machizuMap.jumpTo({ zoom: 16.5, center: [lon, lat] }), [lon, lat]);
  await idle(page);
  const addresses = (await placed("hazardous_buildings-label")).map((p) => p.address);
  assert.ok(addresses.length > 0 && addresses.every((a) => known.has(a)), `${addresses}`);
  await page.click("#app .lang");
  await idle(page);
  const field = await page.evaluate(() => window.machizuMap.getLayoutProperty("road_events-label", "text-field"));
  assert.equal(field[0], "match", "road event kinds in English");
  assert.ok(field.includes("通行止め") && field.includes("Closed"));
  requests.check();
  assert.deepEqual(errors, []);
  await context.close();
});

test("staff print the map at 1:2,500 on A4 landscape: a PDF true to scale, with the labels, legend and 出典", async () => {
  const context = await newContext(browser, { viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.base}/staff#16.8/38.6005/140.4065`);
  await signIn(page);
  await idle(page);
  await page.click("#tools summary");
  // By keyboard: the button opens the dialog with the scale chosen first.
  await page.focus("#print-scale");
  await page.keyboard.press("Enter");
  await page.locator("#print-dialog[open]").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.name), "scale");
  assert.deepEqual(await axeViolations(page, "#print-dialog"), []);
  await page.selectOption('#print-form select[name="scale"]', "free");
  assert.ok(await page.isVisible('#print-form input[name="free_scale"]'));
  await page.selectOption('#print-form select[name="scale"]', "2500");
  assert.ok(await page.isHidden('#print-form input[name="free_scale"]'));
  await page.check('#print-form input[value="landscape"]');
  await page.fill('#print-form input[name="title"]', "中心部 除雪計画図（試し刷り）");
  await page.fill('#print-form textarea[name="note"]', "通行止め区間の確認用");
  await page.screenshot({ path: join(artifacts, "staff-print-dialog.png") });
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 120_000 }), page.click('#print-form button[type="submit"]')]);
  const path = join(artifacts, "staff-print-1-2500.pdf");
  await download.saveAs(path);
  await page.waitForFunction(() => !document.getElementById("print-dialog").open);
  assert.match(await page.textContent("#status"), /1:2,500/);

  const sheet = JSON.parse(execFileSync(join(root, "target/test-venv/bin/python"), [join(root, "tests/print/check_pdf.py"), path]).toString());
  assert.deepEqual(sheet.page_pt.map(Math.round), [842, 595]);
  for (const text of ["中心部 除雪計画図（試し刷り）", "通行止め区間の確認用", "1:2,500", "100 m", "出典：国土地理院", "架空", "道路", "国道"]) {
    assert.ok(sheet.text.includes(text), `${text} on the sheet: ${sheet.text}`);
  }
  const bar = sheet.rects.filter((r) => r.stroke && !r.fill && Math.abs(r.bottom - r.top - 4.535) < 0.3);
  assert.equal(bar.length, 1);
  const barMm = ((bar[0].x1 - bar[0].x0) * 25.4) / 72;
  assert.ok(Math.abs(barMm / 40 - 1) < 0.005, `100 m at 1:2,500 is 40 mm: ${barMm}`);
  // The map picture: drawn at 200 dpi for the frame (277 × 148 mm), 1:2,500 across it.
  assert.equal(sheet.images.length, 1);
  const [w, h] = sheet.images[0].px;
  assert.ok(Math.abs(w - 2181) <= 3 && Math.abs(h - 1165) <= 3, `picture ${w}×${h}`);
  const widthMm = ((sheet.images[0].x1 - sheet.images[0].x0) * 25.4) / 72;
  assert.ok(Math.abs(widthMm - (w / 200) * 25.4) < 0.5, `${widthMm} mm for ${w} px at 200 dpi`);
  assert.ok(sheet.drawn.inked_share > 0.05, `the map is on the page: ${sheet.drawn.inked_share}`);
  assert.deepEqual(errors, []);
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

/** A push service stand-in on loopback: takes every push (201) and counts them per path. */
async function pushSink() {
  const received = new Map();
  const sink = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.set(req.url, (received.get(req.url) ?? 0) + 1);
      res.writeHead(201).end();
    });
  });
  await new Promise((ok) => sink.listen(0, "127.0.0.1", ok));
  return { origin: `http://127.0.0.1:${sink.address().port}`, received, close: () => sink.close() };
}

/** The row of the staff notice list whose title contains `title`. */
const noticeRow = (page, title) => page.locator("#notice-list li.notice-row", { hasText: title });

test("staff write, publish, update and cancel notices for a district, a drawn area and around a road, and see their pushes", async () => {
  const sink = await pushSink();
  const context = await newContext(browser, { viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  page.on("dialog", (d) => d.accept());
  await page.goto(`${server.base}/staff`);
  await signIn(page);
  await page.locator("#panel").waitFor();
  await idle(page);

  // A resident in 宮沢地区 subscribed to road notices (the browser's keys made as a browser does).
  const districts = await (await fetch(`${server.base}/ogc/collections/districts/items`)).json();
  const miyazawa = districts.features.find((f) => f.properties.name === "宮沢地区");
  const ring = miyazawa.geometry.type === "Polygon" ? miyazawa.geometry.coordinates[0] : miyazawa.geometry.coordinates[0][0];
  const inside = await page.evaluate((ring) => {
    // A point inside the district: the middle of a chord through its centre row.
    const ys = ring.map((p) => p[1]);
    const y = (Math.min(...ys) + Math.max(...ys)) / 2;
    const xs = [];
    for (let i = 1; i < ring.length; i++) {
      const [a, b] = [ring[i - 1], ring[i]];
      if ((a[1] > y) !== (b[1] > y)) xs.push(a[0] + ((y - a[1]) / (b[1] - a[1])) * (b[0] - a[0]));
    }
    xs.sort((p, q) => p - q);
    return [(xs[0] + xs[1]) / 2, y];
  }, ring);
  const ecdh = createECDH("prime256v1");
  const subscribed = await fetch(`${server.base}/push/subscriptions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      subscription: { endpoint: `${sink.origin}/push/resident-1`,
        keys: { p256dh: ecdh.generateKeys().toString("base64url"), auth: randomBytes(16).toString("base64url") } },
      places: [{ lon: inside[0], lat: inside[1], radius_m: 50 }], categories: ["road"], lang: "ja",
    }),
  });
  assert.equal(subscribed.status, 201);

  await page.locator("#notices-staff summary").click();
  await page.locator("#notice-list li").first().waitFor();
  assert.match(await page.textContent("#notice-list"), /お知らせはありません/);

  // 1. A district: every field through the form, published.
  await page.click("#new-notice");
  const form = page.locator("#notice-dialog[open] #notice-form");
  await form.waitFor();
  assert.deepEqual(await axeViolations(page, "#notice-dialog"), []);
  await form.locator('input[name="title"]').fill("宮沢地区 市道の通行止め");
  await form.locator('textarea[name="body"]').fill("除雪のため、今夜22時から市道宮沢線を通行止めにします。");
  await form.locator('input[name="title_en"]').fill("Miyazawa: city road closed");
  await form.locator('select[name="category"]').selectOption("road");
  await form.locator('select[name="severity"]').selectOption("Severe");
  await form.locator('select[name="district"]').selectOption({ label: "宮沢地区" });
  // Without a text the form says what is missing and sends nothing.
  await form.locator('textarea[name="body"]').fill("");
  await form.locator('button[value="published"]').click();
  assert.match(await page.textContent("#notice-error"), /本文/);
  await form.locator('textarea[name="body"]').fill("除雪のため、今夜22時から市道宮沢線を通行止めにします。");
  await form.locator('button[value="published"]').click();
  await page.locator("#notice-dialog[open]").waitFor({ state: "detached" }).catch(() => {});
  await page.waitForFunction(() => !document.querySelector("#notice-dialog").open);
  assert.match(await page.textContent("#status"), /公開しました/);
  const row = noticeRow(page, "宮沢地区 市道の通行止め");
  assert.match(await row.textContent(), /【重大】.*公開中/);
  assert.match(await row.textContent(), /道路・通行止め・対象地域: 宮沢地区/);
  let feed = await (await fetch(`${server.base}/notices`)).json();
  const published = feed.items.find((i) => i._machizu.title === "宮沢地区 市道の通行止め")._machizu;
  assert.equal(published.area_spec.district, "02");
  assert.equal(published.title_en, "Miyazawa: city road closed");

  // Its push reaches the resident: the list shows it sent (refreshed when the panel opens).
  for (let i = 0; i < 60 && !sink.received.get("/push/resident-1"); i++) await delay(500);
  assert.equal(sink.received.get("/push/resident-1"), 1);
  await page.waitForFunction(async () => {
    document.querySelector("#notices-staff summary").click();
    document.querySelector("#notices-staff summary").click();
    await new Promise((r) => setTimeout(r, 300));
    return /送信 1・失敗 0・無効 0・待機 0/.test(document.querySelector("#notice-list").textContent);
  }, null, { timeout: 30_000 });

  // 2. Drawn on the map by keyboard alone: pan with the arrow keys, add the map centre, three times.
  await page.click("#new-notice");
  await form.waitFor();
  await form.locator('input[name="title"]').fill("雪崩注意（描いた範囲）");
  await form.locator('textarea[name="body"]').fill("斜面の下を通らないでください。");
  await form.locator('select[name="category"]').selectOption("disaster");
  await form.locator("#area-kind-drawn").check();
  await form.getByRole("button", { name: "地図に範囲を描く" }).click();
  await page.locator("#map-task").waitFor();
  assert.deepEqual(await axeViolations(page, "#map-task"), []);
  for (const key of ["ArrowRight", "ArrowDown", "ArrowLeft"]) {
    await page.locator("#map canvas").press(key);
    await page.waitForFunction(() => !window.machizuMap.isMoving());
    await delay(400);
    await page.locator("#map-task-centre").press("Enter");
  }
  assert.match(await page.textContent("#map-task-count"), /3 点/);
  await page.locator("#map-task-done").press("Enter");
  await form.waitFor();
  assert.match(await form.textContent(), /3 角形の範囲を描きました/);
  await form.getByRole("button", { name: "下書き保存" }).click();
  await page.waitForFunction(() => !document.querySelector("#notice-dialog").open);
  assert.match(await noticeRow(page, "雪崩注意").textContent(), /下書き/);
  const all = await page.evaluate(async () => (await (await fetch("/staff/api/notices?all=true")).json()).items.map((i) => i._machizu));
  const drawn = all.find((n) => n.title.startsWith("雪崩注意"));
  assert.equal(drawn.status, "draft");
  assert.equal(drawn.area_spec.type, "Polygon");
  assert.equal(drawn.area_spec.coordinates[0].length, 4);
  feed = await (await fetch(`${server.base}/notices`)).json();
  assert.ok(!feed.items.some((i) => i._machizu.title.startsWith("雪崩注意")), "a draft is not public");

  // 3. Around a road picked on the map, 200 m.
  await page.click("#new-notice");
  await form.waitFor();
  await form.locator('input[name="title"]').fill("除雪作業中（道路の周囲）");
  await form.locator('textarea[name="body"]').fill("除雪車が作業中です。");
  await form.locator("#area-kind-buffer").check();
  await form.locator('input[name="buffer_m"]').fill("200");
  await form.getByRole("button", { name: "地図で地物を選ぶ" }).click();
  await page.locator("#map-task").waitFor();
  const road = await page.evaluate(() => {
    // A road vertex in the lower half of the map, clear of the task bar over its top.
    const map = window.machizuMap;
    const { clientWidth: w, clientHeight: h } = map.getContainer();
    for (const f of map.queryRenderedFeatures()) {
      if (f.layer.metadata?.["machizu:layer"] !== "roads" || f.id === undefined || f.geometry.type !== "LineString") continue;
      for (const c of f.geometry.coordinates) {
        const p = map.project(c);
        if (!(p.x > 0.2 * w && p.x < 0.8 * w && p.y > 0.5 * h && p.y < 0.9 * h)) continue;
        // Where the road is what a click picks: nothing of another layer drawn over it.
        const top = map.queryRenderedFeatures([[p.x - 4, p.y - 4], [p.x + 4, p.y + 4]]).find((x) => x.layer.metadata?.["machizu:layer"]);
        if (top?.layer.metadata["machizu:layer"] === "roads") return { id: top.id, point: p };
      }
    }
    return null;
  });
  const box = await page.locator("#map canvas").boundingBox();
  await page.mouse.click(box.x + road.point.x, box.y + road.point.y);
  await form.waitFor();
  assert.match(await form.textContent(), /選んだ地物: 道路/);
  await form.locator('button[value="published"]').click();
  await page.waitForFunction(() => !document.querySelector("#notice-dialog").open);
  feed = await (await fetch(`${server.base}/notices`)).json();
  const buffered = feed.items.find((i) => i._machizu.title.startsWith("除雪作業中"))._machizu;
  assert.equal(buffered.area_spec.layer, "roads");
  assert.equal(buffered.area_spec.buffer_m, 200);
  assert.equal(String(buffered.area_spec.fid), String(road.id));

  // Update the district notice: a new version goes out as a CAP Update.
  await noticeRow(page, "宮沢地区 市道の通行止め").getByRole("button", { name: "編集" }).click();
  await form.waitFor();
  assert.equal(await form.locator('select[name="district"]').inputValue(), "02");
  await form.locator('input[name="title"]').fill("宮沢地区 市道の通行止め（延長）");
  await form.getByRole("button", { name: "更新を送る" }).click();
  await page.waitForFunction(() => !document.querySelector("#notice-dialog").open);
  const updated = await (await fetch(`${server.base}/notices/${published.id}`)).json();
  assert.equal(updated.title, "宮沢地区 市道の通行止め（延長）");
  assert.equal(updated.version, 2);
  for (let i = 0; i < 60 && sink.received.get("/push/resident-1") < 2; i++) await delay(500);
  assert.equal(sink.received.get("/push/resident-1"), 2, "the update is pushed too");

  // Cancel it (after the confirmation): gone from the public feed, kept in the staff list.
  await noticeRow(page, "（延長）").getByRole("button", { name: "取り消す" }).click();
  await page.waitForFunction(() => /取消済み/.test(document.querySelector("#notice-list").textContent));
  feed = await (await fetch(`${server.base}/notices`)).json();
  assert.ok(!feed.items.some((i) => i._machizu.id === published.id));
  assert.deepEqual(await axeViolations(page, "#panel"), []);
  await page.screenshot({ path: join(artifacts, "staff-notices.png") });

  // In English, the list follows.
  await page.locator("#panel .lang").click();
  assert.match(await noticeRow(page, "Miyazawa").textContent(), /Severe.*cancelled/);
  assert.deepEqual(errors, []);
  await context.close();
  sink.close();
});
