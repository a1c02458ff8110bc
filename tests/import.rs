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

/// `cs2cs` from `from` to `to` on (easting, northing) pairs; both CRSs list northing first.
fn cs2cs(from: &str, to: &str, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut child = Command::new("cs2cs")
        .args(["-f", "%.6f", from, to])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cs2cs (Debian package proj-bin, installed by scripts/setup --test)");
    let input: String = pts.iter().map(|(e, n)| format!("{n} {e}\n")).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            (v[1], v[0])
        })
        .collect()
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
    let expected = cs2cs("EPSG:6677", "EPSG:6678", &sources);
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
        (write("notes.txt", "just some text".as_bytes()), "neither XML nor a zip archive"),
        (write("html.xml", b"<html><body/></html>"), "not a MOJ map XML"),
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
