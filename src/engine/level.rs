//! One zoom level of one layer: geometry generalised and quantised for that zoom, and an
//! R-tree over it.
//!
//! Built once at load, the way offline tile generators work: every feature is scaled into
//! world extent space at zoom `z` ([`crate::tile::coord`]), simplified there (Douglas–Peucker
//! with a tolerance in extent units), rounded to integers with repeated points removed, and
//! dropped when it is smaller than a pixel. A tile request then only subtracts the tile origin,
//! clips what crosses the tile edge and encodes.

use geo::{BoundingRect, Simplify};
use geo_types::{Coord, Geometry, LineString};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::tile::coord::MERCATOR_HALF;
use crate::tile::coord::world_scale;

/// Douglas–Peucker tolerance, in extent units (4096 per tile; MapLibre draws a tile 512 px wide,
/// so 2 units are a quarter of a pixel).
pub const SIMPLIFY_TOLERANCE: f64 = 2.0;

/// Lines and polygons whose bounding box is smaller than this on both axes (in extent units;
/// 8 units are one pixel) are dropped at that zoom.
pub const MIN_FEATURE_SIZE: f64 = 8.0;

/// The role of one run of coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Exterior,
    Interior,
    Line,
    Points,
}

/// A run of coordinates in a level's coordinate arena.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub start: u32,
    pub len: u32,
    pub kind: PartKind,
}

/// A feature as kept at one zoom level.
#[derive(Debug, Clone, Copy)]
pub struct LevelFeature {
    /// Index of the feature in its layer.
    pub feature: u32,
    pub parts_start: u32,
    pub parts_len: u32,
    /// Bounding box in world extent space.
    pub min: [i32; 2],
    pub max: [i32; 2],
}

pub type IndexEntry = GeomWithData<Rectangle<[i64; 2]>, u32>;

/// All features of a layer kept at zoom `z`.
#[derive(Debug)]
pub struct Level {
    pub z: u8,
    pub features: Vec<LevelFeature>,
    pub parts: Vec<Part>,
    pub coords: Vec<[i32; 2]>,
    pub index: RTree<IndexEntry>,
}

impl Level {
    /// Generalises `geometries` (Web Mercator metres, indexed by feature) for zoom `z`.
    /// `simplify` is false at a layer's highest zoom, where clients overzoom and want every
    /// vertex.
    pub fn build<'a>(geometries: impl IntoIterator<Item = &'a Geometry<f64>>, z: u8, simplify: bool) -> Self {
        let mut b = LevelBuilder {
            level: Level { z, features: Vec::new(), parts: Vec::new(), coords: Vec::new(), index: RTree::new() },
            scale: world_scale(z),
            tolerance: if simplify { SIMPLIFY_TOLERANCE } else { 0.0 },
            scratch: Vec::new(),
        };
        for (i, g) in geometries.into_iter().enumerate() {
            b.add(i as u32, g);
        }
        let entries = b
            .level
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let r = Rectangle::from_corners(
                    [i64::from(f.min[0]), i64::from(f.min[1])],
                    [i64::from(f.max[0]), i64::from(f.max[1])],
                );
                GeomWithData::new(r, i as u32)
            })
            .collect();
        b.level.index = RTree::bulk_load(entries);
        b.level
    }

    /// Features whose bounding box meets the rectangle `[min, max]` (world extent space).
    pub fn query(&self, min: [i64; 2], max: [i64; 2]) -> impl Iterator<Item = &LevelFeature> {
        self.index
            .locate_in_envelope_intersecting(&AABB::from_corners(min, max))
            .map(|e| &self.features[e.data as usize])
    }

    pub fn parts_of(&self, f: &LevelFeature) -> &[Part] {
        &self.parts[f.parts_start as usize..(f.parts_start + f.parts_len) as usize]
    }

    pub fn coords_of(&self, p: &Part) -> &[[i32; 2]] {
        &self.coords[p.start as usize..(p.start + p.len) as usize]
    }
}

struct LevelBuilder {
    level: Level,
    scale: f64,
    tolerance: f64,
    scratch: Vec<Coord<f64>>,
}

impl LevelBuilder {
    fn world(&self, c: Coord<f64>) -> Coord<f64> {
        Coord { x: (c.x + MERCATOR_HALF) * self.scale, y: (MERCATOR_HALF - c.y) * self.scale }
    }

    fn add(&mut self, feature: u32, g: &Geometry<f64>) {
        let Some(rect) = g.bounding_rect() else {
            return;
        };
        let size = (rect.width() * self.scale).max(rect.height() * self.scale);
        let is_point = matches!(g, Geometry::Point(_) | Geometry::MultiPoint(_));
        if !is_point && size < MIN_FEATURE_SIZE {
            return;
        }
        let parts_start = self.level.parts.len() as u32;
        self.geometry(g);
        let parts_len = self.level.parts.len() as u32 - parts_start;
        if parts_len == 0 {
            return;
        }
        let first = self.level.parts[parts_start as usize].start as usize;
        let pts = &self.level.coords[first..];
        let mut min = [i32::MAX; 2];
        let mut max = [i32::MIN; 2];
        for p in pts {
            min = [min[0].min(p[0]), min[1].min(p[1])];
            max = [max[0].max(p[0]), max[1].max(p[1])];
        }
        self.level.features.push(LevelFeature { feature, parts_start, parts_len, min, max });
    }

