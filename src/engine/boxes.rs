//! The spatial index of a segment's features: their bounding boxes in the store's CRS, packed
//! into a static Hilbert R-tree ([`static_aabb2d_index`], a port of flatbush).
//!
//! A segment never changes once built, so the tree need not take inserts: packed, it is a few
//! flat arrays of about 26 bytes a feature, where a dynamic R-tree of `f64` boxes held about 67.
//! The boxes are `f32`, rounded outward, so a box query returns every feature whose true box
//! meets the area (and, rarely, one that misses it by a rounding step): callers test the exact
//! geometry after the box filter, as they did with exact boxes.

use std::ops::ControlFlow;

use geo::Rect;
use static_aabb2d_index::{Control, StaticAABB2DIndex, StaticAABB2DIndexBuilder};

/// The bounding boxes of a segment's features, for box and nearest-first queries.
#[derive(Debug)]
pub struct BoxIndex {
    tree: StaticAABB2DIndex<f32>,
    /// The feature index of each box, in the order they were added, when some features have
    /// no box (an empty geometry); empty when box `i` is feature `i`.
    features: Vec<u32>,
}

impl BoxIndex {
    /// Indexes feature `i`'s box, the `i`th item (`None`: an empty geometry, never found).
    pub fn new(rects: impl Iterator<Item = Option<Rect<f64>>>) -> Self {
        let (mut boxes, mut features) = (Vec::new(), Vec::new());
        for (i, r) in rects.enumerate() {
            // Numbered only once a feature has been skipped: until then box `i` is feature `i`.
            let identity = features.is_empty() && boxes.len() == i;
            match r {
                Some(r) => {
                    if !identity {
                        features.push(i as u32);
                    }
                    boxes.push(outward(r));
                }
                None if identity => features.extend(0..i as u32),
                None => {}
            }
        }
        let mut builder = StaticAABB2DIndexBuilder::new(boxes.len());
        for [x0, y0, x1, y1] in boxes {
            builder.add(x0, y0, x1, y1);
        }
        let tree = builder.build().expect("as many boxes as were counted, and f32 casts to f64");
        Self { tree, features }
    }

    fn feature(&self, item: usize) -> u32 {
        if self.features.is_empty() { item as u32 } else { self.features[item] }
    }

    /// The features whose bounding box meets `area`.
    pub fn in_box(&self, area: Rect<f64>) -> impl Iterator<Item = u32> + '_ {
        let [x0, y0, x1, y1] = outward(area);
        self.tree.query_iter(x0, y0, x1, y1).map(|item| self.feature(item))
    }

    /// Visits the features in order of their bounding box's distance from `p`, with that
    /// distance (a lower bound of the distance to the feature), until `visit` breaks.
    pub fn visit_nearest(&self, p: [f64; 2], mut visit: impl FnMut(u32, f64) -> ControlFlow<()>) {
        // `p` rounded to f32 may have moved by half a step: what the distance loses to that
        // keeps it a lower bound.
        let slack = p[0].abs().max(p[1].abs()) * f64::from(f32::EPSILON);
        self.tree.visit_neighbors(p[0] as f32, p[1] as f32, &mut |item: usize, d2: f32| match visit(
            self.feature(item),
            (f64::from(d2).sqrt() - slack).max(0.0),
        ) {
            ControlFlow::Continue(()) => Control::Continue,
            ControlFlow::Break(()) => Control::Break(()),
        });
    }

    /// Bytes held: a box and an item number for each feature and each node.
    pub fn bytes(&self) -> u64 {
        use std::mem::size_of;
        (self.tree.all_boxes().len() * (size_of::<static_aabb2d_index::AABB<f32>>() + size_of::<usize>())
            + self.features.capacity() * size_of::<u32>()) as u64
    }
}

/// `r` as f32 corners, rounded outward so that the f32 box holds the f64 one.
fn outward(r: Rect<f64>) -> [f32; 4] {
    fn down(v: f64) -> f32 {
        let f = v as f32;
        if f64::from(f) > v { f.next_down() } else { f }
    }
    fn up(v: f64) -> f32 {
        let f = v as f32;
        if f64::from(f) < v { f.next_up() } else { f }
    }
    [down(r.min().x), down(r.min().y), up(r.max().x), up(r.max().y)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Rect<f64> {
        Rect::new((x0, y0), (x1, y1))
    }

    #[test]
    fn boxes_that_touch_an_area_by_less_than_an_f32_step_are_found() {
        // Plane-rectangular metres and degrees, where f32 steps are coarse (about 8 mm, 15 µ°).
        for base in [-123_456.789_012_3, 140.357_123_456_7] {
            let gap = 1e-9;
            let index = BoxIndex::new([Some(rect(base, base, base + 1.0, base + 1.0)), None].into_iter());
            let touching = rect(base + 1.0, base + 1.0, base + 2.0, base + 2.0);
            assert_eq!(index.in_box(touching).collect::<Vec<_>>(), vec![0]);
            let left = rect(base - 2.0, base, base - gap, base + 1.0);
            assert!(index.in_box(left).all(|f| f == 0), "only the one box, if any");
            let far = rect(base + 10.0, base + 10.0, base + 11.0, base + 11.0);
            assert_eq!(index.in_box(far).count(), 0);
        }
    }

    #[test]
    fn features_after_empty_geometries_keep_their_numbers() {
        let index = BoxIndex::new([None, None, Some(rect(0.0, 0.0, 1.0, 1.0)), None].into_iter());
        assert_eq!(index.in_box(rect(0.5, 0.5, 2.0, 2.0)).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn nearest_first_skips_empty_geometries_and_bounds_the_distance_from_below() {
        let rects =
            [Some(rect(10.0, 0.0, 11.0, 1.0)), None, Some(rect(3.0, 0.0, 4.0, 1.0)), Some(rect(0.0, 5.0, 1.0, 6.0))];
        let index = BoxIndex::new(rects.into_iter());
        let mut seen = Vec::new();
        index.visit_nearest([0.0, 0.5], |f, d| {
            seen.push((f, d));
            ControlFlow::Continue(())
        });
        let order: Vec<u32> = seen.iter().map(|&(f, _)| f).collect();
        assert_eq!(order, vec![2, 3, 0]);
        for ((f, d), exact) in seen.into_iter().zip([3.0, 4.5, 10.0]) {
            assert!(d <= exact && d > exact - 1e-5, "feature {f}: {d} against {exact}");
        }
        let mut first = None;
        index.visit_nearest([0.0, 0.5], |f, _| {
            first.get_or_insert(f);
            ControlFlow::Break(())
        });
        assert_eq!(first, Some(2));
    }
}
