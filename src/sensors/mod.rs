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
//! - [`state`]: a datastream's state against its thresholds with hysteresis, or 欠測 when its
//!   device fell silent.
//!
//! [`Sensors`] is the service the HTTP routes and the MQTT bridge call. Readers take a snapshot
//! of the registry (an `ArcSwap`); one writer at a time builds the next one, stores the change in
//! one transaction, and only then publishes it.

pub mod eval;
pub mod filter;
pub mod model;
pub mod mqtt;
pub mod read;
pub mod request;
pub mod state;
pub mod write;

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{Mutex, broadcast};

use crate::store::sensors::ObservationRow;
use crate::store::{Store, StoreError};
use model::{Kind, Registry};

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
    #[error(transparent)]
    Store(#[from] StoreError),
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
        Ok(Sensors {
            store,
            registry: ArcSwap::from_pointee(reg),
            writer: Mutex::new(()),
            observed: broadcast::channel(4096).0,
        })
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
