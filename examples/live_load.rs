//! Load generator for live tracking (run by `scripts/load-live`): simulated vehicles report
//! while SSE clients listen, and the time from each report to its delivery is measured.
//!
//! - registers `--vehicles` public vehicles through the admin API (`--admin-key`);
//! - opens `--clients` Server-Sent-Event connections to `/live/stream`;
//! - every second each vehicle reports one fix (OsmAnd protocol, `GET /ingest/osmand`), moving
//!   8 m/s along its own line through the city; every `--burst-every` seconds, for
//!   `--burst-seconds`, each vehicle instead uploads a batch of `--burst-batch` fixes
//!   (`POST /ingest/batch`, 20 ms apart, ending now): with 100 vehicles and 50 a batch, 5,000
//!   fixes a second;
//! - a fix's device time is the wall-clock time it is sent, so a client that receives a
//!   vehicle with `reported_at` T at wall-clock time R saw it R − T after it was sent (the
//!   same machine, the same clock);
//! - at the end it reads back every stored fix of the run (`/live/fixes`) and compares the
//!   count with the fixes the server accepted and the fixes sent.
//!
//! Prints a JSON summary on stdout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

struct Args {
    url: String,
    admin_key: String,
    vehicles: usize,
    clients: usize,
    seconds: u64,
    burst_every: u64,
    burst_seconds: u64,
    burst_batch: usize,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:18399".into(),
        admin_key: String::new(),
        vehicles: 100,
        clients: 500,
        seconds: 30,
        burst_every: 10,
        burst_seconds: 3,
        burst_batch: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--url" => a.url = v,
            "--admin-key" => a.admin_key = v,
            "--vehicles" => a.vehicles = v.parse().unwrap(),
            "--clients" => a.clients = v.parse().unwrap(),
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--burst-every" => a.burst_every = v.parse().unwrap(),
            "--burst-seconds" => a.burst_seconds = v.parse().unwrap(),
            "--burst-batch" => a.burst_batch = v.parse().unwrap(),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Where vehicle `i` is at time `ms` (8 m/s north-east from its own start in the city).
fn position(i: usize, ms: i64, t0: i64) -> (f64, f64) {
    let s = (ms - t0) as f64 / 1000.0 * 8.0;
    let (lon0, lat0) = (140.36 + (i % 10) as f64 * 0.02, 38.50 + (i / 10) as f64 * 0.015);
    (lon0 + s * 0.707 / 87_000.0, lat0 + s * 0.707 / 111_000.0)
}

/// Latency per delivered vehicle position, in milliseconds.
#[derive(Default)]
struct Seen {
    latencies: Vec<i64>,
    events: u64,
    bytes: u64,
}

async fn listen(client: reqwest::Client, url: String, stop: Arc<tokio::sync::Notify>) -> Seen {
    let mut seen = Seen::default();
    let r = client.get(format!("{url}/live/stream")).send().await.expect("SSE connects");
    assert!(r.status().is_success());
    let mut body = r.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        let chunk = tokio::select! {
            c = body.next() => match c { Some(Ok(c)) => c, _ => break },
            () = &mut stopped => break,
        };
        let received = now_ms();
        seen.bytes += chunk.len() as u64;
        buf.extend_from_slice(&chunk);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            if !text.contains("event: vehicles") {
                continue;
            }
            seen.events += 1;
            for part in text.split("\"reported_at\":\"").skip(1) {
                if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&part[..24.min(part.len())]) {
                    seen.latencies.push(received - t.timestamp_millis());
                }
            }
        }
    }
    seen
}

