//! The plowed-road accuracy table of docs/benchmarks.md: route inference and point-only
//! matching on simulated plow drives over real road networks (see tests/support/accuracy.rs).
//!
//! ```sh
//! cargo build --release && cargo run --release --example plowed_accuracy -- [VEHICLES] [MINUTES]
//! ```
//! Reads the networks from `MACHIZU_SAMPLE_DATA` (default `../shared/data`) and imports them
//! with `MACHIZU_BIN` (default `target/release/machizu`).

#[path = "../tests/support/accuracy.rs"]
mod accuracy;

use std::path::PathBuf;

use accuracy::{Tracker, drives, evaluate, import, total};
use machizu::crs::Epsg;

/// The OpenStreetMap ways a plow drives.
pub const DRIVABLE: &str = "highway IN ('motorway','motorway_link','trunk','trunk_link','primary','primary_link',\
'secondary','secondary_link','tertiary','tertiary_link','unclassified','residential','living_street','service','road')";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let vehicles: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let minutes: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60);
    let root = std::env::var_os("MACHIZU_SAMPLE_DATA").map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from);
    let bin = std::env::var_os("MACHIZU_BIN").map_or_else(|| PathBuf::from("target/release/machizu"), PathBuf::from);
    let sources = [
        ("Monaco", "osm-extracts/monaco-latest.osm.pbf", "lines", Epsg(32632)),
        ("Liechtenstein", "osm-extracts/liechtenstein-2013-08-03.osm.pbf", "lines", Epsg(32632)),
        ("Puerto Montt", "geopackage/puerto_montt-osm-20170922.gpkg", "roads_lines", Epsg(32718)),
    ];
    let mut networks = Vec::new();
    for (name, file, layer, crs) in sources {
        let n = import(&bin, name, &root.join(file), crs, &["--source-layer", layer, "--where", DRIVABLE]).await;
        println!("{name}: {} roads, {} edges, {} nodes", n.roads.len(), n.net.edges().len(), n.net.node_count());
        networks.push(n);
    }
    println!("\n{vehicles} vehicles × {minutes} min per network\n");
    println!(
        "| interval | σ | outliers | heading | route inference recall / precision | point-only recall / precision | fixes | HMM fixes/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // The last two rows: fixes without any error, the most a matcher that routes between
    // fixes can find (what was driven between two fixes and left the shortest route is not
    // in the fixes at all).
    for (interval_s, sigma_m, outliers, jitter_s, heading) in [
        (15, 5.0, 0.02, 1.0, true),
        (30, 10.0, 0.02, 1.0, true),
        (60, 5.0, 0.02, 1.0, true),
        (60, 10.0, 0.02, 1.0, true),
        (60, 15.0, 0.02, 1.0, true),
        (60, 10.0, 0.02, 1.0, false),
        (120, 10.0, 0.02, 1.0, true),
        (120, 15.0, 0.02, 1.0, true),
        (60, 0.0, 0.0, 0.0, true),
        (120, 0.0, 0.0, 0.0, true),
    ] {
        let t = Tracker { interval_s, sigma_m, outliers, jitter_s, heading };
        let scores: Vec<_> = networks
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let d = drives(n, vehicles, minutes * 60, 7 + i as u64);
                evaluate(n, &d, &t, 11 + i as u64)
            })
            .collect();
        let (hmm, point) = total(&scores);
        println!(
            "| {interval_s} s | {sigma_m} m | {} % | {} | {:.3} / {:.3} | {:.3} / {:.3} | {} | {:.0} |",
            outliers * 100.0,
            if heading { "yes" } else { "no" },
            hmm.recall(),
            hmm.precision(),
            point.recall(),
            point.precision(),
            hmm.fixes,
            hmm.fixes_per_s()
        );
    }
}
