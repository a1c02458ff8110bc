//! Signing in to the staff map, on the embedded GeoPackage and on PostGIS: the session cookie's
//! flags, the staff area (`/staff/api/…`) it opens, CSRF on every write made with it, lock-out
//! after repeated failures, sign-out, a disabled account's sessions ending, and a public caller
//! reaching no staff data.

mod support;

use axum::http::HeaderMap;
use machizu::auth::Role;
use machizu::config::Secret;
use machizu::users::{MAX_FAILED, hash_password};
use serde_json::{Value, json};
use support::{TestServer, body_json, fresh_database};

const PASSWORD: &str = "雪の夜の見回り 2026";

async fn add_user(s: &TestServer, name: &str, role: Role) {
    s.app.store.add_user(name, "田中 花子（建設課）", role, &hash_password(PASSWORD).unwrap()).await.unwrap();
}

/// Signs in; returns the response's status, headers and body.
async fn sign_in(s: &TestServer, name: &str, password: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Value) {
    let r = s.call("POST", "/staff/session", None, Some(&json!({"name": name, "password": password})), headers).await;
    let (status, h) = (r.status().as_u16(), r.headers().clone());
    (status, h, body_json(r).await)
}

/// The `name=value` of a Set-Cookie header.
fn cookie_pair(h: &HeaderMap) -> String {
    h["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
}

async fn sessions_cookies_and_csrf(s: &TestServer) {
    add_user(s, "tanaka", Role::Staff).await;

    // Wrong password, unknown name: the same 401, no cookie.
    for (name, password) in [("tanaka", "wrong password!"), ("nobody", PASSWORD)] {
        let (status, h, body) = sign_in(s, name, password, &[]).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["message"], "wrong user name or password");
        assert!(h.get("set-cookie").is_none());
    }
    let r = s.call("POST", "/staff/session", None, None, &[]).await;
    assert_eq!(r.status(), 400, "a sign-in without a body");

    // The cookie: HttpOnly, SameSite=Strict, the session's lifetime; Secure only over TLS.
    let (status, h, body) = sign_in(s, "tanaka", PASSWORD, &[]).await;
    assert_eq!(status, 200, "{body}");
    let set = h["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/staff", "Max-Age=43200"] {
        assert!(set.contains(flag), "{set} has {flag}");
    }
    assert!(!set.contains("Secure"), "{set}: plain HTTP cannot keep a Secure cookie");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(body["user"]["name"], "tanaka");
    assert_eq!(body["user"]["role"], "staff");
    let csrf = body["csrf"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);
    let (_, tls, _) = sign_in(s, "tanaka", PASSWORD, &[("x-forwarded-proto", "https")]).await;
    assert!(tls["set-cookie"].to_str().unwrap().contains("; Secure"), "over TLS the cookie is Secure");

    // A sign-in posted from another site's page is refused.
    let (status, _, _) =
        sign_in(s, "tanaka", PASSWORD, &[("origin", "https://evil.example"), ("host", "machizu.example")]).await;
    assert_eq!(status, 403);
    let (status, _, _) =
        sign_in(s, "tanaka", PASSWORD, &[("origin", "https://machizu.example"), ("host", "machizu.example")]).await;
    assert_eq!(status, 200);

    // In the staff area the cookie makes the caller staff: staff attributes, links under
    // /staff/api. Outside it the cookie counts for nothing (the public map stays public).
    let cookie = cookie_pair(&h);
    let with_cookie = [("cookie", cookie.as_str())];
    let r = s.call("GET", "/staff/session", None, None, &with_cookie).await;
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(r).await["csrf"], csrf.as_str());
    let items = "/staff/api/ogc/collections/hazardous_buildings/items?limit=1";
    let public_items = "/ogc/collections/hazardous_buildings/items?limit=1";
    let staff = body_json(s.call("GET", items, None, None, &with_cookie).await).await;
    assert!(staff["features"][0]["properties"].get("owner_name").is_some(), "{staff}");
    for headers in [&with_cookie[..], &[]] {
        let public = body_json(s.call("GET", public_items, None, None, headers).await).await;
        assert!(public["features"][0]["properties"].get("owner_name").is_none(), "{public}");
    }
    let r = s.call("GET", items, None, None, &[]).await;
    assert_eq!(r.status(), 401, "the staff area without a sign-in");
    let tilejson =
        body_json(s.call("GET", "/staff/api/tiles/snowplows_fleet.json", None, None, &with_cookie).await).await;
    let tiles = tilejson["tiles"][0].as_str().unwrap();
    assert!(tiles.contains("/staff/api/tiles/snowplows_fleet/"), "{tiles}");

    // Writes with the cookie need the CSRF token: none or a wrong one is a 403 and changes nothing.
    let id = staff["features"][0]["id"].as_i64().unwrap();
    let item = format!("/staff/api/ogc/collections/hazardous_buildings/items/{id}");
    let patch = json!({"properties": {"notes": "雪下ろし要請済み"}});
    for headers in [vec![("cookie", cookie.as_str())], vec![("cookie", cookie.as_str()), ("x-csrf-token", "0000")]] {
        let r = s.call("PATCH", &item, None, Some(&patch), &headers).await;
        assert_eq!(r.status(), 403);
        assert!(body_json(r).await["message"].as_str().unwrap().contains("X-CSRF-Token"));
    }
    let got = body_json(s.call("GET", &item, None, None, &with_cookie).await).await;
    assert_ne!(got["properties"]["notes"], "雪下ろし要請済み");
    let r = s.call("PATCH", &item, None, Some(&patch), &[("cookie", cookie.as_str()), ("x-csrf-token", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let got = body_json(s.call("GET", &item, None, None, &with_cookie).await).await;
    assert_eq!(got["properties"]["notes"], "雪下ろし要請済み");
    let admin = s.key(Role::Admin).await;
    let audit = s.get_json("/audit?layer=hazardous_buildings", Some(&admin)).await;
    assert!(audit.to_string().contains("user:tanaka"), "the audit log names the person: {audit}");

    // Sign-out needs the token too; then the cookie is worth nothing.
    let r = s.call("DELETE", "/staff/session", None, None, &with_cookie).await;
    assert_eq!(r.status(), 403);
    let r =
        s.call("DELETE", "/staff/session", None, None, &[("cookie", cookie.as_str()), ("x-csrf-token", &csrf)]).await;
    assert_eq!(r.status(), 204);
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "the cookie is cleared");
    let r = s.call("GET", "/staff/session", None, None, &with_cookie).await;
    assert_eq!(r.status(), 401);
    let r = s.call("GET", items, None, None, &with_cookie).await;
    assert_eq!(r.status(), 401, "signed out, the staff area is closed");
    let r = s.call("PATCH", &item, None, Some(&patch), &[("cookie", cookie.as_str()), ("x-csrf-token", &csrf)]).await;
    assert_eq!(r.status(), 401);

    // A public-role key does not open the staff area; a staff key does.
    let public_key = s.key(Role::Public).await;
    let r = s.call("GET", items, Some(&public_key), None, &[]).await;
    assert_eq!(r.status(), 403);
    let staff_key = s.key(Role::Staff).await;
    let r = s.call("GET", items, Some(&staff_key), None, &[]).await;
    assert_eq!(r.status(), 200);
}

async fn lock_out_and_disabled_accounts(s: &TestServer) {
    add_user(s, "sato", Role::Admin).await;
    let (_, h, body) = sign_in(s, "sato", PASSWORD, &[]).await;
    let cookie = cookie_pair(&h);
    assert_eq!(body["user"]["role"], "admin");

    for _ in 0..MAX_FAILED {
        let (status, _, _) = sign_in(s, "sato", "not the password", &[]).await;
        assert_eq!(status, 401);
    }
    // Locked: even the right password is refused, with when it ends.
    let (status, _, body) = sign_in(s, "sato", PASSWORD, &[]).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["message"].as_str().unwrap().contains("locked until"), "{body}");
    let (user, _) = s.app.store.user("sato").await.unwrap().unwrap();
    assert!(user.locked_until.is_some());
    // A new password lifts the lock and ends the sessions made with the old one.
    s.app.store.set_password("sato", &hash_password("a brand new password").unwrap()).await.unwrap();
    let r = s.call("GET", "/staff/session", None, None, &[("cookie", cookie.as_str())]).await;
    assert_eq!(r.status(), 401, "a new password ends the old sessions");
    let (status, h, _) = sign_in(s, "sato", "a brand new password", &[]).await;
    assert_eq!(status, 200);

    // A disabled account: its sessions end; it cannot sign in.
    let cookie = cookie_pair(&h);
    assert!(s.app.store.disable_user("sato").await.unwrap());
    let r = s.call("GET", "/staff/session", None, None, &[("cookie", cookie.as_str())]).await;
    assert_eq!(r.status(), 401);
    let (status, _, body) = sign_in(s, "sato", "a brand new password", &[]).await;
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = sign_in(s, "sato", "a wrong password", &[]).await;
    assert_eq!(status, 401, "a disabled account is not told to who lacks the password");
}