#[tokio::main]
async fn main() {
    let a = args();
    let client = reqwest::Client::builder().pool_max_idle_per_host(1000).build().unwrap();
    let url = a.url.clone();

    // Register the fleet.
    let run = chrono::Utc::now().timestamp();
    let mut credentials = Vec::new();
    for i in 0..a.vehicles {
        let body =
            json!({"id": format!("load-{run}-{i}"), "name": format!("負荷試験 {i}"), "kind": "plow", "public": true});
        let r =
            client.post(format!("{url}/admin/vehicles")).bearer_auth(&a.admin_key).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "registering a vehicle");
        let v: Value = r.json().await.unwrap();
        credentials.push(v["device_credential"].as_str().unwrap().to_owned());
    }

    // Connect the listeners.
    let stop = Arc::new(tokio::sync::Notify::new());
    let listeners: Vec<_> =
        (0..a.clients).map(|_| tokio::spawn(listen(client.clone(), url.clone(), stop.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Drive the fleet.
    let (sent, accepted, failed) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let t0 = now_ms();
    let started = Instant::now();
    let from = chrono::Utc::now() - chrono::Duration::seconds(5);
    let mut peak = 0u64;
    for second in 0..a.seconds {
        let tick = started + Duration::from_secs(second);
        tokio::time::sleep_until(tick.into()).await;
        let burst = a.burst_every > 0 && second % a.burst_every >= a.burst_every - a.burst_seconds;
        let mut tasks = Vec::new();
        for (i, credential) in credentials.iter().enumerate() {
            // Spread the vehicles over the second, as real trackers are.
            let offset = Duration::from_micros(1_000_000 * i as u64 / a.vehicles as u64);
            let (client, url, credential) = (client.clone(), url.clone(), credential.clone());
            let (sent, accepted, failed) = (sent.clone(), accepted.clone(), failed.clone());
            let batch = a.burst_batch;
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until((tick + offset).into()).await;
                let now = now_ms();
                let r = if burst {
                    let fixes: Vec<Value> = (0..batch)
                        .rev()
                        .map(|k| {
                            let t = now - k as i64 * 20;
                            let (lon, lat) = position(i, t, t0);
                            json!({"device": credential, "time": t, "lat": lat, "lon": lon, "speed_mps": 8.0, "heading_deg": 45.0})
                        })
                        .collect();
                    sent.fetch_add(batch as u64, Ordering::Relaxed);
                    client.post(format!("{url}/ingest/batch")).json(&json!({ "fixes": fixes })).send().await
                } else {
                    let (lon, lat) = position(i, now, t0);
                    sent.fetch_add(1, Ordering::Relaxed);
                    client
                        .get(format!("{url}/ingest/osmand?id={credential}&timestamp={now}&lat={lat}&lon={lon}&speed=15.55&bearing=45"))
                        .send()
                        .await
                };
                match r {
                    Ok(r) if r.status().is_success() => {
                        let n = if burst { r.json::<Value>().await.unwrap()["accepted"].as_u64().unwrap() } else { 1 };
                        accepted.fetch_add(n, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("ingest: {} {}", r.status(), r.text().await.unwrap_or_default());
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("ingest: {e}");
                    }
                }
            }));
        }
        let before = sent.load(Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        peak = peak.max(sent.load(Ordering::Relaxed) - before);
    }
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.notify_waiters();
    let mut latencies = Vec::new();
    let (mut events, mut bytes, mut connected) = (0, 0, 0);
    for l in listeners {
        let s = l.await.unwrap();
        connected += u64::from(s.events > 0);
        events += s.events;
        bytes += s.bytes;
        latencies.extend(s.latencies);
    }
    latencies.sort_unstable();
    let q = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(-1);

    // Every fix sent must be stored: read them back.
    let to = chrono::Utc::now() + chrono::Duration::seconds(5);
    let mut stored = 0u64;
    let mut offset = 0;
    loop {
        let page: Value = client
            .get(format!(
                "{url}/live/fixes?from={}&to={}&limit=10000&offset={offset}",
                from.timestamp(),
                to.timestamp()
            ))
            .bearer_auth(&a.admin_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = page["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["vehicle"].as_str().unwrap().starts_with(&format!("load-{run}-")))
            .count();
        stored += n as u64;
        match page["next_offset"].as_u64() {
            Some(next) => offset = next,
            None => break,
        }
    }
    let summary = json!({
        "vehicles": a.vehicles, "sse_clients": a.clients, "clients_with_events": connected, "seconds": elapsed,
        "fixes_sent": sent.load(Ordering::Relaxed), "fixes_accepted": accepted.load(Ordering::Relaxed),
        "fixes_stored": stored, "failed_requests": failed.load(Ordering::Relaxed), "peak_fixes_per_s": peak,
        "deliveries": latencies.len(), "events": events, "mb_received": bytes as f64 / 1e6,
        "latency_ms": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": latencies.last().copied().unwrap_or(-1)},
    });
    println!("{summary}");
}
