//! Map matching: the route a vehicle drove, inferred from its fixes with a hidden Markov model
//! in the manner of Newson & Krumm (2009), online with a bounded lag.
//!
//! Each fix has candidate states: positions on the edges within the search radius, one per edge
//! and direction allowed. A state's emission score falls with the square of its distance from
//! the fix (Gaussian GPS error) and with the angle between the fix's heading (reported, or
//! derived from the previous fix when they are close in time) and the direction driven. A
//! transition's score falls with how much longer the route between two states is than the
//! straight line between the fixes (exponential). Viterbi keeps, for each state, the best way
//! to reach it.
//!
//! The matcher never invents a path: a transition whose route is much longer than the straight
//! line, or faster than a vehicle drives, is impossible, and a gap in time longer than
//! [`Params::max_gap_s`] breaks the chain. A fix that no route reaches (a GPS outlier, or the
//! vehicle off the network) is held over: the states of the fix before it stand in for it, at a
//! cost. When the next fix cannot be reached either, the chain ends and a new one starts; fixes
//! off the network (depots, yards) match nothing and draw no route.
//!
//! Fixes are committed in order, each at most [`Params::lag`] fixes after it arrived (sooner
//! when all live hypotheses already agree on it): the best path's state at that fix is fixed
//! and every hypothesis that disagrees is dropped.

use std::collections::{HashMap, VecDeque};

use geo_types::Coord;

use super::{Position, RoadNetwork, Stretch};

/// The model's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Standard deviation of GPS error (metres).
    pub sigma_m: f64,
    /// How far from a fix candidates are looked for (metres).
    pub radius_m: f64,
    /// Candidate edges per fix.
    pub candidates: usize,
    /// Scale of the transition score (metres of difference per e-fold), at least, and per
    /// second between the fixes.
    pub beta_m: f64,
    pub beta_per_s: f64,
    /// A longer gap between fixes breaks the chain (seconds).
    pub max_gap_s: f64,
    /// No route is faster than this (m/s).
    pub max_speed_mps: f64,
    /// No route is longer than this times the straight line, plus [`Self::detour_slack_m`].
    pub detour_ratio: f64,
    pub detour_slack_m: f64,
    /// Fixes a commit may wait for.
    pub lag: usize,
    /// The score of holding a fix over as an outlier.
    pub outlier_score: f64,
    /// The score of turning round in the middle of a road.
    pub u_turn_score: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            sigma_m: 10.0,
            radius_m: 50.0,
            candidates: 8,
            beta_m: 30.0,
            beta_per_s: 2.0,
            max_gap_s: 300.0,
            max_speed_mps: 35.0,
            detour_ratio: 2.0,
            detour_slack_m: 150.0,
            lag: 2,
            outlier_score: -6.0,
            u_turn_score: -4.0,
        }
    }
}

/// A fix as the matcher takes it (store CRS).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// The caller's id of the fix.
    pub id: i64,
    pub ms: i64,
    pub at: Coord<f64>,
    /// Reported heading (degrees from grid north) and speed (m/s), if any.
    pub heading_deg: Option<f64>,
    pub speed_mps: Option<f64>,
    /// Whether the vehicle plows at this fix (a plow, blade not reported up).
    pub plowing: bool,
}

/// A committed fix: where it was matched and the route driven to it from the fix before.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub id: i64,
    pub ms: i64,
    /// `None` for an outlier or a fix off the network.
    pub at: Option<Position>,
    /// The route from the previous matched fix (empty at the start of a chain).
    pub route: Vec<Stretch>,
    /// When the route started (the previous matched fix's time).
    pub from_ms: i64,
    /// Whether the route was driven plowing (both ends plowing).
    pub plowing: bool,
}

impl Matched {
    /// Each stretch of the route with the time the vehicle left it, interpolated along the
    /// route between the two fixes.
    pub fn timed(&self) -> impl Iterator<Item = (Stretch, i64)> + '_ {
        let total: f64 = self.route.iter().map(Stretch::length).sum();
        let span = (self.ms - self.from_ms) as f64;
        let mut along = 0.0;
        self.route.iter().map(move |s| {
            along += s.length();
            let k = if total > 0.0 { along / total } else { 1.0 };
            (*s, self.from_ms + (span * k).round() as i64)
        })
    }
}

