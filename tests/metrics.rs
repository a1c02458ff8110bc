//! `GET /metrics` (issue #20): Prometheus metrics, read by the Prometheus project's own Python
//! parsers; counters that move as requests are made; admins and allowed address ranges only.

mod support;

use machizu::auth::Role;
use serde_json::Value;
use support::{CENTRE_Z14, Serving, TestServer, body_bytes, body_json};

/// The metrics text as the Python `prometheus_client` parsers read it (tests/metrics/parse_metrics.py).
fn parse(text: &str) -> Value {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics/parse_metrics.py");
    let mut child = std::process::Command::new(support::test_python())
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{text}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
fn sample(m: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    m[family]["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s[0] == name && labels.iter().all(|(k, v)| s[1][k] == *v))
        .map(|s| s[2].as_f64().unwrap())
        .sum()
}

async fn scrape(s: &TestServer, key: &str) -> Value {
    let r = s.call("GET", "/metrics", Some(key), None, &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    parse(&String::from_utf8(body_bytes(r).await).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_read_metrics_that_move_with_requests_and_the_public_get_403() {
    let s = TestServer::demo().await;
    for key in [None, Some(s.key(Role::Staff).await)] {
        let r = s.call("GET", "/metrics", key.as_deref(), None, &[]).await;
        assert_eq!(r.status(), 403);
        assert!(body_json(r).await["message"].as_str().unwrap().contains("[metrics] allow"));
    }
    let admin = s.key(Role::Admin).await;
    let before = scrape(&s, &admin).await;

    // One tile three times (rendered once, then from the cache), and a path no route has.
    let (z, x, y) = CENTRE_Z14;
    let mut bytes = 0;
    for _ in 0..3 {
        let r = s.get(&format!("/tiles/roads,parcels/{z}/{x}/{y}.mvt")).await;
        assert_eq!(r.status(), 200);
        bytes += body_bytes(r).await.len();
    }
    assert_eq!(s.get("/no/such/page").await.status(), 404);
    let after = scrape(&s, &admin).await;

    let route = [("route", "/tiles/{layers}/{z}/{x}/{y}"), ("method", "GET"), ("status", "200")];
    let moved = |family: &str, name: &str, labels: &[(&str, &str)]| {
        sample(&after, family, name, labels) - sample(&before, family, name, labels)
    };
    assert_eq!(moved("machizu_http_requests", "machizu_http_requests_total", &route), 3.0);
    assert_eq!(
        moved("machizu_http_request_duration_seconds", "machizu_http_request_duration_seconds_count", &route),
        3.0
    );
    assert!(moved("machizu_http_request_duration_seconds", "machizu_http_request_duration_seconds_sum", &route) > 0.0);
    let tile_route = [("route", "/tiles/{layers}/{z}/{x}/{y}")];
    assert_eq!(
        moved("machizu_http_response_body_bytes", "machizu_http_response_body_bytes_total", &tile_route),
        bytes as f64
    );
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(moved("machizu_http_requests", "machizu_http_requests_total", &unmatched), 1.0);
    assert_eq!(moved("machizu_tiles", "machizu_tiles_total", &[("zoom", "14"), ("cache", "miss")]), 1.0);
    assert_eq!(moved("machizu_tiles", "machizu_tiles_total", &[("zoom", "14"), ("cache", "hit")]), 2.0);
    assert_eq!(moved("machizu_render_slot_wait_seconds", "machizu_render_slot_wait_seconds_count", &[]), 1.0);

    // Route patterns, never raw paths: the number of series stays bounded.
    let routes: Vec<&str> = after["machizu_http_requests"]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1]["route"].as_str().unwrap())
        .collect();
    assert!(!routes.iter().any(|r| r.contains(&x.to_string()) || r.contains("no/such")), "{routes:?}");
    assert_eq!(sample(&after, "machizu_store_up", "machizu_store_up", &[]), 1.0);
    assert_eq!(after["machizu_build"]["type"], "info");
    assert_eq!(sample(&after, "machizu_build", "machizu_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert_eq!(after["machizu_http_request_duration_seconds"]["type"], "histogram");

    // The engine's memory by layer and structure: every structure of the parcels holds
    // something, and the parts add up to more than the features' bare records.
    let family = "machizu_engine_layer_bytes";
    let parcels = s.app.engine.layer("parcels").unwrap();
    let mut total = 0.0;
    for part in ["features", "index", "values", "levels", "tiles"] {
        let bytes = sample(&after, family, family, &[("layer", "parcels"), ("part", part)]);
        assert!(bytes > 0.0, "{part}: {bytes}");
        total += bytes;
    }
    assert_eq!(total as u64, parcels.footprint().total());
    assert!(total > (parcels.len() * std::mem::size_of::<machizu::feature::Feature>()) as f64, "{total}");
}

/// A Prometheus server in an allowed range reads the metrics without a key; the same client
/// without the range is refused. Over real TCP, where the server sees the peer's address.
#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_address_range_reads_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed.toml");
    std::fs::write(&allowed, "[metrics]\nallow = [\"10.0.0.0/8\", \"127.0.0.0/8\"]\n").unwrap();
    let elsewhere = dir.path().join("elsewhere.toml");
    std::fs::write(&elsewhere, "[metrics]\nallow = [\"10.0.0.0/8\"]\n").unwrap();
    let client = reqwest::Client::new();
    for (config, status) in [(&allowed, 200), (&elsewhere, 403)] {
        let data = tempfile::tempdir().unwrap();
        let server = Serving::start(&[
            "--no-demo",
            "--no-demo-plows",
            "--data",
            data.path().to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ]);
        let r = client.get(format!("{}/metrics", server.base())).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{}", config.display());
        if status == 200 {
            let m = parse(&r.text().await.unwrap());
            assert_eq!(sample(&m, "machizu_store_up", "machizu_store_up", &[]), 1.0);
        }
    }
}
