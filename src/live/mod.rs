//! Live vehicle positions: from the trackers' reports to the live map, the stream and the
//! roads' "last plowed" times.
//!
//! ```text
//! tracker ─(OsmAnd/Traccar/batch/MQTT)→ http::live ─→ Live::ingest ─→ writer task
//!   writer: plausibility (check) → one store transaction per batch (group commit: every
//!           request waiting at that moment) → reply 2xx → vehicle state, dirty set, trails
//!           → matcher task (route): each vehicle's fixes through its HMM matcher over the
//!           road network → matches and passes recorded → roads' coverage
//!   publisher (every 50 ms while anything moved): snowplow layers in the engine (tiles) and
//!           one frame per audience on the broadcast channel (SSE and WebSocket clients)
//!   ticker (every second / minute): roads' last_plowed_at and plowed_class (store, then
//!           engine); vehicles' age; silent vehicles leave the map; old fixes thinned
//! ```
//!
//! A fix is acknowledged only after its transaction commits. The plowed times written to the
//! roads are derived from the stored passes, and matching resumes from each vehicle's newest
//! recorded match at start, so a crash between a fix and its road update loses nothing.
//!
//! Public callers see the `snowplows` layer and frames holding only vehicles marked public,
//! with their public label and kind; staff see `snowplows_fleet` and everything.

pub mod check;
pub mod demo;
pub mod fix;
pub mod mqtt;
mod plowed;
pub mod report;
mod route;
pub mod trail;
/// The vehicle registry lives with the store that keeps it.
pub use crate::store::{iso, vehicle};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, mpsc, oneshot};

use crate::catalog::Audience;
use crate::config::LiveConfig;
use crate::crs::{Epsg, with_transformer};
use crate::engine::Engine;
use crate::feature::{AttrValue, Feature, FeatureId};
use crate::network::RoadNetwork;
use crate::network::coverage::RoadPasses;
use crate::network::matching::Matcher;
use crate::store::{FixRow, Store, StoreError};
use check::Seen;
use fix::{Fix, FixError};
pub use plowed::{plowed_class, plowed_words};
use trail::{Trail, TrailPoint};
use vehicle::{NewVehicle, Vehicle};

/// The public layer of vehicle positions (public vehicles only).
pub const SNOWPLOWS: &str = "snowplows";
/// The staff layer of vehicle positions (every vehicle).
pub const FLEET: &str = "snowplows_fleet";
/// The staff layer of trails.
pub const TRAILS: &str = "snowplow_trails";
/// The layer fixes are matched to.
pub const ROADS: &str = "roads";
/// The most fixes written in one transaction.
const MAX_BATCH: usize = 10_000;
/// How long a device lookup is remembered: a revocation made by another process (the CLI)
/// takes effect within this time; one made through this server's API at once.
const DEVICE_TTL: Duration = Duration::from_secs(2);
/// How often moved vehicles are published.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// Why positions were not taken.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{0}")]
    Bad(#[from] FixError),
    #[error("unknown or revoked device")]
    UnknownDevice,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("positions could not be stored: {0}")]
    Write(String),
    #[error("live configuration: {0}")]
    Config(String),
}

/// What became of a batch of fixes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Ingested {
    /// Stored now.
    pub accepted: usize,
    /// Already stored before (same vehicle and device time): not stored again.
    pub duplicates: usize,
    /// Of the accepted, how many were implausible (kept, but off the map).
    pub flagged: usize,
}

/// One moment's changes on the live map, encoded once per audience: a GeoJSON
/// FeatureCollection of the vehicles that moved, with `removed` listing vehicles that left.
#[derive(Debug)]
pub struct Frame {
    pub staff: Arc<str>,
    /// `None` when nothing in it is public.
    pub public: Option<Arc<str>>,
}

impl Frame {
    pub fn for_audience(&self, audience: Audience) -> Option<&Arc<str>> {
        match audience {
            Audience::Staff => Some(&self.staff),
            Audience::Public => self.public.as_ref(),
        }
    }
}

struct Job {
    fixes: Vec<(Arc<Vehicle>, Fix)>,
    done: oneshot::Sender<Result<Ingested, String>>,
}

/// What the server knows of a vehicle now.
struct VehicleState {
    vehicle: Arc<Vehicle>,
    /// The newest plausible fix (by device time).
    latest: Option<FixRow>,
}

