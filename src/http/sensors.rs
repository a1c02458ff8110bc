//! machizu's own sensor routes next to SensorThings: the changes of state of the stations'
//! datastreams (thresholds crossed, 欠測), for the maps and for other systems. The public sees
//! public datastreams only.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::error::ErrorBody;
use super::{ApiError, AppState, Params};
use crate::auth::{Caller, Role};
use crate::catalog::Audience;
use crate::sensors::model::Kind;
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

fn audience(caller: &Caller) -> Audience {
    if caller.role >= Role::Staff { Audience::Staff } else { Audience::Public }
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
    let events = app.sensors.events(audience(&caller), p.after, limit).await?;
    let reg = app.sensors.registry();
    let out = events
        .into_iter()
        .map(|e| {
            let d = reg.get(Kind::Datastream, e.datastream);
            let t = d
                .and_then(|d| d.thresholds())
                .unwrap_or_else(|| crate::sensors::state::Thresholds::river([0.0; 4], 0.0, 1));
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
