//! Staff outputs from stored fixes: the daily work report (日報) per vehicle, positions as GPX
//! 1.1, and the fleet's latest positions as a GTFS-Realtime VehiclePosition feed.
//!
//! The report's day is the city's calendar day (Japan Standard Time, UTC+9, no daylight
//! saving). Distances are great-circle metres between consecutive plausible fixes; a gap of
//! more than [`MAX_GAP_S`] (the tracker off, a tunnel) counts neither as distance nor as
//! operating time, since what happened in it is unknown.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Serialize;

use super::check::Seen;
use super::vehicle::Vehicle;
use crate::feature::FeatureId;
use crate::store::FixRow;

/// The longest gap between two fixes still counted as driving or operating.
pub const MAX_GAP_S: i64 = 300;

/// Japan Standard Time.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("a valid offset")
}

/// The UTC bounds `[from, to)` of a calendar day in Japan.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_local_timezone(jst()).single().expect("fixed");
    (start.with_timezone(&Utc), (start + chrono::Duration::days(1)).with_timezone(&Utc))
}

/// One vehicle's day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VehicleDay {
    pub vehicle_id: String,
    pub name: String,
    pub kind: String,
    pub operator: Option<String>,
    /// Plausible fixes that day.
    pub fixes: usize,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub operating_hours: f64,
    pub distance_km: f64,
    /// Distance driven with the blade reported down.
    pub blade_down_km: f64,
    /// Total length of the distinct roads plowed (matched) that day.
    pub roads_covered_km: f64,
    pub roads: usize,
}

/// The daily report: one entry per vehicle that reported that day, by vehicle id.
pub fn daily(
    fixes: &[FixRow],
    vehicles: &HashMap<String, Vehicle>,
    road_length_m: impl Fn(FeatureId) -> f64,
) -> Vec<VehicleDay> {
    let mut by_vehicle: BTreeMap<&str, Vec<&FixRow>> = BTreeMap::new();
    for f in fixes.iter().filter(|f| f.flags.is_none()) {
        by_vehicle.entry(&f.vehicle).or_default().push(f);
    }
    let round = |v: f64, digits: i32| (v * 10f64.powi(digits)).round() / 10f64.powi(digits);
    by_vehicle
        .into_iter()
        .map(|(id, mut list)| {
            list.sort_by(|a, b| a.time.cmp(&b.time));
            let (mut metres, mut blade, mut seconds) = (0.0, 0.0, 0i64);
            for w in list.windows(2) {
                let (a, b): (Seen, Seen) = (super::seen(w[0]), super::seen(w[1]));
                let dt = (b.ms - a.ms) / 1000;
                if dt > MAX_GAP_S {
                    continue;
                }
                let d = a.metres_to(&b);
                metres += d;
                seconds += dt;
                if w[1].blade_down == Some(true) {
                    blade += d;
                }
            }
            let v = vehicles.get(id);
            // Roads the fixes were matched to while the vehicle plowed.
            let roads: BTreeSet<FeatureId> =
                list.iter().filter(|f| v.is_some_and(|v| super::plowing(v, f))).filter_map(|f| f.road).collect();
            let covered: f64 = roads.iter().map(|r| road_length_m(*r)).sum();
            VehicleDay {
                vehicle_id: id.to_owned(),
                name: v.map(|v| v.name.clone()).unwrap_or_default(),
                kind: v.map(|v| v.kind.as_str().to_owned()).unwrap_or_default(),
                operator: v.and_then(|v| v.operator.clone()),
                fixes: list.len(),
                first_at: list.first().map(|f| f.time.clone()),
                last_at: list.last().map(|f| f.time.clone()),
                operating_hours: round(seconds as f64 / 3600.0, 2),
                distance_km: round(metres / 1000.0, 3),
                blade_down_km: round(blade / 1000.0, 3),
                roads_covered_km: round(covered / 1000.0, 3),
                roads: roads.len(),
            }
        })
        .collect()
}

