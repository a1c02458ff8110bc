//! Tile generation over the demo city, uncached, on one core: criterion measurements per zoom
//! (z10, z12, z14, z16), then a report of tiles/s, features/s, p50/p99 latency and the largest
//! tile per zoom over every tile that covers the city.
//!
//! Run: `cargo bench --bench tiles` (add `-- --quick` for a shorter criterion run). The report
//! goes to stdout and is what `docs/benchmarks.md` records.

use std::hint::black_box;
use std::sync::Arc;
mod support;

use std::time::Duration;

use criterion::{Criterion, Throughput};
use machizu::catalog::{Audience, Catalog};
use machizu::crs::Epsg;
use machizu::demo;
use machizu::engine::render::render_tile;
use machizu::engine::{Engine, LayerData};
use machizu::feature::Feature;
use machizu::tile::TileCoord;

const ZOOMS: [u8; 4] = [10, 12, 14, 16];
const CITY: [f64; 4] = [140.31, 38.44, 140.62, 38.72];

fn demo_engine() -> Engine {
    let catalog = Catalog::builtin();
    let city = demo::generate(&catalog, Epsg::JGD2011_ZONE_X, demo::DEFAULT_SEED).unwrap();
    let engine = Engine::new(Arc::new(catalog), Epsg::JGD2011_ZONE_X, 0).unwrap();
    for (id, features) in city.layers {
        let features = features.into_iter().enumerate().map(|(i, f)| Feature {
            id: i as i64 + 1,
            geometry: f.geometry,
            attributes: f.attributes,
        });
        engine.load_layer(&id, features).unwrap();
    }
    engine
}

/// Every tile covering the city at `z` that holds data.
fn city_tiles(layers: &[&LayerData], z: u8) -> Vec<TileCoord> {
    let a = TileCoord::containing(CITY[0], CITY[3], z);
    let b = TileCoord::containing(CITY[2], CITY[1], z);
    (a.x..=b.x)
        .flat_map(|x| (a.y..=b.y).map(move |y| TileCoord { z, x, y }))
        .filter(|&t| render_tile(layers, t, Audience::Public).features > 0)
        .collect()
}

fn main() {
    let engine = demo_engine();
    let ids: Vec<String> = engine.catalog().layers().iter().map(|l| l.id.to_string()).collect();
    let data: Vec<Arc<LayerData>> = ids.iter().filter_map(|id| engine.layer(id)).collect();
    let layers: Vec<&LayerData> = data.iter().map(Arc::as_ref).collect();

    let mut c = Criterion::default().configure_from_args().warm_up_time(Duration::from_secs(1));
    for z in ZOOMS {
        let tiles = city_tiles(&layers, z);
        let features: u64 = tiles.iter().map(|&t| u64::from(render_tile(&layers, t, Audience::Public).features)).sum();
        let mut group = c.benchmark_group(format!("tiles_z{z}"));
        group.throughput(Throughput::Elements(features));
        group.sample_size(10);
        group.bench_function(format!("all_{}_city_tiles_all_layers", tiles.len()), |b| {
            b.iter(|| {
                for &t in &tiles {
                    black_box(render_tile(&layers, t, Audience::Public));
                }
            })
        });
        group.finish();
    }
    c.final_summary();

    println!("\n| zoom | tiles | tiles/s (1 core) | features/s | p50 ms | p99 ms | max tile KB | mean tile KB |");
    println!("|---|---|---|---|---|---|---|---|");
    for z in ZOOMS {
        let tiles = city_tiles(&layers, z);
        // Enough renders for a stable p99.
        let t = support::time_tiles(&layers, &tiles, 2_000);
        println!(
            "| {z} | {} | {:.0} | {:.2} M | {:.3} | {:.3} | {:.1} | {:.1} |",
            tiles.len(),
            t.tiles_per_s,
            t.features_per_s / 1e6,
            t.p50_ms,
            t.p99_ms,
            t.max_kb,
            t.mean_kb
        );
    }
}
