//! The persistence seam: a [`Store`] keeps each layer's features in the city's CRS.
//!
//! Two backends, one folder each: [`gpkg`] (the embedded default, an OGC GeoPackage file that
//! GDAL and QGIS open directly) and [`postgis`] (the system of record for a city GIS team, with
//! a change feed). [`copy`] moves everything from one to the other. The engine loads from a store at start;
//! imports and edits write through it, all-or-nothing per call.

pub mod cameras;
pub mod copy;
pub mod fleet;
pub mod gpkg;
pub mod layers;
pub mod notices;
pub mod postgis;
pub mod push;
pub mod sensors;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use serde::Serialize;

use crate::auth::{ApiKey, NewKey, Role};
use crate::catalog::{AttrType, Catalog, LayerDef};
use crate::crs::{CrsError, Epsg};
use crate::feature::{AttrValue, Feature, FeatureId, NewFeature, Record};
use crate::users::UserStore;
pub mod vehicle;

pub use cameras::CameraStore;
pub use fleet::{FixMatch, FixRow, FleetStore, Matches, PassRow, Progress};
pub use layers::LayerStore;
pub use notices::NoticeStore;
pub use push::PushStore;
pub use sensors::SensorStore;

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
    #[error(
        "layer {layer}: {count} features already have {attribute} = {values:?}; replace them, or nothing is written"
    )]
    AlreadyThere { layer: String, attribute: String, values: Vec<String>, count: u64 },
    #[error("layer {layer} has no feature {id}")]
    NoFeature { layer: String, id: FeatureId },
    #[error("feature {id} of layer {layer} has changed since it was read (its ETag is now {current})")]
    Stale { layer: String, id: FeatureId, current: String },
    #[error(transparent)]
    Crs(#[from] CrsError),
}

impl StoreError {
    pub(crate) fn db(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let what = what.into();
        move |source| Self::Database { what, source }
    }

    /// The geometry of the `n`th feature of an insert is unusable.
    pub(crate) fn new_geometry(layer: &LayerDef, n: usize, message: impl std::fmt::Display) -> Self {
        Self::Geometry { layer: layer.id.to_string(), id: format!("#{n} (new)"), message: message.to_string() }
    }

    /// An attribute value of the `n`th feature of an insert does not fit its column.
    pub(crate) fn new_attribute(layer: &LayerDef, n: usize, attribute: &str, message: impl std::fmt::Display) -> Self {
        Self::Schema { layer: layer.id.to_string(), message: format!("feature #{n}, attribute {attribute}: {message}") }
    }
}

/// One row to write, checked against its layer.
pub(crate) struct WriteRow<'a> {
    /// Conformed to the layer's geometry type.
    pub geometry: geo_types::Geometry<f64>,
    pub attributes: &'a [AttrValue],
    /// For a copy between stores: the id, version and times to keep.
    pub kept: Option<&'a Record>,
}

/// Checks the `n`th feature of a write against its layer: the geometry, conformed to the
/// layer's geometry type, and the number of attribute values. Every store calls this first.
pub(crate) fn checked_row<'a>(
    layer: &LayerDef,
    n: usize,
    geometry: &geo_types::Geometry<f64>,
    attributes: &'a [AttrValue],
    kept: Option<&'a Record>,
) -> Result<WriteRow<'a>, StoreError> {
    if attributes.len() != layer.attributes.len() {
        return Err(StoreError::Schema {
            layer: layer.id.to_string(),
            message: format!(
                "feature #{n} has {} attribute values, the schema {}",
                attributes.len(),
                layer.attributes.len()
            ),
        });
    }
    let geometry = layer.geometry.conform(geometry).map_err(|m| StoreError::new_geometry(layer, n, m))?;
    Ok(WriteRow { geometry, attributes, kept })
}

/// Checks new features (see [`checked_row`]).
pub(crate) fn new_rows<'a>(layer: &LayerDef, features: &'a [NewFeature]) -> Result<Vec<WriteRow<'a>>, StoreError> {
    features.iter().enumerate().map(|(n, f)| checked_row(layer, n, &f.geometry, &f.attributes, None)).collect()
}

/// Checks records to copy in, keeping their ids, versions and times (see [`checked_row`]).
pub(crate) fn kept_rows<'a>(layer: &LayerDef, records: &'a [Record]) -> Result<Vec<WriteRow<'a>>, StoreError> {
    records
        .iter()
        .enumerate()
        .map(|(n, r)| checked_row(layer, n, &r.feature.geometry, &r.feature.attributes, Some(r)))
        .collect()
}

