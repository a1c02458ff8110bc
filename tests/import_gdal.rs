//! `machizu import` on every file of the real sample data that GDAL reads and that fits a
//! layer: Yaizu City's Shapefiles (Shift_JIS DBFs, missing/odd `.cpg`, half-cut characters),
//! 国土数値情報 N03, the Obanazawa boundary GeoJSON, the Puerto Montt GeoPackage, PLATEAU
//! CityGML (Nagaoka pipes in EPSG:10169, buildings in EPSG:6697), 基盤地図情報 GML, 自治体標準
//! オープンデータセット CSVs and GPX tracks. Each test checks the feature counts against the file
//! (read independently, through the `gdal` crate or the file's text), coordinates against PROJ's
//! `cs2cs` within 1 mm, and Japanese text exactly.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gdal::vector::LayerAccess;
use machizu::catalog::Catalog;
use machizu::config::{Config, FileConfig, Overrides};
use machizu::crs::Epsg;
use machizu::feature::{AttrValue, Feature};
use machizu::import::SOURCE_ATTRIBUTE;
use machizu::store::Store;
use machizu::store::gpkg::GpkgStore;

/// Layers a city adds in its config for the Yaizu data, GPS tracks and PLATEAU land use.
const CITY_LAYERS: &str = r#"
[layers.neighbourhoods]
title_ja = "自治会区域"
title_en = "Neighbourhood associations"
geometry = "multipolygon"
[layers.neighbourhoods.attributes.name]
type = "text"
title_ja = "自治会名"
title_en = "Name"
[layers.flood_history]
title_ja = "浸水履歴"
title_en = "Flood history"
geometry = "multipolygon"
[layers.flood_history.attributes.date]
type = "date"
title_ja = "日付"
title_en = "Date"
[layers.flood_history.attributes.event]
type = "text"
title_ja = "異常気象名"
title_en = "Weather event"
[layers.flood_history.attributes.area]
type = "text"
title_ja = "地域"
title_en = "Area"
[layers.flood_history.attributes.damage]
type = "text"
title_ja = "水害地域"
title_en = "Flooding"
[layers.toilets]
title_ja = "トイレ"
title_en = "Toilets"
geometry = "point"
[layers.toilets.attributes.name]
type = "text"
title_ja = "名称"
title_en = "Name"
[layers.land_prices]
title_ja = "標準宅地"
title_en = "Standard land-price sites"
geometry = "point"
[layers.land_prices.attributes.price]
type = "integer"
title_ja = "価格"
title_en = "Price"
[layers.fire_water]
title_ja = "消防水利"
title_en = "Fire-fighting water"
geometry = "point"
[layers.fire_water.attributes.kind]
visibility = "public"
type = "text"
title_ja = "種別"
title_en = "Kind"
[layers.fire_water.attributes.address]
visibility = "public"
type = "text"
title_ja = "所在地"
title_en = "Address"
[layers.fire_water.attributes.diameter_mm]
visibility = "public"
type = "integer"
title_ja = "口径"
title_en = "Diameter (mm)"
[layers.water_tanks]
title_ja = "飲料水用貯水槽"
title_en = "Drinking-water tanks"
geometry = "point"
[layers.water_tanks.attributes.name]
type = "text"
title_ja = "名称"
title_en = "Name"
[layers.water_tanks.attributes.litres]
type = "integer"
title_ja = "貯水量リットル"
title_en = "Capacity (l)"
[layers.tracks]
title_ja = "GPS軌跡"
title_en = "GPS tracks"
geometry = "multilinestring"
[layers.tracks.attributes.name]
type = "text"
title_ja = "名前"
title_en = "Name"
[layers.books]
title_ja = "書籍（符号化の試験）"
title_en = "Books (an encoding test)"
geometry = "point"
[layers.books.attributes.title]
type = "text"
title_ja = "書籍名"
title_en = "Title"
[layers.books.attributes.author]
type = "text"
title_ja = "著者"
title_en = "Author"
[layers.gas_pipes]
title_ja = "ガス管"
title_en = "Gas pipes"
geometry = "linestring"
[layers.gas_pipes.attributes.pipe_kind]
type = "text"
title_ja = "管路種別"
title_en = "Pipe kind"
[layers.road_areas]
title_ja = "道路区域"
title_en = "Road areas"
geometry = "multipolygon"
[layers.road_edges]
title_ja = "道路縁"
title_en = "Road edges"
geometry = "linestring"
[layers.land_use]
title_ja = "土地利用"
title_en = "Land use"
geometry = "multipolygon"
[layers.land_use.attributes.use_class]
type = "text"
title_ja = "土地利用区分"
title_en = "Land-use class"
"#;

/// A store directory and config for one test.
struct City {
    dir: tempfile::TempDir,
}

