//! CRSs as OGC APIs name them (URIs), with the axis order each implies.
//!
//! `CRS84` is longitude, latitude; `EPSG:4326` and `EPSG:6668` are latitude, longitude; the
//! plane rectangular zones (`EPSG:6678` …) are northing `X`, easting `Y`, as the EPSG registry
//! defines them and as OGC API – Features Part 2 requires. Inside machizu every geometry is
//! easting/longitude first; the swap happens here, at the edge.

use geo_types::Geometry;

use crate::crs::{CrsError, Epsg, try_for_each_coord_run, with_transformer};

/// The URI of OGC's longitude-first WGS 84.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// A CRS a client asked for or is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OgcCrs {
    pub epsg: Epsg,
    /// Coordinates are written northing/latitude first.
    pub northing_first: bool,
    pub uri: String,
}

impl OgcCrs {
    pub fn crs84() -> Self {
        Self { epsg: Epsg::WGS84, northing_first: false, uri: CRS84.to_owned() }
    }

    /// The EPSG code's CRS with its official axis order.
    pub fn epsg(epsg: Epsg) -> Result<Self, CrsError> {
        Ok(Self { epsg, northing_first: epsg.northing_first()?, uri: Self::epsg_uri(epsg) })
    }

    pub fn epsg_uri(epsg: Epsg) -> String {
        format!("http://www.opengis.net/def/crs/EPSG/0/{}", epsg.0)
    }

    /// Reads a CRS URI (or `[EPSG:n]` safe CURIE) that must be one of `supported`.
    pub fn parse(s: &str, supported: &[Epsg]) -> Result<Self, String> {
        let t = s.trim().trim_start_matches('[').trim_end_matches(']');
        if t.ends_with("/CRS84") || t.eq_ignore_ascii_case("OGC:CRS84") {
            return Ok(Self::crs84());
        }
        let epsg =
            Epsg::from_uri(t).ok_or_else(|| format!("{s:?} is not a CRS URI like {}", Self::epsg_uri(Epsg(6678))))?;
        if !supported.contains(&epsg) {
            let list: Vec<String> = supported.iter().map(|e| e.to_string()).collect();
            return Err(format!("CRS {epsg} is not offered; use CRS84 or one of {}", list.join(", ")));
        }
        Self::epsg(epsg).map_err(|e| e.to_string())
    }

    /// `g` (in `from`, easting first) in this CRS and axis order.
    pub fn output(&self, g: &Geometry<f64>, from: Epsg) -> Result<Geometry<f64>, CrsError> {
        let mut g = g.clone();
        with_transformer(from, self.epsg, |t| t.geometry(&mut g))??;
        if self.northing_first {
            swap_axes(&mut g);
        }
        Ok(g)
    }

    /// `g` (in this CRS and axis order) in `to`, easting first.
    pub fn input(&self, mut g: Geometry<f64>, to: Epsg) -> Result<Geometry<f64>, CrsError> {
        if self.northing_first {
            swap_axes(&mut g);
        }
        with_transformer(self.epsg, to, |t| t.geometry(&mut g))??;
        Ok(g)
    }
}

/// Swaps x and y of every coordinate.
pub fn swap_axes(g: &mut Geometry<f64>) {
    let _ = try_for_each_coord_run::<()>(g, &mut |run| {
        run.iter_mut().for_each(|c| std::mem::swap(&mut c.x, &mut c.y));
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::Point;

    #[test]
    fn axis_orders() {
        let supported = [Epsg(4326), Epsg(3857), Epsg(6668), Epsg(6678)];
        let p = Geometry::Point(Point::new(-40_000.0, -20_000.0)); // zone X, easting first
        let crs84 = OgcCrs::parse(CRS84, &supported).unwrap();
        let Geometry::Point(a) = crs84.output(&p, Epsg(6678)).unwrap() else { panic!() };
        assert!((140.0..141.0).contains(&a.x()) && (39.0..40.0).contains(&a.y()), "{a:?}");
        let epsg4326 = OgcCrs::parse("http://www.opengis.net/def/crs/EPSG/0/4326", &supported).unwrap();
        let Geometry::Point(b) = epsg4326.output(&p, Epsg(6678)).unwrap() else { panic!() };
        assert_eq!((b.x(), b.y()), (a.y(), a.x()));
        let zone = OgcCrs::parse("[EPSG:6678]", &supported).unwrap();
        let Geometry::Point(c) = zone.output(&p, Epsg(6678)).unwrap() else { panic!() };
        assert_eq!((c.x(), c.y()), (-20_000.0, -40_000.0));
        let back = zone.input(Geometry::Point(c), Epsg(6678)).unwrap();
        assert_eq!(back, p);
        assert!(
            OgcCrs::parse("http://www.opengis.net/def/crs/EPSG/0/2451", &supported)
                .unwrap_err()
                .contains("not offered")
        );
        assert!(OgcCrs::parse("WGS84", &supported).is_err());
    }
}
