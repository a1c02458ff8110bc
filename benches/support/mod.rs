//! Shared by the benchmarks: timing the renders of a set of tiles one by one.
#![allow(dead_code)] // each benchmark reads the figures it reports

use std::hint::black_box;
use std::time::Instant;

use machizu::catalog::Audience;
use machizu::engine::LayerData;
use machizu::engine::render::render_tile;
use machizu::tile::TileCoord;

/// Per-render figures over a set of tiles.
pub struct Timing {
    pub tiles_per_s: f64,
    pub features_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_kb: f64,
    pub max_kb: f64,
}

/// Renders every tile in rounds until at least `min_renders` renders, timing each.
pub fn time_tiles(layers: &[&LayerData], tiles: &[TileCoord], min_renders: usize) -> Timing {
    let rounds = (min_renders / tiles.len()).max(2);
    let (mut times, mut features, mut bytes, mut max_bytes) = (Vec::new(), 0u64, 0u64, 0usize);
    let start = Instant::now();
    for _ in 0..rounds {
        for &t in tiles {
            let t0 = Instant::now();
            let r = render_tile(layers, t, Audience::Public);
            times.push(t0.elapsed());
            features += u64::from(r.features);
            bytes += r.bytes.len() as u64;
            max_bytes = max_bytes.max(r.bytes.len());
            black_box(r);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0;
    Timing {
        tiles_per_s: times.len() as f64 / wall,
        features_per_s: features as f64 / wall,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        mean_kb: bytes as f64 / times.len() as f64 / 1024.0,
        max_kb: max_bytes as f64 / 1024.0,
    }
}
