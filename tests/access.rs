//! Access control: every route × {no key, public key, staff key, admin key, revoked key}. No
//! staff-only layer or attribute ever reaches a caller who is not staff (in bodies, tiles,
//! counts or errors), and no write succeeds without the right role.

mod support;

use machizu::auth::Role;
use machizu::catalog::Visibility;
use serde_json::{Value, json};
use support::{CENTRE_Z14, TestServer, body_bytes, vector_tile};

/// Names and values that only staff may see in the demo city with `sewer_lines` made
/// staff-only: attribute names, the layer's id, and its pipe kinds.
const STAFF_ONLY: &[&str] = &[
    "owner_name",
    "owner_contact",
    "owner_address",
    "internal_note",
    "\"notes\"",
    "vehicle_id",
    "\"source\"",
    "sewer_lines",
    "汚水",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    Public,
    Staff,
    Admin,
    Revoked,
}

/// A key of each role, and one revoked.
struct Keys {
    public: String,
    staff: String,
    admin: String,
    revoked: String,
}

impl Keys {
    async fn new(s: &TestServer) -> Self {
        let revoked = s.key(Role::Staff).await;
        assert!(s.app.store.revoke_key(revoked.split('_').nth(1).unwrap()).await.unwrap());
        Self {
            public: s.key(Role::Public).await,
            staff: s.key(Role::Staff).await,
            admin: s.key(Role::Admin).await,
            revoked,
        }
    }

