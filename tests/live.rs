//! Live vehicle tracking through the HTTP API: each ingest protocol with real request shapes,
//! the registry and its security, the live map (tiles, GeoJSON, SSE, WebSocket), and playback.

mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use http_body_util::BodyExt;
use machizu::auth::Role;
use serde_json::{Value, json};
use support::{TestServer, body_bytes, body_json, vector_tile};

/// A point in the demo city (near the city hall).
const LON: f64 = 140.406;
const LAT: f64 = 38.600;

/// Registers a vehicle through the admin API; returns its device credential.
async fn register(s: &TestServer, admin: &str, id: &str, kind: &str, public: bool) -> String {
    let body = json!({"id": id, "name": format!("{id} 号車"), "kind": kind, "operator": "山形除雪(株)",
                      "label": format!("除雪車 {id}"), "public": public});
    let r = s.call("POST", "/admin/vehicles", Some(admin), Some(&body), &[("content-type", "application/json")]).await;
    assert_eq!(r.status(), 201);
    let v = body_json(r).await;
    assert_eq!(v["vehicle"]["id"], id);
    v["device_credential"].as_str().unwrap().to_owned()
}

/// Playback of one vehicle's fixes (staff key).
async fn fixes(s: &TestServer, staff: &str, vehicle: &str) -> Vec<Value> {
    let uri = format!("/live/fixes?vehicle={vehicle}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z");
    s.get_json(&uri, Some(staff)).await["fixes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn osmand_reports_by_get_and_post_are_stored_in_si_units() {
    let s = TestServer::demo().await;
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let device = register(&s, &admin, "plow-1", "plow", true).await;
    // What OsmAnd sends: speed in knots, Unix seconds, extra keys.
    let uri = format!(
        "/ingest/osmand?id={device}&timestamp=1732406400&lat={LAT}&lon={LON}&speed=10&bearing=92.5&altitude=87.5&accuracy=6&hdop=0.8&batt=77&blade=1&route=A1"
    );
    let r = s.get(&uri).await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(&body_bytes(r).await));
    // Traccar Client posts a form, with the time in milliseconds and `location=lat,lon`.
    let form = format!("deviceid={device}&timestamp=1732406405000&location={LAT},{}&speed=0&spreader=on", LON + 0.0005);
    let r = s
        .request(
            Request::post("/ingest/osmand")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let got = fixes(&s, &staff, "plow-1").await;
    assert_eq!(got.len(), 2);
    let f = &got[0];
    assert_eq!(f["time"], "2024-11-24T00:00:00.000Z");
    assert!((f["speed_mps"].as_f64().unwrap() - 10.0 * 1852.0 / 3600.0).abs() < 1e-9, "{f}");
    assert_eq!((f["heading_deg"].as_f64(), f["altitude_m"].as_f64()), (Some(92.5), Some(87.5)));
    assert_eq!(
        (f["accuracy_m"].as_f64(), f["hdop"].as_f64(), f["battery_pct"].as_f64()),
        (Some(6.0), Some(0.8), Some(77.0))
    );
    assert_eq!((f["blade_down"].as_bool(), f["extra"]["route"].as_str()), (Some(true), Some("A1")));
    assert!(f["flags"].is_null());
    // Server time is kept apart from device time.
    let received = chrono::DateTime::parse_from_rfc3339(f["received_at"].as_str().unwrap()).unwrap();
    assert!((Utc::now() - received.with_timezone(&Utc)).num_seconds().abs() < 60);
    assert_eq!(
        (got[1]["time"].as_str(), got[1]["spreader_on"].as_bool()),
        (Some("2024-11-24T00:00:05.000Z"), Some(true))
    );
    assert_eq!(got[1]["speed_mps"].as_f64(), Some(0.0));

    // Unreadable reports are a 400 saying why, and store nothing.
    for (query, needle) in
        [("lat=38.6&lon=140.4", "id is missing"), (&*format!("id={device}&lat=38.6&lon=140.4&speed=fast"), "speed")]
    {
        let r = s.get(&format!("/ingest/osmand?{query}")).await;
        assert_eq!(r.status(), 400);
        assert!(body_json(r).await["message"].as_str().unwrap().contains(needle));
    }
    assert_eq!(fixes(&s, &staff, "plow-1").await.len(), 2);
}

#[tokio::test]
async fn traccar_json_and_batches_keep_order_duplicates_and_flags_straight() {
    let s = TestServer::demo().await;
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let device = register(&s, &admin, "plow-2", "plow", true).await;
    // An hour ago (a vehicle silent for longer than the trail hours leaves the live map).
    let t0 = Utc::now().timestamp() - 3600;
    let traccar = json!({"device_id": device, "location": {"timestamp": t0 * 1000 + 250, "is_moving": true, "odometer": 1523.5,
        "coords": {"latitude": LAT, "longitude": LON, "accuracy": 4.0, "speed": 7.5, "heading": 181.0, "altitude": 90.0},
        "battery": {"level": 0.64, "is_charging": false}, "extras": {"blade_down": false}}});
    let r = s.call("POST", "/ingest/traccar", None, Some(&traccar), &[("content-type", "application/json")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await, json!({"accepted": 1, "duplicates": 0, "flagged": 0}));

    let fix = |dt: i64, dlat: f64, extra: Value| {
        let mut f = json!({"device": device, "time": t0 + dt, "lat": LAT + dlat, "lon": LON, "speed_mps": 5.0, "heading_deg": 0.0});
        f.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        f
    };
    let batch = json!({"fixes": [
        fix(60, 0.003, json!({"blade_down": true})),                  // 333 m in 60 s: fine
        fix(30, 0.0015, json!({})),                                    // late (out of order): fine
        fix(60, 0.003, json!({})),                                     // the same time again: a duplicate
        fix(70, 0.05, json!({})),                                      // 5.2 km in 10 s: a jump
        fix(80, 0.0035, json!({"accuracy_m": 250.0})),                 // inaccurate
        fix(90, -3.0, json!({})),                                      // far outside the city
        fix(120, 0.006, json!({"attributes": {"load": "salt"}})),
    ]});
    let r = s.call("POST", "/ingest/batch", None, Some(&batch), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await, json!({"accepted": 6, "duplicates": 1, "flagged": 3}));
    // Sending it again stores nothing twice.
    let r = s.call("POST", "/ingest/batch", None, Some(&batch), &[]).await;
    assert_eq!(body_json(r).await, json!({"accepted": 0, "duplicates": 7, "flagged": 0}));

    let got = fixes(&s, &staff, "plow-2").await;
    let times: Vec<i64> = got
        .iter()
        .map(|f| chrono::DateTime::parse_from_rfc3339(f["time"].as_str().unwrap()).unwrap().timestamp() - t0)
        .collect();
    assert_eq!(times, [0, 30, 60, 70, 80, 90, 120], "in device-time order");
    let flags: Vec<&str> = got.iter().map(|f| f["flags"].as_str().unwrap_or("")).collect();
    assert_eq!(flags, ["", "", "", "jump", "inaccurate", "jump,outside", ""]);
    let first = &got[0];
    assert_eq!(
        (first["speed_mps"].as_f64(), first["heading_deg"].as_f64(), first["battery_pct"].as_f64()),
        (Some(7.5), Some(181.0), Some(64.0))
    );
    assert_eq!((first["blade_down"].as_bool(), first["extra"]["odometer"].as_str()), (Some(false), Some("1523.5")));
    assert_eq!(got[6]["extra"]["load"], "salt");

    // The live position is the newest plausible fix, not the newest received or the flagged.
    let live = s.get_json("/live/vehicles", Some(&staff)).await;
    let v = &live["features"][0];
    assert_eq!(v["properties"]["reported_at"], got[6]["time"]);

    // A batch with unreadable fixes is refused whole, saying which.
    let bad = json!({"fixes": [fix(200, 0.0, json!({})), {"device": device, "time": "soon", "lat": 38.6, "lon": 140.4}, {"device": device}]});
    let r = s.call("POST", "/ingest/batch", None, Some(&bad), &[]).await;
    assert_eq!(r.status(), 422);
    let body = body_json(r).await;
    let paths: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["fixes[1]", "fixes[2]"]);
    assert_eq!(fixes(&s, &staff, "plow-2").await.len(), 7);
}

#[tokio::test]
async fn unknown_and_revoked_devices_are_refused_and_the_public_sees_only_public_vehicles() {
    let s = TestServer::demo().await;
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let public_device = register(&s, &admin, "plow-3", "plow", true).await;
    let private_device = register(&s, &admin, "patrol-1", "patrol", false).await;
    let now = Utc::now().timestamp();
    for (device, dlon) in [(&public_device, 0.0), (&private_device, 0.002)] {
        let r =
            s.get(&format!("/ingest/osmand?id={device}&timestamp={now}&lat={LAT}&lon={}&bearing=45", LON + dlon)).await;
        assert_eq!(r.status(), 200);
    }

    // Unknown device: 403 with a JSON body, nothing stored.
    let r = s
        .get(&format!("/ingest/osmand?id=0123456789abcdef0123456789abcdef01234567&timestamp={now}&lat={LAT}&lon={LON}"))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(body_json(r).await["message"], "unknown or revoked device");

    // The public: public vehicles only, with label and kind but no ids, names or operators.
    let public = s.get_json("/live/vehicles", None).await;
    let text = public.to_string();
    assert_eq!(public["features"].as_array().unwrap().len(), 1, "{public}");
    assert_eq!(public["features"][0]["properties"]["label"], "除雪車 plow-3");
    for secret in ["plow-3 号車", "patrol-1", "山形除雪", "vehicle_id", "operator", &public_device, &private_device]
    {
        assert!(!text.contains(secret), "the public sees {secret:?}: {text}");
    }
    // Staff: both, with ids and operators.
    let all = s.get_json("/live/vehicles", Some(&staff)).await;
    assert_eq!(all["features"].as_array().unwrap().len(), 2);
    assert_eq!(all["features"][1]["properties"]["vehicle_id"], "patrol-1");
    assert_eq!(all["features"][1]["properties"]["operator"], "山形除雪(株)");
    assert!(!all.to_string().contains(&private_device), "credentials are never shown again");

    // Staff-only routes: playback, the registry and the fleet layer.
    for (uri, key, status) in [
        ("/live/fixes?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", None, 401),
        ("/admin/vehicles", None, 401),
        ("/admin/vehicles", Some(&staff), 403),
        ("/tiles/snowplows_fleet.json", None, 404),
    ] {
        let r = s.call("GET", uri, key.map(String::as_str), None, &[]).await;
        assert_eq!(r.status(), status, "{uri}");
    }
    let list = s.get_json("/admin/vehicles", Some(&admin)).await;
    assert_eq!(list["vehicles"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&public_device));

    // Revoked: refused from the next report on, and off the live map.
    let r = s.call("DELETE", "/admin/vehicles/plow-3", Some(&admin), None, &[]).await;
    assert_eq!(r.status(), 204);
    let r = s.get(&format!("/ingest/osmand?id={public_device}&timestamp={}&lat={LAT}&lon={LON}", now + 5)).await;
    assert_eq!(r.status(), 403);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.get_json("/live/vehicles", None).await["features"], json!([]));
    let r = s.call("DELETE", "/admin/vehicles/plow-3", Some(&admin), None, &[]).await;
    assert_eq!(r.status(), 404);
    // Live layers are not edited through the feature API.
    let feature =
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [LON, LAT]}, "properties": {}});
    let r = s.call("POST", "/ogc/collections/snowplows/items", Some(&admin), Some(&feature), &[]).await;
    assert_eq!(r.status(), 403);
}

