//! The layer catalog: which layers exist, their geometry, attribute schema, zoom range, titles
//! and who may see them.
//!
//! The built-in catalog ([`Catalog::builtin`]) describes the layers every Japanese municipality
//! starts with. The config file can override any field of a built-in layer or attribute and add
//! layers ([`crate::config`]). Visibility is decided here and enforced by the engine and the
//! HTTP layer: a [`Audience::Public`] caller never sees a staff-only layer or attribute.

use serde::{Deserialize, Serialize};

use crate::feature::AttrValue;

/// The attribute that records where an imported feature came from: a re-import of the same
/// source replaces exactly those features.
pub const SOURCE_ATTRIBUTE: &str = "source";

/// The attribute in which the server keeps when a road was last plowed (src/live/plowed.rs).
pub const PLOWED_AT_ATTRIBUTE: &str = "last_plowed_at";

/// The deepest zoom level served.
pub const MAX_ZOOM: u8 = 18;

/// A layer's id: lowercase ASCII letters, digits and `_`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct LayerId(String);

impl TryFrom<String> for LayerId {
    type Error = CatalogError;
    fn try_from(id: String) -> Result<Self, CatalogError> {
        Self::new(&id)
    }
}

impl LayerId {
    /// Validates an id.
    ///
    /// ```
    /// use machizu::catalog::LayerId;
    /// assert!(LayerId::new("water_mains").is_ok());
    /// assert!(LayerId::new("Roads").is_err());
    /// assert!(LayerId::new("roads; drop table").is_err());
    /// ```
    pub fn new(id: &str) -> Result<Self, CatalogError> {
        let ok = id.len() <= 63
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok { Ok(Self(id.to_owned())) } else { Err(CatalogError::BadLayerId(id.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LayerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Errors in catalog definitions and lookups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid layer id {0:?}: use lowercase letters, digits and '_', starting with a letter")]
    BadLayerId(String),
    #[error("unknown layer {0:?}")]
    UnknownLayer(String),
    #[error("layer {0:?} is listed twice")]
    DuplicateLayer(String),
    #[error("no layer given")]
    NoLayers,
    #[error("layer {layer:?}: {message}")]
    Invalid { layer: String, message: String },
}

/// Who is asking. Staff see everything; the public sees public layers and attributes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Public,
    Staff,
}

/// Who may see a layer or an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Staff,
}

impl Visibility {
    pub fn visible_to(self, audience: Audience) -> bool {
        matches!((self, audience), (Visibility::Public, _) | (_, Audience::Staff))
    }
}

/// A layer's geometry type, as declared to GeoPackage/PostGIS and MVT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeometryKind {
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
}

impl GeometryKind {
    /// The OGC simple-features type name (`gpkg_geometry_columns.geometry_type_name`).
    pub fn ogc_name(self) -> &'static str {
        match self {
            Self::Point => "POINT",
            Self::LineString => "LINESTRING",
            Self::Polygon => "POLYGON",
            Self::MultiPoint => "MULTIPOINT",
            Self::MultiLineString => "MULTILINESTRING",
            Self::MultiPolygon => "MULTIPOLYGON",
        }
    }

