//! Edits through the API (OGC API – Features Part 4), on the embedded GeoPackage and on
//! PostGIS: each create, patch, replace and delete is in the store and in the very next tile;
//! a stale `If-Match` is a 412 that changes nothing; the audit log has who, what, before and
//! after; an invalid body writes nothing.

mod support;

use machizu::auth::Role;
use machizu::config::Secret;
use serde_json::{Value, json};
use support::{TestServer, body_bytes, body_json, fresh_database, vector_tile};

/// The z14 tile holding a position.
fn tile_of(lon: f64, lat: f64) -> (u32, u32) {
    let n = 2f64.powi(14);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (x, y)
}

/// The `status` of feature `id` in the hazardous-buildings tile at a position, if it is there.
async fn in_tile(s: &TestServer, (lon, lat): (f64, f64), id: i64) -> Option<String> {
    let (x, y) = tile_of(lon, lat);
    let r = s.get(&format!("/tiles/hazardous_buildings/14/{x}/{y}.mvt")).await;
    if r.status() == 204 {
        return None;
    }
    let tile = vector_tile::decode(&body_bytes(r).await);
    let layer = tile.layers.iter().find(|l| l.name == "hazardous_buildings")?;
    let f = layer.features.iter().find(|f| f.id == Some(id as u64))?;
    let status = layer.keys.iter().position(|k| k == "status").unwrap() as u32;
    let value = f.tags.chunks(2).find(|kv| kv[0] == status).map(|kv| kv[1] as usize)?;
    Some(vector_tile::value_string(&layer.values[value]))
}

fn point(lon: f64, lat: f64, status: &str) -> Value {
    json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
           "properties": {"status": status, "owner_name": "試験 太郎", "survey_date": "2026-11-20"}})
}

async fn stored_status(s: &TestServer, id: i64) -> Option<String> {
    let layer = s.app.config.catalog.get("hazardous_buildings").unwrap();
    let found = s.app.store.load_ids(layer, &[id]).await.unwrap();
    let i = layer.attribute_index("status").unwrap();
    found.first().map(|f| match &f.attributes[i] {
        machizu::feature::AttrValue::Text(t) => t.clone(),
        other => format!("{other:?}"),
    })
}

