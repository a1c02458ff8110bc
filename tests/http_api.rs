//! The HTTP contract: every bad request gets a 4xx with a JSON body saying what was wrong (those
//! the HTTP stack answers itself too);
//! empty tiles are 204; ETags give 304; gzip when accepted; TileJSON, /layers and /health.

mod support;

use std::io::Read;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use machizu::catalog::Visibility;
use support::{CENTRE_Z14, TestServer, body_bytes, body_json};

#[tokio::test]
async fn bad_requests_get_a_4xx_with_a_json_reason() {
    let s = TestServer::demo().await;
    let cases = [
        ("/tiles/roads/19/0/0.mvt", 400, "zoom 19 is above the maximum zoom 18"),
        ("/tiles/parcels,roads/30/0/0.mvt", 400, "above the maximum zoom"),
        ("/tiles/roads/3/8/0.mvt", 400, "x=8 is outside 0..8"),
        ("/tiles/roads/3/0/8.mvt", 400, "y=8 is outside 0..8"),
        ("/tiles/roads/3/-1/0.mvt", 400, "x must be a non-negative whole number"),
        ("/tiles/roads/abc/0/0.mvt", 400, "z must be a non-negative whole number"),
        ("/tiles/roads/3/0/0.png", 400, "ends in {y}.mvt"),
        ("/tiles/roads/3/0/x.mvt", 400, "y must be"),
        ("/tiles/roads/99999999999999999999/0/0.mvt", 400, "z must be"),
        ("/tiles/nope/3/0/0.mvt", 404, "unknown layer \"nope\""),
        ("/tiles/roads,nope/3/0/0.mvt", 404, "unknown layer \"nope\""),
        ("/tiles/roads,roads/3/0/0.mvt", 400, "listed twice"),
        ("/tiles/,/3/0/0.mvt", 400, "no layer given"),
        ("/tiles/nope.json", 404, "unknown layer"),
        ("/tiles/roads.xml", 404, "TileJSON is at"),
        ("/tiles/roads/3/0", 404, "no resource at /tiles/roads/3/0"),
        ("/nothing/here", 404, "no resource at /nothing/here"),
    ];
    for (uri, status, message) in cases {
        let r = s.get(uri).await;
        assert_eq!(r.status().as_u16(), status, "{uri}");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json", "{uri}");
        let body = body_json(r).await;
        let text = body["message"].as_str().unwrap();
        assert!(text.contains(message), "{uri}: {text:?} should say {message:?}");
        assert!(body["error"].is_string());
    }
}

#[tokio::test]
async fn errors_the_http_stack_answers_itself_get_a_json_reason_too() {
    let s = TestServer::demo().await;
    let too_big = Request::post("/ingest/batch")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(vec![b' '; machizu::http::error::BODY_LIMIT + 1]))
        .unwrap();
    let wrong_method = Request::delete("/layers").body(Body::empty()).unwrap();
    let no_script = Request::get("/web/nope.js").body(Body::empty()).unwrap();
    for (req, status, error, says) in [
        (too_big, 413, "payload_too_large", "larger than the limit of 2097152 bytes"),
        (wrong_method, 405, "method_not_allowed", "this resource does not take DELETE"),
        (no_script, 404, "not_found", "/web/nope.js"),
    ] {
        let r = s.request(req).await;
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        if status == 405 {
            assert_eq!(r.headers()[header::ALLOW], "GET,HEAD");
        }
        let body = body_json(r).await;
        assert_eq!(body["error"], error);
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");
    }
    // A body just under the limit is read (and refused for what it says, not for its size).
    let r = s
        .request(
            Request::post("/ingest/batch")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(vec![b' '; machizu::http::error::BODY_LIMIT]))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn empty_tiles_are_204() {
    let s = TestServer::demo().await;
    // Far from the city.
    assert_eq!(s.get("/tiles/roads/14/0/0.mvt").await.status(), StatusCode::NO_CONTENT);
    // Below the parcels' minimum zoom (14), even over the city.
    let (_, x, y) = CENTRE_Z14;
    assert_eq!(s.get(&format!("/tiles/parcels/12/{}/{}.mvt", x >> 2, y >> 2)).await.status(), StatusCode::NO_CONTENT);
    // The live snowplow layer is empty until positions arrive.
    assert_eq!(s.get(&format!("/tiles/snowplows/14/{x}/{y}.mvt")).await.status(), StatusCode::NO_CONTENT);
    let r = s.get(&format!("/tiles/snowplows/14/{x}/{y}.mvt")).await;
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
    assert!(body_bytes(r).await.is_empty());
}

