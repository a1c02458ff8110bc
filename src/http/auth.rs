//! Establishes the [`Caller`] of a request from its `Authorization: Bearer` header, and resolves
//! layer lists for that caller.
//!
//! No header is the anonymous public caller. A header that is not a valid, unrevoked key is a
//! 401 — never a silent fall back to public, so that a system with a mistyped or revoked key
//! finds out at once. Keys are looked up in the store on every request, so a revocation takes
//! effect on the next request in every server process.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::auth::{Caller, Role, hash_token};
use crate::catalog::{Audience, Catalog, CatalogError, LayerDef};

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else { return Ok(Caller::ANONYMOUS) };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be \"Bearer <key>\"".into()))?;
        let key = app
            .store
            .key_by_hash(&hash_token(token))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))?;
        if let Some(at) = &key.revoked_at {
            return Err(ApiError::Unauthorized(format!("API key {} was revoked at {at}", key.id)));
        }
        Ok(Caller::with_key(key))
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
    } else if caller.key.is_none() {
        Err(ApiError::Unauthorized(format!("{what} needs an API key with the {} role", role.as_str())))
    } else {
        Err(ApiError::Forbidden(format!("{what} is for keys with the {} role", role.as_str())))
    }
}
