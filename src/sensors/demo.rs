//! Simulated stations for the synthetic demo city: two river gauges, a snow-ditch (流雪溝)
//! gauge, a snow-depth sensor and a river camera, all labelled synthetic (【架空】, デモ), so
//! that a newcomer sees readings, threshold states, charts and a camera image at once. They
//! run only over the demo city, as the demo plows do, and post through [`Sensors`] like real
//! devices: a reading a minute, an image every five minutes, and on first start the last day
//! of readings so the charts are not empty.
//!
//! The river levels follow a slow synthetic hydrograph (a six-hour rise and fall) that crosses
//! the lower named levels, so the maps show states changing.

use std::f64::consts::TAU;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use serde_json::{Value, json};

use super::model::Kind;
use super::read::Ctx;
use super::request::Step;
use super::{SensorError, Sensors};
use crate::catalog::Audience;

/// How often a simulated station reports.
pub const REPORT_EVERY: Duration = Duration::from_secs(60);
/// Every how many reports the camera sends an image.
const IMAGE_EVERY: u64 = 5;

/// A simulated station: where (metres east and north of the city centre) and what it measures.
struct Station {
    name: &'static str,
    east_m: f64,
    north_m: f64,
    unit: &'static str,
    observed: &'static str,
    /// River levels (m) with Japan's names, or none.
    levels: Option<[f64; 4]>,
    /// Staff only (a station the public does not see).
    staff_only: bool,
    value: fn(DateTime<Utc>) -> f64,
}

fn hours(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 / 3600.0
}

/// A river level in metres: a six-hour rise and fall between `low` and `high`, with ripples.
fn river(t: DateTime<Utc>, low: f64, high: f64, phase: f64) -> f64 {
    let h = hours(t) + phase;
    let wave = 0.5 - 0.5 * (TAU * h / 6.0).cos();
    let ripple = 0.02 * (TAU * h * 7.0).sin();
    ((low + (high - low) * wave + ripple) * 100.0).round() / 100.0
}

static STATIONS: [Station; 4] = [
    Station {
        name: "【架空】丹生川 水位観測所（デモ）",
        east_m: 900.0,
        north_m: 350.0,
        unit: "m",
        observed: "水位",
        levels: Some([1.0, 1.5, 2.0, 2.5]),
        staff_only: false,
        value: |t| river(t, 0.7, 1.75, 0.0),
    },
    Station {
        name: "【架空】銀山川 水位観測所（デモ）",
        east_m: 2600.0,
        north_m: -1800.0,
        unit: "m",
        observed: "水位",
        levels: Some([0.8, 1.2, 1.6, 2.0]),
        staff_only: false,
        value: |t| river(t, 0.5, 1.0, 2.0),
    },
    Station {
        name: "【架空】中央 流雪溝 水位計（デモ）",
        east_m: -150.0,
        north_m: 120.0,
        unit: "cm",
        observed: "流雪溝水位",
        levels: None,
        staff_only: true,
        value: |t| ((18.0 + 10.0 * (TAU * hours(t) / 2.0).sin()) * 10.0).round() / 10.0,
    },
    Station {
        name: "【架空】市役所 積雪深計（デモ）",
        east_m: 60.0,
        north_m: -40.0,
        unit: "cm",
        observed: "積雪深",
        levels: None,
        staff_only: false,
        value: |t| ((95.0 + 8.0 * (TAU * hours(t) / 24.0).sin()) * 10.0).round() / 10.0,
    },
];

/// The camera looks at the first river gauge's stretch.
const CAMERA: &str = "【架空】丹生川 河川監視カメラ（デモ）";

