//! The clients' pages as HTTP sees them: framing rules (the public map and the embed for the
//! configured sites, the staff map for none), the basemap put into the styles, the embed
//! snippet and its checks, and a cache policy on every answer the public map loads.

mod support;

use machizu::auth::Role;
use support::{TestServer, body_bytes, body_json};

fn header<'a>(r: &'a axum::http::Response<axum::body::Body>, name: &str) -> &'a str {
    r.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn pages_say_who_may_frame_them_and_how_long_to_keep_them() {
    let s = TestServer::demo().await;
    for page in ["/", "/map", "/embed?layers=roads"] {
        let r = s.get(page).await;
        assert_eq!(r.status(), 200, "{page}");
        assert_eq!(header(&r, "content-security-policy"), "frame-ancestors *");
        assert!(header(&r, "cache-control").starts_with("public, max-age="), "{page}");
    }
    let r = s.get("/staff").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-security-policy"), "frame-ancestors 'none'");
    assert_eq!(header(&r, "x-frame-options"), "DENY");

    let only =
        TestServer::demo_with(|c| c.web.embed_origins = vec!["https://www.city.obanazawa.yamagata.jp".into()]).await;
    let r = only.get("/embed").await;
    assert_eq!(header(&r, "content-security-policy"), "frame-ancestors 'self' https://www.city.obanazawa.yamagata.jp");

    // What the public map loads: each answer with its policy; keyed answers are private.
    for (uri, policy) in [
        ("/web/public.js", "public, max-age=300"),
        ("/styles/public.json", "public, max-age=300"),
        ("/vendor/maplibre-gl/maplibre-gl.mjs", "public, max-age=86400"),
        ("/layers", "public, max-age=60"),
        ("/tiles/roads,road_events.json", "public, max-age=60"),
        ("/tiles/roads/14/14582/6284.mvt", "public, max-age=60"),
        ("/live/vehicles", "no-cache"),
        ("/nothing/here", "no-store"),
    ] {
        let r = s.get(uri).await;
        assert!(header(&r, "cache-control").starts_with(policy), "{uri}: {}", header(&r, "cache-control"));
    }
    let key = s.key(Role::Staff).await;
    let r = s.call("GET", "/layers", Some(&key), None, &[]).await;
    assert_eq!(header(&r, "cache-control"), "private, no-cache");
    assert!(header(&r, "vary").contains("authorization"));
}

/// The body of `r`, gunzipped.
async fn gunzip(r: axum::http::Response<axum::body::Body>) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body_bytes(r).await[..]).read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn scripts_go_out_compressed_to_browsers_that_take_it() {
    let s = TestServer::demo().await;
    let gzip = [("accept-encoding", "gzip, deflate, br")];
    for (uri, file) in [
        ("/vendor/maplibre-gl/maplibre-gl.mjs", "web/node_modules/maplibre-gl/dist/maplibre-gl.mjs"),
        ("/vendor/maplibre-gl/maplibre-gl-worker.mjs?v=6", "web/node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs"),
        ("/web/common.js", "web/common.js"),
        ("/map", "web/public.html"),
    ] {
        let on_disk = std::fs::read(file).unwrap();
        let r = s.call("GET", uri, None, None, &gzip).await;
        assert_eq!(r.status(), 200, "{uri}");
        assert_eq!(header(&r, "content-encoding"), "gzip", "{uri}");
        assert!(header(&r, "vary").contains("accept-encoding"), "{uri}");
        assert!(header(&r, "cache-control").starts_with("public, max-age="), "{uri}");
        assert_eq!(gunzip(r).await, on_disk, "{uri}");
        // Without Accept-Encoding, the file as it is.
        let r = s.get(uri).await;
        assert_eq!(header(&r, "content-encoding"), "", "{uri}");
        assert_eq!(body_bytes(r).await, on_disk, "{uri}");
    }
    // API answers too, when large enough to gain; each still says it varies by key. Event
    // streams are not compressed (a browser would wait for a compressor's block to fill).
    let key = s.key(Role::Staff).await;
    let uri = "/ogc/collections/roads/items?limit=50";
    let plain = body_json(s.call("GET", uri, Some(&key), None, &[]).await).await;
    let r = s.call("GET", uri, Some(&key), None, &gzip).await;
    assert_eq!(header(&r, "content-encoding"), "gzip");
    let vary: Vec<_> = r.headers().get_all("vary").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(
        vary.iter().any(|v| v.contains("authorization")) && vary.iter().any(|v| v.contains("accept-encoding")),
        "{vary:?}"
    );
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&gunzip(r).await).unwrap(), plain);
    let r = s.call("GET", "/live/stream", None, None, &gzip).await;
    assert_eq!(header(&r, "content-type"), "text/event-stream");
    assert_eq!(header(&r, "content-encoding"), "");

    // MapLibre is compressed once by scripts/setup, not per request.
    let r = s.call("GET", "/vendor/maplibre-gl/maplibre-gl.mjs", None, None, &gzip).await;
    let compressed = body_bytes(r).await;
    assert_eq!(compressed, std::fs::read("web/node_modules/maplibre-gl/dist/maplibre-gl.mjs.gz").unwrap());
}

