//! A position report ("fix") from a vehicle's tracker, read from the protocols trackers and
//! phone apps already speak: the OsmAnd / Traccar Client HTTP protocol (query or form
//! parameters), Traccar Client's JSON, and OwnTracks' JSON (over MQTT).
//!
//! Everything is normalised here: speeds to metres per second (OsmAnd sends knots, OwnTracks
//! km/h), times to UTC (Unix seconds, milliseconds or ISO 8601), battery to percent. Keys a
//! protocol does not define are kept as text attributes; `blade`/`blade_down` and
//! `spreader`/`spreader_on` among them become the snowplow's blade and spreader state.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

/// Knots to metres per second.
const KNOT: f64 = 1852.0 / 3600.0;

/// One position report, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// The device credential as the tracker sent it (checked against the registry later).
    pub device: String,
    /// When the device took the fix.
    pub time: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    pub speed_mps: Option<f64>,
    /// Degrees clockwise from north, 0–360.
    pub heading_deg: Option<f64>,
    pub altitude_m: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub hdop: Option<f64>,
    pub battery_pct: Option<f64>,
    pub blade_down: Option<bool>,
    pub spreader_on: Option<bool>,
    /// Other keys the tracker sent, as text.
    pub extra: BTreeMap<String, String>,
}

/// Why a report cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{field} = {value:?}: {why}")]
    Bad { field: &'static str, value: String, why: &'static str },
}

fn bad(field: &'static str, value: impl ToString, why: &'static str) -> FixError {
    FixError::Bad { field, value: value.to_string(), why }
}

/// A time as trackers send it: Unix seconds or milliseconds (told apart by size), with or
/// without a fraction, or ISO 8601 / RFC 3339.
///
/// ```
/// use machizu::live::fix::parse_time;
/// let t = parse_time("1732406400").unwrap();
/// assert_eq!(t, parse_time("1732406400000").unwrap());
/// assert_eq!(t, parse_time("2024-11-24T00:00:00Z").unwrap());
/// assert_eq!(t, parse_time("2024-11-24T09:00:00+09:00").unwrap());
/// assert!(parse_time("yesterday").is_err());
/// ```
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, FixError> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        // Milliseconds since 1970 pass 1e11 in 1973; seconds will not until the year 5138.
        let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
        return Utc.timestamp_millis_opt(ms.round() as i64).single().ok_or_else(|| bad("timestamp", s, "out of range"));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad("timestamp", s, "not Unix seconds, milliseconds or ISO 8601"))
}

fn number(field: &'static str, s: &str) -> Result<f64, FixError> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| bad(field, s, "not a number"))
}

fn flag(field: &'static str, s: &str) -> Result<bool, FixError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" | "down" => Ok(true),
        "0" | "false" | "off" | "no" | "up" => Ok(false),
        _ => Err(bad(field, s, "not true or false")),
    }
}

