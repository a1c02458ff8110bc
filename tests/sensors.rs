//! OGC SensorThings API 1.1 (issue #17): the standard's own examples, FROST-Server's Python
//! client against both stores, and who sees what.

mod support;

use std::path::Path;

use machizu::auth::Role;
use machizu::sensors::Sensors;
use machizu::sensors::model::Kind;
use serde_json::{Value, json};
use support::{TestServer, body_bytes};

/// Removes the link prefixes: the standard's `http://example.org/v1.1/` and the server's.
fn relative(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(
            s.replace("http://example.org/v1.1/", "")
                .replace("http://localhost/sta/v1.1/", "")
                .replace("http://localhost/sta/v1.1", ""),
        ),
        Value::Array(a) => Value::Array(a.iter().map(relative).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), relative(v))).collect()),
        other => other.clone(),
    }
}

/// Whether `expected` is a part of `actual`: every key of an object with its value, arrays
/// element by element and of the same length.
fn subset(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let got = a.get(k).ok_or_else(|| format!("{at}/{k} is missing"))?;
                subset(v, got, &format!("{at}/{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            e.iter().zip(a).enumerate().try_for_each(|(i, (e, a))| subset(e, a, &format!("{at}[{i}]")))
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{at}: expected {e}, got {a}")),
    }
}

/// Every request and response example of the standard in `tests/sta/examples.json`, in order,
/// against an empty SensorThings service.
#[tokio::test(flavor = "multi_thread")]
async fn the_standards_examples() {
    let s = TestServer::demo().await;
    let staff = s.key(Role::Staff).await;
    let file: Value = serde_json::from_str(include_str!("sta/examples.json")).unwrap();
    for x in file["exchanges"].as_array().unwrap() {
        let title = x["title"].as_str().unwrap();
        let req = &x["request"];
        let method = req["method"].as_str().unwrap();
        let path = req["path"].as_str().unwrap().replace(' ', "%20");
        let body = req.get("body");
        let r = s
            .call(method, &format!("/sta/v1.1/{path}"), Some(&staff), body, &[("content-type", "application/json")])
            .await;
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let bytes = body_bytes(r).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert_eq!(status, x["status"].as_u64().unwrap() as u16, "{title}: {text}");
        if let Some(want) = x.get("location") {
            assert_eq!(relative(&json!(location)), *want, "{title}: Location header");
        }
        if let Some(want) = x.get("text") {
            assert_eq!(text, want.as_str().unwrap(), "{title}");
            continue;
        }
        if x.get("response").is_none() && x.get("message_contains").is_none() {
            continue;
        }
        let got: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{title}: not JSON ({e}): {text}"));
        if let Some(want) = x.get("response") {
            subset(want, &relative(&got), "").unwrap_or_else(|e| panic!("{title}: {e}\n{got:#}"));
        }
        if let Some(want) = x.get("message_contains") {
            let message = got["message"].as_str().unwrap_or_default();
            assert!(message.contains(want.as_str().unwrap()), "{title}: {message}");
        }
        for key in x.get("absent").and_then(Value::as_array).into_iter().flatten() {
            assert!(got.get(key.as_str().unwrap()).is_none(), "{title}: {key} must not be there: {got}");
        }
    }
    // What was refused stored nothing: one Thing, one Datastream left.
    let reg = s.app.sensors.registry();
    assert_eq!((reg.all(Kind::Thing).count(), reg.all(Kind::Datastream).count()), (1, 1));
}

/// Runs `tests/sta/frost_client.py` against the server; returns its JSON summary.
async fn frost_client(s: &TestServer) -> Value {
    let staff = s.key(Role::Staff).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = s.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sta/frost_client.py");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(support::test_python())
            .arg(script)
            .arg(format!("http://127.0.0.1:{port}/sta/v1.1"))
            .arg(staff)
            .output()
            .expect("the test venv's python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "frost_client.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// What FROST's client left must be in the store: reopened from it, the service holds the same.
async fn check_frost_results(s: &TestServer, summary: &Value) {
    let reopened = Sensors::open(s.app.store.clone()).await.unwrap();
    let reg = reopened.registry();
    assert_eq!(reg.all(Kind::Thing).count() as u64, summary["things"].as_u64().unwrap());
    let deleted = summary["deleted"].as_i64().unwrap();
    assert!(reg.get(Kind::Datastream, deleted).is_none());
    assert_eq!(reg.all(Kind::Datastream).count(), 2);
    let all: Vec<i64> = reg.all(Kind::Datastream).map(|d| d.id).collect();
    let filter = machizu::store::sensors::ObservationFilter { datastreams: all, ..Default::default() };
    let n = s.app.store.count_observations(&filter).await.unwrap();
    assert_eq!(n, summary["observations"].as_u64().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn frosts_python_client_works_unchanged_on_the_geopackage() {
    let s = TestServer::demo().await;
    let summary = frost_client(&s).await;
    check_frost_results(&s, &summary).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn frosts_python_client_works_unchanged_on_postgis() {
    let url = support::fresh_database().await;
    let s = TestServer::demo_with(|c| c.database_url = Some(machizu::config::Secret(url))).await;
    let summary = frost_client(&s).await;
    check_frost_results(&s, &summary).await;
}

/// A staff-only station (Thing `properties.staffOnly`) and a staff-only datastream of a public
/// station reach staff only, on every path: sets, ids, navigation, observations, `$expand`,
/// `$filter`; writes need a staff key.
#[tokio::test(flavor = "multi_thread")]
async fn staff_only_stations_never_reach_the_public() {
    let s = TestServer::demo().await;
    let staff = s.key(Role::Staff).await;
    let public = s.key(Role::Public).await;
    let thing = |name: &str, staff_only: bool| {
        let mut t = machizu::sensors::write::example_thing(name, 140.4, 38.6, "m");
        t["properties"] = json!({"staffOnly": staff_only});
        t
    };
    for t in [thing("公開観測所", false), thing("内部観測所", true)] {
        let r = s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await;
        assert_eq!(r.status(), 201);
    }
    // A staff-only datastream on the public station (its Sensor and ObservedProperty are shared).
    let ds = json!({"name": "内部水位", "unitOfMeasurement": {}, "observationType": "m", "properties": {"staffOnly": true},
                    "Thing": {"@iot.id": 1}, "Sensor": {"@iot.id": 1}, "ObservedProperty": {"@iot.id": 1}});
    assert_eq!(s.call("POST", "/sta/v1.1/Datastreams", Some(&staff), Some(&ds), &[]).await.status(), 201);
    for d in 1..=3 {
        let obs = json!({"result": d as f64, "phenomenonTime": "2026-12-01T00:00:00Z"});
        let r =
            s.call("POST", &format!("/sta/v1.1/Datastreams({d})/Observations"), Some(&staff), Some(&obs), &[]).await;
        assert_eq!(r.status(), 201);
    }
    // Thing 2 and Datastreams 2 (its) and 3 (staff-only) are hidden; observation ids follow datastreams.
    let hidden = [
        "/sta/v1.1/Things(2)",
        "/sta/v1.1/Datastreams(2)",
        "/sta/v1.1/Datastreams(3)",
        "/sta/v1.1/Datastreams(3)/Observations",
        "/sta/v1.1/Observations(2)",
        "/sta/v1.1/Observations(3)",
        "/sta/v1.1/Things(2)/Datastreams",
        "/sta/v1.1/Locations(2)",
        "/sta/v1.1/Sensors(2)",
    ];
    for key in [None, Some(public.as_str())] {
        for path in hidden {
            let r = s.call("GET", path, key, None, &[]).await;
            assert_eq!(r.status(), 404, "{path} with {key:?}");
        }
        let things = s.get_json("/sta/v1.1/Things?$expand=Datastreams($expand=Observations)", key).await;
        let text = things.to_string();
        assert!(!text.contains("内部"), "{text}");
        assert_eq!(things["value"].as_array().unwrap().len(), 1);
        let obs = s.get_json("/sta/v1.1/Observations?$count=true", key).await;
        assert_eq!(obs["@iot.count"], 1, "{obs}");
        let filtered = s.get_json("/sta/v1.1/Datastreams?$filter=properties/staffOnly%20eq%20true", key).await;
        assert_eq!(filtered["value"], json!([]));
        // Writes are for staff.
        let r = s.call("POST", "/sta/v1.1/Things", key, Some(&thing("x", false)), &[]).await;
        assert_eq!(r.status(), if key.is_some() { 403 } else { 401 });
        let body: Value = serde_json::from_slice(&body_bytes(r).await).unwrap();
        assert!(body["message"].as_str().unwrap().contains("staff"), "{body}");
    }
    for path in hidden {
        let r = s.call("GET", path, Some(&staff), None, &[]).await;
        assert_eq!(r.status(), 200, "{path} for staff");
    }
    let obs = s.get_json("/sta/v1.1/Observations?$count=true", Some(&staff)).await;
    assert_eq!(obs["@iot.count"], 3);
    // A revoked key is refused outright, also as HTTP Basic.
    let new = machizu::auth::NewKey::generate("revoked", Role::Staff, None);
    let revoked = s.app.store.create_key(&new).await.unwrap();
    s.app.store.revoke_key(&revoked.id).await.unwrap();
    use base64::Engine;
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("u:{}", new.token)));
    let r = s.call("GET", "/sta/v1.1/Things", None, None, &[("authorization", &basic)]).await;
    assert_eq!(r.status(), 401);
    let good = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("u:{staff}")));
    let r = s.call("GET", "/sta/v1.1/Things(2)", None, None, &[("authorization", &good)]).await;
    assert_eq!(r.status(), 200, "HTTP Basic with a staff key as the password is staff");
}

/// A gauge posts with its device credential: to its own station's datastreams only, each
/// observation durable before the 201, with the device's time and the server's; late and out of
/// order observations are kept. Revoked or unknown credentials are refused.
#[tokio::test(flavor = "multi_thread")]
async fn devices_post_observations_to_their_own_station_only() {
    use machizu::store::sensors::NewSensorDevice;
    let s = TestServer::demo().await;
    let staff = s.key(Role::Staff).await;
    for (name, staff_only) in [("丹生川", false), ("内部", true)] {
        let mut t = machizu::sensors::write::example_thing(name, 140.4, 38.6, "m");
        t["properties"] = json!({"staffOnly": staff_only});
        assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await.status(), 201);
    }
    let gauge = NewSensorDevice::generate("gauge-niu", 1, "丹生川 水位計").unwrap();
    s.app.store.add_sensor_device(&gauge).await.unwrap();
    let other = NewSensorDevice::generate("gauge-x", 2, "内部").unwrap();
    s.app.store.add_sensor_device(&other).await.unwrap();
    let post = |path: &'static str, cred: String, body: Value| {
        let s = &s;
        async move {
            let r = s.call("POST", path, Some(&cred), Some(&body), &[]).await;
            let status = r.status().as_u16();
            (status, serde_json::from_slice::<Value>(&body_bytes(r).await).unwrap_or(Value::Null))
        }
    };
    let obs = |t: &str, v: f64| json!({"phenomenonTime": t, "result": v});
    let (status, created) =
        post("/sta/v1.1/Datastreams(1)/Observations", gauge.credential.clone(), obs("2026-12-01T10:00:00+09:00", 1.5))
            .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["phenomenonTime"], "2026-12-01T01:00:00.000Z");
    let result_time = created["resultTime"].as_str().unwrap();
    assert!(result_time > "2026-12-04", "the server's time of receipt: {result_time}");
    // Late and out of order: kept.
    let (status, _) = post(
        "/sta/v1.1/Observations",
        gauge.credential.clone(),
        json!({"phenomenonTime": "2026-12-01T09:00:00+09:00", "result": 1.2, "Datastream": {"@iot.id": 1}}),
    )
    .await;
    assert_eq!(status, 201);
    let batch = json!([{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"],
                        "dataArray": [["2026-12-01T10:10:00+09:00", 1.6], ["2026-12-01T10:20:00+09:00", 1.7]]}]);
    let (status, links) = post("/sta/v1.1/CreateObservations", gauge.credential.clone(), batch).await;
    assert_eq!((status, links.as_array().map(Vec::len)), (201, Some(2)));
    let series = s.get_json("/sta/v1.1/Datastreams(1)/Observations?$orderby=phenomenonTime&$select=result", None).await;
    assert_eq!(series["value"], json!([{"result": 1.2}, {"result": 1.5}, {"result": 1.6}, {"result": 1.7}]));
    // Another station's datastream, other entities, other methods: refused, nothing stored.
    let refused = [
        ("/sta/v1.1/Datastreams(2)/Observations", obs("2026-12-01T10:00:00Z", 9.0)),
        ("/sta/v1.1/Observations", json!({"result": 9.0, "Datastream": {"@iot.id": 2}})),
        (
            "/sta/v1.1/CreateObservations",
            json!([{"Datastream": {"@iot.id": 2}, "components": ["result"], "dataArray": [[9.0]]}]),
        ),
        ("/sta/v1.1/Things", machizu::sensors::write::example_thing("x", 140.0, 38.0, "m")),
    ];
    for (path, body) in refused {
        let (status, body) = post(path, gauge.credential.clone(), body).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body["message"].as_str().is_some(), "{body}");
    }
    let r = s.call("DELETE", "/sta/v1.1/Things(1)", Some(&gauge.credential), None, &[]).await;
    assert_eq!(r.status(), 403);
    let all = s.get_json("/sta/v1.1/Observations?$count=true", Some(&staff)).await;
    assert_eq!(all["@iot.count"], 4);
    // A device reads as the public: the staff-only station stays hidden from it, even its own.
    assert_eq!(s.call("GET", "/sta/v1.1/Things(2)", Some(&other.credential), None, &[]).await.status(), 404);
    // Revoked and unknown credentials.
    s.app.store.revoke_sensor_device("gauge-niu").await.unwrap();
    let (status, _) =
        post("/sta/v1.1/Datastreams(1)/Observations", gauge.credential.clone(), obs("2026-12-01T11:00:00Z", 1.0)).await;
    assert_eq!(status, 401);
    let (status, _) =
        post("/sta/v1.1/Datastreams(1)/Observations", "mzd_0000".into(), obs("2026-12-01T11:00:00Z", 1.0)).await;
    assert_eq!(status, 401);
    let all = s.get_json("/sta/v1.1/Observations?$count=true", Some(&staff)).await;
    assert_eq!(all["@iot.count"], 4);
}

