//! Spatial questions (`/query/…`): thin handlers over [`crate::query`].
//!
//! Positions come in WGS 84 longitude/latitude and features go out as GeoJSON (RFC 7946, WGS 84)
//! with two foreign members per feature: `layer` and `distance_m` (metres on the ground). Only
//! the layers and attributes the caller may see are searched and shown.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use geo_types::{Geometry, Point};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ErrorBody;
use super::{ApiError, AppState, Params, auth};
use crate::auth::Caller;
use crate::catalog::{Audience, LayerDef};
use crate::crs::{Epsg, with_transformer};
use crate::engine::LayerData;
use crate::feature::Feature;
use crate::ogc::crs::OgcCrs;
use crate::query::{self, Hit};

/// The largest radius a question may ask about, in metres.
pub const MAX_RADIUS_M: f64 = 5_000.0;
/// The most features `nearest` returns.
pub const MAX_K: usize = 100;
/// The most features any question returns.
pub const MAX_HITS: usize = 10_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PointParams {
    lon: f64,
    lat: f64,
    /// Comma-separated layer ids [default: every layer the caller may see].
    layers: Option<String>,
    /// Search radius for lines and points, in metres.
    radius_m: Option<f64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NearestParams {
    layer: String,
    lon: f64,
    lat: f64,
    k: Option<usize>,
    /// Farthest to look, in metres [default and most: 5,000].
    max_distance_m: Option<f64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WithinParams {
    layer: String,
    lon: f64,
    lat: f64,
    radius_m: f64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IntersectsParams {
    layers: Option<String>,
}

/// The layers to ask: the list given (each visible to the caller), or all the caller may see.
pub(super) fn layers(
    app: &AppState,
    list: Option<&str>,
    caller: &Caller,
) -> Result<Vec<(Arc<LayerData>, Audience)>, ApiError> {
    let catalog = app.engine.catalog();
    let defs: Vec<&LayerDef> = match list {
        Some(list) => auth::resolve(&catalog, list, caller)?.0,
        None => catalog.layers().iter().filter(|l| l.visible_to(caller.audience(l))).collect(),
    };
    Ok(defs.into_iter().filter_map(|d| Some((app.engine.layer(d.id.as_str())?, caller.audience(d)))).collect())
}

/// A WGS 84 position in the store's CRS.
fn position(app: &AppState, lon: f64, lat: f64) -> Result<Point<f64>, ApiError> {
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::BadRequest(format!("lon must be in -180..180 and lat in -90..90, got {lon}, {lat}")));
    }
    let (x, y) = with_transformer(Epsg::WGS84, app.store.crs(), |t| t.point(lon, lat))
        .and_then(|r| r)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Point::new(x, y))
}

fn radius(name: &str, r: f64) -> Result<f64, ApiError> {
    if (0.0..=MAX_RADIUS_M).contains(&r) {
        Ok(r)
    } else {
        Err(ApiError::BadRequest(format!("{name} must be between 0 and {MAX_RADIUS_M} metres, got {r}")))
    }
}

/// A feature of a query answer, its geometry already GeoJSON text.
#[derive(serde::Serialize)]
struct Out {
    #[serde(rename = "type")]
    kind: &'static str,
    id: i64,
    #[serde(serialize_with = "raw_json")]
    geometry: std::sync::Arc<serde_json::value::RawValue>,
    properties: serde_json::Map<String, Value>,
    #[serde(flatten)]
    members: serde_json::Map<String, Value>,
}

fn raw_json<S: serde::Serializer>(json: &std::sync::Arc<serde_json::value::RawValue>, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&**json, s)
}

/// Features as a GeoJSON feature collection in WGS 84, each with its `layer` and the given
/// extra foreign members; `extra` adds members to the collection. Each feature's geometry in
/// WGS 84 is made once per version of its layer ([`LayerData::crs84_json`]).
pub(super) fn collection<'a>(
    app: &AppState,
    found: impl IntoIterator<Item = (&'a LayerData, Audience, &'a Feature, Vec<(&'static str, Value)>)>,
    extra: Value,
) -> Result<Response, ApiError> {
    let crs84 = OgcCrs::crs84();
    let store_crs = app.store.crs();
    let mut features = Vec::new();
    for (layer, audience, feature, members) in found.into_iter().take(MAX_HITS) {
        let geometry = layer.crs84_json(feature, || {
            let g = crs84.output(&feature.geometry, store_crs).map_err(|e| ApiError::Internal(e.to_string()))?;
            let json = serde_json::to_string(&geojson::Geometry::new(geojson::GeometryValue::from(&g)));
            json.and_then(serde_json::value::RawValue::from_string).map_err(|e| ApiError::Internal(e.to_string()))
        })?;
        let properties = layer
            .def
            .visible_attributes(audience)
            .map(|(i, a)| (a.name.clone(), feature.attributes[i].to_json()))
            .collect();
        let members =
            std::iter::once(("layer", json!(layer.def.id))).chain(members).map(|(k, v)| (k.to_owned(), v)).collect();
        features.push(Out { kind: "Feature", id: feature.id, geometry, properties, members });
    }
    #[derive(serde::Serialize)]
    struct Collection {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(rename = "numberReturned")]
        returned: usize,
        #[serde(flatten)]
        extra: serde_json::Map<String, Value>,
        features: Vec<Out>,
    }
    let extra = if let Value::Object(m) = extra { m } else { Default::default() };
    let body = Collection { kind: "FeatureCollection", returned: features.len(), extra, features };
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/geo+json")], bytes).into_response())
}