    /// Checks that `g` fits this kind, turning a single geometry into a one-part multi
    /// geometry (or a one-part multi geometry into a single one) where needed.
    ///
    /// ```
    /// use machizu::catalog::GeometryKind;
    /// use geo_types::{Geometry, Point};
    /// let p = Geometry::Point(Point::new(1.0, 2.0));
    /// assert!(matches!(GeometryKind::MultiPoint.conform(&p), Ok(Geometry::MultiPoint(_))));
    /// assert!(GeometryKind::Polygon.conform(&p).is_err());
    /// ```
    pub fn conform(self, g: &geo_types::Geometry<f64>) -> Result<geo_types::Geometry<f64>, String> {
        use geo_types::Geometry as G;
        use geo_types::{MultiLineString, MultiPoint, MultiPolygon};
        let out = match (self, g) {
            (Self::Point, G::Point(_))
            | (Self::LineString, G::LineString(_))
            | (Self::Polygon, G::Polygon(_))
            | (Self::MultiPoint, G::MultiPoint(_))
            | (Self::MultiLineString, G::MultiLineString(_))
            | (Self::MultiPolygon, G::MultiPolygon(_)) => g.clone(),
            (Self::Point, G::MultiPoint(m)) if m.0.len() == 1 => G::Point(m.0[0]),
            (Self::LineString, G::MultiLineString(m)) if m.0.len() == 1 => G::LineString(m.0[0].clone()),
            (Self::Polygon, G::MultiPolygon(m)) if m.0.len() == 1 => G::Polygon(m.0[0].clone()),
            (Self::MultiPoint, G::Point(p)) => G::MultiPoint(MultiPoint(vec![*p])),
            (Self::MultiLineString, G::LineString(l)) => G::MultiLineString(MultiLineString(vec![l.clone()])),
            (Self::MultiPolygon, G::Polygon(p)) => G::MultiPolygon(MultiPolygon(vec![p.clone()])),
            _ => {
                return Err(format!("a {} layer cannot hold this geometry", self.ogc_name()));
            }
        };
        Ok(out)
    }

    /// The type name used in TileJSON `vector_layers` and the layer list.
    pub fn family(self) -> &'static str {
        match self {
            Self::Point | Self::MultiPoint => "point",
            Self::LineString | Self::MultiLineString => "line",
            Self::Polygon | Self::MultiPolygon => "polygon",
        }
    }
}

/// An attribute's value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttrType {
    Text,
    Integer,
    Real,
    Boolean,
    /// An ISO-8601 date (`YYYY-MM-DD`), stored as text.
    Date,
    /// An ISO-8601 date and time with offset, stored as text.
    DateTime,
}

impl AttrType {
    /// The SQLite/GeoPackage column type.
    pub fn gpkg_type(self) -> &'static str {
        match self {
            Self::Text => "TEXT",
            Self::Integer => "INTEGER",
            Self::Real => "REAL",
            Self::Boolean => "BOOLEAN",
            Self::Date => "DATE",
            Self::DateTime => "DATETIME",
        }
    }

    /// The PostgreSQL column type.
    pub fn pg_type(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "bigint",
            Self::Real => "double precision",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::DateTime => "timestamptz",
        }
    }

    /// The TileJSON `fields` description.
    pub fn tilejson_type(self) -> &'static str {
        match self {
            Self::Integer | Self::Real => "Number",
            Self::Boolean => "Boolean",
            _ => "String",
        }
    }
}

/// A title in Japanese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Title {
    pub ja: String,
    pub en: String,
}

impl Title {
    pub fn new(ja: &str, en: &str) -> Self {
        Self { ja: ja.to_owned(), en: en.to_owned() }
    }
}

/// Column names the stores use themselves; no attribute may take them.
pub const RESERVED_COLUMNS: &[&str] = &["fid", "geom", "version", "created_at", "updated_at"];

/// One attribute of a layer's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    pub title: Title,
    pub visibility: Visibility,
    /// A feature written through the API must have a value (imports are not held to it).
    #[serde(default)]
    pub required: bool,
    /// The only values a feature written through the API may have (a code list, e.g. a
    /// hazardous building's 判定); empty for any. Forms offer them as choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The text a layer's features are labelled with on the map.
///
/// Point layers are labelled at the point and line layers along the line, by the client from the
/// tile's attributes. Polygon layers get one label point per feature in their tiles (an MVT
/// layer `<id>_label` holding the label attributes only), placed at the polygon's pole of
/// inaccessibility and written only in the tile that holds it, so a polygon cut by tile edges
/// is still labelled once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelDef {
    /// The attribute shown (in Japanese, or the only one).
    pub text: String,
    /// The attribute shown in English, where the layer has one; otherwise English shows `text`,
    /// with code-list values translated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_en: Option<String>,
    /// From this zoom on.
    pub minzoom: u8,
    /// From this zoom on in printed maps, where text is finer than on a screen (地番 at
    /// 1:2,500); default `minzoom`. Tiles carry polygon label points from the lower of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_minzoom: Option<u8>,
    /// Shown in the staff map only (the public map draws the features unlabelled).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub staff_map_only: bool,
}

