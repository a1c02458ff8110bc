//! Route inference in the live pipeline: each vehicle's stored fixes go, in time order, through
//! its [`Matcher`] over the road network; what the matchers commit (each fix's road, the
//! stretches driven plowing) is recorded in the store in one transaction and added to the
//! roads' coverage, from which [`super::plowed`] writes the roads' plowed times.
//!
//! Matching runs in its own task, after the fixes are stored and acknowledged: a slow match
//! never holds up ingest or the live map. The network is rebuilt from the `roads` layer when
//! its features change (an edit, an import, the change feed), never for the plowed times the
//! server writes itself. A vehicle silent for [`Params::max_gap_s`] has its pending fixes
//! committed. At start, matching resumes from each vehicle's newest recorded match (fixes
//! stored after it, before a crash, are matched again), and the coverage is rebuilt from the
//! passes stored since the horizon.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::Utc;
use geo::Coord;
use tokio::sync::mpsc;

use super::vehicle::Vehicle;
use super::{Live, LiveError, ROADS, iso_ms, parse_ms, plowing};
use crate::feature::FeatureId;
use crate::network::RoadNetwork;
use crate::network::coverage::Pass;
use crate::network::matching::{Matched, Matcher, Observation, Params};
use crate::store::{FixMatch, FixRow, Matches, PassRow, Progress};

/// A vehicle's fixes to match, in time order.
pub(super) type ToMatch = Vec<(String, Observation)>;
/// Fixes the matchers committed, by vehicle.
type Committed = Vec<(String, Matched)>;

impl Live {
    /// The matcher's settings from the configuration.
    pub(super) fn match_params(&self) -> Params {
        Params { sigma_m: self.config.gps_sigma_m, radius_m: self.config.match_radius_m, ..Params::default() }
    }

    /// The road network as the `roads` layer is now (rebuilt if its features changed).
    pub fn network(&self) -> Option<Arc<RoadNetwork>> {
        let edits = self.engine.edits(ROADS);
        let mut net = self.network.lock().expect("not poisoned");
        if net.as_ref().is_none_or(|(e, _)| *e != edits) {
            let roads = self.engine.layer(ROADS)?;
            let oneway = roads.def.attribute_index("oneway");
            let started = std::time::Instant::now();
            let built = Arc::new(RoadNetwork::build(roads.features(), oneway));
            tracing::info!(
                edges = built.edges().len(),
                nodes = built.node_count(),
                ms = started.elapsed().as_millis() as u64,
                "road network built"
            );
            *net = Some((edits, built));
        }
        net.as_ref().map(|(_, n)| n.clone())
    }

    /// Matches fixes (vehicle, observation; each vehicle's in time order) and settles what
    /// the matchers commit.
    pub(super) async fn route(&self, fixes: ToMatch) {
        if let Some((net, done)) = self.match_fixes(fixes) {
            self.settle(&net, done).await;
        }
    }

    /// The matching half of [`Self::route`]: CPU only, so that the matcher task can run it on
    /// the matching thread, away from ingest and the streams.
    fn match_fixes(&self, fixes: ToMatch) -> Option<(Arc<RoadNetwork>, Committed)> {
        let net = self.network()?;
        let mut done: Committed = Vec::new();
        let mut matchers = self.matchers.lock().expect("not poisoned");
        let mut out = Vec::new();
        let now = Instant::now();
        for (vehicle, obs) in fixes {
            let (m, arrived) =
                matchers.entry(vehicle.clone()).or_insert_with(|| (Matcher::new(self.match_params()), now));
            *arrived = now;
            m.push(&net, obs, &mut out);
            done.extend(out.drain(..).map(|m| (vehicle.clone(), m)));
        }
        drop(matchers);
        Some((net, done))
    }

    /// Commits the pending fixes of vehicles from which nothing has arrived for longer than a
    /// chain may wait (by the server's clock: a tracker uploading an old run is not silent).
    pub(super) async fn finish_silent(&self) {
        let Some(net) = self.network() else { return };
        let gap = Duration::from_secs_f64(self.match_params().max_gap_s);
        let mut done = Vec::new();
        {
            let mut matchers = self.matchers.lock().expect("not poisoned");
            for (vehicle, (m, arrived)) in matchers.iter_mut() {
                if m.pending() > 0 && arrived.elapsed() > gap {
                    let mut out = Vec::new();
                    m.finish(&mut out);
                    done.extend(out.into_iter().map(|o| (vehicle.clone(), o)));
                }
            }
        }
        self.settle(&net, done).await;
    }

