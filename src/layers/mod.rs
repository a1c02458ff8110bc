//! Layers made from files by admins: a Shapefile (zipped), GeoPackage, GeoJSON, CSV with
//! 緯度/経度 or FlatGeobuf becomes a new layer without a restart.
//!
//! The file is read by the import pipeline ([`crate::import::ogr`]: encodings, CRS, repair,
//! report). [`infer`] makes the schema from what it holds: the geometry type, and one
//! attribute per field with the field's type inferred from its values and its name kept as the
//! title (Japanese names too; the attribute ids are ASCII). Every attribute is staff-only until
//! an admin makes it public; so is the layer. The layer gets a colour from the palette, which
//! the maps draw it and its legend in.
//!
//! The definition lives in the store ([`crate::store::LayerStore`]) with the features, so every
//! process serving the store has it; the caller brings its engine in step
//! ([`crate::follow::sync_definition`]), and other processes on PostGIS follow the change feed.
//! Built-in layers keep their config: they cannot be replaced, edited or removed here.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::{
    AttrType, AttributeDef, Catalog, CatalogError, FileLayer, GeometryKind, LABEL_LAYER_SUFFIX, LabelDef, LayerDef,
    LayerId, MAX_ZOOM, RESERVED_COLUMNS, SOURCE_ATTRIBUTE, Title, Visibility,
};
use crate::import::mapping::{self, Mapping, Value};
use crate::import::ogr::{self, OgrOptions, Table};
use crate::import::{self, ImportError, ImportReport};
use crate::store::{Store, StoreError};

/// Colours of layers made from files, in turn: distinct from the built-in layers' and from
/// each other for colour-blind readers too (Paul Tol's "muted" scheme).
pub const PALETTE: &[&str] = &["#882255", "#117733", "#332288", "#999933", "#aa4499", "#44aa99", "#cc6677", "#ddcc77"];

/// From this zoom on, a layer made from a file is drawn (the whole city at once).
const MINZOOM: u8 = 8;

/// Fields whose values name a feature: the layer is labelled with the first one it has.
const NAME_FIELDS: &[&str] = &["名称", "施設名", "名前", "name", "NAME", "Name"];

/// Table names a layer made from a file may not take: the stores' own and their databases'.
const RESERVED_PREFIXES: &[&str] = &["gpkg_", "machizu_", "rtree_", "sqlite_", "pg_"];
const RESERVED_TABLES: &[&str] = &["spatial_ref_sys", "geometry_columns", "geography_columns"];

/// What went wrong making or changing a layer from a file. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{0}")]
    Bad(String),
    #[error("no layer {0:?} made from a file")]
    NotFound(String),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CatalogError> for LayerError {
    fn from(e: CatalogError) -> Self {
        LayerError::Bad(e.to_string())
    }
}

/// A new layer as the admin asks for it.
#[derive(Debug, Clone)]
pub struct NewLayer {
    pub id: String,
    pub title: Title,
    /// Public, or staff (the default).
    pub visibility: Visibility,
    /// Fields (as the file spells them) or attribute ids to make public; all others are staff.
    pub public_fields: Vec<String>,
    /// Whose data it is (出典), shown on the map.
    pub attribution: Option<String>,
}

/// What a file held and what became of it.
#[derive(Debug, Clone)]
pub struct Made {
    pub layer: LayerDef,
    pub report: ImportReport,
}

/// A change to a layer made from a file: any of its title, visibility, and its attributes'.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerChange {
    pub title: Option<Title>,
    pub visibility: Option<Visibility>,
    /// Whose data it is (出典); empty for none.
    pub attribution: Option<String>,
    /// Attribute id (or the field of the file it came from) → its change.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeChange>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeChange {
    pub title: Option<Title>,
    pub visibility: Option<Visibility>,
}

