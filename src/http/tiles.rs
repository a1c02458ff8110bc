//! Vector tiles and TileJSON.
//!
//! `GET /tiles/{layers}/{z}/{x}/{y}.mvt`: validates the path (each part gets its own error
//! message), resolves the layers for the caller's audience, and asks the engine for the tile
//! off the async workers. Answers 204 for an empty tile, 304 when `If-None-Match` matches,
//! and gzip when the client accepts it; `X-Cache` says whether the tile came from the cache.
//! `GET /tiles/{layers}.json` describes the same tiles.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ErrorBody;
use super::{ApiError, AppState, BaseUrl, auth};
use crate::auth::Caller;
use crate::catalog::{Audience, LabelDef};
use crate::tile::TileCoord;

const MVT_TYPE: &str = "application/vnd.mapbox-vector-tile";

fn parse_part(name: &str, value: &str) -> Result<u64, ApiError> {
    value
        .parse::<u64>()
        .map_err(|_| ApiError::BadRequest(format!("{name} must be a non-negative whole number, got {value:?}")))
}

#[utoipa::path(get, path = "/tiles/{layers}/{z}/{x}/{y}", tag = "tiles",
    params(("layers" = String, Path, description = "comma-separated layer ids, e.g. roads,parcels"),
           ("z" = u32, Path), ("x" = u32, Path), ("y" = String, Path, description = "row, with .mvt")),
    responses((status = 200, description = "Mapbox Vector Tile", content_type = "application/vnd.mapbox-vector-tile"),
              (status = 204, description = "empty tile"), (status = 304, description = "not modified"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn tile(
    State(app): State<AppState>,
    caller: Caller,
    Path((layers, z, x, y)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let y = y
        .strip_suffix(".mvt")
        .or_else(|| y.strip_suffix(".pbf"))
        .ok_or_else(|| ApiError::BadRequest(format!("a tile path ends in {{y}}.mvt, got {y:?}")))?;
    let (z, x, y) = (parse_part("z", &z)?, parse_part("x", &x)?, parse_part("y", y)?);
    let catalog = app.engine.catalog();
    let (defs, audience) = auth::resolve(&catalog, &layers, &caller)?;
    let max = defs.iter().map(|d| d.maxzoom).max().unwrap_or(0);
    let coord = TileCoord::new_with_max(u32::try_from(z).unwrap_or(u32::MAX), x, y, max)?;
    let live = defs.iter().any(|d| d.live);
    let ids: Vec<String> = defs.iter().map(|d| d.id.to_string()).collect();

    let want_gzip = accepts_gzip(&headers);
    let cached = app.engine.cached(&ids, coord, audience);
    let hit = cached.is_some();
    let metrics = crate::metrics::global();
    let cache = if hit { "hit" } else { "miss" };
    metrics.tiles.get_or_create(&crate::metrics::TileLabels { zoom: coord.z, cache }).inc();
    let tile = match cached {
        Some(tile) if !want_gzip || tile.is_empty() || tile.has_gzip() => tile,
        _ => {
            // Rendering and compressing are CPU work: keep them off the async workers, and
            // take turns for a render slot (see `App::render_slots`).
            let waiting = std::time::Instant::now();
            let _slot = app.render_slots.acquire().await.expect("the semaphore is never closed");
            metrics.render_slot_wait.observe(waiting.elapsed().as_secs_f64());
            let engine = app.engine.clone();
            tokio::task::spawn_blocking(move || {
                let tile = engine.tile(&ids, coord, audience);
                if want_gzip && !tile.is_empty() {
                    tile.gzip();
                }
                tile
            })
            .await?
        }
    };

    let gzip = want_gzip && !tile.is_empty();
    let etag = if gzip { tile.gzip_etag() } else { tile.etag.clone() };
    let mut h = HeaderMap::new();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding, authorization"));
    // Live layers change every second; the rest can be reused briefly and revalidated. Staff
    // tiles are for the caller alone: no shared cache (CDN, proxy) may keep them.
    let cache = match (audience, live) {
        (Audience::Staff, _) => "private, no-cache",
        (_, true) => "no-cache",
        _ => "public, max-age=60, stale-while-revalidate=600",
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex etag is a valid header"));
    // Whether the tile came from machizu's tile cache (for operators, load tests and tests).
    h.insert("x-cache", HeaderValue::from_static(if hit { "HIT" } else { "MISS" }));
    if if_none_match(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    if tile.is_empty() {
        return Ok((StatusCode::NO_CONTENT, h).into_response());
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT_TYPE));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        Ok((h, tile.gzip()).into_response())
    } else {
        Ok((h, tile.raw.clone()).into_response())
    }
}

/// The comma-separated items of every `name` header, trimmed.
fn header_items(headers: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = &str> {
    headers.get_all(name).into_iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim)
}

/// Whether `Accept-Encoding` allows gzip (present and not `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    header_items(headers, header::ACCEPT_ENCODING).any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
    })
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for GET).
pub(super) fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    header_items(headers, header::IF_NONE_MATCH).any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