#[derive(Debug, Clone)]
struct State {
    pos: Position,
    forward: bool,
    score: f64,
    /// Index of the state before it in the previous layer.
    back: Option<usize>,
    route: Vec<Stretch>,
    /// The fix the state stands for (a held-over state: the fix before).
    anchor: Anchor,
    held: bool,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    ms: i64,
    at: Coord<f64>,
    plowing: bool,
    speed_mps: Option<f64>,
}

#[derive(Debug, Clone)]
struct Layer {
    obs: Observation,
    states: Vec<State>,
    /// Committed (a single state left).
    committed: bool,
}

impl Layer {
    fn all_held(&self) -> bool {
        self.states.iter().all(|s| s.held)
    }
}

/// One vehicle's matcher. Feed it fixes in time order with [`Self::push`]; committed fixes come
/// out in order.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    params: Params,
    layers: VecDeque<Layer>,
    /// The newest fix taken (ms), to refuse fixes out of order.
    newest: Option<(i64, Coord<f64>)>,
}

impl Matcher {
    pub fn new(params: Params) -> Self {
        Self { params, layers: VecDeque::new(), newest: None }
    }

    /// The newest fix pushed (ms since 1970).
    pub fn newest_ms(&self) -> Option<i64> {
        self.newest.map(|n| n.0)
    }

    /// Fixes pushed and not yet committed.
    pub fn pending(&self) -> usize {
        self.layers.iter().filter(|l| !l.committed).count()
    }

    /// Takes the next fix (older ones are ignored: they came late) and appends the fixes that
    /// can now be committed to `out`.
    pub fn push(&mut self, net: &RoadNetwork, mut obs: Observation, out: &mut Vec<Matched>) {
        if let Some((ms, at)) = self.newest {
            if obs.ms <= ms {
                return;
            }
            let dt = (obs.ms - ms) as f64 / 1000.0;
            let moved = (obs.at.x - at.x).hypot(obs.at.y - at.y);
            if obs.heading_deg.is_none() && dt <= 20.0 && moved >= 15.0 {
                obs.heading_deg = Some((obs.at.x - at.x).atan2(obs.at.y - at.y).to_degrees());
                obs.speed_mps = obs.speed_mps.or(Some(moved / dt));
            }
        }
        self.newest = Some((obs.ms, obs.at));
        if let Some(last) = self.layers.back()
            && (obs.ms - last.obs.ms) as f64 / 1000.0 > self.params.max_gap_s
        {
            self.finish(out);
        }
        let layer = self.next_layer(net, obs);
        let prev_held = self.layers.back().is_some_and(Layer::all_held);
        if layer.states.is_empty() || (layer.all_held() && prev_held) {
            // Nothing reaches this fix, nor did anything reach the one before: the chain ends
            // where it was last matched, and a new one starts from the held fix.
            let held: Vec<Observation> =
                self.layers.iter().rev().take_while(|l| l.all_held() && !l.committed).map(|l| l.obs).collect();
            let keep = self.layers.len() - held.len();
            self.layers.truncate(keep);
            self.finish(out);
            for o in held.into_iter().rev().chain([obs]) {
                self.start(net, o, out);
            }
            return;
        }
        self.layers.push_back(layer);
        self.commit(out);
    }

    /// Commits every pending fix (the vehicle went silent, or the caller is done).
    pub fn finish(&mut self, out: &mut Vec<Matched>) {
        while self.layers.iter().any(|l| !l.committed) {
            let i = self.layers.iter().position(|l| !l.committed).expect("one is pending");
            self.commit_layer(i, out);
        }
        self.layers.clear();
    }

    /// Starts a chain at `obs` (after a break): the fix alone, or off the network.
    fn start(&mut self, net: &RoadNetwork, obs: Observation, out: &mut Vec<Matched>) {
        let states = self.candidates(net, &obs, None);
        if states.is_empty() {
            out.push(Matched { id: obs.id, ms: obs.ms, at: None, route: vec![], from_ms: obs.ms, plowing: false });
            return;
        }
        if let Some(prev) = self.layers.back()
            && !prev.all_held()
        {
            let layer = self.next_layer(net, obs);
            if !layer.states.is_empty() && !layer.all_held() {
                self.layers.push_back(layer);
                self.commit(out);
                return;
            }
            self.finish(out);
        }
        self.layers.push_back(Layer { obs, states, committed: false });
        self.commit(out);
    }

