//! Notices to residents (issue #18) through the HTTP API on both stores: staff write, publish,
//! update and cancel; the public reads the feeds. The Atom feed and every CAP message are read
//! by independent tools (feedparser; lxml against the official CAP 1.2 schema) in
//! `tests/notices/check_feeds.py`.

mod support;

use std::path::Path;

use machizu::auth::Role;
use serde_json::{Value, json};
use support::{TestServer, body_bytes, body_json};

fn hours_from_now(h: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(h)).to_rfc3339()
}

fn notice(area: Value) -> Value {
    json!({
        "title": "国道13号 通行止め",
        "body": "除雪作業のため、22時から翌5時まで通行止めとします。",
        "title_en": "Route 13 closed",
        "body_en": "Closed from 22:00 to 05:00 for snow removal.",
        "category": "road",
        "severity": "Moderate",
        "urgency": "Expected",
        "certainty": "Likely",
        "ends_at": hours_from_now(12),
        "area": area,
    })
}

/// A square of `d` degrees around the demo town centre.
fn square(d: f64) -> Value {
    let (x, y) = (140.406, 38.600);
    json!({"type": "Polygon", "coordinates": [[[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]]})
}

/// Runs `tests/notices/check_feeds.py` against the server; returns its JSON summary.
async fn check_feeds(s: &TestServer, extra: &[String]) -> Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = s.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notices/check_feeds.py");
    let base = format!("http://127.0.0.1:{port}");
    let extra: Vec<String> = extra.iter().map(|p| format!("{base}{p}")).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(support::test_python()).arg(script).arg(&base).args(extra).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check_feeds.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

async fn post(s: &TestServer, key: &str, body: &Value) -> (u16, Value) {
    let r = s.call("POST", "/notices", Some(key), Some(body), &[]).await;
    (r.status().as_u16(), body_json(r).await)
}

/// Every refusal is a 4xx with a JSON body that names what was wrong, and stores nothing.
async fn refusals(s: &TestServer, staff: &str) {
    let public = s.key(Role::Public).await;
    let r = s.call("POST", "/notices", None, Some(&notice(square(0.01))), &[]).await;
    assert_eq!(r.status(), 401);
    let r = s.call("POST", "/notices", Some(&public), Some(&notice(square(0.01))), &[]).await;
    assert_eq!(r.status(), 403);
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut n = notice(square(0.01));
                n["category"] = json!("weather");
                n
            },
            "category",
        ),
        (
            {
                let mut n = notice(square(0.01));
                n["severity"] = json!("moderate");
                n
            },
            "severity",
        ),
        (
            {
                let mut n = notice(square(0.01));
                n["title"] = json!("  ");
                n
            },
            "title must not be empty",
        ),
        (
            {
                let mut n = notice(square(0.01));
                n["ends_at"] = json!("tomorrow");
                n
            },
            "ends_at must be an RFC 3339 time",
        ),
        (
            {
                let mut n = notice(square(0.01));
                n["ends_at"] = json!(hours_from_now(-1));
                n
            },
            "must be after starts_at",
        ),
        (
            {
                let mut n = notice(square(0.01));
                n["starts_at"] = json!(hours_from_now(-3));
                n["ends_at"] = json!(hours_from_now(-1));
                n
            },
            "has passed",
        ),
        (notice(json!({"type": "Point", "coordinates": [140.4, 38.6]})), "must be a Polygon or MultiPolygon"),
        (
            notice(json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})),
            "must meet the city's extent",
        ),
        (
            notice(
                json!({"type": "Polygon", "coordinates": [[[140.40, 38.60], [140.41, 38.61], [140.41, 38.60], [140.40, 38.61], [140.40, 38.60]]]}),
            ),
            "invalid polygon",
        ),
        (notice(json!({"district": "どこか地区"})), "no district \"どこか地区\"; the districts are 尾花沢地区"),
        (notice(json!({"buffer_m": 100, "layer": "roads", "fid": 99999999})), "has no feature 99999999"),
        (notice(json!({"buffer_m": -5, "layer": "roads", "fid": 1})), "buffer_m must be"),
        (notice(json!({"somewhere": true})), "must be a GeoJSON Polygon"),
        (
            {
                let mut n = notice(square(0.01));
                n["colour"] = json!("red");
                n
            },
            "unknown field `colour`",
        ),
    ];
    for (body, says) in cases {
        let (status, answer) = post(s, staff, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(says), "{says:?} not in {message:?}");
    }
    let all = s.get_json("/notices?all=true", Some(staff)).await;
    assert_eq!(all["items"], json!([]), "a refused notice stores nothing");
}