#[tokio::test]
async fn etag_gives_304_and_gzip_is_served_when_accepted() {
    let s = TestServer::demo().await;
    let (z, x, y) = CENTRE_Z14;
    let uri = format!("/tiles/roads,parcels/{z}/{x}/{y}.mvt");
    let plain = s.get(&uri).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(plain.headers()[header::VARY], "accept-encoding, authorization");
    let etag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
    let raw = body_bytes(plain).await;

    let req = |enc: Option<&str>, inm: Option<&str>| {
        let mut b = Request::get(&uri);
        if let Some(e) = enc {
            b = b.header(header::ACCEPT_ENCODING, e);
        }
        if let Some(t) = inm {
            b = b.header(header::IF_NONE_MATCH, t);
        }
        b.body(Body::empty()).unwrap()
    };

    let gz = s.request(req(Some("gzip, deflate, br"), None)).await;
    assert_eq!(gz.status(), StatusCode::OK);
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    let gz_etag = gz.headers()[header::ETAG].to_str().unwrap().to_owned();
    assert_ne!(gz_etag, etag, "each representation has its own tag");
    let compressed = body_bytes(gz).await;
    assert!(compressed.len() * 4 < raw.len() * 3, "compressed: {} of {} bytes", compressed.len(), raw.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, raw);

    // gzip;q=0 means no gzip.
    let r = s.request(req(Some("gzip;q=0"), None)).await;
    assert!(r.headers().get(header::CONTENT_ENCODING).is_none());

    let not_modified = s.request(req(None, Some(&etag))).await;
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.headers()[header::ETAG], etag.as_str());
    assert!(body_bytes(not_modified).await.is_empty());
    let gz_not_modified = s.request(req(Some("gzip"), Some(&gz_etag))).await;
    assert_eq!(gz_not_modified.status(), StatusCode::NOT_MODIFIED);
    // A stale tag gets the tile.
    assert_eq!(s.request(req(None, Some("\"0000\""))).await.status(), StatusCode::OK);
    // The tile came from the cache the second time: same bytes, one cache entry for the key.
    assert!(s.app.engine.cache().entry_count() >= 1);
}

#[tokio::test]
async fn tilejson_describes_public_fields_only() {
    let s = TestServer::demo().await;
    let r = s
        .request(
            Request::get("/tiles/roads,parcels.json")
                .header(header::HOST, "maps.example.jp")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN.as_str()], "*");
    let j = body_json(r).await;
    assert_eq!(j["tilejson"], "3.0.0");
    assert_eq!(j["tiles"][0], "http://maps.example.jp/tiles/roads,parcels/{z}/{x}/{y}.mvt");
    assert_eq!(j["minzoom"], 8);
    assert_eq!(j["maxzoom"], 18);
    let layers = j["vector_layers"].as_array().unwrap();
    // Each layer, and after parcels the MVT layer of their label points (地番 only).
    let ids: Vec<&str> = layers.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["roads", "parcels", "parcels_label"]);
    let fields = layers[1]["fields"].as_object().unwrap();
    assert!(fields.contains_key("chiban"));
    assert_eq!(fields["area_m2"], "Number");
    assert!(!fields.contains_key("owner_name"));
    assert_eq!(layers[2]["fields"], serde_json::json!({"chiban": "String"}));
    let b = j["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>();
    assert!(b[0] >= 140.31 && b[2] <= 140.62 && b[1] >= 38.44 && b[3] <= 38.72);
    assert!(j["attribution"].as_str().unwrap().contains("Synthetic"));
}

#[tokio::test]
async fn layers_and_health() {
    let s = TestServer::demo().await;
    let j = body_json(s.get("/layers").await).await;
    assert!(j["dataset_notice"].as_str().unwrap().contains("架空"));
    let layers = j["layers"].as_array().unwrap();
    let ids: Vec<&str> = layers.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "boundary",
            "parcels",
            "water_mains",
            "sewer_lines",
            "snowmelt_pipes",
            "buildings",
            "roads",
            "hazardous_buildings",
            "districts",
            "road_events",
            "snowplows",
            "sensors",
            "cameras"
        ]
    );
    let parcels = &layers[1];
    assert_eq!(parcels["title"]["ja"], "筆（地籍）");
    assert!(parcels["feature_count"].as_u64().unwrap() > 80_000);
    let names: Vec<&str> =
        parcels["attributes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"chiban") && !names.contains(&"owner_name") && !names.contains(&"owner_address"));

    let h = body_json(s.get("/health").await).await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["store"]["kind"], "gpkg");
    assert!(h["features_in_memory"].as_u64().unwrap() > 100_000);
}

#[tokio::test]
async fn a_layer_made_staff_only_in_config_is_invisible_to_the_public() {
    let s = TestServer::demo_with(|c| {
        c.catalog.get_mut("parcels").unwrap().visibility = Visibility::Staff;
    })
    .await;
    let (z, x, y) = CENTRE_Z14;
    assert_eq!(s.get(&format!("/tiles/parcels/{z}/{x}/{y}.mvt")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.get(&format!("/tiles/roads,parcels/{z}/{x}/{y}.mvt")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.get("/tiles/parcels.json").await.status(), StatusCode::NOT_FOUND);
    let j = body_json(s.get("/layers").await).await;
    assert!(j["layers"].as_array().unwrap().iter().all(|l| l["id"] != "parcels"));
}