/// A time as the stores write fixes, plowed times and sessions: UTC, milliseconds, `Z`.
pub fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A timestamp as both stores exchange it: ISO 8601 in UTC with `Z`, milliseconds when the
/// sub-second part has no finer digits (as GeoPackage writes it), else microseconds (as
/// PostgreSQL keeps it). So a time survives GeoPackage → PostGIS → GeoPackage as the same text.
pub(crate) fn normal_time(t: String) -> String {
    match t.strip_suffix("000Z") {
        Some(head) if head.len() >= 4 && head.as_bytes()[head.len() - 4] == b'.' => format!("{head}Z"),
        _ => t,
    }
}

/// Wraps SQL built from catalog names. Layer and attribute names are validated by
/// [`crate::catalog::LayerId::new`] (lowercase letters, digits, `_`) before any SQL is built,
/// and always double-quoted, so they cannot inject.
pub(crate) fn catalog_sql(sql: String) -> sqlx::AssertSqlSafe<std::sync::Arc<str>> {
    sqlx::AssertSqlSafe(sql.into())
}

/// One change to one feature, as the feature API makes it.
#[derive(Debug, Clone)]
pub enum Edit {
    Create(NewFeature),
    /// The whole feature anew (geometry and every attribute).
    Replace {
        id: FeatureId,
        feature: NewFeature,
    },
    /// Some attributes (by schema position) and, if given, the geometry.
    Update {
        id: FeatureId,
        geometry: Option<geo_types::Geometry<f64>>,
        attributes: Vec<(usize, AttrValue)>,
    },
    Delete {
        id: FeatureId,
    },
}

impl Edit {
    /// The audit log's name for it.
    pub fn action(&self) -> &'static str {
        match self {
            Edit::Create(_) => "create",
            Edit::Replace { .. } => "replace",
            Edit::Update { .. } => "update",
            Edit::Delete { .. } => "delete",
        }
    }

    /// The feature it changes (none for a create).
    pub fn id(&self) -> Option<FeatureId> {
        match self {
            Edit::Create(_) => None,
            Edit::Replace { id, .. } | Edit::Update { id, .. } | Edit::Delete { id } => Some(*id),
        }
    }

    /// What to write, given the feature as stored now (read in the edit's transaction):
    /// `None` to write nothing (a delete). Checks that the feature exists and, with `expect`,
    /// that its ETag is still that. `now` is the change time.
    pub(crate) fn plan(
        &self,
        layer: &LayerDef,
        current: Option<&Record>,
        expect: Option<&str>,
        now: &str,
    ) -> Result<Option<Record>, StoreError> {
        if let Some(id) = self.id() {
            let current = current.ok_or_else(|| StoreError::NoFeature { layer: layer.id.to_string(), id })?;
            let tag = current.feature.etag();
            if expect.is_some_and(|e| e != tag) {
                return Err(StoreError::Stale { layer: layer.id.to_string(), id, current: tag });
            }
        }
        let next = |feature: Feature| Record {
            feature,
            version: current.map_or(1, |c| c.version + 1),
            created_at: current.map_or_else(|| now.to_owned(), |c| c.created_at.clone()),
            updated_at: now.to_owned(),
        };
        Ok(match self {
            Edit::Create(f) => {
                Some(next(Feature { id: 0, geometry: f.geometry.clone(), attributes: f.attributes.clone() }))
            }
            Edit::Replace { id, feature } => Some(next(Feature {
                id: *id,
                geometry: feature.geometry.clone(),
                attributes: feature.attributes.clone(),
            })),
            Edit::Update { geometry, attributes, .. } => {
                let mut f = current.expect("checked above").feature.clone();
                if let Some(g) = geometry {
                    f.geometry = g.clone();
                }
                for (i, v) in attributes {
                    f.attributes[*i] = v.clone();
                }
                Some(next(f))
            }
            Edit::Delete { .. } => None,
        })
    }
}

/// A feature before and after an edit, as stored.
#[derive(Debug, Clone)]
pub struct Edited {
    pub before: Option<Record>,
    pub after: Option<Record>,
}

