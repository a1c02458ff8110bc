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
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::LayerDef;
use crate::crs::Epsg;
use crate::engine::snapshot::{self, SnapshotError, Stamp};
use crate::engine::{Engine, EngineError, LayerData};
use crate::feature::{Feature, FeatureId};
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
    let data = build(store, def, engine.store_crs()).await?;
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || engine.put_layer(data)).await.expect("putting a layer does not panic")?;
    Ok(())
}

/// Reads a whole layer from the store into the engine.
pub async fn reload(store: &dyn Store, engine: &Arc<Engine>, id: &str) -> Result<(), FollowError> {
    let catalog = engine.catalog();
    let def = catalog.get(id).ok_or_else(|| EngineError::UnknownLayer(id.to_owned()))?;
    load(store, engine, def).await?;
    Ok(())
}

async fn load(store: &dyn Store, engine: &Arc<Engine>, def: &LayerDef) -> Result<Arc<LayerData>, FollowError> {
    let data = build(store, def.clone(), engine.store_crs()).await?;
    Ok(engine.set_layer(def.id.as_str(), data)?)
}

/// Builds a layer from the store's features on a blocking thread as the store streams them,
/// so that the rows are never all in memory beside the engine's form of them. Nothing is
/// built when reading fails part way (the error is the store's).
async fn build(store: &dyn Store, def: LayerDef, crs: Epsg) -> Result<LayerData, FollowError> {
    use futures_util::StreamExt;
    // A few thousand features in flight: enough to keep both sides busy.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Feature>>(8);
    let builder = {
        let def = def.clone();
        tokio::task::spawn_blocking(move || {
            let features = std::iter::from_fn(|| rx.blocking_recv()).flatten();
            let data = LayerData::build(def, features, crs);
            crate::engine::footprint::return_freed_memory();
            data
        })
    };
    let mut rows = store.stream(&def).ready_chunks(512);
    let mut read = Ok(());
    while let Some(chunk) = rows.next().await {
        match chunk.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(features) => {
                if tx.send(features).await.is_err() {
                    // The builder stopped (it failed): its error is the answer.
                    break;
                }
            }
            Err(e) => {
                read = Err(e);
                break;
            }
        }
    }
    drop(tx);
    let built = builder.await.expect("layer building does not panic");
    read?;
    Ok(built?)
}

/// A task stopped when dropped.
pub struct Task(tokio::task::JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a layer was loaded at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// From its snapshot.
    Snapshot,
    /// From the store (there was no snapshot, or it was discarded).
    Store,
}

/// Loads a layer at start: from its snapshot under `snapshots` when that was built from the
/// store's current version of the layer and is whole ([`snapshot::read`]), else from the
/// store — a snapshot that is stale, damaged or from another build is discarded, with the
/// reason logged — writing a new snapshot on another thread while the layer is served.
pub async fn load_at_start(
    store: &dyn Store,
    engine: &Arc<Engine>,
    id: &str,
    snapshots: Option<&Path>,
) -> Result<(Loaded, Option<Stamp>), FollowError> {
    let catalog = engine.catalog();
    let def = catalog.get(id).ok_or_else(|| EngineError::UnknownLayer(id.to_owned()))?;
    let Some(dir) = snapshots else {
        load(store, engine, def).await?;
        return Ok((Loaded::Store, None));
    };
    // The version first: a change committed while the features are read makes the snapshot
    // look stale next time (a needless rebuild), never current.
    let stamp = Stamp { store_version: store.layer_version(def).await?, crs: engine.store_crs() };
    let path = snapshot::path(dir, id);
    let read = {
        let (path, def) = (path.clone(), def.clone());
        tokio::task::spawn_blocking(move || snapshot::read(&path, &def, stamp)).await.expect("reading does not panic")
    };
    match read {
        Ok(data) => {
            let data = engine.set_layer(id, data)?;
            // The R-tree is not in the file: made behind, so that the first spatial query of
            // a large layer does not wait for it.
            std::thread::spawn(move || data.index());
            return Ok((Loaded::Snapshot, Some(stamp)));
        }
        Err(SnapshotError::Missing) => {}
        Err(e) => {
            tracing::warn!(layer = id, path = %path.display(), "discarding the layer's snapshot: {e}");
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(layer = id, "could not remove the snapshot: {e}");
            }
        }
    }
    let data = load(store, engine, def).await?;
    let id = id.to_owned();
    std::thread::spawn(move || {
        // Behind everything else: the first residents' requests come right after a start.
        crate::priority::lower(19, true);
        write_snapshot(&path, &id, &data, stamp)
    });
    Ok((Loaded::Store, Some(stamp)))
}

fn write_snapshot(path: &Path, id: &str, data: &LayerData, stamp: Stamp) {
    match snapshot::write(path, data, stamp) {
        Ok(()) => tracing::info!(layer = id, path = %path.display(), "wrote the layer's snapshot"),
        Err(e) => tracing::warn!(layer = id, "could not write the layer's snapshot: {e}"),
    }
}

/// Keeps the snapshots under `dir` in step with the store while the process runs, so that
/// the next start finds them current. Every `every`, a layer whose store version moved since
/// its snapshot (`written`: layer id → the version it holds) and then stayed the same for a
/// whole period — so that a layer being edited is not rebuilt again and again — is read from
/// the store and built again on a blocking thread, its snapshot rewritten. The engine keeps
/// serving the version it has meanwhile; the rebuilt one is only written, never swapped in
/// (the follower may already have applied later changes).
pub fn refresh_snapshots(
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    dir: PathBuf,
    written: HashMap<String, u64>,
    every: Duration,
) -> Task {
    Task(tokio::spawn(async move {
        // Per layer: the version its snapshot holds, and the version seen at the last check.
        let mut state: HashMap<String, (u64, u64)> = written.into_iter().map(|(id, v)| (id, (v, v))).collect();
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            for (id, (held, seen)) in &mut state {
                let Some(def) = engine.catalog().get(id).cloned() else { continue };
                match refresh_one(store.as_ref(), &engine, &dir, &def, *held, *seen).await {
                    Ok((h, s)) => (*held, *seen) = (h, s),
                    Err(e) => tracing::warn!(layer = %id, "could not refresh the layer's snapshot: {e}"),
                }
            }
        }
    }))
}

/// One layer's turn of [`refresh_snapshots`]: the versions (held, seen) after it.
async fn refresh_one(
    store: &dyn Store,
    engine: &Engine,
    dir: &Path,
    def: &LayerDef,
    held: u64,
    seen: u64,
) -> Result<(u64, u64), FollowError> {
    let now = store.layer_version(def).await?;
    if now == held || now != seen {
        return Ok((held, now));
    }
    let stamp = Stamp { store_version: now, crs: engine.store_crs() };
    let data = build(store, def.clone(), stamp.crs).await?;
    let (id, path) = (def.id.to_string(), snapshot::path(dir, def.id.as_str()));
    tokio::task::spawn_blocking(move || {
        write_snapshot(&path, &id, &data, stamp);
        drop(data);
        crate::engine::footprint::return_freed_memory();
    })
    .await
    .expect("writing does not panic");
    Ok((now, now))
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
