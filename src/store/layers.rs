//! Layers made from files ([`crate::layers`]): their definitions, kept in the store next to
//! their tables (`machizu_layer_defs`, as JSON), so that every process serving the store has
//! them without a restart. A definition and its table come and go together, in one
//! transaction. PostGIS tells the other processes through the change feed
//! ([`super::Change::Definition`]).

use async_trait::async_trait;

use super::StoreError;
use crate::catalog::LayerDef;
use crate::feature::{FeatureId, NewFeature};

/// Where the definitions of layers made from files are kept.
#[async_trait]
pub trait LayerStore: Send + Sync {
    /// Every stored definition, oldest first.
    async fn layer_defs(&self) -> Result<Vec<LayerDef>, StoreError>;

    /// One stored definition.
    async fn layer_def(&self, id: &str) -> Result<Option<LayerDef>, StoreError>;

    /// Makes a layer: its definition, its table and its features, in one transaction. A table
    /// of that name already there (a built-in layer's, or anything else) is an error.
    async fn create_layer(&self, def: &LayerDef, features: &[NewFeature]) -> Result<Vec<FeatureId>, StoreError>;

    /// Replaces every feature of a stored layer in one transaction; returns the new ids and
    /// how many features went.
    async fn replace_layer(&self, def: &LayerDef, features: &[NewFeature])
    -> Result<(Vec<FeatureId>, u64), StoreError>;

    /// Stores a changed definition of a stored layer (titles, visibility: the schema stays).
    async fn update_layer_def(&self, def: &LayerDef) -> Result<(), StoreError>;

    /// Removes a stored layer, definition and table; false if there is none.
    async fn drop_layer(&self, id: &str) -> Result<bool, StoreError>;
}

/// A definition as stored.
pub(crate) fn to_json(def: &LayerDef) -> String {
    serde_json::to_string(def).expect("a layer definition serialises")
}

/// A stored definition, read back.
pub(crate) fn from_json(id: &str, json: &str) -> Result<LayerDef, StoreError> {
    let def: LayerDef = serde_json::from_str(json)
        .map_err(|e| StoreError::Schema { layer: id.to_owned(), message: format!("stored definition: {e}") })?;
    def.validate().map_err(|e| StoreError::Schema { layer: id.to_owned(), message: e.to_string() })?;
    Ok(def)
}

/// The error for a layer that is not stored.
pub(crate) fn not_stored(id: &str) -> StoreError {
    StoreError::Schema { layer: id.to_owned(), message: "not a layer made from a file".into() }
}
