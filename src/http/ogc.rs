//! OGC API – Features under `/ogc`: Part 1 (Core, GeoJSON; the API definition is OpenAPI 3.1 at `/api`), Part 2 (CRS by
//! reference), Part 3 (Filtering with CQL2 text and JSON, queryables). The documents are
//! built here; choosing features is [`crate::ogc::items`], filters [`crate::ogc::filter`].
//!
//! Every collection is a layer the caller may see, every property an attribute the caller may
//! see: a public caller gets the same service a GIS client would from a public WFS, a staff
//! key the whole of it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ErrorBody;
use super::{ApiError, AppState, BaseUrl, auth};
use crate::auth::Caller;
use crate::catalog::{AttrType, Audience, LayerDef};
use crate::crs::Epsg;
use crate::ogc::crs::{CRS84, OgcCrs};
use crate::ogc::items::{self, ItemsQuery};

const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";

/// The conformance classes machizu implements.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
];

/// The CRSs offered besides CRS84: WGS 84, Web Mercator, JGD2011 and its zone X, and the
/// store's CRS.
pub(super) fn crss(app: &AppState) -> Vec<Epsg> {
    let mut v = vec![Epsg::WGS84, Epsg::WEB_MERCATOR, Epsg(6668), Epsg::JGD2011_ZONE_X];
    if !v.contains(&app.store.crs()) {
        v.push(app.store.crs());
    }
    v
}

fn crs_uris(app: &AppState) -> Vec<String> {
    std::iter::once(CRS84.to_owned()).chain(crss(app).into_iter().map(OgcCrs::epsg_uri)).collect()
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": kind, "title": title})
}

/// `GET /ogc`: the landing page.
#[utoipa::path(get, path = "/ogc", tag = "ogc", responses((status = 200, description = "OGC API landing page")))]
pub async fn landing(State(app): State<AppState>, BaseUrl(base_url): BaseUrl) -> Json<Value> {
    let base = format!("{}/ogc", base_url);
    let city = &app.config.city;
    Json(json!({
        "title": format!("machizu — {} / {}", city.name_ja, city.name_en),
        "description": "統合型GIS: 道路・上下水道・危険家屋・地籍・除雪車 (OGC API – Features)",
        "links": [
            link(base.clone(), "self", JSON, "this document"),
            link(format!("{}/api", base_url), "service-desc", "application/vnd.oai.openapi+json;version=3.1", "the API definition"),
            link(format!("{base}/conformance"), "conformance", JSON, "conformance classes"),
            link(format!("{base}/collections"), "data", JSON, "the collections (layers)"),
        ],
    }))
}

/// `GET /ogc/conformance`.
#[utoipa::path(get, path = "/ogc/conformance", tag = "ogc", responses((status = 200, description = "conformance classes")))]
pub async fn conformance() -> Json<Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

/// `GET /ogc/collections`: the layers the caller may see.
#[utoipa::path(get, path = "/ogc/collections", tag = "ogc", responses((status = 200, description = "the collections the caller may see")))]
pub async fn collections(State(app): State<AppState>, caller: Caller, BaseUrl(base_url): BaseUrl) -> Json<Value> {
    let base = format!("{}/ogc", base_url);
    let list: Vec<Value> = app
        .engine
        .catalog()
        .layers()
        .iter()
        .filter(|l| l.visible_to(caller.audience(l)))
        .map(|l| collection_doc(&app, l, caller.audience(l), &base))
        .collect();
    Json(json!({
        "links": [link(format!("{base}/collections"), "self", JSON, "this document")],
        "collections": list,
    }))
}

/// `GET /ogc/collections/{id}`.
#[utoipa::path(get, path = "/ogc/collections/{id}", tag = "ogc", params(("id" = String, Path, description = "layer id")),
    responses((status = 200, description = "one collection"), (status = 404, body = ErrorBody)))]
pub async fn collection(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    BaseUrl(base_url): BaseUrl,
) -> Result<Json<Value>, ApiError> {
    let catalog = app.engine.catalog();
    let (layer, audience) = auth::layer(&catalog, &id, &caller)?;
    Ok(Json(collection_doc(&app, layer, audience, &format!("{}/ogc", base_url))))
}