#[tokio::test]
async fn staff_sign_in_in_the_geopackage() {
    let s = TestServer::demo().await;
    sessions_cookies_and_csrf(&s).await;
    lock_out_and_disabled_accounts(&s).await;
}

#[tokio::test]
async fn staff_sign_in_in_postgis() {
    let url = fresh_database().await;
    let s = TestServer::demo_with(|c| {
        c.database_url = Some(Secret(url));
        c.demo = true;
    })
    .await;
    sessions_cookies_and_csrf(&s).await;
    lock_out_and_disabled_accounts(&s).await;
}

#[tokio::test]
async fn a_public_caller_reaches_no_staff_data() {
    let s = TestServer::demo().await;
    // No cookie, or one that names no session: the public.
    for headers in [vec![], vec![("cookie", "machizu_session=0123456789abcdef")]] {
        let r = s.call("GET", "/staff/session", None, None, &headers).await;
        assert_eq!(r.status(), 401);
        for uri in [
            "/staff/api/layers",
            "/staff/api/tiles/roads/14/14582/6284.mvt",
            "/staff/api/live/vehicles",
            "/staff/api/api",
        ] {
            let r = s.call("GET", uri, None, None, &headers).await;
            assert_eq!(r.status(), 401, "{uri}");
            assert!(body_json(r).await["message"].as_str().unwrap().contains("staff"));
        }
        for (uri, status) in [
            ("/live/fixes?from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z", 401),
            ("/live/report?date=2026-11-24", 401),
            ("/admin/vehicles", 401),
            ("/audit", 401),
            ("/tiles/snowplows_fleet/14/14582/6284.mvt", 404),
            ("/ogc/collections/parcels_arbitrary/items", 404),
            ("/ogc/collections/snowplow_trails", 404),
        ] {
            let r = s.call("GET", uri, None, None, &headers).await;
            assert_eq!(r.status(), status, "{uri}");
        }
        let layers = s.call("GET", "/layers", None, None, &headers).await;
        let text = body_json(layers).await.to_string();
        assert!(!text.contains("owner_name") && !text.contains("parcels_arbitrary"), "{text}");
    }
}
