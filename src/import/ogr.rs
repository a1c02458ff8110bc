//! Reading vector files through GDAL/OGR: Shapefile, GeoPackage, GeoJSON, FlatGeobuf, GML
//! (PLATEAU CityGML included), CSV with 緯度/経度 or lat/lon columns, GPX, and zips of them.
//!
//! GDAL opens the file; machizu decides the rest itself, so that it is right for Japanese data:
//! - **text** is read as bytes (GDAL's recoding is off) and decoded by [`super::text`], which
//!   checks the `.cpg`/`--encoding` against the bytes and keeps half-cut characters' text;
//! - **the CRS** is the file's own, identified as an EPSG code — also where GDAL's PROJ does not
//!   know it (PLATEAU's `EPSG/0/10169` compound codes, read from the GML's `srsName`) — or
//!   `--srs`; neither is an error, never a guess;
//! - **axis order**: coordinates a file lists northing first are swapped to (x = east);
//! - **geometry**: curves are linearised, 3D solids (PLATEAU buildings) give their footprint,
//!   invalid polygons are repaired with GEOS's `MakeValid` where that keeps a polygon, and what
//!   cannot be read is reported with the reason.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

use gdal::vector::{Geometry, LayerAccess};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use gdal_sys::OGRwkbGeometryType as T;
use geo::{Area, Validation};
use geo_types::Geometry as G;

use super::mapping::Value;
use super::text;
use crate::crs::Epsg;

/// Errors reading a file through GDAL.
#[derive(Debug, thiserror::Error)]
pub enum OgrError {
    #[error("no reader recognises it (not MOJ map XML, nor a vector format GDAL reads{0})")]
    Open(String),
    #[error("{0}")]
    ChooseLayer(String),
    #[error(
        "layer {layer}: the file does not say its coordinate system{found}; give it with --srs \
         (e.g. --srs EPSG:6678 for JGD2011 plane rectangular zone X, EPSG:6668 for JGD2011 \
         latitude/longitude)"
    )]
    NoCrs { layer: String, found: String },
    #[error("layer {layer}: --encoding says {given}, but the text is not {given}; it reads as {reads_as}")]
    Encoding { layer: String, given: &'static str, reads_as: &'static str },
    #[error("--where {0:?}: {1}")]
    Filter(String, String),
    #[error("GDAL: {0}")]
    Gdal(#[from] gdal::errors::GdalError),
}

/// How to read a file.
#[derive(Debug, Clone, Default)]
pub struct OgrOptions {
    /// The source CRS, overriding what the file says (like `ogr2ogr -s_srs`).
    pub srs: Option<Epsg>,
    /// The text encoding, overriding `.cpg` files and detection.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The layer of a multi-layer file (GeoPackage, GPX …) to read.
    pub source_layer: Option<String>,
    /// An OGR SQL condition selecting the features to read (`highway IS NOT NULL`).
    pub filter: Option<String>,
}

/// One layer of a file, read whole.
#[derive(Debug)]
pub struct Table {
    /// `file` or `file:layer` for multi-layer files.
    pub name: String,
    /// The CRS of `rows`' geometries, axes already in (east, north) order.
    pub crs: Epsg,
    pub fields: Vec<String>,
    pub rows: Vec<Row>,
    /// Polygons repaired by `MakeValid`.
    pub repaired: usize,
    /// What the reader noticed: the encoding chosen, half-cut characters …
    pub notes: Vec<String>,
}

/// One feature: its geometry, or why it has none usable, and its values.
#[derive(Debug)]
pub struct Row<V = Value> {
    pub fid: u64,
    pub geometry: Result<G<f64>, String>,
    pub values: Vec<V>,
}

/// A value as read, before decoding.
#[derive(Debug)]
enum Raw {
    Bytes(Vec<u8>),
    Value(Value),
}

