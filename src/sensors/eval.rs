//! Evaluates a parsed `$filter` ([`super::filter::Expr`]) against one entity, whose properties
//! (and those of related entities, through paths) come from a resolver as JSON.
//!
//! OData's rules: a comparison with `null` is false except `eq null`/`ne null`; text that is an
//! ISO 8601 time compares as a time against a time (an interval `start/end` by its start);
//! GeoJSON values are geometries. Distances and lengths are geodesic, in metres (haversine),
//! the unit OData gives `Edm.Geography`.

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use geo::{Closest, ClosestPoint, Distance, Haversine, Length, Relate};
use geo_types::{Geometry, Point};
use serde_json::Value;

use super::filter::{Expr, Function, Literal, Op};

/// A value while evaluating.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Num(f64),
    Text(String),
    Time(DateTime<FixedOffset>),
    Geo(Geometry<f64>),
    /// An object or array that is not a geometry.
    Json(Value),
}

/// Reads a property path of the entity being tested (`["name"]`, `["Datastream", "Thing",
/// "name"]`, `["properties", "owner"]`); an unknown path is an error, a missing value null.
pub type Resolve<'a> = dyn Fn(&[String]) -> Result<Value, String> + 'a;

/// Reads a path that may pass through entity sets (`Locations/location` of a Thing): every
/// value it reaches, one per related entity (none: null).
pub type ResolveAll<'a> = dyn Fn(&[String]) -> Result<Vec<Value>, String> + 'a;

/// The most combinations of values [`matches_any`] tries.
const MAX_COMBINATIONS: usize = 10_000;

/// Whether the entity passes the filter (a non-boolean result does not).
pub fn matches(expr: &Expr, resolve: &Resolve) -> Result<bool, String> {
    Ok(eval(expr, resolve)? == Val::Bool(true))
}

/// Whether the entity passes the filter for some choice of one value per path: a path through
/// an entity set matches when any member of the set does, as in FROST-Server.
pub fn matches_any(expr: &Expr, resolve: &ResolveAll) -> Result<bool, String> {
    let mut paths: Vec<&Vec<String>> = Vec::new();
    collect_paths(expr, &mut paths);
    let mut choices: Vec<Vec<Value>> = Vec::with_capacity(paths.len());
    for path in &paths {
        let mut values = resolve(path)?;
        if values.is_empty() {
            values.push(Value::Null);
        }
        choices.push(values);
    }
    let combinations = choices.iter().try_fold(1usize, |n, c| n.checked_mul(c.len())).unwrap_or(usize::MAX);
    if combinations > MAX_COMBINATIONS {
        return Err(format!(
            "the filter's paths reach {combinations} combinations of values; at most {MAX_COMBINATIONS}"
        ));
    }
    for k in 0..combinations {
        let mut rest = k;
        let picked: Vec<&Value> = choices
            .iter()
            .map(|c| {
                let v = &c[rest % c.len()];
                rest /= c.len();
                v
            })
            .collect();
        let lookup = |path: &[String]| -> Result<Value, String> {
            let at = paths.iter().position(|p| p.as_slice() == path).expect("every path was collected");
            Ok(picked[at].clone())
        };
        if matches(expr, &lookup)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn collect_paths<'a>(expr: &'a Expr, out: &mut Vec<&'a Vec<String>>) {
    match expr {
        Expr::Path(p) if !out.contains(&p) => out.push(p),
        Expr::Path(_) | Expr::Literal(_) => {}
        Expr::Not(e) | Expr::Negate(e) => collect_paths(e, out),
        Expr::Binary(_, a, b) => {
            collect_paths(a, out);
            collect_paths(b, out);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| collect_paths(a, out)),
    }
}

/// The value of `expr` for the entity.
pub fn eval(expr: &Expr, resolve: &Resolve) -> Result<Val, String> {
    Ok(match expr {
        Expr::Literal(l) => literal(l),
        Expr::Path(path) => from_json(resolve(path)?),
        Expr::Not(e) => match eval(e, resolve)? {
            Val::Bool(b) => Val::Bool(!b),
            _ => Val::Null,
        },
        Expr::Negate(e) => match eval(e, resolve)? {
            Val::Num(n) => Val::Num(-n),
            _ => Val::Null,
        },
        Expr::Binary(Op::And, a, b) => Val::Bool(truth(eval(a, resolve)?) && truth(eval(b, resolve)?)),
        Expr::Binary(Op::Or, a, b) => Val::Bool(truth(eval(a, resolve)?) || truth(eval(b, resolve)?)),
        Expr::Binary(op, a, b) => binary(*op, eval(a, resolve)?, eval(b, resolve)?),
        Expr::Call(f, args) => {
            let args = args.iter().map(|a| eval(a, resolve)).collect::<Result<Vec<_>, _>>()?;
            call(*f, args)?
        }
    })
}

fn truth(v: Val) -> bool {
    v == Val::Bool(true)
}

fn literal(l: &Literal) -> Val {
    match l {
        Literal::Null => Val::Null,
        Literal::Bool(b) => Val::Bool(*b),
        Literal::Number(n) => Val::Num(*n),
        Literal::Text(t) => Val::Text(t.clone()),
        Literal::Time(t) => Val::Time(*t),
        Literal::Geography(g) => Val::Geo(g.clone()),
    }
}

/// A JSON value as a filter value: GeoJSON geometries (and features) become geometries.
pub fn from_json(v: Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(b),
        Value::Number(n) => n.as_f64().map_or(Val::Null, Val::Num),
        Value::String(s) => Val::Text(s),
        Value::Object(ref o) if o.contains_key("type") => match geometry(&v) {
            Some(g) => Val::Geo(g),
            None => Val::Json(v),
        },
        other => Val::Json(other),
    }
}

