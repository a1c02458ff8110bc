//! Automatic notices from machizu's own events, each category on or off in `[notices.auto]`
//! with its own wording:
//! - **river**: a public gauge reaching a river level (はん濫注意水位 and above by default) and
//!   falling back below it (SensorThings threshold events, [`crate::sensors::state`]);
//! - **road**: a road closure (`road_events`, kind 通行止め) published, and lifted (gone, ended,
//!   or no longer a closure);
//! - **plowed**: the plows have cleared a district — a share of its roads plowed within a run.
//!
//! Each automatic notice carries a key (`river:{datastream}`, `road:{feature}`) and a state. An
//! event whose key has a current notice updates it (a CAP Update) instead of writing another; an
//! event that changes nothing is dropped; a step within `min_interval_min` of the last is held
//! back (and applied at a later tick) unless it raises the level; at most `max_per_hour` new
//! automatic notices go out in an hour. Gauge events are read from the store after a cursor kept
//! in its metadata, so none is lost across a restart and none is acted on twice.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::model::{Category, Certainty, Draft, Severity, Source, Urgency};
use super::{NoticeError, Notices};
use crate::catalog::Audience;
use crate::config::AutoConfig;
use crate::engine::Engine;
use crate::feature::AttrValue;
use crate::sensors::Sensors;
use crate::sensors::model::Kind;
use crate::sensors::state::State;
use crate::store::Store;
use crate::store::sensors::{ObservationFilter, ObservationOrder};

/// Where the gauge-event cursor is kept.
const CURSOR_META: &str = "notices_auto_sensor_event";
/// Who the audit log names for automatic notices.
pub const ACTOR: &str = "machizu:auto";

/// An automatic notice's key and state, kept in its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Auto {
    pub key: String,
    pub state: String,
}

/// What an event asks for.
pub struct Step {
    pub auto: Auto,
    /// A step to a state of a higher [`rank`] than the current notice's is never held back.
    pub escalates: bool,
    /// Back to normal (fallen, lifted): only updates a current notice, never writes one.
    pub clears: bool,
    pub draft: Draft,
    pub source: Source,
}

/// How high a state ranks: a river level's number, else 0.
pub fn rank(state: &str) -> usize {
    state.strip_prefix("level:").and_then(|l| l.parse().ok()).unwrap_or(0)
}

/// Fills `{name}` placeholders of a template.
pub fn fill(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.to_owned(), |t, (k, v)| t.replace(&format!("{{{k}}}"), v))
}

fn jst(utc: &str) -> String {
    let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");
    chrono::DateTime::parse_from_rfc3339(utc)
        .map_or_else(|_| utc.to_owned(), |t| t.with_timezone(&jst).format("%-m/%-d %H:%M").to_string())
}

fn hours_from_now(h: u32) -> String {
    crate::store::iso(Utc::now() + chrono::Duration::hours(i64::from(h)))
}

/// The automatic notices' task.
pub struct AutoNotices {
    pub notices: Arc<Notices>,
    pub sensors: Arc<Sensors>,
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub config: AutoConfig,
}