/// The test broker `scripts/test` starts (`MACHIZU_TEST_MQTT_URL`).
fn test_broker() -> (String, u16) {
    let url = std::env::var("MACHIZU_TEST_MQTT_URL").expect(
        "MACHIZU_TEST_MQTT_URL is not set: run the tests with scripts/test, which starts a throwaway Mosquitto broker",
    );
    let (host, port) = url.strip_prefix("mqtt://").unwrap().rsplit_once(':').unwrap();
    (host.to_owned(), port.parse().unwrap())
}

/// Through a real Mosquitto: an observation published on `v1.1/Datastreams(1)/Observations`
/// is stored (once) and readable over HTTP; a subscriber receives the observations created over
/// HTTP, and never those of a staff-only datastream.
#[tokio::test(flavor = "multi_thread")]
async fn mqtt_creates_and_announces_observations() {
    use std::time::{Duration, Instant};
    let (host, port) = test_broker();
    let s = TestServer::demo_with(|c| c.live.mqtt_url = Some(format!("mqtt://{host}:{port}"))).await;
    let staff = s.key(Role::Staff).await;
    let t = machizu::sensors::write::example_thing("丹生川", 140.4, 38.6, "m");
    assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await.status(), 201);
    let hidden = json!({"name": "内部", "unitOfMeasurement": {}, "observationType": "m", "properties": {"staffOnly": true},
                        "Thing": {"@iot.id": 1}, "Sensor": {"@iot.id": 1}, "ObservedProperty": {"@iot.id": 1}});
    assert_eq!(s.call("POST", "/sta/v1.1/Datastreams", Some(&staff), Some(&hidden), &[]).await.status(), 201);

    // A subscriber on everything under v1.1/.
    let mut options = rumqttc::MqttOptions::new("sta-subscriber", host.clone(), port);
    options.set_keep_alive(Duration::from_secs(5));
    let (sub, mut sub_events) = rumqttc::AsyncClient::new(options, 64);
    sub.subscribe("v1.1/#", rumqttc::QoS::AtLeastOnce).await.unwrap();
    let (tx, mut received) = tokio::sync::mpsc::unbounded_channel::<(String, Value)>();
    tokio::spawn(async move {
        while let Ok(event) = sub_events.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = event {
                let _ = tx.send((p.topic.clone(), serde_json::from_slice(&p.payload).unwrap_or(Value::Null)));
            }
        }
    });

    // In: a device publishes; the server stores it once it has subscribed.
    let mut options = rumqttc::MqttOptions::new("sta-gauge", host, port);
    options.set_keep_alive(Duration::from_secs(5));
    let (gauge, mut gauge_events) = rumqttc::AsyncClient::new(options, 16);
    tokio::spawn(async move { while gauge_events.poll().await.is_ok() {} });
    let payload = json!({"phenomenonTime": "2026-12-01T10:00:00+09:00", "result": 2.25}).to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        gauge
            .publish("v1.1/Datastreams(1)/Observations", rumqttc::QoS::AtLeastOnce, false, payload.clone())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = s.get_json("/sta/v1.1/Datastreams(1)/Observations?$count=true", None).await;
        if got["@iot.count"].as_u64().unwrap() > 0 {
            assert_eq!(got["value"][0]["result"], 2.25);
            assert_eq!(got["value"][0]["phenomenonTime"], "2026-12-01T01:00:00.000Z");
            break;
        }
        assert!(Instant::now() < deadline, "no observation came through the broker");
    }

    // Out: created over HTTP, announced on the datastream's topic; the staff-only one is not.
    let obs = json!({"phenomenonTime": "2026-12-01T11:00:00+09:00", "result": 3.5});
    assert_eq!(
        s.call("POST", "/sta/v1.1/Datastreams(2)/Observations", Some(&staff), Some(&obs), &[]).await.status(),
        201
    );
    assert_eq!(
        s.call("POST", "/sta/v1.1/Datastreams(1)/Observations", Some(&staff), Some(&obs), &[]).await.status(),
        201
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let announced = loop {
        let (topic, body) =
            tokio::time::timeout_at(deadline.into(), received.recv()).await.expect("announced within 10 s").unwrap();
        assert_ne!(topic, "v1.1/Datastreams(2)/Observations", "a staff-only datastream reached the broker");
        if body["result"] == 3.5 {
            assert_eq!(topic, "v1.1/Datastreams(1)/Observations");
            break body;
        }
    };
    assert!(announced["@iot.id"].as_i64().is_some() && announced["@iot.selfLink"].as_str().unwrap().ends_with(")"));
    // machizu's own announcements coming back are not stored again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = s.get_json("/sta/v1.1/Datastreams(1)/Observations?$count=true", None).await;
    let results: Vec<f64> = all["value"].as_array().unwrap().iter().map(|o| o["result"].as_f64().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| **r == 3.5).count(), 1, "{results:?}");
}

