//! Open data out: a public layer's public attributes as GeoJSON, CSV or GeoPackage.
//!
//! Only what the public may see leaves: a staff-only layer is refused and staff-only
//! attributes (owners, internal notes, import sources) are never written. The CSV follows the
//! 自治体標準オープンデータセット (the Digital Agency's standard municipal open data) conventions:
//! UTF-8, a header of Japanese column names starting with 全国地方公共団体コード (6 digits with the
//! check digit), ID and 地方公共団体名, `name` as 名称 and `address` as 所在地_連結表記, and the
//! position as 緯度/経度 in JGD2011 degrees (a point inside a line or polygon, whose shape is
//! also given as WKT). GeoJSON is RFC 7946 (WGS84 longitude/latitude); the GeoPackage keeps the
//! store's CRS. [`pmtiles`] writes the public layers' tiles as one PMTiles archive.

pub mod pmtiles;

use std::io::Write;
use std::path::Path;

use geo::InteriorPoint;
use geozero::ToWkt;

use crate::catalog::{AttrType, Audience, LayerDef};
use crate::crs::{CrsError, Epsg, Transformer};
use crate::feature::{AttrValue, Feature};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Geojson,
    Csv,
    Gpkg,
    /// The public layers' tiles (`--layer a,b,…`, default every public layer that is not live)
    /// as one PMTiles v3 archive.
    Pmtiles,
}