    fn geometry(&mut self, g: &Geometry<f64>) {
        match g {
            Geometry::Point(p) => self.points(std::iter::once(p.0)),
            Geometry::MultiPoint(mp) => self.points(mp.0.iter().map(|p| p.0)),
            Geometry::LineString(l) => self.line(l, PartKind::Line),
            Geometry::MultiLineString(ml) => ml.0.iter().for_each(|l| self.line(l, PartKind::Line)),
            Geometry::Polygon(p) => self.polygon(p),
            Geometry::MultiPolygon(mp) => mp.0.iter().for_each(|p| self.polygon(p)),
            Geometry::GeometryCollection(gc) => gc.0.iter().for_each(|g| self.geometry(g)),
            Geometry::Line(l) => self.line(&LineString(vec![l.start, l.end]), PartKind::Line),
            Geometry::Rect(r) => self.polygon(&r.to_polygon()),
            Geometry::Triangle(t) => self.polygon(&t.to_polygon()),
        }
    }

    fn points(&mut self, pts: impl Iterator<Item = Coord<f64>>) {
        let start = self.level.coords.len();
        for c in pts {
            let w = self.world(c);
            self.level.coords.push([w.x.round() as i32, w.y.round() as i32]);
        }
        self.push_part(start, PartKind::Points, 1);
    }

    fn polygon(&mut self, p: &geo_types::Polygon<f64>) {
        let before = self.level.parts.len();
        self.line(p.exterior(), PartKind::Exterior);
        if self.level.parts.len() == before {
            return; // the exterior collapsed: drop the holes too
        }
        for hole in p.interiors() {
            self.line(hole, PartKind::Interior);
        }
    }

    /// Adds a line or ring: scale, simplify, round, drop repeats; skip if it collapses.
    fn line(&mut self, l: &LineString<f64>, kind: PartKind) {
        let is_ring = matches!(kind, PartKind::Exterior | PartKind::Interior);
        // A ring smaller than a pixel is invisible (a hole as much as a polygon).
        if is_ring
            && let Some(r) = l.bounding_rect()
            && (r.width() * self.scale).max(r.height() * self.scale) < MIN_FEATURE_SIZE
        {
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(l.0.iter().map(|&c| self.world(c)));
        let simplified;
        let coords: &[Coord<f64>] = if self.tolerance > 0.0 && scratch.len() > 2 {
            simplified = LineString(scratch.clone()).simplify(self.tolerance);
            &simplified.0
        } else {
            &scratch
        };
        let start = self.level.coords.len();
        for c in coords {
            let p = [c.x.round() as i32, c.y.round() as i32];
            if self.level.coords.len() == start || self.level.coords.last() != Some(&p) {
                self.level.coords.push(p);
            }
        }
        let min_len = if is_ring { 4 } else { 2 };
        self.push_part(start, kind, min_len);
        self.scratch = scratch;
    }

    fn push_part(&mut self, start: usize, kind: PartKind, min_len: usize) {
        let len = self.level.coords.len() - start;
        if len < min_len {
            self.level.coords.truncate(start);
            return;
        }
        self.level.parts.push(Part { start: start as u32, len: len as u32, kind });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{line_string, polygon};

    fn mercator_square(x: f64, y: f64, side: f64) -> Geometry<f64> {
        Geometry::Polygon(
            polygon![(x: x, y: y), (x: x + side, y: y), (x: x + side, y: y + side), (x: x, y: y + side), (x: x, y: y)],
        )
    }

    #[test]
    fn small_polygons_are_dropped_at_low_zoom_and_kept_at_high_zoom() {
        // A 20 m parcel: about 1/10 px at z10, about 34 units at z14.
        let g = vec![mercator_square(15_630_000.0, 4_665_000.0, 20.0)];
        assert_eq!(Level::build(&g, 10, true).features.len(), 0);
        let l14 = Level::build(&g, 14, true);
        assert_eq!(l14.features.len(), 1);
        let f = l14.features[0];
        assert_eq!(l14.parts_of(&f).len(), 1);
        assert_eq!(l14.coords_of(&l14.parts_of(&f)[0]).len(), 5);
    }

    #[test]
    fn simplification_removes_nearly_straight_vertices() {
        let g = vec![Geometry::LineString(line_string![
            (x: 15_630_000.0, y: 4_665_000.0),
            (x: 15_630_500.0, y: 4_665_000.3),
            (x: 15_631_000.0, y: 4_665_000.0),
        ])];
        let coarse = Level::build(&g, 12, true);
        assert_eq!(coarse.coords.len(), 2);
        let full = Level::build(&g, 18, false);
        assert_eq!(full.coords.len(), 3);
    }

    #[test]
    fn query_finds_by_world_bbox() {
        let g = vec![mercator_square(0.0, 0.0, 1000.0), mercator_square(1_000_000.0, 1_000_000.0, 1000.0)];
        let l = Level::build(&g, 10, true);
        let f = &l.features[0];
        let hits: Vec<_> = l
            .query([i64::from(f.min[0]), i64::from(f.min[1])], [i64::from(f.max[0]), i64::from(f.max[1])])
            .map(|f| f.feature)
            .collect();
        assert_eq!(hits, vec![0]);
    }
}
