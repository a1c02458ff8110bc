//! Plausibility of a fix against the vehicle's previous plausible one and the city: jumps
//! faster than 200 km/h, positions outside the city's extent, and accuracy worse than 100 m
//! are flagged. Flagged fixes are stored (nothing a device sent is lost) but move no marker,
//! draw no trail and plow no road.

use geo::{Distance, Haversine, Point};

/// Fastest plausible movement between two fixes: 200 km/h.
pub const MAX_SPEED_MPS: f64 = 200.0 / 3.6;
/// Worst plausible accuracy (metres).
pub const MAX_ACCURACY_M: f64 = 100.0;

/// A plausible fix a vehicle reported: where and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// Device time, milliseconds since 1970.
    pub ms: i64,
    pub lon: f64,
    pub lat: f64,
}

impl Seen {
    /// Metres to another fix, on the ellipsoid's mean sphere.
    pub fn metres_to(&self, other: &Seen) -> f64 {
        Haversine.distance(Point::new(self.lon, self.lat), Point::new(other.lon, other.lat))
    }

    /// The bearing (degrees clockwise from north) from here to `other`.
    pub fn bearing_to(&self, other: &Seen) -> f64 {
        use geo::Bearing;
        Haversine.bearing(Point::new(self.lon, self.lat), Point::new(other.lon, other.lat)).rem_euclid(360.0)
    }
}

/// The flags of a fix (empty when plausible): `jump` (faster than [`MAX_SPEED_MPS`] from the
/// previous plausible fix, in either time order), `outside` (the city's `[west, south, east,
/// north]`), `inaccurate` (accuracy worse than [`MAX_ACCURACY_M`]).
pub fn flags(fix: &Seen, accuracy_m: Option<f64>, previous: Option<&Seen>, extent: [f64; 4]) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(p) = previous {
        let seconds = (fix.ms - p.ms).abs() as f64 / 1000.0;
        // Within a second, allow what 200 km/h covers in one (GPS timestamps are coarse).
        if fix.metres_to(p) > MAX_SPEED_MPS * seconds.max(1.0) {
            out.push("jump");
        }
    }
    let [w, s, e, n] = extent;
    if !(w..=e).contains(&fix.lon) || !(s..=n).contains(&fix.lat) {
        out.push("outside");
    }
    if accuracy_m.is_some_and(|a| a > MAX_ACCURACY_M) {
        out.push("inaccurate");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CITY: [f64; 4] = [140.31, 38.44, 140.62, 38.72];

    #[test]
    fn implausible_fixes_are_flagged() {
        let a = Seen { ms: 0, lon: 140.40, lat: 38.60 };
        // 0.01° of latitude is about 1.11 km: in 60 s that is 67 km/h, in 10 s 400 km/h.
        let slow = Seen { ms: 60_000, lon: 140.40, lat: 38.61 };
        let fast = Seen { ms: 10_000, ..slow };
        assert!(flags(&slow, Some(5.0), Some(&a), CITY).is_empty());
        assert_eq!(flags(&fast, None, Some(&a), CITY), ["jump"]);
        // A late fix is judged against the newer one just the same.
        let late = Seen { ms: -10_000, ..slow };
        assert_eq!(flags(&late, None, Some(&a), CITY), ["jump"]);
        let tokyo = Seen { ms: 0, lon: 139.76, lat: 35.68 };
        assert_eq!(flags(&tokyo, Some(500.0), None, CITY), ["outside", "inaccurate"]);
        assert!((a.bearing_to(&slow) - 0.0).abs() < 0.01);
        assert!((a.metres_to(&slow) - 1112.0).abs() < 5.0);
    }
}
