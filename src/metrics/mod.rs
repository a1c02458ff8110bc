//! Prometheus metrics of the running process, as OpenMetrics text at `GET /metrics`
//! ([`crate::http::metrics`]).
//!
//! One set per process ([`global`]), like the log: the HTTP layer, the tile handler, live
//! tracking and the change follower record into it where the event happens, and a scrape
//! encodes it. What is measured:
//! - requests by method, route pattern (`/tiles/{layers}/{z}/{x}/{y}`, never the raw path, so
//!   the number of series stays bounded) and status; their latency (to the response head) and
//!   body bytes;
//! - tiles by zoom and whether the tile cache had them; the wait for a render slot;
//! - live positions taken, and the clients of the SSE and WebSocket streams;
//! - the time from a change batch arriving on the store's change feed to its tiles being
//!   dropped; whether the store answers (at each scrape); the build;
//! - the memory each layer holds in the engine, by structure (at each scrape).
//!
//! Names follow the Prometheus conventions: a `machizu_` prefix, base units (seconds, bytes),
//! `_total` on counters.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route pattern that matched, or `unmatched`.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TileLabels {
    pub zoom: u8,
    /// `hit` or `miss`.
    pub cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabels {
    /// `sse` or `websocket`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EngineLabels {
    pub layer: String,
    /// A part of [`crate::engine::footprint::Footprint`]: `features`, `index`, `values`,
    /// `levels` or `tiles`.
    pub part: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type Seconds = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// Latency buckets from 0.1 ms to about 26 s (a cached tile takes a fraction of a
/// millisecond; an import or a print takes seconds).
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Seconds,
    pub response_bytes: Family<RouteLabels, Counter>,
    pub tiles: Family<TileLabels, Counter>,
    pub render_slot_wait: Histogram,
    pub fixes: Counter,
    pub stream_clients: Family<StreamLabels, Gauge>,
    pub change_apply: Histogram,
    pub change_batches: Counter,
    pub store_up: Gauge,
    pub engine_bytes: Family<EngineLabels, Gauge>,
}

/// The metrics of this process.
pub fn global() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("machizu"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency),
            response_bytes: Family::default(),
            tiles: Family::default(),
            render_slot_wait: latency(),
            fixes: Counter::default(),
            stream_clients: Family::default(),
            change_apply: latency(),
            change_batches: Counter::default(),
            store_up: Gauge::default(),
            engine_bytes: Family::default(),
        };
        let r = &mut m.registry;
        r.register("http_requests", "HTTP requests answered, by method, route pattern and status", m.requests.clone());
        r.register_with_unit(
            "http_request_duration",
            "Time from a request to its response head, by method, route pattern and status",
            Unit::Seconds,
            m.request_seconds.clone(),
        );
        r.register_with_unit(
            "http_response_body",
            "Response body bytes by route pattern, where the length is known before HTTP compression (tiles as sent: machizu compresses them itself)",
            Unit::Bytes,
            m.response_bytes.clone(),
        );
        r.register("tiles", "Tile requests by zoom and whether the tile cache held them", m.tiles.clone());
        r.register_with_unit(
            "render_slot_wait",
            "Time a tile render waited for a render slot",
            Unit::Seconds,
            m.render_slot_wait.clone(),
        );
        r.register("live_fixes", "Vehicle positions taken (rate() gives fixes per second)", m.fixes.clone());
        r.register(
            "live_stream_clients",
            "Clients of the live SSE and WebSocket streams now",
            m.stream_clients.clone(),
        );
        r.register_with_unit(
            "change_apply",
            "Time from a batch on the store's change feed to its tiles being dropped",
            Unit::Seconds,
            m.change_apply.clone(),
        );
        r.register(
            "change_batches",
            "Batches of changes applied from the store's change feed",
            m.change_batches.clone(),
        );
        r.register("store_up", "Whether the store answered at the last scrape (1) or not (0)", m.store_up.clone());
        r.register_with_unit(
            "engine_layer",
            "Memory each layer holds in the engine, by structure (from the structures' sizes, at each scrape)",
            Unit::Bytes,
            m.engine_bytes.clone(),
        );
        r.register("build", "The running build", Info::new(BuildLabels { version: env!("CARGO_PKG_VERSION") }));
        m
    }

    /// Everything, as OpenMetrics text ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String does not fail");
        out
    }

    /// Counts a stream client until the returned guard is dropped.
    pub fn stream_client(&self, kind: &'static str) -> StreamClient {
        let gauge = self.stream_clients.get_or_create(&StreamLabels { kind }).clone();
        gauge.inc();
        StreamClient(gauge)
    }
}

/// One client of a live stream, counted while it lives.
#[derive(Debug)]
pub struct StreamClient(Gauge);

impl Drop for StreamClient {
    fn drop(&mut self) {
        self.0.dec();
    }
}