/// A synthetic camera frame (JPEG): sky, snowy banks and the river at `level_m` (0–3 m), lit
/// by the hour of day (JST). A diagonal-striped band across the top marks it as not a photo.
pub fn camera_frame(level_m: f64, at: DateTime<Utc>) -> Vec<u8> {
    const W: usize = 320;
    const H: usize = 240;
    let jst_hour = (at.timestamp().rem_euclid(86_400) as f64 / 3600.0 + 9.0) % 24.0;
    let light = (0.35 + 0.65 * (TAU * (jst_hour - 6.0) / 24.0).sin().max(0.0)).clamp(0.35, 1.0);
    let water_top = (H as f64 * (0.92 - 0.22 * level_m.clamp(0.0, 3.0) / 3.0)) as usize;
    let mut rgb = Vec::with_capacity(W * H * 3);
    for y in 0..H {
        for x in 0..W {
            let (r, g, b) = if y < 14 {
                if (x + y) / 8 % 2 == 0 { (230.0, 190.0, 0.0) } else { (30.0, 30.0, 30.0) }
            } else if y < 90 {
                let s = y as f64 / 90.0;
                (120.0 + 80.0 * s, 150.0 + 70.0 * s, 200.0 + 40.0 * s)
            } else if y < water_top {
                // Snow-covered banks sloping to the water.
                let shade = ((x as f64 * 0.07).sin() * 12.0) + 235.0;
                (shade, shade, shade + 8.0)
            } else {
                let wave = ((x as f64 * 0.2 + at.timestamp() as f64 * 0.5).sin() * 10.0) + 95.0;
                (60.0, wave, 120.0 + wave * 0.3)
            };
            rgb.extend([r, g, b].map(|c| (c * light).clamp(0.0, 255.0) as u8));
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&rgb, W as u16, H as u16, jpeg_encoder::ColorType::Rgb)
        .expect("encoding into memory");
    out
}

/// Longitude and latitude `east_m`/`north_m` metres from `centre`.
fn offset(centre: [f64; 2], east_m: f64, north_m: f64) -> [f64; 2] {
    let lat = north_m / 111_320.0;
    let lon = east_m / (111_320.0 * centre[1].to_radians().cos());
    [centre[0] + lon, centre[1] + lat]
}

fn thing(name: &str, at: [f64; 2], properties: Value, datastreams: Vec<Value>) -> Value {
    json!({
        "name": name,
        "description": "デモ用の架空の観測所（合成データ）/ A synthetic demo station, not a real one",
        "properties": properties,
        "Locations": [{"name": name, "description": "架空 / synthetic", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": at}}],
        "Datastreams": datastreams,
    })
}

fn datastream(s: &Station) -> Value {
    let thresholds = match s.levels {
        Some(values) => super::state::Thresholds::river(values, 0.05, 600),
        None => super::state::Thresholds { expected_interval_s: 600, ..Default::default() },
    };
    json!({
        "name": format!("{} {}", s.name, s.observed),
        "description": format!("{}（合成データ / synthetic）", s.observed),
        "unitOfMeasurement": {"name": s.unit, "symbol": s.unit, "definition": ""},
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "properties": {"thresholds": thresholds, "staffOnly": s.staff_only, "synthetic": true},
        "Sensor": {"name": format!("{} センサー", s.name), "description": "架空 / synthetic",
                   "encodingType": "text/plain", "metadata": "synthetic"},
        "ObservedProperty": {"name": s.observed, "definition": "", "description": s.observed},
    })
}

/// The id of the Thing named `name`, creating it from `body` if there is none.
async fn ensure(sensors: &Sensors, name: &str, body: impl FnOnce() -> Value) -> Result<i64, SensorError> {
    let find = || sensors.registry().all(Kind::Thing).find(|t| t.props.get("name") == Some(&json!(name))).map(|t| t.id);
    if let Some(id) = find() {
        return Ok(id);
    }
    let ctx = Ctx { base: String::new(), audience: Audience::Staff };
    sensors.create(&[Step::Name("Things".into(), None)], &body(), &ctx).await?;
    find().ok_or_else(|| super::not_found(format!("the demo station {name} was not created")))
}

/// Each station's readings at `times`, as one dataArray batch.
fn readings(datastreams: &[(i64, &Station)], times: &[DateTime<Utc>]) -> Value {
    let groups: Vec<Value> = datastreams
        .iter()
        .map(|(id, s)| {
            let rows: Vec<Value> = times.iter().map(|t| json!([crate::store::iso(*t), (s.value)(*t)])).collect();
            json!({"Datastream": {"@iot.id": id}, "components": ["phenomenonTime", "result"], "dataArray": rows})
        })
        .collect();
    json!(groups)
}

/// Creates the demo stations and camera (once), fills in the last day of readings, and
/// starts reporting.
pub async fn spawn(sensors: Arc<Sensors>, centre: [f64; 2]) -> Result<(), SensorError> {
    let mut streams = Vec::new();
    for s in &STATIONS {
        let at = offset(centre, s.east_m, s.north_m);
        let properties = json!({"synthetic": true, "staffOnly": s.staff_only});
        let id = ensure(&sensors, s.name, || thing(s.name, at, properties, vec![datastream(s)])).await?;
        let reg = sensors.registry();
        if let Some(d) = reg.all(Kind::Datastream).find(|d| d.link("Thing") == Some(id)) {
            streams.push((d.id, s));
        }
    }
    let at = offset(centre, STATIONS[0].east_m + 40.0, STATIONS[0].north_m + 30.0);
    let camera =
        ensure(&sensors, CAMERA, || thing(CAMERA, at, json!({"camera": true, "synthetic": true}), Vec::new())).await?;
    // The last day, a reading a minute, from where the stored readings end.
    let now = Utc::now().duration_trunc(chrono::Duration::minutes(1)).unwrap_or_else(|_| Utc::now());
    let reg = sensors.registry();
    let newest = streams
        .iter()
        .filter_map(|(d, _)| reg.times.get(d).and_then(|(_, last)| super::parse_utc(last)))
        .min()
        .unwrap_or(now - chrono::Duration::days(1));
    let from = newest.max(now - chrono::Duration::days(1)) + chrono::Duration::minutes(1);
    let times: Vec<DateTime<Utc>> =
        (0..).map(|m| from + chrono::Duration::minutes(m)).take_while(|t| *t <= now).collect();
    let ctx = Ctx { base: String::new(), audience: Audience::Staff };
    if !times.is_empty() {
        sensors.create_observations(&readings(&streams, &times), &ctx).await?;
        // So that a week's and the season's charts show them at once.
        sensors.aggregate().await?;
    }
    let weak = Arc::downgrade(&sensors);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REPORT_EVERY);
        for n in 0u64.. {
            tick.tick().await;
            let Some(sensors) = weak.upgrade() else { return };
            let now = Utc::now();
            if n > 0
                && let Err(e) = sensors.create_observations(&readings(&streams, &[now]), &ctx).await
            {
                tracing::warn!(error = %e, "demo stations: a reading was not stored");
            }
            if n % IMAGE_EVERY == 0 {
                let frame = camera_frame((STATIONS[0].value)(now), now);
                if let Err(e) = sensors.add_image(camera, &frame, None, usize::MAX, now).await {
                    tracing::warn!(error = %e, "demo camera: an image was not stored");
                }
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_river_crosses_its_lower_levels_and_the_frames_follow_it() {
        let start = DateTime::parse_from_rfc3339("2026-12-04T00:00:00Z").unwrap().to_utc();
        let values: Vec<f64> = (0..360).map(|m| (STATIONS[0].value)(start + chrono::Duration::minutes(m))).collect();
        let levels = STATIONS[0].levels.unwrap();
        let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        assert!(lo < levels[0] && hi > levels[1] && hi < levels[2], "{lo}–{hi} against {levels:?}");
        let (low, high) = (camera_frame(0.5, start), camera_frame(2.5, start));
        assert_ne!(low, high);
        let size = imagesize::blob_size(&low).unwrap();
        assert_eq!((size.width, size.height), (320, 240));
    }
}
