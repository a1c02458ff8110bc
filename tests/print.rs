//! Printing at a scale: the PDF read back with poppler (pdfinfo, pdftotext, pdftoppm) and
//! pdfplumber (tests/print/check_pdf.py) — the page size, the text, the scale bar's length in
//! points, and the map picture's true scale on paper, computed here from Web Mercator's own
//! definition — and what a bad request gets.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use machizu::auth::Role;
use serde_json::{Value, json};
use support::{TestServer, body_bytes, body_json};

const PT_PER_MM: f64 = 72.0 / 25.4;

/// Ground metres per device pixel of a MapLibre map (512-pixel tiles) at `zoom` and `lat`.
fn metres_per_device_px(zoom: f64, lat: f64, pixel_ratio: f64) -> f64 {
    let circumference = 2.0 * std::f64::consts::PI * 6_378_137.0;
    circumference * lat.to_radians().cos() / (512.0 * 2f64.powf(zoom) * pixel_ratio)
}

/// A map picture: a light gradient with a dark line every 100 pixels (JPEG).
fn picture(w: u32, h: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let line = x % 100 < 3 || y % 100 < 3;
            let v = if line { 40 } else { 200 + (x * 40 / w) as u8 };
            rgb.extend([v, v, 230]);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85).encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// `POST /print` as a browser sends it: `sheet` (JSON) and `map` (the picture), as multipart.
async fn print(s: &TestServer, key: &str, sheet: Option<&Value>, map: Option<&[u8]>) -> axum::response::Response {
    let boundary = "machizu-test-boundary";
    let mut body = Vec::new();
    if let Some(sheet) = sheet {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"sheet\"\r\nContent-Type: application/json\r\n\r\n").bytes());
        body.extend(sheet.to_string().bytes());
        body.extend(b"\r\n");
    }
    if let Some(map) = map {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"map\"; filename=\"map.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").bytes());
        body.extend(map);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    let req = Request::builder()
        .method("POST")
        .uri("/print")
        .header("authorization", format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    s.request(req).await
}

