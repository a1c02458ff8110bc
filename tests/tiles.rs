//! Served vector tiles, decoded with decoders machizu's encoder does not share: the city-centre
//! tile's layers, geometry (within one extent unit of PROJ's answer), attributes, ids, winding
//! and key/value tables; staff-only attributes never present in public tiles.

mod support;

use std::collections::{HashMap, HashSet};

use axum::http::{StatusCode, header};
use machizu::catalog::{Audience, Catalog};
use machizu::crs::{Epsg, Transformer};
use machizu::feature::{AttrValue, Feature};
use support::vector_tile::{self, area2, paths, value_string};
use support::{CENTRE_Z14, TestServer, body_bytes};

const H: f64 = 20_037_508.342_789_244;

/// Store coordinates → tile coordinates, computed here from PROJ and the Web Mercator tile
/// definition, independently of the engine.
fn to_tile(t: &Transformer, (z, x, y): (u8, u32, u32), px: f64, py: f64) -> [f64; 2] {
    let (mx, my) = t.point(px, py).unwrap();
    let n = f64::from(1u32 << z) * 4096.0;
    [(mx + H) / (2.0 * H) * n - f64::from(x) * 4096.0, (H - my) / (2.0 * H) * n - f64::from(y) * 4096.0]
}

fn coords(f: &Feature) -> Vec<(f64, f64)> {
    use geo::CoordsIter;
    f.geometry.coords_iter().map(|c| (c.x, c.y)).collect()
}

fn attr_string(v: &AttrValue) -> Option<String> {
    match v {
        AttrValue::Null => None,
        AttrValue::Text(s) => Some(s.clone()),
        AttrValue::Int(i) => Some(i.to_string()),
        AttrValue::Real(r) => Some(format!("{r}")),
        AttrValue::Bool(b) => Some(b.to_string()),
    }
}

#[tokio::test]
async fn city_centre_tile_decodes_with_the_right_layers_geometry_and_attributes() {
    let s = TestServer::demo().await;
    let (z, x, y) = CENTRE_Z14;
    let r = s.get(&format!("/tiles/roads,water_mains,sewer_lines,parcels/{z}/{x}/{y}.mvt")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/vnd.mapbox-vector-tile");
    let bytes = body_bytes(r).await;

    // mvt-reader (a third-party decoder) sees the four layers, in request order, with features.
    let reader = mvt_reader::Reader::new(bytes.clone()).unwrap();
    assert_eq!(reader.get_layer_names().unwrap(), ["roads", "water_mains", "sewer_lines", "parcels"]);
    for (i, meta) in reader.get_layer_metadata().unwrap().iter().enumerate() {
        assert_eq!((meta.version, meta.extent), (2, 4096));
        let features = reader.get_features(i).unwrap();
        assert!(features.len() > 20, "{} has {} features", meta.name, features.len());
        assert!(features.iter().all(|f| f.id.is_some()));
    }

    let catalog = Catalog::builtin();
    let to_merc = Transformer::new(Epsg::JGD2011_ZONE_X, Epsg::WEB_MERCATOR).unwrap();
    let tile = vector_tile::decode(&bytes);
    for layer in &tile.layers {
        let def = catalog.get(&layer.name).unwrap();
        let stored: HashMap<u64, Feature> =
            s.app.store.load(def).await.unwrap().into_iter().map(|f| (f.id as u64, f)).collect();
        let mut checked = 0;
        for f in &layer.features {
            let src = &stored[&f.id.expect("every feature has an id")];

            // Attributes: exactly the public, non-null ones, with the stored values.
            let mut got = HashMap::new();
            for pair in f.tags.chunks(2) {
                got.insert(layer.keys[pair[0] as usize].clone(), value_string(&layer.values[pair[1] as usize]));
            }
            let want: HashMap<String, String> = def
                .visible_attributes(Audience::Public)
                .filter_map(|(i, a)| attr_string(&src.attributes[i]).map(|v| (a.name.clone(), v)))
                .collect();
            assert_eq!(got, want, "attributes of {} #{:?}", layer.name, f.id);

            // Geometry: unclipped features match PROJ within one extent unit, vertex by vertex.
            let decoded = paths(&f.geometry);
            let inside = decoded
                .iter()
                .flat_map(|p| &p.points)
                .all(|p| (0..=4096).contains(&p[0]) && (0..=4096).contains(&p[1]));
            if !inside {
                continue;
            }
            let expected: Vec<[f64; 2]> =
                coords(src).into_iter().map(|(px, py)| to_tile(&to_merc, CENTRE_Z14, px, py)).collect();
            let near = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).abs() <= 1.0 && (a[1] - b[1]).abs() <= 1.0;
            for p in decoded.iter().flat_map(|p| &p.points) {
                let p = [p[0] as f64, p[1] as f64];
                assert!(
                    expected.iter().any(|e| near(*e, p)),
                    "{} #{:?}: vertex {p:?} is not within one unit of {expected:?}",
                    layer.name,
                    f.id
                );
            }
            if layer.name == "parcels" {
                // Rectangles survive simplification: every stored corner is there too.
                for e in &expected {
                    assert!(decoded[0].points.iter().any(|p| near(*e, [p[0] as f64, p[1] as f64])));
                }
                assert!(decoded[0].closed);
            } else {
                let first = decoded[0].points[0];
                assert!(near(expected[0], [first[0] as f64, first[1] as f64]), "line starts where it is stored");
            }
            checked += 1;
        }
        assert!(checked > 10, "{}: only {checked} unclipped features checked", layer.name);
    }
}

