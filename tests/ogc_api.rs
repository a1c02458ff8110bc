//! OGC API – Features on the demo city: every query parameter, each CQL2 operator (text and
//! JSON), each CRS with its axis order, paging to the end, each error; GDAL's own OAPIF client
//! reading the service; the spatial questions and search.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::{TestServer, body_json, cs2cs};

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn ids(fc: &Value) -> Vec<i64> {
    fc["features"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect()
}

/// Every feature of a layer, through paging.
async fn all(s: &TestServer, layer: &str, query: &str) -> (Vec<Value>, u64) {
    let mut uri = format!("/ogc/collections/{layer}/items?limit=1000{query}");
    let mut out = Vec::new();
    let mut matched = None;
    loop {
        let page = s.get_json(&uri, None).await;
        let n = page["numberMatched"].as_u64().unwrap();
        assert_eq!(*matched.get_or_insert(n), n, "numberMatched stays the same across pages");
        assert_eq!(page["numberReturned"].as_u64().unwrap() as usize, page["features"].as_array().unwrap().len());
        out.extend(page["features"].as_array().unwrap().iter().cloned());
        let next = page["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next");
        match next {
            Some(l) => uri = l["href"].as_str().unwrap().trim_start_matches("http://localhost").to_owned(),
            None => break,
        }
    }
    (out, matched.unwrap_or(0))
}

#[tokio::test]
async fn landing_conformance_collections_and_queryables() {
    let s = TestServer::demo().await;
    let landing = s.get_json("/ogc", None).await;
    let rels: Vec<&str> = landing["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(&rel), "{rel} in {rels:?}");
    }
    let conf = s.get_json("/ogc/conformance", None).await;
    let classes: Vec<&str> = conf["conformsTo"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"));
    assert!(classes.contains(&"http://www.opengis.net/spec/cql2/1.0/conf/cql2-json"));
    let cols = s.get_json("/ogc/collections", None).await;
    let roads = cols["collections"].as_array().unwrap().iter().find(|c| c["id"] == "roads").unwrap();
    assert_eq!(roads["storageCrs"], "http://www.opengis.net/def/crs/EPSG/0/6678");
    assert!(roads["crs"].as_array().unwrap().contains(&json!("http://www.opengis.net/def/crs/EPSG/0/3857")));
    let haz = s.get_json("/ogc/collections/hazardous_buildings", None).await;
    assert!(haz["extent"]["temporal"]["interval"][0][0].is_string(), "a layer with dates has a temporal extent");
    let q = s.get_json("/ogc/collections/hazardous_buildings/queryables", None).await;
    assert_eq!(q["properties"]["survey_date"]["format"], "date");
    assert!(q["properties"].get("owner_name").is_none(), "staff-only attributes are not queryable by the public");
}

#[tokio::test]
async fn paging_reaches_every_feature_once_in_id_order() {
    let s = TestServer::demo().await;
    let (features, matched) = all(&s, "roads", "").await;
    let n = s.app.engine.layer("roads").unwrap().len();
    assert_eq!((features.len(), matched as usize), (n, n));
    let got: Vec<i64> = features.iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert!(got.windows(2).all(|w| w[0] < w[1]), "ascending, no repeats");
    // The default page, prev links and the last page.
    let first = s.get_json("/ogc/collections/roads/items", None).await;
    assert_eq!(first["numberReturned"], 100);
    assert!(!first["links"].as_array().unwrap().iter().any(|l| l["rel"] == "prev"));
    let last = s.get_json(&format!("/ogc/collections/roads/items?limit=100&offset={}", n - 5), None).await;
    assert_eq!(last["numberReturned"], 5);
    let rels: Vec<&str> = last["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    assert!(rels.contains(&"prev") && !rels.contains(&"next"), "{rels:?}");
    let past = s.get_json(&format!("/ogc/collections/roads/items?offset={}", n + 10), None).await;
    assert_eq!((past["numberReturned"].as_u64(), past["numberMatched"].as_u64()), (Some(0), Some(n as u64)));
}

#[tokio::test]
async fn each_crs_in_its_axis_order() {
    let s = TestServer::demo().await;
    let get = |crs: &'static str| {
        let s = &s;
        async move {
            let r = s
                .call("GET", &format!("/ogc/collections/hazardous_buildings/items/1?crs={}", enc(crs)), None, None, &[])
                .await;
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-crs"].to_str().unwrap(), format!("<{crs}>"));
            let f = body_json(r).await;
            let c = f["geometry"]["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect::<Vec<_>>();
            (c[0], c[1])
        }
    };
    let (lon, lat) = get("http://www.opengis.net/def/crs/OGC/1.3/CRS84").await;
    assert!((140.3..140.7).contains(&lon) && (38.4..38.8).contains(&lat));
    assert_eq!(get("http://www.opengis.net/def/crs/EPSG/0/4326").await, (lat, lon), "EPSG:4326 is latitude first");
    let (a, b) = get("http://www.opengis.net/def/crs/EPSG/0/6668").await;
    assert!((a - lat).abs() < 1e-9 && (b - lon).abs() < 1e-9, "JGD2011 degrees, latitude first");
    let (x, y) = get("http://www.opengis.net/def/crs/EPSG/0/3857").await;
    let r = 6_378_137.0_f64;
    assert!((x - lon.to_radians() * r).abs() < 0.01);
    assert!((y - (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0).tan().ln() * r).abs() < 0.01);
    // Zone X, northing X first, checked against PROJ's cs2cs.
    let (north, east) = get("http://www.opengis.net/def/crs/EPSG/0/6678").await;
    let expect = cs2cs("EPSG:6668", "EPSG:6678", &[(lon, lat)])[0];
    assert!((east - expect.0).abs() < 0.001 && (north - expect.1).abs() < 0.001, "{east},{north} vs {expect:?}");
}

#[tokio::test]
async fn bbox_datetime_and_property_parameters() {
    let s = TestServer::demo().await;
    let (everything, _) = all(&s, "hazardous_buildings", "").await;
    let coord = |f: &Value, i: usize| f["geometry"]["coordinates"][i].as_f64().unwrap();
    // bbox in CRS84, and the same box as EPSG:4326 (latitude first): the same features.
    let (w, so, e, n) = (140.35, 38.50, 140.45, 38.65);
    let inside: BTreeSet<i64> = everything
        .iter()
        .filter(|f| (w..=e).contains(&coord(f, 0)) && (so..=n).contains(&coord(f, 1)))
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert!(!inside.is_empty() && inside.len() < everything.len());
    let (crs84, _) = all(&s, "hazardous_buildings", &format!("&bbox={w},{so},{e},{n}")).await;
    let got: BTreeSet<i64> = crs84.iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert_eq!(got, inside);
    let q = format!("&bbox={so},{w},{n},{e}&bbox-crs={}", enc("http://www.opengis.net/def/crs/EPSG/0/4326"));
    let (epsg4326, _) = all(&s, "hazardous_buildings", &q).await;
    assert_eq!(epsg4326.iter().map(|f| f["id"].as_i64().unwrap()).collect::<BTreeSet<_>>(), inside);
    // bbox in zone X (northing first), answered in zone X: every point inside the box.
    let zone = enc("http://www.opengis.net/def/crs/EPSG/0/6678");
    let q = format!("&bbox=-160000,-45000,-150000,-35000&bbox-crs={zone}&crs={zone}");
    let (in_zone, _) = all(&s, "hazardous_buildings", &q).await;
    assert!(!in_zone.is_empty());
    for f in &in_zone {
        assert!((-160000.0..=-150000.0).contains(&coord(f, 0)) && (-45000.0..=-35000.0).contains(&coord(f, 1)), "{f}");
    }
    // datetime: an interval, open ends, a day.
    let dated = |from: &str, to: &str| {
        everything
            .iter()
            .filter(|f| {
                let d = f["properties"]["survey_date"].as_str().unwrap_or("");
                !d.is_empty() && d >= from && d <= to
            })
            .count() as u64
    };
    for (param, from, to) in [
        ("2025-01-01/2025-12-31", "2025-01-01", "2025-12-31"),
        ("../2024-06-30", "0000", "2024-06-30"),
        ("2026-01-01/..", "2026-01-01", "9999"),
    ] {
        let page =
            s.get_json(&format!("/ogc/collections/hazardous_buildings/items?datetime={}", enc(param)), None).await;
        assert_eq!(page["numberMatched"].as_u64().unwrap(), dated(from, to), "{param}");
    }
    let day = everything[0]["properties"]["survey_date"].as_str().unwrap().to_owned();
    let page = s.get_json(&format!("/ogc/collections/hazardous_buildings/items?datetime={day}"), None).await;
    assert_eq!(page["numberMatched"].as_u64().unwrap(), dated(&day, &day));
    // property=value
    let special = everything.iter().filter(|f| f["properties"]["status"] == "特定空家等").count() as u64;
    let page =
        s.get_json(&format!("/ogc/collections/hazardous_buildings/items?status={}", enc("特定空家等")), None).await;
    assert_eq!(page["numberMatched"].as_u64().unwrap(), special);
    assert!(page["features"].as_array().unwrap().iter().all(|f| f["properties"]["status"] == "特定空家等"));
    let page = s.get_json("/ogc/collections/roads/items?snow_priority=1&limit=10000", None).await;
    assert!(page["features"].as_array().unwrap().iter().all(|f| f["properties"]["snow_priority"] == 1));
}

/// The ids a CQL2-text filter selects on roads, compared with the same predicate in Rust over
/// every road.
#[tokio::test]
async fn each_cql2_operator_selects_what_it_says() {
    let s = TestServer::demo().await;
    let (roads, _) = all(&s, "roads", "").await;
    fn p(f: &Value, k: &str) -> Value {
        f["properties"][k].clone()
    }
    fn num(f: &Value, k: &str) -> Option<f64> {
        p(f, k).as_f64()
    }
    fn text(f: &Value, k: &str) -> Option<String> {
        p(f, k).as_str().map(str::to_owned)
    }
    type Pred = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, Pred)> = vec![
        ("road_class = '国道'", Box::new(|f| text(f, "road_class").as_deref() == Some("国道"))),
        ("road_class <> '市道'", Box::new(|f| text(f, "road_class").is_some_and(|c| c != "市道"))),
        ("width_m < 5", Box::new(|f| num(f, "width_m").is_some_and(|w| w < 5.0))),
        ("width_m <= 5", Box::new(|f| num(f, "width_m").is_some_and(|w| w <= 5.0))),
        ("width_m > 8", Box::new(|f| num(f, "width_m").is_some_and(|w| w > 8.0))),
        ("width_m >= 8", Box::new(|f| num(f, "width_m").is_some_and(|w| w >= 8.0))),
        (
            "road_class = '市道' AND snow_priority = 2",
            Box::new(|f| text(f, "road_class").as_deref() == Some("市道") && num(f, "snow_priority") == Some(2.0)),
        ),
        (
            "road_class = '国道' OR road_class = '県道'",
            Box::new(|f| matches!(text(f, "road_class").as_deref(), Some("国道" | "県道"))),
        ),
        ("NOT road_class = '市道'", Box::new(|f| text(f, "road_class").is_some_and(|c| c != "市道"))),
        ("name LIKE '市道仲町%'", Box::new(|f| text(f, "name").is_some_and(|n| n.starts_with("市道仲町")))),
        (
            "name LIKE '市道_町%'",
            Box::new(|f| {
                text(f, "name").is_some_and(|n| {
                    let c: Vec<char> = n.chars().collect();
                    n.starts_with("市道") && c.get(3) == Some(&'町')
                })
            }),
        ),
        ("snow_priority IN (1, 3)", Box::new(|f| matches!(num(f, "snow_priority"), Some(1.0 | 3.0)))),
        ("width_m BETWEEN 4 AND 6", Box::new(|f| num(f, "width_m").is_some_and(|w| (4.0..=6.0).contains(&w)))),
        ("route_no IS NULL", Box::new(|f| p(f, "route_no").is_null())),
        ("NOT route_no IS NULL", Box::new(|f| !p(f, "route_no").is_null())),
    ];
    for (filter, pred) in cases {
        let expect: Vec<i64> = roads.iter().filter(|f| pred(f)).map(|f| f["id"].as_i64().unwrap()).collect();
        let (got, matched) = all(&s, "roads", &format!("&filter={}", enc(filter))).await;
        let got: Vec<i64> = got.iter().map(|f| f["id"].as_i64().unwrap()).collect();
        assert!(!expect.is_empty(), "{filter} selects something in the demo city");
        assert_eq!((got, matched as usize), (expect.clone(), expect.len()), "{filter}");
    }
    // The same in CQL2-JSON.
    let json_filter = json!({"op": "and", "args": [
        {"op": "=", "args": [{"property": "road_class"}, "市道"]},
        {"op": "between", "args": [{"property": "width_m"}, 4, 6]},
    ]});
    let text_page = s
        .get_json(
            &format!(
                "/ogc/collections/roads/items?limit=10000&filter={}",
                enc("road_class = '市道' AND width_m BETWEEN 4 AND 6")
            ),
            None,
        )
        .await;
    let json_page = s
        .get_json(
            &format!(
                "/ogc/collections/roads/items?limit=10000&filter-lang=cql2-json&filter={}",
                enc(&json_filter.to_string())
            ),
            None,
        )
        .await;
    assert_eq!(ids(&text_page), ids(&json_page));
}

#[tokio::test]
async fn spatial_filters_agree_with_the_spatial_questions() {
    let s = TestServer::demo().await;
    let (lon, lat) = (140.405, 38.6);
    // S_DWITHIN in metres = /query/within.
    let within = s.get_json(&format!("/query/within?layer=roads&lon={lon}&lat={lat}&radius_m=300"), None).await;
    let mut expect = ids(&within);
    expect.sort();
    let f = format!("S_DWITHIN(geometry, POINT({lon} {lat}), 300)");
    let (got, _) = all(&s, "roads", &format!("&filter={}", enc(&f))).await;
    assert_eq!(got.iter().map(|f| f["id"].as_i64().unwrap()).collect::<Vec<_>>(), expect);
    assert!(expect.len() > 3);
    // S_INTERSECTS = POST /query/intersects; S_WITHIN a subset.
    let poly = json!({"type": "Polygon", "coordinates": [[[140.40, 38.595], [140.41, 38.595], [140.41, 38.605], [140.40, 38.605], [140.40, 38.595]]]});
    let r = s
        .call("POST", "/query/intersects?layers=roads", None, Some(&poly), &[("content-type", "application/json")])
        .await;
    let mut expect = ids(&body_json(r).await);
    expect.sort();
    let wkt = "POLYGON((140.40 38.595, 140.41 38.595, 140.41 38.605, 140.40 38.605, 140.40 38.595))";
    let (got, _) = all(&s, "roads", &format!("&filter={}", enc(&format!("S_INTERSECTS(geometry, {wkt})")))).await;
    assert_eq!(got.iter().map(|f| f["id"].as_i64().unwrap()).collect::<Vec<_>>(), expect);
    let (inside, _) = all(&s, "roads", &format!("&filter={}", enc(&format!("S_WITHIN(geometry, {wkt})")))).await;
    assert!(!inside.is_empty() && inside.len() < expect.len());
    for f in &inside {
        for c in f["geometry"]["coordinates"].as_array().unwrap() {
            let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            assert!((140.40..=140.41).contains(&x) && (38.595..=38.605).contains(&y), "{f}");
        }
    }
}

#[tokio::test]
async fn each_error_is_a_400_or_404_saying_what_is_wrong() {
    let s = TestServer::demo().await;
    let items = "/ogc/collections/hazardous_buildings/items";
    let cases = [
        (format!("{items}?limit=0"), 400, "limit must be"),
        (format!("{items}?limit=10001"), 400, "limit must be"),
        (format!("{items}?offset=-1"), 400, "offset must be"),
        (format!("{items}?bbox=1,2,3"), 400, "bbox must be 4 or 6"),
        (format!("{items}?bbox=140.5,38.5,140.4,38.6"), 400, "lower then upper"),
        (format!("{items}?bbox-crs={}", enc("http://www.opengis.net/def/crs/EPSG/0/4326")), 400, "without bbox"),
        (format!("{items}?crs={}", enc("http://www.opengis.net/def/crs/EPSG/0/2451")), 400, "not offered"),
        (format!("{items}?crs=nonsense"), 400, "not a CRS URI"),
        (format!("{items}?datetime=yesterday"), 400, "datetime must be"),
        ("/ogc/collections/water_mains/items?datetime=2025-01-01".to_owned(), 400, "has no time"),
        (format!("{items}?colour=red"), 400, "unknown parameter \"colour\""),
        (format!("{items}?owner_name=x"), 400, "unknown parameter \"owner_name\""),
        (format!("{items}?limit=5&limit=6"), 400, "given twice"),
        (format!("{items}?filter={}", enc("status = ")), 400, "invalid cql2-text"),
        (format!("{items}?filter={}", enc("colour = 'red'")), 400, "unknown property \"colour\""),
        (format!("{items}?filter={}&filter-lang=cql3", enc("status = 'x'")), 400, "filter-lang must be"),
        (format!("{items}?filter-lang=cql2-text"), 400, "need a filter"),
        (format!("{items}?filter={}&filter-lang=cql2-json", enc("{\"op\":")), 400, "invalid cql2-json"),
        (format!("{items}?f=html"), 400, "not offered"),
        (format!("{items}/999999"), 404, "no feature"),
        (format!("{items}/abc"), 404, "no feature"),
        (format!("{items}/1?crs=x"), 400, "crs"),
        (format!("{items}/1?colour=red"), 400, "unknown field"),
        ("/ogc/collections/nope".to_owned(), 404, "unknown layer"),
        ("/ogc/collections/nope/items".to_owned(), 404, "unknown layer"),
    ];
    for (uri, status, needle) in cases {
        let r = s.get(&uri).await;
        assert_eq!(r.status().as_u16(), status, "{uri}");
        let body = body_json(r).await;
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{uri}: {message:?} should mention {needle:?}");
    }
}

#[tokio::test]
async fn point_nearest_within_and_search() {
    let s = TestServer::demo().await;
    // A parcel's own centre: /query/point finds that parcel, distance 0.
    let parcel = s.get_json("/ogc/collections/parcels/items?limit=1&offset=500", None).await["features"][0].clone();
    let ring = parcel["geometry"]["coordinates"][0].as_array().unwrap();
    let (lon, lat) = ring[..ring.len() - 1]
        .iter()
        .fold((0.0, 0.0), |(x, y), c| (x + c[0].as_f64().unwrap(), y + c[1].as_f64().unwrap()));
    let n = (ring.len() - 1) as f64;
    let at = s.get_json(&format!("/query/point?lon={}&lat={}", lon / n, lat / n), None).await;
    let hit = at["features"].as_array().unwrap().iter().find(|f| f["layer"] == "parcels").expect("the parcel");
    assert_eq!((hit["id"].clone(), hit["distance_m"].as_f64()), (parcel["id"].clone(), Some(0.0)));
    for f in at["features"].as_array().unwrap() {
        let d = f["distance_m"].as_f64().unwrap();
        match f["layer"].as_str().unwrap() {
            "roads" | "water_mains" | "sewer_lines" => assert!(d <= 30.0),
            "hazardous_buildings" => assert!(d <= 50.0),
            _ => assert_eq!(d, 0.0),
        }
    }
    // nearest k: ascending distances, the first is the nearest of within.
    let near = s.get_json("/query/nearest?layer=hazardous_buildings&lon=140.405&lat=38.6&k=5", None).await;
    let d: Vec<f64> = near["features"].as_array().unwrap().iter().map(|f| f["distance_m"].as_f64().unwrap()).collect();
    assert_eq!(d.len(), 5);
    assert!(d.windows(2).all(|w| w[0] <= w[1]));
    let within = s
        .get_json(
            &format!("/query/within?layer=hazardous_buildings&lon=140.405&lat=38.6&radius_m={}", d[4] + 0.01),
            None,
        )
        .await;
    assert_eq!(ids(&within), ids(&near));
    for bad in [
        "/query/point?lon=140.4",
        "/query/point?lon=200&lat=38.6",
        "/query/nearest?layer=roads&lon=140.4&lat=38.6&k=0",
        "/query/within?layer=roads&lon=140.4&lat=38.6&radius_m=99999",
        "/query/within?layer=roads&lon=140.4&lat=38.6&radius_m=10&extra=1",
    ] {
        assert_eq!(s.get(bad).await.status(), 400, "{bad}");
    }
    assert_eq!(s.get("/query/nearest?layer=nope&lon=140.4&lat=38.6").await.status(), 404);
    // 地番 search: the parcel by its own 地番 written the way people do.
    let chiban = parcel["properties"]["chiban"].as_str().unwrap().to_owned();
    let oaza = parcel["properties"]["oaza"].as_str().unwrap().to_owned();
    let typed: String = chiban
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from_u32(c as u32 + 0xFEE0).unwrap()
            } else if c == '-' {
                'の'
            } else {
                c
            }
        })
        .collect();
    let found = s.get_json(&format!("/search?q={}", enc(&format!("大字{oaza}{typed}番地"))), None).await;
    let first = &found["features"][0];
    assert_eq!(
        (first["layer"].as_str(), first["properties"]["chiban"].as_str()),
        (Some("parcels"), Some(chiban.as_str())),
        "{found}"
    );
    assert_eq!(first["properties"]["oaza"].as_str(), Some(oaza.as_str()));
    // Prefix: every result starts with the number; paging moves on.
    let prefix = &chiban[..chiban.find('-').unwrap_or(chiban.len())];
    let page1 = s.get_json(&format!("/search?q={prefix}&layers=parcels&limit=5"), None).await;
    let page2 = s.get_json(&format!("/search?q={prefix}&layers=parcels&limit=5&offset=5"), None).await;
    assert!(page1["numberMatched"].as_u64().unwrap() > 5);
    for f in page1["features"].as_array().unwrap().iter().chain(page2["features"].as_array().unwrap()) {
        assert!(f["properties"]["chiban"].as_str().unwrap().starts_with(prefix));
    }
    assert!(ids(&page1).iter().all(|i| !ids(&page2).contains(i)));
    // Names across layers.
    let named = s.get_json(&format!("/search?q={}", enc("仲町")), None).await;
    assert!(
        named["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["layer"] == "roads" && f["properties"]["name"].as_str().unwrap().contains("仲町"))
    );
    assert_eq!(s.get("/search?q=").await.status(), 400);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let s = TestServer::demo().await;
    let api = s.get_json("/api", None).await;
    assert!(api["openapi"].as_str().unwrap().starts_with("3."));
    let paths = api["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/tiles/{layers}/{z}/{x}/{y}", &["get"][..]),
        ("/tiles/{spec}", &["get"]),
        ("/layers", &["get"]),
        ("/health", &["get"]),
        ("/ogc", &["get"]),
        ("/ogc/conformance", &["get"]),
        ("/ogc/collections", &["get"]),
        ("/ogc/collections/{id}", &["get"]),
        ("/ogc/collections/{id}/queryables", &["get"]),
        ("/ogc/collections/{id}/items", &["get", "post"]),
        ("/ogc/collections/{id}/items/{fid}", &["get", "put", "patch", "delete"]),
        ("/audit", &["get"]),
        ("/search", &["get"]),
        ("/query/point", &["get"]),
        ("/query/nearest", &["get"]),
        ("/query/within", &["get"]),
        ("/query/intersects", &["post"]),
    ] {
        for m in methods {
            assert!(paths.get(path).and_then(|p| p.get(*m)).is_some(), "{m} {path} is documented");
        }
    }
    let limit = paths["/ogc/collections/{id}/items"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["maximum"], 10000);
    let nearest = paths["/query/nearest"]["get"]["parameters"].as_array().unwrap();
    assert!(nearest.iter().any(|p| p["name"] == "k"), "query parameters come from the handlers' types");
    assert!(api["components"]["securitySchemes"]["api_key"]["scheme"].as_str().unwrap().eq_ignore_ascii_case("bearer"));
    assert!(paths["/ogc/collections/{id}/items/{fid}"]["put"]["responses"].get("412").is_some());
}

