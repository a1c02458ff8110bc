//! Importing the data Japanese cities hold into a layer.
//!
//! One reader per kind of source turns a file into features in the store's CRS, with their
//! attributes mapped onto the layer's schema ([`mapping`]); [`import`] then writes all of them
//! in one transaction, so an import lands whole or not at all. The readers: [`mojxml`], the
//! Ministry of Justice's cadastral map XML (plain, zipped, or zipped inside a zip as the
//! Ministry distributes it), into `parcels`; and [`ogr`], everything GDAL reads (Shapefile,
//! GeoPackage, GeoJSON, FlatGeobuf, GML and PLATEAU CityGML, CSV, GPX, zips of them), with
//! Japanese text decoding by [`text`].

pub mod mapping;
pub mod mojxml;
pub mod ogr;
pub mod text;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::catalog::{GeometryKind, LayerDef};
use crate::crs::{CrsError, Epsg, Transformer};
use crate::feature::{AttrValue, NewFeature};
use crate::store::{Key, Store, StoreError};
use mapping::{Mapping, MappingError};
use mojxml::{Datum, MapCrs, MojError};
use ogr::{OgrError, OgrOptions};

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
         earth; it cannot go into {layer} (to keep it apart, unreferenced and untiled: \
         --layer parcels_arbitrary --allow-arbitrary)"
    )]
    Arbitrary { path: String, layer: String },
    #[error(
        "layer {layer} holds maps in 任意座標系, not placed on the earth: importing into it needs --allow-arbitrary"
    )]
    Unreferenced { layer: String },
    #[error("{path}: no file machizu can read ({what})")]
    UnknownFormat { path: PathBuf, what: String },
    #[error("{path}: {error}")]
    Crs { path: String, error: CrsError },
    #[error("{path}: {error}")]
    Ogr { path: PathBuf, error: OgrError },
    #[error("{path}: {error}")]
    Mapping { path: String, error: MappingError },
    #[error("layer {layer} cannot take {what}")]
    WrongLayer { layer: String, what: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How to read the sources.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The datum of plane rectangular MOJ maps, which the files do not state.
    pub datum: Datum,
    /// Source CRS, text encoding and layer for files read through GDAL.
    pub ogr: OgrOptions,
    /// Which source field fills which attribute (the built-in rules where it says nothing).
    pub mapping: Mapping,
    /// Consent to import MOJ maps in 任意座標系 into an unreferenced layer.
    pub allow_arbitrary: bool,
}

/// What an import read and wrote.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    /// Source documents read (a zip may hold several).
    pub documents: usize,
    /// Source features read (a multi-part one split for a single-part layer counts once).
    pub read: usize,
    /// Features written.
    pub imported: usize,
    /// Features an earlier import of the same sources had brought, now replaced.
    pub replaced: u64,
    /// Invalid polygons repaired (MakeValid).
    pub repaired: usize,
    /// Multi-part features split into one feature per part for a single-part layer.
    pub split: usize,
    /// Source features not imported, each with the reason.
    pub skipped: Vec<String>,
    /// What the readers noticed: encodings chosen, half-cut characters, values that did not
    /// fit their attribute (left empty), source fields that fill nothing.
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

/// Features read from the sources, ready to write.
#[derive(Default)]
pub struct Batch {
    pub features: Vec<NewFeature>,
    pub documents: usize,
    /// Source features read.
    pub read: usize,
    /// The `source` attribute of each document's features (one per document).
    pub sources: Vec<String>,
    pub repaired: usize,
    pub split: usize,
    pub skipped: Vec<String>,
    pub notes: Vec<String>,
}

impl Batch {
    /// The report of writing this batch: `imported` features written, `replaced` gone.
    pub fn report(self, imported: usize, replaced: u64, elapsed: Duration) -> ImportReport {
        ImportReport {
            documents: self.documents,
            read: self.read,
            imported,
            replaced,
            repaired: self.repaired,
            split: self.split,
            skipped: self.skipped,
            notes: self.notes,
            elapsed,
        }
    }
}

pub use crate::catalog::SOURCE_ATTRIBUTE;