fn collection_doc(app: &AppState, layer: &LayerDef, audience: Audience, base: &str) -> Value {
    let here = format!("{base}/collections/{}", layer.id);
    let data = app.engine.layer(layer.id.as_str());
    let bbox = data.as_ref().and_then(|d| d.bounds).unwrap_or(app.config.city.bounds);
    let mut extent = json!({"spatial": {"bbox": [bbox], "crs": CRS84}});
    if let (Some(i), Some(d)) = (items::temporal_attribute(layer, audience), &data) {
        let times = d.texts(i);
        let (min, max) = times.fold((None, None), |(lo, hi): (Option<&str>, Option<&str>), t| {
            (Some(lo.map_or(t, |l| l.min(t))), Some(hi.map_or(t, |h| h.max(t))))
        });
        extent["temporal"] =
            json!({"interval": [[min, max]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"});
    }
    json!({
        "id": layer.id,
        "title": layer.title.ja,
        "description": format!("{} / {}", layer.title.ja, layer.title.en),
        "itemType": "feature",
        "extent": extent,
        "crs": crs_uris(app),
        "storageCrs": OgcCrs::epsg_uri(app.store.crs()),
        "links": [
            link(here.clone(), "self", JSON, "this collection"),
            link(format!("{here}/items"), "items", GEOJSON, "its features"),
            link(format!("{here}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "what filters may use"),
        ],
    })
}

/// `GET /ogc/collections/{id}/queryables`: a JSON Schema of the properties the caller may
/// filter by, and the geometry.
#[utoipa::path(get, path = "/ogc/collections/{id}/queryables", tag = "ogc", params(("id" = String, Path)),
    responses((status = 200, description = "JSON Schema of the properties filters may use", content_type = "application/schema+json"), (status = 404, body = ErrorBody)))]
pub async fn queryables(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    BaseUrl(base_url): BaseUrl,
) -> Result<Response, ApiError> {
    let catalog = app.engine.catalog();
    let (layer, audience) = auth::layer(&catalog, &id, &caller)?;
    let mut properties = serde_json::Map::new();
    properties.insert(
        "geometry".into(),
        json!({"title": "ジオメトリ / Geometry", "x-ogc-role": "primary-geometry", "format": format!("geometry-{}", layer.geometry.family().replace("line", "linestring"))}),
    );
    for (_, a) in layer.visible_attributes(audience) {
        let mut p = json!({"title": format!("{} / {}", a.title.ja, a.title.en)});
        let (kind, format) = match a.kind {
            AttrType::Text => ("string", None),
            AttrType::Integer => ("integer", None),
            AttrType::Real => ("number", None),
            AttrType::Boolean => ("boolean", None),
            AttrType::Date => ("string", Some("date")),
            AttrType::DateTime => ("string", Some("date-time")),
        };
        p["type"] = json!(kind);
        if let Some(f) = format {
            p["format"] = json!(f);
        }
        if !a.values.is_empty() {
            p["enum"] = json!(a.values);
        }
        properties.insert(a.name.clone(), p);
    }
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{}/ogc/collections/{}/queryables", base_url, layer.id),
        "type": "object",
        "title": layer.title.ja,
        "properties": properties,
        "additionalProperties": false,
    });
    Ok(([(header::CONTENT_TYPE, "application/schema+json")], Json(doc)).into_response())
}

/// `GET /ogc/collections/{id}/items`.
#[utoipa::path(get, path = "/ogc/collections/{id}/items", tag = "ogc",
    params(("id" = String, Path),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "page size, default 100"),
        ("offset" = Option<u32>, Query, description = "features to skip"),
        ("bbox" = Option<String>, Query, description = "minx,miny,maxx,maxy in bbox-crs"),
        ("bbox-crs" = Option<String>, Query, description = "CRS URI of bbox (default CRS84)"),
        ("crs" = Option<String>, Query, description = "CRS URI of the response (CRS84, EPSG 4326, 3857, 6668, 6678)"),
        ("datetime" = Option<String>, Query, description = "date, time or interval start/end (.. open) on the layer's date"),
        ("filter" = Option<String>, Query, description = "CQL2 filter"),
        ("filter-lang" = Option<String>, Query, description = "cql2-text (default) or cql2-json"),
        ("filter-crs" = Option<String>, Query, description = "CRS URI of geometries in the filter (default CRS84)")),
    responses((status = 200, description = "GeoJSON FeatureCollection; any queryable property may also be given as property=value", content_type = "application/geo+json"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn items(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    BaseUrl(base_url): BaseUrl,
) -> Result<Response, ApiError> {
    let catalog = app.engine.catalog();
    let (layer, audience) = auth::layer(&catalog, &id, &caller)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("query parameters: {e}")))?;
    let store_crs = app.store.crs();
    let q = ItemsQuery::parse(&pairs, layer, audience, store_crs, &crss(&app))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let data =
        app.engine.layer(layer.id.as_str()).ok_or_else(|| ApiError::NotFound(format!("unknown layer {id:?}")))?;
    let base = format!("{}/ogc/collections/{}/items", base_url, layer.id);
    let (body, crs) = tokio::task::spawn_blocking(move || -> Result<(Value, OgcCrs), ApiError> {
        let page = items::select(&data, &q, audience);
        let mut features = Vec::with_capacity(page.features.len());
        for f in &page.features {
            let g = q.crs.output(&f.geometry, store_crs).map_err(|e| ApiError::Internal(e.to_string()))?;
            features.push(f.to_geojson(&data.def, audience, &g));
        }
        let page_link = |offset: usize, rel: &str| {
            let mut p: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "offset").cloned().collect();
            if offset > 0 {
                p.push(("offset".into(), offset.to_string()));
            }
            let query = serde_urlencoded::to_string(&p).unwrap_or_default();
            let href = if query.is_empty() { base.clone() } else { format!("{base}?{query}") };
            link(href, rel, GEOJSON, rel)
        };
        let mut links = vec![page_link(q.offset, "self")];
        if q.offset + page.features.len() < page.matched {
            links.push(page_link(q.offset + q.limit, "next"));
        }
        if q.offset > 0 {
            links.push(page_link(q.offset.saturating_sub(q.limit), "prev"));
        }
        let body = json!({
            "type": "FeatureCollection",
            "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "numberMatched": page.matched,
            "numberReturned": features.len(),
            "features": features,
            "links": links,
        });
        Ok((body, q.crs))
    })
    .await??;
    Ok(geojson_response(body, &crs, None))
}

