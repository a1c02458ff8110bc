//! A datastream's values for a chart: the last 24 hours from the raw observations; a week or
//! the snow season from the hourly aggregates (min, mean, max), which outlive the raw values.
//! With the datastream's unit, thresholds and state, so that a chart draws its level lines.

use chrono::{DateTime, Datelike, Duration, FixedOffset, TimeZone, Utc};
use serde::Serialize;

use super::model::Kind;
use super::state::{Level, Thresholds};
use super::{SensorError, Sensors};
use crate::catalog::Audience;
use crate::store::iso;
use crate::store::sensors::HourRow;

/// How far back a chart reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// The last 24 hours, every observation.
    Day,
    /// The last 7 days, hourly.
    Week,
    /// Since the snow season began (1 November, JST), hourly.
    Season,
}

/// The most raw points a day's chart holds (a reading every 10 seconds).
const MAX_POINTS: u64 = 8_640;

/// A chart's data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub datastream: i64,
    pub name: String,
    /// The unit's symbol (`m`, `cm`).
    pub unit: String,
    pub period: Period,
    pub from: String,
    pub to: String,
    /// The threshold lines, lowest first.
    #[schema(value_type = Vec<Object>)]
    pub levels: Vec<Level>,
    /// The state now (`level:n`, `missing`, `unknown`) and its name; none without thresholds.
    pub state: Option<String>,
    pub state_name_ja: Option<String>,
    /// For a day: (time, value) of every numeric observation, oldest first.
    pub points: Vec<(String, f64)>,
    /// For a week or the season: the hours.
    #[schema(value_type = Vec<Object>)]
    pub hours: Vec<HourRow>,
}

/// When the snow season that `now` falls in (or last did) began: 1 November, 00:00 JST.
pub fn season_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let jst = FixedOffset::east_opt(9 * 3600).expect("JST");
    let local = now.with_timezone(&jst);
    let year = if local.month() >= 11 { local.year() } else { local.year() - 1 };
    jst.with_ymd_and_hms(year, 11, 1, 0, 0, 0).single().expect("a valid date").with_timezone(&Utc)
}

impl Sensors {
    /// The chart of `datastream` for `period`, as of `now`, if `audience` may see it.
    pub async fn series(
        &self,
        datastream: i64,
        period: Period,
        audience: Audience,
        now: DateTime<Utc>,
    ) -> Result<Series, SensorError> {
        let reg = self.registry();
        let d = reg
            .get(Kind::Datastream, datastream)
            .filter(|d| reg.visible(Kind::Datastream, d, audience))
            .ok_or_else(|| super::not_found(format!("there is no Datastreams({datastream})")))?;
        let from = match period {
            Period::Day => now - Duration::hours(24),
            Period::Week => now - Duration::days(7),
            Period::Season => season_start(now),
        };
        let (from_s, to_s) = (iso(from), iso(now + Duration::milliseconds(1)));
        let thresholds = d.thresholds();
        let state = self.state(datastream);
        let mut series = Series {
            datastream,
            name: d.props.get("name").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
            unit: d
                .props
                .get("unitOfMeasurement")
                .and_then(|u| u.get("symbol"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned(),
            period,
            from: from_s.clone(),
            to: iso(now),
            levels: thresholds.as_ref().map(|t| t.levels.clone()).unwrap_or_default(),
            state: state.map(|s| s.as_text()),
            state_name_ja: state.zip(thresholds.as_ref()).map(|(s, t): (_, &Thresholds)| s.names(t).0),
            points: Vec::new(),
            hours: Vec::new(),
        };
        match period {
            Period::Day => series.points = self.store.chart_points(datastream, &from_s, &to_s, MAX_POINTS).await?,
            Period::Week | Period::Season => series.hours = self.store.hourly(datastream, &from_s, &to_s).await?,
        }
        Ok(series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_season_begins_on_the_first_of_november_in_japan() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(season_start(at("2026-12-04T03:00:00Z")), at("2026-10-31T15:00:00Z"));
        assert_eq!(season_start(at("2027-03-01T00:00:00Z")), at("2026-10-31T15:00:00Z"));
        // 1 November 00:30 JST is already the new season.
        assert_eq!(season_start(at("2027-10-31T15:30:00Z")), at("2027-10-31T15:00:00Z"));
    }
}
