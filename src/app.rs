//! Wiring: open the store, fill it with the demo city when asked and empty, load every layer
//! into the engine. What `machizu serve` runs before it starts listening, and what tests and
//! benchmarks use to get a ready server state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::engine::{Engine, EngineError};
use crate::follow::{self, Follower, Loaded, Task};
use crate::live::{Live, LiveError};
use crate::notices::Notices;
use crate::notices::auto::AutoNotices;
use crate::notices::push::Push;
use crate::sensors::{SensorError, Sensors};
use crate::store::gpkg::GpkgStore;
use crate::store::postgis::PostgisStore;
use crate::store::{Store, StoreError};
use crate::{crs, demo};

/// Errors while starting up.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Follow(#[from] follow::FollowError),
    #[error("while generating the demo city: {0}")]
    Demo(#[from] crs::CrsError),
    #[error("while starting live tracking: {0}")]
    Live(#[from] LiveError),
    #[error("while loading the SensorThings entities: {0}")]
    Sensors(#[from] SensorError),
    #[error("while starting automatic notices: {0}")]
    Notices(#[from] crate::notices::NoticeError),
}

/// A ready server state: configuration, store and loaded engine.
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    /// Set when the store holds the synthetic demo city (shown as attribution).
    pub dataset_notice: Option<String>,
    /// How each layer was loaded at start: from its snapshot or from the store.
    pub loaded: Vec<(String, Loaded)>,
    /// Applies changes made to the store by anyone, while the app lives (PostGIS only).
    pub follower: Option<Follower>,
    /// Rebuilds the snapshots of layers that changed ([`follow::refresh_snapshots`]).
    pub snapshot_refresh: Option<Task>,
    /// Permits to render a tile (`render_slots`, default two per core): requests queue for a
    /// permit in arrival order instead of all rendering at once, so each waits about as long
    /// as any other (a low p99) and no core is shared among dozens of renders; two per core,
    /// so that a core does not idle while the next render is handed its permit
    /// (docs/benchmarks.md).
    pub render_slots: tokio::sync::Semaphore,
    /// Vehicle positions in, live map and plowed roads out.
    pub live: Arc<Live>,
    /// OGC SensorThings: gauges, sensors and cameras, their observations.
    pub sensors: Arc<Sensors>,
    /// Notices to residents: CAP, feeds.
    pub notices: Arc<Notices>,
    /// Web Push of notices to residents' browsers.
    pub push: Arc<Push>,
}

impl App {
    /// Opens the configured store — PostGIS when a database URL is set, else the embedded
    /// GeoPackage under the data directory — and loads it.
    pub async fn open(config: Config) -> Result<Self, AppError> {
        let store: Arc<dyn Store> = match &config.database_url {
            Some(url) => Arc::new(PostgisStore::connect(&url.0, config.city.crs).await?),
            None => Arc::new(GpkgStore::open_in(&config.data_dir, config.city.crs).await?),
        };
        Self::with_store(config, store).await
    }

    /// Loads from a given store (seeding the demo city first if enabled and the store is empty).
    pub async fn with_store(config: Config, store: Arc<dyn Store>) -> Result<Self, AppError> {
        store.prepare(&config.catalog).await?;
        if config.demo && is_empty(store.as_ref(), &config.catalog).await? {
            seed_demo(store.as_ref(), &config.catalog, demo::DEFAULT_SEED).await?;
        }
        // The engine holds the layers that can be tiled (unreferenced ones stay in the store).
        let engine = Arc::new(Engine::new(Arc::new(config.catalog.tiled()), store.crs(), config.tile_cache_bytes)?);
        // Listen before loading, so that no change falls between the two.
        let feed = store.watch().await?;
        let snapshots = config.snapshot_dir();
        let (mut loaded, mut stamps) = (Vec::new(), HashMap::new());
        for layer in engine.catalog().layers() {
            let t = Instant::now();
            let (from, stamp) =
                follow::load_at_start(store.as_ref(), &engine, layer.id.as_str(), snapshots.as_deref()).await?;
            stamps.extend(stamp.map(|s| (layer.id.to_string(), s.store_version)));
            let (n, bytes) = engine.layer(layer.id.as_str()).map_or((0, 0), |l| (l.len(), l.footprint().total()));
            let ms = t.elapsed().as_millis() as u64;
            tracing::info!(layer = %layer.id, features = n, bytes, ms, ?from, "layer loaded");
            loaded.push((layer.id.to_string(), from));
        }
        follow::sync_definitions(store.as_ref(), &engine).await?;
        let follower = feed.map(|feed| follow::spawn(store.clone(), engine.clone(), feed));
        let snapshot_refresh = snapshots
            .map(|dir| follow::refresh_snapshots(store.clone(), engine.clone(), dir, stamps, config.snapshot_refresh));
        let dataset_notice = store.meta(demo::META_KEY).await?;
        let render_slots = tokio::sync::Semaphore::new(config.render_slots);
        let live = Live::start(store.clone(), engine.clone(), config.live.clone(), config.city.bounds).await?;
        let sensors = Arc::new(Sensors::open(store.clone()).await?);
        sensors.start_watch(&config.sensors);
        sensors.start_map(engine.clone());
        if let Some(url) = &config.live.mqtt_url {
            crate::sensors::mqtt::spawn(&sensors, url).map_err(SensorError::BadRequest)?;
        }
        let notices =
            Arc::new(Notices::new(store.clone(), engine.clone(), config.city.clone(), config.notices.clone()));
        let push = Arc::new(Push::open(store.clone(), notices.clone(), config.notices.push.clone()).await?);
        push.start();
        let auto = AutoNotices {
            notices: notices.clone(),
            sensors: sensors.clone(),
            engine: engine.clone(),
            store: store.clone(),
            config: config.notices.auto.clone(),
        };
        Arc::new(auto).start().await?;
        Ok(Self {
            config,
            store,
            engine,
            dataset_notice,
            loaded,
            follower,
            snapshot_refresh,
            render_slots,
            live,
            sensors,
            notices,
            push,
        })
    }
}

async fn is_empty(store: &dyn Store, catalog: &Catalog) -> Result<bool, StoreError> {
    for layer in catalog.layers() {
        if store.count(layer).await? > 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Generates the demo city and writes it to the store, marking the store as synthetic.
pub async fn seed_demo(store: &dyn Store, catalog: &Catalog, seed: u64) -> Result<(), AppError> {
    let t = Instant::now();
    let (catalog2, crs) = (catalog.clone(), store.crs());
    let city = tokio::task::spawn_blocking(move || demo::generate(&catalog2, crs, seed))
        .await
        .expect("demo generation does not panic")?;
    for (id, features) in &city.layers {
        let layer = catalog.get(id).expect("the demo only fills catalog layers");
        store.insert(layer, features).await?;
    }
    store.set_meta(demo::META_KEY, demo::SYNTHETIC_NOTICE).await?;
    tracing::info!(ms = t.elapsed().as_millis() as u64, "generated the synthetic demo city");
    Ok(())
}
