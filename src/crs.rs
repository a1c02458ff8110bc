//! Coordinate reference systems, through PROJ.
//!
//! machizu stores geometry in the city's CRS (by default JGD2011 plane rectangular zone X,
//! EPSG:6678, where Obanazawa's surveys and cadastre live) and serves tiles in Web Mercator.
//! This module names CRSs by EPSG code and converts coordinates between them. PROJ handles are
//! not thread-safe, so a [`Transformer`] is created where it is used and not shared.
//!
//! Axis order is always (x = easting or longitude, y = northing or latitude): PROJ's
//! "normalised for visualisation" order, whatever the CRS's official axis order says.

use std::ffi::{CStr, CString};

/// Errors from CRS parsing and PROJ.
#[derive(Debug, thiserror::Error)]
pub enum CrsError {
    #[error("invalid CRS {0:?}: expected EPSG:<code>")]
    BadCode(String),
    #[error("PROJ does not know {0}")]
    Unknown(String),
    #[error("cannot transform from {from} to {to}: {message}")]
    Transform { from: String, to: String, message: String },
}

/// A CRS named by its EPSG code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Epsg(pub u32);

impl Epsg {
    pub const WGS84: Epsg = Epsg(4326);
    pub const WEB_MERCATOR: Epsg = Epsg(3857);
    pub const JGD2011_ZONE_X: Epsg = Epsg(6678);

    /// Parses `EPSG:6678` (case-insensitive) or a bare code.
    ///
    /// ```
    /// use machizu::crs::Epsg;
    /// assert_eq!(Epsg::parse("EPSG:6678").unwrap(), Epsg(6678));
    /// assert_eq!(Epsg::parse("epsg:4326").unwrap(), Epsg(4326));
    /// assert!(Epsg::parse("zone 10").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, CrsError> {
        let t = s.trim();
        let code = t.get(..5).filter(|p| p.eq_ignore_ascii_case("EPSG:")).map_or(t, |_| &t[5..]);
        code.parse().map(Epsg).map_err(|_| CrsError::BadCode(s.to_owned()))
    }

    /// Parses a CRS as GML and OGC APIs name it: `EPSG:6697`, `urn:ogc:def:crs:EPSG::6697`,
    /// `http://www.opengis.net/def/crs/EPSG/0/10169`.
    ///
    /// ```
    /// use machizu::crs::Epsg;
    /// assert_eq!(Epsg::from_uri("http://www.opengis.net/def/crs/EPSG/0/10169"), Some(Epsg(10169)));
    /// assert_eq!(Epsg::from_uri("urn:ogc:def:crs:EPSG::6697"), Some(Epsg(6697)));
    /// assert_eq!(Epsg::from_uri("EPSG:6668"), Some(Epsg(6668)));
    /// assert_eq!(Epsg::from_uri("urn:ogc:def:crs:OGC:1.3:CRS84"), None);
    /// ```
    pub fn from_uri(s: &str) -> Option<Self> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        let at = upper.find("EPSG")?;
        let code = t[at + 4..].trim_start_matches(|c: char| !c.is_ascii_digit()).trim_start_matches("0/");
        let code = code.rsplit([':', '/']).next()?;
        code.parse().ok().map(Epsg)
    }

    /// The horizontal part of a compound CRS with height, which is what machizu keeps:
    /// JGD2011 + height (6697) → JGD2011 (6668), JGD2000 + height (6696) → JGD2000 (4612), and
    /// JGD2011 plane rectangular zone N + height (10162–10180, which PROJ 9.1 does not know yet)
    /// → zone N (6669–6687). Others are returned as they are.
    ///
    /// ```
    /// use machizu::crs::Epsg;
    /// assert_eq!(Epsg(10169).horizontal(), Epsg(6676)); // zone VIII, PLATEAU Nagaoka
    /// assert_eq!(Epsg(10170).horizontal(), Epsg(6677)); // zone IX
    /// assert_eq!(Epsg(6697).horizontal(), Epsg(6668));
    /// assert_eq!(Epsg(6678).horizontal(), Epsg(6678));
    /// ```
    pub fn horizontal(self) -> Self {
        match self.0 {
            6697 => Epsg(6668),
            6696 => Epsg(4612),
            c @ 10162..=10180 => Epsg(6669 + (c - 10162)),
            _ => self,
        }
    }

    /// The CRS's name and OGC WKT 1 (GDAL flavour), as GeoPackage's `gpkg_spatial_ref_sys` wants.
    pub fn describe(self) -> Result<(String, String), CrsError> {
        // The `proj` crate offers no WKT export, so this goes to proj-sys directly.
        // SAFETY (closure): `pj` is a valid CRS for the call; returned strings are copied out.
        self.with_pj(|ctx, pj| unsafe {
            let name = proj_sys::proj_get_name(pj);
            let wkt = proj_sys::proj_as_wkt(ctx, pj, proj_sys::PJ_WKT_TYPE_PJ_WKT1_GDAL, std::ptr::null());
            (!name.is_null() && !wkt.is_null()).then(|| {
                (
                    CStr::from_ptr(name).to_string_lossy().into_owned(),
                    CStr::from_ptr(wkt).to_string_lossy().into_owned(),
                )
            })
        })
    }

    /// Whether the CRS's official first axis points north (latitude first for EPSG:4326 and
    /// 6668, northing `X` first for the plane rectangular zones): how OGC APIs and GML write
    /// coordinates in it, unlike CRS84 or Web Mercator. Asked of PROJ once per code.
    ///
    /// ```
    /// use machizu::crs::Epsg;
    /// assert!(Epsg(6678).northing_first().unwrap());
    /// assert!(Epsg(4326).northing_first().unwrap());
    /// assert!(!Epsg(3857).northing_first().unwrap());
    /// ```
    pub fn northing_first(self) -> Result<bool, CrsError> {
        static KNOWN: std::sync::Mutex<Vec<(Epsg, bool)>> = std::sync::Mutex::new(Vec::new());
        if let Some(&(_, n)) = KNOWN.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(c, _)| *c == self) {
            return Ok(n);
        }
        // SAFETY (closure): `pj` is a valid CRS; the coordinate system is checked for null and
        // destroyed; the direction string is read before it is.
        let north = self.with_pj(|ctx, pj| unsafe {
            let cs = proj_sys::proj_crs_get_coordinate_system(ctx, pj);
            if cs.is_null() {
                return None;
            }
            let mut direction = std::ptr::null();
            let null = std::ptr::null_mut();
            let ok =
                proj_sys::proj_cs_get_axis_info(ctx, cs, 0, null, null, &mut direction, null.cast(), null, null, null);
            let north = (ok != 0 && !direction.is_null()).then(|| {
                let d = CStr::from_ptr(direction).to_string_lossy();
                d.eq_ignore_ascii_case("north") || d.eq_ignore_ascii_case("south")
            });
            proj_sys::proj_destroy(cs);
            north
        })?;
        KNOWN.lock().unwrap_or_else(|e| e.into_inner()).push((self, north));
        Ok(north)
    }

    /// Runs `f` on this CRS as a PROJ object in a private context; `None` from `f` means PROJ
    /// could not answer.
    fn with_pj<T>(
        self,
        f: impl FnOnce(*mut proj_sys::PJ_CONTEXT, *mut proj_sys::PJconsts) -> Option<T>,
    ) -> Result<T, CrsError> {
        let def = CString::new(self.to_string()).map_err(|_| CrsError::BadCode(self.to_string()))?;
        // SAFETY: a private PROJ context is created and destroyed here; the object is checked
        // for null before `f` sees it and destroyed after.
        let out = unsafe {
            let ctx = proj_sys::proj_context_create();
            let pj = proj_sys::proj_create(ctx, def.as_ptr());
            let out = if pj.is_null() { None } else { f(ctx, pj) };
            if !pj.is_null() {
                proj_sys::proj_destroy(pj);
            }
            proj_sys::proj_context_destroy(ctx);
            out
        };
        out.ok_or_else(|| CrsError::Unknown(self.to_string()))
    }
}

