//! Layers made from files (#19): Yaizu's real hydrant CSV and a flood-history Shapefile become
//! layers through `machizu layers …` and through `/admin/layers`, with their Japanese field
//! names kept and every count and value as in the files (read independently: the CSV as text,
//! the Shapefile's DBF through GDAL); staff-only attributes stay out of public tiles, features
//! and search; a bad file changes nothing and says why; on PostGIS a second process serves a
//! new, changed or removed layer within a second.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use machizu::app::App;
use machizu::auth::Role;
use machizu::config::Config;
use machizu::tile::TileCoord;
use serde_json::{Value, json};
use support::vector_tile::decode;
use support::{body_json, sample_data};

const HYDRANTS: &str = "yaizu-city-opendata/消防水利施設一覧/222127_fire_hydrant.csv";
const FLOOD: &str = "yaizu-city-opendata/浸水履歴_平成13年";

fn machizu(args: &[&str], data: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_machizu"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!("machizu {args:?}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The hydrant CSV as text: header and rows, split on commas (it has no quoted fields).
fn hydrant_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let csv = std::fs::read_to_string(path).unwrap();
    let mut lines = csv.lines().map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>());
    let header = lines.next().unwrap();
    let rows: Vec<_> = lines.collect();
    assert!(rows.iter().all(|r| r.len() == header.len()));
    (header, rows)
}

/// The flood Shapefile zipped, as an admin would upload it.
fn zipped_shapefile(dir: &Path, out: &Path) {
    use std::io::Write;
    use zip::write::{SimpleFileOptions, ZipWriter};
    let mut zip = ZipWriter::new(std::fs::File::create(out).unwrap());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("浸水履歴") {
            zip.start_file(name, SimpleFileOptions::default()).unwrap();
            zip.write_all(&std::fs::read(&path).unwrap()).unwrap();
        }
    }
    zip.finish().unwrap();
}

/// The flood Shapefile's records read by GDAL itself (CP932): per OBJECTID, its 日付, 異常気象名,
/// 地域 and 水害地域; and how many have a geometry.
fn flood_records(dir: &Path) -> (HashMap<i64, [String; 4]>, usize) {
    use gdal::vector::LayerAccess;
    let options = gdal::DatasetOptions { open_options: Some(&["ENCODING=CP932"]), ..Default::default() };
    let ds = gdal::Dataset::open_ex(dir.join("浸水履歴_平成13年.shp"), options).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let mut records = HashMap::new();
    let mut with_geometry = 0;
    for f in layer.features() {
        let s = |name: &str| {
            let i = f.field_index(name).unwrap();
            match f.field(i).unwrap() {
                Some(gdal::vector::FieldValue::StringValue(s)) => s,
                Some(gdal::vector::FieldValue::DateValue(d)) => d.format("%Y-%m-%d").to_string(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            }
        };
        let id = f.field_as_integer64(f.field_index("OBJECTID").unwrap()).unwrap().unwrap();
        records.insert(id, [s("日付"), s("異常気象名"), s("地域"), s("水害地域")]);
        with_geometry += usize::from(f.geometry().is_some_and(|g| !g.is_empty()));
    }
    (records, with_geometry)
}

/// An in-process server over a GeoPackage data directory.
async fn server(data: &Path) -> (Arc<App>, axum::Router) {
    let config = Config { data_dir: data.to_owned(), demo: false, ..Config::defaults() };
    let app = Arc::new(App::open(config).await.unwrap());
    (app.clone(), machizu::http::router(app))
}

async fn get(router: &axum::Router, uri: &str, key: Option<&str>) -> (u16, Vec<u8>) {
    use tower::ServiceExt;
    let mut req = Request::get(uri);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let r = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    (r.status().as_u16(), support::body_bytes(r).await)
}

async fn get_json(router: &axum::Router, uri: &str, key: Option<&str>) -> Value {
    let (status, body) = get(router, uri, key).await;
    assert_eq!(status, 200, "GET {uri}: {}", text(&body));
    serde_json::from_slice(&body).unwrap()
}

fn layer<'a>(layers: &'a Value, id: &str) -> Option<&'a Value> {
    layers["layers"].as_array().unwrap().iter().find(|l| l["id"] == id)
}