/// The report as CSV for spreadsheet software: UTF-8 with a byte-order mark (so that Excel
/// reads the Japanese names), a header row of Japanese and English column names.
pub fn daily_csv(days: &[VehicleDay]) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record([
            "車両ID vehicle_id",
            "車両名 name",
            "車種 kind",
            "運転事業者 operator",
            "測位数 fixes",
            "開始 first_at",
            "終了 last_at",
            "稼働時間(h) operating_hours",
            "走行距離(km) distance_km",
            "排雪板使用距離(km) blade_down_km",
            "除雪路線延長(km) roads_covered_km",
            "除雪路線数 roads",
        ])
        .expect("writing to memory");
        for d in days {
            w.write_record([
                d.vehicle_id.clone(),
                d.name.clone(),
                d.kind.clone(),
                d.operator.clone().unwrap_or_default(),
                d.fixes.to_string(),
                d.first_at.clone().unwrap_or_default(),
                d.last_at.clone().unwrap_or_default(),
                d.operating_hours.to_string(),
                d.distance_km.to_string(),
                d.blade_down_km.to_string(),
                d.roads_covered_km.to_string(),
                d.roads.to_string(),
            ])
            .expect("writing to memory");
        }
        w.flush().expect("writing to memory");
    }
    out
}

/// Fixes as GPX 1.1: one track per vehicle (named by `names`), one segment, plausible fixes
/// only, with elevation and time.
pub fn gpx(fixes: &[FixRow], names: &HashMap<String, String>) -> Vec<u8> {
    let mut by_vehicle: BTreeMap<&str, Vec<&FixRow>> = BTreeMap::new();
    for f in fixes.iter().filter(|f| f.flags.is_none()) {
        by_vehicle.entry(&f.vehicle).or_default().push(f);
    }
    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 1);
    let io = "writing to memory";
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect(io);
    let mut root = BytesStart::new("gpx");
    root.push_attribute(("version", "1.1"));
    root.push_attribute(("creator", "machizu"));
    root.push_attribute(("xmlns", "http://www.topografix.com/GPX/1/1"));
    w.write_event(Event::Start(root)).expect(io);
    let text = |w: &mut quick_xml::Writer<Vec<u8>>, tag: &str, value: &str| {
        w.create_element(tag).write_text_content(BytesText::new(value)).map(|_| ()).expect(io);
    };
    for (id, list) in by_vehicle {
        w.write_event(Event::Start(BytesStart::new("trk"))).expect(io);
        text(&mut w, "name", names.get(id).map_or(id, String::as_str));
        w.write_event(Event::Start(BytesStart::new("trkseg"))).expect(io);
        for f in list {
            let mut pt = BytesStart::new("trkpt");
            pt.push_attribute(("lat", f.lat.to_string().as_str()));
            pt.push_attribute(("lon", f.lon.to_string().as_str()));
            w.write_event(Event::Start(pt)).expect(io);
            if let Some(ele) = f.altitude_m {
                text(&mut w, "ele", &ele.to_string());
            }
            text(&mut w, "time", &f.time);
            w.write_event(Event::End(BytesEnd::new("trkpt"))).expect(io);
        }
        w.write_event(Event::End(BytesEnd::new("trkseg"))).expect(io);
        w.write_event(Event::End(BytesEnd::new("trk"))).expect(io);
    }
    w.write_event(Event::End(BytesEnd::new("gpx"))).expect(io);
    w.into_inner()
}