/// The suffix of the MVT layer holding a polygon layer's label points.
pub const LABEL_LAYER_SUFFIX: &str = "_label";

/// What a layer made from a file ([`crate::layers`]) has beyond its schema: such a layer's
/// definition lives in the store, not in the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLayer {
    /// The colour it is drawn in (`#rrggbb`), from the palette when it was made.
    pub colour: String,
    /// Attribute → the field of the file that fills it (as the file spells it), so that a
    /// replacing file is read the same way whatever the titles have become.
    pub fields: std::collections::BTreeMap<String, String>,
    /// Whose data it is, shown on the map (「出典：焼津市オープンデータカタログ」).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
}

/// One layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerDef {
    pub id: LayerId,
    pub title: Title,
    pub geometry: GeometryKind,
    pub attributes: Vec<AttributeDef>,
    pub minzoom: u8,
    pub maxzoom: u8,
    pub visibility: Visibility,
    /// Fed by live positions rather than by imports (the snowplow layer).
    pub live: bool,
    /// Its geometry is in the store's CRS (true), or in local coordinates that place nothing on
    /// the earth (false: MOJ maps in 任意座標系, kept with `--allow-arbitrary`). An unreferenced
    /// layer is stored (with the undefined Cartesian SRS) but never tiled.
    pub referenced: bool,
    /// What its features are labelled with, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelDef>,
    /// Set for a layer made from a file, whose definition the store keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileLayer>,
}

impl LayerDef {
    pub fn visible_to(&self, audience: Audience) -> bool {
        self.visibility.visible_to(audience)
    }

    /// Whether the server itself changes the layer's features while it runs: a live layer, or
    /// roads whose plowed times it derives from the snowplows. A copy of such a layer (a
    /// PMTiles archive) is stale within minutes in a storm.
    pub fn changes_while_serving(&self) -> bool {
        self.live || self.attribute_index(PLOWED_AT_ATTRIBUTE).is_some()
    }

    /// The layer with the staff-only `source` attribute that imports fill (see
    /// [`SOURCE_ATTRIBUTE`]), unless it has one or is fed live.
    pub fn with_source_attribute(mut self) -> Self {
        if !self.live && self.attribute_index(SOURCE_ATTRIBUTE).is_none() {
            self.attributes.push(AttributeDef {
                name: SOURCE_ATTRIBUTE.to_owned(),
                kind: AttrType::Text,
                title: Title::new("出典", "Source"),
                visibility: Visibility::Staff,
                required: false,
                values: Vec::new(),
            });
        }
        self
    }

    /// The label, unless it shows an attribute `audience` may not see.
    pub fn label_for(&self, audience: Audience) -> Option<&LabelDef> {
        let visible = |name: &str| self.attributes.iter().any(|a| a.name == name && a.visibility.visible_to(audience));
        self.label.as_ref().filter(|l| visible(&l.text) && l.text_en.as_deref().is_none_or(visible))
    }

    /// The label, when this layer's tiles carry label points at `z` (polygon layers).
    pub fn label_points_at(&self, z: u8) -> Option<&LabelDef> {
        self.label.as_ref().filter(|l| {
            self.geometry.family() == "polygon"
                && z >= l.minzoom.min(l.print_minzoom.unwrap_or(l.minzoom))
                && self.referenced
        })
    }

    /// The name of the MVT layer holding its label points.
    pub fn label_layer_name(&self) -> String {
        format!("{}{LABEL_LAYER_SUFFIX}", self.id)
    }

    /// The position of an attribute in the schema.
    pub fn attribute_index(&self, name: &str) -> Option<usize> {
        self.attributes.iter().position(|a| a.name == name)
    }

