//! A tile stays under 500 KB even for data far denser than generalisation expects: the
//! renderer thins by size (and points by id) until the tile fits, keeping the largest features.

use std::sync::Arc;

use geo_types::{Geometry, LineString, Point, coord};
use machizu::catalog::{Audience, Catalog, LayerDef};
use machizu::config::{Config, FileConfig, Overrides};
use machizu::crs::Epsg;
use machizu::engine::Engine;
use machizu::engine::render::MAX_TILE_BYTES;
use machizu::feature::{AttrValue, Feature};
use machizu::tile::TileCoord;
use machizu::tile::coord::lonlat_to_mercator;

fn dense_catalog() -> Catalog {
    let toml = r#"
        [layers.dense_lines]
        title_ja = "密な線"
        title_en = "Dense lines"
        geometry = "linestring"
        minzoom = 12
        maxzoom = 12
        [layers.dense_lines.attributes.kind]
        type = "text"
        visibility = "public"
        [layers.dense_points]
        title_ja = "密な点"
        title_en = "Dense points"
        geometry = "point"
        minzoom = 12
        maxzoom = 12
    "#;
    let file: FileConfig = toml::from_str(toml).unwrap();
    Config::resolve(file, Overrides::default()).unwrap().catalog
}

/// A deterministic pseudo-random stream in [0, 1).
fn lcg(state: &mut u64) -> f64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn a_tile_of_overly_dense_data_is_thinned_to_the_budget() {
    let catalog = dense_catalog();
    let lines_def: &LayerDef = catalog.get("dense_lines").unwrap();
    let (cx, cy) = lonlat_to_mercator(140.406, 38.6);
    let mut rng = 7u64;
    let mut lines = Vec::new();
    let mut starts = Vec::new();
    // 120,000 short lines (about 16 units each at z12: kept by generalisation) in a 6 km square…
    for i in 0..120_000 {
        let (x, y) = (cx + (lcg(&mut rng) - 0.5) * 6_000.0, cy + (lcg(&mut rng) - 0.5) * 6_000.0);
        starts.push((x, y));
        let pts: Vec<_> = (0..4).map(|k| coord! { x: x + f64::from(k) * 40.0, y: y + lcg(&mut rng) * 30.0 }).collect();
        lines.push(Feature {
            id: i + 1,
            geometry: Geometry::LineString(LineString(pts)),
            attributes: vec![AttrValue::text("細街路"), AttrValue::Null],
        });
    }
    // …and ten long roads crossing it, which must survive the thinning.
    for i in 0..10 {
        let y = cy - 2_500.0 + f64::from(i) * 500.0;
        let pts = vec![coord! { x: cx - 2_900.0, y: y }, coord! { x: cx + 2_900.0, y: y + 10.0 }];
        lines.push(Feature {
            id: 1_000_000 + i64::from(i),
            geometry: Geometry::LineString(LineString(pts)),
            attributes: vec![AttrValue::text("幹線"), AttrValue::Null],
        });
    }
    let points: Vec<Feature> = (0..100_000)
        .map(|i| Feature {
            id: i + 1,
            geometry: Geometry::Point(Point::new(
                cx + (lcg(&mut rng) - 0.5) * 6_000.0,
                cy + (lcg(&mut rng) - 0.5) * 6_000.0,
            )),
            attributes: vec![AttrValue::Null],
        })
        .collect();
    // `kind`, and `source`, which every importable layer has.
    assert_eq!(lines_def.attributes.len(), 2);

    let engine = Engine::new(Arc::new(catalog), Epsg::WEB_MERCATOR, 0).unwrap();
    engine.load_layer("dense_lines", lines).unwrap();
    engine.load_layer("dense_points", points).unwrap();
    let t = TileCoord::containing(140.406, 38.6, 12);
    let layers = vec!["dense_lines".to_owned(), "dense_points".to_owned()];
    let bytes = engine.render(&layers, t, Audience::Public);
    assert!(bytes.len() <= MAX_TILE_BYTES && bytes.len() < 500 * 1024, "{} bytes", bytes.len());
    assert!(bytes.len() > MAX_TILE_BYTES / 4, "thinned no more than needed: {} bytes", bytes.len());

    let reader = mvt_reader::Reader::new(bytes).unwrap();
    let names = reader.get_layer_names().unwrap();
    let lines_at = names.iter().position(|n| n == "dense_lines").unwrap();
    let ids: Vec<u64> = reader.get_features(lines_at).unwrap().iter().map(|f| f.id.unwrap()).collect();
    let long = ids.iter().filter(|&&id| id >= 1_000_000).count();
    assert_eq!(long, 10, "the ten long roads survive");
    let [w, south, e, n] = t.mercator_bounds();
    let short_in_tile = (0..120_000usize).filter(|&i| {
        let (x, y) = starts[i];
        x >= w && x + 120.0 <= e && y >= south && y + 30.0 <= n
    });
    let in_tile = short_in_tile.count();
    assert!(in_tile > 50_000, "the test data is dense in this tile: {in_tile}");
    assert!(ids.len() < in_tile / 2, "short lines were thinned: {} of {in_tile} kept", ids.len());
    let points_at = names.iter().position(|n| n == "dense_points");
    let kept_points = points_at.map_or(0, |i| reader.get_features(i).unwrap().len());
    assert!(kept_points < 100_000, "points were thinned: {kept_points}");
}
