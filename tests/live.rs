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
    traccar_and_batches(&TestServer::demo().await).await;
}

async fn traccar_and_batches(s: &TestServer) {
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let device = register(s, &admin, "plow-2", "plow", true).await;
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

    let got = fixes(s, &staff, "plow-2").await;
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
    let v = live["features"].as_array().unwrap().iter().find(|v| v["properties"]["vehicle_id"] == "plow-2").unwrap();
    assert_eq!(v["properties"]["reported_at"], got[6]["time"]);

    // A batch with unreadable fixes is refused whole, saying which.
    let bad = json!({"fixes": [fix(200, 0.0, json!({})), {"device": device, "time": "soon", "lat": 38.6, "lon": 140.4}, {"device": device}]});
    let r = s.call("POST", "/ingest/batch", None, Some(&bad), &[]).await;
    assert_eq!(r.status(), 422);
    let body = body_json(r).await;
    let paths: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["fixes[1]", "fixes[2]"]);
    assert_eq!(fixes(s, &staff, "plow-2").await.len(), 7);
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
    // Revoked by another process (straight in the store): the next registry refresh takes the
    // vehicle and its trail off the map.
    let r = s
        .get(&format!(
            "/ingest/osmand?id={private_device}&timestamp={}&lat={LAT}&lon={}&speed=5",
            now + 5,
            LON + 0.0025
        ))
        .await;
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        s.get_json("/live/trails?vehicle=patrol-1", Some(&staff)).await["features"].as_array().unwrap().len(),
        1
    );
    assert!(s.app.store.revoke_vehicle("patrol-1").await.unwrap());
    s.app.live.refresh_registry().await.unwrap();
    assert_eq!(s.get_json("/live/vehicles", Some(&staff)).await["features"], json!([]));
    assert_eq!(s.get_json("/live/trails", Some(&staff)).await["features"], json!([]));
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

/// A run along a road: fixes every second at 8 m/s along `line` (store CRS, metres), heading
/// along it, starting at `start` (Unix seconds). Returns (fix JSON, time) pairs.
fn run(device: &str, line: &[(f64, f64)], start: i64, speed: Option<f64>, extra: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut t = start;
    for w in line.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let len = (x1 - x0).hypot(y1 - y0);
        let heading = (x1 - x0).atan2(y1 - y0).to_degrees().rem_euclid(360.0);
        let steps = (len / 8.0).ceil().max(1.0) as usize;
        for i in 0..steps {
            let k = i as f64 / steps as f64;
            let (x, y) = (x0 + (x1 - x0) * k, y0 + (y1 - y0) * k);
            let (lon, lat) = to_lonlat(x, y);
            let mut f = json!({"device": device, "time": t, "lat": lat, "lon": lon, "heading_deg": heading});
            if let Some(s) = speed {
                f["speed_mps"] = json!(s);
            }
            f.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            out.push(f);
            t += 1;
        }
    }
    out
}

fn to_lonlat(x: f64, y: f64) -> (f64, f64) {
    use machizu::crs::{Epsg, with_transformer};
    with_transformer(Epsg::JGD2011_ZONE_X, Epsg::WGS84, |t| t.point(x, y)).unwrap().unwrap()
}

fn coords(f: &machizu::feature::Feature) -> Vec<(f64, f64)> {
    match &f.geometry {
        geo_types::Geometry::LineString(l) => l.0.iter().map(|c| (c.x, c.y)).collect(),
        other => panic!("roads are lines: {other:?}"),
    }
}

fn length(line: &[(f64, f64)]) -> f64 {
    line.windows(2).map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1)).sum()
}

/// The angle (0–90°) between two roads where they meet, from their segments' directions.
fn crossing_angle(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    use geo::{Intersects, Line};
    let lines = |l: &[(f64, f64)]| l.windows(2).map(|w| Line::new(w[0], w[1])).collect::<Vec<_>>();
    let dir = |l: &Line<f64>| l.dy().atan2(l.dx()).to_degrees();
    let mut angle: f64 = 0.0;
    for la in lines(a) {
        for lb in lines(b) {
            if la.intersects(&lb) {
                let d = (dir(&la) - dir(&lb)).rem_euclid(180.0);
                angle = angle.max(d.min(180.0 - d));
            }
        }
    }
    angle
}

