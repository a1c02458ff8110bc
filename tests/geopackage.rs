//! The embedded store is a real GeoPackage: GDAL's `ogrinfo` lists every layer with the
//! declared geometry type and the city CRS, and reads the features back.

mod support;

use std::process::Command;

use machizu::catalog::Catalog;
use machizu::crs::Epsg;
use machizu::store::Store;
use machizu::store::gpkg::GpkgStore;

fn ogrinfo(args: &[&str]) -> String {
    let out = Command::new("ogrinfo")
        .args(args)
        .output()
        .expect("ogrinfo (Debian package gdal-bin) must be installed: scripts/setup installs it");
    assert!(out.status.success(), "ogrinfo failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn ogrinfo_lists_every_layer_with_type_and_srs() {
    let path = support::demo_gpkg().await;
    let path = path.to_str().unwrap();
    let list = ogrinfo(&["-ro", "-q", path]);
    let expected = [
        ("boundary", "Multi Polygon"),
        ("parcels", "Polygon"),
        ("water_mains", "Line String"),
        ("sewer_lines", "Line String"),
        ("roads", "Line String"),
        ("hazardous_buildings", "Point"),
        ("snowplows", "Point"),
    ];
    for (layer, kind) in expected {
        assert!(list.contains(&format!(": {layer} ({kind})")), "{layer} ({kind}) not in:\n{list}");
    }
    let catalog = Catalog::builtin();
    let store = GpkgStore::open(std::path::Path::new(path), Epsg::JGD2011_ZONE_X).await.unwrap();
    for (layer, _) in expected {
        let info = ogrinfo(&["-ro", "-so", path, layer]);
        assert!(info.contains("PROJCRS[\"JGD2011 / Japan Plane Rectangular CS X\""), "{layer} SRS:\n{info}");
        assert!(info.contains("ID[\"EPSG\",6678]"), "{layer} EPSG code:\n{info}");
        let count = store.count(catalog.get(layer).unwrap()).await.unwrap();
        assert!(info.contains(&format!("Feature Count: {count}")), "{layer} count {count}:\n{info}");
    }
    // GDAL decodes our geometry blobs and Japanese attributes.
    let one = ogrinfo(&["-ro", "-q", path, "parcels", "-fid", "1"]);
    assert!(one.contains("POLYGON ((") && one.contains("oaza (String) = "), "{one}");
    let text = ogrinfo(&["-ro", "-q", "-sql", "SELECT count(*) AS n FROM parcels WHERE chimoku = '田'", path]);
    let n: u64 = text.lines().find_map(|l| l.trim().strip_prefix("n (Integer) = ")).unwrap().parse().unwrap();
    assert!(n > 10_000, "{text}");
    store.close().await;
}