fn attribute_names(layer: &Value) -> Vec<String> {
    layer["attributes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect()
}

/// The z-`z` tile holding (lon, lat).
fn tile_at(lon: f64, lat: f64, z: u8) -> TileCoord {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u32;
    TileCoord { z, x, y }
}

#[tokio::test(flavor = "multi_thread")]
async fn hydrants_and_a_shapefile_become_layers_from_the_command_line() {
    let (Some(csv), Some(flood)) = (sample_data(HYDRANTS), sample_data(FLOOD)) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (header, rows) = hydrant_rows(&csv);

    // A bad file first: a CSV without coordinates. Nothing is made, and it says why.
    let bad = dir.path().join("no-coordinates.csv");
    std::fs::write(&bad, "名称,住所\n公民館,尾花沢市若葉町1\n").unwrap();
    let out = machizu(&["layers", "add", bad.to_str().unwrap(), "--id", "bad", "--title-ja", "悪い"], data);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("緯度"), "{}", text(&out.stderr));
    let out = machizu(&["layers", "add", csv.to_str().unwrap(), "--id", "roads", "--title-ja", "道"], data);
    assert!(text(&out.stderr).contains("there is a layer roads already"), "{}", text(&out.stderr));

    let out = machizu(
        &[
            "layers",
            "add",
            csv.to_str().unwrap(),
            "--id",
            "hydrants",
            "--title-ja",
            "消防水利",
            "--title-en",
            "Fire hydrants",
            "--public",
            "--public-field",
            "種別",
            "--attribution",
            "出典：焼津市オープンデータカタログ",
        ],
        data,
    );
    assert!(out.status.success());
    assert!(text(&out.stdout).contains(&format!("imported {}", rows.len())), "{}", text(&out.stdout));
    let zip = dir.path().join("浸水履歴_平成13年.zip");
    zipped_shapefile(&flood, &zip);
    let out = machizu(
        &["layers", "add", zip.to_str().unwrap(), "--id", "flood_2001", "--title-ja", "浸水履歴（平成13年）"],
        data,
    );
    assert!(out.status.success());
    let listed = text(&machizu(&["layers", "list"], data).stdout);
    assert!(listed.contains("hydrants 「消防水利」 (Fire hydrants) POINT public"), "{listed}");
    assert!(listed.contains("flood_2001 「浸水履歴（平成13年）」"), "{listed}");
    assert!(!listed.contains("bad"), "{listed}");
    // Open data export: the public fields only.
    let out = machizu(&["export", "--layer", "hydrants", "--format", "geojson"], data);
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    let exported = exported["features"].as_array().unwrap();
    assert_eq!(exported.len(), rows.len());
    assert!(
        exported.iter().all(|f| f["properties"].as_object().unwrap().keys().eq(["kind"].iter())),
        "{:?}",
        exported[0]
    );

    let (app, router) = server(data).await;
    let admin = {
        let new = machizu::auth::NewKey::generate("test admin", Role::Admin, None);
        app.store.create_key(&new).await.unwrap();
        new.token
    };

    // Every field kept, titled as the file names it; only 種別 public.
    let public = get_json(&router, "/layers", None).await;
    let staff = get_json(&router, "/layers", Some(&admin)).await;
    let hydrants = layer(&staff, "hydrants").unwrap();
    let titles: Vec<&str> =
        hydrants["attributes"].as_array().unwrap().iter().map(|a| a["title"]["ja"].as_str().unwrap()).collect();
    for field in header.iter().filter(|f| *f != "緯度" && *f != "経度") {
        assert!(titles.contains(&field.as_str()), "{field} missing from {titles:?}");
    }
    assert_eq!(hydrants["feature_count"], rows.len());
    assert_eq!(hydrants["title"], json!({"ja": "消防水利", "en": "Fire hydrants"}));
    assert_eq!(layer(&public, "hydrants").unwrap()["attribution"], "出典：焼津市オープンデータカタログ");
    assert_eq!(attribute_names(layer(&public, "hydrants").unwrap()), ["kind"]);
    assert!(layer(&public, "flood_2001").is_none(), "a staff-only layer is not listed for the public");

    // Values exact, by ID.
    let items = get_json(&router, "/ogc/collections/hydrants/items?limit=1000", Some(&admin)).await;
    let features = items["features"].as_array().unwrap();
    assert_eq!(features.len(), rows.len());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in &rows {
        let id: i64 = row[col("ID")].parse().unwrap();
        let f = features.iter().find(|f| f["properties"]["id"] == id).unwrap_or_else(|| panic!("hydrant {id}"));
        let p = &f["properties"];
        assert_eq!(p["kind"], row[col("種別")]);
        assert_eq!(p["address"], row[col("所在地_連結表記")]);
        assert_eq!(p["field_6"], row[col("町字ID")], "a code keeps its leading zeros");
        assert_eq!(p["field_1"], row[col("全国地方公共団体コード")].parse::<i64>().unwrap());
        let c = &f["geometry"]["coordinates"];
        let (lon, lat): (f64, f64) = (row[col("経度")].parse().unwrap(), row[col("緯度")].parse().unwrap());
        assert!((c[0].as_f64().unwrap() - lon).abs() < 1e-7 && (c[1].as_f64().unwrap() - lat).abs() < 1e-7);
    }

    // The public: 種別 only, in features, tiles and search.
    let first = &rows[0];
    let public_items = get_json(&router, "/ogc/collections/hydrants/items?limit=1000", None).await;
    for f in public_items["features"].as_array().unwrap() {
        let keys: Vec<&String> = f["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["kind"], "public properties");
    }
    let (lon, lat): (f64, f64) = (first[col("経度")].parse().unwrap(), first[col("緯度")].parse().unwrap());
    let t = tile_at(lon, lat, 15);
    let uri = format!("/tiles/hydrants/{}/{}/{}.mvt", t.z, t.x, t.y);
    let (status, bytes) = get(&router, &uri, None).await;
    assert_eq!(status, 200);
    let tile = decode(&bytes);
    let l = tile.layers.iter().find(|l| l.name == "hydrants").expect("hydrants in the public tile");
    assert!(!l.features.is_empty());
    assert_eq!(l.keys, ["kind"], "public tile attributes");
    let (_, staff_bytes) = get(&router, &uri, Some(&admin)).await;
    let staff_tile = decode(&staff_bytes);
    assert!(staff_tile.layers.iter().find(|l| l.name == "hydrants").unwrap().keys.contains(&"address".to_owned()));
    let address = &first[col("所在地_連結表記")];
    let q = format!("/search?q={}", urlencode(address));
    let found = get_json(&router, &q, None).await;
    assert!(found["features"].as_array().unwrap().iter().all(|f| f["layer"] != "hydrants"), "{found}");
    let found = get_json(&router, &q, Some(&admin)).await;
    assert!(found["features"].as_array().unwrap().iter().any(|f| f["layer"] == "hydrants"), "{found}");
    let (status, _) = get(&router, "/tiles/flood_2001/15/29000/12900.mvt", None).await;
    assert_eq!(status, 404, "a staff-only layer's tiles are not public");

    // The Shapefile: Japanese field names kept (CP932), values and count as GDAL reads them.
    let (records, with_geometry) = flood_records(&flood);
    let flood_layer = layer(&staff, "flood_2001").unwrap();
    let titles: Vec<&str> =
        flood_layer["attributes"].as_array().unwrap().iter().map(|a| a["title"]["ja"].as_str().unwrap()).collect();
    for t in ["日付", "異常気象名", "地域", "水害地域"] {
        assert!(titles.contains(&t), "{t} in {titles:?}");
    }
    assert_eq!(flood_layer["geometry"], "polygon");
    let items = get_json(&router, "/ogc/collections/flood_2001/items?limit=1000", Some(&admin)).await;
    let features = items["features"].as_array().unwrap();
    assert_eq!(features.len(), with_geometry, "every feature with a geometry, the one without skipped");
    for f in features {
        let p = &f["properties"];
        let expected = &records[&p["objectid"].as_i64().unwrap()];
        let by_title = |t: &str| {
            let name =
                flood_layer["attributes"].as_array().unwrap().iter().find(|a| a["title"]["ja"] == t).unwrap()["name"]
                    .as_str()
                    .unwrap();
            p[name].as_str().unwrap_or("").to_owned()
        };
        assert_eq!([by_title("日付"), by_title("異常気象名"), by_title("地域"), by_title("水害地域")], *expected);
    }
    drop(router);
    drop(app);

    // Replace the hydrants with ten of them; make the address public; remove the flood layer.
    let ten = dir.path().join("hydrants-10.csv");
    let mut csv_text = header.join(",") + "\n";
    for r in &rows[..10] {
        csv_text += &(r.join(",") + "\n");
    }
    std::fs::write(&ten, csv_text).unwrap();
    let out = machizu(&["layers", "replace", "hydrants", ten.to_str().unwrap()], data);
    assert!(text(&out.stdout).contains(&format!("imported 10 replacing {}", rows.len())), "{}", text(&out.stdout));
    let out = machizu(&["layers", "replace", "hydrants", zip.to_str().unwrap()], data);
    assert!(!out.status.success(), "a file of another kind does not replace the hydrants");
    assert!(machizu(&["layers", "set", "hydrants", "--public-field", "所在地_連結表記"], data).status.success());
    assert!(machizu(&["layers", "remove", "flood_2001"], data).status.success());
    let (_app, router) = server(data).await;
    let public = get_json(&router, "/layers", None).await;
    let hydrants = layer(&public, "hydrants").unwrap();
    assert_eq!(hydrants["feature_count"], 10);
    assert_eq!(attribute_names(hydrants), ["kind", "address"]);
    let found = get_json(&router, &q, None).await;
    assert!(found["features"].as_array().unwrap().iter().any(|f| f["layer"] == "hydrants"), "{found}");
    assert!(layer(&get_json(&router, "/layers", Some(&admin)).await, "flood_2001").is_none());
    let (status, _) = get(&router, "/ogc/collections/flood_2001/items", Some(&admin)).await;
    assert_eq!(status, 404);
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A `multipart/form-data` body: text fields, then the file.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "machizu-test-boundary-7d1e";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_that_cannot_be_read_changes_nothing_and_says_why() {
    let Some(csv) = sample_data(HYDRANTS) else { return };
    let s = support::TestServer::demo().await;
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let before = get_json(&s.router, "/layers", Some(&admin)).await["layers"].as_array().unwrap().len();
    let post = |key: String, fields: Vec<(&'static str, &'static str)>, file: Option<(&'static str, Vec<u8>)>| {
        let (ctype, body) = multipart(&fields, file.as_ref().map(|(n, b)| (*n, b.as_slice())));
        let req = Request::post("/admin/layers")
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", ctype)
            .body(Body::from(body))
            .unwrap();
        s.request(req)
    };
    let hydrants = std::fs::read(&csv).unwrap();
    /// What is wrong, the form's text fields, its file, and what the answer must say.
    type Case = (&'static str, Vec<(&'static str, &'static str)>, Option<(&'static str, Vec<u8>)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "not a GIS file",
            vec![("id", "junk"), ("title_ja", "ごみ")],
            Some(("junk.zip", b"PK but not a zip".to_vec())),
            "junk.zip",
        ),
        (
            "no coordinates",
            vec![("id", "junk"), ("title_ja", "ごみ")],
            Some(("list.csv", "名称,住所\n公民館,若葉町1\n".into())),
            "緯度",
        ),
        ("taken id", vec![("id", "parcels"), ("title_ja", "地番")], Some(("h.csv", hydrants.clone())), "parcels"),
        (
            "bad id",
            vec![("id", "Hydrants!"), ("title_ja", "消防水利")],
            Some(("h.csv", hydrants.clone())),
            "invalid layer id",
        ),
        ("no title", vec![("id", "hydrants")], Some(("h.csv", hydrants.clone())), "title"),
        ("no file", vec![("id", "hydrants"), ("title_ja", "消防水利")], None, "file"),
        (
            "unknown field",
            vec![("id", "hydrants"), ("title_ja", "消防水利"), ("public_field", "色")],
            Some(("h.csv", hydrants.clone())),
            "色",
        ),
    ];
    for (what, fields, file, says) in cases {
        let r = post(admin.clone(), fields, file).await;
        assert_eq!(r.status(), 400, "{what}");
        let body = body_json(r).await;
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says) && !message.contains("/tmp"), "{what}: {body}");
    }
    let r = post(staff, vec![("id", "hydrants"), ("title_ja", "消防水利")], Some(("h.csv", hydrants))).await;
    assert_eq!(r.status(), 403, "staff who are not admins do not make layers");
    let after = get_json(&s.router, "/layers", Some(&admin)).await["layers"].as_array().unwrap().len();
    assert_eq!(before, after);
    assert!(s.app.store.layer_defs().await.unwrap().is_empty());
}

