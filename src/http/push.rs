//! Web Push subscriptions ([`crate::notices::push`]): a resident's browser subscribes for the
//! places, categories and language they choose, and removes everything with one call. No key,
//! no account: the subscription's endpoint is the only handle, and only its holder knows it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::error::ErrorBody;
use super::notices::parse;
use super::{ApiError, AppState};
use crate::notices::push::Subscribe;

/// The body of `DELETE /push/subscriptions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {
    pub endpoint: String,
}

/// `GET /push/vapid-public-key`: the key a browser subscribes with (`applicationServerKey`).
#[utoipa::path(get, path = "/push/vapid-public-key", tag = "notices",
    responses((status = 200, description = "{\"key\": base64url of the P-256 public key}")))]
pub async fn vapid_public_key(State(app): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "key": app.push.public_key() }))
}

/// `POST /push/subscriptions`: subscribes a browser for its places, or changes its choices.
#[utoipa::path(post, path = "/push/subscriptions", tag = "notices", request_body = Subscribe,
    responses((status = 201, description = "subscribed"), (status = 400, body = ErrorBody)))]
pub async fn subscribe(State(app): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let s: Subscribe = parse(&body)?;
    app.push.subscribe(s).await?;
    Ok((StatusCode::CREATED, Json(json!({ "subscribed": true }))).into_response())
}

/// `DELETE /push/subscriptions`: removes a subscription and everything kept for it.
#[utoipa::path(delete, path = "/push/subscriptions", tag = "notices", request_body = Unsubscribe,
    responses((status = 204, description = "removed"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unsubscribe(State(app): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let u: Unsubscribe = parse(&body)?;
    if app.push.unsubscribe(&u.endpoint).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no subscription with this endpoint".into()))
    }
}
