//! `GET /metrics`: the process's [`crate::metrics`] as OpenMetrics text, for admins and for
//! clients in the `[metrics] allow` address ranges (a Prometheus server); 403 for anyone else.
//! [`record`] is the middleware that counts and times every request by its route pattern.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::auth::{Caller, Role};
use crate::metrics::{self, RequestLabels, RouteLabels};

#[utoipa::path(get, path = "/metrics", tag = "server",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text"),
              (status = 403, body = ErrorBody, description = "not an admin and not from an address in [metrics] allow")))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    extensions: axum::http::Extensions,
) -> Result<Response, ApiError> {
    // The peer's address, when the server was started with it (not in-process test requests).
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip());
    let allowed = peer.is_some_and(|ip| app.config.metrics.allow.iter().any(|n| n.contains(&ip)));
    if caller.role < Role::Admin && !allowed {
        return Err(ApiError::Forbidden(
            "the metrics are for admins and for the addresses in [metrics] allow".to_owned(),
        ));
    }
    let m = metrics::global();
    m.store_up.set(i64::from(app.store.health().await.ok));
    m.engine_bytes.clear(); // layers made from files come and go
    for layer in app.engine.catalog().layers() {
        let Some(data) = app.engine.layer(layer.id.as_str()) else { continue };
        for (part, bytes) in data.footprint().parts() {
            let labels = metrics::EngineLabels { layer: layer.id.to_string(), part };
            m.engine_bytes.get_or_create(&labels).set(bytes as i64);
        }
    }
    let mut response = m.encode().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE));
    Ok(response)
}

/// Counts and times each request by method, route pattern and status, and its body bytes when
/// their number is known.
pub async fn record(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = metrics::global();
    let labels = RequestLabels { method, route, status: response.status().as_u16() };
    m.requests.get_or_create(&labels).inc();
    m.request_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    if let Some(bytes) = response.body().size_hint().exact() {
        m.response_bytes.get_or_create(&RouteLabels { route: labels.route }).inc_by(bytes);
    }
    response
}
