//! Simulated vehicles driving the network: a plow's night, as legs of shortest routes between
//! random places, with turns where the routes turn, U-turns, stops, and the blade lifted now
//! and then. Used by the live demo (plows that move on the demo city's map) and by the matching
//! accuracy harness (where the drive sampled every second is the ground truth).

use geo_types::Coord;
use rand::Rng;

use super::{Position, RoadNetwork, Stretch};

/// A moment of a drive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ms: i64,
    pub at: Coord<f64>,
    /// Degrees from grid north.
    pub heading_deg: f64,
    pub speed_mps: f64,
    pub blade_down: bool,
}

/// A drive: what was driven, and where the vehicle was each second.
#[derive(Debug, Clone, Default)]
pub struct Drive {
    /// Every stretch driven, in order, with whether the blade was down and when the vehicle
    /// left it (ms).
    pub route: Vec<(Stretch, bool, i64)>,
    pub samples: Vec<Sample>,
}

/// How drives are made.
#[derive(Debug, Clone, Copy)]
pub struct DriveParams {
    /// Length of each leg (metres).
    pub leg_m: (f64, f64),
    /// Speed (m/s) of each leg.
    pub speed_mps: (f64, f64),
    /// Chances, at the end of a leg, of turning round, of stopping, of lifting the blade for the
    /// next leg.
    pub u_turn: f64,
    pub stop: f64,
    pub blade_up: f64,
    /// How long a stop lasts (s).
    pub stop_s: (u32, u32),
}

impl Default for DriveParams {
    fn default() -> Self {
        Self {
            leg_m: (400.0, 2500.0),
            speed_mps: (5.0, 12.0),
            u_turn: 0.1,
            stop: 0.2,
            blade_up: 0.0,
            stop_s: (20, 120),
        }
    }
}

/// A drive of about `seconds` starting at `start_ms` from a random place (or `from`), sampled
/// every second.
pub fn drive(
    net: &RoadNetwork,
    rng: &mut impl Rng,
    params: &DriveParams,
    start_ms: i64,
    seconds: u32,
    from: Option<Position>,
) -> Drive {
    let mut out = Drive::default();
    if net.edges().is_empty() {
        return out;
    }
    let mut here = from.unwrap_or_else(|| random_position(net, rng));
    let mut forward =
        rng.random_bool(0.5) && net.edge(here.edge).oneway.allows(true) || !net.edge(here.edge).oneway.allows(false);
    let mut ms = start_ms;
    let end = start_ms + i64::from(seconds) * 1000;
    let mut blade = true;
    let mut tries = 0;
    while ms < end && tries < 200 {
        let leg = rng.random_range(params.leg_m.0..params.leg_m.1);
        let reach = net.distances(net.exit(here, forward), leg * 1.5);
        // A random place about a leg away, reachable from here: uniform over the length of
        // the roads that lead on from the nodes that far.
        let mut far: Vec<(u32, bool)> = reach
            .dist
            .iter()
            .filter(|&(_, &d)| d >= leg * 0.5)
            .flat_map(|(&n, _)| net.leaving(n).iter().copied())
            .collect();
        far.sort_unstable();
        let total: f64 = far.iter().map(|&(e, _)| net.edge(e).length()).sum();
        if far.is_empty() {
            tries += 1;
            here = random_position(net, rng);
            forward = net.edge(here.edge).oneway.allows(true);
            continue;
        }
        let mut pick = rng.random_range(0.0..total.max(1e-9));
        let &(edge, edge_forward) = far
            .iter()
            .find(|&&(e, _)| {
                pick -= net.edge(e).length();
                pick < 0.0
            })
            .unwrap_or(&far[0]);
        let len = net.edge(edge).length();
        let offset = rng.random_range(0.0..len.max(0.001));
        let target = Position { edge, offset };
        let Some((_, route)) = net.route_through(here, forward, target, edge_forward, &reach) else {
            tries += 1;
            continue;
        };
        let speed = rng.random_range(params.speed_mps.0..params.speed_mps.1);
        ms = sample(net, &route, blade, speed, ms, &mut out);
        here = target;
        forward = edge_forward;
        if rng.random_bool(params.stop) {
            let stop_s = rng.random_range(params.stop_s.0..=params.stop_s.1);
            let at = net.edge(here.edge).point_at(here.offset);
            let heading = net.edge(here.edge).bearing_at(here.offset) + if forward { 0.0 } else { 180.0 };
            for _ in 0..stop_s {
                ms += 1000;
                out.samples.push(Sample { ms, at, heading_deg: heading % 360.0, speed_mps: 0.0, blade_down: blade });
            }
        }
        if rng.random_bool(params.u_turn) && net.edge(here.edge).oneway.allows(!forward) {
            forward = !forward;
        }
        blade = !rng.random_bool(params.blade_up);
    }
    out
}

/// A position on a random edge, edges weighted by length.
pub fn random_position(net: &RoadNetwork, rng: &mut impl Rng) -> Position {
    let total: f64 = net.edges().iter().map(|e| e.length()).sum();
    let mut pick = rng.random_range(0.0..total.max(1e-9));
    for (i, e) in net.edges().iter().enumerate() {
        if pick < e.length() {
            return Position { edge: i as u32, offset: pick };
        }
        pick -= e.length();
    }
    Position { edge: 0, offset: 0.0 }
}

/// Samples a route every second at `speed`, from `ms`; returns the time at its end.
fn sample(net: &RoadNetwork, route: &[Stretch], blade: bool, speed: f64, mut ms: i64, out: &mut Drive) -> i64 {
    let mut carry = 0.0; // metres already driven past the last sample
    let mut left = ms as f64;
    for s in route {
        left += s.length() / speed * 1000.0;
        out.route.push((*s, blade, left.round() as i64));
        let e = net.edge(s.edge);
        let len = s.length();
        let dir = if s.to >= s.from { 1.0 } else { -1.0 };
        let mut at = speed - carry;
        while at <= len {
            ms += 1000;
            let offset = s.from + dir * at;
            let heading_deg = (e.bearing_at(offset) + if dir > 0.0 { 0.0 } else { 180.0 }) % 360.0;
            out.samples.push(Sample { ms, at: e.point_at(offset), heading_deg, speed_mps: speed, blade_down: blade });
            at += speed;
        }
        carry = len - (at - speed);
    }
    ms
}
