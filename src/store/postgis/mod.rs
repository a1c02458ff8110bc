//! PostGIS, the system of record a city GIS team already trusts, through sqlx's PostgreSQL
//! driver.
//!
//! One table per layer: `fid bigserial`, `geom geometry(<type>, <city SRID>)` with a GiST index,
//! one column per attribute (PostgreSQL types: `text`, `bigint`, `double precision`, `boolean`,
//! `date`, `timestamptz`), `version`, `created_at`, `updated_at`. The tables hold geometry in the
//! city CRS (EPSG:6678 by default), exactly as the GeoPackage store does, so copying between
//! the two is lossless. `schema/postgis/` holds the migrations run at start; per-layer DDL is
//! generated from the catalog. Inserts stream through `COPY … FROM STDIN (FORMAT csv)` in the
//! caller's transaction, new rows numbered from the table's sequence first. An unreferenced
//! layer (`LayerDef::referenced` false) has SRID 0.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use geozero::wkb::Ewkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};

mod cameras;
mod changes;
mod fleet;
mod layers;
mod notices;
mod push;
mod sensors;
mod users;

use super::{
    AuditEntry, AuditRow, ChangeFeed, Edit, Edited, Key, KeyRow, Store, StoreError, StoreHealth, WriteRow, api_key,
    audit_entry, audit_json, catalog_sql, checked_row, kept_rows, key_layers, new_rows, normal_time, now,
};
use crate::auth::{ApiKey, NewKey};
use crate::catalog::{AttrType, Catalog, LayerDef};
use crate::crs::Epsg;
use crate::feature::{AttrValue, Feature, FeatureId, NewFeature, Record};

/// A PostGIS-backed [`Store`].
pub struct PostgisStore {
    pool: PgPool,
    location: String,
    crs: Epsg,
}