    /// The states of a new fix, each reached from the best state of the last layer.
    fn next_layer(&self, net: &RoadNetwork, obs: Observation) -> Layer {
        let Some(prev) = self.layers.back() else {
            return Layer { obs, states: self.candidates(net, &obs, None), committed: false };
        };
        let mut states = self.candidates(net, &obs, Some(prev));
        // Held over: the best few states of the last layer stand in for this fix.
        let mut best: Vec<usize> = (0..prev.states.len()).filter(|&i| !prev.states[i].held).collect();
        best.sort_by(|&a, &b| prev.states[b].score.total_cmp(&prev.states[a].score));
        for &i in best.iter().take(4) {
            let s = &prev.states[i];
            states.push(State {
                pos: s.pos,
                forward: s.forward,
                score: s.score + self.params.outlier_score,
                back: Some(i),
                route: Vec::new(),
                anchor: s.anchor,
                held: true,
            });
        }
        let top = states.iter().map(|s| s.score).fold(f64::NEG_INFINITY, f64::max);
        for s in &mut states {
            s.score -= top;
        }
        Layer { obs, states, committed: false }
    }

    /// Candidate states of `obs`, scored against the states of `prev` (if any); those that no
    /// state of `prev` can reach are left out.
    fn candidates(&self, net: &RoadNetwork, obs: &Observation, prev: Option<&Layer>) -> Vec<State> {
        let p = &self.params;
        let near = net.nearby(obs.at, p.radius_m, p.candidates);
        let mut out = Vec::new();
        let mut reach_cache: HashMap<u32, super::Reach> = HashMap::new();
        let reach_limit = prev.map_or(0.0, |l| l.states.iter().map(|a| self.limit(a, obs)).fold(0.0, f64::max));
        for n in near {
            let edge = net.edge(n.at.edge);
            for forward in [true, false] {
                if !edge.oneway.allows(forward) {
                    continue;
                }
                let mut emission = -0.5 * (n.distance / p.sigma_m).powi(2);
                if let Some(h) = obs.heading_deg
                    && obs.speed_mps.is_none_or(|v| v >= 2.0)
                {
                    let dir = edge.bearing_at(n.at.offset) + if forward { 0.0 } else { 180.0 };
                    emission -= 2.0 * (1.0 - (h - dir).to_radians().cos());
                }
                let anchor = Anchor { ms: obs.ms, at: obs.at, plowing: obs.plowing, speed_mps: obs.speed_mps };
                let Some(prev) = prev else {
                    out.push(State {
                        pos: n.at,
                        forward,
                        score: emission,
                        back: None,
                        route: vec![],
                        anchor,
                        held: false,
                    });
                    continue;
                };
                let mut best: Option<(f64, usize, Vec<Stretch>)> = None;
                for (i, a) in prev.states.iter().enumerate() {
                    let Some((d, route, u_turn)) =
                        self.route(net, a, n.at, forward, obs, (reach_limit, &mut reach_cache))
                    else {
                        continue;
                    };
                    let gc = (obs.at.x - a.anchor.at.x).hypot(obs.at.y - a.anchor.at.y);
                    // Over longer gaps routes stray further from the straight line.
                    let dt = (obs.ms - a.anchor.ms) as f64 / 1000.0;
                    let beta = p.beta_m.max(dt * p.beta_per_s);
                    let mut t = -(d - gc).abs() / beta + if u_turn { p.u_turn_score } else { 0.0 };
                    if let Some(driven) = reported_distance(a, obs) {
                        t -= (d - driven).abs() / (p.beta_m + 0.3 * driven);
                    }
                    let score = a.score + t;
                    if best.as_ref().is_none_or(|b| score > b.0) {
                        best = Some((score, i, route));
                    }
                }
                if let Some((score, i, route)) = best {
                    out.push(State {
                        pos: n.at,
                        forward,
                        score: score + emission,
                        back: Some(i),
                        route,
                        anchor,
                        held: false,
                    });
                }
            }
        }
        out
    }