    fn of(&self, who: Who) -> Option<&str> {
        match who {
            Who::Nobody => None,
            Who::Public => Some(&self.public),
            Who::Staff => Some(&self.staff),
            Who::Admin => Some(&self.admin),
            Who::Revoked => Some(&self.revoked),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_for_every_kind_of_caller() {
    let s = TestServer::demo_with(|c| c.catalog.get_mut("sewer_lines").unwrap().visibility = Visibility::Staff).await;
    let keys = Keys::new(&s).await;

    let (z, x, y) = CENTRE_Z14;
    let reads: Vec<(String, &str)> = vec![
        ("/layers".into(), "any"),
        ("/tiles/roads,hazardous_buildings.json".into(), "any"),
        ("/ogc/collections".into(), "any"),
        ("/ogc/collections/hazardous_buildings".into(), "any"),
        ("/ogc/collections/hazardous_buildings/queryables".into(), "any"),
        ("/ogc/collections/hazardous_buildings/items?limit=1000".into(), "any"),
        ("/ogc/collections/hazardous_buildings/items/1".into(), "any"),
        ("/ogc/collections/parcels/items?limit=50".into(), "any"),
        ("/query/point?lon=140.405&lat=38.6".into(), "any"),
        ("/query/nearest?layer=hazardous_buildings&lon=140.405&lat=38.6&k=20".into(), "any"),
        ("/query/within?layer=hazardous_buildings&lon=140.405&lat=38.6&radius_m=5000".into(), "any"),
        (format!("/search?q={}", "%E5%B0%BE%E8%8A%B1%E6%B2%A2"), "any"),
        ("/search?q=1".into(), "any"),
        // The staff-only layer itself: 404 to the public, as if it did not exist.
        ("/tiles/sewer_lines.json".into(), "staff"),
        ("/ogc/collections/sewer_lines".into(), "staff"),
        ("/ogc/collections/sewer_lines/items".into(), "staff"),
        ("/ogc/collections/sewer_lines/items/1".into(), "staff"),
        ("/query/nearest?layer=sewer_lines&lon=140.405&lat=38.6".into(), "staff"),
        ("/query/point?lon=140.405&lat=38.6&layers=sewer_lines".into(), "staff"),
        ("/audit".into(), "admin"),
    ];
    for who in [Who::Nobody, Who::Public, Who::Staff, Who::Admin, Who::Revoked] {
        let key = keys.of(who);
        let is_staff = matches!(who, Who::Staff | Who::Admin);
        for (uri, needs) in &reads {
            let r = s.call("GET", uri, key, None, &[]).await;
            let status = r.status().as_u16();
            let body = String::from_utf8(body_bytes(r).await).unwrap();
            let expected = match (who, *needs) {
                (Who::Revoked, _) => 401,
                (_, "any") => 200,
                (Who::Staff | Who::Admin, "staff") => 200,
                (_, "staff") => 404,
                (Who::Admin, "admin") => 200,
                (Who::Nobody, "admin") => 401,
                (_, "admin") => 403,
                _ => unreachable!(),
            };
            assert_eq!(status, expected, "{who:?} GET {uri}: {body}");
            if !is_staff && *needs == "staff" && who != Who::Revoked {
                // The answer is the one for a layer that does not exist.
                let nope = s.call("GET", &uri.replace("sewer_lines", "no_such_layer"), key, None, &[]).await;
                let nope = String::from_utf8(body_bytes(nope).await).unwrap();
                assert_eq!(body.replace("sewer_lines", "no_such_layer"), nope, "{who:?} GET {uri}");
            } else if !is_staff {
                for secret in STAFF_ONLY {
                    assert!(!body.contains(secret), "{who:?} GET {uri} shows {secret}: {body:.300}");
                }
            }
            if who == Who::Revoked {
                assert!(body.contains("revoked"), "{body}");
            }
        }
        // Staff see what the public may not.
        if is_staff {
            let items = s.get_json("/ogc/collections/hazardous_buildings/items?limit=1", key).await;
            assert!(items["features"][0]["properties"].get("owner_name").is_some());
            let layers = s.get_json("/layers", key).await.to_string();
            assert!(layers.contains("sewer_lines") && layers.contains("internal_note"));
        }
        // POST /query/intersects, a read with a body.
        let area = json!({"type": "Polygon", "coordinates": [[[140.39, 38.59], [140.42, 38.59], [140.42, 38.61], [140.39, 38.61], [140.39, 38.59]]]});
        let r = s.call("POST", "/query/intersects", key, Some(&area), &[]).await;
        let status = r.status().as_u16();
        let body = String::from_utf8(body_bytes(r).await).unwrap();
        assert_eq!(status, if who == Who::Revoked { 401 } else { 200 }, "{who:?} POST /query/intersects");
        assert_eq!(body.contains("owner_name") && body.contains("sewer_lines"), is_staff, "{who:?} intersects");

        // Tiles: staff-only attributes and layers in the tile itself.
        let r = s
            .call("GET", &format!("/tiles/roads,hazardous_buildings,water_mains/{z}/{x}/{y}.mvt"), key, None, &[])
            .await;
        let status = r.status().as_u16();
        let cache_control = r.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(status, if who == Who::Revoked { 401 } else { 200 }, "{who:?} tile");
        if status == 200 {
            let tile = vector_tile::decode(&body_bytes(r).await);
            let keys: Vec<&str> = tile.layers.iter().flat_map(|l| l.keys.iter().map(String::as_str)).collect();
            assert_eq!(keys.contains(&"internal_note"), is_staff, "{who:?}: {keys:?}");
            assert_eq!(cache_control.unwrap().starts_with("private"), is_staff, "staff tiles are never shared");
        }
        let r = s.call("GET", &format!("/tiles/sewer_lines/{z}/{x}/{y}.mvt"), key, None, &[]).await;
        let expected = match who {
            Who::Revoked => 401,
            Who::Staff | Who::Admin => 200,
            _ => 404,
        };
        assert_eq!(r.status().as_u16(), expected, "{who:?} staff-only layer tile");

        // Writes: staff and admin only.
        let point = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [140.41, 38.61]}, "properties": {"status": "管理不全空家等"}});
        let r = s.call("POST", "/ogc/collections/hazardous_buildings/items", key, Some(&point), &[]).await;
        let created = r.status().as_u16();
        let expected = match who {
            Who::Nobody | Who::Revoked => 401,
            Who::Public => 403,
            Who::Staff | Who::Admin => 201,
        };
        assert_eq!(created, expected, "{who:?} POST");
        let target = if created == 201 { body_json_id(r).await } else { 1 };
        let patch = json!({"properties": {"structure": "木造"}});
        let item = format!("/ogc/collections/hazardous_buildings/items/{target}");
        for (method, body) in [("PATCH", Some(&patch)), ("PUT", Some(&point)), ("DELETE", None)] {
            let r = s.call(method, &item, key, body, &[]).await;
            let expected = match who {
                Who::Nobody | Who::Revoked => 401,
                Who::Public => 403,
                Who::Staff | Who::Admin if method == "DELETE" => 204,
                Who::Staff | Who::Admin => 200,
            };
            assert_eq!(r.status().as_u16(), expected, "{who:?} {method}");
        }
        // The staff-only layer cannot even be named by a writer who may not see it.
        let pipe = json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[140.41, 38.61], [140.411, 38.611]]}, "properties": {}});
        let r = s.call("POST", "/ogc/collections/sewer_lines/items", key, Some(&pipe), &[]).await;
        let expected = match who {
            Who::Revoked => 401,
            Who::Nobody | Who::Public => 404,
            Who::Staff | Who::Admin => 201,
        };
        assert_eq!(r.status().as_u16(), expected, "{who:?} POST to a staff-only layer");
    }
    // Nothing the refused callers tried was written: only the staff and admin edits are audited.
    let entries = s.app.store.audit(None, None, 1000).await.unwrap();
    assert_eq!(entries.len(), 2 * 5, "two writers × (create, update, replace, delete, create pipe)");
    assert!(entries.iter().all(|e| e.actor.contains("test Staff") || e.actor.contains("test Admin")));
}