async fn life_of_notices(s: &TestServer) {
    let staff = s.key(Role::Staff).await;
    refusals(s, &staff).await;

    // Published at once, in a drawn area.
    let (status, drawn) = post(s, &staff, &notice(square(0.01))).await;
    assert_eq!(status, 201, "{drawn}");
    assert_eq!((drawn["status"].as_str(), drawn["version"].as_i64()), (Some("published"), Some(1)));
    assert_eq!(drawn["area_desc"], "指定区域");
    let drawn_id = drawn["id"].as_i64().unwrap();

    // A district, by name: its outline from the districts layer.
    let (status, district) = post(s, &staff, &notice(json!({"district": "宮沢地区"}))).await;
    assert_eq!(status, 201, "{district}");
    assert_eq!(
        (district["area_desc"].as_str(), district["area_desc_en"].as_str()),
        (Some("宮沢地区"), Some("Miyazawa"))
    );
    assert_eq!(district["area"]["type"], "MultiPolygon");

    // A buffer around a hazardous building (a point): a circle in CAP.
    let hazard = s.app.engine.layer("hazardous_buildings").unwrap().features_by_id().next().unwrap().id;
    let mut body = notice(json!({"buffer_m": 300, "layer": "hazardous_buildings", "fid": hazard}));
    body["category"] = json!("disaster");
    body["status"] = json!("draft");
    let (status, draft) = post(s, &staff, &body).await;
    assert_eq!(status, 201, "{draft}");
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["cap"], Value::Null, "a draft has no CAP message");
    let draft_id = draft["id"].as_i64().unwrap();

    // The public sees published notices only.
    let feed = s.get_json("/notices", None).await;
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    let ids: Vec<i64> =
        feed["items"].as_array().unwrap().iter().map(|i| i["_machizu"]["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&draft_id));
    assert_eq!(s.call("GET", &format!("/notices/{draft_id}"), None, None, &[]).await.status(), 404);
    assert_eq!(s.call("GET", &format!("/notices/{draft_id}.cap"), None, None, &[]).await.status(), 404);

    // Publishing the draft is its first CAP message, an Alert.
    let publish = json!({"status": "published"});
    let r = s.call("PATCH", &format!("/notices/{draft_id}"), Some(&staff), Some(&publish), &[]).await;
    assert_eq!(r.status(), 200);
    let published = body_json(r).await;
    assert_eq!((published["status"].as_str(), published["version"].as_i64()), (Some("published"), Some(2)));

    // An update of a published notice is a CAP Update; a stale If-Match changes nothing.
    let change = json!({"severity": "Severe", "body": "除雪作業を延長します。", "ends_at": hours_from_now(20)});
    let path = format!("/notices/{drawn_id}");
    let r = s.call("PATCH", &path, Some(&staff), Some(&change), &[("if-match", "\"7\"")]).await;
    assert_eq!(r.status(), 412);
    let r = s.call("PATCH", &path, Some(&staff), Some(&change), &[("if-match", "\"1\"")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let updated = body_json(r).await;
    assert_eq!(
        (updated["severity"].as_str(), updated["body"].as_str()),
        (Some("Severe"), Some("除雪作業を延長します。"))
    );
    assert_eq!(updated["title"], drawn["title"], "what the patch leaves out stays");
    let r = s.call("PATCH", &path, Some(&staff), Some(&json!({"status": "draft"})), &[]).await;
    assert_eq!(r.status(), 400, "a published notice does not go back to a draft");

    // Cancelled: a CAP Cancel; out of the feeds; cancelled for good.
    let r = s.call("DELETE", &path, Some(&staff), None, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await["status"], "cancelled");
    let r = s.call("PATCH", &path, Some(&staff), Some(&change), &[]).await;
    assert_eq!(r.status(), 409);
    assert_eq!(body_json(r).await["error"], "conflict");
    let feed = s.get_json("/notices", None).await;
    assert_eq!(feed["items"].as_array().unwrap().len(), 2);

    // Every step audited, by whom.
    let one = s.get_json(&path, Some(&staff)).await;
    let steps: Vec<&str> = one["audit"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(steps, ["publish", "update", "cancel"]);
    assert!(one["audit"][1]["actor"].as_str().unwrap().starts_with("key:"), "{}", one["audit"][1]);
    assert_eq!(one["audit"][1]["before"]["notice"]["severity"], "Moderate");
    assert_eq!(one["audit"][1]["after"]["notice"]["severity"], "Severe");
    let all = s.get_json("/notices?all=true", Some(&staff)).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert_eq!(s.call("GET", "/notices?all=true", None, None, &[]).await.status(), 401);

    // Public answers are cacheable and revalidate by ETag.
    let r = s.get("/notices").await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=30, stale-while-revalidate=30");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = s.call("GET", "/notices", None, None, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), 304);
    let r = s.get(&format!("/notices/{drawn_id}.cap")).await;
    assert_eq!(r.headers()["content-type"], "application/cap+xml");
    assert!(r.headers()["cache-control"].to_str().unwrap().starts_with("public"));

    // Read by a feed parser and validated against the CAP 1.2 schema, the cancelled one too.
    let checked = check_feeds(s, &[format!("/notices/{drawn_id}.cap")]).await;
    assert_eq!(checked["feed"]["version"], "atom10");
    let entries = checked["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e["cap_links"].as_array().unwrap().len() == 1));
    let caps = checked["caps"].as_array().unwrap();
    let by_type = |t: &str| caps.iter().find(|c| c["msgType"] == t).unwrap_or_else(|| panic!("no {t} in {caps:?}"));

    let alert = caps.iter().find(|c| c["infos"][0]["areas"][0]["geocodes"] != json!([])).unwrap();
    assert_eq!(alert["msgType"], "Alert");
    assert_eq!(alert["infos"][0]["areas"][0]["geocodes"], json!([["machizu:district", "02"]]));
    assert_eq!(alert["infos"][0]["language"], "ja-JP");
    assert_eq!(alert["infos"][1]["language"], "en-US");
    assert_eq!(alert["infos"][1]["headline"], "Route 13 closed");
    assert_eq!(alert["infos"][0]["categories"], json!(["Transport"]));

    // The published draft: a buffer around a point is a circle (and its polygon).
    let circle = caps.iter().find(|c| c["infos"][0]["areas"][0]["circles"] != json!([])).unwrap();
    let text = circle["infos"][0]["areas"][0]["circles"][0].as_str().unwrap();
    assert!(text.ends_with(" 0.300"), "{text}");
    assert_eq!(circle["infos"][0]["categories"], json!(["Safety"]));
    assert!(circle["sent"].as_str().unwrap().ends_with("+09:00"));

    // The cancel references the alert and the update before it.
    let cancel = by_type("Cancel");
    let refs: Vec<&str> = cancel["references"].as_str().unwrap().split(' ').collect();
    assert_eq!(refs.len(), 2);
    let sender = cancel["sender"].as_str().unwrap();
    assert_eq!(sender, "machizu-06212");
    assert!(refs.iter().all(|r| r.starts_with(&format!("{sender},machizu-06212-notice-{drawn_id}-"))), "{refs:?}");
    assert_eq!(cancel["infos"][0]["severity"], "Severe");
    let polygon = cancel["infos"][0]["areas"][0]["polygons"][0].as_str().unwrap();
    let pairs: Vec<&str> = polygon.split(' ').collect();
    assert_eq!((pairs.len(), pairs[0], pairs[0] == pairs[4]), (5, "38.590000,140.396000", true), "lat,lon, closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_live_and_go_out_as_cap_and_atom_on_the_geopackage() {
    let s = TestServer::demo().await;
    life_of_notices(&s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_live_and_go_out_as_cap_and_atom_on_postgis() {
    let url = support::fresh_database().await;
    let s = TestServer::demo_with(|c| {
        c.database_url = Some(machizu::config::Secret(url));
        c.demo = true;
    })
    .await;
    life_of_notices(&s).await;
}

/// An answer written twice is the same (no time-dependent bytes in a feed without changes).
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_feed_is_valid_and_stable() {
    let s = TestServer::demo().await;
    let a = body_bytes(s.get("/notices.atom").await).await;
    let b = body_bytes(s.get("/notices.atom").await).await;
    assert_eq!(a, b);
    let checked = check_feeds(&s, &[]).await;
    assert_eq!(checked["entries"], json!([]));
}

/// The loopback push service of `tests/notices/push_service.py`, killed when dropped.
struct PushService {
    child: std::process::Child,
    url: String,
}

impl PushService {
    fn start() -> Self {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notices/push_service.py");
        let mut child = std::process::Command::new(support::test_python())
            .arg(script)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = serde_json::from_str::<Value>(&line).unwrap()["port"].as_u64().unwrap();
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn received(&self) -> Value {
        reqwest::get(format!("{}/_received", self.url)).await.unwrap().json().await.unwrap()
    }

    /// Waits until `done` holds for what the service received (at most 30 s).
    async fn wait(&self, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..300 {
            let r = self.received().await;
            if done(&r) {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the push service did not get what was expected: {}", self.received().await);
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// How many messages each subscription (by name) received.
fn per_name(received: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for m in received["messages"].as_array().unwrap() {
        *out.entry(m["name"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    out
}

/// A server that pushes to the loopback push service (on PostGIS with `database_url`).
async fn push_server(database_url: Option<String>) -> TestServer {
    TestServer::demo_with(|c| {
        c.notices.push.endpoint_origins = vec!["http://127.0.0.1".into()];
        c.notices.push.retry_ms = 100;
        c.database_url = database_url.map(machizu::config::Secret);
    })
    .await
}

/// Subscribes each `(name, places, categories, lang)` at the push service and at machizu.
async fn subscribe(s: &TestServer, push: &PushService, subs: &[(&str, Value, Option<Value>, &str)]) -> Vec<Value> {
    let names: Vec<&str> = subs.iter().map(|(n, ..)| *n).collect();
    let made = push.post("/_subscriptions", json!({ "names": names })).await;
    let made = made.as_array().unwrap().clone();
    for ((_, places, categories, lang), m) in subs.iter().zip(&made) {
        let mut body =
            json!({"subscription": {"endpoint": m["endpoint"], "keys": m["keys"]}, "places": places, "lang": lang});
        if let Some(c) = categories {
            body["categories"] = c.clone();
        }
        let r = s.call("POST", "/push/subscriptions", None, Some(&body), &[]).await;
        assert_eq!(r.status(), 201, "{}", body_json(r).await);
    }
    made
}

/// A notice reaches exactly the subscriptions whose places meet its area and that chose its
/// category, encrypted for each browser and signed (checked by the independent push service);
/// 429 and 500 are retried, 404 and 410 delete the subscription; staff see the counts.
async fn web_push_reaches_exactly_the_places_in_the_area(s: TestServer) {
    let push = PushService::start();
    let staff = s.key(Role::Staff).await;
    let at = |lon: f64, lat: f64, r: f64| json!([{"lon": lon, "lat": lat, "radius_m": r}]);
    // The notice's square runs 140.396–140.416 E, 38.590–38.610 N.
    subscribe(&s, &push, &[
        ("ok-inside", at(140.406, 38.600, 0.0), None, "ja"),
        ("ok-corner", at(140.416, 38.610, 0.0), None, "ja"),
        ("ok-outside", at(140.430, 38.600, 500.0), None, "ja"),
        ("ok-near", at(140.430, 38.600, 1500.0), None, "ja"),
        ("ok-othercategory", at(140.406, 38.600, 0.0), Some(json!(["snow", "river"])), "ja"),
        ("ok-en", json!([{"lon": 140.2, "lat": 38.2, "radius_m": 10}, {"lon": 140.41, "lat": 38.605, "radius_m": 10, "label": "実家"}]), None, "en"),
        ("gone-1", at(140.406, 38.600, 0.0), None, "ja"),
        ("missing-1", at(140.406, 38.600, 0.0), None, "ja"),
        ("busy-1", at(140.406, 38.600, 0.0), None, "ja"),
        ("flaky-1", at(140.406, 38.600, 0.0), None, "ja"),
    ])
    .await;

    let (status, n) = post(&s, &staff, &notice(square(0.01))).await;
    assert_eq!(status, 201, "{n}");
    let id = n["id"].as_i64().unwrap();
    let expected = ["busy-1", "flaky-1", "ok-corner", "ok-en", "ok-inside", "ok-near"];
    let got = push
        .wait(|r| {
            let answers = &r["answers"];
            per_name(r).len() == expected.len()
                && answers["gone-1"] != Value::Null
                && answers["missing-1"] != Value::Null
        })
        .await;
    assert_eq!(got["errors"], json!([]), "every push verified and decrypted");
    let counts = per_name(&got);
    assert_eq!(counts.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    assert!(counts.values().all(|&n| n == 1), "each once: {counts:?}");
    assert_eq!(got["answers"]["busy-1"], json!([429, 201]));
    assert_eq!(got["answers"]["flaky-1"], json!([500, 201]));
    for m in got["messages"].as_array().unwrap() {
        let p = &m["payload"];
        assert_eq!((p["notice"].as_i64(), p["type"].as_str()), (Some(id), Some("Alert")));
        assert_eq!(p["url"], format!("/map#notice={id}"));
        assert_eq!(
            (m["urgency"].as_str(), m["topic"].as_str()),
            (Some("normal"), Some(format!("notice-{id}").as_str()))
        );
        let ttl: i64 = m["ttl"].as_str().unwrap().parse().unwrap();
        assert!((11 * 3600..=12 * 3600).contains(&ttl), "TTL until the notice ends: {ttl}");
        let (title, body) = if m["name"] == "ok-en" { ("title_en", "body_en") } else { ("title", "body") };
        assert_eq!((&p["title"], &p["body"]), (&n[title], &n[body]), "{m}");
    }

    // Gone subscriptions are deleted; staff see the counts.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let left: Vec<String> = s.app.store.subscriptions(0, 100).await.unwrap().into_iter().map(|r| r.endpoint).collect();
    assert_eq!(left.len(), 8, "{left:?}");
    assert!(!left.iter().any(|e| e.contains("gone-") || e.contains("missing-")));
    let all = s.get_json("/notices?all=true", Some(&staff)).await;
    assert_eq!(all["items"][0]["_machizu"]["delivery"], json!({"sent": 6, "failed": 0, "gone": 2, "pending": 0}));

    // An update goes to the same places again, as an update.
    let r = s.call("PATCH", &format!("/notices/{id}"), Some(&staff), Some(&json!({"severity": "Severe"})), &[]).await;
    assert_eq!(r.status(), 200);
    let got = push.wait(|r| r["messages"].as_array().unwrap().len() == 12).await;
    let updates: Vec<&Value> =
        got["messages"].as_array().unwrap().iter().filter(|m| m["payload"]["type"] == "Update").collect();
    assert_eq!(updates.len(), 6);
    assert!(
        updates
            .iter()
            .all(|m| m["urgency"] == "high" && m["payload"]["title"].as_str().unwrap().starts_with(['【', '[']))
    );

    // Moved away, an update still reaches everyone told before, as well as whoever is in the
    // new area; so does the cancel.
    let told = |r: &Value, kind: &str| -> Vec<String> {
        let mut names: Vec<String> = r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["payload"]["type"] == kind)
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let moved = json!({"area": {"type": "Polygon", "coordinates": [[[140.428, 38.598], [140.432, 38.598], [140.432, 38.602], [140.428, 38.602], [140.428, 38.598]]]}});
    let r = s.call("PATCH", &format!("/notices/{id}"), Some(&staff), Some(&moved), &[]).await;
    assert_eq!(r.status(), 200, "{}", body_json(r).await);
    let got = push.wait(|r| r["messages"].as_array().unwrap().len() >= 19).await;
    let mut everyone: Vec<&str> = expected.to_vec();
    everyone.push("ok-outside");
    everyone.sort();
    assert_eq!(told(&got, "Update").iter().filter(|n| *n == "ok-outside").count(), 1);
    let r = s.call("DELETE", &format!("/notices/{id}"), Some(&staff), None, &[]).await;
    assert_eq!(r.status(), 200, "{}", body_json(r).await);
    let got = push.wait(|r| r["messages"].as_array().unwrap().len() >= 26).await;
    assert_eq!(got["errors"], json!([]));
    assert_eq!(told(&got, "Cancel"), everyone, "the cancel reaches whoever was told");
    assert_eq!(told(&got, "Update").len(), 6 + 7);
    assert_eq!(got["messages"].as_array().unwrap().len(), 26, "nobody else, nobody twice");

    // One tap removes everything kept for a browser.
    let endpoint = format!("{}/push/ok-inside", push.url);
    let r = s.call("DELETE", "/push/subscriptions", None, Some(&json!({ "endpoint": endpoint })), &[]).await;
    assert_eq!(r.status(), 204);
    let r = s.call("DELETE", "/push/subscriptions", None, Some(&json!({ "endpoint": endpoint })), &[]).await;
    assert_eq!(r.status(), 404);
    let left = s.app.store.subscriptions(0, 100).await.unwrap();
    assert!(left.iter().all(|r| r.endpoint != endpoint) && left.len() == 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn web_push_reaches_exactly_the_places_in_the_area_on_the_geopackage() {
    web_push_reaches_exactly_the_places_in_the_area(push_server(None).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn web_push_reaches_exactly_the_places_in_the_area_on_postgis() {
    web_push_reaches_exactly_the_places_in_the_area(push_server(Some(support::fresh_database().await)).await).await;
}

/// Districts and buffers target by their own outlines; bad subscriptions are refused.
#[tokio::test(flavor = "multi_thread")]
async fn web_push_targets_districts_and_buffers() {
    use geo::InteriorPoint;
    let s = push_server(None).await;
    let push = PushService::start();
    let staff = s.key(Role::Staff).await;

    // Refusals: a push service machizu does not send to, a bad key, no places.
    let ok = push.post("/_subscriptions", json!({"names": ["ok-x"]})).await[0].clone();
    let place = json!([{"lon": 140.4, "lat": 38.6, "radius_m": 0}]);
    for (body, says) in [
        (
            json!({"subscription": {"endpoint": "https://evil.example/x", "keys": ok["keys"]}, "places": place}),
            "not a push service",
        ),
        (
            json!({"subscription": {"endpoint": ok["endpoint"], "keys": {"p256dh": "AAAA", "auth": ok["keys"]["auth"]}}, "places": place}),
            "p256dh",
        ),
        (json!({"subscription": {"endpoint": ok["endpoint"], "keys": ok["keys"]}, "places": []}), "between 1 and 10"),
        (
            json!({"subscription": {"endpoint": ok["endpoint"], "keys": ok["keys"]}, "places": [{"lon": 140.4, "lat": 38.6, "radius_m": 99999}]}),
            "radius_m",
        ),
        (
            json!({"subscription": {"endpoint": ok["endpoint"], "keys": ok["keys"]}, "places": place, "categories": ["weather"]}),
            "categories",
        ),
    ] {
        let r = s.call("POST", "/push/subscriptions", None, Some(&body), &[]).await;
        assert_eq!(r.status(), 400);
        let m = body_json(r).await["message"].as_str().unwrap().to_owned();
        assert!(m.contains(says), "{says:?} not in {m:?}");
    }
    assert!(s.app.store.subscriptions(0, 10).await.unwrap().is_empty());

    // A point inside 宮沢地区 and the town centre (尾花沢地区).
    let (status, district) = post(&s, &staff, &{
        let mut n = notice(json!({"district": "宮沢地区"}));
        n["status"] = json!("draft");
        n
    })
    .await;
    assert_eq!(status, 201);
    let area: geo_types::Geometry<f64> =
        serde_json::from_value::<geojson::Geometry>(district["area"].clone()).unwrap().try_into().unwrap();
    let inside = area.interior_point().unwrap();
    // A hazardous building and a point 1 km east of it.
    let f = s.app.engine.layer("hazardous_buildings").unwrap().features_by_id().next().unwrap().clone();
    let to_wgs84 = machizu::crs::Transformer::new(s.app.store.crs(), machizu::crs::Epsg::WGS84).unwrap();
    let geo_types::Geometry::Point(p) = f.geometry else { panic!("a point layer") };
    let (hx, hy) = to_wgs84.point(p.x(), p.y()).unwrap();
    let (fx, fy) = to_wgs84.point(p.x() + 1000.0, p.y()).unwrap();
    let at = |lon: f64, lat: f64| json!([{"lon": lon, "lat": lat, "radius_m": 0}]);
    subscribe(
        &s,
        &push,
        &[
            ("ok-miyazawa", at(inside.x(), inside.y()), None, "ja"),
            ("ok-centre", at(140.406, 38.600), None, "ja"),
            ("ok-building", at(hx, hy), None, "ja"),
            ("ok-far", at(fx, fy), None, "ja"),
        ],
    )
    .await;

    let publish = json!({"status": "published"});
    let r = s.call("PATCH", &format!("/notices/{}", district["id"]), Some(&staff), Some(&publish), &[]).await;
    assert_eq!(r.status(), 200);
    let got = push.wait(|r| !r["messages"].as_array().unwrap().is_empty()).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let got = if per_name(&got).len() > 1 { got } else { push.received().await };
    assert_eq!(per_name(&got).into_keys().collect::<Vec<_>>(), ["ok-miyazawa"]);

    let (status, _) =
        post(&s, &staff, &notice(json!({"buffer_m": 300, "layer": "hazardous_buildings", "fid": f.id}))).await;
    assert_eq!(status, 201);
    push.wait(|r| r["messages"].as_array().unwrap().len() >= 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let got = push.received().await;
    assert_eq!(per_name(&got).into_keys().collect::<Vec<_>>(), ["ok-building", "ok-miyazawa"], "{got}");
    assert_eq!(got["errors"], json!([]));
}

/// A server with automatic notices from gauges (`river`) or road closures, and the rate limit.
async fn auto_server(river: bool, min_interval_min: u32) -> TestServer {
    TestServer::demo_with(|c| {
        c.notices.auto.river.enabled = river;
        c.notices.auto.road.enabled = !river;
        c.notices.auto.min_interval_min = min_interval_min;
        c.notices.auto.max_per_hour = 100;
    })
    .await
}

/// Posts a gauge with Japan's four river levels and a flood wave that crosses each up and down.
async fn replay_flood(s: &TestServer, staff: &str) {
    let mut t = machizu::sensors::write::example_thing("丹生川 水位観測所", 140.4, 38.6, "m");
    let levels: Vec<Value> =
        [("水防団待機水位", 2.0), ("はん濫注意水位", 2.5), ("避難判断水位", 3.2), ("はん濫危険水位", 4.0)]
            .iter()
            .map(|(name, value)| json!({"value": value, "name_ja": name, "name_en": name}))
            .collect();
    t["Datastreams"][0]["properties"] =
        json!({"thresholds": {"levels": levels, "hysteresis": 0.1, "expected_interval_s": 600}});
    assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(staff), Some(&t), &[]).await.status(), 201);
    let start = chrono::Utc::now() - chrono::Duration::hours(13);
    let rows: Vec<Value> = (0..=72)
        .map(|i| {
            let x = f64::from(i) / 72.0 * std::f64::consts::PI;
            let at = start + chrono::Duration::minutes(10 * i64::from(i));
            json!([at.to_rfc3339(), ((1.0 + 3.6 * x.sin()) * 1000.0).round() / 1000.0])
        })
        .collect();
    let batch = json!([{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows}]);
    assert_eq!(s.call("POST", "/sta/v1.1/CreateObservations", Some(staff), Some(&batch), &[]).await.status(), 201);
}

/// The automatic notice with `key`, with its audit log, once `done` holds for it (at most 30 s).
async fn auto_notice(s: &TestServer, staff: &str, key: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let all = s.get_json("/notices?all=true", Some(staff)).await;
        let found = all["items"].as_array().unwrap().iter().find(|i| {
            let audit = &i["_machizu"]["audit"];
            audit.as_array().unwrap().last().is_some_and(|a| a["after"]["notice"]["auto"]["key"] == key)
        });
        if let Some(n) = found.filter(|n| done(&n["_machizu"])) {
            return n["_machizu"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no automatic notice {key} as expected: {}", s.get_json("/notices?all=true", Some(staff)).await);
}

fn titles(n: &Value) -> Vec<String> {
    n["audit"].as_array().unwrap().iter().map(|a| a["after"]["notice"]["title"].as_str().unwrap().to_owned()).collect()
}

/// A replayed flood wave at a public gauge: a notice at はん濫注意水位, updated at each level up
/// and down, the last saying it fell back; written by machizu itself, once each.
#[tokio::test(flavor = "multi_thread")]
async fn a_gauge_reaching_the_flood_caution_level_makes_a_notice_and_falling_back_updates_it() {
    let s = auto_server(true, 0).await;
    let staff = s.key(Role::Staff).await;
    replay_flood(&s, &staff).await;
    let n = auto_notice(&s, &staff, "river:1", |n| n["version"] == 6).await;
    assert_eq!(
        titles(&n),
        [
            "丹生川 水位観測所：はん濫注意水位に到達",
            "丹生川 水位観測所：避難判断水位に到達",
            "丹生川 水位観測所：はん濫危険水位に到達",
            "丹生川 水位観測所：はん濫危険水位を下回りました",
            "丹生川 水位観測所：避難判断水位を下回りました",
            "丹生川 水位観測所：はん濫注意水位を下回りました",
        ]
    );
    let actions: Vec<&str> = n["audit"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["publish", "update", "update", "update", "update", "update"]);
    assert!(n["audit"].as_array().unwrap().iter().all(|a| a["actor"] == "machizu:auto"));
    let severities: Vec<&str> =
        n["audit"].as_array().unwrap().iter().map(|a| a["after"]["notice"]["severity"].as_str().unwrap()).collect();
    assert_eq!(severities, ["Moderate", "Severe", "Extreme", "Severe", "Moderate", "Minor"]);
    assert_eq!((n["source"].as_str(), n["category"].as_str()), (Some("sensor"), Some("river")));
    assert_eq!(n["area_desc"], "丹生川 水位観測所から1000 m以内");
    assert!(n["body"].as_str().unwrap().contains(" m"), "{}", n["body"]);
    // Nothing more comes of the same events: no duplicate, no other notice.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let all = s.get_json("/notices?all=true", Some(&staff)).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(all["items"][0]["_machizu"]["version"], 6);
}

/// With the rate limit, rises go out at once and the falls are held back.
#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_hold_back_all_but_rising_levels() {
    let s = auto_server(true, 30).await;
    let staff = s.key(Role::Staff).await;
    replay_flood(&s, &staff).await;
    let n = auto_notice(&s, &staff, "river:1", |n| n["version"] == 3).await;
    assert_eq!(titles(&n).last().unwrap(), "丹生川 水位観測所：はん濫危険水位に到達");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let all = s.get_json("/notices?all=true", Some(&staff)).await;
    assert_eq!(all["items"][0]["_machizu"]["version"], 3, "held back within min_interval_min");
}

/// A closure published through the API makes a notice around the road; deleting it says the
/// road is open again.
#[tokio::test(flavor = "multi_thread")]
async fn a_road_closure_published_and_lifted_through_the_api() {
    let s = auto_server(false, 0).await;
    let staff = s.key(Role::Staff).await;
    let until = (chrono::Utc::now() + chrono::Duration::hours(5)).to_rfc3339();
    let closure = json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[140.404, 38.601], [140.408, 38.601]]},
        "properties": {"kind": "通行止め", "reason": "雪崩の危険", "starts_at": chrono::Utc::now().to_rfc3339(), "ends_at": until, "detour": "市道中央線"}});
    let r = s.call("POST", "/ogc/collections/road_events/items", Some(&staff), Some(&closure), &[]).await;
    assert_eq!(r.status(), 201);
    let fid: i64 = r.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
    let key = format!("road:{fid}");
    let n = auto_notice(&s, &staff, &key, |_| true).await;
    assert_eq!(n["title"], "通行止め：雪崩の危険");
    assert!(n["body"].as_str().unwrap().ends_with("迂回路：市道中央線"), "{}", n["body"]);
    assert_eq!(
        (n["source"].as_str(), n["category"].as_str(), n["status"].as_str()),
        (Some("road"), Some("road"), Some("published"))
    );
    assert_eq!(n["area"]["type"], "MultiPolygon");

    let r = s.call("DELETE", &format!("/ogc/collections/road_events/items/{fid}"), Some(&staff), None, &[]).await;
    assert_eq!(r.status(), 204);
    let n = auto_notice(&s, &staff, &key, |n| n["version"] == 2).await;
    assert_eq!(n["title"], "【解除】通行止め：雪崩の危険");
    assert_eq!(n["body"], "通行止めは解除されました。");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let again = auto_notice(&s, &staff, &key, |_| true).await;
    assert_eq!(again["version"], 2, "lifted once");
}

/// A replayed plow run along every road of a (small) district: "the plows have cleared your
/// area", once.
#[tokio::test(flavor = "multi_thread")]
async fn a_plow_run_that_clears_a_district_makes_one_notice() {
    use geo::{Buffer, Length};
    use machizu::crs::{Epsg, Transformer};
    let s = TestServer::demo_with(|c| {
        c.notices.auto.plowed.enabled = true;
        c.notices.auto.min_interval_min = 0;
    })
    .await;
    let staff = s.key(Role::Staff).await;
    let admin = s.key(Role::Admin).await;
    // A road of a few hundred metres, and a district just around it.
    let roads = s.app.engine.layer("roads").unwrap();
    let road = roads
        .features_by_id()
        .find(|f| matches!(&f.geometry, geo_types::Geometry::LineString(l) if (300.0..600.0).contains(&geo::Euclidean.length(l))))
        .unwrap()
        .clone();
    drop(roads);
    let geo_types::Geometry::LineString(line) = &road.geometry else { unreachable!() };
    let to_wgs84 = Transformer::new(Epsg::JGD2011_ZONE_X, Epsg::WGS84).unwrap();
    let mut area = geo_types::Geometry::MultiPolygon(line.buffer(15.0));
    to_wgs84.geometry(&mut area).unwrap();
    let district = json!({"type": "Feature", "geometry": geojson::Geometry::from(&area),
        "properties": {"name": "テスト地区", "name_en": "Test district", "code": "99"}});
    let r = s.call("POST", "/ogc/collections/districts/items", Some(&staff), Some(&district), &[]).await;
    assert_eq!(r.status(), 201);
    let fid: i64 = r.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
    let key = format!("plowed:{fid}");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(s.get_json("/notices?all=true", Some(&staff)).await["items"], json!([]), "nothing plowed yet");

    // A plow drives the road, blade down, 30 minutes ago, a fix a second at 8 m/s.
    let body = json!({"id": "plow-t", "name": "除雪ドーザ", "kind": "plow", "label": "除雪車 T", "public": true});
    let r = s.call("POST", "/admin/vehicles", Some(&admin), Some(&body), &[]).await;
    let device = body_json(r).await["device_credential"].as_str().unwrap().to_owned();
    let mut t = chrono::Utc::now().timestamp() - 1800;
    let mut fixes = Vec::new();
    for w in line.0.windows(2) {
        let (a, b) = (w[0], w[1]);
        let steps = ((b.x - a.x).hypot(b.y - a.y) / 8.0).ceil().max(1.0) as usize;
        let heading = (b.x - a.x).atan2(b.y - a.y).to_degrees().rem_euclid(360.0);
        for i in 0..=steps {
            let k = i as f64 / steps as f64;
            let (lon, lat) = to_wgs84.point(a.x + (b.x - a.x) * k, a.y + (b.y - a.y) * k).unwrap();
            fixes.push(json!({"device": device, "time": t, "lat": lat, "lon": lon, "heading_deg": heading, "speed_mps": 8.0, "blade_down": true}));
            t += 1;
        }
    }
    let r = s.call("POST", "/ingest/batch", None, Some(&json!({ "fixes": fixes })), &[]).await;
    assert_eq!(r.status(), 200, "{}", body_json(r).await);

    let n = auto_notice(&s, &staff, &key, |_| true).await;
    assert_eq!(n["title"], "テスト地区の除雪が完了しました");
    assert!(n["body"].as_str().unwrap().starts_with("テスト地区の道路の100%を除雪しました"), "{}", n["body"]);
    assert_eq!(
        (n["source"].as_str(), n["category"].as_str(), n["area_desc"].as_str()),
        (Some("plowed"), Some("snow"), Some("テスト地区"))
    );
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let all = s.get_json("/notices?all=true", Some(&staff)).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "one notice, once: {all}");
    assert_eq!(all["items"][0]["_machizu"]["version"], 1);
}

/// `machizu serve` on `data` (no demo city) until killed; returns it and its address.
fn serve(data: &Path, config: &Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_machizu"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-demo", "--data"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "machizu=info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("machizu says where it serves").unwrap();
        if let Some((_, rest)) = line.split_once("machizu is serving address=") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading its log so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, format!("http://{address}"))
}

/// Killed with SIGKILL in the middle of a fan-out and started again, machizu sends the notice
/// to every subscription: what was claimed but not recorded goes again after its lease (at most
/// the pushes that were in flight), and the service worker shows each message once.
#[tokio::test(flavor = "multi_thread")]
async fn a_kill_during_a_fan_out_loses_no_push() {
    let push = PushService::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("machizu.toml");
    std::fs::write(
        &config,
        "[notices.push]\nendpoint_origins = [\"http://127.0.0.1\"]\nconcurrency = 8\nretry_ms = 100\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_machizu"))
        .args(["keys", "create", "--name", "防災", "--role", "staff", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned();
    let (mut server, base) = serve(dir.path(), &config);
    let client = reqwest::Client::new();

    let n = 1500;
    let names: Vec<String> = (0..n).map(|i| format!("slow-{i}")).collect();
    let made = push.post("/_subscriptions", json!({ "names": names })).await;
    for m in made.as_array().unwrap() {
        let body = json!({"subscription": {"endpoint": m["endpoint"], "keys": m["keys"]}, "places": [{"lon": 140.406, "lat": 38.6, "radius_m": 100}]});
        let r = client.post(format!("{base}/push/subscriptions")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    let r = client.post(format!("{base}/notices")).bearer_auth(&key).json(&notice(square(0.01))).send().await.unwrap();
    assert_eq!(r.status(), 201);

    push.wait(|r| r["messages"].as_array().unwrap().len() >= 200).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let at_kill = push.received().await["messages"].as_array().unwrap().len();
    assert!(at_kill < n, "killed in the middle: {at_kill} of {n} sent");
    let (mut server, _) = serve(dir.path(), &config);

    // The lease (30 s) runs out for what was in flight at the kill.
    let got = push.wait(|r| per_name(r).len() == n).await;
    tokio::time::sleep(std::time::Duration::from_secs(35)).await;
    let got = if per_name(&got).values().sum::<usize>() > n { got } else { push.received().await };
    server.kill().unwrap();
    assert_eq!(got["errors"], json!([]));
    let counts = per_name(&got);
    assert_eq!(counts.len(), n, "every subscription got the notice");
    let again: usize = counts.values().map(|c| c - 1).sum();
    assert!(again <= 8, "sent again: at most the 8 pushes in flight at the kill, got {again}");
    // What the service worker shows: one notification per (subscription, message).
    let shown: std::collections::BTreeSet<(String, i64)> = got["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m["payload"]["message"].as_i64().unwrap()))
        .collect();
    assert_eq!(shown.len(), n);
    eprintln!("kill -9 after {at_kill} of {n} pushes; {again} sent again after the restart");
}
