//! Importing the data Japanese cities hold into a layer.
//!
//! One reader per source format turns a file into features in the store's CRS, with their
//! attributes mapped onto the layer's schema; [`import`] then writes all of them in one
//! transaction, so an import lands whole or not at all. So far: [`mojxml`], the Ministry of
//! Justice's cadastral map XML (plain, zipped, or zipped inside a zip as the Ministry
//! distributes it), into `parcels`.

pub mod mojxml;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::catalog::LayerDef;
use crate::crs::{CrsError, Epsg, Transformer};
use crate::feature::{AttrValue, NewFeature};
use crate::store::{Key, Store, StoreError};
use mojxml::{Datum, MapCrs, MojError};

/// Errors of an import. Each names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    // Fields named `error`, not `source`: the message already includes it, once.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: not a readable zip archive: {message}")]
    Zip { path: PathBuf, message: String },
    #[error("{path}: {error}")]
    Moj { path: String, error: MojError },
    #[error(
        "{path}: the map is in 任意座標系 (arbitrary local coordinates), which places nothing on the \
         earth; it cannot go into {layer}"
    )]
    Arbitrary { path: String, layer: String },
    #[error("{path}: no file machizu can read ({what})")]
    UnknownFormat { path: PathBuf, what: String },
    #[error("{path}: {error}")]
    Crs { path: String, error: CrsError },
    #[error("layer {layer} cannot take {what}")]
    WrongLayer { layer: String, what: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How to read the sources.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// The datum of plane rectangular MOJ maps, which the files do not state.
    pub datum: Datum,
}

/// What an import read and wrote.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    /// Source documents read (a zip may hold several).
    pub documents: usize,
    pub read: usize,
    pub imported: usize,
    /// Features an earlier import of the same sources had brought, now replaced.
    pub replaced: u64,
    pub elapsed: Duration,
}

/// Features read from the sources, ready to write.
pub struct Batch {
    pub features: Vec<NewFeature>,
    pub documents: usize,
    /// The `source` attribute of each document's features (one per document).
    pub sources: Vec<String>,
}

/// The attribute that records where an imported feature came from: a re-import of the same
/// source replaces exactly those features.
pub const SOURCE_ATTRIBUTE: &str = "source";

/// Told how an import goes, for a progress display. Every method does nothing by default.
pub trait Progress: Send + Sync {
    /// Reading starts; the sources hold `bytes` in all.
    fn reading(&self, _bytes: u64) {}
    /// One source of `bytes` has been read, giving `features` in all so far.
    fn read(&self, _bytes: u64, _features: usize) {}
    /// Every source is read; `features` are being written.
    fn writing(&self, _features: usize) {}
}

/// No progress display.
impl Progress for () {}

/// Reads every source into features of `layer` in `store_crs`. Nothing is written.
pub fn read(
    paths: &[PathBuf],
    layer: &LayerDef,
    store_crs: Epsg,
    options: ReadOptions,
    progress: &dyn Progress,
) -> Result<Batch, ImportError> {
    let mut batch = Batch { features: Vec::new(), documents: 0, sources: Vec::new() };
    progress.reading(paths.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum());
    for path in paths {
        let (docs, size) = documents(path)?;
        for (name, xml) in docs {
            let map = mojxml::parse(&xml[..]).map_err(|error| ImportError::Moj { path: name.clone(), error })?;
            let source = format!("{} ({})", map.map_name, name.rsplit(['/', '!']).next().unwrap_or(&name));
            batch.features.extend(moj_features(&map, &name, &source, layer, store_crs, options)?);
            batch.sources.push(source);
            batch.documents += 1;
        }
        progress.read(size, batch.features.len());
    }
    Ok(batch)
}

/// Reads the sources and writes them into `layer` of `store` in one transaction. Features an
/// earlier import of the same sources brought are replaced when `replace` is set; otherwise
/// finding any is an error and nothing is written (so a re-run never duplicates).
pub async fn import(
    store: &dyn Store,
    paths: &[PathBuf],
    layer: &LayerDef,
    options: ReadOptions,
    dry_run: bool,
    replace: bool,
    progress: std::sync::Arc<dyn Progress>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let (paths, layer_def, crs, p) = (paths.to_vec(), layer.clone(), store.crs(), progress.clone());
    let batch = tokio::task::spawn_blocking(move || read(&paths, &layer_def, crs, options, p.as_ref()))
        .await
        .expect("the reader does not panic")?;
    let read = batch.features.len();
    let (imported, replaced) = if dry_run {
        (0, 0)
    } else {
        tracing::info!("writing {read} features into {} in one transaction", layer.id);
        progress.writing(read);
        let key = Key { attribute: SOURCE_ATTRIBUTE, values: &batch.sources, replace };
        let (ids, replaced) = store.insert_keyed(layer, &batch.features, &key).await?;
        (ids.len(), replaced)
    };
    Ok(ImportReport { documents: batch.documents, read, imported, replaced, elapsed: started.elapsed() })
}