    /// The shortest allowed route from state `a` to position `b` driven `forward`, with its
    /// length; `None` when none is plausible for the time between them.
    fn route(
        &self,
        net: &RoadNetwork,
        a: &State,
        b: Position,
        forward: bool,
        obs: &Observation,
        (reach_limit, cache): (f64, &mut HashMap<u32, super::Reach>),
    ) -> Option<(f64, Vec<Stretch>, bool)> {
        let p = &self.params;
        let limit = self.limit(a, obs);
        let (ea, oa) = (a.pos.edge, a.pos.offset);
        // Turning round costs as much as this detour: a loop at a road's end (a turning
        // circle) is taken where it is there.
        let u_turn_m = -p.u_turn_score * p.beta_m;
        let mut best: Option<(f64, Vec<Stretch>, bool)> = None;
        let mut consider = |d: f64, route: Vec<Stretch>, u_turn: bool| {
            let cost = |d: f64, u: bool| d + if u { u_turn_m } else { 0.0 };
            if d <= limit && best.as_ref().is_none_or(|b| cost(d, u_turn) < cost(b.0, b.2)) {
                best = Some((d, route, u_turn));
            }
        };
        let jitter = (2.0 * p.sigma_m).min(30.0);
        if ea == b.edge {
            if a.forward == forward {
                let ahead = if forward { b.offset - oa } else { oa - b.offset };
                if ahead >= -jitter {
                    let to = if ahead >= 0.0 { b.offset } else { oa };
                    consider(ahead.max(0.0), vec![Stretch { edge: ea, from: oa, to }], false);
                }
            } else {
                // Turning round on the road: as far as the farther of the two, then back.
                let turn = if a.forward { oa.max(b.offset) } else { oa.min(b.offset) };
                let d = (turn - oa).abs() + (turn - b.offset).abs();
                consider(
                    d,
                    vec![Stretch { edge: ea, from: oa, to: turn }, Stretch { edge: ea, from: turn, to: b.offset }],
                    true,
                );
            }
        }
        let reach = cache.entry(net.exit(a.pos, a.forward)).or_insert_with_key(|&n| net.distances(n, reach_limit));
        if let Some((d, route)) = net.route_through(a.pos, a.forward, b, forward, reach) {
            consider(d, route, false);
        }
        best
    }

    /// The longest plausible route from state `a` to `obs`: no faster than a vehicle drives,
    /// and not much longer than the straight line.
    fn limit(&self, a: &State, obs: &Observation) -> f64 {
        let p = &self.params;
        let dt = ((obs.ms - a.anchor.ms) as f64 / 1000.0).max(1.0);
        let gc = (obs.at.x - a.anchor.at.x).hypot(obs.at.y - a.anchor.at.y);
        // A route longer than the straight line allows is plausible when the speeds the device
        // reported at both ends drove it.
        let driven = reported_distance(a, obs).map_or(0.0, |d| d * 1.5);
        (p.max_speed_mps * dt + 2.0 * p.sigma_m).min((gc * p.detour_ratio + p.detour_slack_m).max(driven))
    }

    /// Commits what can be: everything the live hypotheses agree on, and at least all but the
    /// newest [`Params::lag`] fixes.
    fn commit(&mut self, out: &mut Vec<Matched>) {
        let n = self.layers.len();
        // Where every state of the newest layer traces back to one state.
        let mut agreed = None;
        let mut set: Vec<usize> = (0..self.layers[n - 1].states.len()).collect();
        for i in (0..n).rev() {
            set.sort_unstable();
            set.dedup();
            if set.len() == 1 {
                agreed = Some(i);
                break;
            }
            if i == 0 {
                break;
            }
            set = set.iter().filter_map(|&s| self.layers[i].states[s].back).collect();
        }
        let by_lag = n.checked_sub(self.params.lag + 1);
        let upto = match (agreed, by_lag) {
            (Some(a), Some(l)) => Some(a.max(l)),
            (a, l) => a.or(l),
        };
        let Some(upto) = upto else { return };
        for i in 0..=upto {
            if !self.layers[i].committed {
                self.commit_layer(i, out);
            }
        }
        // Keep the newest committed layer as the anchor of what follows.
        let drop = self.layers.iter().rposition(|l| l.committed).unwrap_or(0);
        self.layers.drain(..drop);
    }