/// A flood wave replayed through the dataArray extension (out of order, in one batch) crosses
/// each of Japan's four named river levels up and then down, the events in order, with no
/// flapping from the gauge's ±3 cm noise; a gauge that falls silent becomes 欠測 when its
/// expected interval runs out, and the state outlives a restart.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_hydrograph_crosses_each_river_level_up_and_down() {
    use chrono::{DateTime, Duration, Utc};
    let s = TestServer::demo().await;
    let staff = s.key(Role::Staff).await;
    let mut t = machizu::sensors::write::example_thing("丹生川 水位観測所", 140.4, 38.6, "m");
    let levels: Vec<Value> =
        [("水防団待機水位", 2.0), ("はん濫注意水位", 2.5), ("避難判断水位", 3.2), ("はん濫危険水位", 4.0)]
            .iter()
            .map(|(name, value)| json!({"value": value, "name_ja": name, "name_en": name}))
            .collect();
    t["Datastreams"][0]["properties"] =
        json!({"thresholds": {"levels": levels, "hysteresis": 0.1, "expected_interval_s": 600}});
    assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await.status(), 201);
    // Falling thresholds are refused.
    let bad = json!({"properties": {"thresholds": {"levels": [{"value": 3, "name_ja": "a", "name_en": "a"}, {"value": 2, "name_ja": "b", "name_en": "b"}], "hysteresis": 0.1, "expected_interval_s": 60}}});
    let r = s.call("PATCH", "/sta/v1.1/Datastreams(1)", Some(&staff), Some(&bad), &[]).await;
    assert_eq!(r.status(), 400);

    let start: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    let mut rows: Vec<Value> = (0..=72)
        .map(|i| {
            let x = f64::from(i) / 72.0 * std::f64::consts::PI;
            let wobble = if i % 2 == 0 { 0.03 } else { -0.03 };
            let at = start + Duration::minutes(10 * i64::from(i));
            json!([at.to_rfc3339(), ((1.0 + 3.6 * x.sin() + wobble) * 1000.0).round() / 1000.0])
        })
        .collect();
    rows.reverse();
    let batch = json!([{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows}]);
    assert_eq!(s.call("POST", "/sta/v1.1/CreateObservations", Some(&staff), Some(&batch), &[]).await.status(), 201);

    let events = s.get_json("/sensors/events", None).await;
    let events = events.as_array().unwrap();
    let path: Vec<&str> = events.iter().map(|e| e["to"].as_str().unwrap()).collect();
    assert_eq!(
        path,
        ["level:0", "level:1", "level:2", "level:3", "level:4", "level:3", "level:2", "level:1", "level:0"]
    );
    let names: Vec<&str> = events[1..5].iter().map(|e| e["to_name_ja"].as_str().unwrap()).collect();
    assert_eq!(names, ["水防団待機水位", "はん濫注意水位", "避難判断水位", "はん濫危険水位"]);
    assert_eq!(events[8]["to_name_ja"], "平常");
    let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    for e in &events[1..5] {
        assert!(e["value"].as_f64().unwrap() >= 2.0, "up at or above its level: {e}");
    }

    // Silence: 欠測 exactly when the 10-minute interval after the last observation ran out.
    let last = start + Duration::minutes(720);
    s.app.sensors.check_silence(last + Duration::minutes(9)).await.unwrap();
    let after = events.last().unwrap()["id"].as_i64().unwrap();
    assert_eq!(s.get_json(&format!("/sensors/events?after={after}"), None).await, json!([]));
    s.app.sensors.check_silence(last + Duration::minutes(11)).await.unwrap();
    s.app.sensors.check_silence(last + Duration::minutes(12)).await.unwrap();
    let missing = s.get_json(&format!("/sensors/events?after={after}"), None).await;
    assert_eq!(missing.as_array().unwrap().len(), 1, "once: {missing}");
    assert_eq!(missing[0]["to"], "missing");
    assert_eq!(missing[0]["to_name_ja"], "欠測");
    assert_eq!(missing[0]["at"], "2026-12-01T12:10:00.000Z");
    let reopened = Sensors::open(s.app.store.clone()).await.unwrap();
    assert_eq!(reopened.state(1), Some(machizu::sensors::state::State::Missing));
}