/// Routes GDAL's messages to the log instead of stderr, once.
fn quiet_gdal() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| gdal::config::set_error_handler(|class, no, msg| tracing::debug!("GDAL {class:?} {no}: {msg}")));
}

/// An OGR geometry type without Z and M (`wkbLineString25D` → `wkbLineString`).
fn flatten(t: T::Type) -> T::Type {
    // SAFETY: a pure function on an integer.
    unsafe { gdal_sys::OGR_GT_Flatten(t) }
}

/// The geometry family (`point`, `line`, `polygon`) an OGR geometry type belongs to.
fn family(t: T::Type) -> Option<&'static str> {
    match flatten(t) {
        T::wkbPoint | T::wkbMultiPoint => Some("point"),
        T::wkbLineString | T::wkbMultiLineString | T::wkbCircularString | T::wkbCompoundCurve | T::wkbMultiCurve => {
            Some("line")
        }
        T::wkbPolygon
        | T::wkbMultiPolygon
        | T::wkbCurvePolygon
        | T::wkbMultiSurface
        | T::wkbPolyhedralSurface
        | T::wkbTIN
        | T::wkbTriangle => Some("polygon"),
        _ => None,
    }
}

/// Reads the layers of `path` that go into a layer of geometry family `want`, telling
/// `progress` every 1,024 features how many it has read.
pub fn read(
    path: &Path,
    want: &str,
    options: &OgrOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Table>, OgrError> {
    quiet_gdal();
    let (dataset, zipped) = open(path)?;
    let driver = dataset.driver().short_name();
    let file_name = path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    let many = dataset.layer_count() > 1;
    let mut count = 0;
    let mut tables = Vec::new();
    for index in choose_layers(&dataset, want, &driver, options.source_layer.as_deref())? {
        let mut layer = dataset.layer(index)?;
        if let Some(filter) = &options.filter {
            layer.set_attribute_filter(filter).map_err(|e| OgrError::Filter(filter.clone(), e.to_string()))?;
        }
        let name = if many { format!("{file_name}:{}", layer.name()) } else { file_name.clone() };
        let (crs, swap, crs_note) = layer_crs(&layer, path, &driver, &name, options.srs)?;
        let declared = declared_encoding(path, &driver, zipped, options.encoding);
        let raw = read_raw(&mut layer, want, swap, &mut |n| {
            count += n;
            progress(count);
        });
        let mut table = decode(name, crs, raw, declared)?;
        table.notes.splice(0..0, crs_note);
        tables.push(table);
    }
    Ok(tables)
}

/// The geometry family (`point`, `line`, `polygon`) of the layer of `path` that a new layer
/// would be made from: the one named, or the only one with geometry.
pub fn geometry_family(path: &Path, named: Option<&str>) -> Result<&'static str, OgrError> {
    quiet_gdal();
    let (dataset, _) = open(path)?;
    let mut found = Vec::new();
    for mut layer in dataset.layers() {
        if named.is_some_and(|n| n != layer.name()) {
            continue;
        }
        let mut t = layer.defn().geometry_type();
        if family(t).is_none() {
            t = layer.features().find_map(|f| f.geometry().map(Geometry::geometry_type)).unwrap_or(t);
        }
        if let Some(f) = family(t) {
            found.push((layer.name(), f));
        }
    }
    Err(OgrError::ChooseLayer(match (named, found.as_slice()) {
        (_, [(_, f)]) => return Ok(f),
        (Some(n), _) => format!("it has no layer {n:?} with points, lines or polygons"),
        (None, []) => {
            "it holds no points, lines or polygons (a CSV needs columns 緯度 and 経度, or lat and lon)".into()
        }
        (None, _) => {
            let list: Vec<String> = found.iter().map(|(n, f)| format!("{n} ({f}s)")).collect();
            format!("it has several layers; choose one: {}", list.join(", "))
        }
    }))
}