async fn edits_reach_the_store_the_next_tile_and_the_audit_log(s: &TestServer) {
    let token = s.key(Role::Staff).await;
    let key = Some(token.as_str());
    let items = "/ogc/collections/hazardous_buildings/items";
    let here = (140.4061, 38.6001);
    let there = (140.45, 38.65);

    // Create.
    let r = s.call("POST", items, key, Some(&point(here.0, here.1, "特定空家等")), &[]).await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let etag1 = r.headers()["etag"].to_str().unwrap().to_owned();
    let id = body_json(r).await["id"].as_i64().unwrap();
    assert!(location.ends_with(&format!("/items/{id}")));
    assert_eq!(stored_status(s, id).await.as_deref(), Some("特定空家等"));
    assert_eq!(in_tile(s, here, id).await.as_deref(), Some("特定空家等"), "the next tile shows the new feature");
    let got = s.call("GET", &format!("{items}/{id}"), None, None, &[]).await;
    assert_eq!(got.headers()["etag"].to_str().unwrap(), etag1);

    // Patch with the current ETag.
    let item = format!("{items}/{id}");
    let patch = json!({"properties": {"status": "解体済"}});
    let r = s.call("PATCH", &item, key, Some(&patch), &[("if-match", &etag1)]).await;
    assert_eq!(r.status(), 200);
    let etag2 = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag1, etag2);
    let body = body_json(r).await;
    assert_eq!(
        (body["properties"]["status"].as_str(), body["properties"]["owner_name"].as_str()),
        (Some("解体済"), Some("試験 太郎"))
    );
    assert_eq!(stored_status(s, id).await.as_deref(), Some("解体済"));
    assert_eq!(in_tile(s, here, id).await.as_deref(), Some("解体済"));

    // A status outside the code list: 422 naming the allowed ones.
    let r =
        s.call("PATCH", &item, key, Some(&json!({"properties": {"status": "古い"}})), &[("if-match", &etag2)]).await;
    assert_eq!(r.status(), 422);
    let body = body_json(r).await;
    assert_eq!(body["errors"][0]["path"], "properties.status");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("特定空家等, 管理不全空家等"), "{body}");

    // A stale ETag: 412, nothing changes.
    let r = s
        .call("PATCH", &item, key, Some(&json!({"properties": {"status": "要経過観察"}})), &[("if-match", &etag1)])
        .await;
    assert_eq!(r.status(), 412);
    assert!(body_json(r).await["message"].as_str().unwrap().contains("has changed"));
    let r = s.call("DELETE", &item, key, None, &[("if-match", &etag1)]).await;
    assert_eq!(r.status(), 412);
    assert_eq!(stored_status(s, id).await.as_deref(), Some("解体済"));
    assert_eq!(in_tile(s, here, id).await.as_deref(), Some("解体済"));

    // Replace, moving it to another tile.
    let r = s.call("PUT", &item, key, Some(&point(there.0, there.1, "管理不全空家等")), &[("if-match", &etag2)]).await;
    assert_eq!(r.status(), 200);
    let etag3 = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(in_tile(s, here, id).await, None, "gone from the old tile");
    assert_eq!(in_tile(s, there, id).await.as_deref(), Some("管理不全空家等"), "in the new one");

    // Invalid bodies write nothing.
    let bad = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [150.0, 38.6]}, "properties": {"status": 3}});
    let r = s.call("PUT", &item, key, Some(&bad), &[]).await;
    assert_eq!(r.status(), 422);
    let errors = body_json(r).await["errors"].as_array().unwrap().len();
    assert_eq!(errors, 2, "the extent and the type");
    assert_eq!(stored_status(s, id).await.as_deref(), Some("管理不全空家等"));

    // Delete.
    let r = s.call("DELETE", &item, key, None, &[("if-match", &etag3)]).await;
    assert_eq!(r.status(), 204);
    assert_eq!(stored_status(s, id).await, None);
    assert_eq!(in_tile(s, there, id).await, None);
    assert_eq!(s.get(&item).await.status(), 404);
    assert_eq!(s.call("DELETE", &item, key, None, &[]).await.status(), 404);

    // The audit log, newest first, through the admin route.
    let admin = s.key(Role::Admin).await;
    let log = s.get_json(&format!("/audit?layer=hazardous_buildings&feature_id={id}"), Some(&admin)).await;
    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "replace", "update", "create"]);
    assert!(entries.iter().all(|e| e["actor"].as_str().unwrap().contains("test Staff")));
    let update = &entries[2];
    assert_eq!(update["before"]["properties"]["status"], "特定空家等");
    assert_eq!(update["after"]["properties"]["status"], "解体済");
    assert_eq!(update["after"]["properties"]["owner_name"], "試験 太郎", "staff-only data is audited too");
    assert_eq!((update["before"]["version"].as_i64(), update["after"]["version"].as_i64()), (Some(1), Some(2)));
    assert!(entries[3]["before"].is_null() && entries[0]["after"].is_null());
    assert_eq!(entries[0]["before"]["properties"]["status"], "管理不全空家等");

    // A revoked key stops working at once.
    let id = token.split('_').nth(1).unwrap();
    assert!(s.app.store.revoke_key(id).await.unwrap());
    let r = s.call("POST", items, key, Some(&point(here.0, here.1, "特定空家等")), &[]).await;
    assert_eq!(r.status(), 401);
    let listed = s.app.store.keys().await.unwrap();
    assert!(listed.iter().any(|k| k.id == id && k.revoked_at.is_some()));
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_in_the_geopackage() {
    let s = TestServer::demo().await;
    edits_reach_the_store_the_next_tile_and_the_audit_log(&s).await;
    // The engine and the store agree.
    let layer = s.app.config.catalog.get("hazardous_buildings").unwrap();
    let n = s.app.store.count(layer).await.unwrap();
    assert_eq!(n as usize, s.app.engine.layer("hazardous_buildings").unwrap().len());
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_in_postgis() {
    let url = fresh_database().await;
    let s = TestServer::demo_with(|c| {
        c.database_url = Some(Secret(url));
        c.demo = true;
    })
    .await;
    edits_reach_the_store_the_next_tile_and_the_audit_log(&s).await;
}