/// What tests/print/check_pdf.py reads on the sheet.
fn read_sheet(pdf: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new(support::test_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/print/check_pdf.py"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sheet_is_true_to_scale_on_paper_with_its_scale_bar_text_and_legend() {
    let s = TestServer::demo().await;
    let staff = s.key(Role::Staff).await;
    // (paper, orientation, scale, language, page in points, the scale bar's ground length)
    for (paper, orientation, scale, lang, page_pt, bar_m) in [
        ("A4", "landscape", 2500u32, "ja", [841.89, 595.28], 100.0),
        ("A3", "portrait", 1000, "en", [841.89, 1190.55], 50.0),
    ] {
        let lat = 38.6005;
        let layout = s
            .get_json(
                &format!("/print/layout?paper={paper}&orientation={orientation}&scale={scale}&lat={lat}"),
                Some(&staff),
            )
            .await;
        let (w, h) = (layout["map_px"][0].as_u64().unwrap() as u32, layout["map_px"][1].as_u64().unwrap() as u32);
        let (zoom, pixel_ratio) = (layout["zoom"].as_f64().unwrap(), layout["pixel_ratio"].as_f64().unwrap());
        let sheet = json!({
            "paper": paper, "orientation": orientation, "scale": scale, "lat": lat, "lon": 140.4065,
            "zoom": zoom, "pixel_ratio": pixel_ratio, "lang": lang,
            "title": "尾花沢市 中心部 除雪計画図", "note": "冬期の通行止め区間を確かめるための図",
            "legend": [{"title": "道路", "entries": [{"colour": "#e8743b", "label": "国道"}, {"colour": "#f2b447", "label": "県道"}]}],
        });
        let r = print(&s, &staff, Some(&sheet), Some(&picture(w, h))).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/pdf");
        assert!(
            r.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment; filename=\"machizu-")
        );
        let pdf = body_bytes(r).await;
        let got = read_sheet(&pdf);

        assert_eq!(got["pages"], 1);
        for i in 0..2 {
            assert!(
                (got["page_pt"][i].as_f64().unwrap() - page_pt[i]).abs() < 0.5,
                "{paper} {orientation}: {}",
                got["page_pt"]
            );
        }
        let text = got["text"].as_str().unwrap();
        let ratio = if scale == 2500 { "1:2,500" } else { "1:1,000" };
        let scale_word = if lang == "en" { "Scale" } else { "縮尺" };
        for expected in [
            "尾花沢市 中心部 除雪計画図",
            "冬期の通行止め区間",
            scale_word,
            ratio,
            &format!("{bar_m} m"),
            "北",
            "出典：国土地理院",
            "© 尾花沢市",
            "架空",
            "国道",
            "県道",
            "38.60050°N",
        ] {
            assert!(text.contains(expected), "{expected:?} is not on the sheet:\n{text}");
        }
        assert_eq!(got["title"], "尾花沢市 中心部 除雪計画図");

        // The scale bar: the outlined rectangle 1.6 mm high; its length in points is the ground
        // length at the scale.
        let bars: Vec<&Value> = got["rects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["stroke"] == true && r["fill"] == false)
            .filter(|r| ((r["bottom"].as_f64().unwrap() - r["top"].as_f64().unwrap()) - 1.6 * PT_PER_MM).abs() < 0.3)
            .collect();
        assert_eq!(bars.len(), 1, "{:?}", got["rects"]);
        let bar_pt = bars[0]["x1"].as_f64().unwrap() - bars[0]["x0"].as_f64().unwrap();
        let expected_pt = bar_m * 1000.0 / f64::from(scale) * PT_PER_MM;
        assert!((bar_pt / expected_pt - 1.0).abs() < 0.005, "scale bar {bar_pt} pt, expected {expected_pt} pt");

        // The map: the picture's ground width (its pixels at the zoom) over its width on paper
        // is the scale, within 0.5 %; and it is printed at 200 dpi or more.
        let images = got["images"].as_array().unwrap();
        assert_eq!(images.len(), 1);
        let image = &images[0];
        assert_eq!(image["px"], json!([w, h]));
        let paper_mm = (image["x1"].as_f64().unwrap() - image["x0"].as_f64().unwrap()) / PT_PER_MM;
        let ground_m = f64::from(w) * metres_per_device_px(zoom, lat, pixel_ratio);
        let printed_scale = ground_m * 1000.0 / paper_mm;
        assert!((printed_scale / f64::from(scale) - 1.0).abs() < 0.005, "printed at 1:{printed_scale:.1}");
        assert!(f64::from(w) / (paper_mm / 25.4) >= 199.5);

        // Drawn by poppler: the page, with the map's dark lines on it.
        let drawn = &got["drawn"];
        let aspect = drawn["width"].as_f64().unwrap() / drawn["height"].as_f64().unwrap();
        assert!((aspect - page_pt[0] / page_pt[1]).abs() < 0.01);
        assert!(drawn["inked_share"].as_f64().unwrap() > 0.02, "{drawn}");
        std::fs::create_dir_all("test-artifacts").ok();
        std::fs::write(format!("test-artifacts/print-{paper}-{orientation}.pdf"), &pdf).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_print_that_cannot_be_true_says_why_and_only_staff_print() {
    let s = TestServer::demo().await;
    let staff = s.key(Role::Staff).await;
    let public = s.get("/print/layout?paper=A4&orientation=portrait&scale=2500&lat=38.6").await;
    assert_eq!(public.status(), StatusCode::UNAUTHORIZED);
    let viewer = s.key(Role::Public).await;
    let r = s
        .call("GET", "/print/layout?paper=A4&orientation=portrait&scale=2500&lat=38.6", Some(&viewer), None, &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r =
        s.call("GET", "/print/layout?paper=A4&orientation=portrait&scale=10&lat=38.6", Some(&staff), None, &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body_json(r).await["message"].as_str().unwrap().contains("1:100 to 1:1000000"));
    let r =
        s.call("GET", "/print/layout?paper=B5&orientation=portrait&scale=2500&lat=38.6", Some(&staff), None, &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let layout = s.get_json("/print/layout?paper=A4&orientation=portrait&scale=2500&lat=38.6", Some(&staff)).await;
    let (w, h) = (layout["map_px"][0].as_u64().unwrap() as u32, layout["map_px"][1].as_u64().unwrap() as u32);
    let sheet = |zoom: f64| {
        json!({"paper": "A4", "orientation": "portrait", "scale": 2500, "lat": 38.6, "lon": 140.4,
               "zoom": zoom, "pixel_ratio": layout["pixel_ratio"], "title": "t"})
    };
    let zoom = layout["zoom"].as_f64().unwrap();
    let cases = [
        (Some(sheet(zoom + 0.2)), Some(picture(w, h)), "draw it at the layout's size and zoom"),
        (Some(sheet(zoom)), Some(picture(w / 2, h / 2)), "draw it at the layout's size and zoom"),
        (Some(sheet(zoom)), None, "no `map`"),
        (Some(sheet(zoom)), Some(b"not a picture".to_vec()), "cannot be read"),
        (Some(json!({"paper": "A4"})), Some(picture(8, 8)), "sheet:"),
    ];
    for (sheet, map, said) in cases {
        let r = print(&s, &staff, sheet.as_ref(), map.as_deref()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{said}");
        let body = body_json(r).await;
        assert!(body["message"].as_str().unwrap().contains(said), "{said}: {body}");
    }
    let r = print(&s, &viewer, Some(&sheet(zoom)), Some(&picture(w, h))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