    /// Attribute values in schema order from (name, value) pairs; attributes not named are
    /// null, names not in the schema are ignored.
    pub fn values_by_name<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, AttrValue)>) -> Vec<AttrValue> {
        let mut values = vec![AttrValue::Null; self.attributes.len()];
        for (name, v) in pairs {
            if let Some(i) = self.attribute_index(name) {
                values[i] = v;
            }
        }
        values
    }

    /// The attributes `audience` may see, with their schema positions.
    pub fn visible_attributes(&self, audience: Audience) -> impl Iterator<Item = (usize, &AttributeDef)> {
        self.attributes.iter().enumerate().filter(move |(_, a)| a.visibility.visible_to(audience))
    }

    pub fn validate(&self) -> Result<(), CatalogError> {
        let invalid = |message: String| CatalogError::Invalid { layer: self.id.to_string(), message };
        if self.minzoom > self.maxzoom || self.maxzoom > MAX_ZOOM {
            return Err(invalid(format!(
                "zoom range {}..{} must be ascending and at most {}",
                self.minzoom, self.maxzoom, MAX_ZOOM
            )));
        }
        let mut names = std::collections::HashSet::new();
        for a in &self.attributes {
            if RESERVED_COLUMNS.contains(&a.name.as_str()) {
                return Err(invalid(format!("attribute name {:?} is reserved", a.name)));
            }
            LayerId::new(&a.name).map_err(|_| invalid(format!("invalid attribute name {:?}", a.name)))?;
            if !names.insert(a.name.as_str()) {
                return Err(invalid(format!("attribute {:?} is defined twice", a.name)));
            }
        }
        if let Some(label) = &self.label {
            for text in std::iter::once(&label.text).chain(&label.text_en) {
                if !names.contains(text.as_str()) {
                    return Err(invalid(format!("the label shows {text:?}, which is not an attribute")));
                }
            }
            if label.minzoom.max(label.print_minzoom.unwrap_or(0)) > MAX_ZOOM {
                return Err(invalid(format!("a label minzoom is past {MAX_ZOOM}")));
            }
        }
        Ok(())
    }
}

/// The set of layers a server serves, in drawing order (bottom first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalog {
    layers: Vec<LayerDef>,
}

impl Catalog {
    /// Builds a catalog, checking ids, zoom ranges and attribute names.
    pub fn new(layers: Vec<LayerDef>) -> Result<Self, CatalogError> {
        let mut seen = std::collections::HashSet::new();
        for l in &layers {
            l.validate()?;
            if !seen.insert(l.id.clone()) {
                return Err(CatalogError::DuplicateLayer(l.id.to_string()));
            }
        }
        Ok(Self { layers })
    }

    pub fn layers(&self) -> &[LayerDef] {
        &self.layers
    }

