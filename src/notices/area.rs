//! A notice's area: what staff gave — a drawn GeoJSON polygon, one of the city's districts (地区,
//! the `districts` layer) or a buffer around a feature — resolved once, when the notice is
//! written, to a WGS 84 multipolygon that everything else reads: the CAP `<area>`, the map
//! overlay and push targeting ([`Area::meets`]).
//!
//! Distances are in metres on JGD2011's UTM zone of the city ([`metric_crs`]), which keeps scale
//! within 0.1 % across a municipality, whatever CRS the store uses.

use geo::{BoundingRect, Buffer, CoordsIter, Distance, Euclidean, Validation};
use geo_types::{Geometry, MultiPolygon, Point};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crs::{Epsg, Transformer};
use crate::engine::Engine;
use crate::feature::AttrValue;

/// The layer of the city's districts, and its attributes a notice may name a district by.
pub const DISTRICTS: &str = "districts";
const DISTRICT_KEYS: [&str; 3] = ["name", "name_en", "code"];

/// The widest buffer taken, in metres.
pub const MAX_BUFFER_M: f64 = 20_000.0;
/// The most vertices a drawn area may have.
pub const MAX_VERTICES: usize = 10_000;

/// A resolved area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Area {
    /// The request's `area`, as given.
    pub spec: Value,
    /// What the area is, in words (CAP `areaDesc`).
    pub desc: String,
    pub desc_en: String,
    /// A Polygon or MultiPolygon in WGS 84.
    pub geometry: geojson::Geometry,
    /// The district's code (or name, without one), for a CAP geocode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// `[lon, lat, radius_m]` when the area is a buffer around a point: a CAP circle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circle: Option<[f64; 3]>,
}

/// JGD2011 / UTM zone of a longitude (zones 51–56 cover Japan: EPSG 6688–6692, and 51 at 6688).
pub fn metric_crs(lon: f64) -> Epsg {
    let zone = (((lon + 180.0) / 6.0).floor() as u32 + 1).clamp(51, 55);
    Epsg(6688 + zone - 51)
}

/// What resolving an area reads.
pub struct Context<'a> {
    pub engine: &'a Engine,
    pub store_crs: Epsg,
    /// The city's `[west, south, east, north]`: an area must meet it.
    pub bounds: [f64; 4],
}

impl Context<'_> {
    fn metric(&self) -> Epsg {
        metric_crs((self.bounds[0] + self.bounds[2]) / 2.0)
    }
}

fn err(message: impl std::fmt::Display) -> String {
    format!("area: {message}")
}

/// Resolves a request's `area` (see [`crate::notices::model::Draft::area`]).
pub fn resolve(spec: &Value, ctx: &Context<'_>) -> Result<Area, String> {
    let obj = spec.as_object().ok_or_else(|| err("must be a JSON object"))?;
    let (geometry, desc, desc_en, district, circle) = if obj.contains_key("type") {
        let g = drawn(spec)?;
        (g, "指定区域".to_owned(), "Designated area".to_owned(), None, None)
    } else if let Some(name) = obj.get("district") {
        let name = name.as_str().ok_or_else(|| err("district must be a string"))?;
        let (g, name_ja, name_en, code) = district(name, ctx)?;
        (g, name_ja, name_en, Some(code), None)
    } else if obj.contains_key("buffer_m") {
        buffer(obj, ctx)?
    } else {
        return Err(err(
            "must be a GeoJSON Polygon or MultiPolygon, {\"district\": name} or {\"buffer_m\": metres, \"layer\": id, \"fid\": id}",
        ));
    };
    let [w, s, e, n] = ctx.bounds;
    match geometry.bounding_rect() {
        Some(r) if r.min().x <= e && r.max().x >= w && r.min().y <= n && r.max().y >= s => {}
        _ => return Err(err(format!("the area must meet the city's extent [{w}, {s}, {e}, {n}] (degrees)"))),
    }
    Ok(Area { spec: spec.clone(), desc, desc_en, geometry: geojson::Geometry::from(&geometry), district, circle })
}

/// A drawn area: a valid Polygon or MultiPolygon in WGS 84.
fn drawn(spec: &Value) -> Result<MultiPolygon<f64>, String> {
    let g: geojson::Geometry = serde_json::from_value(spec.clone()).map_err(|e| err(format!("not GeoJSON: {e}")))?;
    let g = Geometry::try_from(g).map_err(|e| err(e.to_string()))?;
    let mp = match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        _ => {
            return Err(err(format!(
                "a drawn area must be a Polygon or MultiPolygon, not a {}; for an area around a point or line use {{\"buffer_m\", \"layer\", \"fid\"}}",
                spec["type"]
            )));
        }
    };
    if mp.coords_count() > MAX_VERTICES {
        return Err(err(format!("at most {MAX_VERTICES} vertices")));
    }
    if mp.coords_iter().any(|c| !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y)) {
        return Err(err("coordinates must be longitude, latitude in WGS 84 degrees"));
    }
    mp.check_validation().map_err(|e| err(format!("invalid polygon: {e}")))?;
    if geo::Area::unsigned_area(&mp) == 0.0 {
        return Err(err("the polygon has no area"));
    }
    Ok(mp)
}

