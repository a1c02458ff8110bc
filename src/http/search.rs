//! `GET /search?q=…[&layers][&limit][&offset]`: parcels by 地番 and features by name, ranked
//! ([`crate::search`]), as GeoJSON in WGS 84 with `layer`, `score` and `matched` (the
//! attribute that matched) on each feature, and `numberMatched` for paging.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::error::ErrorBody;
use super::query::{collection, layers};
use super::{ApiError, AppState, Params};
use crate::auth::Caller;

/// Results per page when no `limit` is given, and the most allowed.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: String,
    layers: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams),
    responses((status = 200, description = "parcels by 地番 and features by name, ranked"), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<SearchParams>,
) -> Result<Response, ApiError> {
    if p.q.trim().is_empty() || p.q.chars().count() > 200 {
        return Err(ApiError::BadRequest("q must be 1 to 200 characters".into()));
    }
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}, got {limit}")));
    }
    let offset = p.offset.unwrap_or(0);
    let layers = layers(&app, p.layers.as_deref(), &caller)?;
    let found = crate::search::search(&layers, &p.q, offset, limit);
    let audience = |id: &str| layers.iter().find(|(l, _)| l.def.id.as_str() == id).map(|(_, a)| *a);
    let page = found.page.iter().filter_map(|f| {
        let members = vec![("score", json!(f.score)), ("matched", json!(f.attribute))];
        Some((f.layer, audience(f.layer.def.id.as_str())?, &f.feature, members))
    });
    collection(&app, page, json!({"q": p.q, "numberMatched": found.matched}))
}
