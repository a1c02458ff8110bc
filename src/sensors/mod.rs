//! OGC SensorThings API 1.1 (issue #17): water-level gauges, snow-depth sensors and cameras.
//!
//! - [`model`]: the entity types, their navigation, and the in-memory [`model::Registry`] of
//!   every entity but observations;
//! - [`request`]: a resource path and query options, parsed;
//! - [`filter`]: the `$filter` language, parsed by a peg grammar, and [`eval`] its evaluation;
//! - [`read`]: resolving paths, listing, paging and rendering;
//! - [`write`]: creation with deep insert, updates, deletes with the standard's cascades, and
//!   the dataArray batch;
//! - [`mqtt`]: the MQTT extension through the broker;
//! - [`series`]: a datastream's values for charts: raw for a day, hourly aggregates for longer;
//! - [`state`]: a datastream's state against its thresholds with hysteresis, or 欠測 when its
//!   device fell silent;
//! - [`camera`]: cameras' still images, the latest and one an hour;
//! - [`map`]: the stations and cameras as live map layers;
//! - [`demo`]: simulated, labelled stations over the demo city.
//!
//! [`Sensors`] is the service the HTTP routes and the MQTT bridge call. Readers take a snapshot
//! of the registry (an `ArcSwap`); one writer at a time builds the next one, stores the change in
//! one transaction, and only then publishes it.

pub mod camera;
pub mod demo;
pub mod eval;
pub mod filter;
pub mod map;
pub mod model;
pub mod mqtt;
pub mod read;
pub mod request;
pub mod series;
pub mod state;
pub mod write;

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{Mutex, broadcast};

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::catalog::Audience;
use crate::store::sensors::{EventRow, ObservationFilter, ObservationOrder, ObservationRow, SensorWrite};
use crate::store::{Store, StoreError};
use model::{Kind, Registry};
use state::{State, Tracker};

fn parse_utc(t: &str) -> Option<DateTime<Utc>> {
    eval::parse_time(t).map(|t| t.with_timezone(&Utc))
}

fn event_row(datastream: i64, e: &state::Event, recorded_at: &str) -> EventRow {
    EventRow {
        id: 0,
        datastream,
        from: e.from.as_text(),
        to: e.to.as_text(),
        at: crate::store::iso(e.at),
        value: e.value,
        recorded_at: recorded_at.to_owned(),
    }
}