fn text(a: Option<&AttrValue>) -> Option<&str> {
    match a {
        Some(AttrValue::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

/// A district by name, English name or code: its outline in WGS 84, names and code.
fn district(name: &str, ctx: &Context<'_>) -> Result<(MultiPolygon<f64>, String, String, String), String> {
    let layer = ctx
        .engine
        .layer(DISTRICTS)
        .ok_or_else(|| err(format!("there is no {DISTRICTS} layer to choose a district from")))?;
    let catalog = ctx.engine.catalog();
    let def = catalog.get(DISTRICTS).expect("an engine layer is in the catalog");
    let index = |key: &str| def.attribute_index(key);
    let value =
        |f: &crate::feature::Feature, key: &str| index(key).and_then(|i| text(f.attributes.get(i))).map(str::to_owned);
    let found = layer.features_by_id().find(|f| DISTRICT_KEYS.iter().any(|k| value(f, k).as_deref() == Some(name)));
    let Some(f) = found else {
        let names: Vec<String> = layer.features_by_id().filter_map(|f| value(&f, "name")).take(30).collect();
        return Err(err(format!("no district {name:?}; the districts are {}", names.join(", "))));
    };
    let mut g = f.geometry.clone();
    Transformer::new(ctx.store_crs, Epsg::WGS84).and_then(|t| t.geometry(&mut g)).map_err(err)?;
    let mp = match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        _ => return Err(err(format!("district {name:?} is not a polygon"))),
    };
    let ja = value(&f, "name").unwrap_or_else(|| name.to_owned());
    let en = value(&f, "name_en").unwrap_or_else(|| ja.clone());
    let code = value(&f, "code").unwrap_or_else(|| ja.clone());
    Ok((mp, ja, en, code))
}

type Resolved = (MultiPolygon<f64>, String, String, Option<String>, Option<[f64; 3]>);

/// A buffer of `buffer_m` metres around feature `fid` of `layer`.
fn buffer(obj: &serde_json::Map<String, Value>, ctx: &Context<'_>) -> Result<Resolved, String> {
    let m = obj.get("buffer_m").and_then(Value::as_f64).filter(|m| *m > 0.0 && *m <= MAX_BUFFER_M);
    let m = m.ok_or_else(|| err(format!("buffer_m must be a number of metres in (0, {MAX_BUFFER_M}]")))?;
    let layer_id = obj.get("layer").and_then(Value::as_str).ok_or_else(|| err("a buffer needs \"layer\" (an id)"))?;
    let fid = obj.get("fid").and_then(Value::as_i64).ok_or_else(|| err("a buffer needs \"fid\" (a feature id)"))?;
    if let Some(extra) = obj.keys().find(|k| !["buffer_m", "layer", "fid"].contains(&k.as_str())) {
        return Err(err(format!("unknown member {extra:?} in a buffer")));
    }
    let layer = ctx.engine.layer(layer_id).ok_or_else(|| err(format!("no layer {layer_id:?}")))?;
    let f = layer.get(fid).ok_or_else(|| err(format!("layer {layer_id:?} has no feature {fid}")))?;
    let catalog = ctx.engine.catalog();
    let def = catalog.get(layer_id).expect("an engine layer is in the catalog");
    let metric = ctx.metric();
    let mut g = f.geometry.clone();
    Transformer::new(ctx.store_crs, metric).and_then(|t| t.geometry(&mut g)).map_err(err)?;
    let mut buffered = Geometry::MultiPolygon(g.buffer(m));
    let to_wgs84 = Transformer::new(metric, Epsg::WGS84).map_err(err)?;
    to_wgs84.geometry(&mut buffered).map_err(err)?;
    let Geometry::MultiPolygon(mp) = buffered else { unreachable!("a transform keeps the geometry's type") };
    if mp.0.is_empty() {
        return Err(err(format!("feature {fid} of {layer_id:?} has no extent to buffer")));
    }
    let circle = match &g {
        Geometry::Point(p) => {
            let (lon, lat) = to_wgs84.point(p.x(), p.y()).map_err(err)?;
            Some([lon, lat, m])
        }
        _ => None,
    };
    let name = ["name", "station"].iter().find_map(|a| def.attribute_index(a).and_then(|i| text(f.attributes.get(i))));
    let (what_ja, what_en) = match name {
        Some(n) => (n.to_owned(), n.to_owned()),
        None => (format!("{} {fid}", def.title.ja), format!("{} {fid}", def.title.en)),
    };
    Ok((mp, format!("{what_ja}から{m} m以内"), format!("Within {m} m of {what_en}"), None, circle))
}

impl Area {
    /// The area as geo's multipolygon in WGS 84.
    pub fn polygons(&self) -> MultiPolygon<f64> {
        match Geometry::try_from(self.geometry.clone()) {
            Ok(Geometry::Polygon(p)) => MultiPolygon(vec![p]),
            Ok(Geometry::MultiPolygon(mp)) => mp,
            _ => MultiPolygon(vec![]),
        }
    }
}

/// An area in metres, to test places against: [`Area::meets`] without re-projecting the area
/// for every place.
pub struct Target {
    area: MultiPolygon<f64>,
    to_metric: Transformer,
}

impl Target {
    pub fn new(area: &Area) -> Result<Self, crate::crs::CrsError> {
        let mp = area.polygons();
        let lon = mp.bounding_rect().map_or(139.0, |r| r.center().x);
        let metric = metric_crs(lon);
        let mut g = Geometry::MultiPolygon(mp);
        Transformer::new(Epsg::WGS84, metric)?.geometry(&mut g)?;
        let Geometry::MultiPolygon(area) = g else { unreachable!("a transform keeps the geometry's type") };
        Ok(Self { area, to_metric: Transformer::new(Epsg::WGS84, metric)? })
    }

    /// Whether the circle of `radius_m` around `(lon, lat)` meets the area (touching counts).
    pub fn meets(&self, lon: f64, lat: f64, radius_m: f64) -> bool {
        let Ok((x, y)) = self.to_metric.point(lon, lat) else { return false };
        Euclidean.distance(&Point::new(x, y), &self.area) <= radius_m
    }
}