#[tokio::test]
async fn winding_commands_and_shared_key_value_tables_follow_the_spec() {
    let s = TestServer::demo().await;
    let (z, x, y) = CENTRE_Z14;
    let bytes = body_bytes(s.get(&format!("/tiles/parcels,roads,hazardous_buildings/{z}/{x}/{y}.mvt")).await).await;
    let tile = vector_tile::decode(&bytes);
    assert!(!tile.layers.is_empty());
    for layer in &tile.layers {
        // Keys and values are each listed once and each used.
        let keys: HashSet<&String> = layer.keys.iter().collect();
        assert_eq!(keys.len(), layer.keys.len(), "{}: duplicate key", layer.name);
        let values: HashSet<String> = layer.values.iter().map(|v| format!("{v:?}")).collect();
        assert_eq!(values.len(), layer.values.len(), "{}: duplicate value", layer.name);
        let mut used_keys = HashSet::new();
        let mut used_values = HashSet::new();
        for f in &layer.features {
            assert_eq!(f.tags.len() % 2, 0);
            for pair in f.tags.chunks(2) {
                assert!((pair[0] as usize) < layer.keys.len() && (pair[1] as usize) < layer.values.len());
                used_keys.insert(pair[0]);
                used_values.insert(pair[1]);
            }
            let geom_type = f.r#type.unwrap();
            let decoded = paths(&f.geometry);
            assert!(!decoded.is_empty());
            match geom_type {
                3 => {
                    // Polygons: every ring closed; the first ring of each polygon is exterior
                    // (positive area in tile space, y down); the demo has no holes.
                    for ring in &decoded {
                        assert!(ring.closed && ring.points.len() >= 3);
                        assert!(area2(&ring.points) > 0, "{} #{:?}: ring wound the wrong way", layer.name, f.id);
                    }
                }
                2 => assert!(decoded.iter().all(|l| !l.closed && l.points.len() >= 2)),
                1 => assert!(decoded.iter().all(|p| p.points.len() == 1)),
                t => panic!("unknown geometry type {t}"),
            }
        }
        assert_eq!(used_keys.len(), layer.keys.len(), "{}: unused keys", layer.name);
        assert_eq!(used_values.len(), layer.values.len(), "{}: unused values", layer.name);
    }
    // mvt-reader, which tells exterior from interior rings by winding, sees only simple polygons.
    let reader = mvt_reader::Reader::new(bytes).unwrap();
    let names = reader.get_layer_names().unwrap();
    let parcels = names.iter().position(|n| n == "parcels").unwrap();
    for f in reader.get_features(parcels).unwrap() {
        match f.geometry {
            geo_types::Geometry::Polygon(p) => assert!(p.interiors().is_empty()),
            geo_types::Geometry::MultiPolygon(mp) => {
                assert!(mp.0.len() == 1 && mp.0[0].interiors().is_empty())
            }
            other => panic!("parcel decoded as {other:?}"),
        }
    }
}