/// Makes a layer from `path` in one transaction: all of it, or nothing and the reason.
/// `catalog` is what the server serves now (ids taken).
pub async fn add(
    store: &dyn Store,
    catalog: &Catalog,
    path: &Path,
    new: NewLayer,
    options: OgrOptions,
) -> Result<Made, LayerError> {
    let started = std::time::Instant::now();
    let id = LayerId::new(&new.id)?;
    check_id(&id, catalog)?;
    if new.title.ja.trim().is_empty() {
        return Err(LayerError::Bad("the layer needs a Japanese title (--title-ja)".into()));
    }
    let made = store.layer_defs().await?.len();
    let (path, crs) = (path.to_owned(), store.crs());
    let (def, batch) = tokio::task::spawn_blocking(move || -> Result<_, LayerError> {
        let ogr_err = |error| ImportError::Ogr { path: path.clone(), error };
        let family = ogr::geometry_family(&path, options.source_layer.as_deref()).map_err(ogr_err)?;
        let tables = ogr::read(&path, family, &options, &mut |_| {}).map_err(ogr_err)?;
        let schema = infer(&tables, family);
        let def = schema.layer(id, new, PALETTE[made % PALETTE.len()])?;
        let batch = import::features_of(tables, &def, crs, &schema.mapping())?;
        Ok((def, batch))
    })
    .await
    .expect("reading a file does not panic")?;
    if batch.features.is_empty() {
        return Err(nothing_read(&batch.skipped));
    }
    let ids = store.create_layer(&def, &batch.features).await?;
    Ok(Made { layer: def, report: batch.report(ids.len(), 0, started.elapsed()) })
}

/// Replaces every feature of a layer made from a file with those of `path`, read the way the
/// first file was (the same fields fill the same attributes), in one transaction.
pub async fn replace(store: &dyn Store, id: &str, path: &Path, options: OgrOptions) -> Result<Made, LayerError> {
    let started = std::time::Instant::now();
    let def = stored(store, id).await?;
    let fields = def.file.as_ref().map(|f| f.fields.clone()).unwrap_or_default();
    let read = import::ReadOptions {
        ogr: options,
        mapping: Mapping { attributes: fields, ..Mapping::default() },
        ..Default::default()
    };
    let (paths, layer, crs) = (vec![path.to_owned()], def.clone(), store.crs());
    let batch = tokio::task::spawn_blocking(move || import::read(&paths, &layer, crs, &read, &()))
        .await
        .expect("reading a file does not panic")?;
    if batch.features.is_empty() {
        return Err(nothing_read(&batch.skipped));
    }
    let (ids, replaced) = store.replace_layer(&def, &batch.features).await?;
    Ok(Made { layer: def, report: batch.report(ids.len(), replaced, started.elapsed()) })
}

/// Changes titles and visibility of a layer made from a file; returns it as stored now.
pub async fn update(store: &dyn Store, id: &str, change: &LayerChange) -> Result<LayerDef, LayerError> {
    let mut def = stored(store, id).await?;
    if let Some(title) = &change.title {
        if title.ja.trim().is_empty() {
            return Err(LayerError::Bad("the layer needs a Japanese title".into()));
        }
        def.title = title.clone();
    }
    if let Some(v) = change.visibility {
        def.visibility = v;
    }
    if let (Some(a), Some(file)) = (&change.attribution, def.file.as_mut()) {
        file.attribution = Some(a.trim().to_owned()).filter(|a| !a.is_empty());
    }
    let fields = def.file.as_ref().map(|f| f.fields.clone()).unwrap_or_default();
    for (name, c) in &change.attributes {
        let a = def
            .attributes
            .iter_mut()
            .find(|a| &a.name == name || fields.get(&a.name) == Some(name))
            .ok_or_else(|| LayerError::Bad(format!("layer {id} has no attribute or field {name:?}")))?;
        if let Some(title) = &c.title {
            a.title = title.clone();
        }
        if let Some(v) = c.visibility {
            a.visibility = v;
        }
    }
    store.update_layer_def(&def).await?;
    Ok(def)
}

/// Removes a layer made from a file, with its features.
pub async fn remove(store: &dyn Store, id: &str) -> Result<(), LayerError> {
    if store.drop_layer(id).await? { Ok(()) } else { Err(LayerError::NotFound(id.to_owned())) }
}

