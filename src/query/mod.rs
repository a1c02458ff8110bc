//! Spatial questions, answered from the engine's in-memory box indexes ([`LayerData::in_box`],
//! [`LayerData::visit_by_box_distance`]) with exact geometry tests after the box filter.
//!
//! Everything here works in the store's CRS: for a Japanese city the plane rectangular zone,
//! whose units are metres on the ground (the zone's scale factor differs from 1 by at most
//! 0.01 % inside it), so a radius of 30 m is 30 m in the street, not 30 "mercator metres"
//! (1.3 × too short at Yamagata's latitude) nor a fraction of a degree.

use std::ops::ControlFlow;

use geo::{Distance, Euclidean, Intersects};
use geo_types::{Geometry, Point, Rect};

use crate::catalog::GeometryKind;
use crate::engine::LayerData;
use crate::feature::Feature;

/// How far from a point `GET /query/point` looks for lines (the nearest road or pipe).
pub const LINE_RADIUS_M: f64 = 30.0;
/// How far from a point `GET /query/point` looks for point features (hazardous buildings…).
pub const POINT_RADIUS_M: f64 = 50.0;

/// A feature found, with its distance from the question's geometry (0 when they meet).
#[derive(Debug, Clone)]
pub struct Hit {
    pub feature: Feature,
    pub distance_m: f64,
}

fn distance(a: &Geometry<f64>, b: &Geometry<f64>) -> f64 {
    Euclidean.distance(a, b)
}

/// Sorts hits nearest first, then by id.
fn sort(hits: &mut [Hit]) {
    hits.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.feature.id.cmp(&b.feature.id)));
}

/// `g`'s bounding box widened by `by` on every side.
fn widened(g: &Geometry<f64>, by: f64) -> Option<Rect<f64>> {
    use geo::BoundingRect;
    let r = g.bounding_rect()?;
    Some(Rect::new((r.min().x - by, r.min().y - by), (r.max().x + by, r.max().y + by)))
}

/// Every feature within `radius` metres of `g`, nearest first.
pub fn within(layer: &LayerData, g: &Geometry<f64>, radius: f64) -> Vec<Hit> {
    let Some(area) = widened(g, radius) else { return Vec::new() };
    let mut hits: Vec<Hit> = layer
        .in_box(area)
        .map(|slot| {
            let feature = layer.feature(slot);
            Hit { distance_m: distance(&feature.geometry, g), feature }
        })
        .filter(|h| h.distance_m <= radius)
        .collect();
    sort(&mut hits);
    hits
}

/// Every feature that meets `g` (shares at least one point with it), by id.
pub fn intersecting(layer: &LayerData, g: &Geometry<f64>) -> Vec<Hit> {
    let Some(area) = widened(g, 0.0) else { return Vec::new() };
    let mut hits: Vec<Hit> = layer
        .in_box(area)
        .map(|slot| layer.feature(slot))
        .filter(|f| f.geometry.intersects(g))
        .map(|feature| Hit { feature, distance_m: 0.0 })
        .collect();
    sort(&mut hits);
    hits
}

/// The `k` features nearest to `p`, no farther than `max` metres, nearest first.
///
/// Walks the box indexes in order of bounding-box distance (a lower bound of the true distance)
/// and stops once that bound passes the `k`th best true distance found.
pub fn nearest(layer: &LayerData, p: Point<f64>, k: usize, max: f64) -> Vec<Hit> {
    let target = Geometry::Point(p);
    let mut best: Vec<Hit> = Vec::with_capacity(k + 1);
    layer.visit_by_box_distance([p.x(), p.y()], |slot, lower_bound| {
        let kth = if best.len() == k { best[k - 1].distance_m } else { max };
        if k == 0 || lower_bound > kth {
            return ControlFlow::Break(());
        }
        let feature = layer.feature(slot);
        let d = distance(&feature.geometry, &target);
        if d <= kth {
            best.push(Hit { feature, distance_m: d });
            sort(&mut best);
            best.truncate(k);
        }
        ControlFlow::Continue(())
    });
    best
}

