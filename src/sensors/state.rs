//! A datastream's state: which threshold its newest value has reached, or 欠測 (no data) when
//! its device fell silent; and the events that changes of state make.
//!
//! Thresholds are ordered from lowest to highest. A value reaches a level when it is at or
//! above it; it leaves the level only when it falls below the level minus the hysteresis, so a
//! value hovering at a threshold does not flap. For river gauges the levels are Japan's named
//! ones ([`RIVER_LEVELS`]). The state follows the newest phenomenon time: an observation that
//! arrives late (older than the newest one) is kept by the store but changes no state. A
//! datastream whose newest observation is older than its expected interval is 欠測, never its
//! last value; the next observation ends it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A named level of a datastream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    pub value: f64,
    pub name_ja: String,
    pub name_en: String,
}

/// Japan's named river water levels (国土交通省), lowest first: the names only; each gauge has
/// its own values.
pub const RIVER_LEVELS: [(&str, &str); 4] = [
    ("水防団待機水位", "flood-fighting standby level"),
    ("はん濫注意水位", "flood caution level"),
    ("避難判断水位", "evacuation decision level"),
    ("はん濫危険水位", "flood danger level"),
];

/// A datastream's thresholds (the default: no levels, for naming states alone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Lowest first.
    pub levels: Vec<Level>,
    /// How far below a level a value must fall to leave it (the unit of the datastream).
    pub hysteresis: f64,
    /// A datastream silent for longer than this is 欠測.
    pub expected_interval_s: u32,
}

impl Thresholds {
    /// River gauge thresholds at `values` (lowest first) with Japan's level names.
    pub fn river(values: [f64; 4], hysteresis: f64, expected_interval_s: u32) -> Self {
        let levels = RIVER_LEVELS
            .iter()
            .zip(values)
            .map(|(&(ja, en), value)| Level { value, name_ja: ja.into(), name_en: en.into() })
            .collect();
        Self { levels, hysteresis, expected_interval_s }
    }
}

/// Where a datastream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "level")]
pub enum State {
    /// No observation yet.
    Unknown,
    /// At level n: 0 below every threshold, n ≥ 1 at or above the n-th (1-based).
    Level(usize),
    /// 欠測: the device fell silent.
    Missing,
}

impl State {
    /// As stored: `unknown`, `missing`, `level:n`.
    pub fn as_text(self) -> String {
        match self {
            State::Unknown => "unknown".into(),
            State::Missing => "missing".into(),
            State::Level(n) => format!("level:{n}"),
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        match text {
            "unknown" => Some(State::Unknown),
            "missing" => Some(State::Missing),
            _ => text.strip_prefix("level:")?.parse().ok().map(State::Level),
        }
    }

    /// Its name for people, in Japanese and English: the level's, 平常 below every level.
    pub fn names(self, t: &Thresholds) -> (String, String) {
        match self {
            State::Unknown => ("不明".into(), "unknown".into()),
            State::Missing => ("欠測".into(), "no data".into()),
            State::Level(0) => ("平常".into(), "normal".into()),
            State::Level(n) => t.levels.get(n - 1).map_or_else(
                || (format!("レベル{n}"), format!("level {n}")),
                |l| (l.name_ja.clone(), l.name_en.clone()),
            ),
        }
    }
}

impl Thresholds {
    /// A datastream's thresholds from its `properties.thresholds`, checked: levels rising,
    /// hysteresis not negative, an expected interval.
    pub fn from_properties(properties: &serde_json::Value) -> Option<Result<Thresholds, String>> {
        let v = properties.get("thresholds")?;
        let t: Thresholds = match serde_json::from_value(v.clone()) {
            Ok(t) => t,
            Err(e) => {
                return Some(Err(format!(
                    "properties.thresholds: {e} (levels [{{value, name_ja, name_en}}], hysteresis, expected_interval_s)"
                )));
            }
        };
        if !t.levels.windows(2).all(|w| w[0].value < w[1].value) {
            return Some(Err("properties.thresholds: the levels must rise, lowest first".into()));
        }
        if t.hysteresis < 0.0 || !t.hysteresis.is_finite() || t.expected_interval_s == 0 {
            return Some(Err("properties.thresholds: hysteresis is 0 or more, expected_interval_s more than 0".into()));
        }
        Some(Ok(t))
    }
}

/// A change of state.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub from: State,
    pub to: State,
    /// The phenomenon time of the observation that made it, or when the silence was noticed.
    pub at: DateTime<Utc>,
    /// The value that made it (none for 欠測).
    pub value: Option<f64>,
}

/// A datastream's state as its observations arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracker {
    pub state: State,
    /// The newest observation: phenomenon time and value.
    pub newest: Option<(DateTime<Utc>, f64)>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self { state: State::Unknown, newest: None }
    }
}