async fn stored(store: &dyn Store, id: &str) -> Result<LayerDef, LayerError> {
    store.layer_def(id).await?.ok_or_else(|| LayerError::NotFound(id.to_owned()))
}

fn check_id(id: &LayerId, catalog: &Catalog) -> Result<(), LayerError> {
    let s = id.as_str();
    if catalog.get(s).is_some() {
        return Err(LayerError::Bad(format!("there is a layer {s} already; choose another id")));
    }
    if RESERVED_PREFIXES.iter().any(|p| s.starts_with(p))
        || RESERVED_TABLES.contains(&s)
        || s.ends_with(LABEL_LAYER_SUFFIX)
    {
        return Err(LayerError::Bad(format!("the id {s} is reserved; choose another")));
    }
    Ok(())
}

fn nothing_read(skipped: &[String]) -> LayerError {
    let why: Vec<&str> = skipped.iter().take(5).map(String::as_str).collect();
    LayerError::Bad(format!(
        "no feature in the file could be read: {}",
        if why.is_empty() { "it is empty".into() } else { why.join("; ") }
    ))
}

/// A layer's schema as inferred from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub geometry: GeometryKind,
    /// (field as the file spells it, attribute id, type).
    pub fields: Vec<(String, String, AttrType)>,
}

/// Infers the schema of the tables of a file whose geometries are of `family`: a multi-part
/// geometry type if any feature has several parts; per field, the narrowest type every value
/// fits (integer, real, boolean, date, date-time, else text). Text that reads as a number but
/// starts with a 0 (a code: `0003000`) stays text.
pub fn infer(tables: &[Table], family: &str) -> Schema {
    use geo_types::Geometry as G;
    let multi = tables.iter().flat_map(|t| &t.rows).any(|r| match &r.geometry {
        Ok(G::MultiPoint(m)) => m.0.len() > 1,
        Ok(G::MultiLineString(m)) => m.0.len() > 1,
        Ok(G::MultiPolygon(m)) => m.0.len() > 1,
        _ => false,
    });
    let geometry = match (family, multi) {
        ("point", false) => GeometryKind::Point,
        ("point", true) => GeometryKind::MultiPoint,
        ("line", false) => GeometryKind::LineString,
        ("line", true) => GeometryKind::MultiLineString,
        (_, false) => GeometryKind::Polygon,
        (_, true) => GeometryKind::MultiPolygon,
    };
    let mut names: Vec<&str> = Vec::new();
    for t in tables {
        for f in &t.fields {
            if !names.contains(&f.as_str()) {
                names.push(f);
            }
        }
    }
    let mut taken: HashSet<String> = [SOURCE_ATTRIBUTE].into_iter().map(str::to_owned).collect();
    let fields = names
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let mut kind = Kind::Nothing;
            for t in tables {
                if let Some(f) = t.fields.iter().position(|n| n == name) {
                    for r in &t.rows {
                        kind = kind.and(Kind::of(&r.values[f]));
                    }
                }
            }
            let id = attribute_id(name, i + 1, &taken);
            taken.insert(id.clone());
            (name.to_owned(), id, kind.attr_type())
        })
        .collect();
    Schema { geometry, fields }
}

