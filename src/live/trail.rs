//! Trails: where each vehicle went in the last hours, kept in memory from its plausible fixes
//! and cut into ten-minute pieces, so that a new fix redraws one short line and each piece
//! carries its own age (for fading on the map).
//!
//! A fix less than [`MIN_STEP_M`] from the previous point kept is dropped (a parked vehicle's
//! GPS jitter draws no scribble). Late fixes are put in their place in time.

use std::collections::{BTreeMap, VecDeque};

/// The length of a trail piece.
pub const PIECE_MS: i64 = 10 * 60 * 1000;
/// The smallest step kept.
pub const MIN_STEP_M: f64 = 5.0;

/// A point of a trail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrailPoint {
    /// Device time, milliseconds since 1970.
    pub ms: i64,
    pub lon: f64,
    pub lat: f64,
    /// In the store CRS (metres).
    pub x: f64,
    pub y: f64,
    /// Matched to a road it plowed.
    pub plowing: bool,
}

/// The piece a time falls in.
pub fn piece(ms: i64) -> i64 {
    ms.div_euclid(PIECE_MS)
}

/// One vehicle's trail, oldest first.
#[derive(Debug, Default)]
pub struct Trail {
    points: VecDeque<TrailPoint>,
}

impl Trail {
    /// Adds a point in time order; returns the piece it changed, or `None` if it was dropped.
    pub fn add(&mut self, p: TrailPoint) -> Option<i64> {
        let at = self.points.partition_point(|q| q.ms <= p.ms);
        let near = |q: &TrailPoint| (q.x - p.x).hypot(q.y - p.y) < MIN_STEP_M && q.plowing == p.plowing;
        if at > 0 && (self.points[at - 1].ms == p.ms || near(&self.points[at - 1])) {
            return None;
        }
        self.points.insert(at, p);
        Some(piece(p.ms))
    }

    /// Drops points before `horizon_ms`; returns the pieces that emptied.
    pub fn prune(&mut self, horizon_ms: i64) -> Vec<i64> {
        let mut gone = Vec::new();
        while self.points.front().is_some_and(|p| p.ms < horizon_ms) {
            let p = self.points.pop_front().expect("checked");
            if self.points.front().is_none_or(|q| piece(q.ms) != piece(p.ms)) {
                gone.push(piece(p.ms));
            }
        }
        gone
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The pieces, each with its points: from the last point of the piece before (so that
    /// the pieces join up) to its own last.
    pub fn pieces(&self) -> BTreeMap<i64, Vec<TrailPoint>> {
        let mut out: BTreeMap<i64, Vec<TrailPoint>> = BTreeMap::new();
        let mut last: Option<TrailPoint> = None;
        for p in &self.points {
            let points = out.entry(piece(p.ms)).or_insert_with(|| last.into_iter().collect());
            points.push(*p);
            last = Some(*p);
        }
        out
    }

    /// One piece (see [`Trail::pieces`]).
    pub fn piece(&self, n: i64) -> Vec<TrailPoint> {
        let start = self.points.partition_point(|q| piece(q.ms) < n);
        let end = self.points.partition_point(|q| piece(q.ms) <= n);
        if start == end {
            return Vec::new();
        }
        self.points.range(start.saturating_sub(1)..end).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64, x: f64) -> TrailPoint {
        TrailPoint { ms, lon: 0.0, lat: 0.0, x, y: 0.0, plowing: false }
    }

    #[test]
    fn pieces_join_and_late_points_fall_in_place() {
        let mut t = Trail::default();
        let min = 60_000;
        assert_eq!(t.add(at(0, 0.0)), Some(0));
        assert_eq!(t.add(at(min, 2.0)), None, "jitter is dropped");
        assert_eq!(t.add(at(2 * min, 100.0)), Some(0));
        assert_eq!(t.add(at(12 * min, 300.0)), Some(1));
        assert_eq!(t.add(at(11 * min, 200.0)), Some(1), "late");
        let pieces = t.pieces();
        let xs = |ps: &[TrailPoint]| ps.iter().map(|p| p.x).collect::<Vec<_>>();
        assert_eq!(xs(&pieces[&0]), [0.0, 100.0]);
        assert_eq!(xs(&pieces[&1]), [100.0, 200.0, 300.0], "joined to the piece before");
        assert_eq!(t.piece(1), pieces[&1]);
        assert_eq!(t.piece(0), pieces[&0]);
        assert_eq!(t.prune(5 * min), vec![0]);
        assert_eq!(xs(&t.piece(1)), [200.0, 300.0]);
        assert_eq!(t.prune(13 * min), vec![1]);
        assert!(t.is_empty());
    }
}
