//! Request bodies of OGC API – Features Part 4 (create, replace, update): a GeoJSON feature (or,
//! for `PATCH`, a JSON merge patch of one), checked against the layer's schema.
//!
//! Every problem is collected, not just the first, so that a client can fix them all at once:
//! properties that are not in the schema (or not visible to the writer), values of the wrong
//! type, required attributes missing, a geometry of the wrong type, invalid (self-intersecting
//! rings, too few points…) or outside the city's extent. The geometry comes in the request's
//! `Content-Crs` (CRS84 by default) and is stored in the store's CRS.

use chrono::{DateTime, NaiveDate};
use geo::{BoundingRect, Validation};
use geo_types::Geometry;
use serde::Serialize;
use serde_json::{Map, Value};

use super::crs::OgcCrs;
use crate::catalog::{AttrType, Audience, LayerDef};
use crate::crs::Epsg;
use crate::feature::{AttrValue, NewFeature};

/// One problem with a request body: where (`geometry`, `properties.status`…) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

/// Everything wrong with a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

/// What a write is checked against.
pub struct Schema<'a> {
    pub layer: &'a LayerDef,
    /// The CRS of the body's geometry.
    pub crs: &'a OgcCrs,
    pub store_crs: Epsg,
    /// The city's extent, `[west, south, east, north]` in degrees: geometry must lie inside.
    pub bounds: [f64; 4],
}

struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { path: path.into(), message: message.into() });
    }
}

/// A whole feature (`POST`, `PUT`): a GeoJSON Feature with a geometry; every attribute not
/// given is null.
pub fn feature(body: &[u8], schema: &Schema<'_>) -> Result<NewFeature, Invalid> {
    let mut errors = Errors(Vec::new());
    let object = json_object(body).map_err(|m| Invalid(vec![FieldError { path: String::new(), message: m }]))?;
    if object.get("type").and_then(Value::as_str) != Some("Feature") {
        errors.add("type", "the body must be a GeoJSON Feature (\"type\": \"Feature\")");
    }
    let geometry = match object.get("geometry") {
        Some(Value::Null) | None => {
            errors.add("geometry", "a feature needs a geometry");
            None
        }
        Some(g) => geometry(g, schema, &mut errors),
    };
    let mut attributes = vec![AttrValue::Null; schema.layer.attributes.len()];
    properties(object.get("properties"), schema, &mut errors, |i, v| attributes[i] = v);
    for (i, a) in schema.layer.attributes.iter().enumerate() {
        if a.required && attributes[i].is_null() && !errors.0.iter().any(|e| e.path == format!("properties.{}", a.name))
        {
            errors.add(format!("properties.{}", a.name), format!("{} ({}) is required", a.name, a.title.ja));
        }
    }
    match geometry {
        Some(geometry) if errors.0.is_empty() => Ok(NewFeature { geometry, attributes }),
        _ => Err(Invalid(errors.0)),
    }
}

/// What a patch changes: the geometry (in the store's CRS) if given, and attributes by schema
/// position.
#[derive(Debug)]
pub struct Patch {
    pub geometry: Option<Geometry<f64>>,
    pub attributes: Vec<(usize, AttrValue)>,
}

