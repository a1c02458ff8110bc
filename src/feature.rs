//! The feature model shared by stores, the engine and the HTTP layer.
//!
//! A [`Feature`] holds its geometry in the store's CRS (the city's plane rectangular system by
//! default) and its attribute values in the order of its layer's attribute schema
//! ([`crate::catalog::LayerDef::attributes`]). Keeping values positional avoids a map per
//! feature: 100,000 parcels share one schema.

use serde::{Deserialize, Serialize};

/// A feature's stable id within its layer (the store's primary key).
pub type FeatureId = i64;

/// One attribute value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

impl AttrValue {
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The value as JSON (a non-finite real is null).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttrValue::Null => serde_json::Value::Null,
            AttrValue::Bool(b) => (*b).into(),
            AttrValue::Int(i) => (*i).into(),
            AttrValue::Real(r) => serde_json::Number::from_f64(*r).map_or(serde_json::Value::Null, Into::into),
            AttrValue::Text(s) => s.as_str().into(),
        }
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        Self::Real(v)
    }
}

impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl<T: Into<AttrValue>> From<Option<T>> for AttrValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// A feature as stored: id, geometry in the store CRS, attribute values by schema position.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: FeatureId,
    pub geometry: geo_types::Geometry<f64>,
    pub attributes: Vec<AttrValue>,
}

/// A feature not yet stored (the store assigns its id).
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeature {
    pub geometry: geo_types::Geometry<f64>,
    pub attributes: Vec<AttrValue>,
}

/// A stored feature with its bookkeeping, as `machizu db push` / `db pull` copy it: the row
/// version (optimistic concurrency) and its creation and change times (ISO 8601, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub feature: Feature,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Feature {
    /// A strong HTTP entity tag of the stored feature: a hash of its id, every coordinate and
    /// every attribute (staff-only ones too), so any change to it changes the tag. Optimistic
    /// concurrency (`If-Match`) compares it with the feature as stored.
    pub fn etag(&self) -> String {
        use geo::CoordsIter;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&self.id.to_le_bytes());
        for c in self.geometry.coords_iter() {
            h.update(&c.x.to_bits().to_le_bytes());
            h.update(&c.y.to_bits().to_le_bytes());
        }
        // Part boundaries count too: the same coordinates split differently are a change.
        for n in geometry_shape(&self.geometry) {
            h.update(&(n as u64).to_le_bytes());
        }
        for a in &self.attributes {
            h.update(a.to_json().to_string().as_bytes());
            h.update(&[0]);
        }
        format!("\"{:016x}\"", h.digest())
    }

    /// The feature as GeoJSON with `geometry` (already in the output CRS and axis order) and
    /// the attributes `audience` may see of `layer`.
    pub fn to_geojson(
        &self,
        layer: &crate::catalog::LayerDef,
        audience: crate::catalog::Audience,
        geometry: &geo_types::Geometry<f64>,
    ) -> geojson::Feature {
        let properties =
            layer.visible_attributes(audience).map(|(i, a)| (a.name.clone(), self.attributes[i].to_json())).collect();
        geojson::Feature {
            bbox: None,
            geometry: Some(geojson::Geometry::new(geojson::GeometryValue::from(geometry))),
            id: Some(geojson::feature::Id::Number(self.id.into())),
            properties: Some(properties),
            foreign_members: None,
        }
    }
}

/// The number of coordinates of each part and ring of a geometry.
fn geometry_shape(g: &geo_types::Geometry<f64>) -> Vec<usize> {
    use geo::CoordsIter;
    use geo_types::Geometry as G;
    let polygon = |p: &geo_types::Polygon<f64>| {
        std::iter::once(p.exterior().0.len())
            .chain(p.interiors().iter().map(|r| r.0.len()))
            .chain([0])
            .collect::<Vec<_>>()
    };
    match g {
        G::Polygon(p) => polygon(p),
        G::MultiPolygon(mp) => mp.0.iter().flat_map(polygon).collect(),
        G::MultiLineString(ml) => ml.0.iter().map(|l| l.0.len()).collect(),
        G::GeometryCollection(gc) => gc.0.iter().flat_map(geometry_shape).chain([usize::MAX]).collect(),
        other => vec![other.coords_count()],
    }
}

/// The smallest rectangle holding all of `rects`, if there are any.
pub fn union_rects(rects: impl IntoIterator<Item = geo_types::Rect<f64>>) -> Option<geo_types::Rect<f64>> {
    rects.into_iter().reduce(|a, b| {
        geo_types::Rect::new(
            (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
            (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
        )
    })
}