impl Schema {
    /// The layer definition for `new`, drawn in `colour`.
    fn layer(&self, id: LayerId, new: NewLayer, colour: &str) -> Result<LayerDef, LayerError> {
        let public = |field: &str, attr: &str| new.public_fields.iter().any(|p| p == field || p == attr);
        for p in &new.public_fields {
            if !self.fields.iter().any(|(f, a, _)| p == f || p == a) {
                let all: Vec<&str> = self.fields.iter().map(|(f, _, _)| f.as_str()).collect();
                return Err(LayerError::Bad(format!(
                    "the file has no field {p:?} to make public; it has: {}",
                    all.join(", ")
                )));
            }
        }
        let attributes = self
            .fields
            .iter()
            .map(|(field, attr, kind)| AttributeDef {
                name: attr.clone(),
                kind: *kind,
                title: Title::new(field, field),
                visibility: if public(field, attr) { Visibility::Public } else { Visibility::Staff },
                required: false,
                values: Vec::new(),
            })
            .collect();
        let label = NAME_FIELDS
            .iter()
            .find_map(|n| self.fields.iter().find(|(f, _, k)| f == n && *k == AttrType::Text))
            .map(|(_, attr, _)| LabelDef {
                text: attr.clone(),
                text_en: None,
                minzoom: 14,
                print_minzoom: None,
                staff_map_only: false,
            });
        let def = LayerDef {
            id,
            title: new.title,
            geometry: self.geometry,
            attributes,
            minzoom: MINZOOM,
            maxzoom: MAX_ZOOM,
            visibility: new.visibility,
            live: false,
            referenced: true,
            label,
            file: Some(FileLayer {
                colour: colour.to_owned(),
                fields: self.fields.iter().map(|(f, a, _)| (a.clone(), f.clone())).collect(),
                attribution: new.attribution.filter(|a| !a.trim().is_empty()),
            }),
        }
        .with_source_attribute();
        def.validate()?;
        Ok(def)
    }

    /// Every attribute filled by its field.
    fn mapping(&self) -> Mapping {
        Mapping {
            attributes: self.fields.iter().map(|(f, a, _)| (a.clone(), f.clone())).collect(),
            ..Mapping::default()
        }
    }
}

/// An ASCII attribute id for the `position`th field (from 1) of a file, not in `taken`: the
/// field's own name where it is ASCII (lowercased, other characters as `_`), the attribute the
/// import's built-in mapping gives a Japanese field (`名称` → `name`, `住所` → `address`), else
/// `field_<position>`.
///
/// ```
/// use machizu::layers::attribute_id;
/// let taken = ["source".to_owned()].into_iter().collect();
/// assert_eq!(attribute_id("ID", 2, &taken), "id");
/// assert_eq!(attribute_id("所在地_連結表記", 7, &taken), "address");
/// assert_eq!(attribute_id("口径", 15, &taken), "diameter_mm");
/// assert_eq!(attribute_id("地方公共団体名", 3, &taken), "field_3");
/// assert_eq!(attribute_id("FID", 1, &taken), "fid_1");
/// assert_eq!(attribute_id("Source", 4, &taken), "source_4");
/// assert_eq!(attribute_id("2nd name", 5, &taken), "f_2nd_name");
/// ```
pub fn attribute_id(field: &str, position: usize, taken: &HashSet<String>) -> String {
    let ascii = field.is_ascii() && field.chars().any(|c| c.is_ascii_alphanumeric());
    let mut id = if ascii {
        let s: String =
            field.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        if s.starts_with(|c: char| c.is_ascii_lowercase()) { s } else { format!("f_{s}") }
    } else {
        mapping::BUILTIN
            .iter()
            .find(|(f, _)| *f == field)
            .map_or_else(|| format!("field_{position}"), |(_, attr)| (*attr).to_owned())
    };
    id.truncate(50);
    if taken.contains(&id) || RESERVED_COLUMNS.contains(&id.as_str()) || LayerId::new(&id).is_err() {
        id = format!("{id}_{position}");
    }
    if taken.contains(&id) || LayerId::new(&id).is_err() { format!("field_{position}") } else { id }
}

/// What a field's values have been so far, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nothing,
    Int,
    Real,
    Bool,
    Date,
    DateTime,
    Text,
}