/// Polls `until` on `uri` (with `key`, if any) every 20 ms for up to 5 s; returns how long it took.
async fn wait_for(client: &reqwest::Client, uri: &str, key: Option<&str>, until: impl Fn(&Value) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let mut request = client.get(uri);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let v: Value = request.send().await.unwrap().json().await.unwrap();
        if until(&v) {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{uri} never changed: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_process_on_postgis_serves_a_new_layer_within_a_second() {
    let Some(csv) = sample_data(HYDRANTS) else { return };
    let url = support::fresh_database().await;
    let out = Command::new(env!("CARGO_BIN_EXE_machizu"))
        .args(["keys", "create", "--name", "admin", "--role", "admin", "--database-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let admin = text(&out.stdout).trim().to_owned();
    let (a, b) = (support::Serving::postgis(&url), support::Serving::postgis(&url));
    let client = reqwest::Client::new();
    let (_, rows) = hydrant_rows(&csv);

    let (ctype, body) = multipart(
        &[("id", "hydrants"), ("title_ja", "消防水利"), ("visibility", "public"), ("public_field", "種別")],
        Some(("222127_fire_hydrant.csv", &std::fs::read(&csv).unwrap())),
    );
    let r = client
        .post(format!("{}/admin/layers", a.base()))
        .bearer_auth(&admin)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["report"]["imported"], rows.len());
    let seen = wait_for(&client, &format!("{}/layers", b.base()), None, |v| {
        layer(v, "hydrants").is_some_and(|l| l["feature_count"] == rows.len())
    })
    .await;
    eprintln!("the second process served the new layer after {seen:?}");
    assert!(seen < Duration::from_secs(1), "{seen:?}");
    let items: Value = client
        .get(format!("{}/ogc/collections/hydrants/items?limit=1", b.base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["numberMatched"], rows.len());
    assert_eq!(items["features"][0]["properties"].as_object().unwrap().len(), 1, "the public sees 種別 only");

    // Made staff-only on A: gone for the public on B.
    let r = client
        .patch(format!("{}/admin/layers/hydrants", a.base()))
        .bearer_auth(&admin)
        .json(&json!({"visibility": "staff"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = wait_for(&client, &format!("{}/layers", b.base()), None, |v| layer(v, "hydrants").is_none()).await;
    assert!(seen < Duration::from_secs(1), "{seen:?}");

    // Removed on A: gone on B, for staff too.
    let r = client.delete(format!("{}/admin/layers/hydrants", a.base())).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let seen =
        wait_for(&client, &format!("{}/layers", b.base()), Some(&admin), |v| layer(v, "hydrants").is_none()).await;
    assert!(seen < Duration::from_secs(1), "B still served the removed layer after {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_made_from_a_file_travels_with_db_push_and_pull() {
    use machizu::store::gpkg::GpkgStore;
    use machizu::store::postgis::PostgisStore;
    use machizu::store::{LayerStore, Store};
    let Some(csv) = sample_data(HYDRANTS) else { return };
    let url = support::fresh_database().await;
    let (gpkg, back) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let add = [
        "layers",
        "add",
        csv.to_str().unwrap(),
        "--id",
        "hydrants",
        "--title-ja",
        "消防水利",
        "--public-field",
        "種別",
    ];
    assert!(machizu(&add, gpkg.path()).status.success());
    let copy = |args: &[&str], data: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_machizu"))
            .args(args)
            .arg("--data")
            .arg(data)
            .args(["--database-url", &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    copy(&["db", "push"], gpkg.path());
    copy(&["db", "pull"], back.path());
    let crs = machizu::crs::Epsg::JGD2011_ZONE_X;
    let source = GpkgStore::open_in(gpkg.path(), crs).await.unwrap();
    let pg = PostgisStore::connect(&url, crs).await.unwrap();
    let pulled = GpkgStore::open_in(back.path(), crs).await.unwrap();
    let def = source.layer_def("hydrants").await.unwrap().unwrap();
    let records = source.export(&def).await.unwrap();
    assert!(!records.is_empty());
    for store in [&pg as &dyn Store, &pulled] {
        assert_eq!(store.layer_defs().await.unwrap(), std::slice::from_ref(&def), "{}", store.kind());
        assert_eq!(store.export(&def).await.unwrap(), records, "{}", store.kind());
    }
    // Pushing again replaces: still one layer, not two.
    copy(&["db", "push", "--replace"], gpkg.path());
    assert_eq!(pg.layer_defs().await.unwrap().len(), 1);
}
