//! Writes (OGC API – Features Part 4): `POST …/items`, `PUT`/`PATCH`/`DELETE …/items/{id}`,
//! and `GET /audit` for admins.
//!
//! A write needs a staff or admin key whose scope covers the layer (401 without a key, 403
//! with one that may not). The body is checked against the layer ([`crate::ogc::write`]: 422
//! with every problem); `If-Match` makes the write conditional on the feature's ETag (412 and
//! nothing changed when it moved on). The store writes the feature and its audit entry in one
//! transaction before the response; then the engine takes the change and drops exactly the
//! cached tiles it touches, so the next tile shows it. (With PostGIS, other server processes
//! get it from the change feed.)

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::error::ErrorBody;
use super::{ApiError, AppState, BaseUrl, Params, auth};
use crate::auth::{Caller, Role};
use crate::catalog::{Audience, LayerDef};
use crate::feature::FeatureId;
use crate::ogc::crs::OgcCrs;
use crate::ogc::write::{self, Schema};
use crate::store::{Edit, Edited};

/// The layer `id`, if the caller may change it.
fn writable(app: &AppState, id: &str, caller: &Caller) -> Result<LayerDef, ApiError> {
    let catalog = app.engine.catalog();
    let (layer, _) = auth::layer(&catalog, id, caller)?;
    if layer.live {
        Err(ApiError::Forbidden(format!("{} is fed by vehicle positions, not edited", layer.id)))
    } else if caller.may_write(layer) {
        Ok(layer.clone())
    } else if caller.is_anonymous() {
        Err(ApiError::Unauthorized(
            "changing features needs a staff API key (Authorization: Bearer …) or a staff sign-in".into(),
        ))
    } else {
        Err(ApiError::Forbidden(format!("{} may not change {}", caller.actor(), layer.id)))
    }
}

/// The CRS of a body's geometry (`Content-Crs`, CRS84 if absent).
fn content_crs(app: &AppState, headers: &HeaderMap) -> Result<OgcCrs, ApiError> {
    match headers.get("content-crs").map(|v| v.to_str()) {
        None => Ok(OgcCrs::crs84()),
        Some(Ok(v)) => {
            let uri = v.trim().trim_start_matches('<').trim_end_matches('>');
            OgcCrs::parse(uri, &super::ogc::crss(app)).map_err(|e| ApiError::BadRequest(format!("Content-Crs: {e}")))
        }
        Some(Err(_)) => Err(ApiError::BadRequest("Content-Crs is not readable text".into())),
    }
}

/// The ETag `If-Match` asks for (`None` for none or `*`).
pub(super) fn if_match(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::IF_MATCH)?.to_str().ok()?.trim();
    (v != "*").then(|| v.trim_start_matches("W/").to_owned())
}

fn feature_id(fid: &str) -> Result<FeatureId, ApiError> {
    fid.parse().map_err(|_| ApiError::NotFound(format!("no feature {fid:?}")))
}

