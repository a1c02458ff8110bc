//! The spatial engine: every layer in memory, generalised per zoom and indexed, and the tile
//! cache in front of it.
//!
//! Data flow: the server loads each layer's features from the [`crate::store::Store`] and hands
//! them to [`Engine::load_layer`], which builds a [`LayerData`] (reproject → intern attributes
//! → per-zoom [`level::Level`]s with R-trees) and swaps it in atomically; cached tiles naming the
//! layer are dropped. [`Engine::tile`] serves a tile from the cache or renders it
//! ([`render::render_tile`]).
//!
//! The engine knows nothing of HTTP or SQL.

pub mod cache;
pub mod layer;
pub mod level;
pub mod render;

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use cache::{EncodedTile, TileCache, TileKey};
pub use layer::LayerData;

use crate::catalog::{Audience, Catalog};
use crate::crs::{CrsError, Epsg};
use crate::feature::Feature;
use crate::tile::TileCoord;

/// Errors while building layers.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("while reprojecting: {0}")]
    Crs(#[from] CrsError),
    #[error("layer {0:?} is not in the catalog")]
    UnknownLayer(String),
}

/// All layers in memory plus the tile cache.
pub struct Engine {
    catalog: Arc<Catalog>,
    store_crs: Epsg,
    layers: HashMap<String, ArcSwap<LayerData>>,
    cache: TileCache,
}

impl Engine {
    /// An engine with every catalog layer present and empty.
    pub fn new(catalog: Arc<Catalog>, store_crs: Epsg, cache_bytes: u64) -> Result<Self, EngineError> {
        let mut layers = HashMap::new();
        for def in catalog.layers() {
            let empty = LayerData::build(def.clone(), Vec::new(), store_crs)?;
            layers.insert(def.id.to_string(), ArcSwap::from_pointee(empty));
        }
        Ok(Self { catalog, store_crs, layers, cache: TileCache::new(cache_bytes) })
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub fn cache(&self) -> &TileCache {
        &self.cache
    }

    /// Replaces a layer's features (in the store CRS) and drops its cached tiles.
    pub fn load_layer(&self, id: &str, features: Vec<Feature>) -> Result<(), EngineError> {
        let slot = self.layers.get(id).ok_or_else(|| EngineError::UnknownLayer(id.to_owned()))?;
        let def = self.catalog.get(id).ok_or_else(|| EngineError::UnknownLayer(id.to_owned()))?;
        let data = LayerData::build(def.clone(), features, self.store_crs)?;
        slot.store(Arc::new(data));
        self.cache.invalidate_layer(id);
        Ok(())
    }

    /// The current data of a layer.
    pub fn layer(&self, id: &str) -> Option<Arc<LayerData>> {
        self.layers.get(id).map(|s| s.load_full())
    }

    /// A tile of `layers` (ids) for `audience`, from the cache or freshly rendered. The caller
    /// has resolved `layers` against the catalog for that audience. Renders on the calling
    /// thread: call it off the async workers.
    pub fn tile(&self, layers: &[String], tile: TileCoord, audience: Audience) -> Arc<EncodedTile> {
        let key = TileKey { layers: layers.join(",").into(), tile, audience };
        self.cache.get_or_render(key, || self.render(layers, tile, audience))
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