/// Opens a file (a zip through `/vsizip/`) with the open options machizu needs; and whether it
/// is zipped.
fn open(path: &Path) -> Result<(Dataset, bool), OgrError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let zipped = ext == "zip";
    let gdal_path = if zipped { PathBuf::from(format!("/vsizip/{}", path.display())) } else { path.to_owned() };
    let open_options: &[&str] = match ext.as_str() {
        // No recoding: text arrives as bytes and is decoded here.
        "shp" | "dbf" | "zip" => &["ENCODING="],
        // Never write a .gfs schema file next to the source.
        "gml" | "xml" => &["WRITE_GFS=NO"],
        "csv" => &[
            "X_POSSIBLE_NAMES=経度,lon,lng,long,longitude,x,X",
            "Y_POSSIBLE_NAMES=緯度,lat,latitude,y,Y",
            "KEEP_GEOM_COLUMNS=NO",
        ],
        _ => &[],
    };
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
        open_options: Some(open_options),
        ..DatasetOptions::default()
    };
    let dataset = Dataset::open_ex(&gdal_path, options).map_err(|e| {
        OgrError::Open(match e {
            gdal::errors::GdalError::NullPointer { msg, .. } if !msg.is_empty() => format!(": {msg}"),
            gdal::errors::GdalError::NullPointer { .. } => String::new(),
            other => format!(": {other}"),
        })
    })?;
    Ok((dataset, zipped))
}

/// A layer as read, its text still bytes.
struct RawTable {
    names: Vec<Vec<u8>>,
    rows: Vec<Row<Raw>>,
    repaired: usize,
}

/// Reads every feature of `layer`: values (text as bytes) and geometry ready for a `want`
/// layer. `progress` hears of every 1,024 features.
fn read_raw(layer: &mut gdal::vector::Layer<'_>, want: &str, swap: bool, progress: &mut dyn FnMut(usize)) -> RawTable {
    // SAFETY: the definition belongs to `layer`, alive for this block; names are copied out.
    let names: Vec<Vec<u8>> = unsafe {
        let defn = layer.defn().c_defn();
        (0..gdal_sys::OGR_FD_GetFieldCount(defn))
            .map(|i| {
                CStr::from_ptr(gdal_sys::OGR_Fld_GetNameRef(gdal_sys::OGR_FD_GetFieldDefn(defn, i))).to_bytes().to_vec()
            })
            .collect()
    };
    let kinds: Vec<_> = layer.defn().fields().map(|f| f.field_type()).collect();
    let mut raw = RawTable { names, rows: Vec::new(), repaired: 0 };
    for feature in layer.features() {
        let values = kinds.iter().enumerate().map(|(i, k)| raw_value(&feature, i, *k)).collect();
        let geometry = match feature.geometry() {
            None => Err("it has no geometry".to_owned()),
            Some(g) if g.is_empty() => Err("its geometry is empty".to_owned()),
            Some(g) => read_geometry(g, want, swap).map(|(g, fixed)| {
                raw.repaired += usize::from(fixed);
                g
            }),
        };
        raw.rows.push(Row { fid: feature.fid().unwrap_or(raw.rows.len() as u64), geometry, values });
        if raw.rows.len().is_multiple_of(1024) {
            progress(1024);
        }
    }
    progress(raw.rows.len() % 1024);
    raw
}