/// Writes `edit`, updates the engine, and answers with the feature as stored (a 201 with its
/// `Location` under `created_under` for a new one).
async fn apply(
    app: &AppState,
    layer: &LayerDef,
    caller: &Caller,
    edit: Edit,
    expect: Option<String>,
    created_under: Option<&str>,
) -> Result<Response, ApiError> {
    let Edited { before, after } = app.store.edit(layer, &edit, expect.as_deref(), &caller.actor()).await?;
    let engine = app.engine.clone();
    let id = layer.id.to_string();
    let upserts: Vec<_> = after.iter().map(|r| r.feature.clone()).collect();
    let deletes: Vec<_> = before.iter().map(|r| r.feature.id).filter(|_| after.is_none()).collect();
    if layer.referenced {
        tokio::task::spawn_blocking(move || engine.apply_changes(&id, upserts, &deletes))
            .await?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    let Some(after) = after else { return Ok(StatusCode::NO_CONTENT.into_response()) };
    let f = &after.feature;
    let g = OgcCrs::crs84().output(&f.geometry, app.store.crs()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = serde_json::to_value(f.to_geojson(layer, Audience::Staff, &g))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, HeaderValue::from_str(&f.etag()).expect("a hex tag is a valid header"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
    if let Some(base_url) = created_under {
        let location = format!("{base_url}/ogc/collections/{}/items/{}", layer.id, f.id);
        h.insert(header::LOCATION, HeaderValue::from_str(&location).map_err(|e| ApiError::Internal(e.to_string()))?);
        return Ok((StatusCode::CREATED, h, Json(body)).into_response());
    }
    Ok((h, Json(body)).into_response())
}

fn schema<'a>(app: &'a AppState, layer: &'a LayerDef, crs: &'a OgcCrs) -> Schema<'a> {
    Schema { layer, crs, store_crs: app.store.crs(), bounds: app.config.city.bounds }
}

/// `POST /ogc/collections/{id}/items`: a new feature (201, `Location`, `ETag`).
#[utoipa::path(post, path = "/ogc/collections/{id}/items", tag = "edit", security(("api_key" = [])),
    params(("id" = String, Path), ("Content-Crs" = Option<String>, Header, description = "CRS URI of the body's geometry")),
    request_body(content_type = "application/geo+json", description = "a GeoJSON Feature"),
    responses((status = 201, description = "created; Location and ETag"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    BaseUrl(base_url): BaseUrl,
    body: Bytes,
) -> Result<Response, ApiError> {
    let layer = &writable(&app, &id, &caller)?;
    let crs = content_crs(&app, &headers)?;
    let feature = write::feature(&body, &schema(&app, layer, &crs))?;
    apply(&app, layer, &caller, Edit::Create(feature), None, Some(&base_url)).await
}

/// `PUT /ogc/collections/{id}/items/{fid}`: the whole feature anew.
#[utoipa::path(put, path = "/ogc/collections/{id}/items/{fid}", tag = "edit", security(("api_key" = [])),
    params(("id" = String, Path), ("fid" = i64, Path), ("If-Match" = Option<String>, Header), ("Content-Crs" = Option<String>, Header)),
    request_body(content_type = "application/geo+json", description = "the whole GeoJSON Feature"),
    responses((status = 200, description = "replaced; new ETag"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let layer = &writable(&app, &id, &caller)?;
    let fid = feature_id(&fid)?;
    let crs = content_crs(&app, &headers)?;
    let feature = write::feature(&body, &schema(&app, layer, &crs))?;
    apply(&app, layer, &caller, Edit::Replace { id: fid, feature }, if_match(&headers), None).await
}

/// `PATCH /ogc/collections/{id}/items/{fid}`: a merge patch of geometry and properties.
#[utoipa::path(patch, path = "/ogc/collections/{id}/items/{fid}", tag = "edit", security(("api_key" = [])),
    params(("id" = String, Path), ("fid" = i64, Path), ("If-Match" = Option<String>, Header), ("Content-Crs" = Option<String>, Header)),
    request_body(content_type = "application/merge-patch+json", description = "a merge patch of geometry and properties"),
    responses((status = 200, description = "updated; new ETag"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let layer = &writable(&app, &id, &caller)?;
    let fid = feature_id(&fid)?;
    let crs = content_crs(&app, &headers)?;
    let patch = write::patch(&body, &schema(&app, layer, &crs))?;
    let edit = Edit::Update { id: fid, geometry: patch.geometry, attributes: patch.attributes };
    apply(&app, layer, &caller, edit, if_match(&headers), None).await
}

/// `DELETE /ogc/collections/{id}/items/{fid}` (204).
#[utoipa::path(delete, path = "/ogc/collections/{id}/items/{fid}", tag = "edit", security(("api_key" = [])),
    params(("id" = String, Path), ("fid" = i64, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = &writable(&app, &id, &caller)?;
    let fid = feature_id(&fid)?;
    apply(&app, layer, &caller, Edit::Delete { id: fid }, if_match(&headers), None).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    layer: Option<String>,
    feature_id: Option<FeatureId>,
    limit: Option<u32>,
}

/// `GET /audit[?layer][&feature_id][&limit]`: the newest audit entries (admin keys only).
#[utoipa::path(get, path = "/audit", tag = "edit", security(("api_key" = [])), params(AuditParams),
    responses((status = 200, description = "newest audit entries: who, when, what, before and after"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    auth::require(&caller, Role::Admin, "the audit log")?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and 1000, got {limit}")));
    }
    let entries = app.store.audit(p.layer.as_deref(), p.feature_id, limit).await?;
    Ok(Json(serde_json::json!({ "entries": entries })))
}