/// Charts: a day from the raw observations for everyone; the season from hourly aggregates for
/// staff (with CSV), which survive the thinning of raw observations and take late ones in.
async fn charts(s: &TestServer) {
    use chrono::{Duration, DurationRound, Utc};
    let staff = s.key(Role::Staff).await;
    let mut t = machizu::sensors::write::example_thing("融雪溝 水位", 140.4, 38.6, "cm");
    t["Datastreams"][0]["properties"] = json!({"thresholds": {"levels": [{"value": 30.0, "name_ja": "注意", "name_en": "caution"}], "hysteresis": 1.0, "expected_interval_s": 600}});
    assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await.status(), 201);
    // Every 10 minutes for the 72 whole hours before this one, and 6 hours 20 days ago.
    let hour = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    let now = hour - Duration::minutes(10);
    let mut rows = Vec::new();
    let old = hour - Duration::days(20);
    for i in 0..36 {
        rows.push(json!([(old + Duration::minutes(10 * i)).to_rfc3339(), (i % 5) as f64]));
    }
    for i in 0..(3 * 144) {
        let at = now - Duration::minutes(10 * (3 * 144 - 1 - i));
        rows.push(json!([at.to_rfc3339(), (i % 50) as f64]));
    }
    let batch = json!([{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows}]);
    assert_eq!(s.call("POST", "/sta/v1.1/CreateObservations", Some(&staff), Some(&batch), &[]).await.status(), 201);
    s.app.sensors.aggregate().await.unwrap();

    let recent = |since: chrono::DateTime<Utc>| {
        (0..3 * 144).filter(|i| now - Duration::minutes(10 * (3 * 144 - 1 - i)) >= since).count()
    };
    let most = recent(Utc::now() - Duration::hours(24));
    let day = s.get_json("/sensors/datastreams/1/series", None).await;
    let least = recent(Utc::now() - Duration::hours(24));
    let n = day["points"].as_array().unwrap().len();
    assert!((least..=most).contains(&n) && n >= 138, "the last 24 h of 10-minute values: {n}");
    assert_eq!(day["levels"][0]["value"], 30.0);
    assert_eq!(day["unit"], "cm");
    for period in ["week", "season"] {
        assert_eq!(
            s.call("GET", &format!("/sensors/datastreams/1/series?period={period}"), None, None, &[]).await.status(),
            401
        );
    }
    let season = s.get_json("/sensors/datastreams/1/series?period=season", Some(&staff)).await;
    let hours = season["hours"].as_array().unwrap().clone();
    // 6 hours 20 days ago (if still in this season) and 72 hours now.
    let in_season = old >= machizu::sensors::series::season_start(now);
    assert_eq!(hours.len(), 72 + if in_season { 6 } else { 0 }, "{season}");
    let last = hours.last().unwrap();
    assert_eq!(last["n"], 6);
    let week = s.get_json("/sensors/datastreams/1/series?period=week", Some(&staff)).await;
    assert_eq!(week["hours"].as_array().unwrap().len(), 72);

    // Thinning drops the raw values 20 days old; the aggregates stay.
    let thinned = s.app.store.thin_observations(&machizu::store::iso(now - Duration::days(10))).await.unwrap();
    assert_eq!(thinned, 36);
    let again = s.get_json("/sensors/datastreams/1/series?period=season", Some(&staff)).await;
    assert_eq!(again["hours"], season["hours"]);
    let raw = s.get_json("/sta/v1.1/Observations?$count=true&$top=0", Some(&staff)).await;
    assert_eq!(raw["@iot.count"], 3 * 144);

    // A late observation joins its hour's aggregate.
    let hour0 = hours[hours.len() - 72]["hour"].as_str().unwrap().to_owned();
    let late = json!({"phenomenonTime": hour0, "result": 99.0});
    assert_eq!(
        s.call("POST", "/sta/v1.1/Datastreams(1)/Observations", Some(&staff), Some(&late), &[]).await.status(),
        201
    );
    s.app.sensors.aggregate().await.unwrap();
    let week = s.get_json("/sensors/datastreams/1/series?period=week", Some(&staff)).await;
    let first = &week["hours"][0];
    assert_eq!(
        (first["hour"].as_str().unwrap(), first["n"].as_i64(), first["max"].as_f64()),
        (hour0.as_str(), Some(7), Some(99.0))
    );

    let r = s.call("GET", "/sensors/datastreams/1/series?period=week&format=csv", Some(&staff), None, &[]).await;
    assert_eq!(r.status(), 200);
    let csv = String::from_utf8(body_bytes(r).await).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "hour,count,min,mean,max");
    assert_eq!(lines.len(), 73);
}

