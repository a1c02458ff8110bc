//! The embedded default store: an OGC GeoPackage 1.3 file, through sqlx's SQLite driver.
//!
//! One feature table per layer (`fid`, `geom` as GeoPackage binary in the city CRS, one column
//! per attribute, `version`, `created_at`, `updated_at`), registered in `gpkg_contents` and
//! `gpkg_geometry_columns` so that GDAL and QGIS read it as they would any GeoPackage. The core
//! tables come from `schema/gpkg/geopackage_core.sql`; the per-layer DDL is generated from the catalog.
//! There is no GeoPackage R-tree extension: its triggers call SpatiaLite/GDAL SQL functions that
//! plain SQLite lacks, and the engine keeps its own spatial indexes in memory.
//!
//! An unreferenced layer (`LayerDef::referenced` false) is registered with SRS -1, "undefined
//! Cartesian". Rows are written up to 500 per `INSERT` (each statement is a round trip to
//! sqlx's SQLite thread).
//!
//! Durability: rollback journal with `synchronous = FULL`; every `insert` is one transaction.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use geo::BoundingRect;
use geozero::wkb::GpkgWkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, Row};

use super::{
    AuditEntry, AuditRow, Edit, Edited, Key, KeyRow, Store, StoreError, StoreHealth, WriteRow, api_key, audit_entry,
    audit_json, catalog_sql, checked_row, kept_rows, key_layers, new_rows, normal_time, now,
};
use crate::auth::{ApiKey, NewKey};
use crate::catalog::{AttrType, Catalog, LayerDef};
use crate::crs::Epsg;
use crate::feature::{AttrValue, Feature, FeatureId, NewFeature, Record, union_rects};

mod backup;
mod cameras;
mod fleet;
mod layers;
mod notices;
mod push;
mod sensors;
mod users;

/// The file name of the embedded store inside the data directory.
pub const FILE_NAME: &str = "machizu.gpkg";

pub use backup::Copied;

/// A GeoPackage-backed [`Store`].
pub struct GpkgStore {
    pool: SqlitePool,
    path: PathBuf,
    crs: Epsg,
}

