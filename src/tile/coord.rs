//! Tile addresses and the coordinate spaces of the tile pipeline.
//!
//! Three spaces appear in machizu:
//! - **Web Mercator metres** (EPSG:3857), where the engine stores projected geometry;
//! - **world extent space at zoom z**: integers from `0` to `2^z * EXTENT`, x to the east and
//!   y to the south, so that tile `(x, y)` covers `[x*EXTENT, (x+1)*EXTENT)` on each axis. The
//!   engine quantises geometry into this space once per zoom at load, which makes the per-tile
//!   transform a subtraction;
//! - **tile space**: world extent space minus the tile's origin, what MVT stores.

use serde::Serialize;

/// The MVT extent used for every layer: 4096 units per tile side.
pub const EXTENT: u32 = 4096;

pub use crate::catalog::MAX_ZOOM;

/// Half the side of the Web Mercator square, in metres.
pub const MERCATOR_HALF: f64 = 20_037_508.342_789_244;

/// A tile address in the XYZ (Google/OSM) scheme: `y` grows to the south.
///
/// ```
/// use machizu::tile::TileCoord;
/// let t = TileCoord::new(14, 14582, 6340).unwrap();
/// assert_eq!(t.to_string(), "14/14582/6340");
/// assert!(TileCoord::new(2, 4, 0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TileCoord {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

/// Why a tile address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileCoordError {
    #[error("zoom {z} is above the maximum zoom {max}")]
    ZoomTooHigh { z: u32, max: u8 },
    #[error("tile column x={x} is outside 0..{limit} at zoom {z}")]
    XOutOfRange { z: u8, x: u64, limit: u64 },
    #[error("tile row y={y} is outside 0..{limit} at zoom {z}")]
    YOutOfRange { z: u8, y: u64, limit: u64 },
}

impl TileCoord {
    /// Validates a tile address against the zoom range machizu serves (`0..=MAX_ZOOM`).
    pub fn new(z: u32, x: u64, y: u64) -> Result<Self, TileCoordError> {
        Self::new_with_max(z, x, y, MAX_ZOOM)
    }

    /// Validates a tile address against a given maximum zoom.
    pub fn new_with_max(z: u32, x: u64, y: u64, max: u8) -> Result<Self, TileCoordError> {
        if z > u32::from(max) {
            return Err(TileCoordError::ZoomTooHigh { z, max });
        }
        let z = z as u8;
        let limit = 1u64 << z;
        if x >= limit {
            return Err(TileCoordError::XOutOfRange { z, x, limit });
        }
        if y >= limit {
            return Err(TileCoordError::YOutOfRange { z, y, limit });
        }
        Ok(Self { z, x: x as u32, y: y as u32 })
    }

    /// The tile's origin (north-west corner) in world extent space at its zoom.
    pub fn origin(&self) -> (i64, i64) {
        (i64::from(self.x) * i64::from(EXTENT), i64::from(self.y) * i64::from(EXTENT))
    }

    /// The tile's bounds in Web Mercator metres: `[west, south, east, north]`.
    pub fn mercator_bounds(&self) -> [f64; 4] {
        let size = 2.0 * MERCATOR_HALF / f64::from(1u32 << self.z);
        let west = -MERCATOR_HALF + f64::from(self.x) * size;
        let north = MERCATOR_HALF - f64::from(self.y) * size;
        [west, north - size, west + size, north]
    }

    /// The tile containing a longitude/latitude at zoom `z`.
    pub fn containing(lon: f64, lat: f64, z: u8) -> Self {
        let (mx, my) = lonlat_to_mercator(lon, lat);
        let n = f64::from(1u32 << z);
        let fx = (mx + MERCATOR_HALF) / (2.0 * MERCATOR_HALF) * n;
        let fy = (MERCATOR_HALF - my) / (2.0 * MERCATOR_HALF) * n;
        let clamp = |v: f64| (v.floor().max(0.0) as u32).min((1u32 << z) - 1);
        Self { z, x: clamp(fx), y: clamp(fy) }
    }
}