impl std::fmt::Display for Epsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EPSG:{}", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Epsg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Epsg::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Converts coordinates from one CRS to another. Not `Send`: create one per thread or task.
pub struct Transformer {
    proj: Option<proj::Proj>,
    from: Epsg,
    to: Epsg,
}

impl Transformer {
    pub fn new(from: Epsg, to: Epsg) -> Result<Self, CrsError> {
        let proj = if from == to {
            None
        } else {
            let p = proj::Proj::new_known_crs(&from.to_string(), &to.to_string(), None).map_err(|e| {
                CrsError::Transform { from: from.to_string(), to: to.to_string(), message: e.to_string() }
            })?;
            Some(p)
        };
        Ok(Self { proj, from, to })
    }

    fn error(&self, e: impl std::fmt::Display) -> CrsError {
        CrsError::Transform { from: self.from.to_string(), to: self.to.to_string(), message: e.to_string() }
    }

    /// Converts one coordinate pair.
    ///
    /// ```
    /// use machizu::crs::{Epsg, Transformer};
    /// // The origin of zone X is 40°N 140°50'E.
    /// let t = Transformer::new(Epsg::JGD2011_ZONE_X, Epsg(6668)).unwrap();
    /// let (lon, lat) = t.point(0.0, 0.0).unwrap();
    /// assert!((lon - (140.0 + 50.0 / 60.0)).abs() < 1e-9 && (lat - 40.0).abs() < 1e-9);
    /// ```
    pub fn point(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        match &self.proj {
            None => Ok((x, y)),
            Some(p) => p.convert((x, y)).map_err(|e| self.error(e)),
        }
    }

    /// Converts a slice of coordinate pairs in place.
    pub fn points(&self, pts: &mut [(f64, f64)]) -> Result<(), CrsError> {
        match &self.proj {
            None => Ok(()),
            Some(p) => p.convert_array(pts).map(|_| ()).map_err(|e| self.error(e)),
        }
    }

