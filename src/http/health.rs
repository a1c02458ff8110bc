//! `GET /health`: whether the server and its store answer, and what is loaded.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;

#[utoipa::path(get, path = "/health", tag = "server",
    responses((status = 200, description = "status of the server and its store")))]
pub async fn health(State(app): State<AppState>) -> Json<Value> {
    let store = app.store.health().await;
    let features: usize =
        app.config.catalog.layers().iter().filter_map(|l| app.engine.layer(l.id.as_str())).map(|d| d.len()).sum();
    Json(json!({
        "status": if store.ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "store": store,
        "features_in_memory": features,
        "tile_cache_entries": app.engine.cache().entry_count(),
    }))
}