/// The URL without its password, for logs and `/health`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme && url[scheme + 3..at].contains(':') => {
            let user = url[scheme + 3..at].split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl PostgisStore {
    /// Connects and runs the migrations in `schema/postgis/`.
    pub async fn connect(url: &str, crs: Epsg) -> Result<Self, StoreError> {
        let location = redact(url);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(StoreError::db(format!("connecting to {location}")))?;
        sqlx::migrate!("schema/postgis").run(&pool).await.map_err(|e| StoreError::Schema {
            layer: "(core)".into(),
            message: format!("migrating {location}: {e}"),
        })?;
        Ok(Self { pool, location, crs })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes checked rows in batches within `tx`; returns their ids.
    /// The SRID of a layer's geometry: the store's CRS, or 0 (unknown) for an unreferenced layer.
    fn srid(&self, layer: &LayerDef) -> i32 {
        if layer.referenced { self.crs.0 as i32 } else { 0 }
    }

    /// Writes rows with `COPY … FROM STDIN (FORMAT csv)`, the fastest way into PostgreSQL.
    /// New rows get their ids from the table's sequence first (so they are known without
    /// `RETURNING`); kept rows (a copy) bring theirs.
    async fn write_rows(
        &self,
        tx: &mut PgConnection,
        layer: &LayerDef,
        rows: &[WriteRow<'_>],
    ) -> Result<Vec<FeatureId>, StoreError> {
        let Some(first) = rows.first() else { return Ok(Vec::new()) };
        let keep = first.kept.is_some();
        let t = layer.id.as_str();
        let ids: Vec<FeatureId> = if keep {
            rows.iter().map(|r| r.kept.expect("all rows kept or none").feature.id).collect()
        } else {
            let mut ids: Vec<FeatureId> = sqlx::query_scalar(include_str!("sql/next_ids.sql"))
                .bind(format!("\"{t}\""))
                .bind(rows.len() as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db(format!("numbering new features of {t}")))?;
            ids.sort_unstable();
            ids
        };
        let names: String = layer.attributes.iter().map(|a| format!(", \"{}\"", a.name)).collect();
        let kept = if keep { ", version, created_at, updated_at" } else { "" };
        let statement = format!("COPY \"{t}\" (fid, geom{names}{kept}) FROM STDIN WITH (FORMAT csv)");
        let mut copy = tx.copy_in_raw(&statement).await.map_err(StoreError::db(format!("starting a copy into {t}")))?;
        let mut buf = Vec::with_capacity(1 << 20);
        for (n, (row, id)) in rows.iter().zip(&ids).enumerate() {
            if let Err(e) = self.csv_row(&mut buf, layer, n, row, *id) {
                copy.abort(e.to_string()).await.ok();
                return Err(e);
            }
            if buf.len() >= 1 << 20 {
                copy.send(std::mem::take(&mut buf)).await.map_err(StoreError::db(format!("copying into {t}")))?;
            }
        }
        copy.send(buf).await.map_err(StoreError::db(format!("copying into {t}")))?;
        copy.finish().await.map_err(StoreError::db(format!("copying into {t}")))?;
        Ok(ids)
    }

    /// One row of `COPY … (FORMAT csv)`: fid, geometry as hex EWKB, attributes (text quoted,
    /// null as an empty unquoted field), and the bookkeeping of a kept row.
    fn csv_row(
        &self,
        buf: &mut Vec<u8>,
        layer: &LayerDef,
        n: usize,
        row: &WriteRow<'_>,
        id: FeatureId,
    ) -> Result<(), StoreError> {
        use std::io::Write;
        let ewkb = row
            .geometry
            .to_ewkb(CoordDimensions::xy(), Some(self.srid(layer)))
            .map_err(|e| StoreError::new_geometry(layer, n, e))?;
        write!(buf, "{id},").expect("writing to a Vec");
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        buf.extend(ewkb.iter().flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]));
        for (a, v) in layer.attributes.iter().zip(row.attributes) {
            buf.push(b',');
            csv_value(buf, a.kind, v).map_err(|m| StoreError::new_attribute(layer, n, &a.name, m))?;
        }
        if let Some(r) = row.kept {
            write!(buf, ",{},", r.version).expect("writing to a Vec");
            csv_text(buf, &r.created_at);
            buf.push(b',');
            csv_text(buf, &r.updated_at);
        }
        buf.push(b'\n');
        Ok(())
    }

    async fn ensure_layer(&self, layer: &LayerDef) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        self.make_table(&mut tx, layer, true).await?;
        tx.commit().await.map_err(StoreError::db(format!("committing the schema of {}", layer.id)))
    }

    /// Creates a layer's table within `tx`, with its index and change triggers; with
    /// `or_keep`, a table that is there is kept and gets the attributes it lacks as new
    /// columns, else it is an error.
    async fn make_table(&self, tx: &mut PgConnection, layer: &LayerDef, or_keep: bool) -> Result<(), StoreError> {
        let t = layer.id.as_str();
        let srid = self.srid(layer);
        let ddl = format!(
            "CREATE TABLE {}\"{t}\" (fid bigserial PRIMARY KEY, geom geometry({}, {srid}) NOT NULL, \
             version bigint NOT NULL DEFAULT 1, created_at timestamptz NOT NULL DEFAULT now(), \
             updated_at timestamptz NOT NULL DEFAULT now())",
            if or_keep { "IF NOT EXISTS " } else { "" },
            layer.geometry.ogc_name()
        );
        sqlx::query(catalog_sql(ddl)).execute(&mut *tx).await.map_err(StoreError::db(format!("creating table {t}")))?;
        for a in &layer.attributes {
            let sql = format!("ALTER TABLE \"{t}\" ADD COLUMN IF NOT EXISTS \"{}\" {}", a.name, a.kind.pg_type());
            sqlx::query(catalog_sql(sql))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("adding column {} to {t}", a.name)))?;
        }
        let index = format!("CREATE INDEX IF NOT EXISTS \"{t}_geom_gist\" ON \"{t}\" USING gist (geom)");
        sqlx::query(catalog_sql(index)).execute(&mut *tx).await.map_err(StoreError::db(format!("indexing {t}")))?;
        for trigger in include_str!("sql/layer_triggers.sql").split("\n\n") {
            sqlx::query(catalog_sql(trigger.replace("{t}", t)))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("creating the change triggers of {t}")))?;
        }
        Ok(())
    }
}

/// What a `SELECT` of a layer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    /// Every feature.
    All,
    /// The features whose fid is in `$1` (a `bigint[]`).
    Ids,
    /// Every feature, with version and times.
    Export,
    /// The feature whose fid is the first parameter, with version and times, locked for an edit.
    Record,
}

