//! The plowed-road accuracy harness: simulated plows drive real road networks (imported with
//! `machizu import`), each drive sampled every second is the ground truth, and the tracker's
//! view of it (a fix every 15–120 s, GPS noise, outliers, timestamp jitter) goes through a
//! matcher. Recall is the share of the roads driven that the matcher marks plowed; precision
//! the share of the roads it marks that were driven.
//!
//! A road counts as driven when the truth covers at least the plowed threshold of it (70 %)
//! while plowing. Roads the truth covered only in part (between half the threshold and the
//! threshold) are left out of both counts: whether they "were plowed" is a matter of taste, not
//! of matching. Used by `tests/plowed_accuracy.rs` (targets asserted on a small run) and
//! `examples/plowed_accuracy.rs` (the table in docs/benchmarks.md).
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use geo_types::Coord;
use machizu::catalog::Catalog;
use machizu::config::{Config, FileConfig, Overrides};
use machizu::crs::Epsg;
use machizu::engine::LayerData;
use machizu::feature::{Feature, FeatureId};
use machizu::network::coverage::{Pass, RoadPasses};
use machizu::network::drive::{Drive, DriveParams, drive};
use machizu::network::matching::{Matched, Matcher, Observation, Params};
use machizu::network::{RoadNetwork, Stretch};
use machizu::store::Store;
use machizu::store::gpkg::GpkgStore;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const THRESHOLD: f64 = 0.7;
const WINDOW_MS: i64 = 6 * 3_600_000;

/// A real road network, as `machizu import` stores it.
pub struct Network {
    pub name: String,
    pub crs: Epsg,
    pub roads: Vec<Feature>,
    pub net: RoadNetwork,
    pub layer: LayerData,
}

/// Imports the roads of `file` with `machizu` (the binary at `bin`) into a store in `crs`
/// (a projected CRS in metres around the data), then builds the network.
pub async fn import(bin: &Path, name: &str, file: &Path, crs: Epsg, args: &[&str]) -> Network {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[city]\nname_ja = \"{name}\"\nname_en = \"{name}\"\ncode = \"00000\"\ncrs = \"EPSG:{}\"\n\
         bounds = [-180.0, -85.0, 180.0, 85.0]\ncenter = [0.0, 0.0]\nzoom = 13.0\n",
        crs.0
    );
    std::fs::write(dir.path().join("city.toml"), &config).unwrap();
    let out = Command::new(bin)
        .arg("import")
        .arg(file)
        .args(["--layer", "roads", "--config"])
        .arg(dir.path().join("city.toml"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "import {name}: {}", String::from_utf8_lossy(&out.stderr));
    let file_config: FileConfig = toml::from_str(&config).unwrap();
    let catalog: Catalog = Config::resolve(file_config, Overrides::default()).unwrap().catalog;
    let store = GpkgStore::open_in(&dir.path().join("data"), crs).await.unwrap();
    store.prepare(&catalog).await.unwrap();
    let def = catalog.get("roads").unwrap().clone();
    let roads = store.load(&def).await.unwrap();
    let net = RoadNetwork::build(&roads, def.attribute_index("oneway"));
    let layer = LayerData::build(def, roads.clone(), crs).unwrap();
    Network { name: name.to_owned(), crs, roads, net, layer }
}

/// How the tracker sees a drive.
#[derive(Debug, Clone, Copy)]
pub struct Tracker {
    pub interval_s: u32,
    pub sigma_m: f64,
    /// Share of fixes thrown 100–300 m off.
    pub outliers: f64,
    /// Reported times off by up to this (s).
    pub jitter_s: f64,
    /// Whether the device reports heading and speed.
    pub heading: bool,
}

