//! Vehicle tracking over HTTP: position reports in (`/ingest/…`), the live map out
//! (`/live/vehicles`, the SSE and WebSocket streams), playback for staff, plowed roads for
//! residents, and the vehicle registry for admins. Thin handlers over [`crate::live`].
//!
//! An ingest answers 2xx only once every fix in it is stored. Position reports carry the device
//! credential instead of an API key (stock trackers cannot send one): an unknown or revoked
//! device is a 403 and nothing is stored.

use std::convert::Infallible;

use axum::Json;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use geo_types::Point;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::error::ErrorBody;
use super::{ApiError, AppState, Params, auth};
use crate::auth::{Caller, Role};
use crate::catalog::Audience;
use crate::crs::{Epsg, with_transformer};
use crate::live::fix::Fix;
use crate::live::report;
use crate::live::vehicle::{NewVehicle, VehicleKind};
use crate::live::{FLEET, Ingested, ROADS};
use crate::ogc::write::FieldError;

/// What the caller sees of vehicles: staff if staff for the whole-fleet layer.
fn audience(app: &AppState, caller: &Caller) -> Audience {
    app.engine.catalog().get(FLEET).map_or(Audience::Public, |l| caller.audience(l))
}

/// The parameters of an OsmAnd report: the query string, and a form body if posted.
fn osmand_pairs(query: Option<&str>, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("query parameters: {e}")))?;
    if !body.is_empty() {
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|e| ApiError::BadRequest(format!("form body: {e}")))?;
        pairs.extend(form);
    }
    Ok(pairs)
}

async fn osmand(app: &AppState, query: Option<&str>, body: &[u8]) -> Result<StatusCode, ApiError> {
    let fix = Fix::from_osmand(&osmand_pairs(query, body)?)?;
    app.live.ingest(vec![fix]).await?;
    Ok(StatusCode::OK)
}

