//! `…/items`: reading the query parameters of OGC API – Features (Parts 1–3) and choosing one
//! page of a layer's features from memory.
//!
//! Features are always in ascending id order, so `offset` paging is stable while the layer
//! does not change. Candidates come from the R-tree when `bbox` or a spatial filter bounds
//! them, otherwise from the layer's id order; then `bbox` (exactly, as a polygon in the store's
//! CRS), `datetime`, property equality and `filter` are applied, and `numberMatched` counts
//! every feature that passes.

use chrono::{DateTime, NaiveDate, Utc};
use geo::{BoundingRect, Intersects};
use geo_types::{Geometry, LineString, Polygon};

use super::crs::OgcCrs;
use super::filter::{self, Context, Filter, Lang, Literal};
use crate::catalog::{AttrType, Audience, LayerDef};
use crate::crs::Epsg;
use crate::engine::LayerData;
use crate::engine::layer::Slot;
use crate::feature::{AttrValue, Feature, FeatureId};

/// `limit` when none is given, and the most allowed.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;

/// The parameters every items request may carry (others must be queryable properties).
pub const PARAMETERS: &[&str] =
    &["limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter", "filter-lang", "filter-crs", "f"];

/// A wrong parameter, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

impl From<filter::FilterError> for ParamError {
    fn from(e: filter::FilterError) -> Self {
        ParamError(format!("filter: {}", e.0))
    }
}

/// An items request, read and checked.
#[derive(Debug)]
pub struct ItemsQuery {
    pub limit: usize,
    pub offset: usize,
    /// The output CRS (`crs`, CRS84 by default).
    pub crs: OgcCrs,
    /// `bbox` as a polygon in the store's CRS.
    pub bbox: Option<Geometry<f64>>,
    pub datetime: Option<Interval>,
    /// `property=value` parameters.
    pub equals: Vec<(usize, Literal)>,
    pub filter: Option<Filter>,
}

impl ItemsQuery {
    /// Reads the query `pairs` for `layer` as `audience` sees it. `crss` are the CRSs offered.
    pub fn parse(
        pairs: &[(String, String)],
        layer: &LayerDef,
        audience: Audience,
        store_crs: Epsg,
        crss: &[Epsg],
    ) -> Result<Self, ParamError> {
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(j, _)| j == k) {
                return Err(ParamError(format!("parameter {k} is given twice")));
            }
        }
        let crs_param = |name: &str| match get(name) {
            Some(uri) => OgcCrs::parse(uri, crss).map_err(|e| ParamError(format!("{name}: {e}"))),
            None => Ok(OgcCrs::crs84()),
        };
        let limit =
            match get("limit") {
                Some(v) => v.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                    ParamError(format!("limit must be a whole number from 1 to {MAX_LIMIT}, got {v:?}"))
                })?,
                None => DEFAULT_LIMIT,
            };
        let offset = match get("offset") {
            Some(v) => {
                v.parse::<usize>().map_err(|_| ParamError(format!("offset must be a whole number, got {v:?}")))?
            }
            None => 0,
        };
        let crs = crs_param("crs")?;
        let bbox_crs = crs_param("bbox-crs")?;
        if get("bbox-crs").is_some() && get("bbox").is_none() {
            return Err(ParamError("bbox-crs is given without bbox".into()));
        }
        let bbox = get("bbox").map(|v| bbox(v, &bbox_crs, store_crs)).transpose()?;
        let datetime = match get("datetime") {
            Some(v) => {
                if temporal_attribute(layer, audience).is_none() {
                    return Err(ParamError(format!("layer {} has no time to filter by datetime", layer.id)));
                }
                Some(Interval::parse(v)?)
            }
            None => None,
        };
        let mut equals = Vec::new();
        for (k, v) in pairs.iter().filter(|(k, _)| !PARAMETERS.contains(&k.as_str())) {
            let Some((i, a)) = layer.visible_attributes(audience).find(|(_, a)| a.name == *k) else {
                return Err(ParamError(format!(
                    "unknown parameter {k:?}: use {} or a queryable property",
                    PARAMETERS.join(", ")
                )));
            };
            equals.push((
                i,
                literal(v, a.kind)
                    .ok_or_else(|| ParamError(format!("{k} must be {}, got {v:?}", kind_name(a.kind))))?,
            ));
        }
        if let Some(f) = get("f").filter(|f| !matches!(*f, "json" | "geojson")) {
            return Err(ParamError(format!("f={f} is not offered: use f=json")));
        }
        let filter = match get("filter") {
            Some(text) => {
                let lang = Lang::parse(get("filter-lang").unwrap_or("cql2-text"))?;
                let filter_crs = crs_param("filter-crs")?;
                let cx = Context { layer, audience, filter_crs: &filter_crs, store_crs };
                Some(Filter::parse(text, lang, &cx)?)
            }
            None if get("filter-lang").is_some() || get("filter-crs").is_some() => {
                return Err(ParamError("filter-lang and filter-crs need a filter".into()));
            }
            None => None,
        };
        Ok(Self { limit, offset, crs, bbox, datetime, equals, filter })
    }

    fn matches(&self, f: &Feature, time_attr: Option<usize>) -> bool {
        self.bbox.as_ref().is_none_or(|b| f.geometry.intersects(b))
            && self.equals.iter().all(|(i, l)| equal(&f.attributes[*i], l))
            && self.datetime.as_ref().is_none_or(|t| time_attr.is_some_and(|i| t.meets(&f.attributes[i])))
            && self.filter.as_ref().is_none_or(|flt| flt.matches(f))
    }
}

