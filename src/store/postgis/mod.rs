//! PostGIS, the system of record a city GIS team already trusts, through sqlx's PostgreSQL
//! driver.
//!
//! One table per layer: `fid bigserial`, `geom geometry(<type>, <city SRID>)` with a GiST index,
//! one column per attribute (PostgreSQL types: `text`, `bigint`, `double precision`, `boolean`,
//! `date`, `timestamptz`), `version`, `created_at`, `updated_at`. The tables hold geometry in the
//! city CRS (EPSG:6678 by default), exactly as the GeoPackage store does, so copying between
//! the two is lossless. `schema/postgis/` holds the migrations run at start; per-layer DDL is
//! generated from the catalog. Inserts go in batches through `UNNEST` of column arrays, in one
//! transaction.

use std::time::Duration;

use async_trait::async_trait;
use geozero::wkb::Ewkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Row};

mod changes;

use super::{ChangeFeed, Key, Store, StoreError, StoreHealth, WriteRow, catalog_sql, kept_rows, new_rows, normal_time};
use crate::catalog::{AttrType, Catalog, LayerDef};
use crate::crs::Epsg;
use crate::feature::{AttrValue, Feature, FeatureId, NewFeature, Record};

/// Rows per `INSERT … SELECT FROM UNNEST(…)` statement.
const BATCH: usize = 2_000;

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

    async fn write_rows(
        &self,
        tx: &mut PgConnection,
        layer: &LayerDef,
        rows: &[WriteRow<'_>],
    ) -> Result<Vec<FeatureId>, StoreError> {
        let keep = rows.first().is_some_and(|r| r.kept.is_some());
        let sql = catalog_sql(insert_sql(layer, keep)).0;
        let mut ids = Vec::with_capacity(rows.len());
        for (b, batch) in rows.chunks(BATCH).enumerate() {
            let mut geoms = Vec::with_capacity(batch.len());
            let mut columns: Vec<Column> = layer.attributes.iter().map(|a| Column::new(a.kind)).collect();
            let (mut fids, mut versions, mut created, mut updated) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (k, row) in batch.iter().enumerate() {
                let n = b * BATCH + k;
                let ewkb = row
                    .geometry
                    .to_ewkb(CoordDimensions::xy(), Some(self.srid(layer)))
                    .map_err(|e| StoreError::new_geometry(layer, n, e))?;
                geoms.push(ewkb);
                for ((col, a), v) in columns.iter_mut().zip(&layer.attributes).zip(row.attributes) {
                    col.push(v).map_err(|m| StoreError::new_attribute(layer, n, &a.name, m))?;
                }
                if let Some(r) = row.kept {
                    fids.push(r.feature.id);
                    versions.push(r.version);
                    created.push(r.created_at.clone());
                    updated.push(r.updated_at.clone());
                }
            }
            let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.clone())).bind(geoms);
            for col in columns {
                q = match col {
                    Column::Text(v) => q.bind(v),
                    Column::Int(v) => q.bind(v),
                    Column::Real(v) => q.bind(v),
                    Column::Bool(v) => q.bind(v),
                };
            }
            if keep {
                q = q.bind(fids).bind(versions).bind(created).bind(updated);
            }
            let batch_ids =
                q.fetch_all(&mut *tx).await.map_err(StoreError::db(format!("inserting into {}", layer.id)))?;
            ids.extend(batch_ids);
        }
        Ok(ids)
    }

    async fn ensure_layer(&self, layer: &LayerDef) -> Result<(), StoreError> {
        let t = layer.id.as_str();
        let srid = self.srid(layer);
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS \"{t}\" (fid bigserial PRIMARY KEY, geom geometry({}, {srid}) NOT NULL, \
             version bigint NOT NULL DEFAULT 1, created_at timestamptz NOT NULL DEFAULT now(), \
             updated_at timestamptz NOT NULL DEFAULT now())",
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
        tx.commit().await.map_err(StoreError::db(format!("committing the schema of {t}")))
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
    if what == Select::Export {
        let utc = |c: &str| format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
        sql.push_str(&format!(", version, {}, {}", utc("created_at"), utc("updated_at")));
    }
    sql.push_str(&format!(" FROM \"{}\"", layer.id));
    if what == Select::Ids {
        sql.push_str(" WHERE fid = ANY($1)");
    }
    sql.push_str(" ORDER BY fid");
    sql
}

