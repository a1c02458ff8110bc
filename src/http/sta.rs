//! OGC SensorThings API 1.1 at `/sta/v1.1`: thin handlers over [`crate::sensors`].
//!
//! Reads are open to everyone (the public sees public stations only); writes need a staff or
//! admin key, sent as `Bearer` or, as FROST clients do, as the password of HTTP Basic. A sensor
//! device's credential (`mzd_…`, `machizu sensors add`) may post observations to its own
//! station's datastreams only; it reads as the public.
//! `POST` answers 201 with the new entity and its `Location`; `PATCH` and `PUT` answer 200 with
//! the entity as it now is; `DELETE` 200. A JSON Patch (`application/json-patch+json`) applies
//! to the entity's own properties.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ErrorBody;
use super::{ApiError, AppState, BaseUrl, auth};
use crate::auth::{Caller, Role, hash_token};
use crate::catalog::Audience;
use crate::sensors::model::Kind;
use crate::sensors::read::{Answer, Ctx};
use crate::sensors::request::{self, Options, Step};
use crate::store::sensors::{DEVICE_PREFIX, SensorDevice};

/// Where the API lives, under the server's root.
pub const PREFIX: &str = "/sta/v1.1";

fn ctx(base: &BaseUrl, caller: &Caller) -> Ctx {
    Ctx { base: format!("{}{PREFIX}", base.0), audience: caller.widest_audience() }
}

/// Who is asking: an API key's caller (or the staff area's), or a sensor device.
pub(super) enum StaCaller {
    Key(Caller),
    Device(SensorDevice),
}

pub(super) async fn sta_caller(
    app: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<StaCaller, ApiError> {
    match (extensions.get::<Caller>(), auth::credential(headers)?) {
        (Some(caller), _) => Ok(StaCaller::Key(caller.clone())),
        (None, Some(token)) if token.starts_with(DEVICE_PREFIX) => {
            let device = app
                .store
                .sensor_device_by_hash(&hash_token(&token))
                .await?
                .ok_or_else(|| ApiError::Unauthorized("unknown device credential".into()))?;
            match &device.revoked_at {
                Some(at) => Err(ApiError::Unauthorized(format!("device {} was revoked at {at}", device.id))),
                None => Ok(StaCaller::Device(device)),
            }
        }
        (None, _) => Ok(StaCaller::Key(auth::key_caller(headers, app).await?)),
    }
}

/// `GET /sta/v1.1`: the entity sets and the server's settings (conformance classes).
#[utoipa::path(get, path = "/sta/v1.1", tag = "sensors", responses((status = 200, description = "the entity sets")))]
pub async fn landing(
    State(app): State<AppState>,
    base: BaseUrl,
    request: axum::http::request::Parts,
) -> Result<Json<Value>, ApiError> {
    sta_caller(&app, &request.headers, &request.extensions).await?;
    let root = format!("{}{PREFIX}", base.0);
    let sets: Vec<Value> =
        Kind::ALL.iter().map(|k| json!({"name": k.plural(), "url": format!("{root}/{}", k.plural())})).collect();
    Ok(Json(json!({
        "value": sets,
        "serverSettings": {"conformance": [
            "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
            "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
            "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
            "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
            "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
        ]},
    })))
}

fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))
}

/// Every other path under `/sta/v1.1`: reads, creates, updates, deletes, `CreateObservations`.
#[utoipa::path(get, path = "/sta/v1.1/{path}", tag = "sensors",
    params(("path" = String, Path, description = "a resource path: Things, Things(1)/Datastreams, Datastreams(1)/Observations, …")),
    responses((status = 200, description = "an entity, an entity set, or a property"), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn entry(
    State(app): State<AppState>,
    base: BaseUrl,
    Path(path): Path<String>,
    request: axum::http::request::Parts,
    body: Bytes,
) -> Result<Response, ApiError> {
    let axum::http::request::Parts { method, headers, uri, extensions, .. } = request;
    let steps = request::path(&path).map_err(|e| ApiError::BadRequest(e.0))?;
    let sensors = &app.sensors;
    let caller = match sta_caller(&app, &headers, &extensions).await? {
        StaCaller::Key(caller) => caller,
        StaCaller::Device(device) => {
            if method != Method::POST && !method.is_safe() {
                return Err(ApiError::Forbidden("a device may only post observations".into()));
            }
            if method == Method::POST {
                let staff = Ctx { audience: Audience::Staff, ..ctx(&base, &Caller::ANONYMOUS) };
                let links = sensors.device_create(device.thing, &steps, &json_body(&body)?, &staff).await?;
                let created = if is_batch(&steps) { json!(links) } else { read_link(&app, &links[0], &staff).await? };
                return Ok((StatusCode::CREATED, [(header::LOCATION, links[0].clone())], Json(created)).into_response());
            }
            Caller::ANONYMOUS
        }
    };
    let ctx = ctx(&base, &caller);
    if method == Method::GET || method == Method::HEAD {
        let query: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(format!("query parameters: {e}")))?;
        let options = Options::parse(query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| ApiError::BadRequest(e.0))?;
        return Ok(match sensors.read(&steps, &options, &query, &ctx).await? {
            Answer::Json(v) => Json(v).into_response(),
            Answer::Text(t) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], t).into_response(),
        });
    }
    auth::require(&caller, Role::Staff, "changing SensorThings data")?;
    let staff = Ctx { audience: Audience::Staff, ..ctx };
    match method {
        Method::POST if is_batch(&steps) => {
            let links = sensors.create_observations(&json_body(&body)?, &staff).await?;
            Ok((StatusCode::CREATED, Json(json!(links))).into_response())
        }
        Method::POST => {
            let link = sensors.create(&steps, &json_body(&body)?, &staff).await?;
            let created = read_link(&app, &link, &staff).await?;
            Ok((StatusCode::CREATED, [(header::LOCATION, link)], Json(created)).into_response())
        }
        Method::PATCH | Method::PUT => {
            let is_patch_document = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json-patch+json"));
            if method == Method::PATCH && is_patch_document {
                let patch: json_patch::Patch = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::BadRequest(format!("the body is not a JSON Patch: {e}")))?;
                sensors.json_patch(&steps, &patch).await?;
            } else {
                sensors.update(&steps, &json_body(&body)?, method == Method::PUT).await?;
            }
            let now = sensors.read(&steps, &Options::default(), &[], &staff).await?;
            Ok(match now {
                Answer::Json(v) => Json(v).into_response(),
                Answer::Text(t) => t.into_response(),
            })
        }
        Method::DELETE => {
            sensors.delete(&steps).await?;
            Ok(StatusCode::OK.into_response())
        }
        _ => Err(ApiError::MethodNotAllowed(format!("{method} is not a SensorThings method"))),
    }
}

/// Whether the path is the dataArray batch, `CreateObservations`.
fn is_batch(steps: &[Step]) -> bool {
    matches!(steps, [Step::Name(n, None)] if n == "CreateObservations")
}

/// The entity at a self link (just created), as staff see it.
async fn read_link(app: &AppState, link: &str, ctx: &Ctx) -> Result<Value, ApiError> {
    let path = link.strip_prefix(&ctx.base).unwrap_or(link);
    let steps = request::path(path).map_err(|e| ApiError::BadRequest(e.0))?;
    match app.sensors.read(&steps, &Options::default(), &[], ctx).await? {
        Answer::Json(v) => Ok(v),
        Answer::Text(t) => Ok(Value::String(t)),
    }
}