impl GpkgStore {
    /// Opens (creating if needed) `DIR/machizu.gpkg`.
    pub async fn open_in(dir: &Path, crs: Epsg) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.display().to_string(), source })?;
        Self::open(&dir.join(FILE_NAME), crs).await
    }

    /// Opens (creating if needed) a GeoPackage file and ensures its core tables.
    pub async fn open(path: &Path, crs: Epsg) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(StoreError::db(format!("opening {}", path.display())))?;
        // The core schema is idempotent DDL, run at every open. (sqlx's migration table would
        // show up in GDAL and QGIS as an odd extra table in the user's GeoPackage.)
        sqlx::raw_sql(include_str!("../../../schema/gpkg/geopackage_core.sql"))
            .execute(&pool)
            .await
            .map_err(StoreError::db("creating the GeoPackage core tables"))?;
        sqlx::raw_sql(include_str!("../../../schema/gpkg/machizu.sql"))
            .execute(&pool)
            .await
            .map_err(StoreError::db("creating machizu's own tables"))?;
        Ok(Self { pool, path: path.to_owned(), crs })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection (so other programs see a quiet file).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes checked rows within `tx` and widens the layer's extent; returns their ids.
    /// The GeoPackage SRS of a layer's geometry: the store's CRS, or -1 (undefined Cartesian)
    /// for an unreferenced layer.
    fn srs_id(&self, layer: &LayerDef) -> i64 {
        if layer.referenced { i64::from(self.crs.0) } else { -1 }
    }

    async fn write_rows(
        &self,
        tx: &mut SqliteConnection,
        layer: &LayerDef,
        rows: &[WriteRow<'_>],
    ) -> Result<Vec<FeatureId>, StoreError> {
        let keep = rows.first().is_some_and(|r| r.kept.is_some());
        // Many rows per statement: each statement is a round trip to sqlx's SQLite thread,
        // which costs more than SQLite's work on a row. At most 500 rows and 30,000 bound
        // values (SQLite allows 32,766).
        let columns = 1 + layer.attributes.len() + if keep { 4 } else { 0 };
        let per_statement = (30_000 / columns).clamp(1, 500);
        let mut ids = Vec::with_capacity(rows.len());
        let mut extent: Option<geo_types::Rect<f64>> = None;
        for (c, chunk) in rows.chunks(per_statement).enumerate() {
            let mut args = SqliteArguments::default();
            for (i, row) in chunk.iter().enumerate() {
                let n = c * per_statement + i;
                let rect =
                    row.geometry.bounding_rect().ok_or_else(|| StoreError::new_geometry(layer, n, "empty geometry"))?;
                extent = union_rects(extent.into_iter().chain([rect]));
                let envelope = vec![rect.min().x, rect.max().x, rect.min().y, rect.max().y];
                let wkb = row
                    .geometry
                    .to_gpkg_wkb(CoordDimensions::xy(), Some(self.srs_id(layer) as i32), envelope)
                    .map_err(|e| StoreError::new_geometry(layer, n, e))?;
                args.add(wkb).map_err(|e| StoreError::new_geometry(layer, n, e))?;
                for (a, v) in layer.attributes.iter().zip(row.attributes) {
                    bind_value(&mut args, a.kind, v).map_err(|m| StoreError::new_attribute(layer, n, &a.name, m))?;
                }
                if let Some(r) = row.kept {
                    let bound = args
                        .add(r.feature.id)
                        .and_then(|()| args.add(r.version))
                        .and_then(|()| args.add(r.created_at.clone()))
                        .and_then(|()| args.add(r.updated_at.clone()));
                    bound.map_err(|e| StoreError::new_attribute(layer, n, "fid/version/times", e))?;
                }
            }
            let sql = catalog_sql(insert_sql(layer, keep, chunk.len())).0;
            let done = sqlx::query_with(AssertSqlSafe(sql), args)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("inserting into {}", layer.id)))?;
            // Rows without an id get the next rowids in order, one statement at a time.
            if keep {
                ids.extend(chunk.iter().map(|r| r.kept.expect("all kept").feature.id));
            } else {
                let last = done.last_insert_rowid();
                ids.extend(last + 1 - chunk.len() as i64..=last);
            }
        }
        if let Some(e) = extent {
            sqlx::query(include_str!("sql/update_extent.sql"))
                .bind(layer.id.as_str())
                .bind(e.min().x)
                .bind(e.min().y)
                .bind(e.max().x)
                .bind(e.max().y)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("updating the layer extent"))?;
        }
        Ok(ids)
    }

    async fn ensure_layer(&self, layer: &LayerDef) -> Result<(), StoreError> {
        // IMMEDIATE: the schema is read and then written; a transaction that began reading could
        // not take the write lock after another process (or an app closing) wrote meanwhile.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(StoreError::db("starting a transaction"))?;
        self.make_table(&mut tx, layer, true).await?;
        tx.commit().await.map_err(StoreError::db(format!("committing the schema of {}", layer.id)))
    }

    /// Creates a layer's table within `tx` and registers it; with `or_keep`, a table that is
    /// there is kept and gets the attributes it lacks as new columns, else it is an error.
    async fn make_table(&self, tx: &mut SqliteConnection, layer: &LayerDef, or_keep: bool) -> Result<(), StoreError> {
        let t = layer.id.as_str();
        let mut cols = String::new();
        for a in &layer.attributes {
            cols.push_str(&format!(", \"{}\" {}", a.name, a.kind.gpkg_type()));
        }
        let now = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))";
        let ddl = format!(
            "CREATE TABLE {}\"{t}\" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {geom}{cols}, \
             version INTEGER NOT NULL DEFAULT 1, created_at DATETIME NOT NULL DEFAULT {now}, \
             updated_at DATETIME NOT NULL DEFAULT {now})",
            if or_keep { "IF NOT EXISTS " } else { "" },
            geom = layer.geometry.ogc_name(),
        );
        sqlx::query(catalog_sql(ddl)).execute(&mut *tx).await.map_err(StoreError::db(format!("creating table {t}")))?;
        // Attributes added to the catalog after the table was made become new columns.
        let existing: Vec<String> =
            sqlx::query_scalar(catalog_sql(format!("SELECT name FROM pragma_table_info('{t}')")))
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db(format!("reading the columns of {t}")))?;
        for a in layer.attributes.iter().filter(|a| !existing.contains(&a.name)) {
            sqlx::query(catalog_sql(format!("ALTER TABLE \"{t}\" ADD COLUMN \"{}\" {}", a.name, a.kind.gpkg_type())))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("adding column {} to {t}", a.name)))?;
        }
        let description = format!("{} / {}", layer.title.ja, layer.title.en);
        sqlx::query(include_str!("sql/register_contents.sql"))
            .bind(t)
            .bind(&layer.title.ja)
            .bind(description)
            .bind(self.srs_id(layer))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!("registering {t} in gpkg_contents")))?;
        sqlx::query(include_str!("sql/register_geometry_column.sql"))
            .bind(t)
            .bind(layer.geometry.ogc_name())
            .bind(self.srs_id(layer))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!("registering {t} in gpkg_geometry_columns")))?;
        for statement in include_str!("sql/layer_version_triggers.sql").split("\n\n") {
            sqlx::query(catalog_sql(statement.replace("{t}", t)))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("creating the version triggers of {t}")))?;
        }
        Ok(())
    }
}