#[tokio::test(flavor = "multi_thread")]
async fn charts_on_the_geopackage() {
    charts(&TestServer::demo().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn charts_on_postgis() {
    let url = support::fresh_database().await;
    charts(&TestServer::demo_with(|c| c.database_url = Some(machizu::config::Secret(url))).await).await;
}

/// A body of raw bytes with a credential.
async fn post_image(s: &TestServer, path: &str, credential: &str, data: Vec<u8>) -> (u16, Value) {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {credential}"))
        .header("content-type", "image/jpeg")
        .body(axum::body::Body::from(data))
        .unwrap();
    let r = s.request(req).await;
    let status = r.status().as_u16();
    (status, serde_json::from_slice(&body_bytes(r).await).unwrap_or(Value::Null))
}

async fn cameras(s: &TestServer) -> Vec<Vec<u8>> {
    use machizu::sensors::demo::camera_frame;
    use machizu::store::sensors::NewSensorDevice;
    let staff = s.key(Role::Staff).await;
    let public = s.key(Role::Public).await;
    for (name, staff_only) in [("丹生川 カメラ", false), ("内部 カメラ", true)] {
        let t = json!({"name": name, "description": name, "properties": {"camera": true, "staffOnly": staff_only},
                       "Locations": [{"name": name, "description": name, "encodingType": "application/geo+json",
                                      "location": {"type": "Point", "coordinates": [140.41, 38.6]}}]});
        assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await.status(), 201);
    }
    let gauge = machizu::sensors::write::example_thing("水位計", 140.4, 38.6, "m");
    assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&gauge), &[]).await.status(), 201);
    let cam = NewSensorDevice::generate("cam-1", 1, "丹生川 カメラ").unwrap();
    s.app.store.add_sensor_device(&cam).await.unwrap();
    let cam2 = NewSensorDevice::generate("cam-2", 2, "内部 カメラ").unwrap();
    s.app.store.add_sensor_device(&cam2).await.unwrap();

    let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:05:00Z").unwrap().to_utc();
    let frames: Vec<Vec<u8>> = (0..4).map(|i| camera_frame(0.5 * f64::from(i), t0)).collect();
    let at =
        |minutes: i64| (t0 + chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path = |minutes: i64| format!("/sensors/cameras/1/images?time={}", at(minutes));
    let (status, first) = post_image(s, &path(0), &cam.credential, frames[0].clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (first["kept"].as_bool(), first["width"].as_i64(), first["height"].as_i64()),
        (Some(true), Some(320), Some(240))
    );
    assert_eq!(first["taken_at"], "2026-12-01T10:05:00.000Z");
    // Later in the same hour: it replaces the first as that hour's image.
    let (status, second) = post_image(s, &path(30), &cam.credential, frames[1].clone()).await;
    assert_eq!((status, second["kept"].as_bool()), (201, Some(true)));
    // An hour later, and a late one from the first hour, older than the one kept: not kept.
    let (status, third) = post_image(s, &path(65), &cam.credential, frames[2].clone()).await;
    assert_eq!(status, 201, "{third}");
    let (status, late) = post_image(s, &path(10), &cam.credential, frames[3].clone()).await;
    assert_eq!((status, late["kept"].as_bool()), (201, Some(false)));
    // The same bytes again in another hour: a second row, the bytes once.
    let (status, _) = post_image(s, &path(125), &cam.credential, frames[1].clone()).await;
    assert_eq!(status, 201);

    let list = s.get_json("/sensors/cameras/1/images", None).await;
    let times: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["taken_at"].as_str().unwrap()).collect();
    assert_eq!(times, ["2026-12-01T12:10:00.000Z", "2026-12-01T11:10:00.000Z", "2026-12-01T10:35:00.000Z"]);

    // The latest, with its ETag and time; revalidation answers 304.
    let r = s.call("GET", "/sensors/cameras/1/latest.jpg", None, None, &[]).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-taken-at"], "2026-12-01T12:10:00.000Z");
    assert!(h["cache-control"].to_str().unwrap().starts_with("public, max-age=30"), "{:?}", h["cache-control"]);
    assert_eq!(body_bytes(r).await, frames[1]);
    let etag = h["etag"].to_str().unwrap().to_owned();
    let r = s.call("GET", "/sensors/cameras/1/latest.jpg", None, None, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), 304);
    // A kept image never changes: cacheable for a day.
    let url = list[1]["url"].as_str().unwrap();
    let r = s.call("GET", url, None, None, &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(body_bytes(r).await, frames[2]);

    // Refused, each with a JSON reason, nothing stored.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    png.resize(100, 0);
    let huge = vec![0xFFu8; 1024 * 1024 + 1];
    for (credential, path, data, want) in [
        (cam.credential.as_str(), "/sensors/cameras/1/images", png, 415),
        (cam.credential.as_str(), "/sensors/cameras/1/images", huge, 413),
        (cam.credential.as_str(), "/sensors/cameras/1/images", b"not an image".to_vec(), 415),
        (cam.credential.as_str(), "/sensors/cameras/1/images?time=yesterday", frames[0].clone(), 400),
        (cam2.credential.as_str(), "/sensors/cameras/1/images", frames[0].clone(), 403),
        (public.as_str(), "/sensors/cameras/1/images", frames[0].clone(), 403),
        ("mzd_0000", "/sensors/cameras/1/images", frames[0].clone(), 401),
        (staff.as_str(), "/sensors/cameras/3/images", frames[0].clone(), 404),
        (staff.as_str(), "/sensors/cameras/99/images", frames[0].clone(), 404),
    ] {
        let (status, body) = post_image(s, path, credential, data).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    assert_eq!(s.get_json("/sensors/cameras/1/images", None).await, list);

    // A staff-only camera: staff post and see it; the public never does.
    let (status, _) = post_image(s, "/sensors/cameras/2/images", &cam2.credential, frames[0].clone()).await;
    assert_eq!(status, 201);
    for path in ["/sensors/cameras/2/latest.jpg", "/sensors/cameras/2/images"] {
        assert_eq!(s.call("GET", path, None, None, &[]).await.status(), 404, "{path}");
        assert_eq!(s.call("GET", path, Some(&public), None, &[]).await.status(), 404, "{path}");
        let r = s.call("GET", path, Some(&staff), None, &[]).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "private, no-cache");
    }
    let staff_only = s.get_json("/sensors/cameras/2/images", Some(&staff)).await;
    assert_eq!(s.call("GET", staff_only[0]["url"].as_str().unwrap(), None, None, &[]).await.status(), 404);
    // Another camera's image id under this camera: not there.
    let other = staff_only[0]["id"].as_i64().unwrap();
    assert_eq!(s.call("GET", &format!("/sensors/cameras/1/images/{other}.jpg"), None, None, &[]).await.status(), 404);

    // After image_days, only each camera's latest stays.
    let gone = s.app.sensors.prune_images(14, t0 + chrono::Duration::days(30)).await.unwrap();
    assert_eq!(gone, 2);
    let list = s.get_json("/sensors/cameras/1/images", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(body_bytes(s.call("GET", "/sensors/cameras/1/latest.jpg", None, None, &[]).await).await, frames[1]);
    frames
}

#[tokio::test(flavor = "multi_thread")]
async fn cameras_keep_the_latest_and_one_an_hour_on_the_geopackage() {
    let s = TestServer::demo().await;
    let frames = cameras(&s).await;
    // The bytes are files in the data directory, each once: the two images left.
    let dir = s.app.config.data_dir.join("camera-images");
    let mut files: Vec<Vec<u8>> =
        std::fs::read_dir(&dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    files.sort();
    let mut want = vec![frames[1].clone(), frames[0].clone()];
    want.sort();
    assert_eq!(files, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn cameras_keep_the_latest_and_one_an_hour_on_postgis() {
    let url = support::fresh_database().await;
    let s = TestServer::demo_with(|c| c.database_url = Some(machizu::config::Secret(url.clone()))).await;
    let frames = cameras(&s).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let mut stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT data FROM machizu_camera_image_data").fetch_all(&pool).await.unwrap();
    stored.sort();
    let mut want = vec![frames[1].clone(), frames[0].clone()];
    want.sort();
    assert_eq!(stored, want);
    assert!(!s.app.config.data_dir.join("camera-images").exists());
}

/// The layers of tile z14 at the demo centre, as `key` sees them, once `ready` holds (the map
/// task redraws within a second or two of a change).
async fn station_tile(
    s: &TestServer,
    layer: &str,
    key: Option<&str>,
    ready: impl Fn(&support::vector_tile::Tile) -> bool,
) -> support::vector_tile::Tile {
    let (z, x, y) = support::CENTRE_Z14;
    let uri = format!("/tiles/{layer}/{z}/{x}/{y}.mvt");
    for _ in 0..100 {
        let r = s.call("GET", &uri, key, None, &[]).await;
        if r.status() == 200 {
            let tile = support::vector_tile::decode(&body_bytes(r).await);
            if ready(&tile) {
                return tile;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{uri} never showed what was expected");
}

#[tokio::test(flavor = "multi_thread")]
async fn stations_and_cameras_on_the_map() {
    let s = TestServer::demo().await;
    let staff = s.key(Role::Staff).await;
    let river = json!({"thresholds": machizu::sensors::state::Thresholds::river([1.0, 2.0, 3.0, 4.0], 0.1, 600)});
    for (name, lon, staff_only) in [("丹生川", 140.406, false), ("内部", 140.407, true)] {
        let mut t = machizu::sensors::write::example_thing(name, lon, 38.6, "m");
        t["properties"] = json!({"staffOnly": staff_only});
        t["Datastreams"][0]["properties"] = river.clone();
        assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await.status(), 201);
    }
    let camera = json!({"name": "丹生川 カメラ", "description": "", "properties": {"camera": true},
        "Locations": [{"name": "c", "description": "", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [140.4065, 38.6]}}]});
    assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&camera), &[]).await.status(), 201);
    let five_min_ago = chrono::Utc::now() - chrono::Duration::minutes(5);
    for (d, v) in [(1, 2.5), (2, 1.0)] {
        let obs = json!({"phenomenonTime": five_min_ago.to_rfc3339(), "result": v});
        let uri = format!("/sta/v1.1/Datastreams({d})/Observations");
        assert_eq!(s.call("POST", &uri, Some(&staff), Some(&obs), &[]).await.status(), 201);
    }
    let frame = machizu::sensors::demo::camera_frame(2.5, five_min_ago);
    s.app.sensors.add_image(3, &frame, None, usize::MAX, five_min_ago).await.unwrap();

    let public = station_tile(&s, "sensors", None, |t| t.layers.first().is_some_and(|l| !l.features.is_empty())).await;
    let l = &public.layers[0];
    assert_eq!(l.features.len(), 1, "the public station only");
    let p = l.props(&l.features[0]);
    assert_eq!(
        (p["station"].as_str(), p["value"].as_str(), p["unit"].as_str(), p["value_text"].as_str()),
        ("丹生川", "2.5", "m", "2.5 m")
    );
    assert_eq!((p["state_class"].as_str(), p["state_name"].as_str()), ("level2", "はん濫注意水位"));
    assert_eq!((p["age_min"].as_str(), p["datastream_id"].as_str()), ("5", "1"));
    assert!(!p.contains_key("staff_only"));
    let all =
        station_tile(&s, "sensors_all", Some(&staff), |t| t.layers.first().is_some_and(|l| l.features.len() == 2))
            .await;
    let l = &all.layers[0];
    let mut names: Vec<String> = l.features.iter().map(|f| l.props(f)["station"].clone()).collect();
    names.sort();
    assert_eq!(names, ["丹生川", "内部"]);
    for (path, key) in [("sensors_all", None), ("cameras_all", None)] {
        let r = s.call("GET", &format!("/tiles/{path}/14/14582/6284.mvt"), key, None, &[]).await;
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }
    let cams = station_tile(&s, "cameras", None, |t| t.layers.first().is_some_and(|l| !l.features.is_empty())).await;
    let l = &cams.layers[0];
    let p = l.props(&l.features[0]);
    assert_eq!((p["name"].as_str(), p["camera_id"].as_str(), p["age_min"].as_str()), ("丹生川 カメラ", "3", "5"));

    // Silent past its interval: 欠測, shown as such and never as the last value.
    s.app.sensors.check_silence(chrono::Utc::now() + chrono::Duration::minutes(20)).await.unwrap();
    let missing = station_tile(&s, "sensors", None, |t| {
        t.layers.first().is_some_and(|l| l.features.first().is_some_and(|f| l.props(f)["state_class"] == "missing"))
    })
    .await;
    let l = &missing.layers[0];
    let p = l.props(&l.features[0]);
    assert_eq!((p.get("value"), p["value_text"].as_str(), p["state_name"].as_str()), (None, "欠測", "欠測"));
}