/// The geometry of a GeoJSON geometry or feature.
pub fn geometry(v: &Value) -> Option<Geometry<f64>> {
    let gj: geojson::GeoJson = serde_json::from_value(v.clone()).ok()?;
    match gj {
        geojson::GeoJson::Geometry(g) => Geometry::try_from(g).ok(),
        geojson::GeoJson::Feature(f) => Geometry::try_from(f.geometry?).ok(),
        geojson::GeoJson::FeatureCollection(_) => None,
    }
}

/// A time, or the start of an interval `start/end`, in ISO 8601.
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    parse_instant(s.split('/').next()?)
}

/// An ISO 8601 instant with its offset: RFC 3339 (`2026-12-01T10:00:00+09:00`, `…Z`), or the
/// offset without a colon (`2010-12-23T10:20:00-0700`, as in the SensorThings standard's
/// examples).
pub fn parse_instant(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok().or_else(|| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").ok())
}

fn as_time(v: &Val) -> Option<DateTime<FixedOffset>> {
    match v {
        Val::Time(t) => Some(*t),
        Val::Text(s) => parse_time(s),
        _ => None,
    }
}

fn binary(op: Op, a: Val, b: Val) -> Val {
    use std::cmp::Ordering;
    if matches!(op, Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod) {
        return match (a, b) {
            (Val::Num(x), Val::Num(y)) => Val::Num(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                _ => x % y,
            }),
            _ => Val::Null,
        };
    }
    let order: Option<Ordering> = match (&a, &b) {
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        (Val::Null, _) | (_, Val::Null) => None,
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Time(_), _) | (_, Val::Time(_)) => as_time(&a).zip(as_time(&b)).map(|(x, y)| x.cmp(&y)),
        (Val::Text(x), Val::Text(y)) => Some(x.cmp(y)),
        (Val::Geo(x), Val::Geo(y)) => (x == y).then_some(Ordering::Equal),
        (Val::Json(x), Val::Json(y)) => (x == y).then_some(Ordering::Equal),
        _ => None,
    };
    let result = match op {
        Op::Eq => order == Some(Ordering::Equal),
        Op::Ne => order != Some(Ordering::Equal),
        _ if a == Val::Null || b == Val::Null => false,
        Op::Gt => order == Some(Ordering::Greater),
        Op::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
        Op::Lt => order == Some(Ordering::Less),
        Op::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
        _ => unreachable!("logical and arithmetic operators are handled above"),
    };
    Val::Bool(result)
}

fn text(v: &Val) -> Option<&str> {
    match v {
        Val::Text(s) => Some(s),
        _ => None,
    }
}

fn num(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => Some(*n),
        _ => None,
    }
}

fn geo(v: &Val) -> Option<&Geometry<f64>> {
    match v {
        Val::Geo(g) => Some(g),
        _ => None,
    }
}