    /// Fixes layer `i`'s state to the one on the best path, drops the hypotheses that
    /// disagree, and emits it.
    fn commit_layer(&mut self, i: usize, out: &mut Vec<Matched>) {
        let n = self.layers.len();
        // The best state of the newest layer, traced back to layer i.
        let mut s = (0..self.layers[n - 1].states.len())
            .max_by(|&a, &b| self.layers[n - 1].states[a].score.total_cmp(&self.layers[n - 1].states[b].score))
            .expect("a layer has states");
        for j in (i + 1..n).rev() {
            s = self.layers[j].states[s].back.expect("states after the first have a way back");
        }
        let chosen = self.layers[i].states[s].clone();
        // Keep only the states that descend from the chosen one.
        let mut map: Vec<Option<usize>> = vec![None; self.layers[i].states.len()];
        map[s] = Some(0);
        self.layers[i].states = vec![State { back: None, ..chosen.clone() }];
        self.layers[i].committed = true;
        for j in i + 1..n {
            let states = std::mem::take(&mut self.layers[j].states);
            let mut next = vec![None; states.len()];
            for (k, mut st) in states.into_iter().enumerate() {
                if let Some(p) = st.back.and_then(|b| map[b]) {
                    st.back = Some(p);
                    next[k] = Some(self.layers[j].states.len());
                    self.layers[j].states.push(st);
                }
            }
            map = next;
        }
        let obs = self.layers[i].obs;
        if chosen.held {
            // What follows is routed from the held state's anchor, the fix before.
            out.push(Matched { id: obs.id, ms: obs.ms, at: None, route: vec![], from_ms: obs.ms, plowing: false });
            return;
        }
        let before = (chosen.back.is_some() && i > 0).then(|| self.layers[i - 1].states[0].anchor);
        out.push(Matched {
            id: obs.id,
            ms: obs.ms,
            at: Some(chosen.pos),
            route: if before.is_some() { chosen.route } else { vec![] },
            from_ms: before.map_or(obs.ms, |b| b.ms),
            plowing: obs.plowing && before.is_some_and(|b| b.plowing),
        });
    }
}

