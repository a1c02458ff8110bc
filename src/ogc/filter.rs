//! CQL2 filters (OGC API – Features Part 3): parsed by the `cql2` crate (text and JSON), then
//! compiled here against a layer's queryables into a [`Filter`] that evaluates on in-memory
//! features.
//!
//! Compiling checks every property against what the caller may see (a staff-only attribute is
//! as unknown to the public as a misspelt one, so counts cannot leak it) and every literal
//! against the property's type, so a wrong filter is a 400 that says what is wrong before any
//! feature is read. Evaluation follows SQL's three-valued logic: a comparison with a null
//! attribute is *unknown*, `NOT unknown` is unknown, and only *true* selects a feature.
//!
//! Supported: `=`, `<>`, `<`, `<=`, `>`, `>=`, `AND`, `OR`, `NOT`, `LIKE` (`%`, `_`, `\`
//! escapes), `IN`, `BETWEEN`, `IS NULL`, and the spatial `S_INTERSECTS`, `S_WITHIN`,
//! `S_CONTAINS`, `S_DISJOINT`, `S_TOUCHES`, `S_CROSSES`, `S_OVERLAPS`, `S_EQUALS` and
//! `S_DWITHIN(geometry, g, metres)` with WKT or GeoJSON geometries (and `BBOX(…)`), in
//! `filter-crs` (CRS84 by default). Date-time properties compare as instants (`TIMESTAMP(…)` or
//! a string, any UTC offset), dates as dates.

use chrono::{DateTime, NaiveDate, Utc};
use cql2::Expr;
use geo::{BoundingRect, Distance, Euclidean, Intersects, Relate};
use geo_types::{Geometry, Rect};
use geozero::ToGeo;

use super::crs::OgcCrs;
use crate::catalog::{AttrType, Audience, LayerDef};
use crate::crs::Epsg;
use crate::feature::{AttrValue, Feature, union_rects};

/// Property names that mean the feature's geometry.
pub const GEOMETRY_NAMES: &[&str] = &["geometry", "geom"];

/// A filter that cannot be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(m.into()))
}

/// Which CQL2 encoding `filter` is in (`filter-lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Text,
    Json,
}

impl Lang {
    pub fn parse(s: &str) -> Result<Self, FilterError> {
        match s {
            "cql2-text" => Ok(Lang::Text),
            "cql2-json" => Ok(Lang::Json),
            _ => err(format!("filter-lang must be cql2-text or cql2-json, got {s:?}")),
        }
    }
}

/// A literal value of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    Text(String),
    Bool(bool),
    /// For a date-time property: compared as an instant, whatever offset either side was
    /// written with (`…T08:00:00+09:00` is `…T23:00:00Z` the day before).
    Instant(DateTime<Utc>),
}

/// A date and time (RFC 3339, any offset) or a date (its start, UTC, as `datetime=` takes it)
/// as an instant.
pub fn instant(s: &str) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0)?.and_utc()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialOp {
    Intersects,
    Disjoint,
    Within,
    Contains,
    Touches,
    Crosses,
    Overlaps,
    Equals,
    /// Within a distance (metres, in the store's CRS).
    DWithin,
}

/// A compiled filter over one layer's features.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        attr: usize,
        op: CmpOp,
        value: Literal,
    },
    Like {
        attr: usize,
        pattern: Vec<char>,
    },
    In {
        attr: usize,
        values: Vec<Literal>,
    },
    Between {
        attr: usize,
        low: Literal,
        high: Literal,
    },
    IsNull {
        attr: usize,
    },
    /// The feature's geometry `op` the given one (in the store's CRS).
    Spatial {
        op: SpatialOp,
        geometry: Box<Geometry<f64>>,
        distance: f64,
    },
}

/// What a filter is compiled against.
pub struct Context<'a> {
    pub layer: &'a LayerDef,
    pub audience: Audience,
    /// The CRS of geometry literals (`filter-crs`).
    pub filter_crs: &'a OgcCrs,
    pub store_crs: Epsg,
}

impl Filter {
    /// Parses and compiles `source` in `lang`.
    pub fn parse(source: &str, lang: Lang, cx: &Context<'_>) -> Result<Self, FilterError> {
        let expr = match lang {
            Lang::Text => {
                cql2::parse_text(source).map_err(|e| FilterError(format!("invalid cql2-text filter: {e}")))?
            }
            Lang::Json => {
                cql2::parse_json(source).map_err(|e| FilterError(format!("invalid cql2-json filter: {e}")))?
            }
        };
        Self::compile(&expr, cx)
    }