impl VehicleState {
    fn seen(&self) -> Option<Seen> {
        self.latest.as_ref().map(seen)
    }
}

fn seen(f: &FixRow) -> Seen {
    Seen { ms: parse_ms(&f.time), lon: f.lon, lat: f.lat }
}

fn parse_ms(t: &str) -> i64 {
    DateTime::parse_from_rfc3339(t).map_or(0, |t| t.timestamp_millis())
}

/// The live side of the server. Made by [`Live::start`], which spawns its tasks.
pub struct Live {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    config: LiveConfig,
    /// The city's `[west, south, east, north]`.
    extent: [f64; 4],
    devices: moka::sync::Cache<String, Option<Arc<Vehicle>>>,
    jobs: mpsc::Sender<Job>,
    vehicles: Mutex<HashMap<String, VehicleState>>,
    /// Vehicles moved (or gone) since the last publication.
    dirty: Mutex<HashSet<String>>,
    moved: Arc<Notify>,
    /// Each vehicle's trail over the last hours.
    trails: Mutex<HashMap<String, Trail>>,
    /// Trail pieces changed since the last publication: (vehicle, piece).
    pieces: Mutex<HashSet<(String, i64)>>,
    /// The road network and the roads layer's edit count it was built at.
    network: Mutex<Option<(u64, Arc<RoadNetwork>)>>,
    /// Each vehicle's route matcher, and when its last fix arrived.
    matchers: Mutex<HashMap<String, (Matcher, std::time::Instant)>>,
    /// Fixes stored, to be matched (the matcher task's queue).
    routes: mpsc::Sender<route::ToMatch>,
    /// Each road's passes since the horizon.
    coverage: Mutex<HashMap<FeatureId, RoadPasses>>,
    /// Roads with new passes since the last flush.
    touched: Mutex<HashSet<FeatureId>>,
    frames: broadcast::Sender<Arc<Frame>>,
}