/// `INSERT … SELECT FROM UNNEST(…)` of geometries (`$1`) and attribute arrays; with `keep`,
/// also fids, versions and times (the last four arrays).
fn insert_sql(layer: &LayerDef, keep: bool) -> String {
    let n = layer.attributes.len();
    let mut names: String = layer.attributes.iter().map(|a| format!(", \"{}\"", a.name)).collect();
    let mut values: String = layer
        .attributes
        .iter()
        .enumerate()
        .map(|(i, a)| match a.kind {
            AttrType::Date | AttrType::DateTime => format!(", u.c{i}::{}", a.kind.pg_type()),
            _ => format!(", u.c{i}"),
        })
        .collect();
    let mut arrays: String = layer
        .attributes
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let ty = match a.kind {
                AttrType::Integer => "int8[]",
                AttrType::Real => "float8[]",
                AttrType::Boolean => "bool[]",
                _ => "text[]",
            };
            format!(", ${}::{ty}", i + 2)
        })
        .collect();
    let mut cols: String = (0..n).map(|i| format!(", c{i}")).collect();
    if keep {
        names.push_str(", fid, version, created_at, updated_at");
        values.push_str(", u.k_fid, u.k_version, u.k_created::timestamptz, u.k_updated::timestamptz");
        arrays.push_str(&format!(", ${}::int8[], ${}::int8[], ${}::text[], ${}::text[]", n + 2, n + 3, n + 4, n + 5));
        cols.push_str(", k_fid, k_version, k_created, k_updated");
    }
    format!(
        "WITH ins AS (INSERT INTO \"{t}\" (geom{names}) \
         SELECT ST_GeomFromEWKB(u.g){values} FROM UNNEST($1::bytea[]{arrays}) WITH ORDINALITY AS u(g{cols}, ord) \
         ORDER BY u.ord RETURNING fid) SELECT fid FROM ins ORDER BY fid",
        t = layer.id
    )
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

fn read_value(row: &PgRow, i: usize, kind: AttrType) -> Result<AttrValue, sqlx::Error> {
    Ok(match kind {
        AttrType::Integer => row.try_get::<Option<i64>, _>(i)?.into(),
        AttrType::Real => row.try_get::<Option<f64>, _>(i)?.into(),
        AttrType::Boolean => row.try_get::<Option<bool>, _>(i)?.into(),
        AttrType::Text | AttrType::Date | AttrType::DateTime => row.try_get::<Option<String>, _>(i)?.into(),
    })
}

/// One attribute's values for a batch, as a typed array.
enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
}

impl Column {
    fn new(kind: AttrType) -> Self {
        match kind {
            AttrType::Integer => Self::Int(Vec::new()),
            AttrType::Real => Self::Real(Vec::new()),
            AttrType::Boolean => Self::Bool(Vec::new()),
            _ => Self::Text(Vec::new()),
        }
    }

    fn push(&mut self, v: &AttrValue) -> Result<(), String> {
        match (self, v) {
            (Self::Text(c), AttrValue::Null) => c.push(None),
            (Self::Int(c), AttrValue::Null) => c.push(None),
            (Self::Real(c), AttrValue::Null) => c.push(None),
            (Self::Bool(c), AttrValue::Null) => c.push(None),
            (Self::Text(c), AttrValue::Text(s)) => c.push(Some(s.clone())),
            (Self::Int(c), AttrValue::Int(i)) => c.push(Some(*i)),
            (Self::Real(c), AttrValue::Real(f)) => c.push(Some(*f)),
            (Self::Real(c), AttrValue::Int(i)) => c.push(Some(*i as f64)),
            (Self::Bool(c), AttrValue::Bool(b)) => c.push(Some(*b)),
            (_, v) => return Err(format!("value {v:?} does not fit the column type")),
        }
        Ok(())
    }
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

    async fn load(&self, layer: &LayerDef) -> Result<Vec<Feature>, StoreError> {
        let rows = sqlx::query(catalog_sql(select_sql(layer, Select::All)))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading {}", layer.id)))?;
        rows.iter().map(|row| read_feature(layer, row)).collect()
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
        let n = layer.attributes.len() + 2;
        rows.iter()
            .map(|row| {
                let read = |e| StoreError::db(format!("reading the bookkeeping of {}", layer.id))(e);
                Ok(Record {
                    feature: read_feature(layer, row)?,
                    version: row.try_get(n).map_err(read)?,
                    created_at: normal_time(row.try_get(n + 1).map_err(read)?),
                    updated_at: normal_time(row.try_get(n + 2).map_err(read)?),
                })
            })
            .collect()
    }

    async fn replace(
        &self,
        layers: &[(LayerDef, Vec<Record>)],
        meta: &[(String, Option<String>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
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
    fn insert_sql_casts_dates_and_keeps_order() {
        let c = Catalog::builtin();
        let sql = insert_sql(c.get("hazardous_buildings").unwrap(), false);
        assert!(sql.contains("u.c2::date"), "{sql}");
        assert!(sql.contains("WITH ORDINALITY") && sql.ends_with("ORDER BY fid"));
    }
}