    /// A filter from a CQL2 expression.
    pub fn compile(expr: &Expr, cx: &Context<'_>) -> Result<Self, FilterError> {
        let Expr::Operation { op, args } = expr else {
            return err(format!("a filter must be a condition, got {}", show(expr)));
        };
        let args: Vec<&Expr> = args.iter().map(|a| a.as_ref()).collect();
        let op_lower = op.to_ascii_lowercase();
        let shown = op.to_ascii_uppercase();
        let arity = |n: usize| {
            if args.len() == n { Ok(()) } else { err(format!("{op} takes {n} arguments, got {}", args.len())) }
        };
        match op_lower.as_str() {
            "and" | "or" => {
                let parts = args.iter().map(|a| Self::compile(a, cx)).collect::<Result<Vec<_>, _>>()?;
                Ok(if op_lower == "and" { Filter::And(parts) } else { Filter::Or(parts) })
            }
            "not" => {
                arity(1)?;
                Ok(Filter::Not(Box::new(Self::compile(args[0], cx)?)))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                arity(2)?;
                let mut op = match op_lower.as_str() {
                    "=" => CmpOp::Eq,
                    "<>" => CmpOp::Ne,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                let (prop, lit) = match (args[0], args[1]) {
                    (Expr::Property { .. }, other) => (args[0], other),
                    (other, Expr::Property { .. }) => {
                        // `5 < width_m` is `width_m > 5`.
                        op = match op {
                            CmpOp::Lt => CmpOp::Gt,
                            CmpOp::Le => CmpOp::Ge,
                            CmpOp::Gt => CmpOp::Lt,
                            CmpOp::Ge => CmpOp::Le,
                            same => same,
                        };
                        (args[1], other)
                    }
                    _ => return err(format!("{shown} compares a property with a value")),
                };
                let (attr, kind) = property(prop, cx)?;
                let value = literal(lit, kind, prop)?;
                if kind == AttrType::Boolean && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return err(format!("{} is true or false: compare it with = or <>", name(prop)));
                }
                Ok(Filter::Compare { attr, op, value })
            }
            "like" => {
                arity(2)?;
                let (attr, kind) = property(args[0], cx)?;
                if kind != AttrType::Text {
                    return err(format!("LIKE needs a text property; {} is not text", name(args[0])));
                }
                let Expr::Literal(p) = args[1] else { return err("LIKE needs a text pattern such as '12%'") };
                Ok(Filter::Like { attr, pattern: p.chars().collect() })
            }
            "in" => {
                arity(2)?;
                let (attr, kind) = property(args[0], cx)?;
                let Expr::Array(items) = args[1] else { return err("IN needs a list of values: x IN (1, 2)") };
                let values = items.iter().map(|v| literal(v, kind, args[0])).collect::<Result<_, _>>()?;
                Ok(Filter::In { attr, values })
            }
            "between" => {
                arity(3)?;
                let (attr, kind) = property(args[0], cx)?;
                if !matches!(kind, AttrType::Integer | AttrType::Real | AttrType::Date | AttrType::DateTime) {
                    return err(format!("BETWEEN needs a number or date property; {} is not", name(args[0])));
                }
                let low = literal(args[1], kind, args[0])?;
                let high = literal(args[2], kind, args[0])?;
                Ok(Filter::Between { attr, low, high })
            }
            "isnull" => {
                arity(1)?;
                let (attr, _) = property(args[0], cx)?;
                Ok(Filter::IsNull { attr })
            }
            spatial if spatial.starts_with("s_") => {
                let op = match spatial {
                    "s_intersects" => SpatialOp::Intersects,
                    "s_disjoint" => SpatialOp::Disjoint,
                    "s_within" => SpatialOp::Within,
                    "s_contains" => SpatialOp::Contains,
                    "s_touches" => SpatialOp::Touches,
                    "s_crosses" => SpatialOp::Crosses,
                    "s_overlaps" => SpatialOp::Overlaps,
                    "s_equals" => SpatialOp::Equals,
                    "s_dwithin" => SpatialOp::DWithin,
                    _ => return err(format!("unknown spatial operator {op}")),
                };
                arity(if op == SpatialOp::DWithin { 3 } else { 2 })?;
                let (mut op, literal_at) = match (is_geometry_property(args[0]), is_geometry_property(args[1])) {
                    (true, false) => (op, 1),
                    (false, true) => (op, 0),
                    _ => return err(format!("{shown} relates the property geometry to a geometry value")),
                };
                if literal_at == 0 {
                    // S_WITHIN(g, geometry) is S_CONTAINS(geometry, g).
                    op = match op {
                        SpatialOp::Within => SpatialOp::Contains,
                        SpatialOp::Contains => SpatialOp::Within,
                        same => same,
                    };
                }
                let geometry = geometry_literal(args[literal_at], cx)?;
                let distance = if op == SpatialOp::DWithin {
                    match args[2] {
                        Expr::Float(d) if d.is_finite() && *d >= 0.0 => *d,
                        other => return err(format!("S_DWITHIN needs a distance in metres, got {}", show(other))),
                    }
                } else {
                    0.0
                };
                Ok(Filter::Spatial { op, geometry: Box::new(geometry), distance })
            }
            "casei" | "accenti" => err(format!("{op} is not supported")),
            _ if op.starts_with("t_") || op.starts_with("a_") => err(format!("{op} is not supported")),
            "+" | "-" | "*" | "/" | "%" | "^" | "div" => err("arithmetic is not supported in filters"),
            _ => err(format!("unknown operator or function {op}")),
        }
    }