impl Live {
    /// Loads the registry, each vehicle's newest position and the plowed roads from the store,
    /// fills the live layers, and starts the writer, publisher and ticker tasks.
    pub async fn start(
        store: Arc<dyn Store>,
        engine: Arc<Engine>,
        config: LiveConfig,
        extent: [f64; 4],
    ) -> Result<Arc<Self>, LiveError> {
        let (jobs, rx) = mpsc::channel(4096);
        let (routes, to_match) = mpsc::channel(1024);
        let live = Arc::new(Self {
            store,
            engine,
            extent,
            devices: moka::sync::Cache::builder().time_to_live(DEVICE_TTL).max_capacity(10_000).build(),
            jobs,
            vehicles: Mutex::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
            moved: Arc::new(Notify::new()),
            network: Mutex::new(None),
            matchers: Mutex::new(HashMap::new()),
            routes,
            coverage: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashSet::new()),
            trails: Mutex::new(HashMap::new()),
            pieces: Mutex::new(HashSet::new()),
            frames: broadcast::channel(256).0,
            config,
        });
        live.load().await?;
        tokio::spawn(writer(Arc::downgrade(&live), rx));
        tokio::spawn(route::matcher(Arc::downgrade(&live), to_match));
        tokio::spawn(publisher(Arc::downgrade(&live), live.moved.clone()));
        tokio::spawn(ticker(Arc::downgrade(&live)));
        if let Some(url) = &live.config.mqtt_url {
            mqtt::spawn(Arc::downgrade(&live), url, live.config.mqtt_topic.clone()).map_err(LiveError::Config)?;
        }
        Ok(live)
    }

    pub fn config(&self) -> &LiveConfig {
        &self.config
    }

    /// How far back the live map and trails reach.
    fn horizon(&self) -> DateTime<Utc> {
        Utc::now() - chrono::Duration::hours(i64::from(self.config.trail_hours))
    }

    /// The start of the season: plowed times and whole fixes reach this far back.
    fn season_start(&self) -> DateTime<Utc> {
        Utc::now() - chrono::Duration::days(i64::from(self.config.retention_days))
    }

    async fn load(&self) -> Result<(), LiveError> {
        let registry: HashMap<String, Arc<Vehicle>> = self
            .store
            .vehicles()
            .await?
            .into_iter()
            .filter(|v| v.revoked_at.is_none())
            .map(|v| (v.id.clone(), Arc::new(v)))
            .collect();
        self.load_trails(&registry).await?;
        let latest = self.store.latest_fixes(&iso(self.horizon())).await?;
        {
            let mut vehicles = self.vehicles.lock().expect("not poisoned");
            for f in latest {
                if let Some(v) = registry.get(&f.vehicle) {
                    self.dirty.lock().expect("not poisoned").insert(v.id.clone());
                    vehicles.insert(v.id.clone(), VehicleState { vehicle: v.clone(), latest: Some(f) });
                }
            }
        }
        self.publish();
        // Coverage from the stored passes, then the fixes not matched before a restart; plowed
        // times for any road whose stored time is older.
        self.resume(&registry).await?;
        self.flush_plowed().await?;
        self.reclassify().await
    }

    /// Rebuilds the trails from the plausible fixes stored since the horizon.
    async fn load_trails(&self, registry: &HashMap<String, Arc<Vehicle>>) -> Result<(), LiveError> {
        let (from, to) = (iso(self.horizon()), iso(Utc::now() + chrono::Duration::days(1)));
        let mut offset = 0;
        loop {
            let page = self.store.fixes(None, &from, &to, 10_000, offset).await?;
            let n = page.len();
            let mut trails = self.trails.lock().expect("not poisoned");
            let mut pieces = self.pieces.lock().expect("not poisoned");
            for f in page.into_iter().filter(|f| f.flags.is_none()) {
                let Some(v) = registry.get(&f.vehicle) else { continue };
                let Some((x, y)) = self.to_store(f.lon, f.lat) else { continue };
                let point = TrailPoint { ms: parse_ms(&f.time), lon: f.lon, lat: f.lat, x, y, plowing: plowing(v, &f) };
                if let Some(piece) = trails.entry(f.vehicle.clone()).or_default().add(point) {
                    pieces.insert((f.vehicle, piece));
                }
            }
            if n < 10_000 {
                return Ok(());
            }
            offset += 10_000;
        }
    }

    /// A longitude/latitude in the store CRS.
    fn to_store(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        with_transformer(Epsg::WGS84, self.store.crs(), |t| t.point(lon, lat)).ok()?.ok()
    }

    /// The vehicle a device credential belongs to, if registered and not revoked.
    pub async fn vehicle(&self, credential: &str) -> Result<Arc<Vehicle>, LiveError> {
        let hash = crate::auth::hash_token(credential.trim());
        let found = match self.devices.get(&hash) {
            Some(found) => found,
            None => {
                let found = self.store.vehicle_by_device(&hash).await?.filter(|v| v.revoked_at.is_none()).map(Arc::new);
                self.devices.insert(hash, found.clone());
                found
            }
        };
        found.ok_or(LiveError::UnknownDevice)
    }

    /// Resolves each report's device, then stores them all (one transaction with whatever
    /// else is waiting); returns once they are durable. An unknown device refuses the lot.
    pub async fn ingest(&self, reports: Vec<Fix>) -> Result<Ingested, LiveError> {
        let mut fixes = Vec::with_capacity(reports.len());
        let mut known: HashMap<String, Arc<Vehicle>> = HashMap::new();
        for fix in reports {
            let v = match known.get(&fix.device) {
                Some(v) => v.clone(),
                None => {
                    let v = self.vehicle(&fix.device).await?;
                    known.insert(fix.device.clone(), v.clone());
                    v
                }
            };
            fixes.push((v, fix));
        }
        if fixes.is_empty() {
            return Ok(Ingested::default());
        }
        let (done, reply) = oneshot::channel();
        let n = fixes.len() as u64;
        self.jobs.send(Job { fixes, done }).await.map_err(|_| LiveError::Write("the writer has stopped".into()))?;
        let ingested =
            reply.await.map_err(|_| LiveError::Write("the writer has stopped".into()))?.map_err(LiveError::Write)?;
        crate::metrics::global().fixes.inc_by(n);
        Ok(ingested)
    }

    /// Writes a group of jobs in one transaction and answers each.
    async fn write(&self, jobs: Vec<Job>) {
        let received_at = iso(Utc::now());
        let mut newest: HashMap<String, Option<Seen>> = HashMap::new();
        let mut keys = HashSet::new();
        let mut rows = Vec::new();
        let mut owner = Vec::new();
        let mut counts = vec![Ingested::default(); jobs.len()];
        {
            let vehicles = self.vehicles.lock().expect("not poisoned");
            for (j, job) in jobs.iter().enumerate() {
                for (v, fix) in &job.fixes {
                    let here = Seen { ms: fix.time.timestamp_millis(), lon: fix.lon, lat: fix.lat };
                    if !keys.insert((v.id.clone(), here.ms)) {
                        counts[j].duplicates += 1;
                        continue;
                    }
                    let prev =
                        newest.entry(v.id.clone()).or_insert_with(|| vehicles.get(&v.id).and_then(VehicleState::seen));
                    let mut flags = check::flags(&here, fix.accuracy_m, prev.as_ref(), self.extent);
                    let at = self.to_store(fix.lon, fix.lat);
                    if at.is_none() && flags.is_empty() {
                        flags.push("outside");
                    }
                    if flags.is_empty() && at.is_some() && prev.is_none_or(|p| p.ms < here.ms) {
                        *prev = Some(here);
                    }
                    rows.push(row(v, fix, &received_at, &flags));
                    owner.push((j, at));
                }
            }
        }
        let ids = match self.store.insert_fixes(&rows).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(error = %e, fixes = rows.len(), "storing fixes failed");
                for job in jobs {
                    let _ = job.done.send(Err(e.to_string()));
                }
                return;
            }
        };
        let mut to_match = Vec::new();
        {
            let mut vehicles = self.vehicles.lock().expect("not poisoned");
            let mut dirty = self.dirty.lock().expect("not poisoned");
            let mut trails = self.trails.lock().expect("not poisoned");
            let mut pieces = self.pieces.lock().expect("not poisoned");
            let mut by_id: HashMap<&str, &Arc<Vehicle>> = HashMap::new();
            for job in &jobs {
                for (v, _) in &job.fixes {
                    by_id.insert(&v.id, v);
                }
            }
            for ((mut r, id), (j, at)) in rows.into_iter().zip(ids).zip(owner) {
                let Some(id) = id else {
                    counts[j].duplicates += 1;
                    continue;
                };
                r.id = id;
                counts[j].accepted += 1;
                if r.flags.is_some() {
                    counts[j].flagged += 1;
                    continue;
                }
                let v = by_id[r.vehicle.as_str()];
                if let Some((x, y)) = at {
                    let point =
                        TrailPoint { ms: parse_ms(&r.time), lon: r.lon, lat: r.lat, x, y, plowing: plowing(v, &r) };
                    if let Some(piece) = trails.entry(v.id.clone()).or_default().add(point) {
                        pieces.insert((v.id.clone(), piece));
                    }
                }
                let state =
                    vehicles.entry(v.id.clone()).or_insert_with(|| VehicleState { vehicle: v.clone(), latest: None });
                state.vehicle = v.clone();
                if let Some(at) = at {
                    to_match.push((v.id.clone(), route::observation(&r, at, v)));
                }
                if state.latest.as_ref().is_none_or(|l| parse_ms(&l.time) < parse_ms(&r.time)) {
                    dirty.insert(v.id.clone());
                    state.latest = Some(r);
                }
            }
        }
        self.moved.notify_one();
        for (job, n) in jobs.into_iter().zip(counts) {
            let _ = job.done.send(Ok(n));
        }
        to_match.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.ms.cmp(&b.1.ms)));
        if !to_match.is_empty() && self.routes.send(to_match).await.is_err() {
            tracing::warn!("the matcher has stopped");
        }
    }

    /// Puts moved vehicles into the live layers and sends a frame to every subscriber.
    fn publish(&self) {
        self.publish_trails();
        let moved: Vec<String> = self.dirty.lock().expect("not poisoned").drain().collect();
        if moved.is_empty() {
            return;
        }
        let now = Utc::now();
        let horizon = iso(self.horizon());
        let (mut fleet, mut public, mut staff_json, mut public_json) = (vec![], vec![], vec![], vec![]);
        let mut removed = vec![];
        {
            let vehicles = self.vehicles.lock().expect("not poisoned");
            for id in &moved {
                match vehicles.get(id).and_then(|s| s.latest.as_ref().filter(|l| l.time >= horizon).map(|l| (s, l))) {
                    Some((s, latest)) => {
                        let v = &s.vehicle;
                        let feature = self.feature(v, latest, now);
                        staff_json.push(vehicle_json(v, latest, Audience::Staff, None));
                        if v.public {
                            public.push(feature.clone());
                            public_json.push(vehicle_json(v, latest, Audience::Public, None));
                        }
                        fleet.push(feature);
                    }
                    None => removed.push(vehicles.get(id).map(|s| s.vehicle.num)),
                }
            }
        }
        let removed: Vec<FeatureId> = removed.into_iter().flatten().collect();
        for (layer, upserts) in [(FLEET, fleet), (SNOWPLOWS, public)] {
            if let Err(e) = self.engine.apply_changes(layer, upserts, &removed) {
                tracing::warn!(layer, error = %e, "live layer not updated");
            }
        }
        let collection = |features: Vec<Value>| -> Arc<str> {
            json!({"type": "FeatureCollection", "features": features, "removed": removed}).to_string().into()
        };
        let public = (!public_json.is_empty() || !removed.is_empty()).then(|| collection(public_json));
        let frame = Frame { staff: collection(staff_json), public };
        let _ = self.frames.send(Arc::new(frame));
    }

    /// Redraws the changed trail pieces in the trail layer.
    fn publish_trails(&self) {
        let changed: Vec<(String, i64)> = self.pieces.lock().expect("not poisoned").drain().collect();
        if changed.is_empty() {
            return;
        }
        let catalog = self.engine.catalog();
        let Some(def) = catalog.get(TRAILS) else { return };
        let now = Utc::now().timestamp_millis();
        let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
        {
            let vehicles = self.vehicles.lock().expect("not poisoned");
            let trails = self.trails.lock().expect("not poisoned");
            for (id, n) in changed {
                let Some(v) = vehicles.get(&id).map(|s| &s.vehicle) else { continue };
                let points = trails.get(&id).map(|t| t.piece(n)).unwrap_or_default();
                if points.len() < 2 {
                    deletes.push(piece_id(v, n));
                } else {
                    upserts.push(trail_feature(def, v, n, &points, now));
                }
            }
        }
        if let Err(e) = self.engine.apply_changes(TRAILS, upserts, &deletes) {
            tracing::warn!(error = %e, "trails not updated");
        }
    }

    /// Trails of the last `hours` (at most the trail hours), of one vehicle or all, as GeoJSON
    /// LineStrings in ten-minute pieces with their age; the public get public vehicles only.
    pub fn trails_json(&self, audience: Audience, vehicle: Option<&str>, hours: Option<u32>) -> Value {
        let hours = hours.unwrap_or(self.config.trail_hours).min(self.config.trail_hours);
        let now = Utc::now().timestamp_millis();
        let since = now - i64::from(hours) * 3_600_000;
        let vehicles = self.vehicles.lock().expect("not poisoned");
        let trails = self.trails.lock().expect("not poisoned");
        let mut list: Vec<(&Vehicle, &Trail)> = trails
            .iter()
            .filter(|(id, _)| vehicle.is_none_or(|v| v == id.as_str()))
            .filter_map(|(id, t)| vehicles.get(id).map(|s| (s.vehicle.as_ref(), t)))
            .filter(|(v, _)| audience == Audience::Staff || v.public)
            .collect();
        list.sort_by_key(|(v, _)| v.num);
        let mut features = Vec::new();
        for (v, t) in list {
            for (n, points) in t.pieces() {
                let points: Vec<&TrailPoint> = points.iter().filter(|p| p.ms >= since).collect();
                if points.len() < 2 {
                    continue;
                }
                let (first, last) = (points[0], points[points.len() - 1]);
                let mut p = json!({
                    "label": v.label, "kind": v.kind, "started_at": iso_ms(first.ms), "ended_at": iso_ms(last.ms),
                    "age_min": (now - last.ms).max(0) / 60_000, "plowing": points.iter().any(|p| p.plowing),
                });
                if audience == Audience::Staff {
                    p["vehicle_id"] = json!(v.id);
                }
                let coordinates: Vec<[f64; 2]> = points.iter().map(|p| [p.lon, p.lat]).collect();
                features.push(json!({"type": "Feature", "id": piece_id(v, n),
                    "geometry": {"type": "LineString", "coordinates": coordinates}, "properties": p}));
            }
        }
        json!({"type": "FeatureCollection", "features": features})
    }

    /// A vehicle's feature in the live layers (attributes by name; the layers share a schema).
    fn feature(&self, v: &Vehicle, f: &FixRow, now: DateTime<Utc>) -> Feature {
        let catalog = self.engine.catalog();
        let def = catalog.get(FLEET).or_else(|| catalog.get(SNOWPLOWS));
        let point = with_transformer(Epsg::WGS84, self.store.crs(), |t| t.point(f.lon, f.lat))
            .ok()
            .and_then(Result::ok)
            .unwrap_or((f.lon, f.lat));
        let age = (now.timestamp_millis() - parse_ms(&f.time)).max(0) / 60_000;
        let opt = |v: Option<f64>| v.map_or(AttrValue::Null, AttrValue::Real);
        let attributes = def.map_or_else(Vec::new, |d| {
            d.values_by_name([
                ("label", AttrValue::text(&v.label)),
                ("vehicle_kind", AttrValue::text(v.kind.as_str())),
                ("heading_deg", opt(f.heading_deg)),
                ("speed_kmh", opt(f.speed_mps.map(kmh))),
                ("blade_down", f.blade_down.map_or(AttrValue::Null, AttrValue::Bool)),
                ("spreader_on", f.spreader_on.map_or(AttrValue::Null, AttrValue::Bool)),
                ("reported_at", AttrValue::text(&f.time)),
                ("age_min", AttrValue::Int(age)),
                ("vehicle_id", AttrValue::text(&v.id)),
                ("operator", v.operator.as_deref().map_or(AttrValue::Null, AttrValue::text)),
            ])
        });
        Feature { id: v.num, geometry: geo_types::Geometry::Point(point.into()), attributes }
    }

    /// Every vehicle on the live map now, as `audience` may see them, with their age.
    pub fn snapshot(&self, audience: Audience) -> Value {
        let now = Utc::now().timestamp_millis();
        let horizon = iso(self.horizon());
        let vehicles = self.vehicles.lock().expect("not poisoned");
        let mut list: Vec<(&Vehicle, &FixRow)> = vehicles
            .values()
            .filter(|s| audience == Audience::Staff || s.vehicle.public)
            .filter_map(|s| s.latest.as_ref().filter(|l| l.time >= horizon).map(|l| (s.vehicle.as_ref(), l)))
            .collect();
        list.sort_by_key(|(v, _)| v.num);
        let features: Vec<Value> = list
            .into_iter()
            .map(|(v, f)| vehicle_json(v, f, audience, Some(((now - parse_ms(&f.time)) / 1000).max(0))))
            .collect();
        json!({"type": "FeatureCollection", "features": features})
    }

    /// Each vehicle's latest position on the map as `audience` may see it: (id, label, fix),
    /// the id being the vehicle id for staff and its number for the public.
    pub fn latest(&self, audience: Audience) -> Vec<(String, String, FixRow)> {
        let horizon = iso(self.horizon());
        let vehicles = self.vehicles.lock().expect("not poisoned");
        let mut out: Vec<(i64, String, String, FixRow)> = vehicles
            .values()
            .filter(|s| audience == Audience::Staff || s.vehicle.public)
            .filter_map(|s| {
                let f = s.latest.as_ref().filter(|l| l.time >= horizon)?;
                let id = if audience == Audience::Staff { s.vehicle.id.clone() } else { s.vehicle.num.to_string() };
                Some((s.vehicle.num, id, s.vehicle.label.clone(), f.clone()))
            })
            .collect();
        out.sort_by_key(|x| x.0);
        out.into_iter().map(|(_, id, label, f)| (id, label, f)).collect()
    }

    /// Every stored fix of a vehicle (or all) with `from <= time < to`, up to `max`.
    pub async fn fixes_between(
        &self,
        vehicle: Option<&str>,
        from: &str,
        to: &str,
        max: usize,
    ) -> Result<Vec<FixRow>, LiveError> {
        const PAGE: u32 = 10_000;
        let mut out = Vec::new();
        loop {
            let page = self.store.fixes(vehicle, from, to, PAGE, out.len() as u64).await?;
            let n = page.len();
            out.extend(page);
            if n < PAGE as usize || out.len() >= max {
                out.truncate(max);
                return Ok(out);
            }
        }
    }

    /// Frames as they are published (see [`Frame`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.frames.subscribe()
    }

    /// Registers a vehicle (see [`NewVehicle`]).
    pub async fn add_vehicle(&self, new: &NewVehicle) -> Result<Vehicle, LiveError> {
        let v = self.store.add_vehicle(new).await?;
        self.devices.invalidate_all();
        Ok(v)
    }

    /// Revokes a vehicle's device: refused from now on in this process (within
    /// [`DEVICE_TTL`] in others), and off the live map.
    pub async fn revoke_vehicle(&self, id: &str) -> Result<bool, LiveError> {
        let done = self.store.revoke_vehicle(id).await?;
        self.devices.invalidate_all();
        self.forget(id);
        Ok(done)
    }

    /// Takes a vehicle off the live map and its trail off the trail layer.
    fn forget(&self, id: &str) {
        if let Some(t) = self.trails.lock().expect("not poisoned").get_mut(id) {
            let pieces: Vec<i64> = t.pieces().into_keys().collect();
            *t = Trail::default();
            self.pieces.lock().expect("not poisoned").extend(pieces.into_iter().map(|n| (id.to_owned(), n)));
        }
        if self.vehicles.lock().expect("not poisoned").get_mut(id).map(|s| s.latest = None).is_some() {
            self.dirty.lock().expect("not poisoned").insert(id.to_owned());
        }
        self.publish();
    }

    /// Follows changes to the registry made elsewhere (`machizu vehicles revoke` in another
    /// process): revoked vehicles leave the map, changed labels and visibility apply. The
    /// ticker calls it every minute.
    pub async fn refresh_registry(&self) -> Result<(), LiveError> {
        let registry = self.store.vehicles().await?;
        let mut gone = Vec::new();
        {
            let mut vehicles = self.vehicles.lock().expect("not poisoned");
            let mut dirty = self.dirty.lock().expect("not poisoned");
            for v in registry {
                let Some(state) = vehicles.get_mut(&v.id) else { continue };
                if v.revoked_at.is_some() {
                    if state.latest.is_some() {
                        gone.push(v.id.clone());
                    }
                } else if *state.vehicle != v {
                    // Public → private: out of the public layer first.
                    if state.vehicle.public && !v.public {
                        let _ = self.engine.apply_changes(SNOWPLOWS, Vec::new(), &[v.num]);
                    }
                    state.vehicle = Arc::new(v.clone());
                    dirty.insert(v.id);
                }
            }
        }
        for id in gone {
            self.forget(&id);
        }
        Ok(())
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Refreshes every vehicle's age in the live layers, and takes silent ones off the map.
    fn age(&self) {
        let ids: Vec<String> = self.vehicles.lock().expect("not poisoned").keys().cloned().collect();
        self.dirty.lock().expect("not poisoned").extend(ids);
        let horizon = self.horizon().timestamp_millis();
        {
            let mut trails = self.trails.lock().expect("not poisoned");
            let mut pieces = self.pieces.lock().expect("not poisoned");
            for (id, t) in trails.iter_mut() {
                // Pieces that emptied are deleted (fewer than two points), the rest re-aged.
                pieces.extend(t.prune(horizon).into_iter().map(|n| (id.clone(), n)));
                pieces.extend(t.pieces().into_keys().map(|n| (id.clone(), n)));
            }
            trails.retain(|_, t| !t.is_empty());
        }
        self.publish();
    }
}

