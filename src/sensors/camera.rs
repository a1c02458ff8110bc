//! Cameras: river, road and snow-ditch cameras post still JPEGs; machizu keeps each camera's
//! latest image and one an hour for `[sensors] image_days`, and serves them to whoever may see
//! the camera. A camera is a Thing whose `properties.camera` is `true`; staff-only cameras
//! (`properties.staffOnly`) are for staff alone, as their datastreams are. The bytes go to the
//! store ([`crate::store::CameraStore`]), never into the engine.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::model::{Entity, Kind};
use super::{SensorError, Sensors, bad, not_found, parse_utc};
use crate::catalog::Audience;
use crate::store::cameras::ImageRow;
use crate::store::iso;

impl Entity {
    /// Whether this Thing is a camera (`properties.camera: true`).
    pub fn is_camera(&self) -> bool {
        self.props.get("properties").and_then(|p| p.get("camera")).and_then(serde_json::Value::as_bool) == Some(true)
    }
}

/// An image as posted, checked.
#[derive(Debug)]
pub struct Jpeg {
    pub width: i64,
    pub height: i64,
}

/// Checks that `data` is a JPEG of at most `max_bytes`, and reads its size.
pub fn check_jpeg(data: &[u8], max_bytes: usize) -> Result<Jpeg, SensorError> {
    if data.len() > max_bytes {
        return Err(SensorError::TooLarge(format!(
            "the image is {} bytes; a camera image may be at most {max_bytes} bytes",
            data.len()
        )));
    }
    match imagesize::image_type(data) {
        Ok(imagesize::ImageType::Jpeg) => {}
        Ok(other) => return Err(SensorError::NotJpeg(format!("a camera image must be a JPEG, not {other:?}"))),
        Err(_) => return Err(SensorError::NotJpeg("a camera image must be a JPEG; this is not an image".into())),
    }
    let size = imagesize::blob_size(data)
        .map_err(|e| SensorError::NotJpeg(format!("the JPEG could not be read ({e}): is it whole?")))?;
    if size.width == 0 || size.height == 0 {
        return Err(SensorError::NotJpeg("the JPEG has no pixels".into()));
    }
    Ok(Jpeg { width: size.width as i64, height: size.height as i64 })
}

impl Sensors {
    /// The camera `thing`, if `audience` may see it.
    pub fn camera(&self, thing: i64, audience: Audience) -> Result<Entity, SensorError> {
        let reg = self.registry();
        reg.get(Kind::Thing, thing)
            .filter(|t| t.is_camera() && reg.visible(Kind::Thing, t, audience))
            .cloned()
            .ok_or_else(|| not_found(format!("there is no camera Things({thing})")))
    }

    /// Stores an image of camera `thing`, taken at `taken_at` (default: now). Answers only
    /// once it is durable; also says whether it is the image kept for its hour (false: the
    /// camera had sent a newer one of that hour).
    pub async fn add_image(
        &self,
        thing: i64,
        data: &[u8],
        taken_at: Option<&str>,
        max_bytes: usize,
        now: DateTime<Utc>,
    ) -> Result<(ImageRow, bool), SensorError> {
        self.camera(thing, Audience::Staff)?;
        let jpeg = check_jpeg(data, max_bytes)?;
        let taken_at = match taken_at {
            None => now,
            Some(t) => parse_utc(t).ok_or_else(|| bad(format!("the time {t:?} is not an ISO 8601 instant")))?,
        };
        let row = ImageRow {
            id: 0,
            thing,
            taken_at: iso(taken_at),
            received_at: iso(now),
            sha256: hex::encode(Sha256::digest(data)),
            bytes: data.len() as i64,
            width: jpeg.width,
            height: jpeg.height,
        };
        // One writer: a file that one write supersedes cannot vanish under another's new row.
        let _one_writer = self.writer.lock().await;
        let added = self.store.add_camera_image(&row, data).await?;
        self.changed.notify_one();
        Ok(added)
    }

    /// The kept images of camera `thing`, newest first: at most one an hour for `days`, and
    /// the latest.
    pub async fn images(&self, thing: i64, audience: Audience, days: u32) -> Result<Vec<ImageRow>, SensorError> {
        self.camera(thing, audience)?;
        Ok(self.store.camera_images(thing, days * 24 + 1).await?)
    }

    /// Image `id` of camera `thing` (`None`: its latest) with its bytes.
    pub async fn image(
        &self,
        thing: i64,
        id: Option<i64>,
        audience: Audience,
    ) -> Result<(ImageRow, Vec<u8>), SensorError> {
        self.camera(thing, audience)?;
        let id = match id {
            Some(id) => id,
            None => self
                .store
                .camera_images(thing, 1)
                .await?
                .first()
                .map(|i| i.id)
                .ok_or_else(|| not_found(format!("camera Things({thing}) has sent no image yet")))?,
        };
        self.store
            .camera_image(id)
            .await?
            .filter(|(row, _)| row.thing == thing)
            .ok_or_else(|| not_found(format!("camera Things({thing}) has no image {id}")))
    }

    /// Deletes images older than `days`, except each camera's latest.
    pub async fn prune_images(&self, days: u32, now: DateTime<Utc>) -> Result<u64, SensorError> {
        let _one_writer = self.writer.lock().await;
        let before = now - chrono::Duration::days(i64::from(days));
        Ok(self.store.prune_camera_images(&iso(before)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_jpegs_under_the_cap() {
        // The smallest JPEG header with a frame of 3×2 pixels (SOI, SOF0).
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x02, 0x00, 0x03, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01,
            0x03, 0x11, 0x01, 0xFF, 0xD9,
        ];
        let j = check_jpeg(&jpeg, 1024).expect("a JPEG");
        assert_eq!((j.width, j.height), (3, 2));
        assert!(matches!(check_jpeg(&jpeg, 10), Err(SensorError::TooLarge(_))));
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        assert!(matches!(check_jpeg(png, 1024), Err(SensorError::NotJpeg(m)) if m.contains("Png")));
        assert!(matches!(check_jpeg(b"hello", 1024), Err(SensorError::NotJpeg(_))));
        assert!(matches!(check_jpeg(&jpeg[..6], 1024), Err(SensorError::NotJpeg(_))));
    }
}
