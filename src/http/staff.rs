//! The staff area: signing in to the staff map (`POST /staff/session`), who is signed in and the
//! CSRF token (`GET /staff/session`), signing out (`DELETE /staff/session`), and the whole API
//! again under `/staff/api/…` for signed-in staff ([`staff_area`]). Thin handlers over
//! [`crate::users`].
//!
//! The cookie is `HttpOnly` (scripts cannot read it), `SameSite=Strict` (other sites cannot
//! make the browser send it), `Path=/staff` (the public map on the same site never sends it, so
//! it stays public in a staff member's browser too), lives as long as the session, and is
//! `Secure` when the request came over TLS (`X-Forwarded-Proto: https` from the TLS-terminating
//! proxy). A sign-in whose `Origin` is another site is refused, so that no page can sign a
//! browser in as someone else.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{SESSION_COOKIE, check_csrf, key_caller, require, session, session_token};
use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::auth::{Caller, Role};
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
        .path("/staff")
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
pub async fn current(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let s = session(&headers, &app).await?.ok_or_else(|| ApiError::Unauthorized("not signed in".into()))?;
    let mut response = Json(session_body(&s.user, &s.csrf)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /staff/session`: signs out (with the CSRF token); clears the cookie.
#[utoipa::path(delete, path = "/staff/session", tag = "staff",
    responses((status = 204, description = "signed out"), (status = 403, description = "no CSRF token", body = ErrorBody)))]
pub async fn sign_out(State(app): State<AppState>, method: Method, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(s) = session(&headers, &app).await? {
        check_csrf(&method, &headers, &s.csrf)?;
        let token = session_token(&headers).expect("a session has a cookie");
        app.store.end_session(&crate::auth::hash_token(&token)).await?;
        tracing::info!(user = %s.user.name, "signed out");
    }
    let clear = cookie(&headers, "", cookie::time::Duration::ZERO);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// Where the staff map finds the API.
pub const API_PREFIX: &str = "/staff/api";

/// Marks a request as made in the staff area (links in answers then point under
/// [`API_PREFIX`]).
#[derive(Debug, Clone, Copy)]
pub struct StaffArea;

/// The staff area's gate, before every `/staff/api/…` route: the caller is who the session
/// cookie (or an API key) says, staff at least — anyone else gets a 401 or 403 and nothing of
/// the route — and a write made with the cookie must carry the CSRF token.
pub async fn staff_area(
    State(app): State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let caller = if headers.contains_key(header::AUTHORIZATION) {
        key_caller(headers, &app).await?
    } else {
        match session(headers, &app).await? {
            Some(s) => {
                check_csrf(request.method(), headers, &s.csrf)?;
                Caller::signed_in(&s.user)
            }
            None => Caller::ANONYMOUS,
        }
    };
    require(&caller, Role::Staff, "the staff map's API")?;
    request.extensions_mut().insert(caller);
    request.extensions_mut().insert(StaffArea);
    Ok(next.run(request).await)
}