#[tokio::test]
async fn staff_only_attributes_never_reach_a_public_tile() {
    let s = TestServer::demo().await;
    let catalog = Catalog::builtin();
    let staff_keys: Vec<String> = catalog
        .layers()
        .iter()
        .flat_map(|l| {
            l.attributes.iter().filter(|a| !a.visibility.visible_to(Audience::Public)).map(|a| a.name.clone())
        })
        .collect();
    assert!(staff_keys.contains(&"owner_name".to_owned()));
    let all = "boundary,parcels,water_mains,sewer_lines,roads,hazardous_buildings,snowplows";
    let (_, cx, cy) = CENTRE_Z14;
    let mut tiles = 0;
    // A 3×3 block of tiles around the centre at z12, z14 and z16.
    for z in [12u8, 14, 16] {
        let (x0, y0) = if z >= 14 { (cx << (z - 14), cy << (z - 14)) } else { (cx >> (14 - z), cy >> (14 - z)) };
        for (x, y) in (0..3).flat_map(|dx| (0..3).map(move |dy| (x0 + dx - 1, y0 + dy - 1))) {
            let r = s.get(&format!("/tiles/{all}/{z}/{x}/{y}.mvt")).await;
            if r.status() == StatusCode::NO_CONTENT {
                continue;
            }
            let bytes = body_bytes(r).await;
            for key in &staff_keys {
                assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "{key} in public tile {z}/{x}/{y}");
            }
            let tile = vector_tile::decode(&bytes);
            for l in &tile.layers {
                assert!(l.keys.iter().all(|k| !staff_keys.contains(k)));
            }
            tiles += 1;
        }
    }
    assert!(tiles >= 10);
    // The hazardous buildings in view carry their public status but not their owners.
    let hb = catalog.get("hazardous_buildings").unwrap();
    let f = &s.app.store.load(hb).await.unwrap()[0];
    let owner = match &f.attributes[hb.attribute_index("owner_name").unwrap()] {
        AttrValue::Text(t) => t.clone(),
        v => panic!("{v:?}"),
    };
    for z in [12u8, 14, 16] {
        let (lon, lat) =
            Transformer::new(Epsg::JGD2011_ZONE_X, Epsg::WGS84).unwrap().point(coords(f)[0].0, coords(f)[0].1).unwrap();
        let t = machizu::tile::TileCoord::containing(lon, lat, z);
        let bytes = body_bytes(s.get(&format!("/tiles/hazardous_buildings/{z}/{}/{}.mvt", t.x, t.y)).await).await;
        let tile = vector_tile::decode(&bytes);
        let layer = &tile.layers[0];
        assert!(layer.features.iter().any(|g| g.id == Some(f.id as u64)));
        assert!(layer.keys.contains(&"status".to_owned()));
        assert!(!bytes.windows(owner.len()).any(|w| w == owner.as_bytes()));
    }
}

/// Whether `p` lies inside the rings (even–odd), in tile coordinates.
fn inside(rings: &[vector_tile::Path], p: [i64; 2]) -> bool {
    let mut odd = false;
    for r in rings {
        let pts = &r.points;
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            if (a[1] > p[1]) != (b[1] > p[1]) {
                let x = a[0] as f64 + (p[1] - a[1]) as f64 * (b[0] - a[0]) as f64 / (b[1] - a[1]) as f64;
                if (p[0] as f64) < x {
                    odd = !odd;
                }
            }
        }
    }
    odd
}