/// Hits as a feature collection, with their distances.
fn hits(app: &AppState, hits: &[(&LayerData, Audience, Hit)]) -> Result<Response, ApiError> {
    let found = hits.iter().map(|(l, a, h)| (*l, *a, &h.feature, vec![("distance_m", json!(round_cm(h.distance_m)))]));
    collection(app, found, Value::Null)
}

fn round_cm(m: f64) -> f64 {
    (m * 100.0).round() / 100.0
}

/// `GET /query/point?lon&lat[&layers][&radius_m]`: everything at a point — the polygons that
/// hold it, the nearest line within 30 m, the points within 50 m — layer by layer.
#[utoipa::path(get, path = "/query/point", tag = "query", params(PointParams),
    responses((status = 200, description = "GeoJSON features with layer and distance_m"), (status = 400, body = ErrorBody)))]
pub async fn point(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<PointParams>,
) -> Result<Response, ApiError> {
    let at = position(&app, p.lon, p.lat)?;
    let r = p.radius_m.map(|r| radius("radius_m", r)).transpose()?;
    let layers = layers(&app, p.layers.as_deref(), &caller)?;
    let found: Vec<_> = layers
        .iter()
        .flat_map(|(l, a)| query::at_point(l, at, r).into_iter().map(move |h| (l.as_ref(), *a, h)))
        .collect();
    hits(&app, &found)
}

/// `GET /query/nearest?layer&lon&lat[&k][&max_distance_m]`: the `k` nearest features.
#[utoipa::path(get, path = "/query/nearest", tag = "query", params(NearestParams),
    responses((status = 200, description = "the k nearest features, nearest first"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn nearest(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<NearestParams>,
) -> Result<Response, ApiError> {
    let at = position(&app, p.lon, p.lat)?;
    let k = p.k.unwrap_or(1);
    if !(1..=MAX_K).contains(&k) {
        return Err(ApiError::BadRequest(format!("k must be between 1 and {MAX_K}, got {k}")));
    }
    let max = radius("max_distance_m", p.max_distance_m.unwrap_or(MAX_RADIUS_M))?;
    let (layer, audience) = one_layer(&app, &p.layer, &caller)?;
    let found: Vec<_> = query::nearest(&layer, at, k, max).into_iter().map(|h| (layer.as_ref(), audience, h)).collect();
    hits(&app, &found)
}

/// `GET /query/within?layer&lon&lat&radius_m`: every feature within a distance, nearest first.
#[utoipa::path(get, path = "/query/within", tag = "query", params(WithinParams),
    responses((status = 200, description = "features within radius_m, nearest first"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn within(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<WithinParams>,
) -> Result<Response, ApiError> {
    let at = position(&app, p.lon, p.lat)?;
    let r = radius("radius_m", p.radius_m)?;
    let (layer, audience) = one_layer(&app, &p.layer, &caller)?;
    let found: Vec<_> =
        query::within(&layer, &Geometry::Point(at), r).into_iter().map(|h| (layer.as_ref(), audience, h)).collect();
    hits(&app, &found)
}

/// `POST /query/intersects[?layers]` with a GeoJSON geometry (WGS 84) as the body: every
/// feature that meets it.
#[utoipa::path(post, path = "/query/intersects", tag = "query", params(IntersectsParams),
    request_body(content_type = "application/geo+json", description = "a GeoJSON geometry in WGS 84"),
    responses((status = 200, description = "features meeting the geometry"), (status = 400, body = ErrorBody)))]
pub async fn intersects(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<IntersectsParams>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let g = geojson_geometry(&body)?;
    let g = OgcCrs::crs84().input(g, app.store.crs()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let layers = layers(&app, p.layers.as_deref(), &caller)?;
    let found: Vec<_> = layers
        .iter()
        .flat_map(|(l, a)| query::intersecting(l, &g).into_iter().map(move |h| (l.as_ref(), *a, h)))
        .collect();
    if found.len() > MAX_HITS {
        return Err(ApiError::BadRequest(format!(
            "the geometry meets {} features, more than {MAX_HITS}: ask about a smaller area or fewer layers",
            found.len()
        )));
    }
    hits(&app, &found)
}

fn one_layer(app: &AppState, id: &str, caller: &Caller) -> Result<(Arc<LayerData>, Audience), ApiError> {
    let catalog = app.engine.catalog();
    let (def, audience) = auth::layer(&catalog, id, caller)?;
    let data = app.engine.layer(def.id.as_str()).ok_or_else(|| ApiError::NotFound(format!("unknown layer {id:?}")))?;
    Ok((data, audience))
}

/// A GeoJSON geometry (or a Feature holding one) from a request body.
pub fn geojson_geometry(body: &[u8]) -> Result<Geometry<f64>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(format!("the body must be a GeoJSON geometry: {m}"));
    let gj: geojson::GeoJson = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let geometry = match gj {
        geojson::GeoJson::Geometry(g) => g,
        geojson::GeoJson::Feature(geojson::Feature { geometry: Some(g), .. }) => g,
        _ => return Err(bad("got a feature without geometry or a collection".into())),
    };
    let g: Geometry<f64> = geometry.try_into().map_err(|e: geojson::Error| bad(e.to_string()))?;
    use geo::CoordsIter;
    if g.coords_iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
        return Err(bad("coordinates must be finite numbers".into()));
    }
    Ok(g)
}
