//! Layers made from files in PostGIS: definitions in `machizu_layer_defs`
//! (`schema/postgis/0010_layer_defs.sql`, whose trigger tells the change feed), features in a
//! table per layer with the change triggers of every layer.

use async_trait::async_trait;
use sqlx::postgres::PgConnection;

use super::PostgisStore;
use crate::catalog::LayerDef;
use crate::feature::{FeatureId, NewFeature};
use crate::store::layers::{LayerStore, from_json, not_stored, to_json};
use crate::store::{StoreError, catalog_sql, new_rows};

mod sql {
    pub const SELECT: &str = include_str!("sql/select_layer_defs.sql");
    pub const INSERT: &str = include_str!("sql/insert_layer_def.sql");
    pub const UPDATE: &str = include_str!("sql/update_layer_def.sql");
    pub const DELETE: &str = include_str!("sql/delete_layer_def.sql");
}

impl PostgisStore {
    /// Makes a layer within `tx`: its definition (whose notification reaches other processes
    /// before its features') and its (new) table.
    pub(super) async fn create_in(&self, tx: &mut PgConnection, def: &LayerDef) -> Result<(), StoreError> {
        sqlx::query(sql::INSERT)
            .bind(def.id.as_str())
            .bind(to_json(def))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!("making layer {}", def.id)))?;
        self.make_table(tx, def, false).await
    }

    /// Removes a layer within `tx`, definition and table; false if none.
    pub(super) async fn drop_in(tx: &mut PgConnection, id: &str) -> Result<bool, StoreError> {
        let what = || StoreError::db(format!("removing layer {id}"));
        let gone = sqlx::query(sql::DELETE).bind(id).execute(&mut *tx).await.map_err(what())?;
        if gone.rows_affected() == 0 {
            return Ok(false);
        }
        // The id was validated when the layer was made: a safe table name.
        sqlx::query(catalog_sql(format!("DROP TABLE \"{id}\""))).execute(&mut *tx).await.map_err(what())?;
        Ok(true)
    }

    /// Every stored layer's id, within `tx`.
    pub(super) async fn def_ids(tx: &mut PgConnection) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT id FROM machizu_layer_defs")
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db("reading the layers made from files"))
    }

    async fn select_defs(&self, id: Option<&str>) -> Result<Vec<LayerDef>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(sql::SELECT)
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading the layers made from files"))?;
        rows.iter().map(|(id, json)| from_json(id, json)).collect()
    }
}

#[async_trait]
impl LayerStore for PostgisStore {
    async fn layer_defs(&self) -> Result<Vec<LayerDef>, StoreError> {
        self.select_defs(None).await
    }

    async fn layer_def(&self, id: &str) -> Result<Option<LayerDef>, StoreError> {
        Ok(self.select_defs(Some(id)).await?.pop())
    }

    async fn create_layer(&self, def: &LayerDef, features: &[NewFeature]) -> Result<Vec<FeatureId>, StoreError> {
        let rows = new_rows(def, features)?;
        let what = format!("making layer {}", def.id);
        let mut tx = self.pool.begin().await.map_err(StoreError::db(&what))?;
        self.create_in(&mut tx, def).await?;
        let ids = self.write_rows(&mut tx, def, &rows).await?;
        tx.commit().await.map_err(StoreError::db(what))?;
        Ok(ids)
    }

    async fn replace_layer(
        &self,
        def: &LayerDef,
        features: &[NewFeature],
    ) -> Result<(Vec<FeatureId>, u64), StoreError> {
        let rows = new_rows(def, features)?;
        let t = def.id.as_str();
        let what = format!("replacing the features of {t}");
        let mut tx = self.pool.begin().await.map_err(StoreError::db(&what))?;
        // Locks the definition: a removal waits for this replacement, or comes first.
        let stored: Option<(String,)> = sqlx::query_as("SELECT id FROM machizu_layer_defs WHERE id = $1 FOR UPDATE")
            .bind(t)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db(&what))?;
        if stored.is_none() {
            return Err(not_stored(t));
        }
        let gone = sqlx::query(catalog_sql(format!("DELETE FROM \"{t}\"")))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(&what))?
            .rows_affected();
        let ids = self.write_rows(&mut tx, def, &rows).await?;
        tx.commit().await.map_err(StoreError::db(what))?;
        Ok((ids, gone))
    }

    async fn update_layer_def(&self, def: &LayerDef) -> Result<(), StoreError> {
        let done = sqlx::query(sql::UPDATE)
            .bind(def.id.as_str())
            .bind(to_json(def))
            .execute(&self.pool)
            .await
            .map_err(StoreError::db(format!("storing the definition of {}", def.id)))?;
        if done.rows_affected() == 0 { Err(not_stored(def.id.as_str())) } else { Ok(()) }
    }

    async fn drop_layer(&self, id: &str) -> Result<bool, StoreError> {
        let what = format!("removing layer {id}");
        let mut tx = self.pool.begin().await.map_err(StoreError::db(&what))?;
        let gone = Self::drop_in(&mut tx, id).await?;
        tx.commit().await.map_err(StoreError::db(what))?;
        Ok(gone)
    }
}