impl Tracker {
    /// Takes an observation; returns the change of state it makes, if any.
    pub fn observe(&mut self, t: &Thresholds, at: DateTime<Utc>, value: f64) -> Option<Event> {
        if self.newest.is_some_and(|(newest, _)| at <= newest) {
            return None; // late: kept, but the newer value stands
        }
        self.newest = Some((at, value));
        let current = match self.state {
            State::Level(n) => n,
            State::Unknown | State::Missing => 0,
        };
        // Up to the highest level reached; down only past a level's hysteresis band.
        let reached = t.levels.iter().take_while(|l| value >= l.value).count();
        let kept = t.levels.iter().take(current).take_while(|l| value >= l.value - t.hysteresis).count();
        let level = if matches!(self.state, State::Level(_)) { reached.max(kept) } else { reached };
        self.change(State::Level(level), at, Some(value))
    }

    /// Notices silence: 欠測 once the newest observation is older than the expected interval.
    pub fn check(&mut self, t: &Thresholds, now: DateTime<Utc>) -> Option<Event> {
        let (newest, _) = self.newest?;
        let due = newest + Duration::seconds(i64::from(t.expected_interval_s));
        (now > due).then(|| self.change(State::Missing, due, None)).flatten()
    }

    fn change(&mut self, to: State, at: DateTime<Utc>, value: Option<f64>) -> Option<Event> {
        let from = std::mem::replace(&mut self.state, to);
        (from != to).then_some(Event { from, to, at, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000, 0).unwrap() + Duration::minutes(m)
    }

    /// A flood wave: levels (m) every 10 minutes rising from 1.0 to 4.6 and falling back, with
    /// a wobble of ±0.03 m at every step (a gauge's noise).
    fn hydrograph() -> Vec<f64> {
        let mut out = Vec::new();
        for i in 0..=72 {
            let x = f64::from(i) / 72.0 * std::f64::consts::PI;
            let wobble = if i % 2 == 0 { 0.03 } else { -0.03 };
            out.push(1.0 + 3.6 * x.sin() + wobble);
        }
        out
    }

    #[test]
    fn a_flood_wave_crosses_each_level_up_then_down_in_order() {
        let t = Thresholds::river([2.0, 2.5, 3.2, 4.0], 0.1, 1800);
        let mut g = Tracker::default();
        let events: Vec<Event> =
            hydrograph().into_iter().enumerate().filter_map(|(i, v)| g.observe(&t, minute(i as i64 * 10), v)).collect();
        let path: Vec<State> = events.iter().map(|e| e.to).collect();
        let up_down = [0, 1, 2, 3, 4, 3, 2, 1, 0].map(State::Level);
        assert_eq!(path, up_down, "{events:#?}");
        // Each event's value is on the right side of its level.
        for e in &events[1..] {
            let (State::Level(from), State::Level(to), Some(v)) = (e.from, e.to, e.value) else { panic!() };
            if to > from {
                assert!(v >= t.levels[to - 1].value);
            } else {
                assert!(v < t.levels[from - 1].value - t.hysteresis);
            }
        }
        assert!(events.windows(2).all(|w| w[0].at < w[1].at));
    }

    #[test]
    fn hysteresis_stops_flapping_at_a_threshold() {
        let t = Thresholds::river([2.0, 2.5, 3.2, 4.0], 0.1, 1800);
        let mut g = Tracker::default();
        let values = [1.9, 2.01, 1.97, 2.02, 1.95, 2.0, 1.92, 1.89, 2.0];
        let events: Vec<State> =
            values.iter().enumerate().filter_map(|(i, &v)| g.observe(&t, minute(i as i64), v)).map(|e| e.to).collect();
        // In at 2.01, out only at 1.89 (below 2.0 − 0.1), in again at 2.0.
        assert_eq!(events, [0, 1, 0, 1].map(State::Level));
        // Without hysteresis the same values flap at every crossing: 7 changes after the first.
        let t0 = Thresholds { hysteresis: 0.0, ..t };
        let mut g = Tracker::default();
        let flaps = values.iter().enumerate().filter_map(|(i, &v)| g.observe(&t0, minute(i as i64), v)).count();
        assert_eq!(flaps, 8);
    }

    #[test]
    fn a_silent_gauge_is_missing_from_its_expected_interval_and_late_values_change_nothing() {
        let t = Thresholds::river([2.0, 2.5, 3.2, 4.0], 0.1, 600);
        let mut g = Tracker::default();
        assert_eq!(g.check(&t, minute(100)), None, "no data yet is not 欠測 of anything");
        g.observe(&t, minute(0), 2.6);
        assert_eq!(g.state, State::Level(2));
        assert_eq!(g.check(&t, minute(10)), None, "exactly on time");
        let e = g.check(&t, minute(11)).expect("silent past 10 minutes");
        assert_eq!((e.from, e.to, e.at, e.value), (State::Level(2), State::Missing, minute(10), None));
        assert_eq!(g.check(&t, minute(12)), None, "once");
        // An observation older than the newest arrives late: kept elsewhere, no state change.
        assert_eq!(g.observe(&t, minute(-5), 4.5), None);
        assert_eq!(g.state, State::Missing);
        // The next one ends 欠測 at its own level.
        let e = g.observe(&t, minute(13), 2.3).unwrap();
        assert_eq!((e.from, e.to), (State::Missing, State::Level(1)));
    }
}