/// A change time as both stores write it (UTC, milliseconds).
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A record as the audit log keeps it: GeoJSON in the store's CRS with every attribute and the
/// version.
pub(crate) fn audit_json(layer: &LayerDef, r: Option<&Record>) -> Option<String> {
    let r = r?;
    let mut f = r.feature.to_geojson(layer, crate::catalog::Audience::Staff, &r.feature.geometry);
    f.foreign_members = Some([("version".to_owned(), serde_json::json!(r.version))].into_iter().collect());
    Some(serde_json::to_string(&f).expect("a feature serialises"))
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub layer: String,
    pub feature_id: FeatureId,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A row of `select_audit.sql`.
pub(crate) type AuditRow = (i64, String, String, String, String, i64, Option<String>, Option<String>);

pub(crate) fn audit_entry((id, at, actor, action, layer, feature_id, before, after): AuditRow) -> AuditEntry {
    let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    AuditEntry { id, at: normal_time(at), actor, action, layer, feature_id, before: json(before), after: json(after) }
}

/// A row of `select_keys.sql`: id, name, role, layers, created_at, revoked_at.
pub(crate) type KeyRow = (String, String, String, Option<String>, String, Option<String>);

pub(crate) fn api_key((id, name, role, layers, created_at, revoked_at): KeyRow) -> Result<ApiKey, StoreError> {
    let role = Role::parse(&role).ok_or_else(|| StoreError::Schema {
        layer: "machizu_api_keys".into(),
        message: format!("unknown role {role:?}"),
    })?;
    let layers = layers.map(|l| l.split(',').map(str::to_owned).collect());
    let (created_at, revoked_at) = (normal_time(created_at), revoked_at.map(normal_time));
    Ok(ApiKey { id, name, role, layers, created_at, revoked_at })
}

/// The `layers` column of a key.
pub(crate) fn key_layers(key: &ApiKey) -> Option<String> {
    key.layers.as_ref().map(|l| l.join(","))
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

/// A change to a layer's stored features, as a [`ChangeFeed`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These features were inserted, updated or deleted: read them again (an id that is gone
    /// was deleted).
    Features { layer: String, ids: Vec<FeatureId> },
    /// Too much of the layer changed to list: read all of it again.
    Layer { layer: String },
    /// The stored definition of a layer made from a file was made, changed or removed
    /// ([`LayerStore`]): read it again.
    Definition { layer: String },
}

/// Changes to a store, in commit order.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The next changes, waiting for at least one; everything already received comes in the
    /// same batch. An error means changes may have been missed: start a new feed with
    /// [`Store::watch`], then read everything again.
    async fn next(&mut self) -> Result<Vec<Change>, StoreError>;
}

/// Which earlier features a keyed insert settles: those whose `attribute` is one of `values`.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    pub attribute: &'a str,
    pub values: &'a [String],
    pub replace: bool,
}

impl Key<'_> {
    /// Checks that the attribute is one of the layer's (it is then a safe column name).
    pub(crate) fn check(&self, layer: &LayerDef) -> Result<(), StoreError> {
        match layer.attribute_index(self.attribute) {
            Some(_) => Ok(()),
            None => Err(StoreError::Schema {
                layer: layer.id.to_string(),
                message: format!("no attribute {:?} to key an insert on", self.attribute),
            }),
        }
    }

    /// What a settled key found: an error unless replacing.
    pub(crate) fn settle(&self, layer: &LayerDef, count: u64) -> Result<(), StoreError> {
        if count > 0 && !self.replace {
            return Err(StoreError::AlreadyThere {
                layer: layer.id.to_string(),
                attribute: self.attribute.to_owned(),
                values: self.values.to_vec(),
                count,
            });
        }
        Ok(())
    }
}

/// The `UPDATE` of [`Store::set_derived`] in a backend's dialect: each attribute (text, real,
/// date or date-time, else an error) set from a placeholder, version and update time moved on, the
/// feature chosen by `fid` from the last placeholder. `placeholder(n, type)` writes the `n`th.
pub(crate) fn derived_sql(
    layer: &LayerDef,
    attributes: &[&str],
    placeholder: impl Fn(usize, AttrType) -> String,
    now: &str,
) -> Result<String, StoreError> {
    let mut sets = Vec::new();
    for (i, name) in attributes.iter().enumerate() {
        let kind = layer.attribute_index(name).map(|i| layer.attributes[i].kind);
        let Some(kind @ (AttrType::Text | AttrType::Real | AttrType::Date | AttrType::DateTime)) = kind else {
            return Err(StoreError::Schema {
                layer: layer.id.to_string(),
                message: format!("no text, real, date or date-time attribute {name:?} to set"),
            });
        };
        sets.push(format!("\"{name}\" = {}", placeholder(i + 1, kind)));
    }
    Ok(format!(
        "UPDATE \"{}\" SET {}, version = version + 1, updated_at = {now} WHERE fid = {}",
        layer.id,
        sets.join(", "),
        placeholder(attributes.len() + 1, AttrType::Integer)
    ))
}