async fn wait_for_plowed(s: &TestServer, id: i64) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let roads = s.app.engine.layer("roads").unwrap();
        let i = roads.def.attribute_index("last_plowed_at").unwrap();
        if let machizu::feature::AttrValue::Text(t) = &roads.get(id).unwrap().attributes[i] {
            return Some(t.clone());
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn attr(s: &TestServer, id: i64, name: &str) -> Value {
    let roads = s.app.engine.layer("roads").unwrap();
    roads.get(id).unwrap().attributes[roads.def.attribute_index(name).unwrap()].to_json()
}

#[tokio::test]
async fn a_night_of_plow_runs_marks_the_roads_driven_and_only_those() {
    night_of_plow_runs(&TestServer::demo().await).await;
}

/// The same in PostGIS: the fleet tables, plowed roads, restart and reconciliation.
#[tokio::test]
async fn live_tracking_in_postgis() {
    let url = support::fresh_database().await;
    let s = TestServer::demo_with(|c| {
        c.database_url = Some(machizu::config::Secret(url));
        c.demo = true;
    })
    .await;
    night_of_plow_runs(&s).await;
    traccar_and_batches(&s).await;
    retention(&s).await;
}

#[tokio::test]
async fn fixes_older_than_the_season_are_thinned_to_one_a_minute() {
    retention(&TestServer::demo().await).await;
}

/// Fixes older than the retention are thinned to the first of each vehicle and minute; newer
/// ones are kept whole.
async fn retention(s: &TestServer) {
    let admin = s.key(Role::Admin).await;
    let device = register(s, &admin, "plow-old", "plow", true).await;
    let days = i64::from(s.app.config.live.retention_days);
    assert_eq!(days, 180, "the default season");
    let old = Utc::now().timestamp() / 60 * 60 - (days + 20) * 86400;
    let recent = Utc::now().timestamp() - 3600;
    // Ten minutes of fixes every 5 s, long ago and an hour ago.
    let mut fixes = Vec::new();
    for start in [old, recent] {
        for k in 0..120 {
            fixes.push(json!({"device": device, "time": start + 5 * k, "lat": LAT + 0.00005 * k as f64, "lon": LON}));
        }
    }
    let r = s.call("POST", "/ingest/batch", None, Some(&json!({ "fixes": fixes })), &[]).await;
    assert_eq!(body_json(r).await["accepted"], 240);
    let cutoff = machizu::live::iso(Utc::now() - chrono::Duration::days(days));
    let deleted = s.app.store.thin_fixes(&cutoff).await.unwrap();
    assert_eq!(deleted, 120 - 10, "one fix a minute is kept");
    assert_eq!(s.app.store.thin_fixes(&cutoff).await.unwrap(), 0, "thinning twice changes nothing");
    let kept = fixes_of(s, "plow-old").await;
    let old_kept: Vec<i64> = kept
        .iter()
        .map(|f| chrono::DateTime::parse_from_rfc3339(f["time"].as_str().unwrap()).unwrap().timestamp())
        .filter(|t| *t < recent)
        .collect();
    assert_eq!(old_kept, (0..10).map(|m| old + 60 * m).collect::<Vec<_>>());
    assert_eq!(kept.len(), 10 + 120);
}

/// Every stored fix of a vehicle, read with a staff key.
async fn fixes_of(s: &TestServer, vehicle: &str) -> Vec<Value> {
    let staff = s.key(Role::Staff).await;
    fixes(s, &staff, vehicle).await
}

async fn night_of_plow_runs(s: &TestServer) {
    let admin = s.key(Role::Admin).await;
    let plow_a = register(s, &admin, "plow-a", "plow", true).await;
    let plow_d = register(s, &admin, "plow-d", "blower", true).await;
    let plow_b = register(s, &admin, "plow-b", "plow", true).await;
    let patrol = register(s, &admin, "patrol-c", "patrol", true).await;
    let parked = register(s, &admin, "plow-e", "plow", true).await;

    // Five roads far apart (A, B, C, D, E), each met by at least two roads at more than 60°.
    let roads = s.app.engine.layer("roads").unwrap();
    let mut all: Vec<(i64, Vec<(f64, f64)>)> = roads.features().map(|f| (f.id, coords(&f))).collect();
    all.sort_by(|a, b| length(&b.1).total_cmp(&length(&a.1)).then(a.0.cmp(&b.0)));
    let far = |a: &[(f64, f64)], b: &[(f64, f64)]| {
        use geo::{Distance, Euclidean};
        Euclidean.distance(&geo_types::LineString::from(a.to_vec()), &geo_types::LineString::from(b.to_vec())) > 100.0
    };
    let mut picked: Vec<(i64, Vec<(f64, f64)>)> = Vec::new();
    for (id, line) in &all {
        let crossed = all.iter().filter(|(o, l)| o != id && crossing_angle(line, l) > 60.0).count();
        if length(line) > 120.0 && length(line) < 3000.0 && crossed > 1 && picked.iter().all(|(_, p)| far(p, line)) {
            picked.push((*id, line.clone()));
        }
        if picked.len() == 5 {
            break;
        }
    }
    assert_eq!(picked.len(), 5, "the demo city has five roads far apart, each crossing two others");
    let [a, b, c, d, e] = <[_; 5]>::try_from(picked).unwrap();
    let crossing_a: Vec<i64> =
        all.iter().filter(|(o, l)| *o != a.0 && crossing_angle(&a.1, l) > 60.0).map(|(o, _)| *o).collect();
    drop(roads);

    let now = Utc::now().timestamp();
    let hour = 3600;
    let reversed: Vec<(f64, f64)> = d.1.iter().rev().copied().collect();
    let mut fixes = Vec::new();
    // 7 h ago plow A drives road A, blade down, through its crossings.
    let run_a = run(&plow_a, &a.1, now - 7 * hour, Some(8.0), json!({"blade_down": true}));
    let a_times: Vec<i64> = run_a.iter().map(|f| f["time"].as_i64().unwrap()).collect();
    fixes.extend(run_a);
    // 2 h ago a blower drives road D against its digitised direction (no blade state sent).
    fixes.extend(run(&plow_d, &reversed, now - 2 * hour, Some(8.0), json!({})));
    // 40 min ago plow B drives road B with the blade up: not plowing.
    fixes.extend(run(&plow_b, &b.1, now - 40 * 60, Some(8.0), json!({"blade_down": false})));
    // 30 min ago a patrol car drives road C: it does not plow.
    fixes.extend(run(&patrol, &c.1, now - 30 * 60, Some(8.0), json!({})));
    // For 10 minutes a plow stands on road E, engine running: speed 0, then no speed at all.
    let (x, y) = e.1[0];
    let (x1, y1) = e.1[1];
    let along = |k: f64| (x + (x1 - x) * k * 0.001, y + (y1 - y) * k * 0.001);
    for i in 0..20 {
        let (px, py) = along(f64::from(i % 2)); // GPS jitter of about a metre
        let (lon, lat) = to_lonlat(px, py);
        let heading = (x1 - x).atan2(y1 - y).to_degrees().rem_euclid(360.0);
        let mut f = json!({"device": parked, "time": now - 10 * 60 + i64::from(i) * 30, "lat": lat, "lon": lon, "heading_deg": heading});
        if i < 10 {
            f["speed_mps"] = json!(0.0);
        }
        fixes.push(f);
    }
    for chunk in fixes.chunks(500) {
        let r = s.call("POST", "/ingest/batch", None, Some(&json!({"fixes": chunk})), &[]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(body_json(r).await["flagged"], 0);
    }

    // Road A: plowed during its run, late in it; class 6–12 h.
    let t = wait_for_plowed(s, a.0).await.expect("road A is plowed");
    let t = chrono::DateTime::parse_from_rfc3339(&t).unwrap().timestamp();
    let (first, last) = (a_times[0], *a_times.last().unwrap());
    assert!(t >= first + (last - first) * 3 / 4 && t <= last, "A plowed at {t}, run {first}..{last}");
    assert_eq!(attr(s, a.0, "plowed_class"), "6_12h");
    // Road D, driven the other way round: plowed, 1–3 h.
    assert!(wait_for_plowed(s, d.0).await.is_some(), "road D is plowed whatever the direction");
    assert_eq!(attr(s, d.0, "plowed_class"), "1_3h");
    // Blade up, a patrol car, a parked plow: not plowed. Roads crossed by A: not plowed.
    for (what, id) in [("B (blade up)", b.0), ("C (patrol)", c.0), ("E (parked)", e.0)] {
        assert_eq!(attr(s, id, "last_plowed_at"), Value::Null, "road {what}");
    }
    assert!(!crossing_a.is_empty());
    for id in &crossing_a {
        assert_eq!(attr(s, *id, "last_plowed_at"), Value::Null, "road {id} crosses A");
    }

    // Residents ask about their road by position.
    let (mx, my) = a.1[a.1.len() / 2];
    let (nx, ny) = a.1[a.1.len() / 2 - 1];
    let (lon, lat) = to_lonlat((mx + nx) / 2.0, (my + ny) / 2.0);
    let answer = s.get_json(&format!("/query/plowed?lon={lon}&lat={lat}"), None).await;
    assert_eq!(answer["road"]["id"], a.0);
    assert_eq!(answer["plowed_class"], "6_12h");
    assert!((6 * 60..7 * 60 + 30).contains(&answer["age_min"].as_i64().unwrap()), "{answer}");
    // … in words, in Japan time.
    let t_jst = chrono::DateTime::from_timestamp(t, 0).unwrap().with_timezone(&machizu::live::report::jst());
    let hm = t_jst.format("%-H:%M").to_string();
    let (ja, en) = (answer["said"]["ja"].as_str().unwrap(), answer["said"]["en"].as_str().unwrap());
    assert!(ja.ends_with(&format!("{hm} に除雪済み")) && en.starts_with("Plowed") && en.contains(&hm), "{answer}");
    let (mx, my) = b.1[b.1.len() / 2];
    let (lon_b, lat_b) = to_lonlat(mx, my);
    let unplowed = s.get_json(&format!("/query/plowed?lon={lon_b}&lat={lat_b}"), None).await;
    assert_eq!(unplowed["said"]["ja"], "今シーズンはまだ除雪車が通っていません", "{unplowed}");
    let r = s.get("/query/plowed?lon=140.9&lat=38.2").await;
    assert_eq!(r.status(), 404);

    // The roads tiles carry the class.
    let tile = machizu::tile::TileCoord::containing(lon, lat, 16);
    let r = s.get(&format!("/tiles/roads/{}/{}/{}.mvt", tile.z, tile.x, tile.y)).await;
    assert_eq!(r.status(), 200);
    let decoded = vector_tile::decode(&body_bytes(r).await);
    let layer = &decoded.layers[0];
    let f = layer.features.iter().find(|f| f.id == Some(a.0 as u64)).expect("road A in its tile");
    assert_eq!(layer.props(f)["plowed_class"], "6_12h");

    // Trails: ten-minute pieces with their age (for fading) and whether they plowed.
    let staff = s.key(Role::Staff).await;
    let trails = s.get_json("/live/trails?vehicle=plow-a", Some(&staff)).await;
    let pieces = trails["features"].as_array().unwrap();
    let run_minutes = (last - first) / 60;
    assert!(
        pieces.len() as i64 >= run_minutes / 10 && pieces.len() as i64 <= run_minutes / 10 + 2,
        "{} pieces",
        pieces.len()
    );
    for piece in pieces {
        let p = &piece["properties"];
        assert_eq!((p["vehicle_id"].as_str(), p["plowing"].as_bool()), (Some("plow-a"), Some(true)));
        assert!((6 * 60..7 * 60 + 30).contains(&p["age_min"].as_i64().unwrap()), "{p}");
    }
    let b_trail = s.get_json("/live/trails?vehicle=plow-b", None).await;
    assert!(b_trail["features"].as_array().unwrap().iter().all(|f| f["properties"]["plowing"] == false));
    assert!(b_trail["features"][0]["properties"].get("vehicle_id").is_none(), "no ids for the public");
    let recent = s.get_json("/live/trails?hours=1", Some(&staff)).await;
    let ids: std::collections::BTreeSet<&str> = recent["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["vehicle_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["patrol-c", "plow-b"], "the parked plow draws no trail");
    // As tiles, for staff: road A's piece, plowing.
    let r = s
        .call("GET", &format!("/tiles/snowplow_trails/{}/{}/{}.mvt", tile.z, tile.x, tile.y), Some(&staff), None, &[])
        .await;
    assert_eq!(r.status(), 200);
    let decoded = vector_tile::decode(&body_bytes(r).await);
    let layer = &decoded.layers[0];
    assert!(
        layer.features.iter().any(|f| layer.props(f)["vehicle_id"] == "plow-a" && layer.props(f)["plowing"] == "true")
    );
    assert_eq!(s.get(&format!("/tiles/snowplow_trails/{}/{}/{}.mvt", tile.z, tile.x, tile.y)).await.status(), 404);

    // Each fix keeps the road it was matched to, and the coverage is kept for staff only.
    let matched: Vec<Value> = fixes_of(s, "plow-a").await;
    let on_a = matched.iter().filter(|f| f["road"] == a.0).count();
    assert!(on_a as f64 >= 0.95 * matched.len() as f64, "{on_a} of {} fixes matched to road A", matched.len());
    let coverage = attr(s, a.0, "plowed_coverage");
    assert!(coverage.as_f64().unwrap() >= 0.9, "{coverage}");
    assert!(
        attr(s, crossing_a[0], "plowed_coverage").as_f64().unwrap_or(0.0) < 0.7,
        "a crossed road is barely covered"
    );
    let item = |key: Option<String>| async move {
        let path = format!("/ogc/collections/roads/items/{}", a.0);
        s.get_json(&path, key.as_deref()).await["properties"].clone()
    };
    assert!(item(None).await.get("plowed_coverage").is_none(), "the public never see the coverage");
    assert_eq!(item(Some(staff.clone())).await["plowed_coverage"], coverage);

    // After a restart the plowed times are still there — and are rebuilt should the roads have
    // lost them, and the matches too should they never have been recorded (a crash between the
    // fix and its road update): matching resumes from the stored fixes.
    let roads_def = s.app.engine.catalog().get("roads").unwrap().clone();
    s.app.store.set_derived(&roads_def, &["last_plowed_at", "plowed_class"], &[(a.0, vec![None, None])]).await.unwrap();
    forget_matches(s, "plow-a").await;
    let again = std::sync::Arc::new(machizu::app::App::open(s.app.config.clone()).await.unwrap());
    let roads = again.engine.layer("roads").unwrap();
    let i = roads_def.attribute_index("last_plowed_at").unwrap();
    let restored = roads.get(a.0).unwrap().attributes[i].to_json();
    assert_eq!(chrono::DateTime::parse_from_rfc3339(restored.as_str().unwrap()).unwrap().timestamp(), t);
    assert!(!roads.get(d.0).unwrap().attributes[i].is_null());
    assert_eq!(again.live.snapshot(machizu::catalog::Audience::Public)["features"].as_array().unwrap().len(), 5);
    // … and so are the trails.
    let rebuilt = again.live.trails_json(machizu::catalog::Audience::Staff, Some("plow-a"), None);
    assert_eq!(rebuilt["features"].as_array().unwrap().len(), pieces.len());
}

/// Deletes what route inference recorded for a vehicle (its passes and progress), as if the
/// process had died between storing its fixes and recording their matches.
async fn forget_matches(s: &TestServer, vehicle: &str) {
    let statements =
        ["DELETE FROM machizu_road_passes WHERE vehicle = $1", "DELETE FROM machizu_match_progress WHERE vehicle = $1"];
    match &s.app.config.database_url {
        Some(url) => {
            let pool = sqlx::PgPool::connect(&url.0).await.unwrap();
            for q in statements {
                sqlx::query(q).bind(vehicle).execute(&pool).await.unwrap();
            }
        }
        None => {
            let path = s.app.config.data_dir.join(machizu::store::gpkg::FILE_NAME);
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            for q in statements {
                sqlx::query(q).bind(vehicle).execute(&pool).await.unwrap();
            }
        }
    }
}

/// The test broker `scripts/test` starts (`MACHIZU_TEST_MQTT_URL`). Fails, not skips, when
/// there is none: the MQTT path must be tested.
fn test_broker() -> (String, u16) {
    let url = std::env::var("MACHIZU_TEST_MQTT_URL").expect(
        "MACHIZU_TEST_MQTT_URL is not set: run the tests with scripts/test, which starts a throwaway Mosquitto broker",
    );
    let (host, port) = url.strip_prefix("mqtt://").unwrap().rsplit_once(':').unwrap();
    (host.to_owned(), port.parse().unwrap())
}

#[tokio::test]
async fn owntracks_positions_arrive_through_a_real_mosquitto_broker() {
    let (host, port) = test_broker();
    let s = TestServer::demo_with(|c| c.live.mqtt_url = Some(format!("mqtt://{host}:{port}"))).await;
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let device = register(&s, &admin, "phone-1", "plow", true).await;

    // A phone running OwnTracks publishes with QoS 1 on owntracks/{user}/{device}.
    let mut options = rumqttc::MqttOptions::new("owntracks-phone-1", host, port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let now = Utc::now().timestamp();
    let messages = [
        // Not a position: ignored.
        (format!("owntracks/obanazawa/{device}"), json!({"_type": "transition", "event": "enter", "tst": now})),
        // An unknown device: refused (and acknowledged, so the broker does not resend it).
        ("owntracks/obanazawa/0000".to_owned(), json!({"_type": "location", "lat": LAT, "lon": LON, "tst": now})),
        (
            format!("owntracks/obanazawa/{device}"),
            json!({"_type": "location", "lat": LAT, "lon": LON, "tst": now - 1, "vel": 36, "cog": 270, "acc": 8, "alt": 91, "batt": 55, "tid": "p1"}),
        ),
    ];
    // The server subscribes once connected: publish until the position is stored.
    let deadline = Instant::now() + Duration::from_secs(15);
    let got = loop {
        for (topic, payload) in &messages {
            client.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.to_string()).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let got = fixes(&s, &staff, "phone-1").await;
        if !got.is_empty() {
            break got;
        }
        assert!(Instant::now() < deadline, "no position came through the broker");
    };
    assert_eq!(got.len(), 1, "published again, stored once: {got:?}");
    let f = &got[0];
    assert_eq!(chrono::DateTime::parse_from_rfc3339(f["time"].as_str().unwrap()).unwrap().timestamp(), now - 1);
    assert_eq!((f["speed_mps"].as_f64(), f["heading_deg"].as_f64()), (Some(10.0), Some(270.0)), "vel is km/h");
    assert_eq!(
        (f["accuracy_m"].as_f64(), f["altitude_m"].as_f64(), f["battery_pct"].as_f64()),
        (Some(8.0), Some(91.0), Some(55.0))
    );
    assert_eq!(f["extra"]["tid"], "p1");
    let live = s.get_json("/live/vehicles", None).await;
    assert_eq!(live["features"][0]["properties"]["label"], "除雪車 phone-1");
}

#[tokio::test]
async fn staff_get_the_daily_report_gpx_and_gtfs_realtime() {
    let s = TestServer::demo().await;
    let (admin, staff) = (s.key(Role::Admin).await, s.key(Role::Staff).await);
    let device = register(&s, &admin, "plow-r", "plow", true).await;
    let hidden = register(&s, &admin, "plow-h", "plow", false).await;
    let roads = s.app.engine.layer("roads").unwrap();
    let line = roads
        .features()
        .map(|f| coords(&f))
        .find(|l| (300.0..3000.0).contains(&length(l)))
        .expect("a road of 300 m to 3 km");
    drop(roads);
    // Half an hour ago: along the road with the blade down for the first half.
    let start = Utc::now().timestamp() - 1800;
    let mut fixes = run(&device, &line, start, Some(8.0), json!({"blade_down": true}));
    let half = fixes.len() / 2;
    for f in &mut fixes[half..] {
        f["blade_down"] = json!(false);
    }
    fixes.push(json!({"device": hidden, "time": start, "lat": LAT, "lon": LON}));
    let r = s.call("POST", "/ingest/batch", None, Some(&json!({ "fixes": fixes })), &[]).await;
    assert_eq!(r.status(), 200);
    let n = fixes.len() - 1;

    let day =
        chrono::DateTime::from_timestamp(start, 0).unwrap().with_timezone(&machizu::live::report::jst()).date_naive();
    // Matching runs after the fixes are stored: the roads come within moments.
    let deadline = Instant::now() + Duration::from_secs(5);
    let v = loop {
        let report = s.get_json(&format!("/live/report?date={day}"), Some(&staff)).await;
        let v = report["vehicles"].as_array().unwrap().iter().find(|v| v["vehicle_id"] == "plow-r").unwrap().clone();
        if v["roads"].as_u64() > Some(0) || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let km = length(&line) / 1000.0;
    let within = |got: &Value, want: f64, tolerance: f64| (got.as_f64().unwrap() - want).abs() <= tolerance;
    assert_eq!(v["fixes"], n);
    assert!(within(&v["distance_km"], km, 0.02 * km + 0.01), "{v} vs {km}");
    assert!(within(&v["blade_down_km"], km / 2.0, 0.1 * km), "{v}");
    assert!(within(&v["operating_hours"], (n - 1) as f64 / 3600.0, 0.01), "{v}");
    assert!(v["roads"].as_u64().unwrap() >= 1 && v["roads_covered_km"].as_f64().unwrap() >= 0.9 * km, "{v}");
    // Every fix is matched to the road it was on, blade up or down.
    let matched = fixes_of(&s, "plow-r").await;
    assert!(matched.iter().filter(|f| f["road"].is_i64()).count() >= n - 2, "all but the lag's last fixes");
    assert_eq!((v["name"].as_str(), v["operator"].as_str()), (Some("plow-r 号車"), Some("山形除雪(株)")));
    let r = s.call("GET", &format!("/live/report?date={day}&format=csv"), Some(&staff), None, &[]).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = String::from_utf8(body_bytes(r).await).unwrap();
    assert!(csv.lines().any(|l| l.starts_with(&format!("plow-r,plow-r 号車,plow,山形除雪(株),{n},"))), "{csv}");
    for (uri, key, status) in [
        (format!("/live/report?date={day}"), None, 401),
        ("/live/report?date=tomorrow".to_owned(), Some(&staff), 400),
        ("/live/export.gpx?from=0&to=9999999999".to_owned(), None, 401),
    ] {
        assert_eq!(s.call("GET", &uri, key.map(String::as_str), None, &[]).await.status(), status, "{uri}");
    }

    // GPX: every fix of the vehicle, in a track named after it.
    let r = s
        .call(
            "GET",
            &format!("/live/export.gpx?vehicle=plow-r&from={start}&to={}", start + 86400),
            Some(&staff),
            None,
            &[],
        )
        .await;
    assert_eq!(r.headers()["content-type"], "application/gpx+xml");
    let gpx = String::from_utf8(body_bytes(r).await).unwrap();
    assert_eq!(gpx.matches("<trkpt ").count(), n);
    assert!(gpx.contains("<name>plow-r 号車</name>") && gpx.contains("xmlns=\"http://www.topografix.com/GPX/1/1\""));

    // GTFS-Realtime: the latest position of each vehicle the caller may see.
    use prost::Message;
    let s = &s;
    let feed = |key: Option<String>| async move {
        let r = s.call("GET", "/live/gtfs-rt", key.as_deref(), None, &[]).await;
        assert_eq!(r.headers()["content-type"], "application/x-protobuf");
        gtfs_realtime::FeedMessage::decode(body_bytes(r).await.as_slice()).unwrap()
    };
    let public = feed(None).await;
    assert_eq!(public.header.gtfs_realtime_version, "2.0");
    assert_eq!(public.entity.len(), 1, "only the public vehicle");
    let vp = public.entity[0].vehicle.as_ref().unwrap();
    assert_eq!(vp.vehicle.as_ref().unwrap().label.as_deref(), Some("除雪車 plow-r"));
    let last = fixes[n - 1].clone();
    let position = vp.position.as_ref().unwrap();
    assert!((f64::from(position.latitude) - last["lat"].as_f64().unwrap()).abs() < 1e-5);
    assert_eq!(vp.timestamp, Some(last["time"].as_i64().unwrap() as u64));
    assert_eq!(position.speed, Some(8.0));
    let all = feed(Some(staff)).await;
    let ids: Vec<&str> = all.entity.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["plow-r", "plow-h"]);
}