    /// Whether `f` is selected.
    pub fn matches(&self, f: &Feature) -> bool {
        self.eval(f) == Some(true)
    }

    /// Three-valued: `None` is unknown (a comparison with null).
    fn eval(&self, f: &Feature) -> Option<bool> {
        match self {
            Filter::And(parts) => {
                let mut unknown = false;
                for p in parts {
                    match p.eval(f) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Filter::Or(parts) => {
                let mut unknown = false;
                for p in parts {
                    match p.eval(f) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Filter::Not(inner) => inner.eval(f).map(|b| !b),
            Filter::Compare { attr, op, value } => {
                let ord = compare(&f.attributes[*attr], value)?;
                Some(match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Ne => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Ge => ord.is_ge(),
                })
            }
            Filter::Like { attr, pattern } => match &f.attributes[*attr] {
                AttrValue::Text(s) => Some(like(&s.chars().collect::<Vec<_>>(), pattern)),
                _ => None,
            },
            Filter::In { attr, values } => {
                let v = &f.attributes[*attr];
                if v.is_null() {
                    return None;
                }
                Some(values.iter().any(|l| compare(v, l).is_some_and(|o| o.is_eq())))
            }
            Filter::Between { attr, low, high } => {
                let v = &f.attributes[*attr];
                Some(compare(v, low)?.is_ge() && compare(v, high)?.is_le())
            }
            Filter::IsNull { attr } => Some(f.attributes[*attr].is_null()),
            Filter::Spatial { op, geometry, distance } => Some(spatial(*op, &f.geometry, geometry, *distance)),
        }
    }

    /// A rectangle (store CRS) outside which no feature can match, when the filter says so —
    /// so that the R-tree can pick the candidates.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        match self {
            Filter::Spatial { op, geometry, distance } => match op {
                SpatialOp::Disjoint => None,
                _ => {
                    let r = geometry.bounding_rect()?;
                    let d = *distance;
                    Some(Rect::new((r.min().x - d, r.min().y - d), (r.max().x + d, r.max().y + d)))
                }
            },
            Filter::And(parts) => parts.iter().filter_map(Filter::bounds).reduce(intersection),
            Filter::Or(parts) => parts.iter().map(Filter::bounds).collect::<Option<Vec<_>>>().and_then(union_rects),
            _ => None,
        }
    }
}

/// The overlap of two rectangles (degenerate when they do not overlap).
pub(crate) fn intersection(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    let (min_x, min_y) = (a.min().x.max(b.min().x), a.min().y.max(b.min().y));
    let (max_x, max_y) = (a.max().x.min(b.max().x), a.max().y.min(b.max().y));
    // No overlap: a degenerate rectangle on the edge; the exact tests reject what touches it.
    Rect::new((min_x, min_y), (max_x.max(min_x), max_y.max(min_y)))
}

fn spatial(op: SpatialOp, feature: &Geometry<f64>, other: &Geometry<f64>, distance: f64) -> bool {
    match op {
        SpatialOp::Intersects => feature.intersects(other),
        SpatialOp::Disjoint => !feature.intersects(other),
        SpatialOp::DWithin => Euclidean.distance(feature, other) <= distance,
        _ => {
            let m = feature.relate(other);
            match op {
                SpatialOp::Within => m.is_within(),
                SpatialOp::Contains => m.is_contains(),
                SpatialOp::Touches => m.is_touches(),
                SpatialOp::Crosses => m.is_crosses(),
                SpatialOp::Overlaps => m.is_overlaps(),
                _ => m.is_equal_topo(),
            }
        }
    }
}

/// Compares an attribute value with a literal of the type the compiler checked; `None` when
/// the value is null.
pub fn compare(v: &AttrValue, l: &Literal) -> Option<std::cmp::Ordering> {
    match (v, l) {
        (AttrValue::Text(s), Literal::Instant(t)) => instant(s).map(|v| v.cmp(t)),
        (AttrValue::Int(i), Literal::Number(n)) => (*i as f64).partial_cmp(n),
        (AttrValue::Real(r), Literal::Number(n)) => r.partial_cmp(n),
        (AttrValue::Text(s), Literal::Text(t)) => Some(s.as_str().cmp(t.as_str())),
        (AttrValue::Bool(b), Literal::Bool(c)) => Some(b.cmp(c)),
        _ => None,
    }
}

/// The attribute a property names, if the caller may see it.
fn property(e: &Expr, cx: &Context<'_>) -> Result<(usize, AttrType), FilterError> {
    let Expr::Property { property } = e else {
        return err(format!("expected a property name, got {}", show(e)));
    };
    match cx.layer.visible_attributes(cx.audience).find(|(_, a)| a.name == *property) {
        Some((i, a)) => Ok((i, a.kind)),
        None => err(format!("unknown property {property:?} (see the collection's queryables)")),
    }
}

fn is_geometry_property(e: &Expr) -> bool {
    matches!(e, Expr::Property { property } if GEOMETRY_NAMES.contains(&property.as_str()))
}

fn name(e: &Expr) -> String {
    match e {
        Expr::Property { property } => property.clone(),
        other => show(other),
    }
}

fn show(e: &Expr) -> String {
    e.to_text().unwrap_or_else(|_| format!("{e:?}"))
}

/// A literal for a property of type `kind`.
fn literal(e: &Expr, kind: AttrType, prop: &Expr) -> Result<Literal, FilterError> {
    let wrong = |what: &str| err(format!("{} is {what}; {} does not fit it", name(prop), show(e)));
    match kind {
        AttrType::Integer | AttrType::Real => match e {
            Expr::Float(n) => Ok(Literal::Number(*n)),
            _ => wrong("a number"),
        },
        AttrType::Boolean => match e {
            Expr::Bool(b) => Ok(Literal::Bool(*b)),
            _ => wrong("true or false"),
        },
        AttrType::Text => match e {
            Expr::Literal(s) => Ok(Literal::Text(s.clone())),
            _ => wrong("text"),
        },
        AttrType::Date | AttrType::DateTime => {
            let text = match e {
                Expr::Literal(s) => Some(s),
                Expr::Date { date } | Expr::Timestamp { timestamp: date } => match date.as_ref() {
                    Expr::Literal(s) => Some(s),
                    _ => None,
                },
                _ => None,
            };
            match (kind, text) {
                (AttrType::Date, Some(s)) => Ok(Literal::Text(s.clone())),
                (_, Some(s)) => instant(s).map(Literal::Instant).map_or_else(|| wrong("a date and time"), Ok),
                (AttrType::Date, None) => wrong("a date"),
                (_, None) => wrong("a date and time"),
            }
        }
    }
}

/// A geometry literal (WKT, GeoJSON or BBOX) in the store's CRS.
fn geometry_literal(e: &Expr, cx: &Context<'_>) -> Result<Geometry<f64>, FilterError> {
    let g: Geometry<f64> = match e {
        Expr::Geometry(g) => {
            let wkt = g.to_wkt().map_err(|e| FilterError(format!("invalid geometry: {e}")))?;
            geozero::wkt::Wkt(wkt.as_str()).to_geo().map_err(|e| FilterError(format!("invalid geometry {wkt}: {e}")))?
        }
        Expr::BBox { bbox } => {
            let n: Vec<f64> =
                bbox.iter().filter_map(|b| if let Expr::Float(v) = **b { Some(v) } else { None }).collect();
            let (a, b) = match n.as_slice() {
                [x0, y0, x1, y1] | [x0, y0, _, x1, y1, _] => ((*x0, *y0), (*x1, *y1)),
                _ => return err("BBOX needs 4 (or 6) numbers"),
            };
            Geometry::Polygon(Rect::new(a, b).to_polygon())
        }
        other => return err(format!("expected a geometry (WKT or GeoJSON), got {}", show(other))),
    };
    cx.filter_crs.input(g, cx.store_crs).map_err(|e| FilterError(e.to_string()))
}

/// SQL `LIKE`: `%` any run of characters, `_` any one, `\` makes the next one literal.
fn like(s: &[char], p: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|i| like(&s[i..], rest)),
        Some(('_', rest)) => !s.is_empty() && like(&s[1..], rest),
        Some(('\\', rest)) if !rest.is_empty() => s.first() == Some(&rest[0]) && like(&s[1..], &rest[1..]),
        Some((c, rest)) => s.first() == Some(c) && like(&s[1..], rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use geo_types::line_string;

    fn roads() -> LayerDef {
        Catalog::builtin().get("roads").unwrap().clone()
    }

    fn road(name: &str, class: Option<&str>, width: Option<f64>, priority: i64, x: f64) -> Feature {
        let def = roads();
        let values = def.values_by_name([
            ("name", AttrValue::from(name)),
            ("road_class", AttrValue::from(class)),
            ("width_m", AttrValue::from(width)),
            ("snow_priority", AttrValue::Int(priority)),
            ("internal_note", AttrValue::from("秘")),
        ]);
        Feature {
            id: 1,
            geometry: Geometry::LineString(line_string![(x: x, y: 0.0), (x: x, y: 100.0)]),
            attributes: values,
        }
    }

    fn compile(text: &str, audience: Audience) -> Result<Filter, FilterError> {
        let layer = roads();
        let crs = OgcCrs::epsg(Epsg(6678)).unwrap();
        Filter::parse(text, Lang::Text, &Context { layer: &layer, audience, filter_crs: &crs, store_crs: Epsg(6678) })
    }

    fn m(text: &str, f: &Feature) -> bool {
        compile(text, Audience::Public).unwrap_or_else(|e| panic!("{text}: {e}")).matches(f)
    }

    #[test]
    fn comparisons_logic_and_nulls() {
        let a = road("国道13号", Some("国道"), Some(12.0), 1, 0.0);
        let b = road("市道仲町1号線", None, None, 3, 0.0);
        assert!(m("name = '国道13号'", &a) && !m("name = '国道13号'", &b));
        assert!(m("width_m > 10 AND snow_priority <= 1", &a));
        assert!(m("10 < width_m", &a), "a literal on the left flips the operator");
        assert!(!m("width_m > 10", &b) && !m("NOT (width_m > 10)", &b), "null is unknown, and so is its negation");
        assert!(m("width_m IS NULL", &b) && m("NOT width_m IS NULL", &a));
        assert!(m("width_m > 100 OR snow_priority = 3", &b), "unknown OR true is true");
        assert!(m("road_class <> '市道' OR name LIKE '市道%'", &b));
        assert!(m("snow_priority IN (2, 3)", &b) && !m("snow_priority IN (1, 2)", &b));
        assert!(m("snow_priority BETWEEN 2 AND 3", &b) && !m("snow_priority BETWEEN 1 AND 2", &b));
        assert!(m("name LIKE '%仲町_号%'", &b) && !m("name LIKE '仲町%'", &b));
    }

    #[test]
    fn date_times_compare_as_instants_whatever_their_offset() {
        let layer = Catalog::builtin().get("road_events").unwrap().clone();
        let crs = OgcCrs::crs84();
        let cx = Context { layer: &layer, audience: Audience::Public, filter_crs: &crs, store_crs: Epsg(6678) };
        // Written in Japan time: 2026-12-23T23:00Z.
        let event = Feature {
            id: 1,
            geometry: Geometry::LineString(line_string![(x: 0.0, y: 0.0), (x: 0.0, y: 10.0)]),
            attributes: layer.values_by_name([("starts_at", AttrValue::from("2026-12-24T08:00:00+09:00"))]),
        };
        let m =
            |text: &str| Filter::parse(text, Lang::Text, &cx).unwrap_or_else(|e| panic!("{text}: {e}")).matches(&event);
        assert!(m("starts_at < TIMESTAMP('2026-12-23T23:30:00Z')"), "as text it would be later");
        assert!(!m("starts_at > TIMESTAMP('2026-12-23T23:30:00Z')"));
        assert!(m("starts_at = TIMESTAMP('2026-12-23T23:00:00Z')"));
        assert!(m("starts_at >= '2026-12-24T07:59:59+09:00' AND starts_at < '2026-12-24T08:00:01+09:00'"));
        assert!(m("starts_at BETWEEN TIMESTAMP('2026-12-23T00:00:00Z') AND TIMESTAMP('2026-12-24T00:00:00Z')"));
        assert!(m("starts_at < DATE('2026-12-24')"), "a date is its start, UTC");
        let e = Filter::parse("starts_at > 'tomorrow'", Lang::Text, &cx).unwrap_err().0;
        assert!(e.contains("a date and time"), "{e}");
    }

    #[test]
    fn like_patterns() {
        let l = |s: &str, p: &str| like(&s.chars().collect::<Vec<_>>(), &p.chars().collect::<Vec<_>>());
        assert!(l("12-3", "12%") && l("12-3", "1_-3") && l("", "%") && !l("12", "12_"));
        assert!(l("50%", "50\\%") && !l("500", "50\\%"));
    }

    #[test]
    fn spatial_operators_in_the_filter_crs() {
        let f = road("x", None, None, 1, 0.0); // the line x = 0, y = 0..100 (easting, northing)
        // EPSG:6678 is northing first: POINT(50 5) is northing 50, easting 5.
        assert!(m("S_DWITHIN(geometry, POINT(50 5), 5)", &f));
        assert!(!m("S_DWITHIN(geometry, POINT(50 5), 4.9)", &f));
        assert!(m("S_INTERSECTS(geometry, POLYGON((40 -1, 60 -1, 60 1, 40 1, 40 -1)))", &f));
        assert!(m("S_WITHIN(geometry, POLYGON((-10 -10, 200 -10, 200 10, -10 10, -10 -10)))", &f));
        assert!(!m("S_WITHIN(geometry, POLYGON((-10 -10, 50 -10, 50 10, -10 10, -10 -10)))", &f));
        assert!(m("S_DISJOINT(geometry, POINT(50 5))", &f));
        let filter = compile("S_DWITHIN(geometry, POINT(50 5), 5) AND name = 'x'", Audience::Public).unwrap();
        let b = filter.bounds().unwrap();
        assert_eq!((b.min().x, b.min().y, b.max().x, b.max().y), (0.0, 45.0, 10.0, 55.0));
    }

    #[test]
    fn cql2_json_reads_the_same() {
        let layer = roads();
        let crs = OgcCrs::crs84();
        let cx = Context { layer: &layer, audience: Audience::Public, filter_crs: &crs, store_crs: Epsg(6678) };
        let f = Filter::parse(
            r#"{"op":"and","args":[{"op":">=","args":[{"property":"width_m"},12]},{"op":"like","args":[{"property":"name"},"国道%"]}]}"#,
            Lang::Json,
            &cx,
        )
        .unwrap();
        assert!(f.matches(&road("国道13号", None, Some(12.0), 1, 0.0)));
        assert!(!f.matches(&road("県道", None, Some(12.0), 1, 0.0)));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |t: &str| compile(t, Audience::Public).unwrap_err().0;
        assert!(
            e("internal_note = '秘'").contains("unknown property \"internal_note\""),
            "staff-only is unknown to the public"
        );
        assert!(compile("internal_note = '秘'", Audience::Staff).is_ok());
        assert!(e("width_m = 'wide'").contains("width_m is a number"));
        assert!(e("name = 3").contains("name is text"));
        assert!(e("name LIKE 3").contains("pattern"));
        assert!(e("width_m LIKE '1%'").contains("not text"));
        assert!(e("name = ").contains("invalid cql2-text"));
        assert!(e("S_DWITHIN(geometry, POINT(1 2))").contains("takes 3 arguments"));
        assert!(e("S_INTERSECTS(name, POINT(1 2))").contains("relates the property geometry"));
        assert!(e("width_m + 1 > 3").contains("compares a property"));
        assert!(e("T_AFTER(name, TIMESTAMP('2020-01-01T00:00:00Z'))").contains("not supported"));
        assert!(e("name").contains("must be a condition"));
    }
}