impl AutoNotices {
    /// Runs every few seconds (and at every gauge event) while the process lives. The first
    /// start of a store sets the gauge-event cursor before it returns, so every event after it
    /// is acted on and the history before it is not, however late the task first runs.
    pub async fn start(self: Arc<Self>) -> Result<(), NoticeError> {
        if !self.config.river.enabled && !self.config.road.enabled && !self.config.plowed.enabled {
            return Ok(());
        }
        if self.config.river.enabled && self.store.meta(CURSOR_META).await?.is_none() {
            let last =
                self.sensors.events(Audience::Public, 0, u64::MAX).await.map_err(sensor)?.last().map_or(0, |e| e.id);
            self.store.set_meta(CURSOR_META, &last.to_string()).await?;
        }
        let mut events = self.sensors.subscribe_events();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    r = events.recv() => if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) { return },
                }
                if let Err(e) = self.run_once().await {
                    tracing::warn!(error = %e, "automatic notices: will retry");
                }
            }
        });
        Ok(())
    }

    /// One pass: gauge events since the cursor, then the road closures as they stand.
    pub async fn run_once(&self) -> Result<(), NoticeError> {
        if self.config.river.enabled {
            self.rivers().await?;
        }
        if self.config.road.enabled {
            self.roads().await?;
        }
        if self.config.plowed.enabled {
            for step in self.plowed() {
                self.notices.automatic(step).await?;
            }
        }
        Ok(())
    }

    /// A step for each district whose roads are plowed to the configured share within the run
    /// window (by length; a road belongs to the district holding its middle).
    fn plowed(&self) -> Vec<Step> {
        use geo::{BoundingRect, Contains, Euclidean, InteriorPoint, Length};
        let c = &self.config.plowed;
        let (Some(districts), Some(roads)) = (self.engine.layer("districts"), self.engine.layer("roads")) else {
            return Vec::new();
        };
        let catalog = self.engine.catalog();
        let text = |layer: &str, f: &crate::feature::Feature, name: &str| {
            let i = catalog.get(layer)?.attribute_index(name)?;
            match f.attributes.get(i) {
                Some(AttrValue::Text(t)) => Some(t.clone()),
                _ => None,
            }
        };
        let since = crate::store::iso(Utc::now() - chrono::Duration::hours(i64::from(c.window_h)));
        let mut steps = Vec::new();
        for d in districts.features_by_id() {
            let Some(bounds) = d.geometry.bounding_rect() else { continue };
            let (mut total, mut plowed) = (0.0, 0.0);
            for r in roads.in_box(bounds).map(|s| roads.feature(s)) {
                if !r.geometry.interior_point().is_some_and(|p| d.geometry.contains(&p)) {
                    continue;
                }
                let length = match &r.geometry {
                    geo_types::Geometry::LineString(l) => Euclidean.length(l),
                    geo_types::Geometry::MultiLineString(l) => Euclidean.length(l),
                    _ => continue,
                };
                total += length;
                if text("roads", &r, "last_plowed_at").is_some_and(|t| crate::store::normal_time(t) >= since) {
                    plowed += length;
                }
            }
            if total == 0.0 || plowed / total < c.share {
                continue;
            }
            let name = text("districts", &d, "name").unwrap_or_default();
            let values = [
                ("district", name.clone()),
                ("district_en", text("districts", &d, "name_en").unwrap_or_else(|| name.clone())),
                ("share", format!("{:.0}", plowed / total * 100.0)),
                ("time", jst(&crate::store::now())),
            ];
            steps.push(Step {
                escalates: false,
                clears: false,
                auto: Auto { key: format!("plowed:{}", d.id), state: "cleared".into() },
                source: Source::Plowed,
                draft: Draft {
                    title: fill(&c.title, &values),
                    body: fill(&c.body, &values),
                    title_en: Some(fill(&c.title_en, &values)),
                    body_en: Some(fill(&c.body_en, &values)),
                    category: Category::Snow,
                    severity: Severity::Minor,
                    urgency: Urgency::Past,
                    certainty: Certainty::Observed,
                    starts_at: None,
                    ends_at: hours_from_now(c.window_h),
                    area: serde_json::json!({ "district": name }),
                    status: None,
                },
            });
        }
        steps
    }

    async fn rivers(&self) -> Result<(), NoticeError> {
        let cursor = self.store.meta(CURSOR_META).await?.and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
        // Every crossing since the cursor, in order, so a replayed or batched hydrograph is heard.
        let events = self.sensors.events(Audience::Public, cursor, 500).await.map_err(sensor)?;
        for e in &events {
            let from = match State::parse(&e.from) {
                Some(State::Level(n)) => n,
                _ => 0,
            };
            if let Some(step) = self.river_step(e.datastream, from, &e.to, e.value, &e.at) {
                self.notices.automatic(step).await?;
            }
            self.store.set_meta(CURSOR_META, &e.id.to_string()).await?;
        }
        // Then each current river notice against its gauge as it stands: a step held back by
        // the rate limit is taken once the limit allows.
        for s in self.notices.current().await? {
            let Some(a) = &s.notice.auto else { continue };
            let Some(d) = a.key.strip_prefix("river:").and_then(|d| d.parse::<i64>().ok()) else { continue };
            let Some(State::Level(n)) = self.sensors.state(d) else { continue };
            let want = if n >= self.config.river.min_level { format!("level:{n}") } else { "fallen".to_owned() };
            if want == a.state {
                continue;
            }
            let filter = ObservationFilter { datastreams: vec![d], ..Default::default() };
            let newest = self.store.observations(&filter, ObservationOrder::PhenomenonTime, true, 1, 0).await?;
            let (value, at) =
                newest.first().map_or((None, crate::store::now()), |o| (o.result.as_f64(), o.phenomenon_time.clone()));
            if let Some(step) = self.river_step(d, rank(&a.state), &State::Level(n).as_text(), value, &at) {
                self.notices.automatic(step).await?;
            }
        }
        Ok(())
    }

    /// The notice step of a gauge going from level `from` to state `to`, if any: reaching a
    /// level says its name; falling says the name of the level left behind.
    fn river_step(&self, datastream: i64, from: usize, to: &str, value: Option<f64>, at: &str) -> Option<Step> {
        let c = &self.config.river;
        let reg = self.sensors.registry();
        let d = reg.get(Kind::Datastream, datastream)?;
        let thresholds = d.thresholds()?;
        let station = d
            .link("Thing")
            .and_then(|t| reg.get(Kind::Thing, t))
            .and_then(|t| t.props.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_owned();
        let State::Level(n) = State::parse(to)? else { return None };
        let rising = n > from;
        let reached = n >= c.min_level;
        if !rising && from < c.min_level {
            return None;
        }
        let unit =
            d.props.get("unitOfMeasurement").and_then(|u| u.get("symbol")).and_then(|s| s.as_str()).unwrap_or("");
        let (level_ja, level_en) = State::Level(if rising { n } else { from }).names(&thresholds);
        let values = [
            ("station", station),
            ("level", level_ja),
            ("level_en", level_en),
            ("value", value.map_or_else(String::new, |v| format!("{v} {unit}").trim_end().to_owned())),
            ("time", jst(at)),
        ];
        let (title, body, title_en, body_en) = if rising {
            (&c.title, &c.body, &c.title_en, &c.body_en)
        } else {
            (&c.title_fallen, &c.body_fallen, &c.title_fallen_en, &c.body_fallen_en)
        };
        let severity = match n {
            _ if !reached => Severity::Minor,
            0..=2 => Severity::Moderate,
            3 => Severity::Severe,
            _ => Severity::Extreme,
        };
        Some(Step {
            escalates: rising,
            clears: !reached,
            auto: Auto {
                key: format!("river:{datastream}"),
                state: if reached { format!("level:{n}") } else { "fallen".into() },
            },
            source: Source::Sensor,
            draft: Draft {
                title: fill(title, &values),
                body: fill(body, &values),
                title_en: Some(fill(title_en, &values)),
                body_en: Some(fill(body_en, &values)),
                category: Category::River,
                severity,
                urgency: if n >= 3 { Urgency::Immediate } else { Urgency::Expected },
                certainty: Certainty::Observed,
                starts_at: None,
                ends_at: hours_from_now(if reached { c.hours } else { 2 }),
                area: serde_json::json!({"buffer_m": c.buffer_m, "layer": "sensors", "fid": datastream}),
                status: None,
            },
        })
    }

    async fn roads(&self) -> Result<(), NoticeError> {
        let c = &self.config.road;
        let now = crate::store::now();
        let mut active = std::collections::HashMap::new();
        if let Some(layer) = self.engine.layer("road_events") {
            let def = &layer.def;
            let at = |f: &crate::feature::Feature, name: &str| match def
                .attribute_index(name)
                .and_then(|i| f.attributes.get(i))
            {
                Some(AttrValue::Text(t)) => Some(t.clone()),
                _ => None,
            };
            for f in layer.features_by_id() {
                let ends = at(&f, "ends_at");
                let ended = ends
                    .as_deref()
                    .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
                    .is_some_and(|e| e.to_utc() <= Utc::now());
                if at(&f, "kind").as_deref() == Some("通行止め") && !ended {
                    let values = [
                        ("reason", at(&f, "reason").unwrap_or_default()),
                        ("detour", at(&f, "detour").unwrap_or_else(|| "—".into())),
                        ("from", at(&f, "starts_at").as_deref().map(jst).unwrap_or_default()),
                        ("until", ends.as_deref().map(jst).unwrap_or_else(|| "未定".into())),
                    ];
                    active.insert(f.id, (values, ends));
                }
            }
        }
        // Closures published: a notice each.
        for (id, (values, ends)) in &active {
            let ends_at = ends.clone().filter(|e| e.as_str() > now.as_str()).unwrap_or_else(|| hours_from_now(24));
            let step = self.road_step(*id, "closed", values, ends_at);
            self.notices.automatic(step).await?;
        }
        // Closures lifted: the current road notices whose closure is gone.
        for s in self.notices.current().await? {
            let Some(a) = &s.notice.auto else { continue };
            let Some(id) = a.key.strip_prefix("road:").and_then(|i| i.parse::<i64>().ok()) else { continue };
            if a.state == "closed" && !active.contains_key(&id) {
                let values = [
                    ("reason", String::new()),
                    ("detour", String::new()),
                    ("from", String::new()),
                    ("until", String::new()),
                ];
                let mut step = self.road_step(id, "lifted", &values, hours_from_now(2));
                // Keep what the closure said; say it is lifted.
                step.draft.title = fill(&c.title_lifted, &[("title", s.notice.title.clone())]);
                step.draft.title_en =
                    Some(fill(&c.title_lifted_en, &[("title", s.notice.title_en.clone().unwrap_or_default())]));
                step.draft.area = s.notice.area.spec.clone();
                self.notices.automatic(step).await?;
            }
        }
        Ok(())
    }

    fn road_step(&self, id: i64, state: &str, values: &[(&str, String)], ends_at: String) -> Step {
        let c = &self.config.road;
        let lifted = state == "lifted";
        let (body, body_en) = if lifted { (&c.body_lifted, &c.body_lifted_en) } else { (&c.body, &c.body_en) };
        Step {
            escalates: false,
            clears: lifted,
            auto: Auto { key: format!("road:{id}"), state: state.to_owned() },
            source: Source::Road,
            draft: Draft {
                title: fill(&c.title, values),
                body: fill(body, values),
                title_en: Some(fill(&c.title_en, values)),
                body_en: Some(fill(body_en, values)),
                category: Category::Road,
                severity: if lifted { Severity::Minor } else { Severity::Moderate },
                urgency: Urgency::Expected,
                certainty: Certainty::Observed,
                starts_at: None,
                ends_at,
                area: serde_json::json!({"buffer_m": c.buffer_m, "layer": "road_events", "fid": id}),
                status: None,
            },
        }
    }
}

fn sensor(e: crate::sensors::SensorError) -> NoticeError {
    match e {
        crate::sensors::SensorError::Store(s) => NoticeError::Store(s),
        other => NoticeError::BadRequest(other.to_string()),
    }
}