/// An XML document's name (the file, or `archive.zip!entry.xml`) and bytes.
type Document = (String, Vec<u8>);

/// The XML documents of a source — the file itself, or every `.xml` in a zip, also in zips
/// inside it — and the source's size in bytes.
fn documents(path: &Path) -> Result<(Vec<Document>, u64), ImportError> {
    let io = |error| ImportError::Io { path: path.to_owned(), error };
    let bytes = std::fs::read(path).map_err(io)?;
    let size = bytes.len() as u64;
    let mut out = Vec::new();
    collect_documents(&path.display().to_string(), bytes, path, &mut out)?;
    if out.is_empty() {
        return Err(ImportError::UnknownFormat { path: path.to_owned(), what: "no XML document in it".into() });
    }
    Ok((out, size))
}

fn collect_documents(
    name: &str,
    bytes: Vec<u8>,
    path: &Path,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), ImportError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        let zip_err =
            |e: zip::result::ZipError| ImportError::Zip { path: path.to_owned(), message: format!("{name}: {e}") };
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zip_err)?;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(zip_err)?;
            if entry.is_dir() {
                continue;
            }
            // Names in Japanese zips are often Shift_JIS without the UTF-8 flag: shown lossily.
            let entry_name = entry
                .name()
                .map_or_else(|_| String::from_utf8_lossy(entry.name_raw()).into_owned(), |n| n.into_owned());
            let inner = format!("{name}!{entry_name}");
            let lower = entry_name.to_lowercase();
            if !(lower.ends_with(".xml") || lower.ends_with(".zip")) {
                continue;
            }
            let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry
                .read_to_end(&mut data)
                .map_err(|e| ImportError::Zip { path: path.to_owned(), message: format!("{inner}: {e}") })?;
            collect_documents(&inner, data, path, out)?;
        }
        return Ok(());
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
    if head.trim_start_matches('\u{feff}').trim_start().starts_with('<') {
        out.push((name.to_owned(), bytes));
        return Ok(());
    }
    Err(ImportError::UnknownFormat { path: path.to_owned(), what: format!("{name} is neither XML nor a zip archive") })
}

/// The parcels of one map as features of `layer` in `store_crs`.
fn moj_features(
    map: &mojxml::MojMap,
    name: &str,
    source: &str,
    layer: &LayerDef,
    store_crs: Epsg,
    options: ReadOptions,
) -> Result<Vec<NewFeature>, ImportError> {
    if layer.geometry.family() != "polygon" || layer.attribute_index(SOURCE_ATTRIBUTE).is_none() {
        return Err(ImportError::WrongLayer {
            layer: layer.id.to_string(),
            what: "cadastral parcels (polygons)".into(),
        });
    }
    let from = match map.crs {
        MapCrs::Arbitrary => {
            return Err(ImportError::Arbitrary { path: name.to_owned(), layer: layer.id.to_string() });
        }
        crs => crs.epsg(options.datum).expect("plane rectangular"),
    };
    let crs_err = |error| ImportError::Crs { path: name.to_owned(), error };
    let transformer = Transformer::new(from, store_crs).map_err(crs_err)?;
    let text = |s: &str| if s.is_empty() { AttrValue::Null } else { AttrValue::text(s) };
    map.parcels
        .iter()
        .map(|p| {
            let mut geometry = geo_types::Geometry::Polygon(p.polygon.clone());
            transformer.geometry(&mut geometry).map_err(crs_err)?;
            let attributes = layer.values_by_name([
                ("chiban", text(&p.chiban)),
                ("oaza", text(&p.oaza_name)),
                ("oaza_code", text(&p.oaza_code)),
                ("chome", text(&p.chome_name)),
                ("chome_code", text(&p.chome_code)),
                ("aza", text(&p.koaza_name)),
                ("aza_code", text(&p.koaza_code)),
                ("chiban_prefix", p.prefix.as_deref().map_or(AttrValue::Null, AttrValue::text)),
                ("accuracy", text(&p.accuracy)),
                ("coordinate_kind", text(&p.coordinate_kind)),
                (SOURCE_ATTRIBUTE, AttrValue::text(source)),
            ]);
            Ok(NewFeature { geometry, attributes })
        })
        .collect()
}