/// The next SSE event of a stream body: (event name, data).
async fn next_event(body: &mut Body) -> (String, Value) {
    let mut buf = String::new();
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(5), body.frame()).await.expect("an event").unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            buf.push_str(std::str::from_utf8(&data).unwrap());
        }
        if let Some(end) = buf.find("\n\n") {
            let event: String = buf[..end].to_owned();
            buf.drain(..end + 2);
            let name = event.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_owned();
            let data: String = event.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            if data.is_empty() {
                continue; // a keep-alive comment
            }
            assert!(buf.is_empty(), "one event per frame");
            return (name, serde_json::from_str(&data).unwrap());
        }
    }
}

#[tokio::test]
async fn positions_reach_sse_and_websocket_clients_within_a_second() {
    let s = TestServer::demo().await;
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let public_device = register(&s, &admin, "plow-4", "plow", true).await;
    let private_device = register(&s, &admin, "plow-5", "plow", false).await;

    let open = |key: Option<String>| {
        let mut req = Request::get("/live/stream");
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        s.request(req.body(Body::empty()).unwrap())
    };
    let mut public = open(None).await.into_body();
    let mut staffs = open(Some(staff.clone())).await.into_body();
    assert_eq!(
        next_event(&mut public).await,
        ("snapshot".into(), json!({"type": "FeatureCollection", "features": []}))
    );
    assert_eq!(next_event(&mut staffs).await.0, "snapshot");

    // A WebSocket client on a real port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = s.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{address}/live/ws")).await.unwrap();
    use futures_util::StreamExt;
    let ws_next = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| -> Value {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a message").unwrap().unwrap();
        serde_json::from_str(m.to_text().unwrap()).unwrap()
    };
    assert_eq!(ws_next(&mut ws).await["features"], json!([]));

    // A private vehicle moves: staff hear of it, the public do not.
    let now = Utc::now().timestamp();
    let r = s.get(&format!("/ingest/osmand?id={private_device}&timestamp={now}&lat={LAT}&lon={LON}")).await;
    assert_eq!(r.status(), 200);
    let (name, frame) = next_event(&mut staffs).await;
    assert_eq!(
        (name.as_str(), frame["features"][0]["properties"]["vehicle_id"].as_str()),
        ("vehicles", Some("plow-5"))
    );

    // A public vehicle moves: everyone hears of it within a second.
    let sent = Instant::now();
    let r = s
        .get(&format!(
            "/ingest/osmand?id={public_device}&timestamp={now}&lat={LAT}&lon={}&bearing=270&speed=5",
            LON + 0.001
        ))
        .await;
    assert_eq!(r.status(), 200);
    let (name, frame) = next_event(&mut public).await;
    assert!(sent.elapsed() < Duration::from_secs(1), "SSE after {:?}", sent.elapsed());
    assert_eq!(name, "vehicles");
    let features = frame["features"].as_array().unwrap();
    assert_eq!(features.len(), 1, "only the public vehicle: {frame}");
    let p = &features[0]["properties"];
    assert_eq!(
        (p["label"].as_str(), p["heading_deg"].as_f64(), p["speed_kmh"].as_f64()),
        (Some("除雪車 plow-4"), Some(270.0), Some(9.3))
    );
    assert!(p.get("vehicle_id").is_none() && p.get("operator").is_none());
    let coordinates = &features[0]["geometry"]["coordinates"];
    assert!((coordinates[0].as_f64().unwrap() - (LON + 0.001)).abs() < 1e-9);
    let message = ws_next(&mut ws).await;
    assert!(sent.elapsed() < Duration::from_secs(1), "WebSocket after {:?}", sent.elapsed());
    assert_eq!(message["features"][0]["properties"]["label"], "除雪車 plow-4");
    assert_eq!(next_event(&mut staffs).await.1["features"][0]["properties"]["vehicle_id"], "plow-4");
}