/// The fixes a tracker reports of a drive: (observation, true position).
pub fn degrade(d: &Drive, t: &Tracker, rng: &mut impl Rng, first_id: i64) -> Vec<Observation> {
    let phase = rng.random_range(0..t.interval_s.max(1)) as usize;
    let mut out = Vec::new();
    for (k, s) in d.samples.iter().enumerate().skip(phase).step_by(t.interval_s.max(1) as usize) {
        let (mut dx, mut dy) = (gauss(rng) * t.sigma_m, gauss(rng) * t.sigma_m);
        if rng.random_bool(t.outliers) {
            let (r, a) = (rng.random_range(100.0..300.0), rng.random_range(0.0..std::f64::consts::TAU));
            (dx, dy) = (r * a.cos(), r * a.sin());
        }
        let jitter = (rng.random_range(-1.0..1.0) * t.jitter_s * 1000.0) as i64;
        out.push(Observation {
            id: first_id + k as i64,
            ms: s.ms + jitter,
            at: Coord { x: s.at.x + dx, y: s.at.y + dy },
            heading_deg: (t.heading && s.speed_mps > 0.0).then(|| s.heading_deg + gauss(rng) * 5.0),
            speed_mps: t.heading.then_some(s.speed_mps),
            plowing: s.blade_down,
        });
    }
    out
}

/// A standard normal deviate (Box–Muller).
fn gauss(rng: &mut impl Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random_range(0.0..1.0));
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Roads as the coverage rule judges them, from stretches driven plowing with times.
fn plowed_roads(net: &RoadNetwork, stretches: impl IntoIterator<Item = (Stretch, i64)>) -> HashMap<FeatureId, f64> {
    let mut passes: HashMap<FeatureId, RoadPasses> = HashMap::new();
    for (s, ms) in stretches {
        let (road, from, to) = net.on_road(&s);
        passes.entry(road).or_default().add(Pass { from, to, ms });
    }
    passes
        .into_iter()
        .map(|(road, p)| {
            let length = net.road_length(road).unwrap_or(0.0);
            let share = machizu::network::coverage::share(p.iter(), length);
            let plowed = p.plowed(length, THRESHOLD, WINDOW_MS).at_ms.is_some();
            (road, if plowed { share.max(THRESHOLD) } else { share.min(THRESHOLD - 1e-9) })
        })
        .collect()
}

/// The outcome of one matcher on one setting.
#[derive(Debug, Clone, Copy, Default)]
pub struct Score {
    pub driven: usize,
    pub marked: usize,
    pub hits: usize,
    pub fixes: usize,
    pub seconds: f64,
}

impl Score {
    pub fn recall(&self) -> f64 {
        self.hits as f64 / self.driven.max(1) as f64
    }
    pub fn precision(&self) -> f64 {
        self.hits as f64 / self.marked.max(1) as f64
    }
    pub fn fixes_per_s(&self) -> f64 {
        self.fixes as f64 / self.seconds.max(1e-9)
    }
    fn add(&mut self, o: Score) {
        self.driven += o.driven;
        self.marked += o.marked;
        self.hits += o.hits;
        self.fixes += o.fixes;
        self.seconds += o.seconds;
    }
}

/// Simulated drives over a network.
pub fn drives(n: &Network, vehicles: usize, seconds: u32, seed: u64) -> Vec<Drive> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..vehicles)
        .map(|v| {
            drive(&n.net, &mut rng, &DriveParams::default(), 1_700_000_000_000 + v as i64 * 86_400_000, seconds, None)
        })
        .collect()
}