/// `GET /ogc/collections/{id}/items/{featureId}`.
#[utoipa::path(get, path = "/ogc/collections/{id}/items/{fid}", tag = "ogc",
    params(("id" = String, Path), ("fid" = i64, Path), ("crs" = Option<String>, Query, description = "CRS URI of the response")),
    responses((status = 200, description = "GeoJSON Feature with its ETag", content_type = "application/geo+json"), (status = 404, body = ErrorBody)))]
pub async fn item(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, fid)): Path<(String, String)>,
    super::Params(p): super::Params<CrsParam>,
    BaseUrl(base_url): BaseUrl,
) -> Result<Response, ApiError> {
    let catalog = app.engine.catalog();
    let (layer, audience) = auth::layer(&catalog, &id, &caller)?;
    let crs = match &p.crs {
        Some(uri) => OgcCrs::parse(uri, &crss(&app)).map_err(|e| ApiError::BadRequest(format!("crs: {e}")))?,
        None => OgcCrs::crs84(),
    };
    let data =
        app.engine.layer(layer.id.as_str()).ok_or_else(|| ApiError::NotFound(format!("unknown layer {id:?}")))?;
    let not_found = || ApiError::NotFound(format!("no feature {fid:?} in {id}"));
    let f = fid.parse::<i64>().ok().and_then(|n| data.get(n)).ok_or_else(not_found)?;
    let g = crs.output(&f.geometry, app.store.crs()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut feature = f.to_geojson(layer, audience, &g);
    let here = format!("{}/ogc/collections/{}", base_url, layer.id);
    let links = json!([
        link(format!("{here}/items/{}", f.id), "self", GEOJSON, "this feature"),
        link(here, "collection", JSON, "its collection"),
    ]);
    feature.foreign_members = Some([("links".to_owned(), links)].into_iter().collect());
    let body = serde_json::to_value(feature).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(geojson_response(body, &crs, Some(f.etag())))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrsParam {
    crs: Option<String>,
    #[allow(dead_code)]
    f: Option<String>,
}

fn geojson_response(body: Value, crs: &OgcCrs, etag: Option<String>) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    h.insert("content-crs", HeaderValue::from_str(&format!("<{}>", crs.uri)).expect("a URI is a valid header"));
    h.insert(header::VARY, HeaderValue::from_static("authorization"));
    if let Some(tag) = etag {
        h.insert(header::ETAG, HeaderValue::from_str(&tag).expect("a hex tag is a valid header"));
    }
    (h, Json(body)).into_response()
}