    /// Records committed matches and adds their passes to the roads' coverage.
    async fn settle(&self, net: &RoadNetwork, done: Committed) {
        if done.is_empty() {
            return;
        }
        let mut matches = Matches::default();
        let mut newest: HashMap<String, i64> = HashMap::new();
        for (vehicle, m) in &done {
            matches.fixes.push(FixMatch { id: m.id, road: m.at.map(|p| net.edge(p.edge).road) });
            let t = newest.entry(vehicle.clone()).or_default();
            *t = (*t).max(m.ms);
            if m.plowing {
                matches.passes.extend(passes(net, m).into_iter().map(|(road, from_m, to_m, ms)| PassRow {
                    fix_id: m.id,
                    vehicle: vehicle.clone(),
                    road,
                    from_m,
                    to_m,
                    time: iso_ms(ms),
                }));
            }
        }
        matches.progress = newest.into_iter().map(|(vehicle, ms)| Progress { vehicle, time: iso_ms(ms) }).collect();
        self.cover(&matches.passes);
        if let Err(e) = self.store.record_matches(&matches).await {
            // Matching resumes from the last recorded progress after a restart.
            tracing::warn!(error = %e, "matched routes not recorded");
        }
    }

    /// Adds passes to the roads' coverage, to be written by the next flush.
    pub(super) fn cover(&self, passes: &[PassRow]) {
        let mut coverage = self.coverage.lock().expect("not poisoned");
        let mut touched = self.touched.lock().expect("not poisoned");
        for p in passes {
            coverage.entry(p.road).or_default().add(Pass { from: p.from_m, to: p.to_m, ms: parse_ms(&p.time) });
            touched.insert(p.road);
        }
    }

    /// Rebuilds the coverage from the stored passes, and matches again the fixes stored after
    /// each vehicle's newest recorded match.
    pub(super) async fn resume(&self, registry: &HashMap<String, Arc<Vehicle>>) -> Result<(), LiveError> {
        let horizon = iso_ms(self.horizon().timestamp_millis());
        let stored = self.store.passes(&horizon).await?;
        self.cover(&stored);
        let progress: HashMap<String, String> =
            self.store.match_progress().await?.into_iter().map(|p| (p.vehicle, p.time)).collect();
        let to = iso_ms(Utc::now().timestamp_millis() + 86_400_000);
        for (id, v) in registry {
            let from = progress.get(id).filter(|t| **t > horizon).unwrap_or(&horizon);
            let fixes = self.fixes_between(Some(id), from, &to, usize::MAX).await?;
            let obs: ToMatch = fixes
                .iter()
                .filter(|f| f.flags.is_none())
                .filter_map(|f| Some((id.clone(), observation(f, self.to_store(f.lon, f.lat)?, v))))
                .collect();
            if !obs.is_empty() {
                tracing::info!(vehicle = %id, fixes = obs.len(), "matching resumed");
                self.route(obs).await;
            }
        }
        Ok(())
    }
}

/// A stored, plausible fix of `v` at `(x, y)` (store CRS) as the matcher takes it.
pub(super) fn observation(f: &FixRow, (x, y): (f64, f64), v: &Vehicle) -> Observation {
    Observation {
        id: f.id,
        ms: parse_ms(&f.time),
        at: Coord { x, y },
        heading_deg: f.heading_deg,
        speed_mps: f.speed_mps,
        plowing: plowing(v, f),
    }
}

/// The roads a committed route drove: (road, from, to, ms left), stretches of one road in a row
/// merged.
fn passes(net: &RoadNetwork, m: &Matched) -> Vec<(FeatureId, f64, f64, i64)> {
    let mut out: Vec<(FeatureId, f64, f64, i64)> = Vec::new();
    for (s, ms) in m.timed() {
        if s.length() <= 0.0 {
            continue;
        }
        let (road, from, to) = net.on_road(&s);
        match out.last_mut() {
            Some(last) if last.0 == road && ((from - last.2).abs() < 0.01 || (to - last.1).abs() < 0.01) => {
                last.1 = last.1.min(from);
                last.2 = last.2.max(to);
                last.3 = ms;
            }
            _ => out.push((road, from, to, ms)),
        }
    }
    out
}

/// Matches the fixes the writer hands over, a batch at a time, on the matching thread.
pub(super) async fn matcher(live: Weak<Live>, mut rx: mpsc::Receiver<ToMatch>) {
    while let Some(mut batch) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            batch.extend(more);
            if batch.len() >= 10_000 {
                break;
            }
        }
        let Some(live) = live.upgrade() else { return };
        let (tx, rx_done) = tokio::sync::oneshot::channel();
        let matching = live.clone();
        background().spawn(move || {
            let _ = tx.send(matching.match_fixes(batch));
        });
        match rx_done.await {
            Ok(Some((net, done))) => live.settle(&net, done).await,
            Ok(None) => {}
            Err(_) => tracing::error!("matching failed"),
        }
    }
}

/// The matching thread: one, below the other threads' priority, so that route inference, which
/// may lag, yields the CPU to ingest and the live streams, which may not.
fn background() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "matcher".into())
            .start_handler(|_| {
                if !crate::priority::lower(10, false) {
                    tracing::warn!("matching thread priority not lowered");
                }
            })
            // A panic drops the batch's answer (logged by the task) instead of aborting.
            .panic_handler(|_| tracing::error!("matching panicked"))
            .build()
            .expect("a thread can be started")
    })
}