/// GDAL's OGC API – Features client lists the collections and reads every feature, in CRS84.
#[tokio::test(flavor = "multi_thread")]
async fn gdal_reads_the_service() {
    let s = TestServer::demo().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = s.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let url = format!("OAPIF:http://127.0.0.1:{port}/ogc");
    let ogrinfo = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let out =
                std::process::Command::new("ogrinfo").args(&args).output().expect("ogrinfo runs (GDAL is installed)");
            assert!(out.status.success(), "ogrinfo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    let list = ogrinfo(vec!["-ro".into(), url.clone()]).await.unwrap();
    for layer in ["parcels", "roads", "water_mains", "hazardous_buildings"] {
        assert!(list.contains(&format!(": {layer} (")), "{layer} listed:\n{list}");
    }
    let summary = ogrinfo(vec!["-ro".into(), "-so".into(), url.clone(), "hazardous_buildings".into()]).await.unwrap();
    let n = s.app.engine.layer("hazardous_buildings").unwrap().len();
    assert!(summary.contains(&format!("Feature Count: {n}")), "{summary}");
    assert!(summary.contains("ID[\"EPSG\",4326]") || summary.contains("WGS 84"), "{summary}");
    // Every road read through paging, with its attributes.
    let roads = ogrinfo(vec!["-ro".into(), "-al".into(), "-q".into(), url, "roads".into()]).await.unwrap();
    let read = roads.matches("OGRFeature(roads)").count();
    assert_eq!(read, s.app.engine.layer("roads").unwrap().len());
    assert!(roads.contains("road_class (String) = 国道"), "Japanese attributes arrive intact");
}
