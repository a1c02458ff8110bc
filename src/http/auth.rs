//! Establishes the [`Caller`] of a request from its `Authorization` header (a bearer key, or HTTP
//! Basic with the key as the password) or the staff
//! map's session cookie, and resolves layer lists for that caller.
//!
//! No header is the anonymous public caller. A header that is not a valid, unrevoked key is a
//! 401 — never a silent fall back to public, so that a system with a mistyped or revoked key
//! finds out at once. The session cookie counts only in the staff area (`/staff/api/…`, see
//! [`super::staff`]), which establishes the caller before the handler runs; everywhere else a
//! request is what its key makes it. Keys and sessions are looked up in the store on every
//! request, so a revocation or sign-out takes effect at once in every server process.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};

use super::{ApiError, AppState};
use crate::auth::{Caller, Role, hash_token};
use crate::catalog::{Audience, Catalog, CatalogError, LayerDef};
use crate::users::{self, Session};

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        // The staff area established the caller already (key or session, and CSRF).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        key_caller(&parts.headers, app).await
    }
}

/// The credential in a request's `Authorization` header, if any: `Bearer <credential>`, or
/// HTTP Basic with the credential as the password (what SensorThings clients such as FROST's
/// send; the user name is not checked).
pub fn credential(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else { return Ok(None) };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            match scheme.to_ascii_lowercase().as_str() {
                "bearer" => Some(rest.trim().to_owned()),
                "basic" => {
                    use base64::Engine;
                    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
                    let text = String::from_utf8(decoded).ok()?;
                    text.split_once(':').map(|(_, password)| password.to_owned())
                }
                _ => None,
            }
        })
        .map(Some)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "the Authorization header must be \"Bearer <key>\" or Basic with the key as password".into(),
            )
        })
}

/// The caller of a request's API key ([`credential`]; anonymous without one).
pub async fn key_caller(headers: &HeaderMap, app: &AppState) -> Result<Caller, ApiError> {
    let Some(token) = credential(headers)? else { return Ok(Caller::ANONYMOUS) };
    let key = app
        .store
        .key_by_hash(&hash_token(&token))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))?;
    if let Some(at) = &key.revoked_at {
        return Err(ApiError::Unauthorized(format!("API key {} was revoked at {at}", key.id)));
    }
    Ok(Caller::with_key(key))
}

/// The name of the staff map's session cookie.
pub const SESSION_COOKIE: &str = "machizu_session";

/// The live session named by the request's cookie, if any.
pub async fn session(headers: &HeaderMap, app: &AppState) -> Result<Option<Session>, ApiError> {
    let Some(token) = session_token(headers) else { return Ok(None) };
    users::session(app.store.as_ref(), &token).await.map_err(|e| ApiError::Internal(e.to_string()))
}

/// The session token in the request's `Cookie` headers.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// A request that may change something (not GET, HEAD or OPTIONS) must echo the session's CSRF
/// token: a page on another site can make a browser send the cookie (were it not
/// `SameSite=Strict`), never read the token.
pub fn check_csrf(method: &Method, headers: &HeaderMap, csrf: &str) -> Result<(), ApiError> {
    use sha2::{Digest, Sha256};
    if method.is_safe() {
        return Ok(());
    }
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    // Compared as hashes, so that the time taken says nothing about the token.
    if Sha256::digest(sent.as_bytes()) == Sha256::digest(csrf.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "a change made with the staff sign-in needs its CSRF token in the X-CSRF-Token header (GET /staff/session gives it)"
                .into(),
        ))
    }
}

/// Resolves a comma-separated layer list for `caller`: each layer must exist and be visible to
/// what the caller sees of it (a hidden layer is reported as unknown). Returns the layers and
/// the audience for all of them together.
pub fn resolve<'a>(
    catalog: &'a Catalog,
    list: &str,
    caller: &Caller,
) -> Result<(Vec<&'a LayerDef>, Audience), ApiError> {
    let defs = catalog.resolve(list, caller.widest_audience())?;
    if let Some(hidden) = defs.iter().find(|l| !l.visible_to(caller.audience(l))) {
        return Err(CatalogError::UnknownLayer(hidden.id.to_string()).into());
    }
    let audience = caller.audience_for_all(defs.iter().copied());
    Ok((defs, audience))
}

/// The layer `id`, if `caller` may see it (else 404, as if it did not exist), and what the
/// caller sees of it.
pub fn layer<'a>(catalog: &'a Catalog, id: &str, caller: &Caller) -> Result<(&'a LayerDef, Audience), ApiError> {
    match catalog.get(id) {
        Some(l) if l.visible_to(caller.audience(l)) => Ok((l, caller.audience(l))),
        _ => Err(CatalogError::UnknownLayer(id.to_owned()).into()),
    }
}

/// Checks that the caller has at least `role` for `what`: a 401 without a key, a 403 with a
/// lesser one.
pub fn require(caller: &Caller, role: Role, what: &str) -> Result<(), ApiError> {
    if caller.role >= role {
        Ok(())
    } else if caller.is_anonymous() {
        Err(ApiError::Unauthorized(format!("{what} needs an API key or a sign-in with the {} role", role.as_str())))
    } else {
        Err(ApiError::Forbidden(format!("{what} is for the {} role", role.as_str())))
    }
}