async fn body_json_id(r: axum::http::Response<axum::body::Body>) -> i64 {
    support::body_json(r).await["id"].as_i64().unwrap()
}

/// Any site may read (the city website embeds the map); no site may send a key or cookies
/// along, so no cross-site page can write.
#[tokio::test]
async fn cross_site_pages_read_but_cannot_write() {
    let s = TestServer::demo().await;
    let origin = ("origin", "https://www.city.example.jp");
    let r = s.call("GET", "/ogc/collections/roads/items?limit=1", None, None, &[origin]).await;
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(r.headers().get("access-control-allow-credentials").is_none());
    let preflight = s
        .call(
            "OPTIONS",
            "/ogc/collections/roads/items/1",
            None,
            None,
            &[origin, ("access-control-request-method", "PATCH"), ("access-control-request-headers", "authorization")],
        )
        .await;
    let allowed =
        |h: &str| preflight.headers().get(h).map(|v| v.to_str().unwrap().to_ascii_lowercase()).unwrap_or_default();
    assert!(!allowed("access-control-allow-methods").contains("patch"), "{:?}", preflight.headers());
    assert!(!allowed("access-control-allow-headers").contains("authorization"), "{:?}", preflight.headers());
    assert!(preflight.headers().get("access-control-allow-credentials").is_none());
}

#[tokio::test]
async fn a_scoped_key_writes_only_its_layers() {
    let s = TestServer::demo().await;
    let new = machizu::auth::NewKey::generate("除雪GPS", Role::Staff, Some(vec!["roads".into()]));
    s.app.store.create_key(&new).await.unwrap();
    let key = Some(new.token.as_str());
    let point = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [140.41, 38.61]}, "properties": {"status": "x"}});
    let r = s.call("POST", "/ogc/collections/hazardous_buildings/items", key, Some(&point), &[]).await;
    assert_eq!(r.status(), 403);
    // Outside its scope the key sees what the public sees.
    let items = s.get_json("/ogc/collections/hazardous_buildings/items?limit=1", key).await;
    assert!(items["features"][0]["properties"].get("owner_name").is_none());
    let road = s.get_json("/ogc/collections/roads/items?limit=1", key).await;
    assert!(road["features"][0]["properties"].get("internal_note").is_some());
    let r = s
        .call("PATCH", "/ogc/collections/roads/items/1", key, Some(&json!({"properties": {"width_m": 7.5}})), &[])
        .await;
    assert_eq!(r.status(), 200);
}