    pub fn get(&self, id: &str) -> Option<&LayerDef> {
        self.layers.iter().find(|l| l.id.as_str() == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut LayerDef> {
        self.layers.iter_mut().find(|l| l.id.as_str() == id)
    }

    pub fn push(&mut self, layer: LayerDef) -> Result<(), CatalogError> {
        let layer = layer.with_source_attribute();
        layer.validate()?;
        if self.get(layer.id.as_str()).is_some() {
            return Err(CatalogError::DuplicateLayer(layer.id.to_string()));
        }
        self.layers.push(layer);
        Ok(())
    }

    /// The catalog with `layer` in place of the layer with its id, or added at the end.
    pub fn with(&self, layer: LayerDef) -> Catalog {
        let mut layers = self.layers.clone();
        match layers.iter_mut().find(|l| l.id == layer.id) {
            Some(l) => *l = layer,
            None => layers.push(layer),
        }
        Catalog { layers }
    }

    /// The catalog without the layer `id`.
    pub fn without(&self, id: &str) -> Catalog {
        Catalog { layers: self.layers.iter().filter(|l| l.id.as_str() != id).cloned().collect() }
    }

    /// The layers that can be tiled: all but the unreferenced ones.
    pub fn tiled(&self) -> Catalog {
        Catalog { layers: self.layers.iter().filter(|l| l.referenced).cloned().collect() }
    }

    /// Resolves a comma-separated layer list (`roads,parcels`) for `audience`. A layer the
    /// audience may not see is reported as unknown, so its existence does not leak.
    ///
    /// ```
    /// use machizu::catalog::{Audience, Catalog, CatalogError};
    /// let c = Catalog::builtin();
    /// let ls = c.resolve("roads,parcels", Audience::Public).unwrap();
    /// assert_eq!(ls.len(), 2);
    /// assert!(matches!(c.resolve("roads,nope", Audience::Public), Err(CatalogError::UnknownLayer(_))));
    /// assert!(matches!(c.resolve("roads,roads", Audience::Public), Err(CatalogError::DuplicateLayer(_))));
    /// ```
    pub fn resolve(&self, list: &str, audience: Audience) -> Result<Vec<&LayerDef>, CatalogError> {
        let mut out: Vec<&LayerDef> = Vec::new();
        for id in list.split(',') {
            if id.is_empty() {
                continue;
            }
            let layer = self
                .get(id)
                .filter(|l| l.visible_to(audience))
                .ok_or_else(|| CatalogError::UnknownLayer(id.to_owned()))?;
            if out.iter().any(|l| l.id == layer.id) {
                return Err(CatalogError::DuplicateLayer(id.to_owned()));
            }
            out.push(layer);
        }
        if out.is_empty() {
            return Err(CatalogError::NoLayers);
        }
        Ok(out)
    }

    /// The built-in layers of a Japanese municipality.
    pub fn builtin() -> Self {
        use AttrType::*;
        use Visibility::{Public as P, Staff as S};
        let a = |name: &str, kind, ja: &str, en: &str, visibility| AttributeDef {
            name: name.to_owned(),
            kind,
            title: Title::new(ja, en),
            visibility,
            required: false,
            values: Vec::new(),
        };
        let layer = |id: &str, ja: &str, en: &str, geometry, zooms: (u8, u8), attributes| {
            LayerDef {
                id: LayerId(id.to_owned()),
                title: Title::new(ja, en),
                geometry,
                attributes,
                minzoom: zooms.0,
                maxzoom: zooms.1,
                visibility: Visibility::Public,
                live: false,
                referenced: true,
                label: None,
                file: None,
            }
            .with_source_attribute()
        };
        let pipe = |kind_ja: &str, kind_en: &str| {
            vec![
                a("pipe_kind", Text, kind_ja, kind_en, P),
                a("diameter_mm", Integer, "口径(mm)", "Diameter (mm)", P),
                a("material", Text, "管種", "Material", P),
                a("install_year", Integer, "布設年度", "Year laid", P),
                a("internal_note", Text, "内部メモ", "Internal note", S),
            ]
        };
        let mut snowplows = layer(
            "snowplows",
            "除雪車",
            "Snowplows",
            GeometryKind::Point,
            (8, 18),
            vec![
                a("label", Text, "表示名", "Label", P),
                a("vehicle_kind", Text, "車種", "Vehicle kind", P),
                a("heading_deg", Real, "進行方位(度)", "Heading (deg)", P),
                a("speed_kmh", Real, "速度(km/h)", "Speed (km/h)", P),
                a("blade_down", Boolean, "排雪板使用中", "Blade down", P),
                a("spreader_on", Boolean, "散布中", "Spreading", P),
                a("reported_at", DateTime, "測位時刻", "Position time", P),
                a("age_min", Integer, "経過時間(分)", "Age (min)", P),
                a("vehicle_id", Text, "車両ID", "Vehicle id", S),
                a("operator", Text, "運転事業者", "Operator", S),
            ],
        );
        snowplows.live = true;
        snowplows.attributes.retain(|a| a.name != SOURCE_ATTRIBUTE);
        // Every vehicle, public or not, for staff (the public layer holds public vehicles only).
        let fleet = LayerDef {
            id: LayerId("snowplows_fleet".to_owned()),
            title: Title::new("除雪車（全車両）", "Snowplows (whole fleet)"),
            visibility: Visibility::Staff,
            ..snowplows.clone()
        };
        // Where each vehicle went in the last hours, in ten-minute pieces (staff).
        let mut trails = layer(
            "snowplow_trails",
            "除雪車の軌跡",
            "Snowplow trails",
            GeometryKind::LineString,
            (10, 18),
            vec![
                a("label", Text, "表示名", "Label", P),
                a("vehicle_kind", Text, "車種", "Vehicle kind", P),
                a("started_at", DateTime, "開始時刻", "From", P),
                a("ended_at", DateTime, "終了時刻", "To", P),
                a("age_min", Integer, "経過時間(分)", "Age (min)", P),
                a("plowing", Boolean, "除雪中", "Plowing", P),
                a("vehicle_id", Text, "車両ID", "Vehicle id", S),
            ],
        );
        trails.live = true;
        trails.visibility = Visibility::Staff;
        trails.attributes.retain(|a| a.name != SOURCE_ATTRIBUTE);
        // SensorThings stations (src/sensors/map.rs): one point per datastream with its latest
        // reading and state, and one per camera. The public layers hold public stations only;
        // the `_all` layers (staff) every one.
        let mut sensors = layer(
            "sensors",
            "観測所（水位・積雪）",
            "Gauges (water level, snow)",
            GeometryKind::Point,
            (8, 18),
            vec![
                a("station", Text, "観測所", "Station", P),
                a("observed", Text, "観測項目", "Observed", P),
                a("value", Real, "最新値", "Latest value", P),
                a("unit", Text, "単位", "Unit", P),
                a("value_text", Text, "表示値", "Reading", P),
                a("state_class", Text, "状態区分", "State class", P),
                a("state_name", Text, "状態", "State", P),
                a("state_name_en", Text, "状態（英語）", "State (English)", P),
                a("observed_at", DateTime, "観測時刻", "Observed at", P),
                a("age_min", Integer, "経過時間(分)", "Age (min)", P),
                a("datastream_id", Integer, "データストリームID", "Datastream id", P),
                a("synthetic", Boolean, "架空データ", "Synthetic", P),
                a("staff_only", Boolean, "職員限定", "Staff only", S),
            ],
        );
        sensors.live = true;
        sensors.attributes.retain(|a| a.name != SOURCE_ATTRIBUTE);
        let sensors_all = LayerDef {
            id: LayerId("sensors_all".to_owned()),
            title: Title::new("観測所（全観測所）", "Gauges (all stations)"),
            visibility: Visibility::Staff,
            ..sensors.clone()
        };
        let mut cameras = layer(
            "cameras",
            "監視カメラ",
            "Cameras",
            GeometryKind::Point,
            (8, 18),
            vec![
                a("name", Text, "名称", "Name", P),
                a("camera_id", Integer, "カメラID", "Camera id", P),
                a("latest_at", DateTime, "最新画像の時刻", "Latest image at", P),
                a("age_min", Integer, "経過時間(分)", "Age (min)", P),
                a("synthetic", Boolean, "架空データ", "Synthetic", P),
                a("staff_only", Boolean, "職員限定", "Staff only", S),
            ],
        );
        cameras.live = true;
        cameras.attributes.retain(|a| a.name != SOURCE_ATTRIBUTE);
        let cameras_all = LayerDef {
            id: LayerId("cameras_all".to_owned()),
            title: Title::new("監視カメラ（全カメラ）", "Cameras (all)"),
            visibility: Visibility::Staff,
            ..cameras.clone()
        };
        let mut catalog = Self {
            layers: vec![
                layer(
                    "boundary",
                    "市域",
                    "City boundary",
                    GeometryKind::MultiPolygon,
                    (0, 18),
                    vec![
                        a("name", Text, "名称", "Name", P),
                        a("city_code", Text, "団体コード", "Municipality code", P),
                    ],
                ),
                layer(
                    "parcels",
                    "筆（地籍）",
                    "Cadastral parcels",
                    GeometryKind::Polygon,
                    (14, 18),
                    vec![
                        a("chiban", Text, "地番", "Parcel number", P),
                        a("oaza", Text, "大字", "Oaza", P),
                        a("aza", Text, "字", "Aza", P),
                        a("chimoku", Text, "地目", "Land category", P),
                        a("area_m2", Real, "地積(㎡)", "Area (m²)", P),
                        a("oaza_code", Text, "大字コード", "Oaza code", P),
                        a("chome", Text, "丁目", "Chome", P),
                        a("chome_code", Text, "丁目コード", "Chome code", P),
                        a("aza_code", Text, "小字コード", "Aza code", P),
                        a("chiban_prefix", Text, "地番区分", "Parcel number prefix (道, 水 …)", P),
                        a("accuracy", Text, "精度区分", "Accuracy class", P),
                        a("coordinate_kind", Text, "座標値種別", "Coordinate kind", P),
                        a("owner_name", Text, "所有者氏名", "Owner name", S),
                        a("owner_address", Text, "所有者住所", "Owner address", S),
                    ],
                ),
                layer(
                    "water_mains",
                    "上水道",
                    "Water mains",
                    GeometryKind::LineString,
                    (12, 18),
                    pipe("管路種別", "Pipe kind"),
                ),
                layer(
                    "sewer_lines",
                    "下水道",
                    "Sewer lines",
                    GeometryKind::LineString,
                    (12, 18),
                    pipe("排水区分", "Sewer kind"),
                ),
                layer(
                    "snowmelt_pipes",
                    "消雪管路",
                    "Snow-melting pipes",
                    GeometryKind::LineString,
                    (12, 18),
                    pipe("管路種別", "Pipe kind"),
                ),
                layer(
                    "buildings",
                    "建物",
                    "Buildings",
                    GeometryKind::Polygon,
                    (13, 18),
                    vec![
                        a("building_id", Text, "建物ID", "Building id", P),
                        a("usage", Text, "用途", "Usage", P),
                        a("height_m", Real, "計測高さ(m)", "Measured height (m)", P),
                        a("storeys", Integer, "地上階数", "Storeys above ground", P),
                        a("year_built", Integer, "建築年", "Year built", P),
                    ],
                ),
                layer(
                    "roads",
                    "道路",
                    "Roads",
                    GeometryKind::LineString,
                    (8, 18),
                    vec![
                        a("name", Text, "路線名", "Road name", P),
                        a("road_class", Text, "道路種別", "Road class", P),
                        a("route_no", Text, "路線番号", "Route number", P),
                        a("width_m", Real, "幅員(m)", "Width (m)", P),
                        a("snow_priority", Integer, "除雪優先順位", "Snow-removal priority", P),
                        a("oneway", Text, "一方通行", "One-way (yes, -1)", P),
                        a(PLOWED_AT_ATTRIBUTE, DateTime, "最終除雪時刻", "Last plowed at", P),
                        a("plowed_class", Text, "除雪経過区分", "Plowed (time class)", P),
                        a("plowed_coverage", Real, "除雪済み割合", "Share plowed", S),
                        a("internal_note", Text, "内部メモ", "Internal note", S),
                    ],
                ),
                layer(
                    "hazardous_buildings",
                    "危険家屋",
                    "Hazardous buildings",
                    GeometryKind::Point,
                    (10, 18),
                    vec![
                        a("status", Text, "判定", "Status", P),
                        a("structure", Text, "構造", "Structure", P),
                        a("survey_date", Date, "調査日", "Survey date", P),
                        a("address", Text, "所在地", "Address", P),
                        a("owner_name", Text, "所有者氏名", "Owner name", S),
                        a("owner_contact", Text, "所有者連絡先", "Owner contact", S),
                        a("notes", Text, "備考", "Notes", S),
                    ],
                ),
                layer(
                    "districts",
                    "地区",
                    "Districts",
                    GeometryKind::Polygon,
                    (8, 16),
                    vec![
                        a("name", Text, "地区名", "District", P),
                        a("name_en", Text, "地区名（英語）", "District (English)", P),
                        a("code", Text, "地区コード", "District code", P),
                    ],
                ),
                layer(
                    "road_events",
                    "通行規制・工事",
                    "Road closures and works",
                    GeometryKind::LineString,
                    (10, 18),
                    vec![
                        a("kind", Text, "種別", "Kind", P),
                        a("reason", Text, "理由", "Reason", P),
                        a("starts_at", DateTime, "開始", "From", P),
                        a("ends_at", DateTime, "終了予定", "Until", P),
                        a("detour", Text, "迂回路", "Detour", P),
                        a("contact", Text, "担当・連絡先", "Contact", S),
                    ],
                ),
                snowplows,
                fleet,
                trails,
                sensors,
                sensors_all,
                cameras,
                cameras_all,
            ],
        };
        // What an edit must give: a parcel's 地番 and 大字, a hazardous building's status, a
        // road's class, a road event's kind and start.
        for (layer, attribute) in [
            ("parcels", "chiban"),
            ("parcels", "oaza"),
            ("hazardous_buildings", "status"),
            ("roads", "road_class"),
            ("road_events", "kind"),
            ("road_events", "starts_at"),
        ] {
            let l = catalog.get_mut(layer).expect("built in");
            let i = l.attribute_index(attribute).expect("built in");
            l.attributes[i].required = true;
        }
        // Code lists: the 空家法 categories of a hazardous building, a road event's kind.
        for (layer, attribute, values) in [
            ("hazardous_buildings", "status", &["特定空家等", "管理不全空家等", "要経過観察", "解体済"][..]),
            ("road_events", "kind", &["通行止め", "片側交互通行", "工事"][..]),
        ] {
            let l = catalog.get_mut(layer).expect("built in");
            let i = l.attribute_index(attribute).expect("built in");
            l.attributes[i].values = values.iter().map(|v| (*v).to_owned()).collect();
        }
        // Map text: 地番 on parcels from z17, road names along the roads, names of points.
        for (layer, text, text_en, minzoom) in [
            ("parcels", "chiban", None, 17),
            ("districts", "name", Some("name_en"), 10),
            ("roads", "name", None, 14),
            ("hazardous_buildings", "address", None, 15), // staff map only, below
            ("road_events", "kind", None, 13),
            ("snowplows", "label", None, 12),
            ("snowplows_fleet", "label", None, 12),
            ("sensors", "station", None, 12),
            ("sensors_all", "station", None, 12),
            ("cameras", "name", None, 13),
            ("cameras_all", "name", None, 13),
        ] {
            catalog.get_mut(layer).expect("built in").label = Some(LabelDef {
                text: text.into(),
                text_en: text_en.map(Into::into),
                minzoom,
                // 地番 on a sheet at 1:2,500 (drawn at z16.5).
                print_minzoom: (layer == "parcels").then_some(16),
                staff_map_only: layer == "hazardous_buildings",
            });
        }
        // Parcels of MOJ maps in 任意座標系, kept apart: staff-only, never tiled.
        let parcels = catalog.get("parcels").expect("built in");
        let arbitrary = LayerDef {
            id: LayerId("parcels_arbitrary".to_owned()),
            title: Title::new("筆（任意座標系）", "Parcels in arbitrary coordinates"),
            visibility: Visibility::Staff,
            referenced: false,
            ..parcels.clone()
        };
        catalog.layers.push(arbitrary);
        catalog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_is_valid_and_hides_personal_data() {
        let c = Catalog::builtin();
        Catalog::new(c.layers().to_vec()).unwrap();
        let parcels = c.get("parcels").unwrap();
        let public: Vec<_> = parcels.visible_attributes(Audience::Public).map(|(_, a)| a.name.as_str()).collect();
        assert!(public.contains(&"chiban"));
        assert!(!public.contains(&"owner_name"));
        assert_eq!(parcels.visible_attributes(Audience::Staff).count(), parcels.attributes.len());
    }

    #[test]
    fn staff_only_layer_is_unknown_to_the_public() {
        let mut c = Catalog::builtin();
        c.get_mut("parcels").unwrap().visibility = Visibility::Staff;
        assert_eq!(c.resolve("parcels", Audience::Public), Err(CatalogError::UnknownLayer("parcels".into())));
        assert!(c.resolve("parcels", Audience::Staff).is_ok());
    }

    #[test]
    fn bad_zoom_range_is_refused() {
        let mut l = Catalog::builtin().get("roads").unwrap().clone();
        l.minzoom = 12;
        l.maxzoom = 10;
        assert!(l.validate().is_err());
    }
}