impl City {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("city.toml"), CITY_LAYERS).unwrap();
        Self { dir }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn import(&self, layer: &str, files: &[&Path], args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_machizu"))
            .arg("import")
            .args(files)
            .args(["--layer", layer, "--config"])
            .arg(self.dir.path().join("city.toml"))
            .arg("--data")
            .arg(self.dir.path().join("data"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Imports and asserts success; returns what it printed.
    fn ok(&self, layer: &str, files: &[&Path], args: &[&str]) -> String {
        let out = self.import(layer, files, args);
        let said = text(&out);
        assert!(out.status.success(), "{said}");
        said
    }

    fn catalog(&self) -> Catalog {
        let file: FileConfig = toml::from_str(CITY_LAYERS).unwrap();
        Config::resolve(file, Overrides::default()).unwrap().catalog
    }

    /// The features of `layer`, checked for mojibake: no text attribute holds U+FFFD or the
    /// telltale characters of UTF-8 read as Shift_JIS (縺, 繧, 繝) or Shift_JIS read as Latin-1.
    async fn features(&self, layer: &str) -> Vec<Feature> {
        let store = GpkgStore::open_in(&self.dir.path().join("data"), Epsg::JGD2011_ZONE_X).await.unwrap();
        let catalog = self.catalog();
        store.prepare(&catalog).await.unwrap();
        let features = store.load(catalog.get(layer).unwrap()).await.unwrap();
        for f in &features {
            for v in &f.attributes {
                if let AttrValue::Text(t) = v {
                    let bad = t.contains(['\u{fffd}', '縺', '繧', '繝', 'ƒ', '‚', 'Œ']);
                    assert!(!bad, "mojibake in {layer} #{}: {t:?}", f.id);
                }
            }
        }
        features
    }

    /// The value of `attribute` of each feature of `layer`.
    async fn values(&self, layer: &str, attribute: &str) -> Vec<AttrValue> {
        let i = self.catalog().get(layer).unwrap().attribute_index(attribute).unwrap();
        self.features(layer).await.into_iter().map(|f| f.attributes[i].clone()).collect()
    }

    async fn texts(&self, layer: &str, attribute: &str) -> Vec<String> {
        self.values(layer, attribute)
            .await
            .into_iter()
            .filter_map(|v| match v {
                AttrValue::Text(s) => Some(s),
                _ => None,
            })
            .collect()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Features and parts of a vector file, read through GDAL here (recoding off): (features,
/// single parts, first vertex of the first feature as GDAL gives it).
fn gdal_counts(path: &Path, layer: Option<&str>) -> (usize, usize, (f64, f64)) {
    let ds = gdal::Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_options: match path.extension().unwrap().to_str().unwrap() {
                "shp" => Some(&["ENCODING="][..]),
                // Never a .gfs file next to the sample data.
                "gml" | "xml" => Some(&["WRITE_GFS=NO"][..]),
                _ => None,
            },
            ..Default::default()
        },
    )
    .unwrap();
    let mut l = match layer {
        Some(name) => ds.layer_by_name(name).unwrap(),
        None => ds.layer(0).unwrap(),
    };
    let (mut features, mut parts, mut first) = (0, 0, None);
    for f in l.features() {
        let Some(g) = f.geometry() else { continue };
        if g.is_empty() {
            continue;
        }
        features += 1;
        let name = g.geometry_name();
        parts += if name.starts_with("MULTI") { g.geometry_count() } else { 1 };
        if first.is_none() {
            let (x, y, _) = first_point(g);
            first = Some((x, y));
        }
    }
    (features, parts, first.expect("a feature"))
}

fn first_point(g: &gdal::vector::Geometry) -> (f64, f64, f64) {
    if g.geometry_count() == 0 { g.get_point(0) } else { first_point(&g.get_geometry(0)) }
}

/// The first vertex of a geometry.
fn first_vertex(g: &geo_types::Geometry<f64>) -> (f64, f64) {
    use geo::CoordsIter;
    let c = g.coords_iter().next().unwrap();
    (c.x, c.y)
}

/// Distance in metres between a stored vertex and cs2cs's transform of a source vertex.
fn off(stored: (f64, f64), from: &str, source: (f64, f64)) -> f64 {
    let p = support::cs2cs(from, "EPSG:6678", &[source])[0];
    ((stored.0 - p.0).powi(2) + (stored.1 - p.1).powi(2)).sqrt()
}

/// Features of `layer` whose `source` attribute is `source`, in import order.
async fn from_source(city: &City, layer: &str, source: &str) -> Vec<Feature> {
    let i = city.catalog().get(layer).unwrap().attribute_index(SOURCE_ATTRIBUTE).unwrap();
    city.features(layer).await.into_iter().filter(|f| f.attributes[i] == AttrValue::text(source)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn yaizu_road_shapefiles_land_with_their_shift_jis_text() {
    let Some(dir) = support::sample_data("yaizu-city-opendata") else { return };
    let city = City::new();
    let planned = dir.join("都市計画道路/都市計画道路.shp");
    let emergency = [
        dir.join("緊急輸送路_一次緊急輸送路/一次緊急輸送路.shp"),
        dir.join("緊急輸送路_二次緊急輸送路/二次緊急輸送路.shp"),
        dir.join("緊急輸送路_三次輸送路/三次輸送路.shp"),
    ];
    let others = [dir.join("農道一般平面図_農道/農道.shp"), dir.join("通学路_大富小学校/大富小学校.shp")];

    // Planned roads: JGD2000 zone VIII (.prj in ESRI's words), `.cpg` "Shift_JIS" without newline.
    city.ok("roads", &[&planned], &[]);
    let (n, parts, source) = gdal_counts(&planned, None);
    assert_eq!(n, 300);
    let stored = from_source(&city, "roads", "都市計画道路.shp").await;
    assert_eq!(stored.len(), parts);
    let worst = off(first_vertex(&stored[0].geometry), "EPSG:2450", source);
    assert!(worst < 0.001, "planned road {worst} m from cs2cs");

    // Emergency roads: JGD2011 lon/lat, CP932 values, `.cpg` with and without a newline.
    let mapping =
        city.file("emergency.toml", "[attributes]\nroad_class = \"item2\"\nroute_no = \"item3\"\nname = \"item4\"\n");
    let paths: Vec<&Path> = emergency.iter().map(PathBuf::as_path).collect();
    let said = city.ok("roads", &paths, &["--mapping", mapping.to_str().unwrap()]);
    assert!(!said.contains("cut in half"), "{said}");
    let classes = city.texts("roads", "road_class").await;
    for expected in ["県一次緊急輸送路", "焼津市二次緊急輸送路", "焼津市三次緊急輸送路"] {
        assert!(classes.iter().any(|c| c == expected), "{expected} in {classes:?}");
    }
    let names = city.texts("roads", "name").await;
    assert!(names.iter().any(|n| n == "市道大村坂本線,市道八楠石脇線"), "{names:?}");
    assert!(city.texts("roads", "route_no").await.iter().any(|n| n == "111号線"));
    let (_, parts, source) = gdal_counts(&emergency[0], None);
    let stored = from_source(&city, "roads", "一次緊急輸送路.shp").await;
    assert_eq!(stored.len(), parts);
    assert!(off(first_vertex(&stored[0].geometry), "EPSG:6668", source) < 0.001);

    // Farm roads and a school route: their Japanese field titles are not the layer's, so
    // nothing is guessed; the fields are listed as not imported.
    let said = city.ok("roads", &[&others[0], &others[1]], &[]);
    assert!(said.contains("農道.shp: fields not imported (no attribute of roads): item1, item2, item3"), "{said}");
    let total: usize = [&planned, &emergency[0], &emergency[1], &emergency[2], &others[0], &others[1]]
        .iter()
        .map(|p| gdal_counts(p, None).1)
        .sum();
    let all = city.features("roads").await;
    assert_eq!(all.len(), total);

    // The same files again: refused, then replaced, never doubled.
    let out = city.import("roads", &[&planned], &[]);
    assert!(!out.status.success());
    city.ok("roads", &[&planned], &["--replace"]);
    assert_eq!(city.features("roads").await.len(), total);
}

#[tokio::test(flavor = "multi_thread")]
async fn yaizu_areas_points_and_half_cut_characters() {
    let Some(dir) = support::sample_data("yaizu-city-opendata") else { return };
    let city = City::new();

    // Flood history: Japanese field names in CP932 fill the attributes titled like them; two
    // values end in half a character, which is dropped and reported, the rest kept.
    let h13 = dir.join("浸水履歴_平成13年/浸水履歴_平成13年.shp");
    let h18 = dir.join("浸水履歴_平成18年/浸水履歴_平成18年.shp");
    let said = city.ok("flood_history", &[&h13, &h18], &[]);
    assert_eq!(said.matches("cut in half").count(), 2, "{said}");
    assert!(said.contains("skipped: 浸水履歴_平成13年.shp: feature 76: its geometry is empty"), "{said}");
    let damage = city.texts("flood_history", "damage").await;
    assert!(damage.contains(&"道路冠水（路肩5cm程".to_owned()), "{damage:?}");
    assert!(damage.contains(&"道路冠水（最大6cm程".to_owned()), "{damage:?}");
    assert!(city.texts("flood_history", "event").await.contains(&"台風15号による豪雨".to_owned()));
    assert!(city.values("flood_history", "date").await.contains(&AttrValue::text("2001-09-10")));
    assert_eq!(city.features("flood_history").await.len(), gdal_counts(&h13, None).0 + gdal_counts(&h18, None).0);

    // Neighbourhood areas: zone VIII polygons, one of them invalid and repaired.
    let areas = dir.join("自治会区域/自治会区域.shp");
    let mapping = city.file("areas.toml", "[attributes]\nname = \"SAFIELD000\"\n");
    let said = city.ok("neighbourhoods", &[&areas], &["--mapping", mapping.to_str().unwrap()]);
    assert!(said.contains("repaired 1,"), "{said}");
    assert_eq!(city.features("neighbourhoods").await.len(), 35);
    assert!(city.texts("neighbourhoods", "name").await.contains(&"高新田自治会".to_owned()));
    for f in city.features("neighbourhoods").await {
        use geo::Validation;
        assert!(f.geometry.is_valid(), "feature {} invalid after import", f.id);
    }

    // Event toilets: no .cpg at all (the DBF's language driver says CP932).
    let toilets = dir.join("75周年パレード_トイレ/75周年パレード_トイレ.shp");
    let mapping = city.file("toilets.toml", "[attributes]\nname = \"SAFIELD000\"\n");
    city.ok("toilets", &[&toilets], &["--mapping", mapping.to_str().unwrap()]);
    let names = city.texts("toilets", "name").await;
    assert_eq!(names.len(), 8);
    assert!(names.iter().all(|n| n.contains("トイレ")), "{names:?}");
    let (_, _, source) = gdal_counts(&toilets, None);
    assert!(off(first_vertex(&city.features("toilets").await[0].geometry), "EPSG:2450", source) < 0.001);

    // Standard land-price sites: a `.cpg` saying UTF-8 over ASCII numbers.
    let hyoj = dir.join("標準宅地/HYOJ.shp");
    let mapping = city.file("hyoj.toml", "[attributes]\nprice = \"SAFIELD000\"\n");
    city.ok("land_prices", &[&hyoj], &["--mapping", mapping.to_str().unwrap()]);
    let prices = city.values("land_prices", "price").await;
    assert_eq!(prices.len(), 388);
    assert_eq!(prices[0], AttrValue::Int(11800));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_cpg_is_overruled_but_a_wrong_encoding_option_is_an_error() {
    let Some(dir) = support::sample_data("yaizu-city-opendata/緊急輸送路_一次緊急輸送路") else { return };
    let city = City::new();
    // A copy of the Shapefile whose .cpg says UTF-8 (wrong: the DBF is CP932).
    let copy = city.dir.path().join("wrong");
    std::fs::create_dir_all(&copy).unwrap();
    for ext in ["shp", "shx", "dbf", "prj"] {
        std::fs::copy(dir.join(format!("一次緊急輸送路.{ext}")), copy.join(format!("r.{ext}"))).unwrap();
    }
    std::fs::write(copy.join("r.cpg"), "\u{feff} UTF-8 \r\n").unwrap();
    let mapping = city.file("m.toml", "[attributes]\nroad_class = \"item2\"\n");
    let m = mapping.to_str().unwrap();
    let said = city.ok("roads", &[&copy.join("r.shp")], &["--mapping", m, "--dry-run"]);
    assert!(said.contains("the .cpg file says UTF-8, but the text is not UTF-8; read as Shift_JIS (CP932)"), "{said}");
    let out = city.import("roads", &[&copy.join("r.shp")], &["--mapping", m, "--encoding", "utf-8"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--encoding says UTF-8, but the text is not UTF-8"), "{}", text(&out));
    city.ok("roads", &[&copy.join("r.shp")], &["--mapping", m, "--encoding", " CP932 "]);
    assert!(city.texts("roads", "road_class").await.contains(&"県一次緊急輸送路".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn n03_shift_jis_without_prj_needs_srs_and_then_lands() {
    let Some(dir) = support::sample_data("shapefile-sjis/ksj-n03-chiba-ogr2osm") else { return };
    let city = City::new();
    let shp = dir.join("japanese.shp");
    let out = city.import("boundary", &[&shp], &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("does not say its coordinate system; give it with --srs"), "{}", text(&out));
    assert!(city.features("boundary").await.is_empty());

    let said = city.ok("boundary", &[&shp], &["--srs", "EPSG:4612"]);
    assert!(said.contains("the text reads as Shift_JIS (CP932)"), "{said}");
    let mut names = city.texts("boundary", "name").await;
    names.sort();
    assert_eq!(names, ["大網白里町", "茂原市"]);
    let codes = city.texts("boundary", "city_code").await;
    assert!(codes.contains(&"12402".to_owned()) && codes.contains(&"12210".to_owned()));
    let (_, _, source) = gdal_counts(&shp, None);
    let stored = city.features("boundary").await;
    assert!(off(first_vertex(&stored[0].geometry), "EPSG:4612", source) < 0.001);

    // Shift_JIS field names (書籍名, 著者) fill the attributes titled like them.
    let Some(books) = support::sample_data("shapefile-sjis/shapefile-rs-shift_jis/shift_jis.shp") else { return };
    city.ok("books", &[&books], &["--srs", "EPSG:6668"]);
    assert_eq!(city.features("books").await.len(), 6);
    let titles = city.texts("books", "title").await;
    assert!(titles.contains(&"三四郎".to_owned()) && titles.contains(&"平家物語".to_owned()), "{titles:?}");
    assert!(city.texts("books", "author").await.contains(&"夏目漱石".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn geojson_geopackage_gpx_and_csv() {
    let Some(root) = support::sample_data("") else { return };
    let city = City::new();

    // Obanazawa's boundary, GeoJSON in lon/lat: 4,317 vertices, first one within 1 mm of cs2cs.
    let boundary = root.join("obanazawa-boundary/06212.geojson");
    city.ok("boundary", &[&boundary], &[]);
    let stored = city.features("boundary").await;
    assert_eq!(stored.len(), 1);
    use geo::CoordsIter;
    assert_eq!(stored[0].geometry.coords_count(), 4_317);
    let (_, _, source) = gdal_counts(&boundary, None);
    assert!(off(first_vertex(&stored[0].geometry), "EPSG:4326", source) < 0.001);

    // Puerto Montt GeoPackage: 19 layers, so the layer must be chosen; the empty one is fine.
    let gpkg = root.join("geopackage/puerto_montt-osm-20170922.gpkg");
    let out = city.import("roads", &[&gpkg], &[]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("choose one with --source-layer") && said.contains("roads_lines (line, 3561 features)"),
        "{said}"
    );
    city.ok("roads", &[&gpkg], &["--source-layer", "roads_lines"]);
    let (n, parts, _) = gdal_counts(&gpkg, Some("roads_lines"));
    assert_eq!(n, 3_561);
    assert_eq!(city.features("roads").await.len(), parts);
    let said = city.ok("toilets", &[&gpkg], &["--source-layer", "harbours_points"]);
    assert!(said.contains("imported 0"), "{said}");

    // OpenStreetMap: the roads among the lines of a PBF extract, by --where.
    let pbf = root.join("osm-extracts/monaco-latest.osm.pbf");
    city.ok("roads", &[&pbf], &["--source-layer", "lines", "--where", "highway IS NOT NULL", "--replace"]);
    let ds = gdal::Dataset::open(&pbf).unwrap();
    let mut lines = ds.layer_by_name("lines").unwrap();
    let highway = lines.defn().field_index("highway").unwrap();
    // (The gdal crate reads an unset field as an empty string.)
    let highways =
        lines.features().filter(|f| f.field_as_string(highway).unwrap().is_some_and(|h| !h.is_empty())).count();
    let from_pbf = from_source(&city, "roads", "monaco-latest.osm.pbf:lines").await;
    assert_eq!(from_pbf.len(), highways);
    let classes = city.texts("roads", "road_class").await;
    assert!(classes.iter().any(|c| c == "residential"), "highway fills road_class");

    // GPX: tracks and routes of each file as lines, named as recorded.
    let gpx = root.join("gps-tracks/georust-gpx");
    let files: Vec<PathBuf> =
        ["garmin-activity.gpx", "garmin_with_extensions.gpx", "strava_route_example.gpx"].map(|f| gpx.join(f)).into();
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let said = city.ok("tracks", &paths, &[]);
    assert!(said.contains("skipped: garmin-activity.gpx:routes: feature 0: its geometry is empty"), "{said}");
    let tracks = city.features("tracks").await;
    assert_eq!(tracks.len(), 3);
    let (_, _, source) = gdal_counts(&files[0], Some("tracks"));
    assert!(off(first_vertex(&tracks[0].geometry), "EPSG:4326", source) < 0.001);

    // 自治体標準オープンデータセット CSVs: 緯度/経度 in JGD2011, Japanese columns by title.
    let hydrants = root.join("yaizu-city-opendata/消防水利施設一覧/222127_fire_hydrant.csv");
    city.ok("fire_water", &[&hydrants], &[]);
    let kinds = city.texts("fire_water", "kind").await;
    assert_eq!(kinds.len(), 193);
    assert!(kinds.iter().all(|k| k == "防火水そう" || k == "井戸"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "井戸").count(), 193 - 92);
    let addresses = city.texts("fire_water", "address").await;
    assert_eq!(addresses[0], "静岡県焼津市石津728番地2");
    let first = city.features("fire_water").await[0].geometry.clone();
    assert!(off(first_vertex(&first), "EPSG:6668", (138.308824, 34.843137)) < 0.001);
    let tanks = root.join("yaizu-city-opendata/飲料水用貯水槽一覧/222127_innryousuiyouchosuisou-64305.csv");
    city.ok("water_tanks", &[&tanks], &[]);
    assert_eq!(city.texts("water_tanks", "name").await[0], "飲料水貯水槽（清見田公園）");
    assert_eq!(city.values("water_tanks", "litres").await[0], AttrValue::Int(100_000));

    // A CSV with lat/lon but no standard's word for their datum needs --srs.
    let plain = city.file("plain.csv", "name,lat,lon\na,38.6,140.4\n");
    let out = city.import("toilets", &[&plain], &[]);
    assert!(text(&out).contains("give it with --srs"), "{}", text(&out));
    city.ok("toilets", &[&plain], &["--srs", "EPSG:4326"]);
}

/// Every `posList` first coordinate pair of members of `element` in a CityGML file, as written.
fn gml_first_positions(path: &Path, element: &str) -> Vec<(f64, f64)> {
    let xml = std::fs::read_to_string(path).unwrap();
    xml.split(&format!("<{element}"))
        .skip(1)
        .filter(|member| member.starts_with([' ', '>']))
        .filter_map(|member| {
            let at = member.find("<gml:posList")?;
            let body = &member[at..];
            let start = body.find('>')? + 1;
            let v: Vec<f64> = body[start..].split_whitespace().take(2).map(|t| t.parse().unwrap()).collect();
            Some((v[0], v[1]))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn plateau_pipes_and_buildings() {
    let Some(root) = support::sample_data("") else { return };
    let city = City::new();
    let unf = root.join("plateau-nagaoka-unf/udx/unf");

    // Water: three files, 237 + 394 + 21 pipes; the CRS (EPSG:10169, unknown to GDAL's PROJ) is
    // read from srsName; coordinates are northing first in the file.
    let water = ["08EE752_unf_10169_water_op.gml", "08EE753_unf_10169_water_op.gml", "08EE754_unf_10169_water_op.gml"]
        .map(|f| unf.join(f));
    city.ok("water_mains", &[&water[0], &water[1], &water[2]], &[]);
    let pipes = from_source(&city, "water_mains", "08EE752_unf_10169_water_op.gml:WaterPipe").await;
    assert_eq!(pipes.len(), 237);
    assert_eq!(city.features("water_mains").await.len(), 237 + 21 + 394);
    let (north, east) = gml_first_positions(&water[0], "uro:WaterPipe")[0];
    let worst = off(first_vertex(&pipes[0].geometry), "EPSG:6676", (east, north));
    assert!(worst < 0.001, "water pipe {worst} m from cs2cs");
    assert!(city.texts("water_mains", "pipe_kind").await.iter().all(|k| k == "水道管路"));
    // Saying the file's own CRS again changes nothing (the axis order is still the file's).
    city.ok("water_mains", &[&water[0]], &["--srs", "EPSG:10169", "--replace"]);
    let again = from_source(&city, "water_mains", "08EE752_unf_10169_water_op.gml:WaterPipe").await;
    assert!(off(first_vertex(&again[0].geometry), "EPSG:6676", (east, north)) < 0.001);
    assert!(city.values("water_mains", "install_year").await.contains(&AttrValue::Int(2007)));

    // Sewer: pipes with only a 3D solid are reported, not imported as something else.
    let sewer = [unf.join("08EE753_unf_10169_sewer_op.gml"), unf.join("08EE763_unf_10169_sewer_op.gml")];
    let said = city.ok("sewer_lines", &[&sewer[0], &sewer[1]], &[]);
    let solids = said.matches("its geometry is a 3D solid, which has no line to import").count();
    assert_eq!(city.features("sewer_lines").await.len() + solids, 158 + 2, "{said}");
    assert!(said.contains(&format!("read 160 features from 2 documents, imported {}", 160 - solids)), "{said}");
    assert!(city.texts("sewer_lines", "pipe_kind").await.iter().any(|k| k == "雨水管路"));

    // Snow-melting pipes (消雪管路), Nagaoka's snow answer.
    city.ok("snowmelt_pipes", &[&unf.join("08EE751_unf_10169_snowmelt_op.gml")], &[]);
    assert_eq!(city.features("snowmelt_pipes").await.len(), 90);

    // Buildings: LOD1 solids (EPSG:6697, latitude first) become footprints.
    let bldg = [
        root.join("plateau-misc/tako-machi_53404336_bldg_6697.gml"),
        root.join("plateau-misc/osaka_52350303_bldg_6697_op.gml"),
    ];
    city.ok("buildings", &[&bldg[0], &bldg[1]], &[]);
    let buildings = from_source(&city, "buildings", "tako-machi_53404336_bldg_6697.gml").await;
    assert_eq!(buildings.len(), 98);
    assert_eq!(city.features("buildings").await.len(), 98 + 290);
    // The footprint's corners are corners of the building's LOD0 roof edge, in the file.
    let (lat, lon) = gml_first_positions(&bldg[0], "bldg:lod0RoofEdge")[0];
    let corner = support::cs2cs("EPSG:6668", "EPSG:6678", &[(lon, lat)])[0];
    use geo::CoordsIter;
    let nearest = buildings
        .iter()
        .flat_map(|b| b.geometry.coords_iter())
        .map(|c| ((c.x - corner.0).powi(2) + (c.y - corner.1).powi(2)).sqrt())
        .fold(f64::INFINITY, f64::min);
    assert!(nearest < 0.001, "no footprint corner within 1 mm of the roof edge's first corner ({nearest} m)");
    let xml = std::fs::read_to_string(&bldg[0]).unwrap();
    let at = xml.find("<bldg:measuredHeight uom=\"m\">").unwrap() + 29;
    let height: f64 = xml[at..at + xml[at..].find('<').unwrap()].parse().unwrap();
    assert!(city.values("buildings", "height_m").await.contains(&AttrValue::Real(height)));

    // 基盤地図情報 building outlines: GML in latitude, longitude order (fguuid:jgd2011.bl).
    let fgd = root.join("fgd-gml/BldA_excerpt.xml");
    city.ok("buildings", &[&fgd], &[]);
    let outlines = from_source(&city, "buildings", "BldA_excerpt.xml").await;
    assert_eq!(outlines.len(), 3);
    assert!(off(first_vertex(&outlines[0].geometry), "EPSG:6668", (139.708789472, 35.688618)) < 0.001);

    // Gas pipes (a utility's, in a layer the city adds), PLATEAU road areas, 基盤地図情報 road edges.
    let gas = [unf.join("08EE751_unf_10169_gas_op.gml"), unf.join("08EE754_unf_10169_gas_op.gml")];
    city.ok("gas_pipes", &[&gas[0], &gas[1]], &[]);
    assert_eq!(city.features("gas_pipes").await.len(), 7 + 8);
    assert!(city.texts("gas_pipes", "pipe_kind").await.iter().all(|k| k == "ガス管路"));
    city.ok("road_areas", &[&root.join("plateau-misc/osaka_52350422_tran_6697_op.gml")], &[]);
    assert_eq!(city.features("road_areas").await.len(), 91);
    let edges = root.join("fgd-gml/RdCompt_excerpt.xml");
    city.ok("road_edges", &[&edges], &[]);
    let (n, _, (lon, lat)) = gdal_counts(&edges, None);
    let stored = city.features("road_edges").await;
    assert_eq!(stored.len(), n);
    assert!(off(first_vertex(&stored[0].geometry), "EPSG:6668", (lon, lat)) < 0.001);

    // PLATEAU land use into a city layer.
    city.ok("land_use", &[&root.join("plateau-misc/numazu_523836_luse_6668_op.gml")], &[]);
    assert_eq!(city.features("land_use").await.len(), 225);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zipped_shapefile_reads_like_the_shapefile_and_bad_files_fail_clearly() {
    let Some(dir) = support::sample_data("yaizu-city-opendata/通学路_大富小学校") else { return };
    let city = City::new();
    use std::io::Write;
    use zip::write::{SimpleFileOptions, ZipWriter};
    let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        w.start_file(format!("route.{ext}"), SimpleFileOptions::default()).unwrap();
        w.write_all(&std::fs::read(dir.join(format!("大富小学校.{ext}"))).unwrap()).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let zipped = city.dir.path().join("route.zip");
    std::fs::write(&zipped, &bytes).unwrap();
    city.ok("roads", &[&zipped], &[]);
    let (_, parts, _) = gdal_counts(&dir.join("大富小学校.shp"), None);
    assert_eq!(city.features("roads").await.len(), parts);

    let truncated = city.dir.path().join("truncated.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let shp = dir.join("大富小学校.shp");
    let notes = city.file("notes.txt", "not geodata");
    for (bad, message) in [(&truncated, "not a readable zip archive"), (&notes, "no reader recognises it")] {
        let out = city.import("roads", &[&shp, bad], &["--replace"]);
        assert!(!out.status.success());
        let said = text(&out);
        assert!(said.contains(message) && said.contains(bad.file_name().unwrap().to_str().unwrap()), "{said}");
    }
    assert_eq!(city.features("roads").await.len(), parts, "nothing of a failed import lands");

    // A mapping naming a field the file does not have, or an attribute the layer does not.
    let m = city.file("bad.toml", "[attributes]\nname = \"路線\"\n");
    let out = city.import("roads", &[&shp], &["--mapping", m.to_str().unwrap(), "--replace"]);
    assert!(
        text(&out).contains("source field \"路線\" (for name) is not in 大富小学校.shp; it has: item1, item2"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn export_writes_public_open_data_only() {
    let Some(root) = support::sample_data("") else { return };
    let city = City::new();
    let hydrants = root.join("yaizu-city-opendata/消防水利施設一覧/222127_fire_hydrant.csv");
    city.ok("fire_water", &[&hydrants], &[]);
    city.ok("parcels", &[&root.join("moj-xml/13113-0110-44_shibuya_kokyo9.xml")], &[]);
    let export = |layer: &str, format: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_machizu"))
            .args(["export", "--layer", layer, "--format", format, "--config"])
            .arg(city.dir.path().join("city.toml"))
            .arg("--data")
            .arg(city.dir.path().join("data"))
            .args(extra)
            .output()
            .unwrap()
    };

    // 自治体標準オープンデータセット CSV: standard first columns, Japanese names, 緯度/経度.
    let out = export("fire_water", "csv", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.split("\r\n");
    assert_eq!(lines.next().unwrap(), "全国地方公共団体コード,ID,地方公共団体名,種別,所在地_連結表記,口径,緯度,経度");
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[0], "062120", "Obanazawa's code with its check digit");
    assert_eq!((first[2], first[3], first[4]), ("尾花沢市", "防火水そう", "静岡県焼津市石津728番地2"));
    let (lat, lon): (f64, f64) = (first[6].parse().unwrap(), first[7].parse().unwrap());
    assert!((lat - 34.843137).abs() < 1e-7 && (lon - 138.308824).abs() < 1e-7, "{lat} {lon}");
    assert_eq!(csv.matches("\r\n").count(), 1 + 193);

    // Parcels: public attributes only — no owner, no import source.
    let out = export("parcels", "geojson", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let features = j["features"].as_array().unwrap();
    assert_eq!(features.len(), 328);
    let props = features[0]["properties"].as_object().unwrap();
    assert!(props.contains_key("chiban") && !props.contains_key("owner_name") && !props.contains_key("source"));
    let lon = features[0]["geometry"]["coordinates"][0][0][0].as_f64().unwrap();
    assert!((139.0..140.0).contains(&lon), "WGS84 longitude: {lon}");

    // GeoPackage, in the store's CRS, with the same public fields.
    let gpkg = city.dir.path().join("parcels.gpkg");
    let out = export("parcels", "gpkg", &["--output", gpkg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let ds = gdal::Dataset::open(&gpkg).unwrap();
    let layer = ds.layer_by_name("parcels").unwrap();
    assert_eq!(layer.feature_count(), 328);
    let fields: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    assert!(fields.contains(&"chiban".to_owned()) && !fields.iter().any(|f| f == "owner_name" || f == "source"));

    // A staff-only layer is not exported at all.
    std::fs::write(
        city.dir.path().join("city.toml"),
        format!("{CITY_LAYERS}\n[layers.parcels]\nvisibility = \"staff\"\n"),
    )
    .unwrap();
    let out = export("parcels", "csv", &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("layer parcels is staff-only"), "{}", text(&out));
}

/// Every JGD2011 and JGD2000 plane rectangular zone, JGD2011 and JGD2000 geographic, WGS84 and
/// the compound codes with height (through their horizontal part) land within 1 mm of cs2cs.
#[test]
fn every_japanese_crs_transforms_like_cs2cs() {
    use machizu::crs::Transformer;
    // A point 10 km north-east of each zone's origin, in that zone's own coordinates.
    let zones = (6669..=6687).chain(2443..=2461);
    let mut cases: Vec<(u32, u32, (f64, f64))> = zones.map(|c| (c, c, (10_000.0, 10_000.0))).collect();
    cases.extend([(6668, 6668, (140.4, 38.6)), (4612, 4612, (140.4, 38.6)), (4326, 4326, (140.4, 38.6))]);
    // Compound codes: transformed as their horizontal CRS, which cs2cs is given directly.
    cases.extend((10162..=10180).map(|c| (c, 6669 + c - 10162, (10_000.0, 10_000.0))));
    cases.push((6697, 6668, (140.4, 38.6)));
    for (code, horizontal, p) in cases {
        let t = Transformer::new(Epsg(code).horizontal(), Epsg::JGD2011_ZONE_X).unwrap();
        let ours = t.point(p.0, p.1).unwrap();
        let theirs = support::cs2cs(&format!("EPSG:{horizontal}"), "EPSG:6678", &[p])[0];
        let d = ((ours.0 - theirs.0).powi(2) + (ours.1 - theirs.1).powi(2)).sqrt();
        assert!(d < 0.001, "EPSG:{code}: {d} m from cs2cs");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shapefiles_import_into_postgis_the_same_way() {
    let Some(dir) = support::sample_data("yaizu-city-opendata") else { return };
    let url = support::fresh_database().await;
    let city = City::new();
    let files =
        [dir.join("浸水履歴_平成13年/浸水履歴_平成13年.shp"), dir.join("浸水履歴_平成18年/浸水履歴_平成18年.shp")];
    let args = ["--database-url", url.as_str()];
    let said = city.ok("flood_history", &[&files[0], &files[1]], &args);
    assert_eq!(said.matches("cut in half").count(), 2, "{said}");
    let again = city.ok("flood_history", &[&files[1]], &[args[0], args[1], "--replace"]);
    assert!(again.contains("imported 8 replacing 8"), "{again}");
    let store = machizu::store::postgis::PostgisStore::connect(&url, Epsg::JGD2011_ZONE_X).await.unwrap();
    let catalog = city.catalog();
    store.prepare(&catalog).await.unwrap();
    let def = catalog.get("flood_history").unwrap();
    let stored = store.load(def).await.unwrap();
    assert_eq!(stored.len(), gdal_counts(&files[0], None).0 + 8);
    let damage = def.attribute_index("damage").unwrap();
    assert!(stored.iter().any(|f| f.attributes[damage] == AttrValue::text("道路冠水（路肩5cm程")));
    // The same features as the GeoPackage import, to the bit.
    city.ok("flood_history", &[&files[0], &files[1]], &[]);
    let mut in_gpkg = city.features("flood_history").await;
    let mut in_pg = stored;
    for v in [&mut in_gpkg, &mut in_pg] {
        v.sort_by(|a, b| format!("{:?}", a.attributes).cmp(&format!("{:?}", b.attributes)));
    }
    let geoms = |v: &[Feature]| v.iter().map(|f| format!("{:?}", f.geometry)).collect::<Vec<_>>();
    assert_eq!(geoms(&in_gpkg), geoms(&in_pg));
}