/// SensorThings and the sensor routes × {no key, public, staff, admin, revoked, the device
/// credential of another station}: a staff-only station, its datastream and its observations
/// reach staff only, and only staff (or a station's own device, for its observations) write.
#[tokio::test(flavor = "multi_thread")]
async fn sensor_routes_for_every_kind_of_caller() {
    use machizu::store::sensors::NewSensorDevice;
    let s = TestServer::demo().await;
    let public = s.key(Role::Public).await;
    let staff = s.key(Role::Staff).await;
    let admin = s.key(Role::Admin).await;
    let revoked = s.key(Role::Staff).await;
    assert!(s.app.store.revoke_key(revoked.split('_').nth(1).unwrap()).await.unwrap());
    for (name, staff_only) in [("公開観測所", false), ("内部観測所", true)] {
        let mut t = machizu::sensors::write::example_thing(name, 140.4, 38.6, "m");
        t["properties"] = json!({"staffOnly": staff_only});
        assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await.status(), 201);
        let n = if staff_only { 2 } else { 1 };
        let obs = json!({"result": 1.0, "phenomenonTime": "2026-12-01T00:00:00Z"});
        let r =
            s.call("POST", &format!("/sta/v1.1/Datastreams({n})/Observations"), Some(&staff), Some(&obs), &[]).await;
        assert_eq!(r.status(), 201);
    }
    // Cameras: 3 public, 4 staff-only, an image each.
    let frame = machizu::sensors::demo::camera_frame(1.0, chrono::Utc::now());
    for (name, staff_only) in [("公開カメラ", false), ("内部カメラ", true)] {
        let t = json!({"name": name, "description": name, "properties": {"camera": true, "staffOnly": staff_only}});
        assert_eq!(s.call("POST", "/sta/v1.1/Things", Some(&staff), Some(&t), &[]).await.status(), 201);
    }
    // (The images posted first are of an hour of their own: later posts do not replace them.)
    let post_image = |camera: i64, key: Option<&str>, time: &str| {
        let uri = format!("/sensors/cameras/{camera}/images?time={time}");
        let mut req = axum::http::Request::builder().method("POST").uri(uri);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        s.request(req.body(axum::body::Body::from(frame.clone())).unwrap())
    };
    for camera in [3, 4] {
        assert_eq!(post_image(camera, Some(&staff), "2026-12-01T00:00:00Z").await.status(), 201);
    }
    // The device of the staff-only station 2: "another sensor" for everything of station 1.
    let other = NewSensorDevice::generate("gauge-2", 2, "内部観測所").unwrap();
    s.app.store.add_sensor_device(&other).await.unwrap();

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Caller {
        Nobody,
        Public,
        Staff,
        Admin,
        Revoked,
        OtherDevice,
    }
    let reads: &[(&str, &str)] = &[
        ("/sta/v1.1", "any"),
        ("/sta/v1.1/Things", "any"),
        ("/sta/v1.1/Things(1)", "any"),
        ("/sta/v1.1/Things(1)/Datastreams", "any"),
        ("/sta/v1.1/Datastreams(1)/Observations", "any"),
        ("/sta/v1.1/Observations(1)", "any"),
        ("/sta/v1.1/Observations", "any"),
        ("/sta/v1.1/Locations", "any"),
        ("/sta/v1.1/HistoricalLocations", "any"),
        ("/sta/v1.1/Sensors", "any"),
        ("/sta/v1.1/ObservedProperties", "any"),
        ("/sta/v1.1/FeaturesOfInterest", "any"),
        ("/sta/v1.1/Datastreams?$expand=Thing,Observations", "any"),
        ("/sta/v1.1/Things(2)", "hidden"),
        ("/sta/v1.1/Things(2)/Datastreams", "hidden"),
        ("/sta/v1.1/Datastreams(2)", "hidden"),
        ("/sta/v1.1/Datastreams(2)/Observations", "hidden"),
        ("/sta/v1.1/Observations(2)", "hidden"),
        ("/sta/v1.1/Locations(2)", "hidden"),
        ("/sta/v1.1/Sensors(2)", "hidden"),
        ("/sensors/events", "sensors"),
        ("/sensors/datastreams/1/series", "sensors"),
        ("/sensors/datastreams/2/series", "sensors-hidden"),
        ("/sensors/datastreams/1/series?period=season", "sensors-staff"),
        ("/sensors/datastreams/1/series?period=week&format=csv", "sensors-staff"),
        ("/sensors/cameras/3/images", "sensors"),
        ("/sensors/cameras/3/latest.jpg", "sensors"),
        ("/sensors/cameras/3/images/1.jpg", "sensors"),
        ("/sensors/cameras/4/images", "sensors-hidden"),
        ("/sensors/cameras/4/latest.jpg", "sensors-hidden"),
        ("/sensors/cameras/4/images/2.jpg", "sensors-hidden"),
    ];
    for who in [Caller::Nobody, Caller::Public, Caller::Staff, Caller::Admin, Caller::Revoked, Caller::OtherDevice] {
        let key = match who {
            Caller::Nobody => None,
            Caller::Public => Some(public.as_str()),
            Caller::Staff => Some(staff.as_str()),
            Caller::Admin => Some(admin.as_str()),
            Caller::Revoked => Some(revoked.as_str()),
            Caller::OtherDevice => Some(other.credential.as_str()),
        };
        let is_staff = matches!(who, Caller::Staff | Caller::Admin);
        for (uri, needs) in reads {
            let r = s.call("GET", uri, key, None, &[]).await;
            let status = r.status().as_u16();
            let body = String::from_utf8_lossy(&body_bytes(r).await).into_owned();
            let sensors_route = needs.starts_with("sensors");
            let expected = match (who, *needs) {
                (Caller::Revoked, _) => 401,
                // A device credential counts on /sta/v1.1 only.
                (Caller::OtherDevice, _) if sensors_route => 401,
                (_, "any" | "sensors") => 200,
                (Caller::Staff | Caller::Admin, _) => 200,
                (_, "hidden" | "sensors-hidden") => 404,
                (Caller::Nobody, "sensors-staff") => 401,
                (_, "sensors-staff") => 403,
                _ => unreachable!("{who:?} {needs}"),
            };
            assert_eq!(status, expected, "{who:?} GET {uri}: {body}");
            if !is_staff {
                assert!(!body.contains("内部"), "{who:?} GET {uri} shows the staff-only station: {body:.300}");
            }
        }
        // Writes: staff and admin keys; a device only for its own station.
        let obs = json!({"result": 2.0, "phenomenonTime": "2026-12-01T01:00:00Z"});
        let thing = machizu::sensors::write::example_thing("新しい観測所", 140.4, 38.6, "m");
        let r = s.call("POST", "/sta/v1.1/Datastreams(1)/Observations", key, Some(&obs), &[]).await;
        let created = r.status().as_u16();
        let own = if created == 201 {
            serde_json::from_slice::<Value>(&body_bytes(r).await).unwrap()["@iot.id"].as_i64().unwrap()
        } else {
            1
        };
        let writes: [(&str, String, Option<&Value>); 3] = [
            ("POST", "/sta/v1.1/Things".into(), Some(&thing)),
            ("PATCH", "/sta/v1.1/Things(1)".into(), Some(&json!({"description": "更新"}))),
            ("DELETE", format!("/sta/v1.1/Observations({own})"), None),
        ];
        let mut statuses = vec![
            ("POST", "/sta/v1.1/Datastreams(1)/Observations".to_owned(), created),
            (
                "POST",
                "/sensors/cameras/3/images".to_owned(),
                post_image(3, key, "2026-12-02T00:00:00Z").await.status().as_u16(),
            ),
        ];
        for (method, uri, body) in writes {
            let r = s.call(method, &uri, key, body, &[]).await;
            statuses.push((method, uri, r.status().as_u16()));
        }
        for (method, uri, status) in statuses {
            let expected = match (who, method) {
                (Caller::Nobody | Caller::Revoked, _) => 401,
                (Caller::Public | Caller::OtherDevice, _) => 403,
                (_, "POST") => 201,
                _ => 200,
            };
            assert_eq!(status, expected, "{who:?} {method} {uri}");
        }
    }
}

