//! The persistence seam: a [`Store`] keeps each layer's features in the city's CRS.
//!
//! Two backends, one folder each: [`gpkg`] (the embedded default, an OGC GeoPackage file that
//! GDAL and QGIS open directly) and, later, PostGIS. The engine loads from a store at start;
//! imports and edits write through it, all-or-nothing per call.

pub mod gpkg;
pub mod postgis;

use async_trait::async_trait;
use serde::Serialize;

use crate::catalog::{Catalog, LayerDef};
use crate::crs::{CrsError, Epsg};
use crate::feature::{Feature, FeatureId, NewFeature};

/// Errors from a store, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("while {what}: {source}")]
    Database {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("while preparing the data directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("geometry of feature {id} in layer {layer}: {message}")]
    Geometry { layer: String, id: String, message: String },
    #[error("layer {layer}: {message}")]
    Schema { layer: String, message: String },
    #[error(transparent)]
    Crs(#[from] CrsError),
}

impl StoreError {
    pub(crate) fn db(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let what = what.into();
        move |source| Self::Database { what, source }
    }
}

/// What a store reports about itself on `/health`.
#[derive(Debug, Clone, Serialize)]
pub struct StoreHealth {
    pub kind: &'static str,
    pub location: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A place where layers are kept.
#[async_trait]
pub trait Store: Send + Sync {
    /// The backend's name (`gpkg`, `postgis`).
    fn kind(&self) -> &'static str;

    /// The CRS every geometry is stored in.
    fn crs(&self) -> Epsg;

    /// Creates or updates the tables for the catalog's layers (idempotent).
    async fn prepare(&self, catalog: &Catalog) -> Result<(), StoreError>;

    /// How many features a layer holds.
    async fn count(&self, layer: &LayerDef) -> Result<u64, StoreError>;

    /// Every feature of a layer, by ascending id.
    async fn load(&self, layer: &LayerDef) -> Result<Vec<Feature>, StoreError>;

    /// Inserts features in one transaction: all land, or none. Returns their new ids.
    async fn insert(&self, layer: &LayerDef, features: &[NewFeature]) -> Result<Vec<FeatureId>, StoreError>;

    /// A value from the store's own key/value metadata.
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets a metadata value.
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Whether the store answers.
    async fn health(&self) -> StoreHealth;
}