impl Kind {
    fn of(v: &Value) -> Kind {
        match v {
            Value::Null => Kind::Nothing,
            Value::Int(_) => Kind::Int,
            Value::Real(_) => Kind::Real,
            Value::Bool(_) => Kind::Bool,
            Value::Date(_) => Kind::Date,
            Value::DateTime(_) => Kind::DateTime,
            Value::Text(s) => {
                let s = s.trim();
                let digits = s.strip_prefix('-').unwrap_or(s);
                let code = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
                if s.is_empty() {
                    Kind::Nothing
                } else if code {
                    Kind::Text
                } else if digits.bytes().all(|b| b.is_ascii_digit()) {
                    // Past 15 digits a number is an identifier: doubles would round it.
                    if digits.len() <= 15 { Kind::Int } else { Kind::Text }
                } else if s.parse::<f64>().is_ok_and(f64::is_finite)
                    && s.bytes().all(|b| b"0123456789.-+eE".contains(&b))
                {
                    Kind::Real
                } else if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
                    Kind::Date
                } else if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
                    Kind::DateTime
                } else {
                    Kind::Text
                }
            }
        }
    }

    /// The narrowest kind both fit.
    fn and(self, other: Kind) -> Kind {
        match (self, other) {
            (a, b) if a == b => a,
            (Kind::Nothing, k) | (k, Kind::Nothing) => k,
            (Kind::Int, Kind::Real) | (Kind::Real, Kind::Int) => Kind::Real,
            _ => Kind::Text,
        }
    }

    fn attr_type(self) -> AttrType {
        match self {
            Kind::Int => AttrType::Integer,
            Kind::Real => AttrType::Real,
            Kind::Bool => AttrType::Boolean,
            Kind::Date => AttrType::Date,
            Kind::DateTime => AttrType::DateTime,
            Kind::Nothing | Kind::Text => AttrType::Text,
        }
    }
}

/// A file an admin sent, kept under its own name in a temporary folder while it is read (the
/// readers go by the extension, and the name becomes the features' `source`).
pub struct Upload {
    dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Upload {
    /// Writes `bytes` as `name` (its folders and odd characters dropped).
    pub fn write(name: &str, bytes: &[u8]) -> std::io::Result<Self> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or("");
        let clean: String = base.chars().filter(|c| !c.is_control() && *c != ':').collect();
        let clean = if clean.trim_matches('.').is_empty() { "upload".to_owned() } else { clean };
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(clean);
        std::fs::write(&path, bytes)?;
        Ok(Self { dir, path })
    }

    /// A message about the upload naming the file as the admin sent it, not where it is kept.
    pub fn tidy(&self, message: &str) -> String {
        message.replace(&format!("{}/", self.dir.path().display()), "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(values: &[&str]) -> AttrType {
        values.iter().fold(Kind::Nothing, |k, v| k.and(Kind::of(&Value::Text((*v).to_owned())))).attr_type()
    }

    #[test]
    fn field_types_are_the_narrowest_every_value_fits() {
        assert_eq!(kind(&["222127", "", "1"]), AttrType::Integer);
        assert_eq!(kind(&["34.843137", "35", "-1e3"]), AttrType::Real);
        assert_eq!(kind(&["0003000", "0005000"]), AttrType::Text);
        assert_eq!(kind(&["0.5", "12"]), AttrType::Real);
        assert_eq!(kind(&["2001-09-11", ""]), AttrType::Date);
        assert_eq!(kind(&["150", "不明"]), AttrType::Text);
        assert_eq!(kind(&["", " "]), AttrType::Text);
        assert_eq!(kind(&["1234567890123456"]), AttrType::Text);
        assert_eq!(Kind::of(&Value::Int(3)).and(Kind::of(&Value::Real(2.5))).attr_type(), AttrType::Real);
        assert_eq!(Kind::of(&Value::Bool(true)).and(Kind::of(&Value::Int(1))).attr_type(), AttrType::Text);
    }

    #[test]
    fn ids_of_layers_and_tables_of_the_stores_are_refused() {
        let catalog = Catalog::builtin();
        let bad = |id: &str| check_id(&LayerId::new(id).unwrap(), &catalog).is_err();
        assert!(bad("roads"));
        assert!(bad("gpkg_contents"));
        assert!(bad("machizu_users"));
        assert!(bad("spatial_ref_sys"));
        assert!(bad("aed_label"));
        assert!(!bad("aed"));
    }

    #[test]
    fn uploads_keep_their_name_and_nothing_of_a_path() {
        let u = Upload::write("../../etc/消防水利.csv", b"x").unwrap();
        assert_eq!(u.path.file_name().unwrap(), "消防水利.csv");
        assert_eq!(std::fs::read(&u.path).unwrap(), b"x");
        assert_eq!(Upload::write("..", b"").unwrap().path.file_name().unwrap(), "upload");
    }
}