fn call(f: Function, args: Vec<Val>) -> Result<Val, String> {
    use Function as F;
    let a = args.first().unwrap_or(&Val::Null);
    let b = args.get(1).unwrap_or(&Val::Null);
    let opt = |v: Option<Val>| v.unwrap_or(Val::Null);
    let chars = |s: &str| s.chars().count() as f64;
    Ok(match f {
        F::SubstringOf => opt(text(a).zip(text(b)).map(|(x, y)| Val::Bool(y.contains(x)))),
        F::EndsWith => opt(text(a).zip(text(b)).map(|(x, y)| Val::Bool(x.ends_with(y)))),
        F::StartsWith => opt(text(a).zip(text(b)).map(|(x, y)| Val::Bool(x.starts_with(y)))),
        F::Length => opt(text(a).map(|s| Val::Num(chars(s)))),
        F::IndexOf => opt(text(a).zip(text(b)).map(|(x, y)| Val::Num(x.find(y).map_or(-1.0, |at| chars(&x[..at]))))),
        F::Substring => opt(text(a).zip(num(b)).map(|(s, start)| {
            let rest = s.chars().skip(start.max(0.0) as usize);
            Val::Text(match args.get(2).and_then(num) {
                Some(n) => rest.take(n.max(0.0) as usize).collect(),
                None => rest.collect(),
            })
        })),
        F::ToLower => opt(text(a).map(|s| Val::Text(s.to_lowercase()))),
        F::ToUpper => opt(text(a).map(|s| Val::Text(s.to_uppercase()))),
        F::Trim => opt(text(a).map(|s| Val::Text(s.trim().to_owned()))),
        F::Concat => opt(text(a).zip(text(b)).map(|(x, y)| Val::Text(format!("{x}{y}")))),
        F::Year | F::Month | F::Day | F::Hour | F::Minute | F::Second | F::FractionalSeconds => {
            opt(as_time(a).map(|t| {
                Val::Num(match f {
                    F::Year => f64::from(t.year()),
                    F::Month => f64::from(t.month()),
                    F::Day => f64::from(t.day()),
                    F::Hour => f64::from(t.hour()),
                    F::Minute => f64::from(t.minute()),
                    F::Second => f64::from(t.second()),
                    _ => f64::from(t.nanosecond()) / 1e9,
                })
            }))
        }
        F::Date => opt(as_time(a).map(|t| Val::Text(t.format("%Y-%m-%d").to_string()))),
        F::Time => opt(as_time(a).map(|t| Val::Text(t.format("%H:%M:%S%.f").to_string()))),
        F::TotalOffsetMinutes => opt(as_time(a).map(|t| Val::Num(f64::from(t.offset().local_minus_utc() / 60)))),
        F::Now => Val::Time(Utc::now().fixed_offset()),
        F::MinDateTime => Val::Time(DateTime::<Utc>::MIN_UTC.fixed_offset()),
        F::MaxDateTime => Val::Time(DateTime::<Utc>::MAX_UTC.fixed_offset()),
        F::Round => opt(num(a).map(|n| Val::Num(n.round()))),
        F::Floor => opt(num(a).map(|n| Val::Num(n.floor()))),
        F::Ceiling => opt(num(a).map(|n| Val::Num(n.ceil()))),
        F::GeoDistance => opt(geo(a).zip(geo(b)).map(|(x, y)| Val::Num(distance(x, y)))),
        F::GeoLength => opt(geo(a).map(|g| Val::Num(length(g)))),
        F::GeoIntersects | F::StIntersects => relate(a, b, |m| m.is_intersects()),
        F::StEquals => relate(a, b, |m| m.is_equal_topo()),
        F::StDisjoint => relate(a, b, |m| m.is_disjoint()),
        F::StTouches => relate(a, b, |m| m.is_touches()),
        F::StWithin => relate(a, b, |m| m.is_within()),
        F::StOverlaps => relate(a, b, |m| m.is_overlaps()),
        F::StCrosses => relate(a, b, |m| m.is_crosses()),
        F::StContains => relate(a, b, |m| m.is_contains()),
        F::StRelate => match (geo(a), geo(b), args.get(2).and_then(text)) {
            (Some(x), Some(y), Some(pattern)) => {
                Val::Bool(x.relate(y).matches(pattern).map_err(|e| format!("st_relate pattern {pattern:?}: {e}"))?)
            }
            _ => Val::Null,
        },
    })
}