/// A time in milliseconds since 1970 as [`iso`] writes it.
fn iso_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(iso).unwrap_or_default()
}

/// The feature id of a vehicle's trail piece.
fn piece_id(v: &Vehicle, n: i64) -> FeatureId {
    v.num * 1_000_000 + n.rem_euclid(1_000_000)
}

/// A trail piece as a feature of the trail layer (store CRS).
fn trail_feature(def: &crate::catalog::LayerDef, v: &Vehicle, n: i64, points: &[TrailPoint], now_ms: i64) -> Feature {
    let (first, last) = (points[0], points[points.len() - 1]);
    let line: Vec<(f64, f64)> = points.iter().map(|p| (p.x, p.y)).collect();
    let attributes = def.values_by_name([
        ("label", AttrValue::text(&v.label)),
        ("vehicle_kind", AttrValue::text(v.kind.as_str())),
        ("started_at", AttrValue::Text(iso_ms(first.ms))),
        ("ended_at", AttrValue::Text(iso_ms(last.ms))),
        ("age_min", AttrValue::Int((now_ms - last.ms).max(0) / 60_000)),
        ("plowing", AttrValue::Bool(points.iter().any(|p| p.plowing))),
        ("vehicle_id", AttrValue::text(&v.id)),
    ]);
    Feature { id: piece_id(v, n), geometry: geo_types::Geometry::LineString(line.into()), attributes }
}

