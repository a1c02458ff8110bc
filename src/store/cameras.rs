//! Camera stills ([`crate::sensors::camera`]): each camera's latest JPEG and one per hour for a
//! configurable number of days. Images are kept once, by content: as files in the data
//! directory for the GeoPackage (`camera-images/{sha256}.jpg`, next to `machizu.gpkg`), as
//! `bytea` in PostGIS; the rows here say which camera took which image when. The engine never
//! holds them.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// One kept image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRow {
    pub id: i64,
    /// The camera (a SensorThings Thing).
    pub thing: i64,
    /// When the camera took it (UTC, [`super::iso`]).
    pub taken_at: String,
    /// When the server received it.
    pub received_at: String,
    /// Of the bytes: the image's ETag.
    pub sha256: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
}

/// A row of `select_camera_images.sql`.
pub(crate) type ImageDbRow = (i64, i64, String, String, String, i64, i64, i64);

pub(crate) fn image((id, thing, taken_at, received_at, sha256, bytes, width, height): ImageDbRow) -> ImageRow {
    ImageRow {
        id,
        thing,
        taken_at: super::normal_time(taken_at),
        received_at: super::normal_time(received_at),
        sha256,
        bytes,
        width,
        height,
    }
}

/// The hour an image is kept for (`2026-12-04T06`), from its ISO time.
pub(crate) fn hour_of(taken_at: &str) -> &str {
    taken_at.get(..13).unwrap_or(taken_at)
}

/// Where camera images are kept.
#[async_trait]
pub trait CameraStore: Send + Sync {
    /// Stores an image (`row.id` is ignored) durably, and keeps only the newest image (by
    /// `taken_at`) of its camera's hour. Returns the stored row, and whether it is the one kept
    /// for its hour (false: a newer image of that hour was already there).
    async fn add_camera_image(&self, row: &ImageRow, data: &[u8]) -> Result<(ImageRow, bool), StoreError>;

    /// A camera's kept images, newest first.
    async fn camera_images(&self, thing: i64, limit: u32) -> Result<Vec<ImageRow>, StoreError>;

    /// One image and its bytes.
    async fn camera_image(&self, id: i64) -> Result<Option<(ImageRow, Vec<u8>)>, StoreError>;

    /// Deletes images taken before `before`, except each camera's newest; returns how many.
    async fn prune_camera_images(&self, before: &str) -> Result<u64, StoreError>;
}