/// What a city map shows about a point, for one layer: the polygons that hold it, the nearest
/// line within [`LINE_RADIUS_M`] (or `radius`), the points within [`POINT_RADIUS_M`] (or
/// `radius`).
pub fn at_point(layer: &LayerData, p: Point<f64>, radius: Option<f64>) -> Vec<Hit> {
    match layer.def.geometry {
        GeometryKind::Polygon | GeometryKind::MultiPolygon => intersecting(layer, &Geometry::Point(p)),
        GeometryKind::LineString | GeometryKind::MultiLineString => {
            nearest(layer, p, 1, radius.unwrap_or(LINE_RADIUS_M))
        }
        GeometryKind::Point | GeometryKind::MultiPoint => {
            within(layer, &Geometry::Point(p), radius.unwrap_or(POINT_RADIUS_M))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::crs::Epsg;
    use crate::feature::AttrValue;
    use geo_types::{LineString, Polygon, line_string, polygon};

    fn line(id: i64, coords: LineString<f64>) -> Feature {
        Feature { id, geometry: Geometry::LineString(coords), attributes: vec![AttrValue::Null; 6 + 1] }
    }

    fn roads(features: Vec<Feature>) -> LayerData {
        let def = Catalog::builtin().get("roads").unwrap().clone();
        LayerData::build(def, features, Epsg::JGD2011_ZONE_X).unwrap()
    }

    /// Lines east–west at y = 0, 10, 20 … 990 m.
    fn ladder() -> LayerData {
        roads(
            (0..100)
                .map(|i| line(i + 1, line_string![(x: 0.0, y: i as f64 * 10.0), (x: 500.0, y: i as f64 * 10.0)]))
                .collect(),
        )
    }

    #[test]
    fn nearest_is_exact_and_bounded() {
        let l = ladder();
        let hits = nearest(&l, Point::new(250.0, 33.0), 3, f64::INFINITY);
        let ids: Vec<i64> = hits.iter().map(|h| h.feature.id).collect();
        assert_eq!(ids, [4, 5, 3]);
        assert!((hits[0].distance_m - 3.0).abs() < 1e-9);
        assert!((hits[1].distance_m - 7.0).abs() < 1e-9);
        // Beyond the end of the lines: the distance is to their end points.
        let far = nearest(&l, Point::new(530.0, 500.0), 1, 100.0);
        assert_eq!(far[0].feature.id, 51);
        assert!((far[0].distance_m - 30.0).abs() < 1e-9);
        assert!(nearest(&l, Point::new(560.0, 500.0), 1, 59.0).is_empty());
    }

    #[test]
    fn nearest_sees_changes() {
        let l = ladder();
        let moved = line(5, line_string![(x: 0.0, y: 2000.0), (x: 500.0, y: 2000.0)]);
        let added = line(1000, line_string![(x: 0.0, y: 34.0), (x: 500.0, y: 34.0)]);
        let next = l.apply(vec![moved, added], &[4], Epsg::JGD2011_ZONE_X).unwrap().data;
        let ids: Vec<i64> =
            nearest(&next, Point::new(250.0, 33.0), 3, f64::INFINITY).iter().map(|h| h.feature.id).collect();
        assert_eq!(ids, [1000, 3, 6]);
        let hits = nearest(&next, Point::new(250.0, 1990.0), 1, 20.0);
        assert_eq!(hits[0].feature.id, 5);
    }

    #[test]
    fn within_measures_to_the_geometry_not_its_box() {
        let diagonal = line(1, line_string![(x: 0.0, y: 0.0), (x: 100.0, y: 100.0)]);
        let l = roads(vec![diagonal]);
        // (80, 20) is inside the line's box but 42.4 m from the line.
        assert!(within(&l, &Geometry::Point(Point::new(80.0, 20.0)), 40.0).is_empty());
        assert_eq!(within(&l, &Geometry::Point(Point::new(80.0, 20.0)), 43.0).len(), 1);
    }

    #[test]
    fn polygons_hold_the_point() {
        let def = Catalog::builtin().get("parcels").unwrap().clone();
        let n = def.attributes.len();
        let square = |id: i64, x: f64| Feature {
            id,
            geometry: Geometry::Polygon(
                polygon![(x: x, y: 0.0), (x: x + 10.0, y: 0.0), (x: x + 10.0, y: 10.0), (x: x, y: 10.0)],
            ),
            attributes: vec![AttrValue::Null; n],
        };
        let with_hole: Polygon<f64> = Polygon::new(
            line_string![(x: 100.0, y: 0.0), (x: 130.0, y: 0.0), (x: 130.0, y: 30.0), (x: 100.0, y: 30.0), (x: 100.0, y: 0.0)],
            vec![
                line_string![(x: 110.0, y: 10.0), (x: 120.0, y: 10.0), (x: 120.0, y: 20.0), (x: 110.0, y: 20.0), (x: 110.0, y: 10.0)],
            ],
        );
        let holed = Feature { id: 9, geometry: Geometry::Polygon(with_hole), attributes: vec![AttrValue::Null; n] };
        let l = LayerData::build(def, vec![square(1, 0.0), square(2, 20.0), holed], Epsg::JGD2011_ZONE_X).unwrap();
        let ids = |x, y| at_point(&l, Point::new(x, y), None).iter().map(|h| h.feature.id).collect::<Vec<_>>();
        assert_eq!(ids(5.0, 5.0), [1]);
        assert_eq!(ids(15.0, 5.0), Vec::<i64>::new());
        assert_eq!(ids(105.0, 5.0), [9]);
        assert_eq!(ids(115.0, 15.0), Vec::<i64>::new(), "in the hole");
    }
}
