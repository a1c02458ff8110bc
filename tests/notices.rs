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