impl std::fmt::Display for TileCoord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// Longitude/latitude in degrees to Web Mercator metres (spherical, EPSG:3857).
///
/// ```
/// let (x, y) = machizu::tile::coord::lonlat_to_mercator(0.0, 0.0);
/// assert!(x.abs() < 1e-9 && y.abs() < 1e-9);
/// ```
pub fn lonlat_to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.051_128_78, 85.051_128_78);
    let x = lon.to_radians() * 6_378_137.0;
    let y = (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0).tan().ln() * 6_378_137.0;
    (x, y)
}

/// Web Mercator metres to longitude/latitude in degrees.
///
/// ```
/// use machizu::tile::coord::{lonlat_to_mercator, mercator_to_lonlat};
/// let (x, y) = lonlat_to_mercator(140.406, 38.6);
/// let (lon, lat) = mercator_to_lonlat(x, y);
/// assert!((lon - 140.406).abs() < 1e-12 && (lat - 38.6).abs() < 1e-12);
/// ```
pub fn mercator_to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let lon = (x / 6_378_137.0).to_degrees();
    let lat = (2.0 * (y / 6_378_137.0).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
    (lon, lat)
}

/// Scale from Web Mercator metres to world extent units at zoom `z`.
pub fn world_scale(z: u8) -> f64 {
    f64::from(EXTENT) * f64::from(1u32 << z) / (2.0 * MERCATOR_HALF)
}

/// Web Mercator metres to (unrounded) world extent space at zoom `z`.
///
/// ```
/// use machizu::tile::coord::{mercator_to_world, MERCATOR_HALF};
/// assert_eq!(mercator_to_world(-MERCATOR_HALF, MERCATOR_HALF, 0), (0.0, 0.0));
/// let (x, y) = mercator_to_world(0.0, 0.0, 1);
/// assert!((x - 4096.0).abs() < 1e-6 && (y - 4096.0).abs() < 1e-6);
/// ```
pub fn mercator_to_world(x: f64, y: f64, z: u8) -> (f64, f64) {
    let s = world_scale(z);
    ((x + MERCATOR_HALF) * s, (MERCATOR_HALF - y) * s)
}

/// World extent space at zoom `z` back to Web Mercator metres.
pub fn world_to_mercator(wx: f64, wy: f64, z: u8) -> (f64, f64) {
    let s = world_scale(z);
    (wx / s - MERCATOR_HALF, MERCATOR_HALF - wy / s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_of_the_world_tile() {
        let b = TileCoord::new(0, 0, 0).unwrap().mercator_bounds();
        assert_eq!(b, [-MERCATOR_HALF, -MERCATOR_HALF, MERCATOR_HALF, MERCATOR_HALF]);
    }

    #[test]
    fn city_centre_tile_at_z14() {
        let t = TileCoord::containing(140.406, 38.600, 14);
        assert_eq!((t.x, t.y), (14582, 6284));
        let [w, s, e, n] = t.mercator_bounds();
        let (mx, my) = lonlat_to_mercator(140.406, 38.600);
        assert!(w <= mx && mx < e && s < my && my <= n);
    }

    #[test]
    fn refuses_out_of_range() {
        assert_eq!(TileCoord::new(19, 0, 0), Err(TileCoordError::ZoomTooHigh { z: 19, max: MAX_ZOOM }));
        assert!(matches!(TileCoord::new(3, 8, 0), Err(TileCoordError::XOutOfRange { .. })));
        assert!(matches!(TileCoord::new(3, 0, 8), Err(TileCoordError::YOutOfRange { .. })));
        assert!(TileCoord::new(3, 7, 7).is_ok());
    }

    #[test]
    fn world_space_round_trips() {
        let (wx, wy) = mercator_to_world(15_630_000.0, 4_665_000.0, 14);
        let (x, y) = world_to_mercator(wx, wy, 14);
        assert!((x - 15_630_000.0).abs() < 1e-6 && (y - 4_665_000.0).abs() < 1e-6);
    }
}