fn select_sql(layer: &LayerDef, what: Select) -> String {
    let mut sql = String::from("SELECT fid, ST_AsEWKB(geom)");
    for a in &layer.attributes {
        match a.kind {
            AttrType::Date => sql.push_str(&format!(", \"{}\"::text", a.name)),
            AttrType::DateTime => sql.push_str(&format!(", to_json(\"{}\") #>> '{{}}'", a.name)),
            _ => sql.push_str(&format!(", \"{}\"", a.name)),
        }
    }
    if matches!(what, Select::Export | Select::Record) {
        let utc = |c: &str| format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
        sql.push_str(&format!(", version, {}, {}", utc("created_at"), utc("updated_at")));
    }
    sql.push_str(&format!(" FROM \"{}\"", layer.id));
    match what {
        Select::Ids => sql.push_str(" WHERE fid = ANY($1)"),
        Select::Record => sql.push_str(" WHERE fid = $1 FOR UPDATE"),
        _ => {}
    }
    if what != Select::Record {
        sql.push_str(" ORDER BY fid");
    }
    sql
}

fn read_feature(layer: &LayerDef, row: &PgRow) -> Result<Feature, StoreError> {
    let id: i64 = row.try_get(0).map_err(StoreError::db(format!("reading a row of {}", layer.id)))?;
    let blob: Vec<u8> = row.try_get(1).map_err(StoreError::db("reading a geometry"))?;
    let geometry = Ewkb(blob).to_geo().map_err(|e| StoreError::Geometry {
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
    Ok(Feature { id, geometry, attributes })
}

/// A feature with its version and times (a `Select::Export` or `Select::Record` row).
fn read_record(layer: &LayerDef, row: &PgRow) -> Result<Record, StoreError> {
    let n = layer.attributes.len() + 2;
    let read = |e| StoreError::db(format!("reading the bookkeeping of {}", layer.id))(e);
    Ok(Record {
        feature: read_feature(layer, row)?,
        version: row.try_get(n).map_err(read)?,
        created_at: normal_time(row.try_get(n + 1).map_err(read)?),
        updated_at: normal_time(row.try_get(n + 2).map_err(read)?),
    })
}

fn read_value(row: &PgRow, i: usize, kind: AttrType) -> Result<AttrValue, sqlx::Error> {
    Ok(match kind {
        AttrType::Integer => row.try_get::<Option<i64>, _>(i)?.into(),
        AttrType::Real => row.try_get::<Option<f64>, _>(i)?.into(),
        AttrType::Boolean => row.try_get::<Option<bool>, _>(i)?.into(),
        AttrType::Text | AttrType::Date | AttrType::DateTime => row.try_get::<Option<String>, _>(i)?.into(),
    })
}

/// A value as a CSV field of `COPY`: text quoted (so an empty text is not null), numbers and
/// booleans as PostgreSQL reads them, null as nothing.
fn csv_value(buf: &mut Vec<u8>, kind: AttrType, v: &AttrValue) -> Result<(), String> {
    use std::io::Write;
    match (kind, v) {
        (_, AttrValue::Null) => {}
        (AttrType::Text | AttrType::Date | AttrType::DateTime, AttrValue::Text(s)) => csv_text(buf, s),
        (AttrType::Integer, AttrValue::Int(i)) => write!(buf, "{i}").expect("writing to a Vec"),
        (AttrType::Real, AttrValue::Int(i)) => write!(buf, "{}", *i as f64).expect("writing to a Vec"),
        // Rust writes the shortest text that reads back to the same f64; PostgreSQL reads it
        // exactly.
        (AttrType::Real, AttrValue::Real(r)) if r.is_finite() => write!(buf, "{r}").expect("writing to a Vec"),
        (AttrType::Real, AttrValue::Real(r)) if r.is_nan() => buf.extend(b"NaN"),
        (AttrType::Real, AttrValue::Real(r)) => buf.extend(if *r > 0.0 { &b"Infinity"[..] } else { b"-Infinity" }),
        (AttrType::Boolean, AttrValue::Bool(b)) => buf.push(if *b { b't' } else { b'f' }),
        (_, v) => return Err(format!("value {v:?} does not fit the column type")),
    }
    Ok(())
}

fn csv_text(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}

#[async_trait]
impl Store for PostgisStore {
    fn kind(&self) -> &'static str {
        "postgis"
    }

    fn crs(&self) -> Epsg {
        self.crs
    }

    async fn prepare(&self, catalog: &Catalog) -> Result<(), StoreError> {
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
            .and_then(move |row| std::future::ready(read_feature(layer, &row)))
            .boxed()
    }

    async fn load_ids(&self, layer: &LayerDef, ids: &[FeatureId]) -> Result<Vec<Feature>, StoreError> {
        let rows = sqlx::query(catalog_sql(select_sql(layer, Select::Ids)))
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading changed features of {}", layer.id)))?;
        rows.iter().map(|row| read_feature(layer, row)).collect()
    }

    async fn watch(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        Ok(Some(Box::new(changes::PgChangeFeed::listen(&self.pool).await?)))
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
        let what = format!("settling earlier features of {}", layer.id);
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        // Deleting first and counting what went is one statement; without `replace` a
        // non-zero count rolls it back with the transaction.
        let found =
            sqlx::query(catalog_sql(format!("DELETE FROM \"{}\" WHERE \"{}\" = ANY($1)", layer.id, key.attribute)))
                .bind(key.values)
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
        rows.iter().map(|row| read_record(layer, row)).collect()
    }

    async fn edit(
        &self,
        layer: &LayerDef,
        edit: &Edit,
        expect: Option<&str>,
        actor: &str,
    ) -> Result<Edited, StoreError> {
        let t = layer.id.as_str();
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        let before = match edit.id() {
            Some(id) => sqlx::query(catalog_sql(select_sql(layer, Select::Record)))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::db(format!("reading feature {id} of {t}")))?
                .map(|row| read_record(layer, &row))
                .transpose()?,
            None => None,
        };
        let planned = edit.plan(layer, before.as_ref(), expect, &now())?;
        if let Some(b) = &before {
            sqlx::query(catalog_sql(format!("DELETE FROM \"{t}\" WHERE fid = $1")))
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
                let row = sqlx::query(catalog_sql(select_sql(layer, Select::Record)))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::db(format!("reading feature {id} of {t} back")))?;
                Some(read_record(layer, &row)?)
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
            self.write_rows(&mut tx, layer, &rows).await?;
            // New rows get ids after the largest one copied.
            let reset = format!(
                "SELECT setval(pg_get_serial_sequence('\"{t}\"', 'fid'), coalesce(max(fid), 1), max(fid) IS NOT NULL) \
                 FROM \"{t}\""
            );
            sqlx::query(catalog_sql(reset))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("resetting the ids of {t}")))?;
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
        let sql = super::derived_sql(layer, attributes, |n, kind| format!("${n}::{}", kind.pg_type()), "now()")?;
        let t = layer.id.as_str();
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
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
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.pool),
        )
        .await;
        let error = match r {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("no answer within 2 s".to_owned()),
        };
        StoreHealth { kind: self.kind(), location: self.location.clone(), ok: error.is_none(), error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://city:s3cret@db:5432/gis"), "postgres://city:***@db:5432/gis");
        assert_eq!(redact("postgres://db/gis"), "postgres://db/gis");
        assert_eq!(redact("postgres://city@db/gis"), "postgres://city@db/gis");
    }

    #[test]
    fn copy_fields_keep_null_apart_from_empty_text_and_floats_exact() {
        let field = |kind, v: AttrValue| {
            let mut buf = Vec::new();
            csv_value(&mut buf, kind, &v).map(|()| String::from_utf8(buf).unwrap())
        };
        assert_eq!(field(AttrType::Text, AttrValue::Null).unwrap(), "");
        assert_eq!(field(AttrType::Text, AttrValue::text("")).unwrap(), "\"\"");
        assert_eq!(field(AttrType::Text, AttrValue::text("市道\"昭和\",線\n")).unwrap(), "\"市道\"\"昭和\"\",線\n\"");
        assert_eq!(field(AttrType::Real, AttrValue::Real(0.1 + 0.2)).unwrap().parse::<f64>().unwrap(), 0.1 + 0.2);
        assert_eq!(field(AttrType::Boolean, AttrValue::Bool(true)).unwrap(), "t");
        assert!(field(AttrType::Integer, AttrValue::text("x")).is_err());
    }
}