/// Notices: only staff write; the public reads published notices (never a draft, never every
/// notice with its audit log) in every feed and format.
#[tokio::test(flavor = "multi_thread")]
async fn notice_routes_for_every_kind_of_caller() {
    let s = TestServer::demo().await;
    let keys = Keys::new(&s).await;
    let staff = keys.staff.clone();
    let ends = (chrono::Utc::now() + chrono::Duration::hours(6)).to_rfc3339();
    let notice = |title: &str, status: &str| {
        json!({"title": title, "body": "本文", "category": "snow", "severity": "Minor", "urgency": "Expected",
               "certainty": "Likely", "ends_at": ends, "area": {"district": "尾花沢地区"}, "status": status})
    };
    let r = s.call("POST", "/notices", Some(&staff), Some(&notice("公開のお知らせ", "published")), &[]).await;
    let published = body_json_id(r).await;
    let r = s.call("POST", "/notices", Some(&staff), Some(&notice("下書きの秘密", "draft")), &[]).await;
    let draft = body_json_id(r).await;

    for who in [Who::Nobody, Who::Public, Who::Staff, Who::Admin, Who::Revoked] {
        let key = keys.of(who);
        let is_staff = matches!(who, Who::Staff | Who::Admin);
        let reads = [
            ("/notices".to_owned(), 200, 200),
            ("/notices.atom".to_owned(), 200, 200),
            (format!("/notices/{published}"), 200, 200),
            (format!("/notices/{published}.cap"), 200, 200),
            (format!("/notices/{draft}"), 404, 200),
            (format!("/notices/{draft}.cap"), 404, 404),
            ("/notices?all=true".to_owned(), if who == Who::Public { 403 } else { 401 }, 200),
            // Residents' subscriptions are never listed, to anyone.
            ("/push/subscriptions".to_owned(), 405, 405),
        ];
        for (uri, for_public, for_staff) in reads {
            let r = s.call("GET", &uri, key, None, &[]).await;
            let status = r.status().as_u16();
            let body = String::from_utf8(body_bytes(r).await).unwrap();
            let expected = match who {
                Who::Revoked if for_public != 405 => 401,
                _ if is_staff => for_staff,
                _ => for_public,
            };
            assert_eq!(status, expected, "{who:?} GET {uri}: {body}");
            assert!(!body.contains("endpoint"), "{who:?} GET {uri}: no subscription in any answer");
            if !is_staff {
                assert!(!body.contains("下書きの秘密") && !body.contains("\"audit\""), "{who:?} GET {uri}: {body}");
            }
        }
        let writes: [(&str, String, Option<Value>, u16); 3] = [
            ("POST", "/notices".into(), Some(notice("追加", "published")), 201),
            ("PATCH", format!("/notices/{draft}"), Some(json!({"body": "直し"})), 200),
            ("DELETE", format!("/notices/{published}"), None, 200),
        ];
        for (method, uri, body, for_staff) in writes {
            let r = s.call(method, &uri, key, body.as_ref(), &[]).await;
            let expected = match who {
                Who::Nobody | Who::Revoked => 401,
                Who::Public => 403,
                Who::Staff | Who::Admin => for_staff,
            };
            assert_eq!(r.status().as_u16(), expected, "{who:?} {method} {uri}");
        }
    }
    // Only the two writers' steps are in the audit logs.
    let audit = s.app.notices.audit(draft).await.unwrap();
    assert_eq!(audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create", "update", "update"]);
    assert!(audit.iter().all(|e| e.actor.contains("test Staff") || e.actor.contains("test Admin")));
}