/// What a `SELECT` of a layer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    /// Every feature.
    All,
    /// The features whose fid is in `?1` (a JSON array of ids).
    Ids,
    /// Every feature, with version and times.
    Export,
    /// The feature whose fid is the first parameter, with version and times, locked for an edit.
    Record,
}

fn select_sql(layer: &LayerDef, what: Select) -> String {
    let mut sql = String::from("SELECT fid, geom");
    for a in &layer.attributes {
        sql.push_str(&format!(", \"{}\"", a.name));
    }
    if matches!(what, Select::Export | Select::Record) {
        sql.push_str(", version, CAST(created_at AS TEXT), CAST(updated_at AS TEXT)");
    }
    sql.push_str(&format!(" FROM \"{}\"", layer.id));
    match what {
        Select::Ids => sql.push_str(" WHERE fid IN (SELECT value FROM json_each(?1))"),
        // The transaction began IMMEDIATE: the file is locked for writing already.
        Select::Record => sql.push_str(" WHERE fid = ?1"),
        _ => {}
    }
    sql.push_str(" ORDER BY fid");
    sql
}

/// An `INSERT` of one row; with `keep`, also its fid, version and times (the last four).
/// `INSERT` of `rows` rows into `layer`: geometry, attributes, and the bookkeeping columns
/// when `keep` (a copy keeps ids, versions and times).
fn insert_sql(layer: &LayerDef, keep: bool, rows: usize) -> String {
    let names: String = layer.attributes.iter().map(|a| format!(", \"{}\"", a.name)).collect();
    let marks = ", ?".repeat(layer.attributes.len());
    let (kept_names, kept_marks) =
        if keep { (", fid, version, created_at, updated_at", ", ?, ?, ?, ?") } else { ("", "") };
    let row = format!("(?{marks}{kept_marks})");
    let values = vec![row; rows].join(", ");
    format!("INSERT INTO \"{}\" (geom{names}{kept_names}) VALUES {values}", layer.id)
}

/// Features with their versions and times (`Select::Export` or `Select::Record` rows).
fn read_records(layer: &LayerDef, rows: &[SqliteRow]) -> Result<Vec<Record>, StoreError> {
    let features = read_features(layer, rows)?;
    if features.len() != rows.len() {
        return Err(StoreError::Schema {
            layer: layer.id.to_string(),
            message: "features without geometry cannot be copied or edited".into(),
        });
    }
    let n = layer.attributes.len() + 2;
    features
        .into_iter()
        .zip(rows)
        .map(|(feature, row)| {
            let read = |e| StoreError::db(format!("reading the bookkeeping of {}", layer.id))(e);
            Ok(Record {
                feature,
                version: row.try_get(n).map_err(read)?,
                created_at: normal_time(row.try_get(n + 1).map_err(read)?),
                updated_at: normal_time(row.try_get(n + 2).map_err(read)?),
            })
        })
        .collect()
}