/// Why a SensorThings request failed.
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (a device writing another station's datastreams).
    #[error("{0}")]
    Forbidden(String),
    /// A camera image over `[sensors] max_image_kib`.
    #[error("{0}")]
    TooLarge(String),
    /// A camera image that is not a whole JPEG.
    #[error("{0}")]
    NotJpeg(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn bad(what: impl Into<String>) -> SensorError {
    SensorError::BadRequest(what.into())
}

pub(crate) fn not_found(what: impl Into<String>) -> SensorError {
    SensorError::NotFound(what.into())
}

impl From<request::BadRequest> for SensorError {
    fn from(e: request::BadRequest) -> Self {
        SensorError::BadRequest(e.0)
    }
}

/// The SensorThings service over a store.
pub struct Sensors {
    store: Arc<dyn Store>,
    registry: ArcSwap<Registry>,
    writer: Mutex<()>,
    observed: broadcast::Sender<Arc<ObservationRow>>,
    /// Each datastream with thresholds: its state (changed by the writer only).
    trackers: std::sync::Mutex<HashMap<i64, Tracker>>,
    events: broadcast::Sender<Arc<EventRow>>,
    /// Told after every stored change (for the map layers).
    changed: Arc<tokio::sync::Notify>,
}

impl Sensors {
    /// Loads every entity but the observations, and each datastream's time range.
    pub async fn open(store: Arc<dyn Store>) -> Result<Self, SensorError> {
        let mut reg = Registry::default();
        for row in store.sensor_entities().await? {
            let (kind, entity) = model::from_row(row)
                .map_err(|message| StoreError::Schema { layer: "machizu_sta_entities".into(), message })?;
            reg.put(kind, entity);
        }
        let datastreams: Vec<i64> = reg.all(Kind::Datastream).map(|d| d.id).collect();
        for id in datastreams {
            if let Some(range) = store.observation_time_range(id).await? {
                reg.times.insert(id, range);
            }
        }
        let mut trackers = HashMap::new();
        let states: HashMap<i64, State> = store
            .latest_sensor_events()
            .await?
            .into_iter()
            .filter_map(|e| Some((e.datastream, State::parse(&e.to)?)))
            .collect();
        for d in reg.all(Kind::Datastream).filter(|d| d.thresholds().is_some()) {
            let filter = ObservationFilter { datastreams: vec![d.id], ..Default::default() };
            let newest = store.observations(&filter, ObservationOrder::PhenomenonTime, true, 1, 0).await?;
            let newest = newest.first().and_then(|o| Some((parse_utc(&o.phenomenon_time)?, o.result.as_f64()?)));
            let state = states.get(&d.id).copied().unwrap_or(State::Unknown);
            trackers.insert(d.id, Tracker { state, newest });
        }
        Ok(Sensors {
            store,
            registry: ArcSwap::from_pointee(reg),
            writer: Mutex::new(()),
            observed: broadcast::channel(4096).0,
            trackers: std::sync::Mutex::new(trackers),
            events: broadcast::channel(1024).0,
            changed: Arc::default(),
        })
    }

    /// Changes of state as they are stored (each once, after its transaction committed).
    pub fn subscribe_events(&self) -> broadcast::Receiver<Arc<EventRow>> {
        self.events.subscribe()
    }

    /// A datastream's state now (`None`: it has no thresholds).
    pub fn state(&self, datastream: i64) -> Option<State> {
        self.trackers.lock().expect("trackers lock").get(&datastream).map(|t| t.state)
    }

    /// The trackers after `write`'s new observations (in phenomenon-time order); their changes
    /// of state go into `write.events`.
    fn track(&self, reg: &Registry, write: &mut SensorWrite) -> HashMap<i64, Tracker> {
        let mut trackers = self.trackers.lock().expect("trackers lock").clone();
        trackers.retain(|d, _| reg.get(Kind::Datastream, *d).is_some_and(|d| d.thresholds().is_some()));
        let mut order: Vec<&ObservationRow> = write.observations.iter().collect();
        order.sort_by(|a, b| a.phenomenon_time.cmp(&b.phenomenon_time));
        let recorded_at = crate::store::iso(Utc::now());
        for o in order {
            let Some(t) = reg.get(Kind::Datastream, o.datastream).and_then(|d| d.thresholds()) else { continue };
            let (Some(at), Some(value)) = (parse_utc(&o.phenomenon_time), o.result.as_f64()) else { continue };
            let tracker = trackers.entry(o.datastream).or_default();
            if let Some(e) = tracker.observe(&t, at, value) {
                write.events.push(event_row(o.datastream, &e, &recorded_at));
            }
        }
        trackers
    }

    /// Notices silent datastreams: each past its expected interval becomes 欠測, as of the
    /// moment its interval ran out. Called every few seconds by [`Self::start_watch`].
    pub async fn check_silence(&self, now: DateTime<Utc>) -> Result<(), SensorError> {
        let _one_writer = self.writer.lock().await;
        let reg = self.registry();
        let mut trackers = self.trackers.lock().expect("trackers lock").clone();
        let recorded_at = crate::store::iso(Utc::now());
        let mut write = SensorWrite::default();
        for (d, tracker) in trackers.iter_mut() {
            let Some(t) = reg.get(Kind::Datastream, *d).and_then(|d| d.thresholds()) else { continue };
            if let Some(e) = tracker.check(&t, now) {
                write.events.push(event_row(*d, &e, &recorded_at));
            }
        }
        if write.events.is_empty() {
            return Ok(());
        }
        self.store.write_sensors(&write).await?;
        *self.trackers.lock().expect("trackers lock") = trackers;
        self.announce(write.events);
        Ok(())
    }

    /// While the service lives: checks for silence every 10 seconds, adds new observations to
    /// the hourly aggregates every minute, and every hour thins raw observations older than
    /// `raw_retention_days` and prunes camera images older than `image_days`.
    pub fn start_watch(self: &Arc<Self>, config: &crate::config::SensorsConfig) {
        let (raw_retention_days, image_days) = (config.raw_retention_days, config.image_days);
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            for n in 0u64.. {
                tick.tick().await;
                let Some(sensors) = weak.upgrade() else { return };
                if let Err(e) = sensors.check_silence(Utc::now()).await {
                    tracing::warn!(error = %e, "checking sensors for silence");
                }
                if n % 6 == 0
                    && let Err(e) = sensors.aggregate().await
                {
                    tracing::warn!(error = %e, "aggregating observations");
                }
                if n % 360 == 0 {
                    let before = Utc::now() - chrono::Duration::days(i64::from(raw_retention_days));
                    match sensors.store.thin_observations(&crate::store::iso(before)).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deleted = n, "thinned raw observations to hourly aggregates"),
                        Err(e) => tracing::warn!(error = %e, "thinning observations"),
                    }
                    match sensors.prune_images(image_days, Utc::now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deleted = n, "pruned camera images"),
                        Err(e) => tracing::warn!(error = %e, "pruning camera images"),
                    }
                }
            }
        });
    }

    /// Adds the observations stored since the last time to the hourly aggregates.
    pub async fn aggregate(&self) -> Result<u64, SensorError> {
        let _one_writer = self.writer.lock().await;
        Ok(self.store.aggregate_observations().await?)
    }

    fn announce(&self, events: Vec<EventRow>) {
        self.changed.notify_one();
        for e in events {
            tracing::info!(datastream = e.datastream, from = %e.from, to = %e.to, at = %e.at, "sensor state changed");
            let _ = self.events.send(Arc::new(e));
        }
    }

    /// Stored events of the datastreams `audience` may see, after event `after`.
    pub async fn events(&self, audience: Audience, after: i64, limit: u64) -> Result<Vec<EventRow>, SensorError> {
        let visible: Vec<i64> = self.registry().visible_datastreams(audience).into_iter().collect();
        Ok(self.store.sensor_events(&visible, after, limit).await?)
    }

    /// The entities as they are now.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    /// New observations as they are stored (each once, after its transaction committed).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ObservationRow>> {
        self.observed.subscribe()
    }
}