/// Told how an import goes, for a progress display. Every method does nothing by default.
pub trait Progress: Send + Sync {
    /// Reading starts; the sources hold `bytes` in all.
    fn reading(&self, _bytes: u64) {}
    /// One source of `bytes` has been read, giving `features` in all so far.
    fn read(&self, _bytes: u64, _features: usize) {}
    /// Reading goes on: `features` read in all so far.
    fn features(&self, _features: usize) {}
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
    options: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Batch, ImportError> {
    if layer.live || layer.attribute_index(SOURCE_ATTRIBUTE).is_none() {
        return Err(ImportError::WrongLayer { layer: layer.id.to_string(), what: "imports: it is fed live".into() });
    }
    if !layer.referenced && !options.allow_arbitrary {
        return Err(ImportError::Unreferenced { layer: layer.id.to_string() });
    }
    let mut batch = Batch::default();
    let sizes = paths
        .iter()
        .map(|path| {
            std::fs::metadata(path).map(|m| m.len()).map_err(|error| ImportError::Io { path: path.clone(), error })
        })
        .collect::<Result<Vec<u64>, _>>()?;
    progress.reading(sizes.iter().sum());
    for (path, &size) in paths.iter().zip(&sizes) {
        if is_moj(path) {
            for (name, xml) in documents(path)? {
                let map = mojxml::parse(&xml[..]).map_err(|error| ImportError::Moj { path: name.clone(), error })?;
                let source = format!("{} ({})", map.map_name, name.rsplit(['/', '!']).next().unwrap_or(&name));
                batch.features.extend(moj_features(&map, &name, &source, layer, store_crs, options.datum)?);
                batch.read += map.parcels.len();
                batch.sources.push(source);
                batch.documents += 1;
            }
        } else if !layer.referenced {
            return Err(ImportError::WrongLayer {
                layer: layer.id.to_string(),
                what: format!("{}: only MOJ maps in 任意座標系 go into an unreferenced layer", path.display()),
            });
        } else {
            let ogr_err = |error| ImportError::Ogr { path: path.clone(), error };
            let before = batch.features.len();
            let tables = ogr::read(path, layer.geometry.family(), &options.ogr, &mut |n| progress.features(before + n));
            for table in tables.map_err(ogr_err)? {
                table_features(table, layer, store_crs, &options.mapping, &mut batch)?;
                batch.documents += 1;
            }
        }
        progress.read(size, batch.features.len());
    }
    Ok(batch)
}

/// The features of tables read through GDAL ([`ogr::read`]) as features of `layer` in
/// `store_crs`, filled by `mapping`.
pub fn features_of(
    tables: Vec<ogr::Table>,
    layer: &LayerDef,
    store_crs: Epsg,
    mapping: &Mapping,
) -> Result<Batch, ImportError> {
    let mut batch = Batch::default();
    for table in tables {
        table_features(table, layer, store_crs, mapping, &mut batch)?;
        batch.documents += 1;
    }
    Ok(batch)
}

/// Whether a source is Ministry of Justice map XML: an XML file in its namespace, or a zip
/// holding no file GDAL would read (the Ministry's zips hold XML or more zips).
fn is_moj(path: &Path) -> bool {
    use std::io::Read;
    let mut head = vec![0; 4096];
    let Ok(n) = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) else { return true };
    let head = &head[..n];
    if head.starts_with(b"PK") {
        // An unreadable zip goes to the MOJ reader, which says what is wrong with it.
        let Some(archive) = std::fs::File::open(path).ok().and_then(|f| zip::ZipArchive::new(f).ok()) else {
            return true;
        };
        const GDAL: [&str; 8] = [".shp", ".gpkg", ".geojson", ".json", ".gml", ".csv", ".fgb", ".gpx"];
        return !archive.file_names().flatten().any(|n| GDAL.iter().any(|e| n.to_lowercase().ends_with(e)));
    }
    head.windows(13).any(|w| w == b"MINJI/tizuxml")
}

