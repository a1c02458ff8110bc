//! `machizu db push` then `machizu db pull`: the demo city goes from the GeoPackage into PostGIS
//! and back out into a new GeoPackage exactly — ids, geometry to the bit, every attribute,
//! versions and times — and a second push without `--replace` is refused and changes nothing.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use geozero::ToWkb;
use machizu::catalog::Catalog;
use machizu::crs::Epsg;
use machizu::demo;
use machizu::feature::{AttrValue, NewFeature};
use machizu::store::Store;
use machizu::store::gpkg::{FILE_NAME, GpkgStore};
use machizu::store::postgis::PostgisStore;

fn db(args: &[&str], data: &Path, url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_machizu"))
        .arg("db")
        .args(args)
        .arg("--data")
        .arg(data)
        .args(["--database-url", url])
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn wkb(g: &geo_types::Geometry<f64>) -> Vec<u8> {
    g.to_wkb(geozero::CoordDimensions::xy()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn push_then_pull_round_trips_the_demo_city_exactly() {
    let url = support::fresh_database().await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::copy(support::demo_gpkg().await, a.path().join(FILE_NAME)).unwrap();

    let out = db(&["push"], a.path(), &url);
    assert!(out.status.success(), "push: {}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("parcels: ") && said.contains("copied gpkg into postgis"), "{said}");

    // A second push would overwrite: refused, with the way out named.
    let again = db(&["push"], a.path(), &url);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("--replace") && err.contains("already holds"), "{err}");

    let out = db(&["pull"], b.path(), &url);
    assert!(out.status.success(), "pull: {}", String::from_utf8_lossy(&out.stderr));

    let crs = Epsg::JGD2011_ZONE_X;
    let (src, back) =
        (GpkgStore::open_in(a.path(), crs).await.unwrap(), GpkgStore::open_in(b.path(), crs).await.unwrap());
    let pg = PostgisStore::connect(&url, crs).await.unwrap();
    let catalog = Catalog::builtin();
    let mut total = 0;
    for layer in catalog.layers() {
        let original = src.export(layer).await.unwrap();
        let in_pg = pg.export(layer).await.unwrap();
        let pulled = back.export(layer).await.unwrap();
        total += original.len();
        assert_eq!(original.len(), pulled.len(), "{}", layer.id);
        // Records compare ids, coordinates (as f64, exactly), attributes, versions and times.
        assert!(original == in_pg, "{}: PostGIS differs from the source", layer.id);
        assert!(original == pulled, "{}: the pulled GeoPackage differs from the source", layer.id);
        for (o, p) in original.iter().zip(&pulled) {
            assert_eq!(wkb(&o.feature.geometry), wkb(&p.feature.geometry), "{} #{}", layer.id, o.feature.id);
        }
    }
    assert!(total > 100_000, "the demo city was copied ({total} features)");
    assert_eq!(back.meta(demo::META_KEY).await.unwrap(), src.meta(demo::META_KEY).await.unwrap());
    assert!(back.meta(demo::META_KEY).await.unwrap().unwrap().contains("Synthetic"));

    // New features continue after the copied ids, in both stores.
    let roads = catalog.get("roads").unwrap();
    let max = src.export(roads).await.unwrap().last().unwrap().feature.id;
    let new = NewFeature {
        geometry: src.load(roads).await.unwrap()[0].geometry.clone(),
        attributes: roads.values_by_name([("name", AttrValue::text("新設路線"))]),
    };
    assert_eq!(pg.insert(roads, std::slice::from_ref(&new)).await.unwrap(), vec![max + 1]);
    assert_eq!(back.insert(roads, &[new]).await.unwrap(), vec![max + 1]);

    // `--replace` from a store without the synthetic notice (here: an empty one) leaves PostGIS
    // exactly like it: empty, and no longer claiming to hold the demo.
    let empty = tempfile::tempdir().unwrap();
    let out = db(&["push", "--replace"], empty.path(), &url);
    assert!(out.status.success(), "push --replace: {}", String::from_utf8_lossy(&out.stderr));
    for layer in catalog.layers() {
        assert_eq!(pg.count(layer).await.unwrap(), 0, "{}", layer.id);
    }
    assert_eq!(pg.meta(demo::META_KEY).await.unwrap(), None);
}