fn relate(a: &Val, b: &Val, test: impl Fn(&geo::relate::IntersectionMatrix) -> bool) -> Val {
    match (geo(a), geo(b)) {
        (Some(x), Some(y)) => Val::Bool(test(&x.relate(y))),
        _ => Val::Null,
    }
}

/// Geodesic distance in metres between the nearest points of two geometries (from the first
/// one's point, or the centroid of a larger first geometry, to the closest point of the second).
fn distance(a: &Geometry<f64>, b: &Geometry<f64>) -> f64 {
    use geo::Centroid;
    let Some(p) = (match a {
        Geometry::Point(p) => Some(*p),
        other => other.centroid(),
    }) else {
        return f64::NAN;
    };
    let q: Point<f64> = match b.closest_point(&p) {
        Closest::Intersection(q) | Closest::SinglePoint(q) => q,
        Closest::Indeterminate => return f64::NAN,
    };
    Haversine.distance(p, q)
}

/// Geodesic length in metres of the lines in a geometry (0 for points and polygons).
fn length(g: &Geometry<f64>) -> f64 {
    match g {
        Geometry::Line(l) => Haversine.length(l),
        Geometry::LineString(l) => Haversine.length(l),
        Geometry::MultiLineString(l) => Haversine.length(l),
        Geometry::GeometryCollection(c) => c.iter().map(length).sum(),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sensors::filter::parse;

    fn test(filter: &str, entity: &Value) -> bool {
        let resolve = |path: &[String]| -> Result<Value, String> {
            let mut v = entity;
            for p in path {
                v = v.get(p).ok_or_else(|| format!("no property {p}"))?;
            }
            Ok(v.clone())
        };
        matches(&parse(filter).unwrap(), &resolve).unwrap()
    }

    #[test]
    fn comparisons_functions_times_and_nulls() {
        let e = json!({
            "name": "丹生川 水位", "result": 2.5, "phenomenonTime": "2026-12-01T10:00:00.000Z",
            "properties": {"river": "丹生川", "gauge": null},
        });
        assert!(test("result gt 2 and result lt 3", &e));
        assert!(!test("result gt 2.5", &e));
        assert!(test("result add 1 eq 3.5 and result mul 2 eq 5", &e));
        assert!(test("properties/river eq '丹生川'", &e));
        assert!(test("properties/gauge eq null and not (properties/gauge gt 1)", &e));
        assert!(!test("properties/gauge lt 1", &e), "a comparison with null is false");
        assert!(test("substringof('水位', name) and startswith(name, '丹生川')", &e));
        assert!(test("length(name) eq 6 and indexof(name, '水位') eq 4", &e));
        assert!(test("phenomenonTime gt 2026-12-01T09:59:59Z and phenomenonTime le 2026-12-01T19:00:00+09:00", &e));
        assert!(!test("phenomenonTime lt 2026-12-01T19:00:00+09:00", &e), "times compare as instants, across offsets");
        assert!(test("hour(phenomenonTime) eq 10 and year(phenomenonTime) eq 2026", &e));
        assert!(test("round(result) eq 3 and floor(result) eq 2", &e));
    }

    #[test]
    fn geography_in_metres() {
        // Obanazawa city hall and a point about 1.1 km north.
        let e = json!({"location": {"type": "Point", "coordinates": [140.4060, 38.6010]}});
        assert!(test("geo.distance(location, geography'POINT(140.4060 38.6110)') lt 1200", &e));
        assert!(!test("geo.distance(location, geography'POINT(140.4060 38.6110)') lt 1000", &e));
        let square = "geography'POLYGON((140.40 38.60, 140.41 38.60, 140.41 38.61, 140.40 38.61, 140.40 38.60))'";
        assert!(test(&format!("st_within(location, {square})"), &e));
        assert!(test(&format!("geo.intersects(location, {square})"), &e));
        assert!(!test(&format!("st_disjoint(location, {square})"), &e));
        assert!(test(&format!("st_relate(location, {square}, 'T********')"), &e));
        assert!(test("geo.length(geography'LINESTRING(140.40 38.60, 140.40 38.61)') gt 1100", &e));
    }
}