/// Errors of an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("layer {0} is staff-only: export writes open data, from public layers only")]
    NotPublic(String),
    #[error("layer {0} is not georeferenced (任意座標系): it has no place on the earth to export")]
    Unreferenced(String),
    #[error("a GeoPackage or PMTiles archive is a file: give --output FILE")]
    NeedsFile,
    #[error("a PMTiles archive holds the tiles of several layers: see export::pmtiles::write")]
    Tiles,
    #[error(transparent)]
    Crs(#[from] CrsError),
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the GeoPackage: {0}")]
    Gdal(#[from] gdal::errors::GdalError),
    #[error("writing the PMTiles archive: {0}")]
    Pmtiles(#[from] ::pmtiles::PmtError),
}

/// The municipality the data is from, for the standard CSV's first columns.
#[derive(Debug, Clone)]
pub struct Municipality {
    /// The 5-digit 団体コード (`06212`); the CSV gets it with its check digit.
    pub code: String,
    pub name: String,
}

/// A 5-digit 全国地方公共団体コード with its check digit (JIS X 0402).
///
/// ```
/// use machizu::export::with_check_digit;
/// assert_eq!(with_check_digit("06212"), "062120"); // 尾花沢市
/// assert_eq!(with_check_digit("22212"), "222127"); // 焼津市
/// assert_eq!(with_check_digit("222127"), "222127");
/// ```
pub fn with_check_digit(code: &str) -> String {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 5 {
        return code.to_owned();
    }
    let sum: u32 = digits.iter().zip([6, 5, 4, 3, 2]).map(|(d, w)| d * w).sum();
    let check = (11 - sum % 11) % 10;
    format!("{code}{check}")
}

/// Writes `features` of `layer` (in `crs`) in `format` to `out`, or to the file `path` for a
/// GeoPackage.
pub fn export(
    layer: &LayerDef,
    features: &[Feature],
    crs: Epsg,
    format: Format,
    municipality: &Municipality,
    path: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    if !layer.visible_to(Audience::Public) {
        return Err(ExportError::NotPublic(layer.id.to_string()));
    }
    if !layer.referenced {
        return Err(ExportError::Unreferenced(layer.id.to_string()));
    }
    match format {
        Format::Geojson => geojson(layer, features, crs, out),
        Format::Csv => standard_csv(layer, features, crs, municipality, out),
        Format::Gpkg => gpkg(layer, features, crs, path.ok_or(ExportError::NeedsFile)?),
        Format::Pmtiles => Err(ExportError::Tiles),
    }
}

fn geojson(layer: &LayerDef, features: &[Feature], crs: Epsg, out: &mut dyn Write) -> Result<(), ExportError> {
    let to_wgs84 = Transformer::new(crs, Epsg::WGS84)?;
    let mut collection = Vec::with_capacity(features.len());
    for f in features {
        let mut g = f.geometry.clone();
        to_wgs84.geometry(&mut g)?;
        collection.push(f.to_geojson(layer, Audience::Public, &g));
    }
    let fc = geojson::FeatureCollection { bbox: None, features: collection, foreign_members: None };
    serde_json::to_writer(&mut *out, &fc).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// The standard column name of an attribute: 名称 and 所在地_連結表記 for `name` and `address`,
/// its Japanese title otherwise.
fn column(name: &str, title_ja: &str) -> String {
    match name {
        "name" => "名称".into(),
        "address" => "所在地_連結表記".into(),
        _ => title_ja.into(),
    }
}

fn standard_csv(
    layer: &LayerDef,
    features: &[Feature],
    crs: Epsg,
    municipality: &Municipality,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    let to_jgd = Transformer::new(crs, Epsg(6668))?;
    let points = layer.geometry.family() == "point";
    let attributes: Vec<_> = layer.visible_attributes(Audience::Public).collect();
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    let mut header = vec!["全国地方公共団体コード".to_owned(), "ID".into(), "地方公共団体名".into()];
    header.extend(attributes.iter().map(|(_, a)| column(&a.name, &a.title.ja)));
    header.extend(["緯度".to_owned(), "経度".to_owned()]);
    if !points {
        header.push("形状(WKT)".into());
    }
    w.write_record(&header)?;
    let code = with_check_digit(&municipality.code);
    for f in features {
        let mut g = f.geometry.clone();
        to_jgd.geometry(&mut g)?;
        let at = g.interior_point().map(|p| (p.y(), p.x()));
        let mut record = vec![code.clone(), f.id.to_string(), municipality.name.clone()];
        record.extend(attributes.iter().map(|(i, _)| cell(&f.attributes[*i])));
        record.push(at.map_or_else(String::new, |(lat, _)| format!("{lat:.7}")));
        record.push(at.map_or_else(String::new, |(_, lon)| format!("{lon:.7}")));
        if !points {
            record.push(g.to_wkt().unwrap_or_default());
        }
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

fn cell(v: &AttrValue) -> String {
    match v {
        AttrValue::Null => String::new(),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Real(r) => r.to_string(),
        AttrValue::Text(s) => s.clone(),
    }
}

fn gpkg(layer: &LayerDef, features: &[Feature], crs: Epsg, path: &Path) -> Result<(), ExportError> {
    use gdal::vector::{FieldDefn, LayerAccess, LayerOptions, ToGdal};
    use gdal_sys::OGRFieldType as K;
    let driver = gdal::DriverManager::get_driver_by_name("GPKG")?;
    let mut ds = driver.create_vector_only(path)?;
    let mut srs = gdal::spatial_ref::SpatialRef::from_epsg(crs.0)?;
    srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    let attributes: Vec<_> = layer.visible_attributes(Audience::Public).collect();
    let mut txn = ds.start_transaction()?;
    let out = txn.create_layer(LayerOptions {
        name: layer.id.as_str(),
        srs: Some(&srs),
        ty: wkb_type(layer),
        options: None,
    })?;
    for (_, a) in &attributes {
        let kind = match a.kind {
            AttrType::Integer | AttrType::Boolean => K::OFTInteger64,
            AttrType::Real => K::OFTReal,
            _ => K::OFTString,
        };
        FieldDefn::new(&a.name, kind)?.add_to_layer(&out)?;
    }
    for f in features {
        let mut feature = gdal::vector::Feature::new(out.defn())?;
        feature.set_geometry(f.geometry.to_gdal()?)?;
        for (field, (i, _)) in attributes.iter().enumerate() {
            match &f.attributes[*i] {
                AttrValue::Null => {}
                AttrValue::Bool(b) => feature.set_field_integer64(field, i64::from(*b))?,
                AttrValue::Int(v) => feature.set_field_integer64(field, *v)?,
                AttrValue::Real(v) => feature.set_field_double(field, *v)?,
                AttrValue::Text(s) => feature.set_field_string(field, s)?,
            }
        }
        feature.create(&out)?;
    }
    txn.commit()?;
    Ok(())
}

fn wkb_type(layer: &LayerDef) -> gdal_sys::OGRwkbGeometryType::Type {
    use crate::catalog::GeometryKind as G;
    use gdal_sys::OGRwkbGeometryType as T;
    match layer.geometry {
        G::Point => T::wkbPoint,
        G::LineString => T::wkbLineString,
        G::Polygon => T::wkbPolygon,
        G::MultiPoint => T::wkbMultiPoint,
        G::MultiLineString => T::wkbMultiLineString,
        G::MultiPolygon => T::wkbMultiPolygon,
    }
}
