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
//! | `GET|POST /ingest/osmand`, `POST /ingest/traccar`, `POST /ingest/batch` | vehicle positions in ([`live`]) |
//! | `GET /live/vehicles`, `/live/trails`, `/live/stream` (SSE), `/live/ws` (WebSocket), `/live/fixes` | the live map out, playback ([`live`]) |
//! | `GET /live/report`, `/live/export.gpx`, `/live/gtfs-rt` | daily work report (JSON, CSV), GPX, GTFS-Realtime ([`live`]) |
//! | `GET /query/plowed` | when the road at a point was last plowed ([`live`]) |
//! | `GET|POST /admin/vehicles`, `DELETE /admin/vehicles/{id}` | the vehicle registry, for admin keys ([`live`]) |
//! | `GET|POST /admin/layers`, `PATCH|DELETE /admin/layers/{id}`, `PUT /admin/layers/{id}/data` | layers made from files, for admins ([`layers`]) |
//! | `POST|GET|DELETE /staff/session` | sign in, who is signed in (and the CSRF token), sign out ([`staff`]) |
//! | `/staff/api/…` | every route above again, for signed-in staff (session cookie, CSRF on writes) ([`staff`]) |
//! | `GET /sensors/events`, `/sensors/datastreams/{id}/series` | changes of the stations' states (thresholds crossed, 欠測); chart data, CSV ([`sensors`]) |
//! | `POST`/`GET /sensors/cameras/{id}/images`, `GET …/latest.jpg`, `…/images/{image}.jpg` | camera stills: posted by a camera, the latest and one an hour ([`cameras`]) |
//! | `/sta/v1.1/…` | OGC SensorThings API 1.1: reads for all, writes for staff keys ([`sta`]) |
//! | `POST`/`GET /notices`, `GET /notices.atom`, `GET`/`PATCH`/`DELETE /notices/{id}`, `GET /notices/{id}.cap` | notices to residents: written by staff; JSON Feed, Atom, CAP 1.2 ([`notices`]) |
//! | `GET /push/vapid-public-key`, `POST`/`DELETE /push/subscriptions` | Web Push: a browser subscribes for its places, or removes everything ([`push`]) |
//! | `GET /health` | liveness and store status ([`health`]) |
//! | `GET /metrics` | Prometheus metrics, for admins and the `[metrics] allow` ranges ([`metrics`]) |
//! | `GET /api` | the OpenAPI 3 document of all of the above, generated from the handlers' annotations |
//! | `GET /`, `/map`, `/embed`, `/embed/snippet`, `/staff` | the public map, the embed and its snippet, the staff map ([`web`]) |
//! | `GET /web/…`, `/vendor/maplibre-gl/…`, `/styles/…` | their scripts, MapLibre GL JS, styles with the basemap ([`web`]) |
//!
//! Every answer says how long it may be kept ([`cache`]).
//!
//! Every route serves the [`crate::auth::Caller`] that [`auth`] establishes from the request's
//! API key or staff session cookie: without either, the public — public layers and attributes
//! only.

pub mod auth;
pub mod cache;
pub mod cameras;
pub mod edit;
pub mod error;
pub mod health;
pub mod layers;
pub mod live;
pub mod metrics;
pub mod notices;
pub mod ogc;
pub mod print;
pub mod push;
pub mod query;
pub mod search;
pub mod sensors;
pub mod sta;
pub mod staff;
pub mod tiles;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
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

/// Where links in an answer start: `scheme://host` of the request (from `Host` and
/// `X-Forwarded-Proto`), and `/staff/api` in the staff area.
pub struct BaseUrl(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        use axum::http::header;
        let h = &parts.headers;
        let host = h.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let proto = h.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
        let prefix = if parts.extensions.get::<staff::StaffArea>().is_some() { staff::API_PREFIX } else { "" };
        Ok(BaseUrl(format!("{proto}://{host}{prefix}")))
    }
}

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// The OpenAPI document's fixed parts; the paths come from the handlers' annotations as the
/// routes are registered, so the document cannot miss a route.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "machizu", description = "統合型GIS tile and geodata server: vector tiles, OGC API – Features, spatial queries, search, edits"),
    modifiers(&BearerKeys),
    // SensorThings takes any resource path below its root, so it is routed by hand.
    paths(sta::landing, sta::entry),
    tags((name = "tiles"), (name = "ogc", description = "OGC API – Features Parts 1–3"), (name = "edit", description = "OGC API – Features Part 4"),
         (name = "query"), (name = "search"), (name = "layers"),
         (name = "live", description = "vehicle positions in, live map out"),
         (name = "staff", description = "signing in to the staff map (session cookie)"),
         (name = "sensors", description = "OGC SensorThings API 1.1 (any path under /sta/v1.1, any method)"),
         (name = "notices", description = "notices to residents: CAP 1.2, Atom and JSON feeds"),
         (name = "print", description = "the map printed at a scale, as a PDF (staff)"), (name = "server")),
)]
struct ApiDoc;

