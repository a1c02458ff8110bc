//! Camera images next to the GeoPackage: the bytes are files, `camera-images/{sha256}.jpg` in
//! the data directory, kept once by content; rows in `machizu_camera_images` (in
//! `schema/gpkg/machizu.sql`) say which camera took which when. A file is written and synced
//! before its row commits, and removed only after no row names it, so a crash between the two
//! leaves at worst an unnamed file, never a row without its image.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::GpkgStore;
use crate::store::StoreError;
use crate::store::cameras::{CameraStore, ImageDbRow, ImageRow, hour_of, image};

mod sql {
    pub const INSERT: &str = include_str!("sql/insert_camera_image.sql");
    pub const SUPERSEDE: &str = include_str!("sql/supersede_camera_images.sql");
    pub const SELECT: &str = include_str!("sql/select_camera_images.sql");
    pub const PRUNE: &str = include_str!("sql/prune_camera_images.sql");
    pub const IN_USE: &str = include_str!("sql/camera_image_in_use.sql");
}

/// The folder of image files, next to the GeoPackage.
pub const DIR: &str = "camera-images";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.display().to_string(), source }
}

/// Writes `data` to `path` (through a temporary file and a rename), synced to disk.
fn write_synced(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().expect("an image path has a folder");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(data).and_then(|()| file.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

impl GpkgStore {
    fn image_path(&self, sha256: &str) -> PathBuf {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        dir.join(DIR).join(format!("{sha256}.jpg"))
    }

    /// Removes the files of `hashes` that no row names any more.
    async fn remove_unused(&self, hashes: Vec<String>) -> Result<(), StoreError> {
        for sha in hashes {
            let (in_use,): (bool,) = sqlx::query_as(sql::IN_USE)
                .bind(&sha)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::db("checking a camera image"))?;
            if !in_use {
                let path = self.image_path(&sha);
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(io(&path)(e));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl CameraStore for GpkgStore {
    async fn add_camera_image(&self, row: &ImageRow, data: &[u8]) -> Result<(ImageRow, bool), StoreError> {
        let what = || format!("storing an image of camera {}", row.thing);
        let path = self.image_path(&row.sha256);
        let data = data.to_vec();
        tokio::task::spawn_blocking(move || write_synced(&path, &data))
            .await
            .map_err(|e| StoreError::Io { path: DIR.into(), source: std::io::Error::other(e) })??;
        let mut tx = self.pool.begin().await.map_err(StoreError::db("starting a transaction"))?;
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
        tx.commit().await.map_err(StoreError::db(what()))?;
        let kept = !gone.iter().any(|(gone, _)| *gone == id);
        self.remove_unused(gone.into_iter().map(|(_, s)| s).collect()).await?;
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
        let row: Option<ImageDbRow> = sqlx::query_as(sql::SELECT)
            .bind(None::<i64>)
            .bind(id)
            .bind(1_i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading camera image {id}")))?;
        let Some(row) = row.map(image) else { return Ok(None) };
        let path = self.image_path(&row.sha256);
        let data = tokio::fs::read(&path).await.map_err(io(&path))?;
        Ok(Some((row, data)))
    }

    async fn prune_camera_images(&self, before: &str) -> Result<u64, StoreError> {
        let gone: Vec<(i64, String)> = sqlx::query_as(sql::PRUNE)
            .bind(before)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("pruning camera images"))?;
        let n = gone.len() as u64;
        self.remove_unused(gone.into_iter().map(|(_, s)| s).collect()).await?;
        Ok(n)
    }
}
