//! Camera images in PostGIS (`schema/postgis/0008_camera_images.sql`): rows in
//! `machizu_camera_images`, bytes once by content in `machizu_camera_image_data`.

use async_trait::async_trait;

use super::PostgisStore;
use crate::store::StoreError;
use crate::store::cameras::{CameraStore, ImageDbRow, ImageRow, hour_of, image};

mod sql {
    pub const INSERT_DATA: &str = include_str!("sql/insert_camera_image_data.sql");
    pub const INSERT: &str = include_str!("sql/insert_camera_image.sql");
    pub const SUPERSEDE: &str = include_str!("sql/supersede_camera_images.sql");
    pub const SELECT: &str = include_str!("sql/select_camera_images.sql");
    pub const SELECT_DATA: &str = include_str!("sql/select_camera_image_data.sql");
    pub const PRUNE: &str = include_str!("sql/prune_camera_images.sql");
    pub const DELETE_DATA: &str = include_str!("sql/delete_camera_image_data.sql");
}

#[async_trait]
impl CameraStore for PostgisStore {
    async fn add_camera_image(&self, row: &ImageRow, data: &[u8]) -> Result<(ImageRow, bool), StoreError> {
        let what = || format!("storing an image of camera {}", row.thing);
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        sqlx::query(sql::INSERT_DATA)
            .bind(&row.sha256)
            .bind(data)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(what()))?;
        let (id,): (i64,) = sqlx::query_as(sql::INSERT)
            .bind(row.thing)
            .bind(&row.taken_at)
            .bind(hour_of(&row.taken_at))
            .bind(&row.received_at)
            .bind(&row.sha256)
            .bind(row.bytes)
            .bind(row.width)
            .bind(row.height)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db(what()))?;
        let gone: Vec<(i64, String)> = sqlx::query_as(sql::SUPERSEDE)
            .bind(row.thing)
            .bind(hour_of(&row.taken_at))
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db(what()))?;
        let kept = !gone.iter().any(|(gone, _)| *gone == id);
        let gone: Vec<String> = gone.into_iter().map(|(_, s)| s).collect();
        sqlx::query(sql::DELETE_DATA).bind(&gone).execute(&mut *tx).await.map_err(StoreError::db(what()))?;
        tx.commit().await.map_err(StoreError::db(what()))?;
        Ok((ImageRow { id, ..row.clone() }, kept))
    }

    async fn camera_images(&self, thing: i64, limit: u32) -> Result<Vec<ImageRow>, StoreError> {
        let rows: Vec<ImageDbRow> = sqlx::query_as(sql::SELECT)
            .bind(thing)
            .bind(None::<i64>)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading camera {thing}'s images")))?;
        Ok(rows.into_iter().map(image).collect())
    }

    async fn camera_image(&self, id: i64) -> Result<Option<(ImageRow, Vec<u8>)>, StoreError> {
        let what = || format!("reading camera image {id}");
        let row: Option<ImageDbRow> = sqlx::query_as(sql::SELECT)
            .bind(None::<i64>)
            .bind(id)
            .bind(1_i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(what()))?;
        let Some(row) = row.map(image) else { return Ok(None) };
        let data: Option<(Vec<u8>,)> = sqlx::query_as(sql::SELECT_DATA)
            .bind(&row.sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(what()))?;
        Ok(data.map(|(d,)| (row, d)))
    }

    async fn prune_camera_images(&self, before: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
        let gone: Vec<(i64, String)> = sqlx::query_as(sql::PRUNE)
            .bind(before)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db("pruning camera images"))?;
        let n = gone.len() as u64;
        let gone: Vec<String> = gone.into_iter().map(|(_, s)| s).collect();
        sqlx::query(sql::DELETE_DATA)
            .bind(&gone)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("pruning camera images"))?;
        tx.commit().await.map_err(StoreError::db("pruning camera images"))?;
        Ok(n)
    }
}
