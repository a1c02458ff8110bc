//! `machizu export --format pmtiles` (issue #20): the public layers as one PMTiles v3 archive,
//! read by an independent reader (the Protomaps project's Python `pmtiles`): every tile equals
//! machizu's own answer to the public for the same request, and nothing staff-only is in it.

mod support;

use std::collections::HashSet;

use machizu::catalog::Audience;
use serde_json::Value;
use sha2::Digest;
use support::{CENTRE_Z14, TestServer, body_bytes, vector_tile};

#[tokio::test(flavor = "multi_thread")]
async fn the_archive_holds_exactly_the_public_tiles_machizu_serves() {
    let s = TestServer::demo().await;
    let archive = s.dir.path().join("city.pmtiles");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_machizu"))
        .args(["export", "--format", "pmtiles", "--minzoom", "10", "--maxzoom", "16", "--output"])
        .arg(&archive)
        .arg("--data")
        .arg(s.dir.path())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("z16: ") && log.contains(" tiles"), "progress per zoom: {log}");

    let read = std::process::Command::new(support::test_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pmtiles/read_archive.py"))
        .arg(&archive)
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let read: Value = serde_json::from_slice(&read.stdout).unwrap();
    let header = &read["header"];
    assert_eq!((header["version"].as_u64(), header["tile_type"].as_str()), (Some(3), Some("MVT")));
    assert_eq!(header["tile_compression"], "GZIP");
    assert_eq!(header["clustered"], true);
    assert_eq!((header["min_zoom"].as_u64(), header["max_zoom"].as_u64()), (Some(10), Some(16)));

    // The layers: every public layer the server does not change itself (live layers, the
    // roads' plowed times), in catalog order; nothing staff-only.
    let catalog = s.app.engine.catalog();
    assert!(catalog.get("roads").is_some_and(|l| l.changes_while_serving()));
    let public: Vec<String> = catalog
        .layers()
        .iter()
        .filter(|l| l.visible_to(Audience::Public) && !l.changes_while_serving())
        .map(|l| l.id.to_string())
        .collect();
    let metadata = &read["metadata"];
    let described: Vec<&str> =
        metadata["vector_layers"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    for l in catalog.layers() {
        let listed = described.contains(&l.id.as_str());
        assert_eq!(listed, public.contains(&l.id.to_string()), "{} in the archive's layers", l.id);
    }
    let staff_keys: HashSet<String> = catalog
        .layers()
        .iter()
        .flat_map(|l| {
            l.attributes.iter().filter(|a| !a.visibility.visible_to(Audience::Public)).map(|a| a.name.clone())
        })
        .collect();
    assert!(staff_keys.contains("owner_name"));
    for l in metadata["vector_layers"].as_array().unwrap() {
        assert!(l["fields"].as_object().unwrap().keys().all(|k| !staff_keys.contains(k)), "{l}");
    }
    assert!(metadata["attribution"].as_str().unwrap().contains("Synthetic demo data"), "{metadata}");

    // Every tile, as the public asks machizu for it: the same bytes.
    let tiles = read["tiles"].as_array().unwrap();
    assert!(tiles.len() > 1000, "{} tiles", tiles.len());
    let layers = public.join(",");
    let mut in_archive = HashSet::new();
    let mut labels = 0;
    for t in tiles {
        let (z, x, y) = (t[0].as_u64().unwrap(), t[1].as_u64().unwrap(), t[2].as_u64().unwrap());
        let r = s.get(&format!("/tiles/{layers}/{z}/{x}/{y}.mvt")).await;
        assert_eq!(r.status(), 200, "{z}/{x}/{y}");
        let bytes = body_bytes(r).await;
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), t[3].as_str().unwrap(), "tile {z}/{x}/{y}");
        for l in vector_tile::decode(&bytes).layers {
            assert!(l.keys.iter().all(|k| !staff_keys.contains(k)), "{} in {z}/{x}/{y}", l.name);
            labels += usize::from(l.name == "parcels_label");
        }
        in_archive.insert((z, x, y));
    }
    assert!(labels > 0, "the parcels' label points travel too");
    // And no tile machizu has is missing: the 3×3 block around the centre at each zoom.
    let (_, cx, cy) = CENTRE_Z14;
    for z in 10u64..=16 {
        let (x0, y0) = if z >= 14 {
            (u64::from(cx) << (z - 14), u64::from(cy) << (z - 14))
        } else {
            (u64::from(cx) >> (14 - z), u64::from(cy) >> (14 - z))
        };
        for (x, y) in (0..3).flat_map(|dx| (0..3).map(move |dy| (x0 + dx - 1, y0 + dy - 1))) {
            if s.get(&format!("/tiles/{layers}/{z}/{x}/{y}.mvt")).await.status() == 200 {
                assert!(in_archive.contains(&(z, x, y)), "{z}/{x}/{y} is served but not in the archive");
            }
        }
    }
}
