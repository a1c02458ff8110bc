//! The one place where errors become HTTP responses.
//!
//! Every client error is a 4xx with a JSON body `{"error": code, "message": text}`; internal
//! errors are logged and answered with a generic 500 that reveals nothing. Errors the HTTP stack
//! answers by itself (a body over the size limit, a wrong method) get the same body through
//! [`json_errors`].

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::catalog::CatalogError;
use crate::live::LiveError;
use crate::live::fix::FixError;
use crate::notices::NoticeError;
use crate::ogc::write::{FieldError, Invalid};
use crate::sensors::SensorError;
use crate::store::StoreError;
use crate::tile::TileCoordError;
use crate::users::SignInError;

/// An error as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The resource is in a state that does not take the request (a cancelled notice).
    #[error("{0}")]
    Conflict(String),
    /// The resource changed since the client read it (`If-Match`).
    #[error("{0}")]
    PreconditionFailed(String),
    /// The body does not fit the layer: every problem, with where it is.
    #[error("the feature does not fit the layer: {}", .0.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The body is larger than the route takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not of a media type the route takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many failed attempts: try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// The server cannot take the request now (the store is down); retry.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A code: bad_request, unauthorized, forbidden, not_found, method_not_allowed, conflict,
    /// precondition_failed, payload_too_large, unsupported_media_type, invalid, too_many_requests,
    /// unavailable, internal.
    pub error: &'static str,
    /// What was wrong, for a person.
    pub message: String,
    /// For 422: every problem with the body, with where it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = code(status);
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "the server could not complete the request".to_owned()
            }
            other => other.to_string(),
        };
        let errors = if let ApiError::Invalid(e) = self { Some(e) } else { None };
        let mut response = (status, Json(ErrorBody { error: code, message, errors })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::UnknownLayer(_) => ApiError::NotFound(e.to_string()),
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<SensorError> for ApiError {
    fn from(e: SensorError) -> Self {
        match e {
            SensorError::BadRequest(m) => ApiError::BadRequest(m),
            SensorError::NotFound(m) => ApiError::NotFound(m),
            SensorError::Forbidden(m) => ApiError::Forbidden(m),
            SensorError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            SensorError::NotJpeg(m) => ApiError::UnsupportedMediaType(m),
            SensorError::Store(e) => e.into(),
        }
    }
}

impl From<NoticeError> for ApiError {
    fn from(e: NoticeError) -> Self {
        match e {
            NoticeError::BadRequest(m) => ApiError::BadRequest(m),
            NoticeError::NotFound(m) => ApiError::NotFound(m),
            NoticeError::Conflict(m) => ApiError::Conflict(m),
            NoticeError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoFeature { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Stale { .. } => ApiError::PreconditionFailed(e.to_string()),
            StoreError::Geometry { message, .. } => {
                ApiError::Invalid(vec![FieldError { path: "geometry".into(), message }])
            }
            StoreError::Schema { message, .. } => {
                ApiError::Invalid(vec![FieldError { path: "properties".into(), message }])
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Wrong => ApiError::Unauthorized(e.to_string()),
            SignInError::Locked(_) => ApiError::TooManyRequests(e.to_string()),
            SignInError::Disabled => ApiError::Forbidden(e.to_string()),
        }
    }
}

impl From<FixError> for ApiError {
    fn from(e: FixError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<LiveError> for ApiError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::Bad(e) => e.into(),
            LiveError::UnknownDevice => ApiError::Forbidden(e.to_string()),
            LiveError::Store(e) => e.into(),
            LiveError::Write(_) => ApiError::Unavailable(e.to_string()),
            LiveError::Config(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Invalid(e.0)
    }
}

impl From<TileCoordError> for ApiError {
    fn from(e: TileCoordError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<crate::print::PrintError> for ApiError {
    fn from(e: crate::print::PrintError) -> Self {
        match e {
            crate::print::PrintError::Invalid(m) => ApiError::BadRequest(m),
            e @ crate::print::PrintError::Font { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// The `error` code of a status, the same for [`ApiError`] and for [`json_errors`].
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PRECONDITION_FAILED => "precondition_failed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Gives the errors that axum and tower-http answer by themselves — plain text or no body: a
/// body over the size limit (413), a method a route does not take (405), a body of the wrong
/// media type (415), a failed WebSocket upgrade, a static file that is not there (404) — the
/// JSON body of every other error, keeping their status and headers (`Allow` on a 405).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone(); // shares its bytes: no allocation on the hot path
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|t| t.to_str().is_ok_and(|t| t.starts_with("text/plain")));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!("the body is larger than the limit of {BODY_LIMIT} bytes"),
        StatusCode::METHOD_NOT_ALLOWED => format!("this resource does not take {method} (see the Allow header)"),
        StatusCode::NOT_FOUND if text.is_empty() => format!("no resource at {}", uri.path()),
        // As for `ApiError::Internal`: a server error reveals nothing.
        s if s.is_server_error() || text.is_empty() => s.canonical_reason().unwrap_or("error").to_owned(),
        _ => text,
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = Json(ErrorBody { error: code(status), message, errors: None });
    (parts, body).into_response()
}

/// The largest request body taken: a batch of 10,000 fixes is about 1.5 MB.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