#[tokio::test]
async fn snowplow_tiles_show_position_heading_and_age() {
    let s = TestServer::demo().await;
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let public_device = register(&s, &admin, "plow-6", "plow", true).await;
    let private_device = register(&s, &admin, "plow-7", "blower", false).await;
    let five_min_ago = Utc::now().timestamp() - 300;
    for (device, dlat) in [(&public_device, 0.0), (&private_device, 0.001)] {
        let uri =
            format!("/ingest/osmand?id={device}&timestamp={five_min_ago}&lat={}&lon={LON}&bearing=135", LAT + dlat);
        assert_eq!(s.get(&uri).await.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (z, x, y) = support::CENTRE_Z14;
    let s = &s;
    let tile = |layer: &str, key: Option<String>| {
        let uri = format!("/tiles/{layer}/{z}/{x}/{y}.mvt");
        async move {
            let r = s.call("GET", &uri, key.as_deref(), None, &[]).await;
            assert_eq!(r.status(), 200, "{uri}");
            assert_eq!(r.headers()["cache-control"], if key.is_some() { "private, no-cache" } else { "no-cache" });
            vector_tile::decode(&body_bytes(r).await)
        }
    };
    let public = tile("snowplows", None).await;
    let layer = &public.layers[0];
    assert_eq!(layer.features.len(), 1, "only the public vehicle");
    let props = layer.props(&layer.features[0]);
    assert_eq!(props["label"], "除雪車 plow-6");
    assert_eq!(props["heading_deg"], "135");
    assert_eq!(props["age_min"], "5");
    assert!(!props.contains_key("vehicle_id") && !props.contains_key("operator"));
    let fleet = tile("snowplows_fleet", Some(staff)).await;
    let l = &fleet.layers[0];
    let mut ids: Vec<String> = l.features.iter().map(|f| l.props(f)["vehicle_id"].clone()).collect();
    ids.sort();
    assert_eq!(ids, ["plow-6", "plow-7"]);
}
