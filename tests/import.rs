//! `machizu import` on the Ministry of Justice's map XML: parcels land with their 地番 and
//! names exact and their corners within 1 mm of PROJ's own `cs2cs`; a bad input fails with a
//! message that names the file and the fault, and leaves the store as it was — also when only
//! one file of several is bad.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use machizu::catalog::Catalog;
use machizu::crs::Epsg;
use machizu::feature::AttrValue;
use machizu::import::mojxml;
use machizu::store::Store;
use machizu::store::gpkg::GpkgStore;

fn import(files: &[&Path], data: &Path) -> Output {
    import_with(files, &[std::ffi::OsStr::new("--data"), data.as_os_str()])
}

fn import_with(files: &[&Path], args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_machizu"))
        .arg("import")
        .args(files)
        .args(["--layer", "parcels"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

async fn parcels(data: &Path) -> Vec<machizu::feature::Feature> {
    let store = GpkgStore::open_in(data, Epsg::JGD2011_ZONE_X).await.unwrap();
    let catalog = Catalog::builtin();
    store.prepare(&catalog).await.unwrap();
    store.load(catalog.get("parcels").unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn moj_parcels_land_exactly() {
    let Some(dir) = support::sample_data("moj-xml") else { return };
    let shibuya = dir.join("13113-0110-44_shibuya_kokyo9.xml");
    let data = tempfile::tempdir().unwrap();
    let out = import(
        &[&shibuya, &dir.join("12103-0400-76_chiba-inage.zip"), &dir.join("46505-3411-1_yakushima.zip")],
        data.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("imported 337"), "{}", text(&out));

    let stored = parcels(data.path()).await;
    assert_eq!(stored.len(), 328 + 1 + 8);
    let def = Catalog::builtin().get("parcels").unwrap().clone();
    let attr = |f: &machizu::feature::Feature, name: &str| f.attributes[def.attribute_index(name).unwrap()].clone();
    let source = mojxml::parse(std::io::BufReader::new(std::fs::File::open(&shibuya).unwrap())).unwrap();
    let first = &source.parcels[0];
    let f = stored.iter().find(|f| attr(f, "chiban") == AttrValue::text("75-1")).expect("75-1");
    assert_eq!(attr(f, "oaza"), AttrValue::text("宇田川町"));
    assert_eq!(attr(f, "oaza_code"), AttrValue::text("049"));
    assert_eq!(attr(f, "coordinate_kind"), AttrValue::text("図上測量"));
    assert_eq!(attr(f, "chiban_prefix"), AttrValue::Null);

    // Every corner of every Shibuya parcel, zone IX → the store's zone X, against cs2cs.
    let sources: Vec<(f64, f64)> =
        source.parcels.iter().flat_map(|p| p.polygon.exterior().0.iter().map(|c| (c.x, c.y))).collect();
    let expected = support::cs2cs("EPSG:6677", "EPSG:6678", &sources);
    let mut got = Vec::new();
    for p in &source.parcels {
        let f = stored
            .iter()
            .find(|f| {
                attr(f, "chiban") == AttrValue::text(p.chiban.as_str())
                    && attr(f, "oaza_code") == AttrValue::text(p.oaza_code.as_str())
            })
            .unwrap_or_else(|| panic!("{} stored", p.chiban));
        let geo_types::Geometry::Polygon(poly) = &f.geometry else { panic!("a polygon") };
        got.extend(poly.exterior().0.iter().map(|c| (c.x, c.y)));
    }
    assert_eq!(got.len(), expected.len());
    let worst = got.iter().zip(&expected).map(|(a, b)| (a.0 - b.0).hypot(a.1 - b.1)).fold(0.0, f64::max);
    assert!(worst < 0.001, "worst corner {worst} m from cs2cs");
    assert_eq!(first.chiban, "75-1");

    // The same import again: refused, nothing duplicated; with --replace, the same features anew.
    let again = import(&[&shibuya], data.path());
    assert!(!again.status.success());
    assert!(text(&again).contains("328 features already have source"), "{}", text(&again));
    assert_eq!(parcels(data.path()).await.len(), 337);
    let replaced = import_with(&[&shibuya], &["--replace".as_ref(), "--data".as_ref(), data.path().as_os_str()]);
    assert!(replaced.status.success(), "{}", text(&replaced));
    assert!(text(&replaced).contains("imported 328 replacing 328"), "{}", text(&replaced));
    let after = parcels(data.path()).await;
    assert_eq!(after.len(), 337);
    assert_eq!(after.iter().filter(|f| attr(f, "chiban") == AttrValue::text("75-1")).count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn moj_import_into_postgis_replaces_by_source() {
    let Some(dir) = support::sample_data("moj-xml") else { return };
    let url = support::fresh_database().await;
    let zip = dir.join("46505-3411-1_yakushima.zip");
    let args: [&std::ffi::OsStr; 2] = ["--database-url".as_ref(), url.as_ref()];
    let first = import_with(&[&zip], &args);
    assert!(first.status.success(), "{}", text(&first));
    let twice = import_with(&[&zip], &args);
    assert!(text(&twice).contains("8 features already have source"), "{}", text(&twice));
    let replace = [args[0], args[1], "--replace".as_ref()];
    let again = import_with(&[&zip], &replace);
    assert!(text(&again).contains("imported 8 replacing 8"), "{}", text(&again));
    let store = machizu::store::postgis::PostgisStore::connect(&url, Epsg::JGD2011_ZONE_X).await.unwrap();
    assert_eq!(store.count(Catalog::builtin().get("parcels").unwrap()).await.unwrap(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_fail_clearly_and_write_nothing() {
    let Some(dir) = support::sample_data("moj-xml") else { return };
    let good = dir.join("13113-0110-44_shibuya_kokyo9.xml");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let zip = std::fs::read(dir.join("12103-0400-76_chiba-inage.zip")).unwrap();
    let xml = std::fs::read(&good).unwrap();
    let cases = [
        (dir.join("01229-4500-1_furano_arbitrary.xml"), "任意座標系"),
        (write("truncated.zip", &zip[..zip.len() / 2]), "not a readable zip archive"),
        (write("broken.xml", &xml[..xml.len() / 3]), "not well-formed XML"),
        (write("notes.txt", "just some text".as_bytes()), "no reader recognises it"),
        (write("html.xml", b"<html><body/></html>"), "no reader recognises it"),
    ];
    for (bad, message) in &cases {
        // The good file first: it is read, but nothing of it may land.
        let out = import(&[&good, bad], &data);
        assert!(!out.status.success(), "{}", bad.display());
        let said = text(&out);
        assert!(said.contains(message), "{}: {said}", bad.display());
        assert_eq!(said.matches(message).count(), 1, "said once: {said}");
        assert!(said.contains(bad.file_name().unwrap().to_str().unwrap()), "names the file: {said}");
        assert_eq!(parcels(&data).await.len(), 0, "{}: nothing written", bad.display());
    }
}

/// A synthetic map sheet of `n` square parcels in a grid (zone X), as large as a test needs.
fn synthetic_sheet(n: usize) -> String {
    let mut d = String::with_capacity(n * 1_200);
    d.push_str(
        r#"<?xml version="1.0" encoding="UTF-8"?><地図 xmlns="http://www.moj.go.jp/MINJI/tizuxml" xmlns:zmn="http://www.moj.go.jp/MINJI/tizuzumen"><地図名>synthetic (test)</地図名><市区町村コード>06212</市区町村コード><市区町村名>尾花沢市</市区町村名><座標系>公共座標10系</座標系><空間属性>"#,
    );
    let corner = |i: usize| (-1_000.0 + (i % 300) as f64 * 12.0, -45_000.0 + (i / 300) as f64 * 12.0);
    for i in 0..n {
        let (e, s) = corner(i);
        d.push_str(&format!(
            r#"<zmn:GM_Curve id="C{i}"><zmn:GM_Curve.segment><zmn:GM_LineString><zmn:GM_LineString.controlPoint>"#
        ));
        for (de, dn) in [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (0.0, 0.0)] {
            d.push_str(&format!(
                "<zmn:GM_PointArray.column><zmn:GM_Position.direct><zmn:X>{}</zmn:X><zmn:Y>{}</zmn:Y></zmn:GM_Position.direct></zmn:GM_PointArray.column>",
                s + dn,
                e + de
            ));
        }
        d.push_str(&format!(
            r#"</zmn:GM_LineString.controlPoint></zmn:GM_LineString></zmn:GM_Curve.segment></zmn:GM_Curve><zmn:GM_Surface id="F{i}"><zmn:GM_Surface.patch><zmn:GM_Polygon><zmn:GM_Polygon.boundary><zmn:GM_SurfaceBoundary><zmn:GM_SurfaceBoundary.exterior><zmn:GM_Ring><zmn:GM_CompositeCurve.generator idref="C{i}"/></zmn:GM_Ring></zmn:GM_SurfaceBoundary.exterior></zmn:GM_SurfaceBoundary></zmn:GM_Polygon.boundary></zmn:GM_Polygon></zmn:GM_Surface.patch></zmn:GM_Surface>"#
        ));
    }
    d.push_str("</空間属性><主題属性>");
    for i in 0..n {
        d.push_str(&format!(r#"<筆 id="H{i}"><大字コード>001</大字コード><大字名>大字尾花沢</大字名><地番>{}</地番><形状 idref="F{i}"/></筆>"#, i + 1));
    }
    d.push_str("</主題属性></地図>");
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_killed_while_writing_leaves_the_store_as_it_was() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (small, large) = (tmp.path().join("small.xml"), tmp.path().join("large.xml"));
    std::fs::write(&small, synthetic_sheet(10)).unwrap();
    std::fs::write(&large, synthetic_sheet(60_000)).unwrap();
    let out = import(&[&small], &data);
    assert!(out.status.success(), "{}", text(&out));

    let mut child = Command::new(env!("CARGO_BIN_EXE_machizu"))
        .arg("import")
        .arg(&large)
        .args(["--layer", "parcels", "--data"])
        .arg(&data)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let writing = lines.by_ref().map_while(Result::ok).find(|l| l.contains("writing 60000 features"));
    assert!(writing.is_some(), "the import reached its write");
    std::thread::sleep(std::time::Duration::from_millis(50));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed before it finished");

    // The GeoPackage rolls the interrupted transaction back on the next open: the 10 parcels
    // from before, nothing of the 60,000, and the store still takes a full import.
    assert_eq!(parcels(&data).await.len(), 10);
    let out = import(&[&large], &data);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(parcels(&data).await.len(), 60_010);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zip_inside_a_zip_is_read_as_the_ministry_distributes_it() {
    use zip::write::{SimpleFileOptions, ZipWriter};
    let Some(dir) = support::sample_data("moj-xml") else { return };
    let zip_of = |name: &str, bytes: &[u8]| {
        let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(name, SimpleFileOptions::default()).unwrap();
        w.write_all(bytes).unwrap();
        w.finish().unwrap().into_inner()
    };
    let inner = std::fs::read(dir.join("46505-3411-1_yakushima.zip")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let outer = tmp.path().join("46505-3411.zip");
    std::fs::write(&outer, zip_of("46505-3411-1.zip", &inner)).unwrap();
    let out = import(&[&outer], &tmp.path().join("data"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("read 8 features from 1 document, imported 8"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn arbitrary_maps_are_kept_apart_only_when_allowed() {
    let Some(dir) = support::sample_data("moj-xml") else { return };
    let furano = dir.join("01229-4500-1_furano_arbitrary.xml");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let arg = |s: &str| std::ffi::OsString::from(s);
    let with = |extra: &[&str]| {
        let mut args = vec![arg("--data"), data.clone().into_os_string()];
        args.extend(extra.iter().map(|s| arg(s)));
        args
    };
    let run = |extra: &[&str]| {
        let args = with(extra);
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        Command::new(env!("CARGO_BIN_EXE_machizu")).arg("import").arg(&furano).args(refs).output().unwrap()
    };
    // Into parcels: refused, saying how to keep it.
    let out = run(&["--layer", "parcels"]);
    assert!(
        !out.status.success() && text(&out).contains("--layer parcels_arbitrary --allow-arbitrary"),
        "{}",
        text(&out)
    );
    // Into the unreferenced layer, only with consent.
    let out = run(&["--layer", "parcels_arbitrary"]);
    assert!(!out.status.success() && text(&out).contains("needs --allow-arbitrary"), "{}", text(&out));
    let out = run(&["--layer", "parcels_arbitrary", "--allow-arbitrary"]);
    assert!(out.status.success(), "{}", text(&out));

    // Stored in the map's own coordinates (no transform), with the undefined Cartesian SRS.
    let map = mojxml::parse(&std::fs::read(&furano).unwrap()[..]).unwrap();
    let store = GpkgStore::open_in(&data, Epsg::JGD2011_ZONE_X).await.unwrap();
    let catalog = Catalog::builtin();
    store.prepare(&catalog).await.unwrap();
    let def = catalog.get("parcels_arbitrary").unwrap();
    let stored = store.load(def).await.unwrap();
    assert_eq!(stored.len(), 130);
    assert_eq!(stored[0].geometry, geo_types::Geometry::Polygon(map.parcels[0].polygon.clone()));
    let srs =
        Command::new("ogrinfo").arg("-so").arg(data.join("machizu.gpkg")).arg("parcels_arbitrary").output().unwrap();
    assert!(String::from_utf8_lossy(&srs.stdout).contains("Undefined Cartesian SRS"));
    // Staff-only, and never tiled.
    assert!(!def.visible_to(machizu::catalog::Audience::Public));
    assert!(catalog.tiled().get("parcels_arbitrary").is_none() && catalog.tiled().get("parcels").is_some());
}
