//! The map clients and their assets, served from the working tree: the public map (`/`, `/map`)
//! and the embed (`/embed`, `/embed/snippet`) from `web/public.html`, the staff map (`/staff`)
//! from `web/staff.html`, our scripts under `/web`, MapLibre GL JS as npm installed it from the
//! lockfile under `/vendor/maplibre-gl` (and the PMTiles reader under `/vendor/pmtiles`), the service worker that shows pushed notices (`/sw.js`),
//! and the MapLibre styles of `styles/` with the configured
//! basemap put in. Unknown paths get a JSON 404.
//!
//! Framing: the public pages may be framed by the sites in `[web] embed_origins`
//! (`Content-Security-Policy: frame-ancestors`); the staff map by none.
//!
//! MapLibre goes out gzip-compressed from the `.gz` files `scripts/setup` writes beside it once
//! (1.6 MB of scripts become 0.4 MB, compressed once, not per resident); the rest is compressed
//! on the fly by the router's compression layer ([`super::router`]).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::{ApiError, AppState, BaseUrl, Params};
use crate::catalog::Audience;
use crate::config::{Config, WebConfig};

/// The `frame-ancestors` policy of the public pages.
fn frame_ancestors(web: &WebConfig) -> HeaderValue {
    let sources = if web.embed_origins.iter().any(|o| o == "*") {
        "*".to_owned()
    } else {
        std::iter::once("'self'").chain(web.embed_origins.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    };
    HeaderValue::from_str(&format!("frame-ancestors {sources}"))
        .unwrap_or(HeaderValue::from_static("frame-ancestors 'self'"))
}

pub fn routes(config: &Config) -> Router<AppState> {
    let web = &config.web_dir;
    let csp = header::CONTENT_SECURITY_POLICY;
    let public_page = ServeFile::new(web.join("public.html"));
    let public = Router::new()
        .route_service("/", public_page.clone())
        .route_service("/map", public_page.clone())
        .route_service("/embed", public_page)
        .layer(SetResponseHeaderLayer::overriding(csp.clone(), frame_ancestors(&config.web)));
    let staff = Router::new()
        .route_service("/staff", ServeFile::new(web.join("staff.html")))
        .layer(SetResponseHeaderLayer::overriding(csp, HeaderValue::from_static("frame-ancestors 'none'")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
    Router::new()
        .merge(public)
        .merge(staff)
        // The service worker, at the root so that its scope is the whole site.
        .route_service("/sw.js", ServeFile::new(web.join("sw.js")))
        .route("/embed/snippet", get(snippet))
        .route("/styles/{name}", get(style))
        .nest_service("/web", ServeDir::new(web))
        .nest_service(
            "/vendor/maplibre-gl",
            ServeDir::new(web.join("node_modules/maplibre-gl/dist")).precompressed_gzip(),
        )
        .nest_service("/vendor/pmtiles", ServeDir::new(web.join("node_modules/pmtiles/dist")))
}

/// `GET /styles/{name}.json`: a style of `styles/`, with the configured basemap (or without
/// one, when `basemap_url` is empty).
async fn style(State(app): State<AppState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let missing = || ApiError::NotFound(format!("no style {name}"));
    let stem = name.strip_suffix(".json").filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let path = app.config.styles_dir.join(format!("{}.json", stem.ok_or_else(missing)?));
    let text = tokio::fs::read_to_string(&path).await.map_err(|_| missing())?;
    let mut style: Value =
        serde_json::from_str(&text).map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
    let web = &app.config.web;
    if web.basemap_url.is_empty() {
        if let Some(sources) = style["sources"].as_object_mut() {
            sources.remove("basemap");
        }
        if let Some(layers) = style["layers"].as_array_mut() {
            layers.retain(|l| l["source"] != "basemap");
        }
    } else if style["sources"].get("basemap").is_some() {
        style["sources"]["basemap"] = json!({
            "type": "raster",
            "tiles": [web.basemap_url],
            "tileSize": 256,
            "maxzoom": web.basemap_maxzoom,
            "attribution": web.basemap_attribution,
        });
    }
    // The public map reads the layers an archive holds from it (web/archive.js).
    if stem == Some("public") && !web.tiles_archive.is_empty() {
        style["metadata"]["machizu:archive"] = json!(web.tiles_archive);
    }
    Ok(axum::Json(style).into_response())
}

#[derive(Deserialize)]
struct SnippetParams {
    layers: Option<String>,
    center: Option<String>,
    zoom: Option<f64>,
    height: Option<u32>,
    lang: Option<String>,
}

/// Escapes text for HTML (content and attribute values).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `GET /embed/snippet?layers&center&zoom[&height][&lang]`: the `<iframe>` to paste into a page
/// of the city website, with a preview. Checks what the embed would show: public layers only.
async fn snippet(
    State(app): State<AppState>,
    BaseUrl(base): BaseUrl,
    Params(p): Params<SnippetParams>,
) -> Result<Html<String>, ApiError> {
    let catalog = app.engine.catalog();
    let mut query = Vec::new();
    if let Some(layers) = p.layers.as_deref().filter(|l| !l.is_empty()) {
        catalog.resolve(layers, Audience::Public)?;
        query.push(format!("layers={layers}"));
    }
    if let Some(center) = &p.center {
        let ok = center.split(',').map(str::parse::<f64>).collect::<Result<Vec<_>, _>>();
        match ok.as_deref() {
            Ok([lon, lat]) if (-180.0..=180.0).contains(lon) && (-90.0..=90.0).contains(lat) => {
                query.push(format!("center={lon},{lat}"));
            }
            _ => return Err(ApiError::BadRequest(format!("center={center}: give lon,lat in degrees"))),
        }
    }
    if let Some(zoom) = p.zoom {
        if !(0.0..=22.0).contains(&zoom) {
            return Err(ApiError::BadRequest(format!("zoom={zoom}: give 0 to 22")));
        }
        query.push(format!("zoom={zoom}"));
    }
    let en = p.lang.as_deref() == Some("en");
    if en {
        query.push("lang=en".into());
    }
    let height = p.height.unwrap_or(480).clamp(200, 2000);
    let src = if query.is_empty() { format!("{base}/embed") } else { format!("{base}/embed?{}", query.join("&")) };
    let city = &app.config.city;
    let title = if en { format!("{} map", city.name_en) } else { format!("{}の地図", city.name_ja) };
    let iframe = format!(
        "<iframe src=\"{}\" title=\"{}\" width=\"100%\" height=\"{height}\" style=\"border:0\" loading=\"lazy\" allow=\"geolocation\"></iframe>",
        escape(&src),
        escape(&title)
    );
    let (heading, hint) = if en {
        ("Embed the map", "Paste this HTML into a page of your website:")
    } else {
        ("地図の埋め込み", "次の HTML をホームページに貼り付けてください：")
    };
    Ok(Html(format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{heading}</title><link rel=\"stylesheet\" href=\"/web/app.css\"></head>\
         <body class=\"snippet\"><h1>{heading}</h1><p>{hint}</p>\
         <textarea id=\"snippet\" readonly rows=\"4\">{code}</textarea>\n{iframe}\n</body></html>\n",
        lang = if en { "en" } else { "ja" },
        code = escape(&iframe),
    )))
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no resource at {}", uri.path()))
}
