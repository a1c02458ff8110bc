//! Changes applied to a loaded layer: the tiles afterwards hold exactly what a fresh build of
//! the changed data holds, and the tile cache drops only what the change touched.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use geo_types::{Geometry, LineString, coord};
use machizu::catalog::{Audience, Catalog};
use machizu::config::{Config, FileConfig, Overrides};
use machizu::crs::Epsg;
use machizu::engine::{Engine, TileKey};
use machizu::feature::{AttrValue, Feature};
use machizu::tile::TileCoord;
use machizu::tile::coord::lonlat_to_mercator;
use support::vector_tile::{decode, value_string};

fn catalog() -> Catalog {
    let toml = r#"
        [layers.pipes]
        title_ja = "管路"
        title_en = "Pipes"
        geometry = "linestring"
        minzoom = 10
        maxzoom = 16
        [layers.pipes.attributes.kind]
        type = "text"
        visibility = "public"
        [layers.pipes.attributes.n]
        type = "integer"
        visibility = "public"
    "#;
    let file: FileConfig = toml::from_str(toml).unwrap();
    Config::resolve(file, Overrides::default()).unwrap().catalog
}

const KINDS: [&str; 3] = ["配水管", "送水管", "導水管"];

/// A pipe of about 150 m starting at `(x, y)` (Web Mercator).
fn pipe(id: i64, x: f64, y: f64, kind: &str) -> Feature {
    let pts = (0..4).map(|k| coord! { x: x + f64::from(k) * 50.0, y: y + f64::from(k % 2) * 20.0 }).collect();
    Feature {
        id,
        geometry: Geometry::LineString(LineString(pts)),
        attributes: vec![AttrValue::text(kind), AttrValue::Int(id)],
    }
}

/// 3,000 pipes over a 4 km square around Obanazawa, deterministic.
fn city() -> Vec<Feature> {
    let (cx, cy) = lonlat_to_mercator(140.40, 38.60);
    (1..=3000)
        .map(|i| {
            let (a, b) = ((i * 7919) % 3000, (i * 104_729) % 2999);
            pipe(i, cx - 2000.0 + a as f64 * 1.33, cy - 2000.0 + b as f64 * 1.33, KINDS[i as usize % 3])
        })
        .collect()
}

fn engine(features: Vec<Feature>) -> Engine {
    let engine = Engine::new(Arc::new(catalog()), Epsg::WEB_MERCATOR, 64 << 20).unwrap();
    engine.load_layer("pipes", features).unwrap();
    engine
}

/// Every tile of the area at zooms 12, 14 and 16.
fn tiles() -> Vec<TileCoord> {
    let mut out = Vec::new();
    for z in [12, 14, 16] {
        let nw = TileCoord::containing(140.37, 38.63, z);
        let se = TileCoord::containing(140.43, 38.57, z);
        for x in nw.x..=se.x {
            for y in nw.y..=se.y {
                out.push(TileCoord { z, x, y });
            }
        }
    }
    out
}

/// A decoded feature: id, geometry commands, (key, value) pairs.
type TileFeature = (u64, Vec<u32>, Vec<(String, String)>);

/// A tile's features as comparable values: id, geometry commands and attributes by name.
/// Also checks that the layer's keys and values are each written once.
fn content(bytes: &[u8]) -> BTreeSet<TileFeature> {
    if bytes.is_empty() {
        return BTreeSet::new();
    }
    let tile = decode(bytes);
    let layer = &tile.layers[0];
    let values: BTreeSet<String> = layer.values.iter().map(value_string).collect();
    assert_eq!(values.len(), layer.values.len(), "duplicate values in a layer");
    layer
        .features
        .iter()
        .map(|f| {
            let tags = f
                .tags
                .chunks(2)
                .map(|kv| (layer.keys[kv[0] as usize].clone(), value_string(&layer.values[kv[1] as usize])))
                .collect();
            (f.id.unwrap(), f.geometry.clone(), tags)
        })
        .collect()
}

fn render(engine: &Engine, t: TileCoord) -> Vec<u8> {
    engine.render(&["pipes".to_owned()], t, Audience::Public)
}

