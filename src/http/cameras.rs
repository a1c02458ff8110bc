//! Camera images ([`crate::sensors::camera`]): a camera posts a JPEG with its device
//! credential (or staff with a key); everyone who may see the camera reads its latest image,
//! its hourly history, and each kept image. A kept image never changes, so it is cacheable for
//! a day; the latest is revalidated by its ETag (the SHA-256 of its bytes).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::ErrorBody;
use super::sta::{StaCaller, sta_caller};
use super::{ApiError, AppState, Params, auth};
use crate::auth::{Caller, Role};
use crate::catalog::Audience;
use crate::store::cameras::ImageRow;

/// A kept image, with where to get it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImageOut {
    pub id: i64,
    pub camera: i64,
    /// When the camera took it (UTC).
    pub taken_at: String,
    pub received_at: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    /// The image, relative to the server's root.
    pub url: String,
}

fn out(i: ImageRow) -> ImageOut {
    ImageOut {
        url: format!("/sensors/cameras/{}/images/{}.jpg", i.thing, i.id),
        id: i.id,
        camera: i.thing,
        taken_at: i.taken_at,
        received_at: i.received_at,
        bytes: i.bytes,
        width: i.width,
        height: i.height,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PostParams {
    /// When the camera took the image (ISO 8601); default: when it arrives.
    pub time: Option<String>,
}

/// The answer to a posted image.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Posted {
    #[serde(flatten)]
    pub image: ImageOut,
    /// Whether it is the image kept for its hour (false: the camera had already sent a newer
    /// one of that hour, which stays).
    pub kept: bool,
}

/// `POST /sensors/cameras/{id}/images`: a still from a camera (`image/jpeg`).
#[utoipa::path(post, path = "/sensors/cameras/{id}/images", tag = "sensors", params(("id" = i64, Path), PostParams),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = Posted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
pub async fn post(
    State(app): State<AppState>,
    Path(thing): Path<i64>,
    Params(p): Params<PostParams>,
    request: axum::http::request::Parts,
    body: Bytes,
) -> Result<Response, ApiError> {
    match sta_caller(&app, &request.headers, &request.extensions).await? {
        StaCaller::Key(caller) => auth::require(&caller, Role::Staff, "posting a camera image")?,
        StaCaller::Device(d) if d.thing != thing => {
            return Err(ApiError::Forbidden(format!(
                "device {} belongs to Things({}), not to Things({thing})",
                d.id, d.thing
            )));
        }
        StaCaller::Device(_) => {}
    }
    let max = app.config.sensors.max_image_bytes();
    let (image, kept) = app.sensors.add_image(thing, &body, p.time.as_deref(), max, chrono::Utc::now()).await?;
    let image = out(image);
    Ok((StatusCode::CREATED, [(header::LOCATION, image.url.clone())], Json(Posted { image, kept })).into_response())
}

/// `GET /sensors/cameras/{id}/images`: the kept images, newest first (the latest, then one an
/// hour for `[sensors] image_days`).
#[utoipa::path(get, path = "/sensors/cameras/{id}/images", tag = "sensors", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ImageOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(thing): Path<i64>,
) -> Result<Json<Vec<ImageOut>>, ApiError> {
    let images = app.sensors.images(thing, caller.widest_audience(), app.config.sensors.image_days).await?;
    Ok(Json(images.into_iter().map(out).collect()))
}

/// `GET /sensors/cameras/{id}/latest.jpg`: the camera's latest image.
#[utoipa::path(get, path = "/sensors/cameras/{id}/latest.jpg", tag = "sensors", params(("id" = i64, Path)),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 304, description = "not modified"),
              (status = 404, body = ErrorBody)))]
pub async fn latest(
    State(app): State<AppState>,
    caller: Caller,
    Path(thing): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let audience = caller.widest_audience();
    let (row, data) = app.sensors.image(thing, None, audience).await?;
    Ok(jpeg(&row, data, &headers, audience, false))
}

/// `GET /sensors/cameras/{id}/images/{image}.jpg`: one kept image (it never changes).
#[utoipa::path(get, path = "/sensors/cameras/{id}/images/{image}", tag = "sensors",
    params(("id" = i64, Path), ("image" = String, Path, description = "the image's id, with .jpg")),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 304, description = "not modified"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn image(
    State(app): State<AppState>,
    caller: Caller,
    Path((thing, image)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id: i64 = image
        .strip_suffix(".jpg")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::BadRequest(format!("an image path is {{id}}.jpg, got {image:?}")))?;
    let audience = caller.widest_audience();
    let (row, data) = app.sensors.image(thing, Some(id), audience).await?;
    Ok(jpeg(&row, data, &headers, audience, true))
}

/// An image answer: ETag, the time it was taken, and a cache policy by audience and by whether
/// it can change (`fixed`: a kept image; otherwise the latest, which the next post replaces).
fn jpeg(row: &ImageRow, data: Vec<u8>, headers: &HeaderMap, audience: Audience, fixed: bool) -> Response {
    let etag = format!("\"{}\"", row.sha256);
    let cache = match (audience, fixed) {
        (Audience::Staff, _) => "private, no-cache",
        (_, true) => "public, max-age=86400, immutable",
        (_, false) => "public, max-age=30, stale-while-revalidate=60",
    };
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header"));
    h.insert("x-taken-at", HeaderValue::from_str(&row.taken_at).expect("an ISO time is a valid header"));
    let modified = chrono::DateTime::parse_from_rfc3339(&row.received_at)
        .map(|t| t.to_utc().format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .ok()
        .and_then(|t| HeaderValue::from_str(&t).ok());
    if let Some(m) = modified {
        h.insert(header::LAST_MODIFIED, m);
    }
    if super::tiles::if_none_match(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    (h, data).into_response()
}