/// Decodes a layer's names and text with one encoding, checked against every value: the
/// declared one if it reads them all, else the one that does. An `--encoding` that does not
/// read them is an error.
fn decode(
    name: String,
    crs: Epsg,
    raw: RawTable,
    declared: Option<(&'static encoding_rs::Encoding, &'static str)>,
) -> Result<Table, OgrError> {
    let all_bytes: Vec<&[u8]> = raw
        .names
        .iter()
        .map(Vec::as_slice)
        .chain(raw.rows.iter().flat_map(|r| &r.values).filter_map(|v| match v {
            Raw::Bytes(b) => Some(b.as_slice()),
            Raw::Value(_) => None,
        }))
        .collect();
    let (encoding, note) = text::choose(declared, &all_bytes);
    if let Some((given, "--encoding")) = declared
        && given != encoding
    {
        return Err(OgrError::Encoding { layer: name, given: given.name(), reads_as: text::display(encoding) });
    }
    let mut notes: Vec<String> = note.into_iter().collect();
    let fields: Vec<String> = raw.names.iter().map(|n| text::decode(encoding, n).text).collect();
    let mut text_value = |fid: u64, field: usize, bytes: &[u8]| {
        let d = text::decode(encoding, bytes);
        let name = &fields[field];
        if d.cut {
            notes.push(format!(
                "feature {fid}, field {name}: the last character was cut in half by the field's width; kept {:?}",
                d.text
            ));
        } else if d.malformed {
            notes.push(format!(
                "feature {fid}, field {name}: bytes that are not {} were replaced by �",
                text::display(encoding)
            ));
        }
        Value::Text(d.text)
    };
    let rows = raw
        .rows
        .into_iter()
        .map(|Row { fid, geometry, values }| Row {
            fid,
            geometry,
            values: (values.into_iter().enumerate())
                .map(|(i, v)| match v {
                    Raw::Value(v) => v,
                    Raw::Bytes(b) => text_value(fid, i, &b),
                })
                .collect(),
        })
        .collect();
    Ok(Table { name, crs, fields, rows, repaired: raw.repaired, notes })
}

