//! The synthetic demo city: deterministic, inside the real city's extent, of the real city's
//! order of size, with every layer filled and personal data marked fictitious.

use geo::{BoundingRect, Contains, Intersects};
use machizu::catalog::Catalog;
use machizu::crs::{Epsg, Transformer};
use machizu::demo::{self, DemoCity};
use machizu::feature::AttrValue;

fn city() -> DemoCity {
    demo::generate(&Catalog::builtin(), Epsg::JGD2011_ZONE_X, demo::DEFAULT_SEED).unwrap()
}

#[test]
fn size_extent_and_determinism() {
    let a = city();
    let count = |id: &str| a.layer(id).unwrap().len();
    let (roads, parcels) = (count("roads"), count("parcels"));
    println!(
        "roads {roads}, parcels {parcels}, water {}, sewer {}, hazardous {}",
        count("water_mains"),
        count("sewer_lines"),
        count("hazardous_buildings")
    );
    assert!((4_000..=7_000).contains(&roads), "about 5,000 road segments, got {roads}");
    assert!((80_000..=130_000).contains(&parcels), "about 100,000 parcels, got {parcels}");
    assert!(count("water_mains") > 1_000 && count("sewer_lines") > 300);
    assert!((24..=60).contains(&count("hazardous_buildings")));
    assert_eq!(count("boundary"), 1);

    // Inside the real city's extent (140.31–140.62 E, 38.44–38.72 N).
    let to_ll = Transformer::new(Epsg::JGD2011_ZONE_X, Epsg::WGS84).unwrap();
    for (id, features) in &a.layers {
        for f in features {
            let r = f.geometry.bounding_rect().unwrap();
            for (x, y) in [(r.min().x, r.min().y), (r.max().x, r.max().y)] {
                let (lon, lat) = to_ll.point(x, y).unwrap();
                assert!((140.31..=140.62).contains(&lon) && (38.44..=38.72).contains(&lat), "{id} at {lon},{lat}");
            }
        }
    }

    // Same seed, same city.
    let b = city();
    assert_eq!(a.layers, b.layers.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>());
    let c = demo::generate(&Catalog::builtin(), Epsg::JGD2011_ZONE_X, 7).unwrap();
    assert_ne!(a.layer("roads"), c.layer("roads"));
}

#[test]
fn town_centre_is_dense_and_parcels_do_not_overlap_roads() {
    let a = city();
    let to_zone = Transformer::new(Epsg::WGS84, Epsg::JGD2011_ZONE_X).unwrap();
    let (cx, cy) = to_zone.point(140.406, 38.600).unwrap();
    let near = |g: &geo_types::Geometry<f64>, d: f64| {
        let r = g.bounding_rect().unwrap();
        (r.center().x - cx).abs() < d && (r.center().y - cy).abs() < d
    };
    let parcels = a.layer("parcels").unwrap();
    let roads = a.layer("roads").unwrap();
    let central_parcels: Vec<_> = parcels.iter().filter(|f| near(&f.geometry, 500.0)).collect();
    let central_roads: Vec<_> = roads.iter().filter(|f| near(&f.geometry, 500.0)).collect();
    assert!(central_parcels.len() > 300, "dense town centre: {} parcels within 500 m", central_parcels.len());
    assert!(central_roads.len() > 60);
    for p in &central_parcels {
        for r in &central_roads {
            assert!(!p.geometry.intersects(&r.geometry), "a parcel overlaps a road centreline");
        }
    }
    // Every town-centre parcel lies inside the city outline.
    let outline = &a.layer("boundary").unwrap()[0].geometry;
    assert!(central_parcels.iter().all(|p| outline.contains(&p.geometry)));
}

#[test]
fn personal_data_is_marked_fictitious() {
    let a = city();
    let catalog = Catalog::builtin();
    for (layer, attr) in
        [("parcels", "owner_name"), ("hazardous_buildings", "owner_name"), ("hazardous_buildings", "owner_contact")]
    {
        let i = catalog.get(layer).unwrap().attribute_index(attr).unwrap();
        for f in a.layer(layer).unwrap() {
            match &f.attributes[i] {
                AttrValue::Text(s) => assert!(s.contains("架空"), "{layer}.{attr} = {s}"),
                other => panic!("{layer}.{attr} = {other:?}"),
            }
        }
    }
}