/// A place where layers are kept (and, through [`FleetStore`], vehicles and their positions;
/// through [`SensorStore`], SensorThings entities and observations; through [`CameraStore`],
/// camera images; through [`UserStore`], staff accounts; through [`LayerStore`], layers made from files).
#[async_trait]
pub trait Store:
    FleetStore + SensorStore + CameraStore + NoticeStore + PushStore + UserStore + LayerStore + Send + Sync
{
    /// The backend's name (`gpkg`, `postgis`).
    fn kind(&self) -> &'static str;

    /// The CRS every geometry is stored in.
    fn crs(&self) -> Epsg;

    /// Creates or updates the tables for the catalog's layers (idempotent).
    async fn prepare(&self, catalog: &Catalog) -> Result<(), StoreError>;

    /// How many features a layer holds.
    async fn count(&self, layer: &LayerDef) -> Result<u64, StoreError>;

    /// Every feature of a layer, by ascending id, as the rows come: the engine builds a layer
    /// of millions from this without ever holding the rows whole ([`crate::follow`]).
    fn stream<'a>(&'a self, layer: &'a LayerDef) -> BoxStream<'a, Result<Feature, StoreError>>;

    /// Every feature of a layer, by ascending id.
    async fn load(&self, layer: &LayerDef) -> Result<Vec<Feature>, StoreError> {
        self.stream(layer).try_collect().await
    }

    /// The features with these ids, by ascending id; an id not returned is not in the layer.
    async fn load_ids(&self, layer: &LayerDef, ids: &[FeatureId]) -> Result<Vec<Feature>, StoreError>;

    /// A number that moves whenever the layer's stored features change, by whatever program
    /// changes them (triggers keep it): equal versions mean the same features.
    async fn layer_version(&self, layer: &LayerDef) -> Result<u64, StoreError>;

    /// Starts following the changes anyone makes to the layers, if the backend can tell (PostGIS
    /// can, through LISTEN/NOTIFY; a GeoPackage file cannot). Every change committed after this
    /// returns is reported by the feed.
    async fn watch(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        Ok(None)
    }

    /// Inserts features in one transaction: all land, or none. Returns their new ids.
    async fn insert(&self, layer: &LayerDef, features: &[NewFeature]) -> Result<Vec<FeatureId>, StoreError>;

    /// Inserts features in one transaction that also settles the features an earlier write
    /// with the same `key` values brought (an import's sources): with `key.replace` they are
    /// deleted first, without it finding any is [`StoreError::AlreadyThere`] and nothing is
    /// written. Returns the new ids and how many features were replaced.
    async fn insert_keyed(
        &self,
        layer: &LayerDef,
        features: &[NewFeature],
        key: &Key<'_>,
    ) -> Result<(Vec<FeatureId>, u64), StoreError>;

    /// Every feature of a layer with its version and times, by ascending id (for copies).
    async fn export(&self, layer: &LayerDef) -> Result<Vec<Record>, StoreError>;

    /// Replaces the whole content of these layers, keeping ids, versions and times, makes the
    /// layers made from files exactly `defs` (their data among `layers`), and sets these
    /// metadata entries (`None` removes one) — all in one transaction. New ids continue after
    /// the largest.
    async fn replace(
        &self,
        defs: &[LayerDef],
        layers: &[(LayerDef, Vec<Record>)],
        meta: &[(String, Option<String>)],
    ) -> Result<(), StoreError>;

    /// A value from the store's own key/value metadata.
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets a metadata value.
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Whether the store answers.
    async fn health(&self) -> StoreHealth;

    /// Sets attributes given as text (text, real, date, date-time; by name) of features in one
    /// transaction without an audit entry: for values the server derives, such as a road's last
    /// plowed time. Versions and update times move on. Returns the features as stored now.
    async fn set_derived(
        &self,
        layer: &LayerDef,
        attributes: &[&str],
        rows: &[(FeatureId, Vec<Option<String>>)],
    ) -> Result<Vec<Feature>, StoreError>;

    /// Makes one edit in one transaction, with its audit log entry (`actor` did it): the
    /// feature is read and locked, checked against `expect` (its ETag) if given, written, and
    /// the entry records it before and after. Returns both.
    async fn edit(
        &self,
        layer: &LayerDef,
        edit: &Edit,
        expect: Option<&str>,
        actor: &str,
    ) -> Result<Edited, StoreError>;

    /// The newest audit log entries, newest first, of a layer or a feature if given.
    async fn audit(
        &self,
        layer: Option<&str>,
        feature: Option<FeatureId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Stores a new API key's hash and record; returns the record as stored.
    async fn create_key(&self, key: &NewKey) -> Result<ApiKey, StoreError>;

    /// Every API key, revoked ones too, oldest first.
    async fn keys(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// The key whose token has this hash ([`crate::auth::hash_token`]), revoked or not.
    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;

    /// Revokes a key; false if there is no such key or it was revoked before.
    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError>;
}