#[test]
fn changes_render_like_a_fresh_build_and_drop_only_touched_tiles() {
    let mut expected = city();
    let live = engine(expected.clone());
    let layers = vec!["pipes".to_owned()];
    let all = tiles();
    for &t in &all {
        live.tile(&layers, t, Audience::Public);
    }

    // Move one pipe far across the area, rename the kinds of two (one to a value no other
    // feature has, one to a shared value), delete one, add one.
    let (cx, cy) = lonlat_to_mercator(140.40, 38.60);
    let moved = pipe(5, cx + 1500.0, cy + 1500.0, KINDS[2]);
    let renamed_new = pipe(6, 0.0, 0.0, "雪解け用送水管");
    let renamed_new = Feature { geometry: expected[5].geometry.clone(), ..renamed_new };
    let renamed_shared =
        Feature { attributes: vec![AttrValue::text(KINDS[0]), AttrValue::Int(7)], ..expected[6].clone() };
    // The added pipe lies beside pipe 10 and takes its number: a value the base used once.
    let beside = geo::BoundingRect::bounding_rect(&expected[9].geometry).unwrap();
    let added = Feature {
        attributes: vec![AttrValue::text("新設管"), AttrValue::Int(10)],
        ..pipe(9001, beside.min().x + 30.0, beside.max().y + 30.0, "")
    };
    let deleted = expected[7].clone();
    let touched: Vec<_> = [&expected[4], &moved, &expected[5], &expected[6], &added, &deleted]
        .iter()
        .map(|f| geo::BoundingRect::bounding_rect(&f.geometry).unwrap())
        .collect();
    let n = live
        .apply_changes("pipes", vec![moved.clone(), renamed_new.clone(), renamed_shared.clone(), added.clone()], &[8])
        .unwrap();
    assert_eq!(n, 8, "old and new bounds of three updates, one insert, one delete");
    expected[4] = moved;
    expected[5] = renamed_new;
    expected[6] = renamed_shared;
    expected.retain(|f| f.id != 8);
    expected.push(added);
    let fresh = engine(expected.clone());
    assert_eq!(live.layer("pipes").unwrap().len(), expected.len());
    assert_eq!(live.layer("pipes").unwrap().delta_len(), 4);

    let mut kept = 0;
    let mut changed_tiles = 0;
    for &t in &all {
        let want = content(&render(&fresh, t));
        let still_cached = live.cache().get(&TileKey { layers: "pipes".into(), tile: t, audience: Audience::Public });
        if let Some(cached) = &still_cached {
            // Whatever stayed cached is still right…
            assert_eq!(content(&cached.raw), want, "stale cached tile {t}");
            kept += 1;
        }
        let got = live.tile(&layers, t, Audience::Public);
        assert_eq!(content(&got.raw), want, "tile {t} after the change");
        // …and a tile the change could not reach stayed cached.
        let [w, s, e, n] = t.mercator_bounds();
        let pad = (e - w) / 4096.0 * 66.0;
        let reachable = touched
            .iter()
            .any(|r| r.min().x <= e + pad && r.max().x >= w - pad && r.min().y <= n + pad && r.max().y >= s - pad);
        if reachable {
            changed_tiles += 1;
        } else {
            assert!(still_cached.is_some(), "tile {t} away from the change was dropped");
        }
    }
    assert!(changed_tiles > 0 && kept > all.len() / 2, "kept {kept} of {}, {changed_tiles} touched", all.len());
}

#[test]
fn a_large_delta_is_merged_into_the_base_and_tiles_match_byte_for_byte() {
    let mut expected = city();
    let live = engine(expected.clone());
    // 600 updates: more than the delta may hold for a 3,000-feature layer.
    let updates: Vec<Feature> = expected[..600]
        .iter()
        .map(|f| Feature { attributes: vec![AttrValue::text("更新済"), AttrValue::Int(f.id)], ..f.clone() })
        .collect();
    live.apply_changes("pipes", updates[..100].to_vec(), &[]).unwrap();
    assert_eq!(live.layer("pipes").unwrap().delta_len(), 100);
    live.apply_changes("pipes", updates[100..].to_vec(), &[]).unwrap();
    assert_eq!(live.layer("pipes").unwrap().delta_len(), 0, "the delta was merged");
    expected[..600].clone_from_slice(&updates);
    let fresh = engine(expected);
    for t in tiles() {
        assert!(render(&live, t) == render(&fresh, t), "tile {t} differs from a fresh build");
    }
}