/// A partial change (`PATCH`, RFC 7396 merge patch of a GeoJSON Feature): the geometry if
/// given, and the attributes named (null clears one).
pub fn patch(body: &[u8], schema: &Schema<'_>) -> Result<Patch, Invalid> {
    let mut errors = Errors(Vec::new());
    let object = json_object(body).map_err(|m| Invalid(vec![FieldError { path: String::new(), message: m }]))?;
    for key in object.keys().filter(|k| !matches!(k.as_str(), "type" | "geometry" | "properties" | "id")) {
        errors.add(key.as_str(), "a patch may change only geometry and properties");
    }
    let geometry = match object.get("geometry") {
        Some(Value::Null) => {
            errors.add("geometry", "a feature keeps a geometry: it cannot be removed");
            None
        }
        Some(g) => geometry(g, schema, &mut errors),
        None => None,
    };
    let mut changes = Vec::new();
    properties(object.get("properties"), schema, &mut errors, |i, v| changes.push((i, v)));
    for (i, v) in &changes {
        let a = &schema.layer.attributes[*i];
        if a.required && v.is_null() {
            errors.add(
                format!("properties.{}", a.name),
                format!("{} ({}) is required: it cannot be cleared", a.name, a.title.ja),
            );
        }
    }
    if errors.0.is_empty() { Ok(Patch { geometry, attributes: changes }) } else { Err(Invalid(errors.0)) }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

/// A GeoJSON geometry, checked and in the store's CRS.
fn geometry(v: &Value, schema: &Schema<'_>, errors: &mut Errors) -> Option<Geometry<f64>> {
    let parsed = serde_json::from_value::<geojson::Geometry>(v.clone()).map_err(|e| e.to_string());
    let g: Geometry<f64> = match parsed.and_then(|g| Geometry::try_from(g).map_err(|e| e.to_string())) {
        Ok(g) => g,
        Err(e) => {
            errors.add("geometry", format!("not a GeoJSON geometry: {e}"));
            return None;
        }
    };
    let g = match schema.layer.geometry.conform(&g) {
        Ok(g) => g,
        Err(m) => {
            errors.add("geometry", m);
            return None;
        }
    };
    use geo::CoordsIter;
    if g.coords_iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
        errors.add("geometry", "coordinates must be finite numbers");
        return None;
    }
    if let Err(e) = g.check_validation() {
        errors.add("geometry", format!("invalid geometry: {e}"));
    }
    // Inside the city: checked in degrees, against the configured extent.
    let lonlat = schema.crs.input(g.clone(), Epsg::WGS84);
    let [w, s, e, n] = schema.bounds;
    match lonlat.ok().and_then(|l| l.bounding_rect()) {
        Some(r) if r.min().x >= w && r.min().y >= s && r.max().x <= e && r.max().y <= n => {}
        _ => errors
            .add("geometry", format!("the geometry must lie inside the city's extent [{w}, {s}, {e}, {n}] (degrees)")),
    }
    match schema.crs.input(g, schema.store_crs) {
        Ok(g) => Some(g),
        Err(e) => {
            errors.add("geometry", e.to_string());
            None
        }
    }
}

/// Calls `set(index, value)` for each property, checked against the schema as staff see it.
fn properties(v: Option<&Value>, schema: &Schema<'_>, errors: &mut Errors, mut set: impl FnMut(usize, AttrValue)) {
    let map = match v {
        None | Some(Value::Null) => return,
        Some(Value::Object(m)) => m,
        Some(_) => return errors.add("properties", "properties must be an object"),
    };
    for (name, value) in map {
        let path = format!("properties.{name}");
        let Some((i, a)) = schema.layer.visible_attributes(Audience::Staff).find(|(_, a)| a.name == *name) else {
            errors.add(path, format!("{} has no attribute {name:?}", schema.layer.id));
            continue;
        };
        match value_of(value, a.kind) {
            Ok(AttrValue::Text(t)) if !a.values.is_empty() && !a.values.contains(&t) => {
                errors.add(path, format!("{t:?} is not one of {}", a.values.join(", ")));
            }
            Ok(v) => set(i, v),
            Err(m) => errors.add(path, m),
        }
    }
}

