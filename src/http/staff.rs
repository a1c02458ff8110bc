//! Signing in to the staff map: `POST /staff/session` (sign in), `GET /staff/session` (who is
//! signed in, and the CSRF token), `DELETE /staff/session` (sign out). Thin handlers over
//! [`crate::users`]; the session cookie is read by [`super::auth`] on every request.
//!
//! The cookie is `HttpOnly` (scripts cannot read it), `SameSite=Strict` (other sites cannot
//! make the browser send it), `Path=/`, lives as long as the session, and is `Secure` when the
//! request came over TLS (`X-Forwarded-Proto: https` from the TLS-terminating proxy). A sign-in
//! whose `Origin` is another site is refused, so that no page can sign a browser in as someone
//! else.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{SESSION_COOKIE, check_csrf, session, session_token};
use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::live::iso;
use crate::users::{self, User};

/// A sign-in.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    name: String,
    password: String,
}

fn session_body(user: &User, csrf: &str) -> Value {
    json!({
        "user": { "name": user.name, "display_name": user.display_name, "role": user.role },
        "csrf": csrf,
    })
}

/// Whether the request came over TLS (to the proxy in front of machizu).
fn over_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The session cookie: `value` for `max_age`, or an expired one to clear it.
fn cookie(headers: &HeaderMap, value: &str, max_age: cookie::time::Duration) -> HeaderValue {
    let c = cookie::Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(over_tls(headers))
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&c.to_string()).expect("a cookie of hex is a valid header")
}

/// Refuses a sign-in posted from a page of another site.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
    if origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("a sign-in must come from this site's own page, not from {origin}")))
    }
}

/// `POST /staff/session`: signs in with a user name and password; sets the session cookie.
#[utoipa::path(post, path = "/staff/session", tag = "staff", request_body = SignIn,
    responses((status = 200, description = "signed in: the account and the session's CSRF token; Set-Cookie"),
              (status = 401, description = "wrong user name or password", body = ErrorBody),
              (status = 403, description = "disabled account, or posted from another site", body = ErrorBody),
              (status = 429, description = "locked after too many failures", body = ErrorBody)))]
pub async fn sign_in(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let SignIn { name, password } = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("a sign-in is {{\"name\": …, \"password\": …}}: {e}")))?;
    let user = users::sign_in(app.store.as_ref(), &name, &password).await?;
    let new = users::start_session(app.store.as_ref(), &user).await?;
    tracing::info!(user = %user.name, "signed in");
    let max_age = cookie::time::Duration::hours(users::SESSION_HOURS);
    let mut body = session_body(&user, &new.csrf);
    body["expires_at"] = json!(iso(new.expires_at));
    let mut response = Json(body).into_response();
    let h = response.headers_mut();
    h.insert(header::SET_COOKIE, cookie(&headers, &new.token, max_age));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /staff/session`: the signed-in account and its CSRF token (401 when not signed in).
#[utoipa::path(get, path = "/staff/session", tag = "staff",
    responses((status = 200, description = "the account and the session's CSRF token"),
              (status = 401, description = "not signed in", body = ErrorBody)))]
pub async fn current(State(app): State<AppState>, request: axum::extract::Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let s = session(&parts, &app).await?.ok_or_else(|| ApiError::Unauthorized("not signed in".into()))?;
    let mut response = Json(session_body(&s.user, &s.csrf)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /staff/session`: signs out (with the CSRF token); clears the cookie.
#[utoipa::path(delete, path = "/staff/session", tag = "staff",
    responses((status = 204, description = "signed out"), (status = 403, description = "no CSRF token", body = ErrorBody)))]
pub async fn sign_out(State(app): State<AppState>, request: axum::extract::Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    if let Some(s) = session(&parts, &app).await? {
        check_csrf(&parts, &s.csrf)?;
        let token = session_token(&parts.headers).expect("a session has a cookie");
        app.store.end_session(&crate::auth::hash_token(&token)).await?;
        tracing::info!(user = %s.user.name, "signed out");
    }
    let clear = cookie(&parts.headers, "", cookie::time::Duration::ZERO);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}
