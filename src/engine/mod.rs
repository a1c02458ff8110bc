//! The spatial engine: every layer in memory, generalised per zoom and indexed, and the tile
//! cache in front of it.
//!
//! Data flow: the server streams each layer's features from the [`crate::store::Store`] into
//! [`LayerData::build`] (reproject → intern attributes → per-zoom [`level::Level`]s with a
//! per-tile feature index), or reads the layer's [`snapshot`], and [`Engine::set_layer`] swaps
//! it in atomically; cached tiles naming the layer are dropped. Later changes go through [`Engine::apply_changes`], which makes the next
//! version of the layer from the changed features alone and drops only the cached tiles they
//! touch. [`Engine::tile`] serves a tile from the cache or renders it ([`render::render_tile`]).
//! The catalog can change while serving: [`Engine::put_layer`] and [`Engine::remove_layer`] add,
//! redefine and remove layers made from files, swapping in a new catalog that readers never wait for.
//!
//! The engine knows nothing of HTTP or SQL.

pub mod boxes;
pub mod cache;
pub mod footprint;
pub mod layer;
pub mod level;
pub mod render;
pub mod snapshot;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

pub use cache::{EncodedTile, TileCache, TileKey};
pub use layer::LayerData;

use crate::catalog::{Audience, Catalog};
use crate::crs::{CrsError, Epsg};
use crate::feature::{Feature, FeatureId};
use crate::tile::TileCoord;

/// Errors while building layers.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("while reprojecting: {0}")]
    Crs(#[from] CrsError),
    #[error("layer {0:?} is not in the catalog")]
    UnknownLayer(String),
    #[error("a geometry could not be kept: {0}")]
    Geometry(String),
}

/// The current version of a layer, and a lock that makes changes to it one at a time
/// (readers never take it).
struct LayerSlot {
    data: ArcSwap<LayerData>,
    write: Mutex<()>,
    /// Bumped by every change but those to derived attributes ([`Engine::apply_derived`]):
    /// what is built from a layer's features (the road network) is rebuilt when it moves.
    edits: AtomicU64,
}

impl LayerSlot {
    fn new(data: LayerData) -> Self {
        Self { data: ArcSwap::from_pointee(data), write: Mutex::new(()), edits: AtomicU64::new(0) }
    }
}

/// All layers in memory plus the tile cache.
pub struct Engine {
    /// Changes when a layer made from a file comes, changes or goes ([`Engine::put_layer`]).
    catalog: ArcSwap<Catalog>,
    store_crs: Epsg,
    layers: ArcSwap<HashMap<String, Arc<LayerSlot>>>,
    /// Makes catalog changes one at a time (readers never take it).
    catalog_write: Mutex<()>,
    cache: TileCache,
    /// Bumped after every change to any layer, before its tiles are invalidated: a tile
    /// rendered across a change is not kept in the cache.
    epoch: AtomicU64,
}

impl Engine {
    /// An engine with every catalog layer present and empty.
    pub fn new(catalog: Arc<Catalog>, store_crs: Epsg, cache_bytes: u64) -> Result<Self, EngineError> {
        let mut layers = HashMap::new();
        for def in catalog.layers() {
            let empty = LayerData::build(def.clone(), Vec::new(), store_crs)?;
            layers.insert(def.id.to_string(), Arc::new(LayerSlot::new(empty)));
        }
        Ok(Self {
            catalog: ArcSwap::new(catalog),
            store_crs,
            layers: ArcSwap::from_pointee(layers),
            catalog_write: Mutex::new(()),
            cache: TileCache::new(cache_bytes),
            epoch: AtomicU64::new(0),
        })
    }

    /// The layers as they are now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// Adds a layer ([`LayerData::build`]), or replaces the definition and features of the
    /// layer with its id; its cached tiles are dropped.
    pub fn put_layer(&self, data: LayerData) -> Result<(), EngineError> {
        let (id, def) = (data.def.id.to_string(), data.def.clone());
        let _catalog = self.catalog_write.lock().unwrap_or_else(|e| e.into_inner());
        match self.layers.load().get(&id).cloned() {
            Some(slot) => {
                let _write = slot.write.lock().unwrap_or_else(|e| e.into_inner());
                slot.data.store(Arc::new(data));
                slot.edits.fetch_add(1, Ordering::SeqCst);
            }
            None => {
                let mut layers = HashMap::clone(&self.layers.load());
                layers.insert(id.clone(), Arc::new(LayerSlot::new(data)));
                self.layers.store(Arc::new(layers));
            }
        }
        // The data first: whoever finds the layer in the catalog finds its data.
        self.catalog.store(Arc::new(self.catalog.load().with(def)));
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_layer(&id);
        Ok(())
    }

