//! Notices to residents ([`crate::notices`]): staff write, publish, update and cancel them;
//! everyone reads the JSON feed (`GET /notices`), the Atom feed (`GET /notices.atom`) and each
//! notice's CAP 1.2 message (`GET /notices/{id}.cap`). Public answers carry an ETag and may be
//! kept for 30 seconds, so a storm of residents costs one render per half minute.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::require;
use super::error::ErrorBody;
use super::{ApiError, AppState, BaseUrl, Params};
use crate::auth::{Caller, Role};
use crate::notices::model::{Draft, Patch, Source, Status};
use crate::notices::{Stored, cap, feed};

const PUBLIC_CACHE: &str = "public, max-age=30, stale-while-revalidate=30";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Every notice — drafts, cancelled and ended ones too — with its audit log (staff).
    #[serde(default)]
    pub all: bool,
}

/// An answer that may be kept (public) or not (staff), with an ETag of its bytes; a 304 when
/// the client has them.
fn cacheable(headers: &HeaderMap, caller: &Caller, content_type: &'static str, body: Vec<u8>) -> Response {
    let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&body));
    let mut h = HeaderMap::new();
    let policy = if caller.role >= Role::Staff { "private, no-cache" } else { PUBLIC_CACHE };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header"));
    if super::tiles::if_none_match(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (h, body).into_response()
}

/// A JSON body; an error names the member that was wrong (`category: unknown variant …`).
pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| match e.path().to_string().as_str() {
        "." => ApiError::BadRequest(format!("the body: {}", e.inner())),
        path => ApiError::BadRequest(format!("the body: {path}: {}", e.inner())),
    })
}

/// `{id}` or `{id}.cap` of a notice path.
fn notice_path(file: &str) -> Result<(i64, bool), ApiError> {
    let (id, cap) = match file.strip_suffix(".cap") {
        Some(id) => (id, true),
        None => (file, false),
    };
    let id = id.parse().map_err(|_| {
        ApiError::NotFound(format!("no notice {file:?} (a notice is /notices/{{id}} or /notices/{{id}}.cap)"))
    })?;
    Ok((id, cap))
}

/// The version `If-Match` asks for (`"3"`).
fn version(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    super::edit::if_match(headers)
        .map(|v| {
            v.trim_matches('"').parse().map_err(|_| ApiError::PreconditionFailed(format!("no notice has the ETag {v}")))
        })
        .transpose()
}

/// A notice's JSON answer, with its version as the ETag.
fn one(status: StatusCode, s: &Stored, base: &str, audit: Option<Value>) -> Response {
    let mut body = feed::notice_json(s, base);
    if let Some(a) = audit {
        body["audit"] = a;
    }
    let mut r = (status, Json(body)).into_response();
    let etag = HeaderValue::from_str(&format!("\"{}\"", s.version)).expect("a number is a valid header");
    r.headers_mut().insert(header::ETAG, etag);
    if status == StatusCode::CREATED {
        let location = HeaderValue::from_str(&format!("{base}/notices/{}", s.id)).expect("a URL is a valid header");
        r.headers_mut().insert(header::LOCATION, location);
    }
    r
}

/// `POST /notices`: writes a notice — published at once (a CAP Alert, pushed) unless its
/// `status` is `draft` (staff).
#[utoipa::path(post, path = "/notices", tag = "notices", security(("api_key" = [])), request_body = Draft,
    responses((status = 201, description = "the notice, with its ETag and Location"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, Role::Staff, "writing a notice")?;
    let draft: Draft = parse(&body)?;
    let s = app.notices.create(draft, Source::Staff, &caller.actor()).await?;
    Ok(one(StatusCode::CREATED, &s, &base, None))
}

