//! Plowed roads from sparse fixes, on real road networks: simulated plows drive OpenStreetMap
//! networks imported with `machizu import` (Monaco, Liechtenstein, Puerto Montt), their trackers
//! report every 60 and 120 s with GPS noise, outliers and jittered times, and route inference
//! must find the roads driven (and little else) far better than point-only matching. The full
//! table is `examples/plowed_accuracy.rs` (docs/benchmarks.md); this is a smaller run of it.

mod support;

use std::path::Path;

use machizu::crs::Epsg;
use support::accuracy::{Tracker, drives, evaluate, import, total};

const DRIVABLE: &str = "highway IN ('motorway','motorway_link','trunk','trunk_link','primary','primary_link',\
'secondary','secondary_link','tertiary','tertiary_link','unclassified','residential','living_street','service','road')";

#[tokio::test]
async fn route_inference_finds_the_roads_plows_drove_between_sparse_fixes() {
    let sources = [
        ("Monaco", "osm-extracts/monaco-latest.osm.pbf", "lines", Epsg(32632)),
        ("Liechtenstein", "osm-extracts/liechtenstein-2013-08-03.osm.pbf", "lines", Epsg(32632)),
        ("Puerto Montt", "geopackage/puerto_montt-osm-20170922.gpkg", "roads_lines", Epsg(32718)),
    ];
    let bin = Path::new(env!("CARGO_BIN_EXE_machizu"));
    let mut networks = Vec::new();
    for (name, file, layer, crs) in sources {
        let Some(path) = support::sample_data(file) else { return };
        networks.push(import(bin, name, &path, crs, &["--source-layer", layer, "--where", DRIVABLE]).await);
    }
    // The OSM one-way tags came through the import.
    let oneway = networks[0].layer.def.attribute_index("oneway").unwrap();
    let one_way = networks[0].roads.iter().filter(|f| f.attributes[oneway].to_json() == "yes").count();
    assert!(one_way > 100, "Monaco has many one-way streets: {one_way}");

    for (interval_s, recall, precision) in [(60, 0.82, 0.92), (120, 0.72, 0.90)] {
        let t = Tracker { interval_s, sigma_m: 10.0, outliers: 0.02, jitter_s: 1.0, heading: true };
        let scores: Vec<_> =
            networks.iter().enumerate().map(|(i, n)| evaluate(n, &drives(n, 4, 40 * 60, i as u64), &t, 99)).collect();
        let (hmm, point) = total(&scores);
        eprintln!(
            "{interval_s} s: route inference {:.3}/{:.3}, point-only {:.3}/{:.3}, {} roads driven",
            hmm.recall(),
            hmm.precision(),
            point.recall(),
            point.precision(),
            hmm.driven
        );
        assert!(hmm.driven > 200, "enough roads driven to judge: {}", hmm.driven);
        assert!(hmm.recall() >= recall && hmm.precision() >= precision, "{interval_s} s: {hmm:?}");
        assert!(hmm.recall() >= point.recall() + 0.3, "far ahead of point-only matching: {point:?}");
        assert!(hmm.precision() >= point.precision(), "and no less precise: {point:?}");
    }
}