#[tokio::test]
async fn parcels_are_labelled_once_each_inside_the_parcel_from_z16() {
    let s = TestServer::demo().await;
    let (_, cx, cy) = CENTRE_Z14;
    // A 4×4 block of z17 tiles in the town centre: parcels cut by the inner tile edges too.
    let (x0, y0) = (cx * 8 + 2, cy * 8 + 2);
    let mut labelled: HashMap<u64, (u32, u32)> = HashMap::new();
    let mut whole = 0;
    for (x, y) in (0..4).flat_map(|dx| (0..4).map(move |dy| (x0 + dx, y0 + dy))) {
        let bytes = body_bytes(s.get(&format!("/tiles/parcels/17/{x}/{y}.mvt")).await).await;
        let tile = vector_tile::decode(&bytes);
        let names: Vec<&str> = tile.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["parcels", "parcels_label"], "17/{x}/{y}");
        let (parcels, labels) = (&tile.layers[0], &tile.layers[1]);
        assert_eq!(labels.keys, ["chiban"], "the label layer carries the label and nothing else");
        let polygons: HashMap<u64, &vector_tile::Feature> =
            parcels.features.iter().map(|f| (f.id.unwrap(), f)).collect();
        for l in &labels.features {
            let id = l.id.unwrap();
            assert_eq!(l.r#type, Some(1), "a point");
            let at = paths(&l.geometry);
            assert_eq!(at.len(), 1);
            let p = at[0].points[0];
            assert!(
                (0..4096).contains(&p[0]) && (0..4096).contains(&p[1]),
                "in the tile itself, not its buffer: {p:?}"
            );
            assert!(labelled.insert(id, (x, y)).is_none(), "parcel {id} labelled twice");
            let polygon = polygons[&id];
            assert!(inside(&paths(&polygon.geometry), p), "label of {id} at {p:?} outside its parcel");
            assert_eq!(labels.props(l)["chiban"], parcels.props(polygon)["chiban"]);
        }
        // A parcel wholly in this tile is labelled in it.
        for f in &parcels.features {
            let rings = paths(&f.geometry);
            if rings.iter().flat_map(|r| &r.points).all(|p| (0..4096).contains(&p[0]) && (0..4096).contains(&p[1])) {
                whole += 1;
                assert_eq!(labelled.get(&f.id.unwrap()), Some(&(x, y)), "parcel {:?} unlabelled", f.id);
            }
        }
    }
    assert!(whole > 50 && labelled.len() > whole, "{whole} whole parcels, {} labels", labelled.len());

    // Tiles carry them from z16, for prints at 1:2,500 (the screen labels from z17); not below.
    for (z, layers) in [(16u8, &["parcels", "parcels_label"][..]), (15, &["parcels"][..])] {
        let (x, y) = (cx << (z - 14), cy << (z - 14));
        let bytes = body_bytes(s.get(&format!("/tiles/parcels/{z}/{}/{}.mvt", x + 1, y + 1)).await).await;
        let names: Vec<String> = vector_tile::decode(&bytes).layers.into_iter().map(|l| l.name).collect();
        assert_eq!(names, layers, "z{z}");
    }
    let tilejson = s.get_json("/tiles/roads,parcels.json", None).await;
    let label = tilejson["vector_layers"].as_array().unwrap().iter().find(|l| l["id"] == "parcels_label").unwrap();
    assert_eq!((label["minzoom"].as_u64(), label["fields"].as_object().unwrap().len()), (Some(16), 1));
    let layers = s.get_json("/layers", None).await;
    let parcels = layers["layers"].as_array().unwrap().iter().find(|l| l["id"] == "parcels").unwrap();
    assert_eq!(
        parcels["label"],
        serde_json::json!({"text": "chiban", "minzoom": 17, "print_minzoom": 16, "source_layer": "parcels_label"})
    );
}