/// `GET /ingest/osmand?id=…&lat=…&lon=…&timestamp=…&speed=…`: the OsmAnd / Traccar Client
/// HTTP protocol (speed in knots). Also served at `/` by the `--osmand-listen` listener.
#[utoipa::path(get, path = "/ingest/osmand", tag = "live",
    responses((status = 200, description = "stored"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn osmand_get(State(app): State<AppState>, uri: axum::http::Uri) -> Result<StatusCode, ApiError> {
    osmand(&app, uri.query(), &[]).await
}

/// `POST /ingest/osmand`: the same, with parameters in the query string or a form body.
#[utoipa::path(post, path = "/ingest/osmand", tag = "live",
    responses((status = 200, description = "stored"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn osmand_post(
    State(app): State<AppState>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    osmand(&app, uri.query(), &body).await
}

fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))
}

/// `POST /ingest/traccar`: Traccar Client's JSON (`device_id`, `location { timestamp, coords
/// { latitude, longitude, speed (m/s), heading, accuracy, altitude }, battery, extras }`), one
/// report or an array of them.
#[utoipa::path(post, path = "/ingest/traccar", tag = "live",
    responses((status = 200, description = "stored", body = Ingested), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn traccar(State(app): State<AppState>, body: Bytes) -> Result<Json<Ingested>, ApiError> {
    let fixes = match json_body(&body)? {
        Value::Array(items) => items.iter().map(Fix::from_traccar).collect::<Result<_, _>>()?,
        one => vec![Fix::from_traccar(&one)?],
    };
    Ok(Json(app.live.ingest(fixes).await?))
}

/// `POST /ingest/batch`: `{"fixes": [{device, time, lat, lon, speed_mps, heading_deg, …}]}`,
/// stored all or none: every unreadable fix is listed in a 422, and nothing is stored.
#[utoipa::path(post, path = "/ingest/batch", tag = "live",
    responses((status = 200, description = "stored", body = Ingested), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn batch(State(app): State<AppState>, body: Bytes) -> Result<Json<Ingested>, ApiError> {
    let v = json_body(&body)?;
    let items = v["fixes"].as_array().ok_or_else(|| ApiError::BadRequest("the body needs a \"fixes\" array".into()))?;
    let (mut fixes, mut errors) = (Vec::with_capacity(items.len()), Vec::new());
    for (i, item) in items.iter().enumerate() {
        match Fix::from_batch(item) {
            Ok(f) => fixes.push(f),
            Err(e) => errors.push(FieldError { path: format!("fixes[{i}]"), message: e.to_string() }),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(Json(app.live.ingest(fixes).await?))
}

/// `GET /live/vehicles`: every vehicle on the live map now (GeoJSON, with `age_s`). The public
/// see vehicles marked public, with their label and kind only.
#[utoipa::path(get, path = "/live/vehicles", tag = "live",
    responses((status = 200, description = "GeoJSON FeatureCollection of vehicle positions")))]
pub async fn vehicles(State(app): State<AppState>, caller: Caller) -> Json<Value> {
    Json(app.live.snapshot(audience(&app, &caller)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrailsParams {
    /// A vehicle id [default: every vehicle].
    vehicle: Option<String>,
    /// How many hours back [default and most: the configured trail hours, 12].
    hours: Option<u32>,
}

/// `GET /live/trails[?vehicle][&hours]`: where vehicles went, as GeoJSON LineStrings in
/// ten-minute pieces, each with `started_at`, `ended_at`, `age_min` (for fading) and `plowing`.
/// The public see public vehicles only.
#[utoipa::path(get, path = "/live/trails", tag = "live", params(TrailsParams),
    responses((status = 200, description = "GeoJSON FeatureCollection of trail pieces"), (status = 400, body = ErrorBody)))]
pub async fn trails(State(app): State<AppState>, caller: Caller, Params(p): Params<TrailsParams>) -> Json<Value> {
    Json(app.live.trails_json(audience(&app, &caller), p.vehicle.as_deref(), p.hours))
}

/// `GET /live/stream`: Server-Sent Events. First a `snapshot` event (as `/live/vehicles`), then
/// a `vehicles` event whenever vehicles move: a FeatureCollection of the moved vehicles, with
/// `removed` listing ids that left the map.
#[utoipa::path(get, path = "/live/stream", tag = "live",
    responses((status = 200, description = "text/event-stream of snapshot and vehicles events")))]
pub async fn stream(State(app): State<AppState>, caller: Caller) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let audience = audience(&app, &caller);
    let first = Event::default().event("snapshot").data(app.live.snapshot(audience).to_string());
    let rx = app.live.subscribe();
    // Counted as a client for as long as the stream (and so its state) lives.
    let client = crate::metrics::global().stream_client("sse");
    let state = (Some(first), rx, app, client);
    let events = futures_util::stream::unfold(state, move |(first, mut rx, app, client)| async move {
        if let Some(first) = first {
            return Some((Ok(first), (None, rx, app, client)));
        }
        loop {
            let event = match rx.recv().await {
                Ok(frame) => match frame.for_audience(audience) {
                    Some(data) => Event::default().event("vehicles").data(&**data),
                    None => continue,
                },
                // Too slow to keep up: start again from the present.
                Err(RecvError::Lagged(_)) => {
                    Event::default().event("snapshot").data(app.live.snapshot(audience).to_string())
                }
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (None, rx, app, client)));
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// `GET /live/ws`: the same as `/live/stream` over a WebSocket: the snapshot, then each frame,
/// one text message each.
#[utoipa::path(get, path = "/live/ws", tag = "live",
    responses((status = 101, description = "WebSocket of GeoJSON FeatureCollections")))]
pub async fn ws(State(app): State<AppState>, caller: Caller, upgrade: WebSocketUpgrade) -> Response {
    let audience = audience(&app, &caller);
    upgrade.on_upgrade(move |socket| ws_session(app, audience, socket))
}

async fn ws_session(app: AppState, audience: Audience, mut socket: WebSocket) {
    let _client = crate::metrics::global().stream_client("websocket");
    let mut rx = app.live.subscribe();
    let text = |s: String| Message::Text(s.into());
    if socket.send(text(app.live.snapshot(audience).to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let message = match frame {
                    Ok(frame) => match frame.for_audience(audience) {
                        Some(data) => text(data.to_string()),
                        None => continue,
                    },
                    Err(RecvError::Lagged(_)) => text(app.live.snapshot(audience).to_string()),
                    Err(RecvError::Closed) => return,
                };
                if socket.send(message).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Checks that the caller sees the whole fleet (a staff key whose scope covers it).
fn staff_only(app: &AppState, caller: &Caller, what: &str) -> Result<(), ApiError> {
    if audience(app, caller) == Audience::Staff {
        return Ok(());
    }
    auth::require(caller, Role::Staff, what)?;
    Err(ApiError::Forbidden(format!("this key may not see the fleet ({what})")))
}

/// A time parameter (ISO 8601 or Unix seconds/milliseconds) as the stores write times.
fn time(name: &str, t: &str) -> Result<String, ApiError> {
    crate::live::fix::parse_time(t).map(crate::live::iso).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FixesParams {
    /// A vehicle id [default: every vehicle].
    vehicle: Option<String>,
    /// From this time (ISO 8601 or Unix seconds), inclusive.
    from: String,
    /// To this time, exclusive.
    to: String,
    /// At most this many [default 1,000; most 10,000].
    limit: Option<u32>,
    offset: Option<u64>,
}

/// `GET /live/fixes?vehicle&from&to[&limit][&offset]`: playback, every stored fix of a vehicle
/// (or of all) between two times in time order, paged (staff).
#[utoipa::path(get, path = "/live/fixes", tag = "live", security(("api_key" = [])), params(FixesParams),
    responses((status = 200, description = "fixes in time order, with next when there are more"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn fixes(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<FixesParams>,
) -> Result<Json<Value>, ApiError> {
    staff_only(&app, &caller, "playback")?;
    let (from, to) = (time("from", &p.from)?, time("to", &p.to)?);
    let limit = p.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and 10000, got {limit}")));
    }
    let offset = p.offset.unwrap_or(0);
    // One more than asked tells whether there is a next page.
    let mut rows = app.live.store().fixes(p.vehicle.as_deref(), &from, &to, limit + 1, offset).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut out = json!({"fixes": rows, "offset": offset});
    if more {
        out["next_offset"] = json!(offset + u64::from(limit));
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// The day, `YYYY-MM-DD` (Japan Standard Time).
    date: String,
    /// `json` [default] or `csv`.
    format: Option<String>,
}

/// The most fixes a report or an export reads.
const MAX_EXPORT: usize = 5_000_000;

/// `GET /live/report?date=YYYY-MM-DD[&format=csv]`: the daily work report (日報) per vehicle:
/// distance driven, distance with the blade down, roads covered (km), operating hours (staff).
#[utoipa::path(get, path = "/live/report", tag = "live", security(("api_key" = [])), params(ReportParams),
    responses((status = 200, description = "one entry per vehicle that reported that day (JSON, or CSV for spreadsheets)"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn report(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<ReportParams>,
) -> Result<Response, ApiError> {
    use geo::{Euclidean, Length};
    staff_only(&app, &caller, "the daily report")?;
    let day = chrono::NaiveDate::parse_from_str(&p.date, "%Y-%m-%d")
        .map_err(|_| ApiError::BadRequest(format!("date must be YYYY-MM-DD, got {:?}", p.date)))?;
    let csv = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("format must be json or csv, got {other:?}"))),
    };
    let (from, to) = report::day_bounds(day);
    let fixes = app.live.fixes_between(None, &crate::live::iso(from), &crate::live::iso(to), MAX_EXPORT).await?;
    let vehicles = app.store.vehicles().await?.into_iter().map(|v| (v.id.clone(), v)).collect();
    let roads = app.engine.layer(ROADS);
    let length = |id| match roads.as_ref().and_then(|r| r.get(id)).map(|f| f.geometry) {
        Some(geo_types::Geometry::LineString(l)) => Euclidean.length(&l),
        Some(geo_types::Geometry::MultiLineString(m)) => Euclidean.length(&m),
        _ => 0.0,
    };
    let days = report::daily(&fixes, &vehicles, length);
    if csv {
        let name = format!("attachment; filename=\"snow-report-{day}.csv\"");
        let headers =
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)];
        return Ok((headers, report::daily_csv(&days)).into_response());
    }
    Ok(Json(json!({"date": day.to_string(), "timezone": "+09:00", "vehicles": days})).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// A vehicle id [default: every vehicle].
    vehicle: Option<String>,
    /// From this time (ISO 8601 or Unix seconds), inclusive.
    from: String,
    /// To this time, exclusive.
    to: String,
}

/// `GET /live/export.gpx?vehicle&from&to`: positions as GPX 1.1, a track per vehicle (staff).
#[utoipa::path(get, path = "/live/export.gpx", tag = "live", security(("api_key" = [])), params(ExportParams),
    responses((status = 200, description = "GPX 1.1", content_type = "application/gpx+xml"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn gpx(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<ExportParams>,
) -> Result<Response, ApiError> {
    staff_only(&app, &caller, "GPX export")?;
    let (from, to) = (time("from", &p.from)?, time("to", &p.to)?);
    let fixes = app.live.fixes_between(p.vehicle.as_deref(), &from, &to, MAX_EXPORT).await?;
    let names = app.store.vehicles().await?.into_iter().map(|v| (v.id, v.name)).collect();
    Ok(([(header::CONTENT_TYPE, "application/gpx+xml")], report::gpx(&fixes, &names)).into_response())
}

/// `GET /live/gtfs-rt`: the latest positions as a GTFS-Realtime feed of VehiclePosition
/// entities (protobuf). The public get public vehicles, by number and label.
#[utoipa::path(get, path = "/live/gtfs-rt", tag = "live",
    responses((status = 200, description = "a GTFS-Realtime FeedMessage", content_type = "application/x-protobuf")))]
pub async fn gtfs_rt(State(app): State<AppState>, caller: Caller) -> Response {
    let latest = app.live.latest(audience(&app, &caller));
    let positions: Vec<(String, String, &crate::store::FixRow)> =
        latest.iter().map(|(id, label, f)| (id.clone(), label.clone(), f)).collect();
    let body = report::gtfs_rt(&positions, chrono::Utc::now());
    ([(header::CONTENT_TYPE, "application/x-protobuf")], body).into_response()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlowedParams {
    lon: f64,
    lat: f64,
}

/// How far from the point asked about `/query/plowed` looks for the road.
pub const PLOWED_RADIUS_M: f64 = 100.0;

/// `GET /query/plowed?lon&lat`: the road nearest to a point (within 100 m) and when it was
/// last plowed, with its plowed-status class, age in minutes and the answer in words
/// (`said.ja`, `said.en`: 「今朝 5:40 に除雪済み」).
#[utoipa::path(get, path = "/query/plowed", tag = "query", params(PlowedParams),
    responses((status = 200, description = "the road and when it was last plowed"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn plowed(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<PlowedParams>,
) -> Result<Json<Value>, ApiError> {
    let catalog = app.engine.catalog();
    let (layer, audience) = auth::layer(&catalog, ROADS, &caller)?;
    let data = app.engine.layer(ROADS).ok_or_else(|| ApiError::NotFound("no roads are loaded".into()))?;
    let (x, y) = with_transformer(Epsg::WGS84, app.store.crs(), |t| t.point(p.lon, p.lat))
        .and_then(|r| r)
        .map_err(|e| ApiError::BadRequest(format!("lon/lat: {e}")))?;
    let hit = crate::query::nearest(&data, Point::new(x, y), 1, PLOWED_RADIUS_M)
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("no road within {PLOWED_RADIUS_M} m of {}, {}", p.lon, p.lat)))?;
    let f = hit.feature;
    let mut g = f.geometry.clone();
    with_transformer(app.store.crs(), Epsg::WGS84, |t| t.geometry(&mut g))
        .and_then(|r| r)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let text =
        |name: &str| layer.attribute_index(name).and_then(|i| f.attributes[i].to_json().as_str().map(str::to_owned));
    let last = text("last_plowed_at");
    let now = chrono::Utc::now();
    let last_at = last
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let age_min = last_at.map(|t| (now - t).num_minutes());
    let (ja, en) = crate::live::plowed_words(last_at, now);
    Ok(Json(json!({
        "said": {"ja": ja, "en": en},
        "road": f.to_geojson(layer, audience, &g),
        "distance_m": (hit.distance_m * 10.0).round() / 10.0,
        "last_plowed_at": last,
        "plowed_class": text("plowed_class"),
        "age_min": age_min,
    })))
}

/// `GET /admin/vehicles`: the vehicle registry, revoked vehicles too (admin).
#[utoipa::path(get, path = "/admin/vehicles", tag = "live", security(("api_key" = [])),
    responses((status = 200, description = "every registered vehicle"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn list_vehicles(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    auth::require(&caller, Role::Admin, "the vehicle registry")?;
    Ok(Json(json!({ "vehicles": app.store.vehicles().await? })))
}

/// A vehicle to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVehicleBody {
    id: String,
    name: String,
    kind: VehicleKind,
    operator: Option<String>,
    /// What residents see [default: the name].
    label: Option<String>,
    /// Whether residents see the vehicle [default: true].
    public: Option<bool>,
}

/// `POST /admin/vehicles`: registers a vehicle; the answer holds its device credential, shown
/// this once (admin).
#[utoipa::path(post, path = "/admin/vehicles", tag = "live", security(("api_key" = [])), request_body = NewVehicleBody,
    responses((status = 201, description = "the vehicle and its device credential"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn add_vehicle(State(app): State<AppState>, caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    auth::require(&caller, Role::Admin, "the vehicle registry")?;
    let b: NewVehicleBody =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the body: {e}")))?;
    let new = NewVehicle::generate(&b.id, &b.name, b.kind, b.operator, b.label, b.public.unwrap_or(true))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if app.store.vehicles().await?.iter().any(|v| v.id == b.id) {
        return Err(ApiError::BadRequest(format!("vehicle {} is already registered", b.id)));
    }
    let vehicle = app.live.add_vehicle(&new).await?;
    Ok((StatusCode::CREATED, Json(json!({ "vehicle": vehicle, "device_credential": new.credential }))).into_response())
}

/// `DELETE /admin/vehicles/{id}`: revokes a vehicle's device; its reports are refused from now
/// on and it leaves the live map (admin).
#[utoipa::path(delete, path = "/admin/vehicles/{id}", tag = "live", security(("api_key" = [])),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_vehicle(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth::require(&caller, Role::Admin, "the vehicle registry")?;
    if app.live.revoke_vehicle(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no vehicle {id} to revoke (unknown, or revoked before)")))
    }
}

/// The router of the dedicated tracker listener (`--osmand-listen`): what stock clients send to
/// a server's root — the OsmAnd protocol (query or form), or Traccar Client's JSON.
pub fn osmand_router(app: AppState) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/", get(osmand_get).post(root_post))
        .layer(axum::extract::DefaultBodyLimit::max(super::error::BODY_LIMIT))
        .layer(axum::middleware::from_fn(super::error::json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(app)
}

async fn root_post(
    State(app): State<AppState>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        Ok(traccar(State(app), body).await?.into_response())
    } else {
        Ok(osmand(&app, uri.query(), &body).await?.into_response())
    }
}