#[tokio::test]
async fn styles_carry_the_configured_basemap_or_none() {
    let s = TestServer::demo().await;
    let style = body_json(s.get("/styles/public.json").await).await;
    let basemap = &style["sources"]["basemap"];
    assert_eq!(basemap["tiles"][0], "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png");
    assert!(basemap["attribution"].as_str().unwrap().contains("出典：国土地理院"));
    assert_eq!(s.get("/styles/nope.json").await.status(), 404);
    assert_eq!(s.get("/styles/..%2Fsecret.json").await.status(), 404);

    let own = TestServer::demo_with(|c| {
        c.web.basemap_url = "https://tiles.example.jp/{z}/{x}/{y}.png".into();
        c.web.basemap_attribution = "© Example".into();
    })
    .await;
    let style = body_json(own.get("/styles/staff.json").await).await;
    assert_eq!(style["sources"]["basemap"]["tiles"][0], "https://tiles.example.jp/{z}/{x}/{y}.png");
    assert_eq!(style["sources"]["basemap"]["attribution"], "© Example");

    let none = TestServer::demo_with(|c| c.web.basemap_url = String::new()).await;
    let style = body_json(none.get("/styles/public.json").await).await;
    assert!(style["sources"].get("basemap").is_none());
    assert!(style["layers"].as_array().unwrap().iter().all(|l| l["source"] != "basemap"));
    assert!(style["metadata"].get("machizu:archive").is_none());
}

#[tokio::test]
async fn a_tiles_archive_is_named_to_the_public_map_only() {
    let url = "https://cdn.example.jp/machizu/city.pmtiles";
    let s = TestServer::demo_with(|c| c.web.tiles_archive = url.into()).await;
    let public = body_json(s.get("/styles/public.json").await).await;
    assert_eq!(public["metadata"]["machizu:archive"], url);
    // Staff see staff attributes, which no archive holds.
    let staff = body_json(s.get("/styles/staff.json").await).await;
    assert!(staff["metadata"].get("machizu:archive").is_none());
    // The reader the public map loads for it.
    let r = s.get("/vendor/pmtiles/pmtiles.js").await;
    assert_eq!(r.status(), 200);
    assert!(String::from_utf8(body_bytes(r).await).unwrap().contains("PMTiles"));
}

#[tokio::test]
async fn the_snippet_embeds_public_layers_only() {
    let s = TestServer::demo().await;
    let r = s
        .call(
            "GET",
            "/embed/snippet?layers=roads,road_events&center=140.406,38.6&zoom=15",
            None,
            None,
            &[("host", "map.example.jp")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = String::from_utf8(body_bytes(r).await).unwrap();
    assert!(
        html.contains("&lt;iframe src=&quot;http://map.example.jp/embed?layers=roads,road_events&amp;amp;center=140.406,38.6&amp;amp;zoom=15&quot;"),
        "{html}"
    );
    assert!(html.contains(
        "<iframe src=\"http://map.example.jp/embed?layers=roads,road_events&amp;center=140.406,38.6&amp;zoom=15\""
    ));
    for (query, status) in [
        ("layers=snowplows_fleet", 404),
        ("layers=parcels_arbitrary", 404),
        ("center=abc", 400),
        ("center=200,38", 400),
        ("zoom=30", 400),
    ] {
        let r = s.get(&format!("/embed/snippet?{query}")).await;
        assert_eq!(r.status(), status, "{query}");
    }
}