/// The layers to read: the one named, the only one, or the only ones whose geometry fits.
fn choose_layers(dataset: &Dataset, want: &str, driver: &str, named: Option<&str>) -> Result<Vec<usize>, OgrError> {
    // A layer that does not declare its geometry type (GML with mixed members) is typed by its
    // first geometry when machizu must choose — not when the layer is named: reading one layer
    // of an OSM file moves the others on.
    let all: Vec<(String, T::Type, Option<u64>)> = dataset
        .layers()
        .map(|mut l| {
            let mut t = l.defn().geometry_type();
            if named.is_none() && family(t).is_none() {
                t = l.features().find_map(|f| f.geometry().map(Geometry::geometry_type)).unwrap_or(t);
                l.reset_feature_reading();
            }
            (l.name(), t, l.try_feature_count())
        })
        .collect();
    let describe = || {
        all.iter()
            .map(|(n, t, c)| {
                let count = c.map_or_else(|| "? features".to_owned(), |c| format!("{c} features"));
                format!("{n} ({}, {count})", family(*t).unwrap_or("no geometry"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(named) = named {
        return match all.iter().position(|(n, _, _)| n == named) {
            Some(i) => Ok(vec![i]),
            None => Err(OgrError::ChooseLayer(format!("it has no layer {named:?}; it has: {}", describe()))),
        };
    }
    if all.len() == 1 {
        return Ok(vec![0]);
    }
    let fitting: Vec<usize> =
        (0..all.len()).filter(|&i| family(all[i].1) == Some(want) && all[i].2 != Some(0)).collect();
    // A GPX file's routes and tracks are all lines of the same recording: take them together.
    if fitting.len() == 1 || (driver == "GPX" && !fitting.is_empty()) {
        return Ok(fitting);
    }
    let why = if fitting.is_empty() { format!("none holds {want}s") } else { format!("several hold {want}s") };
    Err(OgrError::ChooseLayer(format!(
        "it has {} layers and {why}; choose one with --source-layer: {}",
        all.len(),
        describe()
    )))
}

/// The layer's CRS as an EPSG code of its horizontal part, whether its coordinates come
/// northing first (to swap), and a note when `--srs` overrode what the file says.
fn layer_crs(
    layer: &gdal::vector::Layer<'_>,
    path: &Path,
    driver: &str,
    name: &str,
    srs: Option<Epsg>,
) -> Result<(Epsg, bool, Option<String>), OgrError> {
    let file = layer.spatial_ref().map(|s| (identify(&s), northing_first_data(&s), s.name().unwrap_or_default()));
    let sniffed = if file.is_none() && driver == "GML" { srs_name(path) } else { None };
    // The order of the coordinates as they come is the file's affair, whatever --srs says: GML
    // lists them in its srsName's own axis order; other files say (x, y) unless GDAL says not.
    let swap = match (&file, sniffed) {
        (Some((_, swap, _)), _) => *swap,
        (None, Some(code)) => epsg_northing_first(code.horizontal()),
        (None, None) => false,
    };
    let said =
        file.as_ref().map(|(code, _, fname)| (*code, fname.clone())).or(sniffed.map(|c| (Some(c), c.to_string())));
    match (srs, said) {
        (Some(given), said) => {
            let note = said.and_then(|(code, fname)| {
                (code.map(Epsg::horizontal) != Some(given.horizontal()))
                    .then(|| format!("--srs {given} used instead of the file's {fname}"))
            });
            Ok((given.horizontal(), swap, note))
        }
        (None, Some((Some(code), _))) => Ok((code.horizontal(), swap, None)),
        (None, Some((None, fname))) => {
            Err(OgrError::NoCrs { layer: name.to_owned(), found: format!(" as an EPSG code (it says {fname:?})") })
        }
        // 自治体標準オープンデータセット: 緯度/経度 are JGD2011 (世界測地系) degrees.
        (None, None) if driver == "CSV" && has_latlon_columns(path) => Ok((
            Epsg(6668),
            false,
            Some("緯度/経度 columns read as JGD2011 degrees (自治体標準オープンデータセット)".to_owned()),
        )),
        (None, None) => Err(OgrError::NoCrs { layer: name.to_owned(), found: String::new() }),
    }
}

/// The EPSG code GDAL identifies for a CRS, if any.
fn identify(srs: &gdal::spatial_ref::SpatialRef) -> Option<Epsg> {
    let code = |s: &gdal::spatial_ref::SpatialRef| {
        (s.auth_name().as_deref() == Some("EPSG")).then(|| s.auth_code().ok()).flatten().map(|c| Epsg(c as u32))
    };
    if let Some(c) = code(srs) {
        return Some(c);
    }
    let mut copy = srs.clone();
    if copy.auto_identify_epsg().is_ok()
        && let Some(c) = code(&copy)
    {
        return Some(c);
    }
    // A .prj in ESRI's words ("JGD_2000_Japan_Zone_8"): ask PROJ for an equivalent EPSG CRS.
    // SAFETY: the array and confidences GDAL allocates are read within bounds and freed here.
    unsafe {
        let (mut n, mut confidence) = (0, std::ptr::null_mut());
        let matches = gdal_sys::OSRFindMatches(srs.to_c_hsrs(), std::ptr::null_mut(), &mut n, &mut confidence);
        let mut found = None;
        if !matches.is_null() {
            for i in 0..n as usize {
                let m = *matches.add(i);
                if *confidence.add(i) >= 70 && found.is_none() {
                    let auth = gdal_sys::OSRGetAuthorityName(m, std::ptr::null());
                    let c = gdal_sys::OSRGetAuthorityCode(m, std::ptr::null());
                    if !auth.is_null() && !c.is_null() && CStr::from_ptr(auth).to_bytes() == b"EPSG" {
                        found = CStr::from_ptr(c).to_str().ok().and_then(|c| c.parse().ok()).map(Epsg);
                    }
                }
            }
            gdal_sys::OSRFreeSRSArray(matches);
            gdal_sys::VSIFree(confidence.cast());
        }
        found
    }
}

/// Whether GDAL hands this layer's coordinates northing (or latitude) first.
fn northing_first_data(srs: &gdal::spatial_ref::SpatialRef) -> bool {
    // SAFETY: the mapping array belongs to `srs` and is read within its reported length.
    unsafe {
        let h = srs.to_c_hsrs();
        let mut n = 0;
        let mapping = gdal_sys::OSRGetDataAxisToSRSAxisMapping(h, &mut n);
        if mapping.is_null() || n < 2 {
            return false;
        }
        let first = *mapping;
        let mut orientation = gdal_sys::OGRAxisOrientation::OAO_Other;
        gdal_sys::OSRGetAxis(h, std::ptr::null(), first - 1, &mut orientation);
        orientation == gdal_sys::OGRAxisOrientation::OAO_North
    }
}

/// Whether an EPSG CRS lists northing (latitude) first in its official axis order.
fn epsg_northing_first(code: Epsg) -> bool {
    gdal::spatial_ref::SpatialRef::from_epsg(code.0).is_ok_and(|s| {
        let mut orientation = gdal_sys::OGRAxisOrientation::OAO_Other;
        // SAFETY: a valid handle owned by `s`.
        unsafe { gdal_sys::OSRGetAxis(s.to_c_hsrs(), std::ptr::null(), 0, &mut orientation) };
        orientation == gdal_sys::OGRAxisOrientation::OAO_North
    })
}

/// The EPSG code in a GML file's first `srsName`, for CRSs GDAL's PROJ does not know.
fn srs_name(path: &Path) -> Option<Epsg> {
    use std::io::Read;
    let mut head = vec![0; 64 * 1024];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).ok()?;
    let head = String::from_utf8_lossy(&head[..n]);
    let at = head.find("srsName=\"")? + 9;
    Epsg::from_uri(&head[at..at + head[at..].find('"')?])
}

/// Whether a CSV's header names 緯度 and 経度 columns.
fn has_latlon_columns(path: &Path) -> bool {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(path) else { return false };
    let mut line = Vec::new();
    if std::io::BufReader::new(f).read_until(b'\n', &mut line).is_err() {
        return false;
    }
    let (encoding, _) = text::choose(None, &[&line]);
    let header = text::decode(encoding, &line).text;
    let cols: Vec<&str> =
        header.trim_start_matches('\u{feff}').split(',').map(|c| c.trim().trim_matches('"')).collect();
    cols.contains(&"緯度") && cols.contains(&"経度")
}

/// What says the encoding of a layer's text before its bytes are seen: `--encoding`, a
/// Shapefile's `.cpg` or its DBF's language driver id, or the format itself.
fn declared_encoding(
    path: &Path,
    driver: &str,
    zipped: bool,
    given: Option<&'static encoding_rs::Encoding>,
) -> Option<(&'static encoding_rs::Encoding, &'static str)> {
    if let Some(e) = given {
        return Some((e, "--encoding"));
    }
    match driver {
        "ESRI Shapefile" if !zipped => {
            let cpg = std::fs::read(path.with_extension("cpg")).ok();
            if let Some(e) = cpg.and_then(|b| text::label(&String::from_utf8_lossy(&b))) {
                return Some((e, "the .cpg file"));
            }
            // Byte 29 of the DBF header; the file itself can be large.
            use std::io::Read;
            let mut header = [0u8; 32];
            std::fs::File::open(path.with_extension("dbf")).and_then(|mut f| f.read_exact(&mut header)).ok()?;
            text::from_ldid(header[29]).map(|e| (e, "the DBF's language driver id"))
        }
        "GPKG" | "GeoJSON" | "FlatGeobuf" | "GPX" | "GML" | "OSM" => Some((encoding_rs::UTF_8, "the format")),
        _ => None,
    }
}

fn raw_value(feature: &gdal::vector::Feature<'_>, i: usize, kind: gdal_sys::OGRFieldType::Type) -> Raw {
    use gdal::vector::FieldValue as F;
    use gdal_sys::OGRFieldType as K;
    // SAFETY: `i` is a field index of the feature's definition; the string is copied out.
    let set = unsafe { gdal_sys::OGR_F_IsFieldSetAndNotNull(feature.c_feature(), i as i32) } != 0;
    if !set {
        return Raw::Value(Value::Null);
    }
    if kind == K::OFTString {
        // SAFETY: as above.
        let bytes = unsafe { CStr::from_ptr(gdal_sys::OGR_F_GetFieldAsString(feature.c_feature(), i as i32)) };
        return Raw::Bytes(bytes.to_bytes().to_vec());
    }
    let join = |v: Vec<String>| Value::Text(v.join(","));
    Raw::Value(match feature.field(i).ok().flatten() {
        None => Value::Null,
        Some(F::IntegerValue(v)) => Value::Int(v.into()),
        Some(F::Integer64Value(v)) => Value::Int(v),
        Some(F::RealValue(v)) => Value::Real(v),
        Some(F::StringValue(v)) => Value::Text(v),
        Some(F::DateValue(d)) => Value::Date(d.format("%Y-%m-%d").to_string()),
        Some(F::DateTimeValue(d)) => Value::DateTime(d.to_rfc3339()),
        Some(F::IntegerListValue(v)) => join(v.iter().map(i32::to_string).collect()),
        Some(F::Integer64ListValue(v)) => join(v.iter().map(i64::to_string).collect()),
        Some(F::RealListValue(v)) => join(v.iter().map(f64::to_string).collect()),
        Some(F::StringListValue(v)) => join(v),
    })
}

/// A feature's geometry as geo-types in (east, north) order, ready for a `want` layer; and
/// whether it was repaired.
fn read_geometry(g: &Geometry, want: &str, swap: bool) -> Result<(G<f64>, bool), String> {
    let solid = matches!(flatten(g.geometry_type()), T::wkbPolyhedralSurface | T::wkbTIN);
    if solid && want != "polygon" {
        return Err(format!("its geometry is a 3D solid, which has no {want} to import"));
    }
    let mut geo = to_geo(g)?;
    let mut repaired = false;
    if want == "polygon" {
        if solid {
            // A 3D solid (PLATEAU LOD1 building): its footprint is its largest face seen from above.
            geo = footprint(geo).ok_or("its 3D solid has no face with an area")?;
        }
        if !geo.is_valid() {
            geo = make_valid(&geo)?;
            repaired = true;
        }
    }
    if swap {
        crate::crs::try_for_each_coord_run(&mut geo, &mut |run| {
            run.iter_mut().for_each(|c| std::mem::swap(&mut c.x, &mut c.y));
            Ok::<_, ()>(())
        })
        .ok();
    }
    Ok((geo, repaired))
}

/// The face of a 3D solid with the largest area in plan: for an extruded (LOD1) solid, the
/// footprint.
fn footprint(faces: G<f64>) -> Option<G<f64>> {
    let polygons = match faces {
        G::MultiPolygon(mp) => mp.0,
        G::Polygon(p) => vec![p],
        _ => return None,
    };
    polygons
        .into_iter()
        .map(|p| (p.unsigned_area(), p))
        .filter(|(a, _)| *a > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, p)| G::Polygon(p))
}

/// Repairs an invalid polygon with GEOS's MakeValid, keeping its polygonal part.
fn make_valid(geo: &G<f64>) -> Result<G<f64>, String> {
    use gdal::vector::ToGdal;
    let why = || "its polygon is invalid and cannot be repaired".to_owned();
    let fixed = geo.to_gdal().map_err(|_| why())?.make_valid(&gdal::cpl::CslStringList::new()).map_err(|_| why())?;
    let polygons: Vec<geo_types::Polygon<f64>> = match to_geo(&fixed)? {
        G::Polygon(p) => vec![p],
        G::MultiPolygon(mp) => mp.0,
        G::GeometryCollection(gc) => {
            gc.0.into_iter()
                .flat_map(|g| match g {
                    G::Polygon(p) => vec![p],
                    G::MultiPolygon(mp) => mp.0,
                    _ => vec![],
                })
                .collect()
        }
        _ => vec![],
    };
    match polygons.len() {
        0 => Err(why()),
        1 => Ok(G::Polygon(polygons.into_iter().next().expect("one"))),
        _ => Ok(G::MultiPolygon(geo_types::MultiPolygon(polygons))),
    }
}

/// Converts an OGR geometry of any type (Z and M dropped, curves linearised) to geo-types.
fn to_geo(g: &Geometry) -> Result<G<f64>, String> {
    use geo_types::{Coord, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
    let flat = flatten(g.geometry_type());
    let line = |g: &Geometry| {
        let mut pts = Vec::new();
        g.get_points(&mut pts);
        LineString(pts.into_iter().map(|(x, y, _)| Coord { x, y }).collect())
    };
    let polygon = |g: &Geometry| {
        let rings: Vec<LineString<f64>> = (0..g.geometry_count()).map(|i| line(&g.get_geometry(i))).collect();
        let mut rings = rings.into_iter();
        rings.next().map(|outer| Polygon::new(outer, rings.collect()))
    };
    let parts = || (0..g.geometry_count()).map(|i| to_geo(&g.get_geometry(i))).collect::<Result<Vec<_>, _>>();
    Ok(match flat {
        T::wkbPoint => {
            let (x, y, _) = g.get_point(0);
            G::Point(Point::new(x, y))
        }
        T::wkbLineString | T::wkbLinearRing => G::LineString(line(g)),
        T::wkbPolygon | T::wkbTriangle => G::Polygon(polygon(g).ok_or("a polygon without rings")?),
        T::wkbMultiPoint
        | T::wkbMultiLineString
        | T::wkbMultiPolygon
        | T::wkbGeometryCollection
        | T::wkbPolyhedralSurface
        | T::wkbTIN => {
            let parts = parts()?;
            if parts.iter().all(|p| matches!(p, G::Point(_))) && flat == T::wkbMultiPoint {
                G::MultiPoint(MultiPoint(parts.into_iter().filter_map(|p| Point::try_from(p).ok()).collect()))
            } else if parts.iter().all(|p| matches!(p, G::LineString(_))) && flat != T::wkbGeometryCollection {
                G::MultiLineString(MultiLineString(
                    parts.into_iter().filter_map(|p| LineString::try_from(p).ok()).collect(),
                ))
            } else if parts.iter().all(|p| matches!(p, G::Polygon(_))) && flat != T::wkbGeometryCollection {
                G::MultiPolygon(MultiPolygon(parts.into_iter().filter_map(|p| Polygon::try_from(p).ok()).collect()))
            } else {
                G::GeometryCollection(geo_types::GeometryCollection(parts))
            }
        }
        T::wkbCircularString | T::wkbCompoundCurve | T::wkbCurvePolygon | T::wkbMultiCurve | T::wkbMultiSurface => {
            to_geo(&linear(g)?)?
        }
        other => return Err(format!("its geometry type {other} is not supported")),
    })
}

/// A curve geometry approximated by straight segments (GDAL's default step).
fn linear(g: &Geometry) -> Result<Geometry, String> {
    // SAFETY: GDAL returns a new geometry (or null); it is exported to WKB and destroyed here.
    unsafe {
        let h = gdal_sys::OGR_G_GetLinearGeometry(g.c_geometry(), 0.0, std::ptr::null_mut());
        if h.is_null() {
            return Err("its curve cannot be linearised".into());
        }
        let size = gdal_sys::OGR_G_WkbSize(h) as usize;
        let mut wkb = vec![0u8; size];
        let rc = gdal_sys::OGR_G_ExportToIsoWkb(h, gdal_sys::OGRwkbByteOrder::wkbNDR, wkb.as_mut_ptr());
        gdal_sys::OGR_G_DestroyGeometry(h);
        if rc != gdal_sys::OGRErr::OGRERR_NONE {
            return Err("its curve cannot be linearised".into());
        }
        Geometry::from_wkb(&wkb).map_err(|e| e.to_string())
    }
}
