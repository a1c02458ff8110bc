// Layers made from files in headless Chromium (#19): an admin uploads Yaizu's real hydrant CSV
// and one of its Shapefiles (zipped) in the staff map; a file without coordinates changes
// nothing and says why; the new layers are listed and drawn, their Japanese field names kept,
// counts and values as in the files; the public sees the public layer with only the field made
// public — in tiles, features and search — and never the staff-only layer; replacing the data
// swaps it whole; removal takes the layer off.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { artifacts, axeViolations, idle, launch, newContext, root, startServer, watchErrors, watchRequests } from "./support.mjs";

const PASSWORD = "新しいレイヤの作り方 2026";
const DATA = process.env.MACHIZU_SAMPLE_DATA ?? join(root, "../shared/data");
const HYDRANTS = join(DATA, "yaizu-city-opendata/消防水利施設一覧/222127_fire_hydrant.csv");
const FLOOD = join(DATA, "yaizu-city-opendata/浸水履歴_平成13年");
let server, browser;

before(async () => {
  server = await startServer({
    config: "[live]\ndemo_plows = 0\n",
    setup: [{ args: ["users", "add", "sato", "--display-name", "佐藤 一郎（情報政策課）", "--role", "admin"], input: `${PASSWORD}\n` }],
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** The hydrant CSV as text: header and rows (it has no quoted fields). */
function hydrantRows() {
  const [header, ...rows] = readFileSync(HYDRANTS, "utf8").trim().split("\n").map((l) => l.split(","));
  return { col: (name) => header.indexOf(name), rows };
}

/** The flood Shapefile zipped, as an admin would upload it, and its feature count as GDAL says. */
function zippedFlood() {
  const zip = join(mkdtempSync(join(tmpdir(), "machizu-zip-")), "浸水履歴_平成13年.zip");
  execFileSync("python3", ["-c", `import zipfile, glob, os, sys
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for f in glob.glob(os.path.join(sys.argv[2], "浸水履歴*")): z.write(f, os.path.basename(f))`, zip, FLOOD]);
  const info = execFileSync("ogrinfo", ["-so", "-al", join(FLOOD, "浸水履歴_平成13年.shp")]).toString();
  return { zip, count: Number(info.match(/Feature Count: (\d+)/)[1]) };
}

async function upload(page, { file, id, title, titleEn, attribution, visibility = "staff" }) {
  const form = page.locator("#layer-add");
  await form.locator('input[name="file"]').setInputFiles(file);
  await form.locator('input[name="id"]').fill(id);
  await form.locator('input[name="title_ja"]').fill(title);
  if (titleEn) await form.locator('input[name="title_en"]').fill(titleEn);
  if (attribution) await form.locator('input[name="attribution"]').fill(attribution);
  await form.locator(`input[name="visibility"][value="${visibility}"]`).check();
  await form.locator('button[type="submit"]').click();
}

test("an admin makes layers from Yaizu's hydrant CSV and a zipped Shapefile; the public sees only what was made public", async (t) => {
  if (!existsSync(HYDRANTS) || !existsSync(FLOOD)) {
    assert.ok(!process.env.MACHIZU_REQUIRE_SAMPLE_DATA, `sample data missing under ${DATA}`);
    return t.skip(`sample data missing under ${DATA}`);
  }
  const { col, rows } = hydrantRows();
  const flood = zippedFlood();
  const context = await newContext(browser, { viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const requests = watchRequests(page, server.base);
  page.on("dialog", (d) => d.accept());
  await page.goto(`${server.base}/staff`);
  await page.fill('input[name="name"]', "sato");
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('#sign-in button[type="submit"]');
  await page.locator("#layer-admin").waitFor();
  await page.click("#layer-admin summary");
  await page.locator("#file-layers li").first().waitFor();
  assert.match(await page.textContent("#file-layers"), /まだありません/);

  // A file without coordinates: the reason, and nothing made.
  await upload(page, { file: { name: "施設一覧.csv", mimeType: "text/csv", buffer: Buffer.from("名称,住所\n公民館,若葉町1\n") }, id: "facilities", title: "施設" });
  await page.locator("#layer-error:not([hidden])").waitFor();
  const said = await page.textContent("#layer-error");
  assert.match(said, /何も変更していません/);
  assert.match(said, /施設一覧\.csv.*緯度/);
  assert.match(await page.textContent("#file-layers"), /まだありません/);

  // The hydrants, public; the flood history, staff only.
  const attribution = "出典：焼津市オープンデータカタログ <PDL1.0>";
  await upload(page, { file: HYDRANTS, id: "hydrants", title: "消防水利", titleEn: "Fire hydrants", attribution, visibility: "public" });
  await page.waitForFunction((n) => document.querySelector("#layer-report")?.textContent.includes(`${n} 件を取り込みました`), rows.length);
  await page.locator('#layers div[data-layer="hydrants"]').waitFor();
  await upload(page, { file: flood.zip, id: "flood_2001", title: "浸水履歴（平成13年）" });
  await page.waitForFunction(() => document.querySelector("#layer-report")?.textContent.includes("浸水履歴（平成13年）"));
  const report = await page.textContent("#layer-report");
  const [, imported] = report.match(/(\d+) 件を取り込みました/);
  const [, skipped] = report.match(/取り込めなかった地物 (\d+) 件/);
  assert.equal(Number(imported) + Number(skipped), flood.count, report);
  assert.match(report, /its geometry is empty/);
  // The layer list is redrawn after the report: wait for the new entry, as for the hydrants.
  await page.locator('#layers div[data-layer="flood_2001"]').waitFor();
  assert.match(await page.textContent("#layers"), /消防水利[\s\S]*浸水履歴（平成13年）/);

  // Counts and values as in the file, by ID.
  const items = await page.evaluate(async () => (await (await fetch("/staff/api/ogc/collections/hydrants/items?limit=1000")).json()).features);
  assert.equal(items.length, rows.length);
  for (const row of rows) {
    const f = items.find((f) => f.properties.id === Number(row[col("ID")]));
    assert.equal(f.properties.kind, row[col("種別")]);
    assert.equal(f.properties.address, row[col("所在地_連結表記")]);
    assert.ok(Math.abs(f.geometry.coordinates[0] - Number(row[col("経度")])) < 1e-7);
  }

  // Drawn where they are, with a legend entry.
  const [lon, lat] = [Number(rows[0][col("経度")]), Number(rows[0][col("緯度")])];
  await page.evaluate(([lon, lat]) => window.machizuMap.jumpTo({ center: [lon, lat], zoom: 15 }), [lon, lat]);
  await idle(page);
  const drawn = await page.evaluate(() => window.machizuMap.queryRenderedFeatures({ layers: ["hydrants-points"] }).length);
  assert.ok(drawn > 0, "hydrants drawn");
  assert.match(await page.textContent('#layers div[data-layer="hydrants"] .legend'), /消防水利/);

  // The Shapefile's Japanese field names, kept; make 種別 of the hydrants public.
  await page.click('button[aria-label="設定: 浸水履歴（平成13年）"]');
  await page.locator("#layer-dialog[open]").waitFor();
  const fields = await page.textContent("#layer-form table");
  for (const name of ["日付", "異常気象名", "地域", "水害地域"]) assert.ok(fields.includes(name), `${name} in ${fields}`);
  assert.deepEqual(await axeViolations(page, "#layer-dialog"), []);
  await page.click("#layer-form .buttons button:not(.primary)");
  await page.click('button[aria-label="設定: 消防水利"]');
  await page.locator('#layer-form input[aria-label="種別 を一般公開する"]').check();
  await page.click('#layer-form button[type="submit"]');
  await page.waitForFunction(() => /保存しました/.test(document.querySelector("#layer-form [role=status]")?.textContent));
  await page.screenshot({ path: join(artifacts, "staff-layer-settings.png") });
  await page.keyboard.press("Escape");
  assert.deepEqual(await axeViolations(page, "#layer-admin"), []);
  await page.screenshot({ path: join(artifacts, "staff-layers-from-files.png") });

  // The public: the hydrants with 種別 only — in the catalog, the tiles, the features and search.
  const pub = await (await newContext(browser, { viewport: { width: 360, height: 740 } })).newPage();
  const publicErrors = watchErrors(pub);
  await pub.goto(`${server.base}/map#15/${lat}/${lon}`);
  await idle(pub);
  const seen = await pub.evaluate(async (address) => {
    const catalog = await (await fetch("/layers")).json();
    const layer = catalog.layers.find((l) => l.id === "hydrants");
    const items = (await (await fetch("/ogc/collections/hydrants/items?limit=1000")).json()).features;
    const found = (await (await fetch(`/search?q=${encodeURIComponent(address)}`)).json()).features;
    const rendered = window.machizuMap.queryRenderedFeatures({ layers: ["hydrants-points"] });
    return {
      attributes: layer.attributes.map((a) => a.name),
      flood: catalog.layers.some((l) => l.id === "flood_2001"),
      keys: [...new Set(items.flatMap((f) => Object.keys(f.properties)))],
      tileKeys: [...new Set(rendered.flatMap((f) => Object.keys(f.properties)))],
      drawn: rendered.length,
      foundHydrants: found.filter((f) => f.layer === "hydrants").length,
    };
  }, rows[0][col("所在地_連結表記")]);
  assert.deepEqual(seen.attributes, ["kind"]);
  assert.equal(seen.flood, false, "the staff-only layer is not public");
  assert.deepEqual(seen.keys, ["kind"]);
  assert.ok(seen.drawn > 0);
  assert.deepEqual(seen.tileKeys, ["kind"]);
  assert.equal(seen.foundHydrants, 0, "a staff-only field is not searched for the public");
  assert.ok((await pub.textContent(".maplibregl-ctrl-attrib")).includes(attribution), "the layer's 出典, as text");
  await pub.screenshot({ path: join(artifacts, "public-layer-from-file-360.png") });
  assert.deepEqual(publicErrors, []);

  // Replaced by ten of them, in one go: the report, and ten drawn where there were more.
  const ten = [readFileSync(HYDRANTS, "utf8").split("\n")[0], ...rows.slice(0, 10).map((r) => r.join(","))].join("\n");
  await page.click('button[aria-label="設定: 消防水利"]');
  await page.locator('#layer-form input[name="replace"]').setInputFiles({ name: "hydrants-10.csv", mimeType: "text/csv", buffer: Buffer.from(ten) });
  await page.click('#layer-form fieldset button');
  await page.waitForFunction((n) => document.querySelector("#layer-form [role=status]")?.textContent.includes(`${n} 件を 10 件に`), rows.length);
  const count = await page.evaluate(async () => (await (await fetch("/staff/api/ogc/collections/hydrants/items?limit=1000")).json()).features.length);
  assert.equal(count, 10);
  await page.keyboard.press("Escape");

  // Removed: off the map and the list.
  await page.click('button[aria-label="設定: 浸水履歴（平成13年）"]');
  await page.click("#layer-form button.danger");
  await page.waitForFunction(() => !/浸水履歴/.test(document.querySelector("#file-layers").textContent));
  assert.equal(await page.locator('#layers [data-layer="flood_2001"]').count(), 0);
  assert.deepEqual(errors.filter((e) => !/\b400\b/.test(e)), []);
  requests.check();
});