fn read_features(layer: &LayerDef, rows: &[SqliteRow]) -> Result<Vec<Feature>, StoreError> {
    rows.iter().filter_map(|row| read_feature(layer, row).transpose()).collect()
}

/// The feature in a row, or `None` (logged) for a row without geometry, which is not served.
fn read_feature(layer: &LayerDef, row: &SqliteRow) -> Result<Option<Feature>, StoreError> {
    let id: i64 = row.try_get(0).map_err(StoreError::db(format!("reading a row of {}", layer.id)))?;
    let Some(blob) = row.try_get::<Option<Vec<u8>>, _>(1).map_err(StoreError::db("reading a geometry"))? else {
        tracing::warn!(layer = %layer.id, id, "feature without geometry is not served");
        return Ok(None);
    };
    let geometry = GpkgWkb(blob).to_geo().map_err(|e| StoreError::Geometry {
        layer: layer.id.to_string(),
        id: id.to_string(),
        message: e.to_string(),
    })?;
    let attributes = layer
        .attributes
        .iter()
        .enumerate()
        .map(|(i, a)| {
            read_value(row, i + 2, a.kind).map_err(StoreError::db(format!("reading {}.{}", layer.id, a.name)))
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(Feature { id, geometry, attributes }))
}

fn read_value(row: &SqliteRow, i: usize, kind: AttrType) -> Result<AttrValue, sqlx::Error> {
    Ok(match kind {
        AttrType::Integer => row.try_get::<Option<i64>, _>(i)?.into(),
        AttrType::Real => row.try_get::<Option<f64>, _>(i)?.into(),
        AttrType::Boolean => row.try_get::<Option<bool>, _>(i)?.into(),
        AttrType::Text | AttrType::Date | AttrType::DateTime => row.try_get::<Option<String>, _>(i)?.into(),
    })
}

fn bind_value(args: &mut SqliteArguments, kind: AttrType, v: &AttrValue) -> Result<(), String> {
    let r = match (kind, v) {
        (_, AttrValue::Null) => args.add(None::<String>),
        (AttrType::Integer, AttrValue::Int(i)) => args.add(*i),
        (AttrType::Real, AttrValue::Real(f)) => args.add(*f),
        (AttrType::Real, AttrValue::Int(i)) => args.add(*i as f64),
        (AttrType::Boolean, AttrValue::Bool(b)) => args.add(*b),
        (AttrType::Text | AttrType::Date | AttrType::DateTime, AttrValue::Text(s)) => args.add(s.clone()),
        (kind, v) => return Err(format!("expected a {kind:?} value, got {v:?}")),
    };
    r.map_err(|e| e.to_string())
}

#[async_trait]
impl Store for GpkgStore {
    fn kind(&self) -> &'static str {
        "gpkg"
    }

    fn crs(&self) -> Epsg {
        self.crs
    }

    async fn prepare(&self, catalog: &Catalog) -> Result<(), StoreError> {
        let (name, wkt) = self.crs.describe()?;
        sqlx::query(include_str!("sql/register_srs.sql"))
            .bind(&name)
            .bind(self.crs.0 as i64)
            .bind(wkt)
            .bind(name.clone())
            .execute(&self.pool)
            .await
            .map_err(StoreError::db("registering the CRS"))?;
        for layer in catalog.layers() {
            self.ensure_layer(layer).await?;
        }
        Ok(())
    }

    async fn count(&self, layer: &LayerDef) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(catalog_sql(format!("SELECT count(*) FROM \"{}\"", layer.id)))
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db(format!("counting {}", layer.id)))?;
        Ok(n as u64)
    }

    fn stream<'a>(&'a self, layer: &'a LayerDef) -> BoxStream<'a, Result<Feature, StoreError>> {
        sqlx::query(catalog_sql(select_sql(layer, Select::All)))
            .fetch(&self.pool)
            .map_err(move |e| StoreError::db(format!("reading {}", layer.id))(e))
            .try_filter_map(move |row| std::future::ready(read_feature(layer, &row)))
            .boxed()
    }

    async fn load_ids(&self, layer: &LayerDef, ids: &[FeatureId]) -> Result<Vec<Feature>, StoreError> {
        let ids = serde_json::to_string(ids).expect("ids serialise");
        let rows = sqlx::query(catalog_sql(select_sql(layer, Select::Ids)))
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading features of {}", layer.id)))?;
        read_features(layer, &rows)
    }

    async fn insert(&self, layer: &LayerDef, features: &[NewFeature]) -> Result<Vec<FeatureId>, StoreError> {
        let rows = new_rows(layer, features)?;
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        let ids = self.write_rows(&mut tx, layer, &rows).await?;
        tx.commit().await.map_err(StoreError::db(format!("committing features of {}", layer.id)))?;
        Ok(ids)
    }

    async fn insert_keyed(
        &self,
        layer: &LayerDef,
        features: &[NewFeature],
        key: &Key<'_>,
    ) -> Result<(Vec<FeatureId>, u64), StoreError> {
        key.check(layer)?;
        let rows = new_rows(layer, features)?;
        let values = serde_json::to_string(key.values).expect("strings serialise");
        let what = format!("settling earlier features of {}", layer.id);
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        // Deleting first and counting what went is one statement; without `replace` a
        // non-zero count rolls it back with the transaction.
        let found = sqlx::query(catalog_sql(format!(
            "DELETE FROM \"{}\" WHERE \"{}\" IN (SELECT value FROM json_each(?))",
            layer.id, key.attribute
        )))
        .bind(&values)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(what))?
        .rows_affected();
        key.settle(layer, found)?;
        let ids = self.write_rows(&mut tx, layer, &rows).await?;
        tx.commit().await.map_err(StoreError::db(format!("committing features of {}", layer.id)))?;
        Ok((ids, found))
    }

    async fn export(&self, layer: &LayerDef) -> Result<Vec<Record>, StoreError> {
        let rows = sqlx::query(catalog_sql(select_sql(layer, Select::Export)))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading {}", layer.id)))?;
        read_records(layer, &rows)
    }

    async fn edit(
        &self,
        layer: &LayerDef,
        edit: &Edit,
        expect: Option<&str>,
        actor: &str,
    ) -> Result<Edited, StoreError> {
        let t = layer.id.as_str();
        // IMMEDIATE: take the write lock before reading, so that nobody changes the feature
        // between the check and the write (a deferred transaction could not upgrade later).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(StoreError::db("starting a transaction"))?;
        let record = async |tx: &mut SqliteConnection, id: FeatureId| -> Result<Option<Record>, StoreError> {
            let rows = sqlx::query(catalog_sql(select_sql(layer, Select::Record)))
                .bind(id)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db(format!("reading feature {id} of {t}")))?;
            Ok(read_records(layer, &rows)?.pop())
        };
        let before = match edit.id() {
            Some(id) => record(&mut tx, id).await?,
            None => None,
        };
        let planned = edit.plan(layer, before.as_ref(), expect, &now())?;
        if let Some(b) = &before {
            sqlx::query(catalog_sql(format!("DELETE FROM \"{t}\" WHERE fid = ?1")))
                .bind(b.feature.id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("replacing feature {} of {t}", b.feature.id)))?;
        }
        let after = match &planned {
            Some(r) => {
                let row =
                    checked_row(layer, 0, &r.feature.geometry, &r.feature.attributes, before.as_ref().map(|_| r))?;
                let id = self.write_rows(&mut tx, layer, &[row]).await?[0];
                record(&mut tx, id).await?
            }
            None => None,
        };
        let id = edit.id().or(after.as_ref().map(|r| r.feature.id)).expect("an edit has a feature");
        sqlx::query(include_str!("sql/insert_audit.sql"))
            .bind(actor)
            .bind(edit.action())
            .bind(t)
            .bind(id)
            .bind(audit_json(layer, before.as_ref()))
            .bind(audit_json(layer, after.as_ref()))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("writing the audit log"))?;
        tx.commit().await.map_err(StoreError::db(format!("committing an edit of {t}")))?;
        Ok(Edited { before, after })
    }

    async fn audit(
        &self,
        layer: Option<&str>,
        feature: Option<FeatureId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(include_str!("sql/select_audit.sql"))
            .bind(layer)
            .bind(feature)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading the audit log"))?;
        Ok(rows.into_iter().map(audit_entry).collect())
    }

    async fn replace(
        &self,
        defs: &[LayerDef],
        layers: &[(LayerDef, Vec<Record>)],
        meta: &[(String, Option<String>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        // The layers made from files: the target's go, the source's come (their data below).
        for id in Self::def_ids(&mut tx).await? {
            Self::drop_in(&mut tx, &id).await?;
        }
        for def in defs {
            self.create_in(&mut tx, def).await?;
        }
        for (layer, records) in layers {
            let t = layer.id.as_str();
            let rows = kept_rows(layer, records)?;
            sqlx::query(catalog_sql(format!("DELETE FROM \"{t}\"")))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("emptying {t}")))?;
            sqlx::query(include_str!("sql/reset_extent.sql"))
                .bind(t)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("resetting the extent of {t}")))?;
            self.write_rows(&mut tx, layer, &rows).await?;
        }
        for (key, value) in meta {
            let q = match value {
                Some(value) => sqlx::query(include_str!("sql/set_meta.sql")).bind(key).bind(value),
                None => sqlx::query(include_str!("sql/delete_meta.sql")).bind(key),
            };
            q.execute(&mut *tx).await.map_err(StoreError::db("writing metadata"))?;
        }
        tx.commit().await.map_err(StoreError::db("committing the copy"))
    }

    async fn layer_version(&self, layer: &LayerDef) -> Result<u64, StoreError> {
        let v: i64 = sqlx::query_scalar(include_str!("sql/layer_version.sql"))
            .bind(layer.id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading the version of {}", layer.id)))?;
        Ok(v as u64)
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(include_str!("sql/get_meta.sql"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("reading metadata"))
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(include_str!("sql/set_meta.sql"))
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StoreError::db("writing metadata"))
    }

    async fn create_key(&self, new: &NewKey) -> Result<ApiKey, StoreError> {
        let created_at: String = sqlx::query_scalar(include_str!("sql/insert_key.sql"))
            .bind(&new.key.id)
            .bind(&new.hash)
            .bind(&new.key.name)
            .bind(new.key.role.as_str())
            .bind(key_layers(&new.key))
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("storing an API key"))?;
        Ok(ApiKey { created_at: normal_time(created_at), ..new.key.clone() })
    }

    async fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows: Vec<KeyRow> = sqlx::query_as(include_str!("sql/select_keys.sql"))
            .bind(None::<String>)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading API keys"))?;
        rows.into_iter().map(api_key).collect()
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<KeyRow> = sqlx::query_as(include_str!("sql/select_keys.sql"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("looking up an API key"))?;
        row.map(api_key).transpose()
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(include_str!("sql/revoke_key.sql"))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(StoreError::db("revoking an API key"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_derived(
        &self,
        layer: &LayerDef,
        attributes: &[&str],
        rows: &[(FeatureId, Vec<Option<String>>)],
    ) -> Result<Vec<Feature>, StoreError> {
        let sql =
            super::derived_sql(layer, attributes, |n, _| format!("?{n}"), "strftime('%Y-%m-%dT%H:%M:%fZ','now')")?;
        let t = layer.id.as_str();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(StoreError::db("starting a transaction"))?;
        for (id, values) in rows {
            let mut q = sqlx::query(catalog_sql(sql.clone()));
            for v in values {
                q = q.bind(v.clone());
            }
            q.bind(*id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("setting {} of feature {id} of {t}", attributes.join(", "))))?;
        }
        tx.commit().await.map_err(StoreError::db(format!("committing derived values of {t}")))?;
        let ids: Vec<FeatureId> = rows.iter().map(|(id, _)| *id).collect();
        self.load_ids(layer, &ids).await
    }

    async fn health(&self) -> StoreHealth {
        let r = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&self.pool).await;
        StoreHealth {
            kind: self.kind(),
            location: self.path.display().to_string(),
            ok: r.is_ok(),
            error: r.err().map(|e| e.to_string()),
        }
    }
}