/// One page of matching features.
pub struct Page {
    pub matched: usize,
    pub features: Vec<Feature>,
}

impl ItemsQuery {
    /// Whether the query keeps every feature (only pages them).
    fn keeps_all(&self) -> bool {
        self.bbox.is_none() && self.equals.is_empty() && self.datetime.is_none() && self.filter.is_none()
    }
}

/// The page of `layer` that `q` asks for.
pub fn select(layer: &LayerData, q: &ItemsQuery, audience: Audience) -> Page {
    if q.keeps_all() {
        // Nothing to test: the page is decoded, not the layer.
        let slots = layer.slots_by_id().iter().skip(q.offset).take(q.limit);
        return Page { matched: layer.len(), features: slots.map(|&s| layer.feature(s)).collect() };
    }
    let time_attr = temporal_attribute(&layer.def, audience);
    let bounds = [q.bbox.as_ref().and_then(|b| b.bounding_rect()), q.filter.as_ref().and_then(Filter::bounds)]
        .into_iter()
        .flatten()
        .reduce(filter::intersection);
    let mut matched = 0;
    let mut features = Vec::with_capacity(q.limit.min(1024));
    let mut take = |f: Feature| {
        if q.matches(&f, time_attr) {
            if matched >= q.offset && features.len() < q.limit {
                features.push(f);
            }
            matched += 1;
        }
    };
    match bounds {
        Some(area) => {
            let mut candidates: Vec<(FeatureId, Slot)> = layer.in_box(area).map(|s| (layer.id(s), s)).collect();
            candidates.sort_unstable_by_key(|&(id, _)| id);
            candidates.into_iter().for_each(|(_, s)| take(layer.feature(s)));
        }
        None => layer.slots_by_id().iter().for_each(|&s| take(layer.feature(s))),
    }
    Page { matched, features }
}

/// The attribute `datetime` filters on: the layer's first date or time attribute the caller
/// may see.
pub fn temporal_attribute(layer: &LayerDef, audience: Audience) -> Option<usize> {
    layer
        .visible_attributes(audience)
        .find(|(_, a)| matches!(a.kind, AttrType::Date | AttrType::DateTime))
        .map(|(i, _)| i)
}

fn kind_name(kind: AttrType) -> &'static str {
    match kind {
        AttrType::Integer | AttrType::Real => "a number",
        AttrType::Boolean => "true or false",
        AttrType::Date => "a date (YYYY-MM-DD)",
        AttrType::DateTime => "a date and time (RFC 3339)",
        _ => "text",
    }
}

/// A query-parameter value as a literal of an attribute's type.
fn literal(v: &str, kind: AttrType) -> Option<Literal> {
    match kind {
        AttrType::Integer | AttrType::Real => v.parse::<f64>().ok().filter(|n| n.is_finite()).map(Literal::Number),
        AttrType::Boolean => v.parse::<bool>().ok().map(Literal::Bool),
        AttrType::DateTime => filter::instant(v).map(Literal::Instant),
        _ => Some(Literal::Text(v.to_owned())),
    }
}

fn equal(v: &AttrValue, l: &Literal) -> bool {
    filter::compare(v, l).is_some_and(|o| o.is_eq())
}

/// `bbox=minx,miny,maxx,maxy` (or 6 numbers with heights) in `crs`, as a polygon in the
/// store's CRS: its edges are densified before the transformation, since a straight edge in
/// degrees is a curve in the plane rectangular zone.
fn bbox(v: &str, crs: &OgcCrs, store_crs: Epsg) -> Result<Geometry<f64>, ParamError> {
    let n: Vec<f64> = v
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| ParamError(format!("bbox must be 4 or 6 comma-separated numbers, got {v:?}")))?;
    let (x0, y0, x1, y1) = match n.as_slice() {
        [a, b, c, d] | [a, b, _, c, d, _] => (*a, *b, *c, *d),
        _ => return Err(ParamError(format!("bbox must be 4 or 6 numbers, got {}", n.len()))),
    };
    // In the CRS's own axis order, the first pair is the lower corner (no bbox of a Japanese
    // city crosses the antimeridian).
    if x0 > x1 || y0 > y1 {
        return Err(ParamError(format!("bbox corners must be lower then upper, got {v:?}")));
    }
    const STEPS: usize = 16;
    let mut ring = Vec::with_capacity(4 * STEPS + 1);
    let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
    for w in corners.windows(2) {
        for s in 0..STEPS {
            let t = s as f64 / STEPS as f64;
            ring.push((w[0].0 + (w[1].0 - w[0].0) * t, w[0].1 + (w[1].1 - w[0].1) * t));
        }
    }
    ring.push((x0, y0));
    let polygon = Geometry::Polygon(Polygon::new(LineString::from(ring), Vec::new()));
    crs.input(polygon, store_crs).map_err(|e| ParamError(format!("bbox: {e}")))
}

