//! Tile generation over a dense synthetic stress set shaped like the martin peer baseline's
//! (`../shared/notes/peer/make_data.sql`): 200,000 random-walk roads (5–30 vertices, 15–75 m
//! steps) and 300,000 parcels (10–40 m, 5–8 vertices) over a 20 km × 20 km square centred on
//! 140.40 E, 38.60 N. One `roads,parcels` tile per render, uncached, on one core, over every tile
//! of the square at z10, z12, z14 and z16.
//!
//! Last, the gzip compressors a response could use, on the largest z14 tile.
//!
//! Run: `cargo bench --bench stress` (add `-- --quick` for a shorter criterion run).

use std::hint::black_box;
use std::sync::Arc;
mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use geo_types::{Coord, Geometry, LineString, Polygon};
use machizu::catalog::{Audience, Catalog};
use machizu::config::{Config, FileConfig, Overrides};
use machizu::crs::Epsg;
use machizu::engine::render::render_tile;
use machizu::engine::{Engine, LayerData};
use machizu::feature::{AttrValue, Feature};
use machizu::tile::TileCoord;
use machizu::tile::coord::lonlat_to_mercator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ZOOMS: [u8; 4] = [10, 12, 14, 16];

fn catalog() -> Catalog {
    let toml = r#"
        [layers.stress_roads]
        title_ja = "負荷試験用道路（合成）"
        title_en = "Stress-test roads (synthetic)"
        geometry = "linestring"
        minzoom = 0
        maxzoom = 18
        [layers.stress_roads.attributes]
        name = { type = "text", visibility = "public" }
        kind = { type = "text", visibility = "public" }
        num = { type = "integer", visibility = "public" }
        [layers.stress_parcels]
        title_ja = "負荷試験用筆（合成）"
        title_en = "Stress-test parcels (synthetic)"
        geometry = "polygon"
        minzoom = 0
        maxzoom = 18
        [layers.stress_parcels.attributes]
        name = { type = "text", visibility = "public" }
        kind = { type = "text", visibility = "public" }
        num = { type = "integer", visibility = "public" }
    "#;
    let file: FileConfig = toml::from_str(toml).unwrap();
    Config::resolve(file, Overrides::default()).unwrap().catalog
}

const ROAD_KINDS: [&str; 7] = ["motorway", "primary", "secondary", "tertiary", "residential", "service", "track"];
const PARCEL_KINDS: [&str; 6] = ["residential", "agricultural", "commercial", "forest", "industrial", "public"];

/// The stress set in Web Mercator: (roads, parcels).
fn stress_set() -> (Vec<Feature>, Vec<Feature>) {
    let mut rng = ChaCha8Rng::seed_from_u64(4242);
    let (cx, cy) = lonlat_to_mercator(140.40, 38.60);
    let k = 1.0 / 38.60f64.to_radians().cos(); // ground metres → mercator units
    let half = 10_000.0 * k;
    let roads = (1..=200_000)
        .map(|id| {
            let (mut x, mut y) = (cx + rng.random_range(-half..half), cy + rng.random_range(-half..half));
            let mut heading: f64 = rng.random_range(0.0..std::f64::consts::TAU);
            let n = rng.random_range(5..=30);
            let mut pts = vec![Coord { x, y }];
            for _ in 1..n {
                heading += rng.random_range(-0.4..0.4);
                let step = rng.random_range(15.0..75.0) * k;
                (x, y) = (x + step * heading.cos(), y + step * heading.sin());
                pts.push(Coord { x, y });
            }
            let kind = ROAD_KINDS[rng.random_range(0..ROAD_KINDS.len())];
            Feature {
                id,
                geometry: Geometry::LineString(LineString(pts)),
                attributes: vec![
                    AttrValue::text(format!("Street {}", rng.random_range(1..5000))),
                    AttrValue::text(kind),
                    AttrValue::Int(rng.random_range(1..=4)),
                ],
            }
        })
        .collect();
    let parcels = (1..=300_000)
        .map(|id| {
            let (px, py) = (cx + rng.random_range(-half..half), cy + rng.random_range(-half..half));
            let side = rng.random_range(10.0..40.0) * k;
            let rot: f64 = rng.random_range(0.0..std::f64::consts::FRAC_PI_2);
            let n = rng.random_range(5..=8);
            let mut angles: Vec<f64> = (0..n)
                .map(|j| {
                    let base = if j < 4 {
                        std::f64::consts::FRAC_PI_4 + f64::from(j) * std::f64::consts::FRAC_PI_2
                    } else {
                        rng.random_range(0.0..std::f64::consts::TAU)
                    };
                    (base + rng.random_range(-0.06..0.06)).rem_euclid(std::f64::consts::TAU)
                })
                .collect();
            angles.sort_by(f64::total_cmp);
            let mut ring: Vec<Coord<f64>> = angles
                .iter()
                .map(|&a| {
                    let r = side / 2.0 / a.cos().abs().max(a.sin().abs()) * rng.random_range(0.92..1.08);
                    Coord { x: px + r * (a + rot).cos(), y: py + r * (a + rot).sin() }
                })
                .collect();
            ring.push(ring[0]);
            Feature {
                id,
                geometry: Geometry::Polygon(Polygon::new(LineString(ring), vec![])),
                attributes: vec![
                    AttrValue::text(format!("Lot {}-{}", 1000 + id, rng.random_range(1..10))),
                    AttrValue::text(PARCEL_KINDS[rng.random_range(0..PARCEL_KINDS.len())]),
                    AttrValue::Int(rng.random_range(100..1600)),
                ],
            }
        })
        .collect();
    (roads, parcels)
}

