//! Keeps the engine in step with the store: every change anyone commits to the layers (this
//! process, another machizu process, QGIS, psql, an ETL job) reaches the engine within a
//! second, and only the tiles it touches leave the cache.
//!
//! A task reads the store's [`ChangeFeed`]: for each batch it re-reads the named features and
//! hands them to [`Engine::apply_changes`] (a feature no longer there was deleted), or reloads
//! a whole layer when the change was too large to list. A layer made from a file that was
//! made, changed or removed ([`crate::store::LayerStore`]) is added to, changed in or removed
//! from the engine. If the feed breaks (the database went
//! away), changes may have been missed: the task opens a new feed — listening first, so nothing
//! falls between — and reloads every layer, retrying until the database answers. Tiles keep
//! being served from memory meanwhile.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::LayerDef;
use crate::engine::{Engine, EngineError};
use crate::feature::FeatureId;
use crate::store::{Change, ChangeFeed, Store, StoreError};

/// Why a batch of changes could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Above this many changed ids in one layer and batch, the layer is reloaded instead.
const MAX_LISTED: usize = 20_000;

/// Stops the follower when dropped.
pub struct Follower(tokio::task::JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows `feed` (already listening) until dropped.
pub fn spawn(store: Arc<dyn Store>, engine: Arc<Engine>, feed: Box<dyn ChangeFeed>) -> Follower {
    Follower(tokio::spawn(run(store, engine, feed)))
}

async fn run(store: Arc<dyn Store>, engine: Arc<Engine>, mut feed: Box<dyn ChangeFeed>) {
    loop {
        let result = match feed.next().await {
            Ok(changes) => {
                let started = Instant::now();
                let applied = apply(store.as_ref(), &engine, changes).await;
                let m = crate::metrics::global();
                m.change_apply.observe(started.elapsed().as_secs_f64());
                m.change_batches.inc();
                applied
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "lost track of changes; reconnecting and reloading every layer");
            feed = resync(store.as_ref(), &engine).await;
        }
    }
}

/// A new feed, and every layer reloaded after it started listening; retries until both work.
async fn resync(store: &dyn Store, engine: &Arc<Engine>) -> Box<dyn ChangeFeed> {
    let mut wait = Duration::from_millis(250);
    loop {
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
        let feed = match store.watch().await {
            Ok(Some(feed)) => feed,
            Ok(None) => unreachable!("a store that gave a feed once gives one again"),
            Err(e) => {
                tracing::debug!(error = %e, "change feed not back yet");
                continue;
            }
        };
        match reload_all(store, engine).await {
            Ok(()) => {
                tracing::info!("change feed back; every layer reloaded");
                return feed;
            }
            Err(e) => tracing::debug!(error = %e, "reload failed; retrying"),
        }
    }
}

async fn reload_all(store: &dyn Store, engine: &Arc<Engine>) -> Result<(), FollowError> {
    for layer in engine.catalog().layers().iter().filter(|l| l.file.is_none()) {
        reload(store, engine, layer.id.as_str()).await?;
    }
    sync_definitions(store, engine).await
}

/// Brings every layer made from a file into the engine as the store has it: stored ones added
/// or read again, others removed.
pub async fn sync_definitions(store: &dyn Store, engine: &Arc<Engine>) -> Result<(), FollowError> {
    let stored = store.layer_defs().await?;
    for def in engine.catalog().layers().iter().filter(|l| l.file.is_some()) {
        if !stored.iter().any(|s| s.id == def.id) {
            engine.remove_layer(def.id.as_str());
        }
    }
    for def in stored {
        put(store, engine, def).await?;
    }
    Ok(())
}

/// Brings one layer made from a file into the engine as the store has it now: added, or its
/// definition and features read again, or removed when the store no longer has it.
pub async fn sync_definition(store: &dyn Store, engine: &Arc<Engine>, id: &str) -> Result<(), FollowError> {
    match store.layer_def(id).await? {
        Some(def) => put(store, engine, def).await,
        None => {
            if engine.catalog().get(id).is_some_and(|l| l.file.is_some()) {
                engine.remove_layer(id);
            }
            Ok(())
        }
    }
}

/// Puts a stored layer into the engine with its features, unless a layer of the config has
/// its id (the config wins; the stored one is left alone).
async fn put(store: &dyn Store, engine: &Arc<Engine>, def: LayerDef) -> Result<(), FollowError> {
    if engine.catalog().get(def.id.as_str()).is_some_and(|l| l.file.is_none()) {
        tracing::warn!(layer = %def.id, "a layer made from a file has the id of a configured layer; not served");
        return Ok(());
    }
    let features = store.load(&def).await?;
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || engine.put_layer(def, features))
        .await
        .expect("layer loading does not panic")?;
    Ok(())
}

/// Reads a whole layer from the store into the engine.
pub async fn reload(store: &dyn Store, engine: &Arc<Engine>, id: &str) -> Result<(), FollowError> {
    let catalog = engine.catalog();
    let def = catalog.get(id).ok_or_else(|| EngineError::UnknownLayer(id.to_owned()))?;
    let features = store.load(def).await?;
    let (engine, id) = (engine.clone(), id.to_owned());
    tokio::task::spawn_blocking(move || {
        engine.load_layer(&id, features)?;
        crate::engine::footprint::return_freed_memory();
        Ok::<_, EngineError>(())
    })
    .await
    .expect("layer loading does not panic")?;
    Ok(())
}

/// Applies one batch of changes, layer by layer.
async fn apply(store: &dyn Store, engine: &Arc<Engine>, changes: Vec<Change>) -> Result<(), FollowError> {
    let started = Instant::now();
    // Per layer: the ids to read again, or `None` for the whole layer.
    let mut by_layer: HashMap<String, Option<BTreeSet<FeatureId>>> = HashMap::new();
    let mut definitions = BTreeSet::new();
    for change in changes {
        match change {
            Change::Definition { layer } => {
                definitions.insert(layer);
            }
            Change::Features { layer, ids } => {
                if let Some(set) = by_layer.entry(layer).or_insert_with(|| Some(BTreeSet::new())) {
                    set.extend(ids);
                }
            }
            Change::Layer { layer } => {
                by_layer.insert(layer, None);
            }
        }
    }
    // Definitions first: a new layer's features come in the same batch, and are read with it.
    for layer in definitions {
        sync_definition(store, engine, &layer).await?;
        by_layer.remove(&layer);
    }
    let catalog = engine.catalog();
    for (layer, ids) in by_layer {
        let Some(def) = catalog.get(&layer) else {
            tracing::debug!(table = layer, "change to a table that is not a layer");
            continue;
        };
        match ids {
            Some(ids) if ids.len() <= MAX_LISTED => {
                let ids: Vec<FeatureId> = ids.into_iter().collect();
                let found = store.load_ids(def, &ids).await?;
                let present: BTreeSet<FeatureId> = found.iter().map(|f| f.id).collect();
                let deleted: Vec<FeatureId> = ids.iter().copied().filter(|id| !present.contains(id)).collect();
                let n = ids.len();
                let engine = engine.clone();
                tokio::task::spawn_blocking(move || engine.apply_changes(&layer, found, &deleted))
                    .await
                    .expect("applying changes does not panic")?;
                tracing::debug!(layer = %def.id, features = n, ms = started.elapsed().as_millis() as u64, "changes applied");
            }
            _ => {
                reload(store, engine, &layer).await?;
                tracing::info!(layer, ms = started.elapsed().as_millis() as u64, "layer reloaded after a large change");
            }
        }
    }
    Ok(())
}
