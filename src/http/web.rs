//! The map page and its static assets, served from the working tree: `web/` (our page),
//! `web/node_modules/maplibre-gl/dist` (MapLibre GL JS as installed by npm from the lockfile)
//! and `styles/` (MapLibre styles). Unknown paths get a JSON 404.

use axum::Router;
use axum::http::Uri;
use tower_http::services::{ServeDir, ServeFile};

use super::{ApiError, AppState};
use crate::config::Config;

pub fn routes(config: &Config) -> Router<AppState> {
    let web = &config.web_dir;
    Router::new()
        .route_service("/", ServeFile::new(web.join("index.html")))
        .nest_service("/web", ServeDir::new(web))
        .nest_service("/vendor/maplibre-gl", ServeDir::new(web.join("node_modules/maplibre-gl/dist")))
        .nest_service("/styles", ServeDir::new(&config.styles_dir))
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no resource at {}", uri.path()))
}