fn kmh(mps: f64) -> f64 {
    (mps * 36.0).round() / 10.0
}

/// Whether a vehicle plows at a fix: a plow or blower, the blade not reported up.
fn plowing(v: &Vehicle, f: &FixRow) -> bool {
    v.kind.plows() && f.blade_down != Some(false)
}

fn row(v: &Vehicle, fix: &Fix, received_at: &str, flags: &[&str]) -> FixRow {
    FixRow {
        id: 0,
        vehicle: v.id.clone(),
        time: iso(fix.time),
        received_at: received_at.to_owned(),
        lon: fix.lon,
        lat: fix.lat,
        speed_mps: fix.speed_mps,
        heading_deg: fix.heading_deg,
        altitude_m: fix.altitude_m,
        accuracy_m: fix.accuracy_m,
        hdop: fix.hdop,
        battery_pct: fix.battery_pct,
        blade_down: fix.blade_down,
        spreader_on: fix.spreader_on,
        extra: (!fix.extra.is_empty()).then(|| fix.extra.clone()),
        flags: (!flags.is_empty()).then(|| flags.join(",")),
        road: None,
    }
}

/// A vehicle's position as GeoJSON for `audience`: the public get the label, kind and motion;
/// staff also the vehicle id, name, operator and the fix's quality.
pub fn vehicle_json(v: &Vehicle, f: &FixRow, audience: Audience, age_s: Option<i64>) -> Value {
    let mut p = json!({
        "label": v.label,
        "kind": v.kind,
        "kind_ja": v.kind.title_ja(),
        "heading_deg": f.heading_deg,
        "speed_kmh": f.speed_mps.map(kmh),
        "blade_down": f.blade_down,
        "spreader_on": f.spreader_on,
        "reported_at": f.time,
    });
    if let Some(age) = age_s {
        p["age_s"] = json!(age);
    }
    if audience == Audience::Staff {
        p["vehicle_id"] = json!(v.id);
        p["name"] = json!(v.name);
        p["operator"] = json!(v.operator);
        p["public"] = json!(v.public);
        p["received_at"] = json!(f.received_at);
        p["accuracy_m"] = json!(f.accuracy_m);
        p["battery_pct"] = json!(f.battery_pct);
    }
    json!({"type": "Feature", "id": v.num, "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]}, "properties": p})
}

/// Takes every job waiting (up to [`MAX_BATCH`] fixes) and writes them as one transaction.
async fn writer(live: Weak<Live>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut n = first.fixes.len();
        let mut jobs = vec![first];
        while n < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    n += job.fixes.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let Some(live) = live.upgrade() else { return };
        live.write(jobs).await;
    }
}

/// Publishes moved vehicles at most every [`PUBLISH_EVERY`].
async fn publisher(live: Weak<Live>, moved: Arc<Notify>) {
    loop {
        // Wake at least every second, so that a dropped `Live` ends this task.
        let _ = tokio::time::timeout(Duration::from_secs(1), moved.notified()).await;
        let Some(l) = live.upgrade() else { return };
        l.publish();
        drop(l);
        tokio::time::sleep(PUBLISH_EVERY).await;
    }
}

/// Every second: silent vehicles' routes, plowed roads. Every minute: classes, ages, old
/// passes. Every six hours: thinning.
async fn ticker(live: Weak<Live>) {
    let mut second = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    loop {
        second.tick().await;
        let Some(l) = live.upgrade() else { return };
        l.finish_silent().await;
        if let Err(e) = l.flush_plowed().await {
            tracing::warn!(error = %e, "plowed roads not written (will retry)");
        }
        if n % 60 == 59 {
            if let Err(e) = l.reclassify().await {
                tracing::warn!(error = %e, "plowed classes not refreshed");
            }
            if let Err(e) = l.refresh_registry().await {
                tracing::warn!(error = %e, "vehicle registry not refreshed");
            }
            l.age();
            l.prune_coverage();
        }
        if n % (6 * 3600) == 30 {
            match l.store.thin_fixes(&iso(l.season_start())).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "thinned fixes older than the season"),
                Err(e) => tracing::warn!(error = %e, "old fixes not thinned"),
            }
        }
        n += 1;
    }
}