    /// Removes a layer and its cached tiles; false if there was none.
    pub fn remove_layer(&self, id: &str) -> bool {
        let _catalog = self.catalog_write.lock().unwrap_or_else(|e| e.into_inner());
        if self.catalog.load().get(id).is_none() {
            return false;
        }
        self.catalog.store(Arc::new(self.catalog.load().without(id)));
        let mut layers = HashMap::clone(&self.layers.load());
        layers.remove(id);
        self.layers.store(Arc::new(layers));
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_layer(id);
        true
    }

    pub fn cache(&self) -> &TileCache {
        &self.cache
    }

    fn slot(&self, id: &str) -> Result<Arc<LayerSlot>, EngineError> {
        self.layers.load().get(id).cloned().ok_or_else(|| EngineError::UnknownLayer(id.to_owned()))
    }

    /// Replaces a layer's features (in the store CRS) and drops its cached tiles. Returns the
    /// version it made.
    pub fn load_layer(
        &self,
        id: &str,
        features: impl IntoIterator<Item = Feature>,
    ) -> Result<Arc<LayerData>, EngineError> {
        let def = self.slot(id)?.data.load().def.clone();
        self.set_layer(id, LayerData::build(def, features, self.store_crs)?)
    }

    /// Replaces a layer's data with a version built elsewhere (read from a snapshot, or built
    /// as the store streamed it) and
    /// drops its cached tiles.
    pub fn set_layer(&self, id: &str, data: LayerData) -> Result<Arc<LayerData>, EngineError> {
        let slot = self.slot(id)?;
        let data = Arc::new(data);
        let _write = slot.write.lock().unwrap_or_else(|e| e.into_inner());
        slot.data.store(data.clone());
        slot.edits.fetch_add(1, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_layer(id);
        Ok(data)
    }

    /// The CRS the layers' features are given in.
    pub fn store_crs(&self) -> Epsg {
        self.store_crs
    }

    /// Applies changed features to a layer: `upserts` (in the store CRS) are added or replace
    /// the features with their ids, `deletes` are removed. Only cached tiles that the old or
    /// new geometries touch are dropped. Returns the number of features whose tiles changed.
    pub fn apply_changes(&self, id: &str, upserts: Vec<Feature>, deletes: &[FeatureId]) -> Result<usize, EngineError> {
        let changed = self.apply_derived(id, upserts, deletes)?;
        self.slot(id)?.edits.fetch_add(1, Ordering::SeqCst);
        Ok(changed)
    }

    /// [`Self::apply_changes`] for attributes the server derives itself (a road's plowed time):
    /// [`Self::edits`] does not move.
    pub fn apply_derived(&self, id: &str, upserts: Vec<Feature>, deletes: &[FeatureId]) -> Result<usize, EngineError> {
        let slot = self.slot(id)?;
        let _write = slot.write.lock().unwrap_or_else(|e| e.into_inner());
        let applied = slot.data.load().apply(upserts, deletes, self.store_crs)?;
        slot.data.store(Arc::new(applied.data));
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_areas(id, &applied.changed, render::BUFFER);
        Ok(applied.changed.len())
    }

    /// How many times a layer was loaded or changed, but for derived attributes.
    pub fn edits(&self, id: &str) -> u64 {
        self.layers.load().get(id).map_or(0, |s| s.edits.load(Ordering::SeqCst))
    }

    /// The current data of a layer.
    pub fn layer(&self, id: &str) -> Option<Arc<LayerData>> {
        self.layers.load().get(id).map(|s| s.data.load_full())
    }

    /// A tile of `layers` (ids) for `audience`, from the cache or freshly rendered. The caller
    /// has resolved `layers` against the catalog for that audience. Renders on the calling
    /// thread: call it off the async workers.
    pub fn tile(&self, layers: &[String], tile: TileCoord, audience: Audience) -> Arc<EncodedTile> {
        let key = TileKey { layers: layers.join(",").into(), tile, audience };
        let epoch = self.epoch.load(Ordering::SeqCst);
        let encoded = self.cache.get_or_render(key.clone(), || self.render(layers, tile, audience));
        if self.epoch.load(Ordering::SeqCst) != epoch {
            // A layer changed while this tile was rendered: it may hold the old data, and the
            // invalidation may have run before it was cached. Serve it (it was current when
            // asked for) but do not keep it.
            self.cache.invalidate(&key);
        }
        encoded
    }

    /// The tile if it is cached (cheap: safe on an async worker).
    pub fn cached(&self, layers: &[String], tile: TileCoord, audience: Audience) -> Option<Arc<EncodedTile>> {
        self.cache.get(&TileKey { layers: layers.join(",").into(), tile, audience })
    }

    /// Renders a tile without the cache.
    pub fn render(&self, layers: &[String], tile: TileCoord, audience: Audience) -> Vec<u8> {
        let data: Vec<Arc<LayerData>> = layers.iter().filter_map(|l| self.layer(l)).collect();
        let refs: Vec<&LayerData> = data.iter().map(Arc::as_ref).collect();
        render::render_tile(&refs, tile, audience).bytes
    }
}