/// Scores route inference (the HMM) and point-only matching on the same fixes.
pub fn evaluate(n: &Network, drives: &[Drive], t: &Tracker, seed: u64) -> (Score, Score) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fixes: Vec<Vec<Observation>> =
        drives.iter().enumerate().map(|(i, d)| degrade(d, t, &mut rng, i as i64 * 1_000_000)).collect();
    // The truth: what was driven plowing between the first and the last fix reported.
    let observed = |d: &Drive, obs: &[Observation]| {
        let (first, last) = (obs.first().map_or(0, |o| o.ms), obs.last().map_or(0, |o| o.ms));
        let starts = std::iter::once(d.samples.first().map_or(0, |s| s.ms - 1000)).chain(d.route.iter().map(|r| r.2));
        d.route
            .iter()
            .zip(starts)
            .filter(move |((_, blade, end), start)| *blade && *start >= first && *end <= last)
            .map(|((s, _, _), _)| (*s, 0))
            .collect::<Vec<_>>()
    };
    let truth = plowed_roads(&n.net, drives.iter().zip(&fixes).flat_map(|(d, obs)| observed(d, obs)));
    let driven: HashSet<FeatureId> = truth.iter().filter(|(_, c)| **c >= THRESHOLD).map(|(r, _)| *r).collect();
    let partly: HashSet<FeatureId> =
        truth.iter().filter(|(_, c)| **c >= THRESHOLD / 2.0 && **c < THRESHOLD).map(|(r, _)| *r).collect();
    let judge = |marked: HashSet<FeatureId>, count: usize, seconds: f64| {
        let marked: HashSet<FeatureId> = marked.difference(&partly).copied().collect();
        Score {
            driven: driven.len(),
            marked: marked.len(),
            hits: marked.intersection(&driven).count(),
            fixes: count,
            seconds,
        }
    };
    let count = fixes.iter().map(Vec::len).sum();

    // Route inference.
    let params = Params { sigma_m: t.sigma_m.max(5.0), ..Params::default() };
    let started = Instant::now();
    let mut matched: Vec<Matched> = Vec::new();
    for obs in &fixes {
        let mut m = Matcher::new(params);
        for o in obs {
            m.push(&n.net, *o, &mut matched);
        }
        m.finish(&mut matched);
    }
    let seconds = started.elapsed().as_secs_f64();
    let stretches = matched.iter().filter(|m| m.plowing).flat_map(|m| m.timed().collect::<Vec<_>>());
    let hmm_shares = plowed_roads(&n.net, stretches);
    let hmm: HashSet<FeatureId> = hmm_shares.into_iter().filter(|(_, c)| *c >= THRESHOLD).map(|(r, _)| r).collect();
    let hmm = judge(hmm, count, seconds);

    // Point-only: each plowing fix marks the road it sits on, as before route inference.
    let started = Instant::now();
    let mut touched = HashSet::new();
    for obs in &fixes {
        let mut prev: Option<&Observation> = None;
        for o in obs {
            let heading = o.heading_deg.or_else(|| {
                prev.filter(|p| (o.at.x - p.at.x).hypot(o.at.y - p.at.y) >= 5.0)
                    .map(|p| (o.at.x - p.at.x).atan2(o.at.y - p.at.y).to_degrees())
            });
            let moving = o.speed_mps.is_none_or(|v| v >= 1.0);
            if let (true, true, Some(h)) = (o.plowing, moving, heading)
                && let Some(road) = point_match(&n.layer, o.at, h)
            {
                touched.insert(road);
            }
            prev = Some(o);
        }
    }
    let point = judge(touched, count, started.elapsed().as_secs_f64());
    (hmm, point)
}

/// Both scores summed over several networks.
pub fn total(scores: &[(Score, Score)]) -> (Score, Score) {
    let mut out = (Score::default(), Score::default());
    for (a, b) in scores {
        out.0.add(*a);
        out.1.add(*b);
    }
    out
}

/// Point-only matching, as machizu did before route inference: the nearest road segment
/// within 20 m whose direction, either way, is within 35° of the heading.
fn point_match(roads: &LayerData, at: Coord<f64>, heading_deg: f64) -> Option<FeatureId> {
    use geo::{Distance, Euclidean, Point, Rect};
    const RADIUS: f64 = 20.0;
    let area = Rect::new(Coord { x: at.x - RADIUS, y: at.y - RADIUS }, Coord { x: at.x + RADIUS, y: at.y + RADIUS });
    let mut best: Option<(f64, FeatureId)> = None;
    for f in roads.in_box(area).map(|s| roads.feature(s)) {
        let lines: Vec<geo::Line<f64>> = match &f.geometry {
            geo_types::Geometry::LineString(l) => l.lines().collect(),
            geo_types::Geometry::MultiLineString(m) => m.0.iter().flat_map(|l| l.lines()).collect(),
            _ => continue,
        };
        for line in lines {
            let d = Euclidean.distance(&line, &Point::from(at));
            if d > RADIUS || best.is_some_and(|(b, _)| b <= d) || line.start == line.end {
                continue;
            }
            let axis = (line.dx().atan2(line.dy()).to_degrees() - heading_deg).rem_euclid(180.0);
            if axis.min(180.0 - axis) <= 35.0 {
                best = Some((d, f.id));
            }
        }
    }
    best.map(|(_, id)| id)
}