/// `Authorization: Bearer <key>` as the `api_key` security scheme.
struct BearerKeys;

impl utoipa::Modify for BearerKeys {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("machizu keys create")).build();
        api.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// Every route of the server.
pub fn router(app: AppState) -> Router {
    use utoipa::OpenApi;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    let (api_routes, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tiles::tile))
        .routes(routes!(tiles::tilejson))
        .routes(routes!(layers::list))
        .routes(routes!(ogc::landing))
        .routes(routes!(ogc::conformance))
        .routes(routes!(ogc::collections))
        .routes(routes!(ogc::collection))
        .routes(routes!(ogc::queryables))
        .routes(routes!(ogc::items, edit::create))
        .routes(routes!(ogc::item, edit::replace, edit::update, edit::delete))
        .routes(routes!(edit::audit))
        .routes(routes!(search::search))
        .routes(routes!(query::point))
        .routes(routes!(query::nearest))
        .routes(routes!(query::within))
        .routes(routes!(query::intersects))
        .routes(routes!(live::plowed))
        .routes(routes!(live::osmand_get, live::osmand_post))
        .routes(routes!(live::traccar))
        .routes(routes!(live::batch))
        .routes(routes!(live::vehicles))
        .routes(routes!(live::trails))
        .routes(routes!(live::stream))
        .routes(routes!(live::ws))
        .routes(routes!(live::fixes))
        .routes(routes!(live::report))
        .routes(routes!(live::gpx))
        .routes(routes!(live::gtfs_rt))
        .routes(routes!(live::list_vehicles, live::add_vehicle))
        .routes(routes!(live::revoke_vehicle))
        .routes(routes!(staff::sign_in, staff::current, staff::sign_out))
        .routes(routes!(sensors::events))
        .routes(routes!(sensors::series))
        .routes(routes!(cameras::post, cameras::list))
        .routes(routes!(cameras::latest))
        .routes(routes!(cameras::image))
        .routes(routes!(notices::list, notices::create))
        .routes(routes!(notices::atom))
        .routes(routes!(notices::get, notices::update, notices::cancel))
        .routes(routes!(push::vapid_public_key))
        .routes(routes!(push::subscribe, push::unsubscribe))
        .routes(routes!(health::health))
        .routes(routes!(metrics::get))
        .routes(routes!(print::layout))
        // A map picture for an A3 sheet is larger than any other body.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(print::render))
                .layer(axum::extract::DefaultBodyLimit::max(print::PRINT_BODY_LIMIT)),
        )
        .routes(routes!(layers::list_files))
        .routes(routes!(layers::update_file, layers::remove_file))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(layers::add_file))
                .routes(routes!(layers::replace_file))
                .layer(axum::extract::DefaultBodyLimit::max(layers::UPLOAD_LIMIT)),
        )
        .split_for_parts();
    let api = Arc::new(api);
    let api_routes = api_routes
        .route("/ogc/", get(ogc::landing))
        .route(sta::PREFIX, get(sta::landing))
        .route("/sta/v1.1/", get(sta::landing))
        .route("/sta/v1.1/{*path}", axum::routing::any(sta::entry))
        .route("/api", get(move || std::future::ready(axum::Json(api.clone()))));
    let staff_api = api_routes.clone().layer(axum::middleware::from_fn_with_state(app.clone(), staff::staff_area));
    let public_api = api_routes
        // Browsers may read from any site (the city website embeds the map); a key cannot be
        // sent cross-site (Authorization is not an allowed header), and there are no cookies.
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::DELETE])
                .allow_headers([axum::http::header::CONTENT_TYPE]),
        );
    Router::new()
        .merge(public_api)
        .nest(staff::API_PREFIX, staff_api)
        .merge(web::routes(&app.config))
        .fallback(web::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(error::BODY_LIMIT))
        .layer(axum::middleware::from_fn(error::json_errors))
        // Counted after errors became their JSON answers, before compression (see `metrics`).
        .layer(axum::middleware::from_fn(metrics::record))
        // JSON, GeoJSON, GPX, pages and scripts go out gzip-compressed to clients that take it;
        // tiles are already (by the engine, once per cached tile) and event streams are not.
        .layer(CompressionLayer::new().gzip(true))
        .layer(axum::middleware::from_fn(cache::headers))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// Serves `app` on `listener` (and the OsmAnd protocol on `live.osmand_listen`, if set) until
/// `shutdown` completes, then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Arc::new(app);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let osmand = match app.config.live.osmand_listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address).await?;
            tracing::info!(address = %listener.local_addr()?, "accepting the OsmAnd protocol at /");
            let mut stopped = stopped.clone();
            let server = axum::serve(listener, live::osmand_router(app.clone())).with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
            Some(tokio::spawn(server.into_future()))
        }
        None => None,
    };
    // The peer's address reaches the handlers (`GET /metrics` checks it).
    let service = router(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await;
    if let Some(osmand) = osmand {
        osmand.await.map_err(std::io::Error::other)??;
    }
    result
}
