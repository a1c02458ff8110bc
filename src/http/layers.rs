//! `GET /layers`: the catalog as the caller may see it (staff see staff-only layers and attributes) — layers, titles in Japanese and
//! English, geometry, zoom range, public attributes, feature counts and bounds.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::auth::Caller;
use crate::catalog::{Audience, LayerDef};

/// One layer's description for `audience` (shared with TileJSON's `vector_layers`).
pub fn describe(app: &AppState, layer: &LayerDef, audience: Audience) -> Value {
    let data = app.engine.layer(layer.id.as_str());
    let attributes: Vec<Value> = layer
        .visible_attributes(audience)
        .map(|(_, a)| {
            let mut d = json!({"name": a.name, "type": a.kind, "title": a.title});
            if a.required {
                d["required"] = json!(true);
            }
            if !a.values.is_empty() {
                d["values"] = json!(a.values);
            }
            d
        })
        .collect();
    let mut d = json!({
        "id": layer.id,
        "title": layer.title,
        "geometry": layer.geometry.family(),
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "live": layer.live,
        "feature_count": data.as_ref().map_or(0, |d| d.len()),
        "bounds": data.as_ref().and_then(|d| d.bounds),
        "attributes": attributes,
    });
    if let Some(label) = layer.label_for(audience) {
        d["label"] = json!(label);
        if layer.geometry.family() == "polygon" {
            d["label"]["source_layer"] = json!(layer.label_layer_name());
        }
    }
    d
}

#[utoipa::path(get, path = "/layers", tag = "layers",
    responses((status = 200, description = "the layers the caller may see, with titles, attributes, counts and bounds")))]
pub async fn list(State(app): State<AppState>, caller: Caller) -> Json<Value> {
    let layers: Vec<Value> = app
        .config
        .catalog
        .layers()
        .iter()
        .filter(|l| l.visible_to(caller.audience(l)))
        .map(|l| describe(&app, l, caller.audience(l)))
        .collect();
    Json(json!({
        "city": app.config.city,
        "dataset_notice": app.dataset_notice,
        "layers": layers,
    }))
}