/// A `datetime` parameter: an instant, a date, or an interval `start/end` with `..` open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    start: Option<DateTime<Utc>>,
    /// Exclusive.
    end: Option<DateTime<Utc>>,
}

impl Interval {
    pub fn parse(v: &str) -> Result<Self, ParamError> {
        let bad = || {
            ParamError(format!("datetime must be a date, a time (RFC 3339) or start/end with .. for open, got {v:?}"))
        };
        let bound = |s: &str| -> Result<Option<Span>, ParamError> {
            if s.is_empty() || s == ".." { Ok(None) } else { span(s).map(Some).ok_or_else(bad) }
        };
        let interval = match v.split_once('/') {
            Some((a, b)) => Self { start: bound(a)?.map(|(s, _)| s), end: bound(b)?.map(|(_, e)| e) },
            None => {
                let (s, e) = span(v).ok_or_else(bad)?;
                Self { start: Some(s), end: Some(e) }
            }
        };
        if let (Some(s), Some(e)) = (interval.start, interval.end)
            && s >= e
        {
            return Err(ParamError(format!("datetime {v:?} ends before it starts")));
        }
        Ok(interval)
    }

    /// Whether a date or time value falls in the interval (a date covers its whole day).
    fn meets(&self, v: &AttrValue) -> bool {
        let AttrValue::Text(t) = v else { return false };
        let Some((s, e)) = span(t) else { return false };
        self.start.is_none_or(|start| e > start) && self.end.is_none_or(|end| s < end)
    }
}

/// A time span `[start, end)`.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// The span of a date (its day, UTC) or an instant.
fn span(s: &str) -> Option<Span> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        let t = t.with_timezone(&Utc);
        return Some((t, t + chrono::Duration::microseconds(1)));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let start = d.and_hms_opt(0, 0, 0)?.and_utc();
    Some((start, start + chrono::Duration::days(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        let day = AttrValue::text("2025-11-23");
        assert!(Interval::parse("2025-11-23").unwrap().meets(&day));
        assert!(Interval::parse("2025-11-23T12:00:00Z").unwrap().meets(&day));
        assert!(!Interval::parse("2025-11-24").unwrap().meets(&day));
        assert!(Interval::parse("2025-01-01/..").unwrap().meets(&day));
        assert!(Interval::parse("../2025-11-23").unwrap().meets(&day));
        assert!(!Interval::parse("../2025-11-22").unwrap().meets(&day));
        assert!(Interval::parse("2025-11-23T09:00:00+09:00/2025-11-23T09:00:01+09:00").unwrap().meets(&day));
        let t = AttrValue::text("2026-01-10T06:30:00+09:00");
        assert!(Interval::parse("2026-01-09T21:30:00Z").unwrap().meets(&t));
        assert!(!Interval::parse("2026-01-10T00:00:00Z/..").unwrap().meets(&t));
        assert!(Interval::parse("2025-13-01").is_err());
        assert!(Interval::parse("2025-02-01/2025-01-01").unwrap_err().0.contains("ends before"));
    }

    #[test]
    fn a_date_time_property_equals_the_same_instant_in_any_offset() {
        let l = literal("2026-12-23T23:00:00Z", AttrType::DateTime).unwrap();
        assert!(equal(&AttrValue::text("2026-12-24T08:00:00+09:00"), &l));
        assert!(!equal(&AttrValue::text("2026-12-24T08:00:01+09:00"), &l));
        assert!(literal("soon", AttrType::DateTime).is_none());
    }

    #[test]
    fn bbox_in_crs84_becomes_a_zone_polygon() {
        let crs = OgcCrs::crs84();
        let g = bbox("140.4,38.5,140.5,38.6", &crs, Epsg(6678)).unwrap();
        let r = g.bounding_rect().unwrap();
        assert!(r.width() > 8000.0 && r.width() < 9000.0, "{r:?}");
        assert!(bbox("140.4,38.5,140.5", &crs, Epsg(6678)).is_err());
        assert!(bbox("140.4,38.6,140.5,38.5", &crs, Epsg(6678)).unwrap_err().0.contains("lower then upper"));
        assert!(bbox("a,b,c,d", &crs, Epsg(6678)).is_err());
    }
}