/// `GET /notices`: the JSON Feed 1.1 of current notices (published, not ended); with
/// `all=true`, staff get every notice with its audit log and push delivery counts.
#[utoipa::path(get, path = "/notices", tag = "notices", params(ListParams),
    responses((status = 200, content_type = "application/feed+json", description = "JSON Feed 1.1"),
              (status = 304, description = "not modified"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Params(p): Params<ListParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let notices = if p.all {
        require(&caller, Role::Staff, "every notice")?;
        app.notices.all().await?
    } else {
        app.notices.current().await?
    };
    // Staff also see each notice's audit log and push deliveries (sent, failed, gone, pending).
    let mut extra = std::collections::HashMap::new();
    if p.all {
        let counts: std::collections::HashMap<_, _> = app.store.delivery_counts().await?.into_iter().collect();
        for s in &notices {
            let audit = app.notices.audit(s.id).await?;
            extra.insert(s.id, json!({ "audit": audit, "delivery": counts.get(&s.id).cloned().unwrap_or_default() }));
        }
    }
    let sender = app.notices.sender(&base);
    let feed = feed::json_feed(&notices, &sender, |s| extra.get(&s.id).cloned());
    let body = serde_json::to_vec(&feed).expect("a feed serialises");
    Ok(cacheable(&headers, &caller, "application/feed+json", body))
}

/// `GET /notices.atom`: the Atom feed of current notices, each entry with its CAP fields and a
/// link to its CAP message.
#[utoipa::path(get, path = "/notices.atom", tag = "notices",
    responses((status = 200, content_type = "application/atom+xml", description = "Atom 1.0 (CAP-over-Atom)"),
              (status = 304, description = "not modified")))]
pub async fn atom(
    State(app): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let notices = app.notices.current().await?;
    let updated = notices.iter().map(|s| s.updated_at.as_str()).max().unwrap_or("1970-01-01T00:00:00Z");
    let xml = feed::atom(&notices, &app.notices.sender(&base), app.notices.city_code(), updated);
    Ok(cacheable(&headers, &caller, "application/atom+xml; charset=utf-8", xml.into_bytes()))
}

/// `GET /notices/{id}` (JSON; staff also get drafts and the audit log) or `/notices/{id}.cap`
/// (the CAP 1.2 message: the latest Alert, Update or Cancel).
#[utoipa::path(get, path = "/notices/{file}", tag = "notices",
    params(("file" = String, Path, description = "the notice's id, or its id with .cap")),
    responses((status = 200, description = "the notice (JSON) or its CAP 1.2 message (application/cap+xml)"),
              (status = 304, description = "not modified"), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (id, as_cap) = notice_path(&file)?;
    let s = app.notices.get(id).await?;
    let staff = caller.role >= Role::Staff;
    // The public sees what went out (its last message), never a draft.
    if !staff && s.messages.is_empty() {
        return Err(ApiError::NotFound(format!("no notice {id}")));
    }
    if as_cap {
        let xml = cap::alert(&s, &app.notices.sender(&base), app.notices.city_code())
            .ok_or_else(|| ApiError::NotFound(format!("notice {id} is a draft: it has no CAP message yet")))?;
        return Ok(cacheable(&headers, &caller, cap::MEDIA_TYPE, xml.into_bytes()));
    }
    if staff {
        let audit = serde_json::to_value(app.notices.audit(id).await?).expect("audit serialises");
        return Ok(one(StatusCode::OK, &s, &base, Some(audit)));
    }
    let body = serde_json::to_vec(&feed::notice_json(&s, &base)).expect("a notice serialises");
    Ok(cacheable(&headers, &caller, "application/json", body))
}

/// `PATCH /notices/{id}`: changes a notice; a published one goes out again as a CAP Update,
/// `{"status": "published"}` publishes a draft (staff). `If-Match` makes it conditional.
#[utoipa::path(patch, path = "/notices/{file}", tag = "notices", security(("api_key" = [])), request_body = Patch,
    params(("file" = String, Path, description = "the notice's id"), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "the notice"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 412, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, Role::Staff, "changing a notice")?;
    let (id, _) = notice_path(&file)?;
    let patch: Patch = parse(&body)?;
    let s = app.notices.update(id, patch, version(&headers)?, &caller.actor()).await?;
    Ok(one(StatusCode::OK, &s, &base, None))
}

/// `DELETE /notices/{id}`: cancels a notice; a published one goes out as a CAP Cancel. The
/// notice stays readable, cancelled (staff).
#[utoipa::path(delete, path = "/notices/{file}", tag = "notices", security(("api_key" = [])),
    params(("file" = String, Path, description = "the notice's id"), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "the cancelled notice"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
pub async fn cancel(
    State(app): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&caller, Role::Staff, "cancelling a notice")?;
    let (id, _) = notice_path(&file)?;
    let s = app.notices.cancel(id, version(&headers)?, &caller.actor()).await?;
    debug_assert_eq!(s.status, Status::Cancelled);
    Ok(one(StatusCode::OK, &s, &base, None))
}