    /// Converts every coordinate of a geometry in place.
    pub fn geometry(&self, g: &mut geo_types::Geometry<f64>) -> Result<(), CrsError> {
        let Some(p) = &self.proj else { return Ok(()) };
        try_for_each_coord_run(g, &mut |run| p.convert_array(run).map(|_| ()).map_err(|e| self.error(e)))
    }
}

/// A function over one run of coordinates (a ring, a line, a point).
/// Runs `f` with a transformer from `from` to `to`, made once per thread and kept (creating a
/// PROJ transformation costs far more than using one; request handlers call this).
pub fn with_transformer<T>(from: Epsg, to: Epsg, f: impl FnOnce(&Transformer) -> T) -> Result<T, CrsError> {
    thread_local! {
        static CACHE: std::cell::RefCell<Vec<std::rc::Rc<Transformer>>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let found = CACHE.with_borrow(|c| c.iter().find(|t| t.from == from && t.to == to).cloned());
    let t = match found {
        Some(t) => t,
        None => {
            let t = std::rc::Rc::new(Transformer::new(from, to)?);
            CACHE.with_borrow_mut(|c| c.push(t.clone()));
            t
        }
    };
    Ok(f(&t))
}

pub type CoordRunFn<'a, E> = dyn FnMut(&mut [geo_types::Coord<f64>]) -> Result<(), E> + 'a;

/// Calls `f` on every run of coordinates of a geometry (each ring, line and point), in place.
///
/// (geo's `MapCoordsInPlace` cannot be used on `Geometry` with a capturing closure: its
/// recursion through `GeometryCollection` never stops instantiating.)
pub fn try_for_each_coord_run<E>(g: &mut geo_types::Geometry<f64>, f: &mut CoordRunFn<'_, E>) -> Result<(), E> {
    use geo_types::Geometry as G;
    let polygon = |p: &mut geo_types::Polygon<f64>, f: &mut CoordRunFn<'_, E>| {
        let mut r = Ok(());
        p.exterior_mut(|l| r = f(&mut l.0));
        r?;
        let mut r = Ok(());
        p.interiors_mut(|hs| {
            for h in hs {
                if r.is_ok() {
                    r = f(&mut h.0);
                }
            }
        });
        r
    };
    match g {
        G::Point(p) => f(std::slice::from_mut(&mut p.0)),
        G::Line(l) => {
            let mut pts = [l.start, l.end];
            f(&mut pts)?;
            (l.start, l.end) = (pts[0], pts[1]);
            Ok(())
        }
        G::LineString(l) => f(&mut l.0),
        G::Polygon(p) => polygon(p, f),
        G::MultiPoint(mp) => mp.0.iter_mut().try_for_each(|p| f(std::slice::from_mut(&mut p.0))),
        G::MultiLineString(ml) => ml.0.iter_mut().try_for_each(|l| f(&mut l.0)),
        G::MultiPolygon(mp) => mp.0.iter_mut().try_for_each(|p| polygon(p, f)),
        G::GeometryCollection(gc) => gc.0.iter_mut().try_for_each(|g| try_for_each_coord_run(g, f)),
        G::Rect(r) => {
            let mut pts = [r.min(), r.max()];
            f(&mut pts)?;
            *r = geo_types::Rect::new(pts[0], pts[1]);
            Ok(())
        }
        G::Triangle(t) => {
            let mut pts = [t.v1(), t.v2(), t.v3()];
            f(&mut pts)?;
            *t = geo_types::Triangle::new(pts[0], pts[1], pts[2]);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_zone_x() {
        let (name, wkt) = Epsg::JGD2011_ZONE_X.describe().unwrap();
        assert_eq!(name, "JGD2011 / Japan Plane Rectangular CS X");
        assert!(wkt.starts_with("PROJCS[\"JGD2011 / Japan Plane Rectangular CS X\""));
        assert!(wkt.contains("AUTHORITY[\"EPSG\",\"6678\"]"));
    }

    #[test]
    fn unknown_code_is_an_error() {
        assert!(matches!(Epsg(999_999).describe(), Err(CrsError::Unknown(_))));
        assert!(Transformer::new(Epsg(999_999), Epsg::WEB_MERCATOR).is_err());
    }

    #[test]
    fn zone_x_to_mercator_matches_the_closed_form() {
        let to_ll = Transformer::new(Epsg::JGD2011_ZONE_X, Epsg::WGS84).unwrap();
        let to_m = Transformer::new(Epsg::JGD2011_ZONE_X, Epsg::WEB_MERCATOR).unwrap();
        let (lon, lat) = to_ll.point(-37_000.0, -155_000.0).unwrap();
        let (mx, my) = to_m.point(-37_000.0, -155_000.0).unwrap();
        let (ex, ey) = crate::tile::coord::lonlat_to_mercator(lon, lat);
        assert!((mx - ex).abs() < 1e-3 && (my - ey).abs() < 1e-3);
    }
}