/// The features of one table read through GDAL, into `batch`: geometry in `store_crs` and
/// fitted to the layer's type, attributes by the mapping; what cannot be imported is skipped
/// with the reason.
fn table_features(
    table: ogr::Table,
    layer: &LayerDef,
    store_crs: Epsg,
    mapping: &Mapping,
    batch: &mut Batch,
) -> Result<(), ImportError> {
    let name = table.name;
    let plan = mapping
        .plan(layer, &table.fields, &name, &[SOURCE_ATTRIBUTE])
        .map_err(|error| ImportError::Mapping { path: name.clone(), error })?;
    let transformer =
        Transformer::new(table.crs, store_crs).map_err(|error| ImportError::Crs { path: name.clone(), error })?;
    batch.notes.extend(table.notes.into_iter().map(|n| format!("{name}: {n}")));
    if !plan.unused.is_empty() {
        batch.notes.push(format!(
            "{name}: fields not imported (no attribute of {}): {}",
            layer.id,
            plan.unused.join(", ")
        ));
    }
    batch.repaired += table.repaired;
    let source = AttrValue::text(name.as_str());
    let source_index = layer.attribute_index(SOURCE_ATTRIBUTE).expect("checked by read");
    batch.read += table.rows.len();
    for row in table.rows {
        let skip = |why: String| format!("{name}: feature {}: {why}", row.fid);
        let mut geometry = match row.geometry {
            Ok(g) => g,
            Err(why) => {
                batch.skipped.push(skip(why));
                continue;
            }
        };
        if let Err(e) = transformer.geometry(&mut geometry) {
            batch.skipped.push(skip(e.to_string()));
            continue;
        }
        let parts = match fit(layer.geometry, geometry) {
            Ok(parts) => parts,
            Err(why) => {
                batch.skipped.push(skip(why));
                continue;
            }
        };
        let mut attributes = vec![AttrValue::Null; layer.attributes.len()];
        for &(f, a) in &plan.columns {
            let def = &layer.attributes[a];
            match row.values[f].to(def.kind) {
                Ok(v) => attributes[a] = v,
                Err(why) => batch.notes.push(format!(
                    "{name}: feature {}: field {} → {}: {why}; left empty",
                    row.fid, table.fields[f], def.name
                )),
            }
        }
        for (f, key, a) in &plan.tags {
            if let mapping::Value::Text(tags) = &row.values[*f]
                && let Some(v) = mapping::osm_tag(tags, key)
                && let Ok(v) = mapping::Value::Text(v).to(layer.attributes[*a].kind)
            {
                attributes[*a] = v;
            }
        }
        for (a, v) in &plan.constants {
            attributes[*a] = v.clone();
        }
        attributes[source_index] = source.clone();
        batch.split += parts.len() - 1;
        for geometry in parts {
            batch.features.push(NewFeature { geometry, attributes: attributes.clone() });
        }
    }
    batch.sources.push(name);
    Ok(())
}

/// A geometry fitted to a layer's type: as it is, as a one-part multi geometry or the other
/// way round, or split into its parts for a single-part layer.
fn fit(kind: GeometryKind, g: geo_types::Geometry<f64>) -> Result<Vec<geo_types::Geometry<f64>>, String> {
    use geo_types::Geometry as G;
    let degenerate = match &g {
        G::LineString(l) => l.0.len() < 2,
        G::MultiLineString(m) => m.0.iter().any(|l| l.0.len() < 2),
        _ => false,
    };
    if degenerate {
        return Err("a line with fewer than 2 points".into());
    }
    if let Ok(g) = kind.conform(&g) {
        return Ok(vec![g]);
    }
    let wrong = format!("a {} cannot go into a {} layer", geo_name(&g), kind.ogc_name().to_lowercase());
    let parts: Vec<G<f64>> = match g {
        G::MultiPoint(m) => m.0.into_iter().map(G::Point).collect(),
        G::MultiLineString(m) => m.0.into_iter().map(G::LineString).collect(),
        G::MultiPolygon(m) => m.0.into_iter().map(G::Polygon).collect(),
        _ => return Err(wrong),
    };
    if parts.is_empty() {
        return Err("its geometry is empty".into());
    }
    parts.iter().map(|p| kind.conform(p)).collect::<Result<Vec<_>, _>>().map_err(|_| wrong)
}