/// A JSON value as an attribute of `kind`.
fn value_of(v: &Value, kind: AttrType) -> Result<AttrValue, String> {
    match (kind, v) {
        (_, Value::Null) => Ok(AttrValue::Null),
        (AttrType::Text, Value::String(s)) => Ok(AttrValue::Text(s.clone())),
        (AttrType::Integer, Value::Number(n)) => {
            n.as_i64().map(AttrValue::Int).ok_or_else(|| format!("{n} is not a whole number"))
        }
        (AttrType::Real, Value::Number(n)) => {
            n.as_f64().map(AttrValue::Real).ok_or_else(|| format!("{n} is not a number"))
        }
        (AttrType::Boolean, Value::Bool(b)) => Ok(AttrValue::Bool(*b)),
        (AttrType::Date, Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|_| AttrValue::Text(s.clone()))
            .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)")),
        (AttrType::DateTime, Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|_| AttrValue::Text(s.clone()))
            .map_err(|_| format!("{s:?} is not a date and time (RFC 3339)")),
        (kind, v) => Err(format!("expected {}, got {v}", expected(kind))),
    }
}

fn expected(kind: AttrType) -> &'static str {
    match kind {
        AttrType::Text => "text",
        AttrType::Integer => "a whole number",
        AttrType::Real => "a number",
        AttrType::Boolean => "true or false",
        AttrType::Date => "a date (YYYY-MM-DD)",
        AttrType::DateTime => "a date and time (RFC 3339)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn check(body: &str) -> Result<NewFeature, Vec<String>> {
        let layer = Catalog::builtin().get("hazardous_buildings").unwrap().clone();
        let crs = OgcCrs::crs84();
        let schema = Schema { layer: &layer, crs: &crs, store_crs: Epsg(6678), bounds: [140.31, 38.44, 140.62, 38.72] };
        feature(body.as_bytes(), &schema)
            .map_err(|e| e.0.into_iter().map(|f| format!("{}: {}", f.path, f.message)).collect())
    }

    #[test]
    fn a_good_feature_lands_in_the_store_crs() {
        let f = check(r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[140.4,38.6]},"properties":{"status":"特定空家等","survey_date":"2026-01-05","owner_name":"山田"}}"#).unwrap();
        let Geometry::Point(p) = f.geometry else { panic!() };
        assert!((p.x() + 38_000.0).abs() < 2_000.0 && (p.y() + 155_000.0).abs() < 2_000.0, "{p:?}");
        assert_eq!(f.attributes[0], AttrValue::text("特定空家等"));
    }

    #[test]
    fn every_problem_is_listed() {
        let errors = check(
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[140.4,38.6],[140.5,38.6]]},"properties":{"survey_date":"2026-13-01","structure":5,"colour":"red"}}"#,
        )
        .unwrap_err();
        let joined = errors.join("\n");
        assert!(joined.contains("geometry: a POINT layer cannot hold this geometry"), "{joined}");
        assert!(joined.contains("properties.survey_date: \"2026-13-01\" is not a date"), "{joined}");
        assert!(joined.contains("properties.structure: expected text, got 5"), "{joined}");
        assert!(joined.contains("properties.colour: hazardous_buildings has no attribute \"colour\""), "{joined}");
        assert!(joined.contains("properties.status: status (判定) is required"), "{joined}");
        let outside = check(
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[139.7,35.7]},"properties":{"status":"x"}}"#,
        )
        .unwrap_err();
        assert!(outside[0].contains("inside the city's extent"), "{outside:?}");
        assert!(check("[1]").unwrap_err()[0].contains("JSON object"));
        assert!(
            check(r#"{"type":"Feature","properties":{"status":"x"}}"#).unwrap_err()[0].contains("needs a geometry")
        );
    }

    #[test]
    fn invalid_polygons_are_refused() {
        let layer = Catalog::builtin().get("parcels").unwrap().clone();
        let crs = OgcCrs::crs84();
        let schema = Schema { layer: &layer, crs: &crs, store_crs: Epsg(6678), bounds: [140.31, 38.44, 140.62, 38.72] };
        let bowtie = r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[140.40,38.60],[140.41,38.61],[140.41,38.60],[140.40,38.61],[140.40,38.60]]]},"properties":{"chiban":"1","oaza":"尾花沢"}}"#;
        let e = feature(bowtie.as_bytes(), &schema).unwrap_err();
        assert!(e.0[0].message.starts_with("invalid geometry"), "{e:?}");
    }
}
