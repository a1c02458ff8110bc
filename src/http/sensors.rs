//! machizu's own sensor routes next to SensorThings: the changes of state of the stations'
//! datastreams (thresholds crossed, 欠測), for the maps and for other systems; and a
//! datastream's chart data (a day for everyone; a week, the season and CSV for staff). The
//! public sees public datastreams only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::auth::require;
use super::error::ErrorBody;
use super::{ApiError, AppState, Params};
use crate::auth::{Caller, Role};
use crate::sensors::model::Kind;
use crate::sensors::series::{Period, Series};
use crate::sensors::state::State as SensorState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsParams {
    /// Only events after this one (its id); 0 for all.
    #[serde(default)]
    pub after: i64,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u64>,
}

/// A change of a datastream's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventOut {
    pub id: i64,
    pub datastream: i64,
    pub datastream_name: String,
    /// `unknown`, `missing`, `level:n`.
    pub from: String,
    pub to: String,
    pub from_name_ja: String,
    pub to_name_ja: String,
    pub to_name_en: String,
    /// When it happened: the observation's time, or when the silence began (UTC).
    pub at: String,
    pub value: Option<f64>,
}

/// `GET /sensors/events`: changes of state, oldest first.
#[utoipa::path(get, path = "/sensors/events", tag = "sensors", params(EventsParams),
    responses((status = 200, body = Vec<EventOut>), (status = 400, body = ErrorBody)))]
pub async fn events(
    State(app): State<AppState>,
    caller: Caller,
    Params(p): Params<EventsParams>,
) -> Result<Json<Vec<EventOut>>, ApiError> {
    let limit = p.limit.unwrap_or(100).min(1000);
    let events = app.sensors.events(caller.widest_audience(), p.after, limit).await?;
    let reg = app.sensors.registry();
    let out = events
        .into_iter()
        .map(|e| {
            let d = reg.get(Kind::Datastream, e.datastream);
            let t = d.and_then(|d| d.thresholds()).unwrap_or_default();
            let name = |s: &str| SensorState::parse(s).map(|s| s.names(&t)).unwrap_or_default();
            let ((from_ja, _), (to_ja, to_en)) = (name(&e.from), name(&e.to));
            EventOut {
                id: e.id,
                datastream: e.datastream,
                datastream_name: d
                    .and_then(|d| d.props.get("name"))
                    .and_then(|n| n.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                from: e.from,
                to: e.to,
                from_name_ja: from_ja,
                to_name_ja: to_ja,
                to_name_en: to_en,
                at: e.at,
                value: e.value,
            }
        })
        .collect();
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SeriesParams {
    /// day (default; everyone), week or season (staff).
    pub period: Option<Period>,
    /// json (default) or csv (staff).
    pub format: Option<String>,
}

/// `GET /sensors/datastreams/{id}/series`: a chart's data with its threshold lines.
#[utoipa::path(get, path = "/sensors/datastreams/{id}/series", tag = "sensors", params(("id" = i64, Path), SeriesParams),
    responses((status = 200, body = Series), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn series(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Params(p): Params<SeriesParams>,
) -> Result<Response, ApiError> {
    let period = p.period.unwrap_or(Period::Day);
    let csv = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("format is json or csv, not {other:?}"))),
    };
    if period != Period::Day || csv {
        require(&caller, Role::Staff, "a week's or the season's chart and CSV export")?;
    }
    let series = app.sensors.series(id, period, caller.widest_audience(), chrono::Utc::now()).await?;
    if !csv {
        return Ok(Json(series).into_response());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let header =
        if series.hours.is_empty() { vec!["time", "value"] } else { vec!["hour", "count", "min", "mean", "max"] };
    w.write_record(header).map_err(|e| ApiError::Internal(e.to_string()))?;
    for (t, v) in &series.points {
        w.write_record([t.clone(), v.to_string()]).map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    for h in &series.hours {
        let row = [h.hour.clone(), h.n.to_string(), h.min.to_string(), h.mean.to_string(), h.max.to_string()];
        w.write_record(row).map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    let body = w.into_inner().map_err(|e| ApiError::Internal(e.to_string()))?;
    let name = format!(
        "attachment; filename=\"datastream-{id}-{}.csv\"",
        serde_json::to_value(period).unwrap_or_default().as_str().unwrap_or("day")
    );
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)], body)
        .into_response())
}