#[utoipa::path(get, path = "/tiles/{spec}", tag = "tiles",
    params(("spec" = String, Path, description = "layer ids with .json, e.g. roads,parcels.json")),
    responses((status = 200, description = "TileJSON 3.0"), (status = 404, body = ErrorBody)))]
pub async fn tilejson(
    State(app): State<AppState>,
    caller: Caller,
    Path(spec): Path<String>,
    BaseUrl(base_url): BaseUrl,
) -> Result<Json<Value>, ApiError> {
    let layers = spec.strip_suffix(".json").ok_or_else(|| {
        ApiError::NotFound(format!("no resource /tiles/{spec}; TileJSON is at /tiles/{{layers}}.json"))
    })?;
    let catalog = app.engine.catalog();
    let (defs, audience) = auth::resolve(&catalog, layers, &caller)?;
    let ids: Vec<&str> = defs.iter().map(|d| d.id.as_str()).collect();
    let city = &app.config.city;
    let mut bounds: Option<[f64; 4]> = None;
    for d in &defs {
        if let Some(b) = app.engine.layer(d.id.as_str()).and_then(|l| l.bounds) {
            bounds = Some(bounds.map_or(b, |a| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]));
        }
    }
    let mut vector_layers: Vec<Value> = Vec::new();
    for d in &defs {
        let fields = |label: Option<&LabelDef>| -> serde_json::Map<String, Value> {
            d.visible_attributes(audience)
                .filter(|(_, a)| label.is_none_or(|l| a.name == l.text || l.text_en.as_ref() == Some(&a.name)))
                .map(|(_, a)| (a.name.clone(), json!(a.kind.tilejson_type())))
                .collect()
        };
        vector_layers.push(json!({
            "id": d.id,
            "description": format!("{} / {}", d.title.ja, d.title.en),
            "minzoom": d.minzoom,
            "maxzoom": d.maxzoom,
            "fields": fields(None),
        }));
        if let Some(label) = d.label_points_at(d.maxzoom) {
            vector_layers.push(json!({
                "id": d.label_layer_name(),
                "description": format!("{}（ラベル位置） / {} (label points)", d.title.ja, d.title.en),
                "minzoom": label.minzoom.min(label.print_minzoom.unwrap_or(label.minzoom)).max(d.minzoom),
                "maxzoom": d.maxzoom,
                "fields": fields(Some(label)),
            }));
        }
    }
    let mut attribution = format!("© {} / {}", city.name_ja, city.name_en);
    if let Some(notice) = &app.dataset_notice {
        attribution = format!("{attribution} — {notice}");
    }
    Ok(Json(json!({
        "tilejson": "3.0.0",
        "name": format!("machizu: {}", ids.join(",")),
        "attribution": attribution,
        "scheme": "xyz",
        "tiles": [format!("{}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", base_url, ids.join(","))],
        "minzoom": defs.iter().map(|d| d.minzoom).min(),
        "maxzoom": defs.iter().map(|d| d.maxzoom).max(),
        "bounds": bounds.unwrap_or(city.bounds),
        "center": [city.center[0], city.center[1], city.zoom],
        "vector_layers": vector_layers,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&h(header::ACCEPT_ENCODING, "gzip, deflate, br")));
        assert!(accepts_gzip(&h(header::ACCEPT_ENCODING, "br;q=1.0, gzip;q=0.8")));
        assert!(!accepts_gzip(&h(header::ACCEPT_ENCODING, "gzip;q=0")));
        assert!(!accepts_gzip(&h(header::ACCEPT_ENCODING, "identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn etag_matching() {
        assert!(if_none_match(&h(header::IF_NONE_MATCH, "\"a\", \"b\""), "\"b\""));
        assert!(if_none_match(&h(header::IF_NONE_MATCH, "W/\"b\""), "\"b\""));
        assert!(!if_none_match(&h(header::IF_NONE_MATCH, "\"a\""), "\"b\""));
    }
}
