//! Backups of the embedded store while it serves: `VACUUM INTO` writes a consistent copy of the
//! GeoPackage as of one moment (a read transaction: writers go on, and nothing they commit after
//! it began is in the copy, nothing committed before is missing), then the camera images its rows
//! name are copied beside it. A restore checks a backup (a machizu GeoPackage that passes
//! SQLite's integrity check) before it replaces a data directory's store.

use std::path::{Path, PathBuf};

use super::{FILE_NAME, GpkgStore, cameras};
use crate::store::StoreError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.display().to_string(), source }
}

/// The camera images folder beside the GeoPackage file `gpkg`.
fn images_beside(gpkg: &Path) -> PathBuf {
    gpkg.parent().unwrap_or(Path::new(".")).join(cameras::DIR)
}

/// Copies the camera images that the store at `gpkg` names from `from` (a folder of images) to
/// the images folder beside `gpkg`; returns how many.
async fn copy_images(gpkg: &GpkgStore, from: &Path) -> Result<usize, StoreError> {
    let hashes: Vec<String> = sqlx::query_scalar("SELECT DISTINCT sha256 FROM machizu_camera_images")
        .fetch_all(&gpkg.pool)
        .await
        .map_err(StoreError::db("reading the camera images of the backup"))?;
    let to = images_beside(&gpkg.path);
    if !hashes.is_empty() {
        std::fs::create_dir_all(&to).map_err(io(&to))?;
    }
    for sha in &hashes {
        let name = format!("{sha}.jpg");
        let (source, target) = (from.join(&name), to.join(&name));
        if !target.exists() {
            std::fs::copy(&source, &target).map_err(io(&source))?;
        }
    }
    Ok(hashes.len())
}

/// Whether `path` is a machizu GeoPackage that passes SQLite's integrity check (read only).
async fn check(path: &Path) -> Result<(), String> {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let result: Result<(String, i64), sqlx::Error> = async {
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await?;
        let ours: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'machizu_meta'")
            .fetch_one(&mut conn)
            .await?;
        Ok((integrity, ours))
    }
    .await;
    let _ = conn.close().await;
    match result.map_err(|e| e.to_string())? {
        (integrity, _) if integrity != "ok" => Err(integrity),
        (_, 0) => Err("it has no machizu tables".into()),
        _ => Ok(()),
    }
}

/// What a backup or restore wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub path: PathBuf,
    pub bytes: u64,
    pub images: usize,
}

impl GpkgStore {
    /// Writes a consistent copy of the store to `output` (which must not exist yet) and the
    /// camera images it names to `camera-images/` beside it.
    pub async fn backup(&self, output: &Path) -> Result<Copied, StoreError> {
        if output.exists() {
            return Err(StoreError::Io {
                path: output.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the backup file exists already"),
            });
        }
        sqlx::query("VACUUM INTO ?1")
            .bind(output.display().to_string())
            .execute(&self.pool)
            .await
            .map_err(StoreError::db(format!("writing the backup {}", output.display())))?;
        let copy = GpkgStore::open(output, self.crs).await?;
        let images = copy_images(&copy, &images_beside(&self.path)).await;
        copy.close().await;
        let bytes = std::fs::metadata(output).map_err(io(output))?.len();
        Ok(Copied { path: output.to_owned(), bytes, images: images? })
    }

    /// Puts the backup `from` in place as the store of data directory `dir`, with its camera
    /// images. The backup is checked first; an existing store is replaced only with `replace`.
    /// The server must not be running on `dir`.
    pub async fn restore(from: &Path, dir: &Path, crs: crate::crs::Epsg, replace: bool) -> Result<Copied, StoreError> {
        let target = dir.join(FILE_NAME);
        let refuse = |message: String| StoreError::Schema { layer: "(restore)".into(), message };
        if target.exists() && !replace {
            return Err(refuse(format!("{} exists; pass --replace to overwrite it", target.display())));
        }
        if !from.is_file() {
            return Err(refuse(format!("{} is not a file", from.display())));
        }
        if let Err(why) = check(from).await {
            return Err(refuse(format!("{} is not a sound machizu backup: {why}", from.display())));
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(format!("{FILE_NAME}.restoring"));
        std::fs::copy(from, &tmp).map_err(io(from))?;
        for stale in ["-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(dir.join(format!("{FILE_NAME}{stale}")));
        }
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
        let store = GpkgStore::open(&target, crs).await?;
        let images = copy_images(&store, &images_beside(from)).await;
        store.close().await;
        let bytes = std::fs::metadata(&target).map_err(io(&target))?.len();
        Ok(Copied { path: target, bytes, images: images? })
    }
}