/// The latest positions as a GTFS-Realtime feed of VehiclePosition entities (one per
/// vehicle; `id` and label as the caller may see them).
pub fn gtfs_rt(positions: &[(String, String, &FixRow)], now: DateTime<Utc>) -> Vec<u8> {
    use gtfs_realtime::{FeedEntity, FeedHeader, FeedMessage, Position, VehicleDescriptor, VehiclePosition};
    use prost::Message;
    let entity = positions
        .iter()
        .map(|(id, label, f)| FeedEntity {
            id: id.clone(),
            vehicle: Some(VehiclePosition {
                vehicle: Some(VehicleDescriptor {
                    id: Some(id.clone()),
                    label: Some(label.clone()),
                    ..Default::default()
                }),
                position: Some(Position {
                    latitude: f.lat as f32,
                    longitude: f.lon as f32,
                    bearing: f.heading_deg.map(|h| h as f32),
                    speed: f.speed_mps.map(|s| s as f32),
                    ..Default::default()
                }),
                timestamp: DateTime::parse_from_rfc3339(&f.time).ok().map(|t| t.timestamp().max(0) as u64),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let feed = FeedMessage {
        header: FeedHeader {
            gtfs_realtime_version: "2.0".into(),
            incrementality: Some(0), // FULL_DATASET
            timestamp: Some(now.timestamp().max(0) as u64),
            ..Default::default()
        },
        entity,
    };
    feed.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(vehicle: &str, t: &str, lat: f64, blade: Option<bool>, road: Option<i64>) -> FixRow {
        FixRow {
            id: 0,
            vehicle: vehicle.into(),
            time: t.into(),
            received_at: t.into(),
            lon: 140.4,
            lat,
            speed_mps: Some(5.0),
            heading_deg: Some(0.0),
            altitude_m: Some(90.0),
            accuracy_m: None,
            hdop: None,
            battery_pct: None,
            blade_down: blade,
            spreader_on: None,
            extra: None,
            flags: None,
            road,
        }
    }

    #[test]
    fn the_day_report_counts_distance_blade_roads_and_time() {
        // 0.01° of latitude ≈ 1,112 m. Two minutes of driving, a 20-minute gap, one more minute.
        let fixes = vec![
            fix("p1", "2026-01-10T22:00:00.000Z", 38.60, Some(true), Some(1)),
            fix("p1", "2026-01-10T22:01:00.000Z", 38.61, Some(true), Some(1)),
            fix("p1", "2026-01-10T22:02:00.000Z", 38.62, Some(false), Some(2)),
            fix("p1", "2026-01-10T22:22:00.000Z", 38.63, Some(true), None),
            fix("p1", "2026-01-10T22:23:00.000Z", 38.64, Some(true), Some(3)),
            FixRow { flags: Some("jump".into()), ..fix("p1", "2026-01-10T22:24:00.000Z", 39.0, Some(true), None) },
        ];
        let plow = Vehicle {
            num: 1,
            id: "p1".into(),
            name: "1号車".into(),
            kind: super::super::vehicle::VehicleKind::Plow,
            operator: None,
            label: "1".into(),
            public: true,
            created_at: String::new(),
            revoked_at: None,
        };
        let days =
            daily(&fixes, &HashMap::from([("p1".to_owned(), plow)]), |r| [0.0, 100.0, 250.0, 1000.0][r as usize]);
        assert_eq!(days.len(), 1);
        let d = &days[0];
        // Road 2 was driven with the blade up: not plowed.
        assert_eq!((d.fixes, d.roads), (5, 2));
        assert!((d.distance_km - 3.336).abs() < 0.01, "{d:?}");
        assert!((d.blade_down_km - 2.224).abs() < 0.01, "{d:?}");
        assert_eq!(d.roads_covered_km, 1.1);
        assert_eq!(d.operating_hours, 0.05);
        let csv = String::from_utf8(daily_csv(&days)).unwrap();
        assert!(csv.starts_with('\u{feff}') && csv.lines().nth(1).unwrap().starts_with("p1,"), "{csv}");
        let (from, to) = day_bounds(NaiveDate::from_ymd_opt(2026, 1, 11).unwrap());
        assert_eq!(
            (from.to_rfc3339(), to.to_rfc3339()),
            ("2026-01-10T15:00:00+00:00".into(), "2026-01-11T15:00:00+00:00".into())
        );
    }

    #[test]
    fn gpx_has_a_track_per_vehicle() {
        let fixes = [
            fix("p1", "2026-01-10T22:00:00.000Z", 38.6, None, None),
            fix("p2", "2026-01-10T22:00:00.000Z", 38.7, None, None),
        ];
        let names = HashMap::from([("p1".to_owned(), "除雪車 <1>".to_owned())]);
        let gpx = String::from_utf8(gpx(&fixes, &names)).unwrap();
        assert_eq!(gpx.matches("<trk>").count(), 2);
        assert!(
            gpx.contains("<name>除雪車 &lt;1&gt;</name>") && gpx.contains(r#"<trkpt lat="38.6" lon="140.4">"#),
            "{gpx}"
        );
    }
}
