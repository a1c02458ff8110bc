//! The HTTP API (axum): every route in [`router`], one file per resource, errors mapped in
//! [`error`].
//!
//! | route | what |
//! |---|---|
//! | `GET /tiles/{layers}/{z}/{x}/{y}.mvt` | a vector tile of one or more layers ([`tiles`]) |
//! | `GET /tiles/{layers}.json` | TileJSON 3.0 for those layers ([`tiles`]) |
//! | `GET /layers` | the layer catalog ([`layers`]) |
//! | `GET /ogc…` | OGC API – Features: collections, items, queryables ([`ogc`]) |
//! | `POST /ogc/collections/{id}/items`, `PUT`/`PATCH`/`DELETE …/items/{fid}` | edits ([`edit`]) |
//! | `GET /audit` | the audit log of edits, for admin keys ([`edit`]) |
//! | `GET /query/point`, `/query/nearest`, `/query/within`, `POST /query/intersects` | spatial questions ([`query`]) |
//! | `GET /search` | 地番 and name search ([`search`]) |
//! | `GET /health` | liveness and store status ([`health`]) |
//! | `GET /`, `/web/…`, `/vendor/maplibre-gl/…`, `/styles/…` | the map page and its assets ([`web`]) |
//!
//! Every route serves the [`crate::auth::Caller`] that [`auth`] establishes from the request's
//! API key: without one, the public — public layers and attributes only.

pub mod auth;
pub mod edit;
pub mod error;
pub mod health;
pub mod layers;
pub mod ogc;
pub mod query;
pub mod search;
pub mod tiles;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::routing::get;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::app::App;
pub use error::ApiError;

/// Query-string parameters, with a JSON 400 naming the parameter that was wrong.
pub struct Params<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(Params)
            .map_err(|e| ApiError::BadRequest(format!("query parameters: {e}")))
    }
}

/// `scheme://host` of the request, from `Host` and `X-Forwarded-Proto`.
pub fn base_url(headers: &axum::http::HeaderMap) -> String {
    use axum::http::header;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let proto = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{proto}://{host}")
}

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// Every route of the server.
pub fn router(app: AppState) -> Router {
    let public_api = Router::new()
        .route("/tiles/{layers}/{z}/{x}/{y}", get(tiles::tile))
        .route("/tiles/{spec}", get(tiles::tilejson))
        .route("/layers", get(layers::list))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/", get(ogc::landing))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{id}", get(ogc::collection))
        .route("/ogc/collections/{id}/queryables", get(ogc::queryables))
        .route("/ogc/collections/{id}/items", get(ogc::items).post(edit::create))
        .route(
            "/ogc/collections/{id}/items/{fid}",
            get(ogc::item).put(edit::replace).patch(edit::update).delete(edit::delete),
        )
        .route("/audit", get(edit::audit))
        .route("/search", get(search::search))
        .route("/query/point", get(query::point))
        .route("/query/nearest", get(query::nearest))
        .route("/query/within", get(query::within))
        .route("/query/intersects", axum::routing::post(query::intersects))
        .route("/health", get(health::health))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD, Method::POST])
                .allow_headers([axum::http::header::CONTENT_TYPE]),
        );
    Router::new()
        .merge(public_api)
        .merge(web::routes(&app.config))
        .fallback(web::not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` completes, then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(Arc::new(app))).with_graceful_shutdown(shutdown).await
}
