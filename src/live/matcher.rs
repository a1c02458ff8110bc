//! Map matching: which road a moving plow is clearing. A fix matches the nearest road segment
//! within the radius (about 20 m: GPS error plus half a carriageway) whose direction agrees
//! with the vehicle's heading; a road can be driven either way, so a heading agrees with a
//! segment when it is within [`MAX_ANGLE_DEG`] of it or of its reverse. At a crossing the
//! heading tells the road driven from the road crossed.
//!
//! Works in the store CRS (a plane rectangular zone, metres). Headings are taken against grid
//! north, which differs from true north by the meridian convergence (under 1° within a zone's
//! core), well inside the angle allowed.

use geo::{Coord, Distance, Euclidean, Line, Point, Rect};
use geo_types::Geometry;

use crate::engine::LayerData;
use crate::feature::FeatureId;

/// How far a heading may be from a segment's direction (or its reverse) to agree.
pub const MAX_ANGLE_DEG: f64 = 35.0;

/// The road a vehicle at `at` (store CRS) heading `heading_deg` drives on, if any within
/// `radius` metres agrees with the heading.
pub fn match_road(roads: &LayerData, at: Coord<f64>, heading_deg: f64, radius: f64) -> Option<FeatureId> {
    let area = Rect::new(Coord { x: at.x - radius, y: at.y - radius }, Coord { x: at.x + radius, y: at.y + radius });
    let p = Point::from(at);
    let mut best: Option<(f64, FeatureId)> = None;
    for f in roads.in_box(area) {
        for line in lines(&f.geometry) {
            let d = Euclidean.distance(&line, &p);
            if d > radius || best.is_some_and(|(b, _)| b <= d) {
                continue;
            }
            let (dx, dy) = (line.end.x - line.start.x, line.end.y - line.start.y);
            if dx == 0.0 && dy == 0.0 {
                continue;
            }
            let direction = dx.atan2(dy).to_degrees();
            if axis_angle(direction, heading_deg) <= MAX_ANGLE_DEG {
                best = Some((d, f.id));
            }
        }
    }
    best.map(|(_, id)| id)
}

/// The angle (0–90°) between two directions taken as undirected axes.
fn axis_angle(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(180.0);
    d.min(180.0 - d)
}

fn lines(g: &Geometry<f64>) -> Box<dyn Iterator<Item = Line<f64>> + '_> {
    match g {
        Geometry::LineString(l) => Box::new(l.lines()),
        Geometry::MultiLineString(m) => Box::new(m.0.iter().flat_map(|l| l.lines())),
        _ => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, LayerDef};
    use crate::crs::Epsg;
    use crate::feature::Feature;
    use geo_types::{LineString, coord};

    fn roads() -> LayerData {
        let def: LayerDef = Catalog::builtin().get("roads").unwrap().clone();
        let n = def.attributes.len();
        let road = |id, a: (f64, f64), b: (f64, f64)| Feature {
            id,
            geometry: Geometry::LineString(LineString(vec![coord! {x: a.0, y: a.1}, coord! {x: b.0, y: b.1}])),
            attributes: vec![crate::feature::AttrValue::Null; n],
        };
        // An east–west road and a north–south road crossing at (0, 0); a parallel road 30 m north.
        let features = vec![
            road(1, (-500.0, 0.0), (500.0, 0.0)),
            road(2, (0.0, -500.0), (0.0, 500.0)),
            road(3, (-500.0, 30.0), (500.0, 30.0)),
        ];
        LayerData::build(def, features, Epsg::JGD2011_ZONE_X).unwrap()
    }

    #[test]
    fn heading_picks_the_road_driven() {
        let r = roads();
        // Driving east, either way along road 1, 8 m off its centre line.
        assert_eq!(match_road(&r, coord! {x: 100.0, y: 8.0}, 90.0, 20.0), Some(1));
        assert_eq!(match_road(&r, coord! {x: 100.0, y: -8.0}, 272.0, 20.0), Some(1));
        // Through the crossing: heading east is road 1, heading north road 2.
        assert_eq!(match_road(&r, coord! {x: 3.0, y: 2.0}, 85.0, 20.0), Some(1));
        assert_eq!(match_road(&r, coord! {x: 3.0, y: 2.0}, 178.0, 20.0), Some(2));
        // Diagonal to both: neither.
        assert_eq!(match_road(&r, coord! {x: 3.0, y: 2.0}, 45.0, 20.0), None);
        // Nearer to road 3 than to road 1: road 3.
        assert_eq!(match_road(&r, coord! {x: 200.0, y: 19.0}, 90.0, 20.0), Some(3));
        // Too far from every road.
        assert_eq!(match_road(&r, coord! {x: 200.0, y: 60.0}, 90.0, 20.0), None);
    }
}