fn geo_name(g: &geo_types::Geometry<f64>) -> &'static str {
    use geo_types::Geometry as G;
    match g {
        G::Point(_) => "point",
        G::MultiPoint(_) => "multipoint",
        G::LineString(_) | G::Line(_) => "line",
        G::MultiLineString(_) => "multiline",
        G::Polygon(_) | G::Rect(_) | G::Triangle(_) => "polygon",
        G::MultiPolygon(_) => "multipolygon",
        G::GeometryCollection(_) => "geometry collection",
    }
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
    let batch = tokio::task::spawn_blocking(move || read(&paths, &layer_def, crs, &options, p.as_ref()))
        .await
        .expect("the reader does not panic")?;
    let (imported, replaced) = if dry_run {
        (0, 0)
    } else {
        let n = batch.features.len();
        tracing::info!("writing {n} features into {} in one transaction", layer.id);
        progress.writing(n);
        let key = Key { attribute: SOURCE_ATTRIBUTE, values: &batch.sources, replace };
        let (ids, replaced) = store.insert_keyed(layer, &batch.features, &key).await?;
        (ids.len(), replaced)
    };
    Ok(batch.report(imported, replaced, started.elapsed()))
}

/// An XML document's name (the file, or `archive.zip!entry.xml`) and bytes.
type Document = (String, Vec<u8>);

/// The XML documents of a source: the file itself, or every `.xml` in a zip, also in zips
/// inside it.
fn documents(path: &Path) -> Result<Vec<Document>, ImportError> {
    let io = |error| ImportError::Io { path: path.to_owned(), error };
    let bytes = std::fs::read(path).map_err(io)?;
    let mut out = Vec::new();
    collect_documents(&path.display().to_string(), bytes, path, &mut out)?;
    if out.is_empty() {
        return Err(ImportError::UnknownFormat { path: path.to_owned(), what: "no XML document in it".into() });
    }
    Ok(out)
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
    datum: Datum,
) -> Result<Vec<NewFeature>, ImportError> {
    if layer.geometry.family() != "polygon" {
        return Err(ImportError::WrongLayer {
            layer: layer.id.to_string(),
            what: "cadastral parcels (polygons)".into(),
        });
    }
    let crs_err = |error| ImportError::Crs { path: name.to_owned(), error };
    // An unreferenced layer keeps a 任意座標系 map's own coordinates; nothing else mixes.
    let transformer = match (map.crs, layer.referenced) {
        (MapCrs::Arbitrary, true) => {
            return Err(ImportError::Arbitrary { path: name.to_owned(), layer: layer.id.to_string() });
        }
        (MapCrs::Arbitrary, false) => None,
        (_, false) => {
            return Err(ImportError::WrongLayer {
                layer: layer.id.to_string(),
                what: format!("{name}, a map in 公共座標系: it belongs in a georeferenced layer (parcels)"),
            });
        }
        (crs, true) => {
            let from = crs.epsg(datum).expect("plane rectangular");
            Some(Transformer::new(from, store_crs).map_err(crs_err)?)
        }
    };
    let text = |s: &str| if s.is_empty() { AttrValue::Null } else { AttrValue::text(s) };
    map.parcels
        .iter()
        .map(|p| {
            let mut geometry = geo_types::Geometry::Polygon(p.polygon.clone());
            if let Some(t) = &transformer {
                t.geometry(&mut geometry).map_err(crs_err)?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{Geometry as G, LineString, MultiLineString, MultiPolygon, Point, line_string};

    #[test]
    fn fit_splits_multi_parts_for_single_layers_and_refuses_the_wrong_family() {
        let a = line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0)];
        let b = line_string![(x: 2.0, y: 2.0), (x: 3.0, y: 3.0)];
        let multi = G::MultiLineString(MultiLineString(vec![a.clone(), b]));
        assert_eq!(fit(GeometryKind::LineString, multi.clone()).unwrap().len(), 2);
        assert_eq!(fit(GeometryKind::MultiLineString, multi).unwrap().len(), 1);
        assert_eq!(fit(GeometryKind::MultiLineString, G::LineString(a)).unwrap().len(), 1);
        let e = fit(GeometryKind::Polygon, G::Point(Point::new(0.0, 0.0))).unwrap_err();
        assert_eq!(e, "a point cannot go into a polygon layer");
        assert!(fit(GeometryKind::Polygon, G::MultiPolygon(MultiPolygon(vec![]))).is_err());
        assert!(fit(GeometryKind::LineString, G::LineString(LineString(vec![]))).is_err());
    }
}