fn check_position(lat: f64, lon: f64) -> Result<(), FixError> {
    if !(-90.0..=90.0).contains(&lat) {
        return Err(bad("lat", lat, "outside -90..90"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(bad("lon", lon, "outside -180..180"));
    }
    Ok(())
}

/// A heading in degrees, 0–360; trackers send a negative one (-1) when they have none.
fn heading(v: f64) -> Option<f64> {
    (v >= 0.0).then(|| v % 360.0)
}

/// Sets the blade/spreader state from an extra key, if it is one; true when it was.
fn equipment(fix: &mut Fix, key: &str, value: &str) -> Result<bool, FixError> {
    match key {
        "blade" | "blade_down" => fix.blade_down = Some(flag("blade", value)?),
        "spreader" | "spreader_on" => fix.spreader_on = Some(flag("spreader", value)?),
        _ => return Ok(false),
    }
    Ok(true)
}

impl Fix {
    fn new(device: String, time: DateTime<Utc>, lat: f64, lon: f64) -> Result<Self, FixError> {
        check_position(lat, lon)?;
        if device.trim().is_empty() {
            return Err(FixError::Missing("device id"));
        }
        Ok(Self {
            device,
            time,
            lon,
            lat,
            speed_mps: None,
            heading_deg: None,
            altitude_m: None,
            accuracy_m: None,
            hdop: None,
            battery_pct: None,
            blade_down: None,
            spreader_on: None,
            extra: BTreeMap::new(),
        })
    }

    /// The OsmAnd / Traccar Client HTTP protocol: `id` (or `deviceid`), `timestamp`, `lat` and
    /// `lon` (or `location=lat,lon`), `speed` in knots, `bearing` (or `heading`), `altitude`,
    /// `accuracy`, `hdop`, `batt`; anything else is kept. A fix without a time is taken now.
    ///
    /// ```
    /// use machizu::live::fix::Fix;
    /// let q = |s: &str| s.split('&').map(|p| { let (k, v) = p.split_once('=').unwrap(); (k.to_owned(), v.to_owned()) }).collect::<Vec<_>>();
    /// let f = Fix::from_osmand(&q("id=abc&lat=38.6&lon=140.4&timestamp=1732406400&speed=10&bearing=90&blade=1")).unwrap();
    /// assert!((f.speed_mps.unwrap() - 5.144).abs() < 0.001); // 10 knots
    /// assert_eq!((f.heading_deg, f.blade_down), (Some(90.0), Some(true)));
    /// ```
    pub fn from_osmand(pairs: &[(String, String)]) -> Result<Self, FixError> {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let device = get("id").or_else(|| get("deviceid")).ok_or(FixError::Missing("id"))?;
        let (lat, lon) = match (get("lat"), get("lon"), get("location")) {
            (Some(lat), Some(lon), _) => (number("lat", lat)?, number("lon", lon)?),
            (_, _, Some(loc)) => {
                let (lat, lon) = loc.split_once(',').ok_or_else(|| bad("location", loc, "not lat,lon"))?;
                (number("location", lat)?, number("location", lon)?)
            }
            _ => return Err(FixError::Missing("lat and lon (or location)")),
        };
        let time = match get("timestamp") {
            Some(t) => parse_time(t)?,
            None => Utc::now(),
        };
        let mut fix = Fix::new(device.to_owned(), time, lat, lon)?;
        for (k, v) in pairs {
            match k.as_str() {
                "id" | "deviceid" | "lat" | "lon" | "location" | "timestamp" => {}
                "speed" => fix.speed_mps = Some(number("speed", v)? * KNOT),
                "bearing" | "heading" => fix.heading_deg = heading(number("bearing", v)?),
                "altitude" => fix.altitude_m = Some(number("altitude", v)?),
                "accuracy" => fix.accuracy_m = Some(number("accuracy", v)?),
                "hdop" => fix.hdop = Some(number("hdop", v)?),
                "batt" => fix.battery_pct = Some(number("batt", v)?),
                other => {
                    if !equipment(&mut fix, other, v)? {
                        fix.extra.insert(other.to_owned(), v.clone());
                    }
                }
            }
        }
        Ok(fix)
    }

    /// Traccar Client's JSON: `device_id`, `location { timestamp, coords { latitude, longitude,
    /// accuracy, speed (m/s), heading, altitude }, is_moving, odometer, battery { level (0–1) },
    /// extras { … } }`.
    pub fn from_traccar(v: &Value) -> Result<Self, FixError> {
        let device = v["device_id"].as_str().ok_or(FixError::Missing("device_id"))?;
        let loc = &v["location"];
        let coords = &loc["coords"];
        let num = json_number;
        let lat = num("location.coords.latitude", &coords["latitude"])?
            .ok_or(FixError::Missing("location.coords.latitude"))?;
        let lon = num("location.coords.longitude", &coords["longitude"])?
            .ok_or(FixError::Missing("location.coords.longitude"))?;
        let time = json_time("location.timestamp", &loc["timestamp"])?;
        let mut fix = Fix::new(device.to_owned(), time, lat, lon)?;
        fix.accuracy_m = num("accuracy", &coords["accuracy"])?;
        fix.speed_mps = num("speed", &coords["speed"])?.filter(|s| *s >= 0.0);
        fix.heading_deg = num("heading", &coords["heading"])?.and_then(heading);
        fix.altitude_m = num("altitude", &coords["altitude"])?;
        fix.battery_pct = num("battery.level", &loc["battery"]["level"])?.map(|l| if l <= 1.0 { l * 100.0 } else { l });
        for key in ["is_moving", "odometer", "event", "activity"] {
            if let Some(x) = loc.get(key).filter(|x| !x.is_null()) {
                fix.extra.insert(key.to_owned(), text(x));
            }
        }
        if let Some(extras) = loc["extras"].as_object() {
            for (k, x) in extras {
                if !equipment(&mut fix, k, &text(x))? {
                    fix.extra.insert(k.clone(), text(x));
                }
            }
        }
        Ok(fix)
    }

    /// An OwnTracks message on `owntracks/{user}/{device}`: the device credential is the last
    /// part of the topic; `tst` (Unix seconds), `lat`, `lon`, `vel` (km/h), `cog`, `acc`,
    /// `alt`, `batt`. Messages other than `_type: location` are `None`.
    pub fn from_owntracks(topic: &str, payload: &[u8]) -> Result<Option<Self>, FixError> {
        let v: Value = serde_json::from_slice(payload)
            .map_err(|_| bad("payload", String::from_utf8_lossy(payload), "not JSON"))?;
        if v["_type"] != "location" {
            return Ok(None);
        }
        let device =
            topic.rsplit('/').next().filter(|d| !d.is_empty()).ok_or(FixError::Missing("device in the topic"))?;
        let f = |k: &'static str| -> Result<Option<f64>, FixError> {
            match &v[k] {
                Value::Null => Ok(None),
                x => x.as_f64().filter(|n| n.is_finite()).map(Some).ok_or_else(|| bad(k, x, "not a number")),
            }
        };
        let lat = f("lat")?.ok_or(FixError::Missing("lat"))?;
        let lon = f("lon")?.ok_or(FixError::Missing("lon"))?;
        let tst = f("tst")?.ok_or(FixError::Missing("tst"))?;
        let mut fix = Fix::new(device.to_owned(), parse_time(&tst.to_string())?, lat, lon)?;
        fix.speed_mps = f("vel")?.filter(|s| *s >= 0.0).map(|kmh| kmh / 3.6);
        fix.heading_deg = f("cog")?.and_then(heading);
        fix.accuracy_m = f("acc")?;
        fix.altitude_m = f("alt")?;
        fix.battery_pct = f("batt")?;
        if let Some(tid) = v["tid"].as_str() {
            fix.extra.insert("tid".into(), tid.into());
        }
        Ok(Some(fix))
    }

    /// An item of machizu's batch upload (`POST /ingest/batch`): `device`, `time` (Unix
    /// seconds or milliseconds, or ISO 8601), `lat`, `lon`, and optionally `speed_mps`,
    /// `heading_deg`, `altitude_m`, `accuracy_m`, `hdop`, `battery_pct`, `blade_down`,
    /// `spreader_on`, and `attributes` (an object of anything else).
    pub fn from_batch(v: &Value) -> Result<Self, FixError> {
        let device = v["device"].as_str().ok_or(FixError::Missing("device"))?;
        let lat = json_number("lat", &v["lat"])?.ok_or(FixError::Missing("lat"))?;
        let lon = json_number("lon", &v["lon"])?.ok_or(FixError::Missing("lon"))?;
        let mut fix = Fix::new(device.to_owned(), json_time("time", &v["time"])?, lat, lon)?;
        fix.speed_mps = json_number("speed_mps", &v["speed_mps"])?.filter(|s| *s >= 0.0);
        fix.heading_deg = json_number("heading_deg", &v["heading_deg"])?.and_then(heading);
        fix.altitude_m = json_number("altitude_m", &v["altitude_m"])?;
        fix.accuracy_m = json_number("accuracy_m", &v["accuracy_m"])?;
        fix.hdop = json_number("hdop", &v["hdop"])?;
        fix.battery_pct = json_number("battery_pct", &v["battery_pct"])?;
        for (field, slot) in [("blade_down", &mut fix.blade_down), ("spreader_on", &mut fix.spreader_on)] {
            *slot = match &v[field] {
                Value::Null => None,
                Value::Bool(b) => Some(*b),
                other => return Err(bad(field, other, "not true or false")),
            };
        }
        match &v["attributes"] {
            Value::Null => {}
            Value::Object(m) => fix.extra.extend(m.iter().map(|(k, x)| (k.clone(), text(x)))),
            other => return Err(bad("attributes", other, "not an object")),
        }
        Ok(fix)
    }
}

/// A number from JSON, given as a number or as text; `None` when null or absent.
fn json_number(field: &'static str, x: &Value) -> Result<Option<f64>, FixError> {
    match x {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(Some).ok_or_else(|| bad(field, n, "not a number")),
        Value::String(s) => number(field, s).map(Some),
        other => Err(bad(field, other, "not a number")),
    }
}

/// A time from JSON, as a number (Unix seconds or milliseconds) or text.
fn json_time(field: &'static str, x: &Value) -> Result<DateTime<Utc>, FixError> {
    match x {
        Value::String(s) => parse_time(s),
        Value::Number(n) => parse_time(&n.to_string()),
        Value::Null => Err(FixError::Missing(field)),
        other => Err(bad(field, other, "not a time")),
    }
}

fn text(x: &Value) -> String {
    match x {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(s: &str) -> Vec<(String, String)> {
        s.split('&').map(|p| p.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap()).collect()
    }

    #[test]
    fn osmand_variants() {
        let f = Fix::from_osmand(&pairs("deviceid=d1&location=38.6,140.4&timestamp=1732406400123&heading=370&hdop=0.9&batt=81&spreader=0&road=国道13号")).unwrap();
        assert_eq!((f.device.as_str(), f.lat, f.lon), ("d1", 38.6, 140.4));
        assert_eq!(f.time.timestamp_millis(), 1732406400123);
        assert_eq!(
            (f.heading_deg, f.hdop, f.battery_pct, f.spreader_on),
            (Some(10.0), Some(0.9), Some(81.0), Some(false))
        );
        assert_eq!(f.extra["road"], "国道13号");
        assert_eq!(Fix::from_osmand(&pairs("lat=38.6&lon=140.4")), Err(FixError::Missing("id")));
        assert_eq!(Fix::from_osmand(&pairs("id=a&lat=38.6")), Err(FixError::Missing("lat and lon (or location)")));
        assert!(matches!(Fix::from_osmand(&pairs("id=a&lat=98&lon=140")), Err(FixError::Bad { field: "lat", .. })));
        assert!(matches!(
            Fix::from_osmand(&pairs("id=a&lat=38&lon=140&speed=fast")),
            Err(FixError::Bad { field: "speed", .. })
        ));
        assert!(matches!(
            Fix::from_osmand(&pairs("id=a&lat=38&lon=140&blade=maybe")),
            Err(FixError::Bad { field: "blade", .. })
        ));
        // OsmAnd sends bearing -1 when it has none.
        assert_eq!(Fix::from_osmand(&pairs("id=a&lat=38&lon=140&bearing=-1")).unwrap().heading_deg, None);
    }

    #[test]
    fn traccar_json() {
        let v = json!({"device_id": "t1", "location": {"timestamp": "2024-11-24T00:00:00.500Z", "is_moving": true, "odometer": 1200.5,
            "coords": {"latitude": 38.6, "longitude": 140.4, "accuracy": 4.5, "speed": 8.0, "heading": 181.0, "altitude": 90.0},
            "battery": {"level": 0.64, "is_charging": false}, "extras": {"blade_down": true, "route": "A"}}});
        let f = Fix::from_traccar(&v).unwrap();
        assert_eq!(f.time.timestamp_millis(), 1732406400500);
        assert_eq!(
            (f.speed_mps, f.heading_deg, f.accuracy_m, f.altitude_m),
            (Some(8.0), Some(181.0), Some(4.5), Some(90.0))
        );
        assert_eq!((f.battery_pct, f.blade_down), (Some(64.0), Some(true)));
        assert_eq!((f.extra["is_moving"].as_str(), f.extra["route"].as_str()), ("true", "A"));
        // Traccar sends speed -1 and heading -1 when unknown.
        let v = json!({"device_id": "t1", "location": {"timestamp": 1732406400, "coords": {"latitude": 38.6, "longitude": 140.4, "speed": -1, "heading": -1}}});
        let f = Fix::from_traccar(&v).unwrap();
        assert_eq!((f.speed_mps, f.heading_deg), (None, None));
        assert_eq!(Fix::from_traccar(&json!({"location": {}})), Err(FixError::Missing("device_id")));
        assert_eq!(
            Fix::from_traccar(&json!({"device_id": "x", "location": {"coords": {"latitude": 1, "longitude": 2}}})),
            Err(FixError::Missing("location.timestamp"))
        );
    }

    #[test]
    fn owntracks_messages() {
        let payload = br#"{"_type":"location","lat":38.6,"lon":140.4,"tst":1732406400,"vel":36,"cog":45,"acc":12,"batt":77,"tid":"p1"}"#;
        let f = Fix::from_owntracks("owntracks/city/dev-123", payload).unwrap().unwrap();
        assert_eq!((f.device.as_str(), f.speed_mps, f.heading_deg), ("dev-123", Some(10.0), Some(45.0)));
        assert_eq!((f.accuracy_m, f.battery_pct), (Some(12.0), Some(77.0)));
        assert_eq!(Fix::from_owntracks("owntracks/city/dev-123", br#"{"_type":"transition"}"#), Ok(None));
        assert!(Fix::from_owntracks("owntracks/city/dev-123", b"not json").is_err());
        assert_eq!(
            Fix::from_owntracks("owntracks/a/b", br#"{"_type":"location","lat":1,"lon":2}"#),
            Err(FixError::Missing("tst"))
        );
    }
}