/// The distance the speeds reported at both ends of a transition would drive in its time.
fn reported_distance(a: &State, obs: &Observation) -> Option<f64> {
    let (va, vb) = (a.anchor.speed_mps?, obs.speed_mps?);
    Some((va + vb) / 2.0 * (obs.ms - a.anchor.ms) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::{AttrValue, Feature, FeatureId};
    use geo_types::{Geometry, LineString};
    use std::collections::BTreeSet;

    /// A street grid of 100 m blocks, 6 × 6 nodes; road ids say where they are: 1000 + 10·i + j
    /// for the east-going street from (i, j), 2000 + … for the north-going one. Plus `extra`.
    fn grid(extra: Vec<Feature>) -> RoadNetwork {
        let mut roads = Vec::new();
        for i in 0..6 {
            for j in 0..6 {
                let (x, y) = (f64::from(i) * 100.0, f64::from(j) * 100.0);
                let line = |id: i64, to: (f64, f64)| Feature {
                    id,
                    geometry: Geometry::LineString(LineString::from(vec![(x, y), to])),
                    attributes: vec![AttrValue::Null],
                };
                if i < 5 {
                    roads.push(line(1000 + i64::from(10 * i + j), (x + 100.0, y)));
                }
                if j < 5 {
                    roads.push(line(2000 + i64::from(10 * i + j), (x, y + 100.0)));
                }
            }
        }
        roads.extend(extra);
        RoadNetwork::build(&roads, Some(0))
    }

    /// Fixes every `every` seconds at 10 m/s along the polyline `path`, heading reported.
    fn fixes(path: &[(f64, f64)], every: f64, start_ms: i64) -> Vec<Observation> {
        let mut out = Vec::new();
        let mut t = 0.0;
        let mut along = 0.0;
        for w in path.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let len = (x1 - x0).hypot(y1 - y0);
            while t * 10.0 <= along + len {
                let k = (t * 10.0 - along) / len;
                out.push(Observation {
                    id: out.len() as i64,
                    ms: start_ms + (t * 1000.0) as i64,
                    at: Coord { x: x0 + (x1 - x0) * k, y: y0 + (y1 - y0) * k },
                    heading_deg: Some((x1 - x0).atan2(y1 - y0).to_degrees()),
                    speed_mps: Some(10.0),
                    plowing: true,
                });
                t += every;
            }
            along += len;
        }
        out
    }

    /// The roads covered at least 70 % by the plowing routes matched to `obs`.
    fn plowed(net: &RoadNetwork, obs: &[Observation]) -> (BTreeSet<FeatureId>, Vec<Matched>) {
        let mut m = Matcher::new(Params::default());
        let mut out = Vec::new();
        for o in obs {
            m.push(net, *o, &mut out);
            assert!(m.pending() <= Params::default().lag, "the lag is bounded");
        }
        m.finish(&mut out);
        let mut passes: std::collections::HashMap<FeatureId, super::super::coverage::RoadPasses> = Default::default();
        for matched in out.iter().filter(|m| m.plowing) {
            for (s, ms) in matched.timed() {
                let (road, from, to) = net.on_road(&s);
                passes.entry(road).or_default().add(super::super::coverage::Pass { from, to, ms });
            }
        }
        let roads = passes
            .into_iter()
            .filter(|(r, p)| p.plowed(net.road_length(*r).unwrap(), 0.7, 3_600_000).at_ms.is_some())
            .map(|(r, _)| r)
            .collect();
        (roads, out)
    }

    #[test]
    fn sparse_fixes_mark_every_road_between_them_and_no_other() {
        let net = grid(vec![]);
        // East along y = 100 from x = 0 to 400, north to y = 500, west to x = 300: fixes every
        // 45 s (450 m) at 0, 45 and 90 s.
        let path = [(0.0, 100.0), (400.0, 100.0), (400.0, 500.0), (300.0, 500.0)];
        let (roads, matched) = plowed(&net, &fixes(&path, 45.0, 0));
        let want: BTreeSet<FeatureId> = [1001, 1011, 1021, 1031, 2041, 2042, 2043, 2044, 1035].into();
        assert_eq!(roads, want);
        assert_eq!(matched.len(), 3);
        // Times are interpolated along the route: the first road is left early.
        let first = matched[1].timed().find(|(s, _)| net.edge(s.edge).road == 1001).unwrap().1;
        assert!((8_000..12_000).contains(&first), "{first}");
    }

    #[test]
    fn a_bridge_is_not_a_junction() {
        // A bridge crossing the grid diagonally from (-50, 250) to (550, 250)… along y = 250, with
        // no shared vertex: a vehicle on it never turns onto the grid.
        let bridge = Feature {
            id: 9,
            geometry: Geometry::LineString(LineString::from(vec![(-50.0, 250.0), (550.0, 250.0)])),
            attributes: vec![AttrValue::Null],
        };
        let net = grid(vec![bridge]);
        let (roads, _) = plowed(&net, &fixes(&[(-50.0, 250.0), (550.0, 250.0)], 20.0, 0));
        assert_eq!(roads, [9].into());
    }

    #[test]
    fn a_drive_through_a_depot_invents_no_road() {
        let net = grid(vec![]);
        // Along y = 0 to x = 200, then off the network into a yard south of it (200 m away from
        // every road) for five minutes, then back onto the grid at x = 500.
        let mut obs = fixes(&[(0.0, 0.0), (200.0, 0.0)], 10.0, 0);
        let t = obs.last().unwrap().ms;
        for k in 1..=10 {
            obs.push(Observation {
                id: 100 + k,
                ms: t + k * 30_000,
                at: Coord { x: 250.0 + k as f64 * 20.0, y: -250.0 },
                heading_deg: None,
                speed_mps: Some(3.0),
                plowing: true,
            });
        }
        let back = fixes(&[(500.0, 0.0), (500.0, 300.0)], 10.0, t + 330_000);
        obs.extend(back.into_iter().map(|o| Observation { id: o.id + 200, ..o }));
        let (roads, matched) = plowed(&net, &obs);
        assert_eq!(roads, [1000, 1010, 2050, 2051, 2052].into());
        assert!(matched.iter().filter(|m| (101..=110).contains(&m.id)).all(|m| m.at.is_none()));
    }

    #[test]
    fn an_outlier_is_held_over_and_a_long_gap_breaks_the_chain() {
        let net = grid(vec![]);
        let mut obs = fixes(&[(0.0, 200.0), (500.0, 200.0)], 12.5, 0);
        // One fix thrown 120 m north, onto the street at y = 300.
        obs[2].at.y += 110.0;
        let (roads, matched) = plowed(&net, &obs);
        assert_eq!(roads, [1002, 1012, 1022, 1032, 1042].into());
        assert_eq!(matched.iter().filter(|m| m.at.is_none()).map(|m| m.id).collect::<Vec<_>>(), [2]);

        // Silent for ten minutes between two streets: nothing is drawn between them.
        let mut obs = fixes(&[(0.0, 100.0), (200.0, 100.0)], 10.0, 0);
        let later = fixes(&[(400.0, 300.0), (500.0, 300.0)], 10.0, 600_000 + obs.last().unwrap().ms);
        obs.extend(later.into_iter().map(|o| Observation { id: o.id + 100, ..o }));
        let (roads, _) = plowed(&net, &obs);
        assert_eq!(roads, [1001, 1011, 1043].into());
    }
}