/// Every tile of the square at `z`.
fn square_tiles(z: u8) -> Vec<TileCoord> {
    let a = TileCoord::containing(140.2851, 38.6899, z);
    let b = TileCoord::containing(140.5149, 38.5101, z);
    (a.x..=b.x).flat_map(|x| (a.y..=b.y).map(move |y| TileCoord { z, x, y })).collect()
}

fn main() {
    let t = Instant::now();
    let (roads, parcels) = stress_set();
    let engine = Engine::new(Arc::new(catalog()), Epsg::WEB_MERCATOR, 0).unwrap();
    engine.load_layer("stress_roads", roads).unwrap();
    engine.load_layer("stress_parcels", parcels).unwrap();
    println!("stress set generated and loaded in {:.1} s", t.elapsed().as_secs_f64());
    let data: Vec<Arc<LayerData>> =
        ["stress_roads", "stress_parcels"].iter().filter_map(|id| engine.layer(id)).collect();
    let layers: Vec<&LayerData> = data.iter().map(Arc::as_ref).collect();
    // STRESS_DEBUG=1: how far load-time thinning went, per layer and zoom.
    if std::env::var("STRESS_DEBUG").is_ok() {
        for l in &layers {
            for (seg, _, _) in l.segments() {
                for z in ZOOMS {
                    if let Some(level) = seg.level(z) {
                        println!("{} z{z}: min size {} features {}", l.def.id, level.min_size, level.features.len());
                    }
                }
            }
        }
    }

    let mut c = Criterion::default().configure_from_args().warm_up_time(Duration::from_secs(1));
    for z in ZOOMS {
        let tiles = square_tiles(z);
        let mut group = c.benchmark_group(format!("stress_z{z}"));
        group.throughput(Throughput::Elements(tiles.len() as u64));
        group.sample_size(10);
        group.bench_function(format!("all_{}_tiles_roads_parcels", tiles.len()), |b| {
            b.iter(|| {
                for &t in &tiles {
                    black_box(render_tile(&layers, t, Audience::Public));
                }
            })
        });
        group.finish();
    }
    c.final_summary();

    println!("\n| zoom | tiles | tiles/s (1 core) | p50 ms | p99 ms | mean tile KB | max tile KB |");
    println!("|---|---|---|---|---|---|---|");
    for z in ZOOMS {
        let tiles = square_tiles(z);
        let t = support::time_tiles(&layers, &tiles, 400);
        println!(
            "| {z} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {:.1} |",
            tiles.len(),
            t.tiles_per_s,
            t.p50_ms,
            t.p99_ms,
            t.mean_kb,
            t.max_kb
        );
    }

    gzip_table(&layers);
}

/// Compressing the largest z14 tile: the time per response and the bytes it sends.
fn gzip_table(layers: &[&LayerData]) {
    use std::io::Write;
    let raw = square_tiles(14)
        .into_iter()
        .map(|t| render_tile(layers, t, Audience::Public).bytes)
        .max_by_key(Vec::len)
        .expect("tiles");
    let runs = 50;
    let time = |f: &dyn Fn() -> usize| {
        let t = Instant::now();
        let n = (0..runs).map(|_| black_box(f())).last().unwrap_or(0);
        (t.elapsed().as_secs_f64() * 1000.0 / f64::from(runs), n)
    };
    println!("\n| compressor, level ({} byte z14 tile) | ms | bytes |", raw.len());
    println!("|---|---|---|");
    for level in [1, 4, 6] {
        let (ms, n) = time(&|| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            e.write_all(&raw).unwrap();
            e.finish().unwrap().len()
        });
        println!("| miniz_oxide (flate2), {level} | {ms:.2} | {n} |");
        let (ms, n) = time(&|| {
            let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level as i32).unwrap());
            let mut out = vec![0; c.gzip_compress_bound(raw.len())];
            c.gzip_compress(&raw, &mut out).unwrap()
        });
        println!("| libdeflate, {level} | {ms:.2} | {n} |");
    }
}
