//! How much of a road was covered, and when it counts as plowed.
//!
//! A pass is a stretch of one road (metres along it) that a plowing vehicle drove, with the time
//! it left the stretch. A road counts as plowed at time `T` when the passes of the `window`
//! before `T` together cover at least the threshold share of its length; its plowed time is the
//! latest such `T`. A plow that only crosses a road, or enters it for a few metres, covers a
//! small share of it and leaves it unplowed; two plows that each clear half a long road within
//! the window plow it together.

/// A stretch of a road driven while plowing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pass {
    /// Metres along the road, `from <= to`.
    pub from: f64,
    pub to: f64,
    /// When the vehicle left the stretch (ms since 1970).
    pub ms: i64,
}

/// The share of `length` that `passes` cover together (0–1).
pub fn share<'a>(passes: impl IntoIterator<Item = &'a Pass>, length: f64) -> f64 {
    let mut spans: Vec<(f64, f64)> = passes.into_iter().map(|p| (p.from.max(0.0), p.to.min(length))).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut covered, mut reach) = (0.0, 0.0_f64);
    for (a, b) in spans {
        if b > reach {
            covered += b - a.max(reach);
            reach = b;
        }
    }
    if length > 0.0 { (covered / length).min(1.0) } else { 0.0 }
}

/// The passes over one road, newest last.
#[derive(Debug, Clone, Default)]
pub struct RoadPasses {
    passes: Vec<Pass>,
}

/// When a road counts as plowed, and how much of it was covered then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plowed {
    /// The plowed time (ms), if the road reached the threshold.
    pub at_ms: Option<i64>,
    /// The share covered in the window before the newest pass (0–1).
    pub coverage: f64,
}

impl RoadPasses {
    pub fn add(&mut self, pass: Pass) {
        let at = self.passes.partition_point(|p| p.ms <= pass.ms);
        self.passes.insert(at, pass);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Pass> {
        self.passes.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.passes.is_empty()
    }

    /// Forgets passes older than `before_ms`.
    pub fn prune(&mut self, before_ms: i64) {
        self.passes.retain(|p| p.ms >= before_ms);
    }

    /// The road's plowed time and coverage (see the module header).
    pub fn plowed(&self, length: f64, threshold: f64, window_ms: i64) -> Plowed {
        let in_window = |end: i64| self.passes.iter().filter(move |p| p.ms <= end && p.ms >= end - window_ms);
        let Some(newest) = self.passes.last() else { return Plowed { at_ms: None, coverage: 0.0 } };
        let coverage = share(in_window(newest.ms), length);
        let at_ms = self.passes.iter().rev().map(|p| p.ms).find(|&end| share(in_window(end), length) >= threshold);
        Plowed { at_ms, coverage }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(from: f64, to: f64, min: i64) -> Pass {
        Pass { from, to, ms: min * 60_000 }
    }

    #[test]
    fn shares_count_overlaps_once() {
        assert_eq!(share(&[pass(0.0, 50.0, 0), pass(25.0, 75.0, 0), pass(90.0, 100.0, 0)], 100.0), 0.85);
        assert_eq!(share(&[pass(-5.0, 150.0, 0)], 100.0), 1.0);
        assert_eq!(share(&[], 100.0), 0.0);
    }

    #[test]
    fn a_road_is_plowed_when_the_window_covers_enough() {
        let (threshold, window) = (0.7, 180 * 60_000);
        let mut r = RoadPasses::default();
        // Crossed at 10 min: 10 m of 200.
        r.add(pass(95.0, 105.0, 10));
        assert_eq!(r.plowed(200.0, threshold, window), Plowed { at_ms: None, coverage: 0.05 });
        // Half at 60 min, the other half at 90 min (another plow): plowed at 90.
        r.add(pass(0.0, 100.0, 60));
        assert_eq!(r.plowed(200.0, threshold, window).at_ms, None);
        r.add(pass(100.0, 200.0, 90));
        assert_eq!(r.plowed(200.0, threshold, window), Plowed { at_ms: Some(90 * 60_000), coverage: 1.0 });
        // Crossed again 10 hours later: still plowed at 90, the window now covers 5 %.
        r.add(pass(95.0, 105.0, 690));
        assert_eq!(r.plowed(200.0, threshold, window), Plowed { at_ms: Some(90 * 60_000), coverage: 0.05 });
        // Halves four hours apart do not add up.
        let mut apart = RoadPasses::default();
        apart.add(pass(0.0, 100.0, 0));
        apart.add(pass(100.0, 200.0, 240));
        assert_eq!(apart.plowed(200.0, threshold, window).at_ms, None);
    }
}
