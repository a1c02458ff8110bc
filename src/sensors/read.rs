//! Reading SensorThings: a resource path resolved step by step ([`Sensors::resolve`]), then an
//! entity set filtered, sorted, counted and paged, or one entity, rendered as the standard's
//! JSON with `@iot.selfLink`, navigation links and `$expand`ed entities.
//!
//! Entities other than observations are filtered in memory. Observations are read from the
//! store: the parts of a `$filter` the store can answer (ids, times, numeric results, the
//! datastream and feature of interest) narrow the SQL query, the whole filter is then tested on
//! each row, and when the store answered all of it the page and the count come straight from
//! SQL.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::eval::{self, Val};
use super::filter::{Expr, Literal, Op};
use super::model::{Entity, Kind, Registry};
use super::request::{Options, Step};
use super::{SensorError, Sensors, bad, not_found};
use crate::catalog::Audience;
use crate::store::iso;
use crate::store::sensors::{ObservationFilter, ObservationOrder, ObservationRow};

/// What a resource path names.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Set { kind: Kind, scope: Scope },
    One { kind: Kind, id: i64 },
}

/// Which members of an entity set a path reaches.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    All,
    Ids(Vec<i64>),
    /// Observations of a datastream or of a feature of interest.
    Observations {
        datastream: Option<i64>,
        foi: Option<i64>,
    },
}

/// A resolved path: its target, then perhaps a property of it, its `$value`, or `$ref`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub target: Target,
    pub property: Option<String>,
    pub value: bool,
    pub reference: bool,
}

/// How a request's answers are written: where links start, and who is asking.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `…/sta/v1.1`, without a trailing slash.
    pub base: String,
    pub audience: Audience,
}

impl Ctx {
    pub fn self_link(&self, kind: Kind, id: i64) -> String {
        format!("{}/{}({id})", self.base, kind.plural())
    }
}

/// The answer to a read: JSON, or a property's raw `$value`.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Json(Value),
    Text(String),
}

/// An entity being tested or rendered.
#[derive(Clone, Copy)]
enum Subject<'a> {
    Entity(Kind, &'a Entity),
    Observation(&'a ObservationRow),
}

impl Sensors {
    /// Resolves a resource path for `audience`: anything it may not see does not exist.
    pub async fn resolve(&self, steps: &[Step], audience: Audience) -> Result<Resolved, SensorError> {
        let reg = self.registry();
        let mut steps = steps.iter();
        let Some(Step::Name(set, id)) = steps.next() else {
            return Err(not_found("the path must start with an entity set (Things, Datastreams, …)"));
        };
        let kind = Kind::from_plural(set).ok_or_else(|| not_found(format!("there is no entity set {set}")))?;
        let mut target = match id {
            Some(id) => self.one(&reg, kind, *id, audience).await?,
            None => Target::Set { kind, scope: Scope::All },
        };
        let mut r = Resolved { target: target.clone(), property: None, value: false, reference: false };
        for step in steps {
            if r.value || r.reference {
                return Err(bad("$value and $ref end a path"));
            }
            match step {
                Step::Ref => r.reference = true,
                Step::Value if r.property.is_some() => r.value = true,
                Step::Value => return Err(bad("$value follows a property")),
                Step::Name(..) if r.property.is_some() => return Err(not_found("a property has no parts to navigate")),
                Step::Name(name, sub) => {
                    let Target::One { kind, id } = target else {
                        return Err(bad(format!("{name}: a navigation starts from one entity, Name(id)")));
                    };
                    if let Some(nav) = kind.nav(name) {
                        target = self.navigate(&reg, kind, id, nav, audience).await?;
                        if let Some(sub) = sub {
                            target = match target {
                                Target::Set { kind, scope: Scope::Ids(ids) } if ids.contains(sub) => {
                                    Target::One { kind, id: *sub }
                                }
                                Target::Set {
                                    kind: Kind::Observation,
                                    scope: Scope::Observations { datastream, foi },
                                } => {
                                    let row = self.observation(*sub, audience).await?;
                                    if datastream.is_some_and(|d| d != row.datastream)
                                        || foi.is_some_and(|f| f != row.foi)
                                    {
                                        return Err(not_found(format!("{name}({sub}) is not linked here")));
                                    }
                                    Target::One { kind: Kind::Observation, id: *sub }
                                }
                                _ => return Err(not_found(format!("{name}({sub}) is not linked here"))),
                            };
                        }
                    } else if sub.is_none() && is_property(kind, name) {
                        r.property = Some(name.clone());
                    } else {
                        return Err(not_found(format!("a {} has no property or navigation {name}", kind.singular())));
                    }
                }
            }
            r.target = target.clone();
        }
        Ok(r)
    }

    /// The entity `kind(id)`, if `audience` may see it.
    async fn one(&self, reg: &Registry, kind: Kind, id: i64, audience: Audience) -> Result<Target, SensorError> {
        let seen = match kind {
            Kind::Observation => self.observation(id, audience).await.is_ok(),
            _ => reg.get(kind, id).is_some_and(|e| reg.visible(kind, e, audience)),
        };
        if seen { Ok(Target::One { kind, id }) } else { Err(not_found(format!("there is no {}({id})", kind.plural()))) }
    }

    async fn navigate(
        &self,
        reg: &Registry,
        kind: Kind,
        id: i64,
        nav: &super::model::Nav,
        audience: Audience,
    ) -> Result<Target, SensorError> {
        if nav.to == Kind::Observation {
            let (datastream, foi) = if kind == Kind::Datastream { (Some(id), None) } else { (None, Some(id)) };
            return Ok(Target::Set { kind: Kind::Observation, scope: Scope::Observations { datastream, foi } });
        }
        let ids = if kind == Kind::Observation {
            let row = self.observation(id, audience).await?;
            vec![if nav.to == Kind::Datastream { row.datastream } else { row.foi }]
        } else {
            let entity = reg.get(kind, id).ok_or_else(|| not_found(format!("there is no {}({id})", kind.plural())))?;
            reg.related(entity, nav)
        };
        let ids: Vec<i64> =
            ids.into_iter().filter(|i| reg.get(nav.to, *i).is_some_and(|e| reg.visible(nav.to, e, audience))).collect();
        if nav.many {
            Ok(Target::Set { kind: nav.to, scope: Scope::Ids(ids) })
        } else {
            let id = ids.first().ok_or_else(|| not_found(format!("no {} is linked here", nav.name)))?;
            Ok(Target::One { kind: nav.to, id: *id })
        }
    }

    /// One observation, if `audience` may see its datastream.
    pub async fn observation(&self, id: i64, audience: Audience) -> Result<ObservationRow, SensorError> {
        let reg = self.registry();
        let filter = ObservationFilter {
            datastreams: reg.visible_datastreams(audience).into_iter().collect(),
            id: (Some(id), Some(id + 1)),
            ..Default::default()
        };
        let rows = self.store.observations(&filter, ObservationOrder::Id, false, 1, 0).await?;
        rows.into_iter().next().ok_or_else(|| not_found(format!("there is no Observations({id})")))
    }

    /// Answers a read of `steps` with `options`; `query` is the request's query string as sent,
    /// for `@iot.nextLink`.
    pub async fn read(
        &self,
        steps: &[Step],
        options: &Options,
        query: &[(String, String)],
        ctx: &Ctx,
    ) -> Result<Answer, SensorError> {
        if options.data_array {
            return Err(bad(
                "$resultFormat=dataArray is for creating observations here (CreateObservations); reads answer in the default format",
            ));
        }
        let r = self.resolve(steps, ctx.audience).await?;
        let reg = self.registry();
        match (&r.target, &r.property) {
            (Target::One { kind, id }, Some(name)) => {
                let full = self.render_one(&reg, *kind, *id, &Options::default(), ctx).await?;
                let value = full.get(name.as_str()).cloned().unwrap_or(Value::Null);
                if r.value {
                    return Ok(Answer::Text(match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    }));
                }
                Ok(Answer::Json(json!({ name.clone(): value })))
            }
            (Target::One { kind, id }, None) if r.reference => {
                Ok(Answer::Json(json!({"@iot.selfLink": ctx.self_link(*kind, *id)})))
            }
            (Target::One { kind, id }, None) => {
                Ok(Answer::Json(self.render_one(&reg, *kind, *id, options, ctx).await?))
            }
            (Target::Set { kind, scope }, _) => {
                let page = self.list(&reg, *kind, scope, options, ctx).await?;
                let values: Vec<Value> = if r.reference {
                    page.items.iter().map(|v| json!({"@iot.selfLink": v["@iot.selfLink"]})).collect()
                } else {
                    page.items
                };
                let mut out = Map::new();
                if let Some(n) = page.count {
                    out.insert("@iot.count".into(), n.into());
                }
                if page.more {
                    out.insert("@iot.nextLink".into(), next_link(ctx, steps, query, options).into());
                }
                out.insert("value".into(), values.into());
                Ok(Answer::Json(Value::Object(out)))
            }
        }
    }

    async fn render_one(
        &self,
        reg: &Registry,
        kind: Kind,
        id: i64,
        options: &Options,
        ctx: &Ctx,
    ) -> Result<Value, SensorError> {
        if kind == Kind::Observation {
            let row = self.observation(id, ctx.audience).await?;
            return self.render(reg, Subject::Observation(&row), options, ctx).await;
        }
        let entity = reg.get(kind, id).ok_or_else(|| not_found(format!("there is no {}({id})", kind.plural())))?;
        self.render(reg, Subject::Entity(kind, entity), options, ctx).await
    }

    /// One page of an entity set, rendered, with the count if asked and whether more follow.
    async fn list(
        &self,
        reg: &Registry,
        kind: Kind,
        scope: &Scope,
        options: &Options,
        ctx: &Ctx,
    ) -> Result<Page, SensorError> {
        if kind == Kind::Observation {
            return self.list_observations(reg, scope, options, ctx).await;
        }
        let mut items: Vec<&Entity> = match scope {
            Scope::Ids(ids) => ids.iter().filter_map(|id| reg.get(kind, *id)).collect(),
            _ => reg.all(kind).collect(),
        };
        items.retain(|e| reg.visible(kind, e, ctx.audience));
        if let Some(filter) = &options.filter {
            let mut kept = Vec::with_capacity(items.len());
            for e in items {
                if passes(reg, Subject::Entity(kind, e), filter)? {
                    kept.push(e);
                }
            }
            items = kept;
        }
        if !options.orderby.is_empty() {
            let mut keyed = Vec::with_capacity(items.len());
            for e in items {
                let keys = options
                    .orderby
                    .iter()
                    .map(|(x, _)| sort_value(reg, Subject::Entity(kind, e), x))
                    .collect::<Result<Vec<_>, _>>()?;
                keyed.push((keys, e));
            }
            keyed.sort_by(|(a, _), (b, _)| sort_keys(a, b, &options.orderby));
            items = keyed.into_iter().map(|(_, e)| e).collect();
        }
        let total = items.len() as u64;
        let (skip, top) = (options.skip as usize, options.top() as usize);
        let mut rendered = Vec::new();
        for e in items.iter().skip(skip).take(top) {
            rendered.push(self.render(reg, Subject::Entity(kind, e), options, ctx).await?);
        }
        Ok(Page { items: rendered, count: options.count.then_some(total), more: (skip + top) < items.len() })
    }

    async fn list_observations(
        &self,
        reg: &Registry,
        scope: &Scope,
        options: &Options,
        ctx: &Ctx,
    ) -> Result<Page, SensorError> {
        let visible = reg.visible_datastreams(ctx.audience);
        let mut filter = ObservationFilter::default();
        let (datastream, foi) = match scope {
            Scope::Observations { datastream, foi } => (*datastream, *foi),
            _ => (None, None),
        };
        filter.datastreams = visible.into_iter().filter(|d| datastream.is_none_or(|x| x == *d)).collect();
        filter.foi = foi;
        let exact = options.filter.as_ref().is_none_or(|f| push_down(f, &mut filter));
        let (order, descending) = observation_order(&options.orderby)?;
        let (skip, top) = (options.skip, options.top());
        let mut page = Vec::new();
        let (count, more);
        if exact {
            let rows = self.store.observations(&filter, order, descending, top + 1, skip).await?;
            more = rows.len() as u64 > top;
            page.extend(rows.into_iter().take(top as usize));
            count = if options.count { Some(self.store.count_observations(&filter).await?) } else { None };
        } else {
            // The store narrows; every row is tested against the whole filter.
            const CHUNK: u64 = 5_000;
            let test = options.filter.as_ref().expect("an inexact filter exists");
            let (mut matched, mut offset, mut beyond) = (0u64, 0u64, false);
            loop {
                let rows = self.store.observations(&filter, order, descending, CHUNK, offset).await?;
                let n = rows.len() as u64;
                for row in rows {
                    if !passes(reg, Subject::Observation(&row), test)? {
                        continue;
                    }
                    if matched >= skip && (page.len() as u64) < top {
                        page.push(row);
                    } else if matched >= skip + top {
                        beyond = true;
                    }
                    matched += 1;
                }
                offset += n;
                if n < CHUNK || (beyond && !options.count) {
                    break;
                }
            }
            more = beyond;
            count = options.count.then_some(matched);
        }
        let mut items = Vec::with_capacity(page.len());
        for row in &page {
            items.push(self.render(reg, Subject::Observation(row), options, ctx).await?);
        }
        Ok(Page { items, count, more })
    }

    /// An entity as the standard's JSON, with `$select` and `$expand` applied.
    fn render<'a>(
        &'a self,
        reg: &'a Registry,
        subject: Subject<'a>,
        options: &'a Options,
        ctx: &'a Ctx,
    ) -> BoxFuture<'a, Result<Value, SensorError>> {
        Box::pin(async move {
            let (kind, id) = match subject {
                Subject::Entity(kind, e) => (kind, e.id),
                Subject::Observation(o) => (Kind::Observation, o.id),
            };
            let full = own_json(reg, subject, ctx);
            // With $select, only what it names: `id` is `@iot.id`, a navigation property its link.
            let wanted = |name: &str| options.select.as_ref().is_none_or(|s| s.iter().any(|x| x == name));
            let mut out = full;
            out.retain(|key, _| match key.as_str() {
                "@iot.id" => wanted("id") || wanted("@iot.id"),
                k => wanted(k.strip_suffix("@iot.navigationLink").unwrap_or(k)),
            });
            for expand in &options.expand {
                let nav = kind
                    .nav(&expand.nav)
                    .ok_or_else(|| bad(format!("$expand: a {} has no navigation {}", kind.singular(), expand.nav)))?;
                let target = self.navigate(reg, kind, id, nav, ctx.audience).await;
                let value = match target {
                    Ok(Target::Set { kind, scope }) => {
                        let page = self.list(reg, kind, &scope, &expand.options, ctx).await?;
                        if let Some(n) = page.count {
                            out.insert(format!("{}@iot.count", nav.name), n.into());
                        }
                        Value::Array(page.items)
                    }
                    Ok(Target::One { kind, id }) => self.render_one(reg, kind, id, &expand.options, ctx).await?,
                    Err(SensorError::NotFound(_)) => Value::Null,
                    Err(e) => return Err(e),
                };
                out.remove(&format!("{}@iot.navigationLink", nav.name));
                out.insert(nav.name.to_owned(), value);
            }
            Ok(Value::Object(out))
        })
    }
}

/// One page of an entity set.
struct Page {
    items: Vec<Value>,
    count: Option<u64>,
    more: bool,
}

/// Whether `name` is a property (own, computed, or `id`) of `kind`.
fn is_property(kind: Kind, name: &str) -> bool {
    name == "id" || kind.properties().iter().any(|(p, _)| *p == name) || kind.computed().contains(&name)
}

/// Every property of an entity and its navigation links, in the standard's order.
fn own_json(reg: &Registry, subject: Subject, ctx: &Ctx) -> Map<String, Value> {
    let mut out = Map::new();
    match subject {
        Subject::Entity(kind, e) => {
            out.insert("@iot.id".into(), e.id.into());
            out.insert("@iot.selfLink".into(), ctx.self_link(kind, e.id).into());
            for (name, _) in kind.properties() {
                if let Some(v) = e.props.get(*name) {
                    out.insert((*name).into(), v.clone());
                }
            }
            if kind == Kind::Datastream {
                out.insert("observedArea".into(), observed_area(reg, e));
                let times = reg.times.get(&e.id).map(|(a, b)| Value::String(format!("{a}/{b}")));
                out.insert("phenomenonTime".into(), times.unwrap_or(Value::Null));
                out.insert("resultTime".into(), Value::Null);
            }
            for nav in kind.navs() {
                out.insert(
                    format!("{}@iot.navigationLink", nav.name),
                    format!("{}/{}", ctx.self_link(kind, e.id), nav.name).into(),
                );
            }
        }
        Subject::Observation(o) => {
            let link = ctx.self_link(Kind::Observation, o.id);
            out.insert("@iot.selfLink".into(), link.clone().into());
            out.extend(observation_properties(o));
            out.insert("Datastream@iot.navigationLink".into(), format!("{link}/Datastream").into());
            out.insert("FeatureOfInterest@iot.navigationLink".into(), format!("{link}/FeatureOfInterest").into());
        }
    }
    out
}

/// An observation as the standard's JSON, with its links.
pub fn observation_json(reg: &Registry, row: &ObservationRow, ctx: &Ctx) -> Value {
    Value::Object(own_json(reg, Subject::Observation(row), ctx))
}

/// An observation's id and own properties, as the standard writes them.
pub fn observation_properties(o: &ObservationRow) -> Map<String, Value> {
    let interval = |a: &str, b: &Option<String>| match b {
        Some(b) => format!("{a}/{b}"),
        None => a.to_owned(),
    };
    let mut out = Map::new();
    out.insert("@iot.id".into(), o.id.into());
    out.insert("phenomenonTime".into(), interval(&o.phenomenon_time, &o.phenomenon_end).into());
    out.insert("resultTime".into(), o.result_time.clone().map_or(Value::Null, Value::String));
    out.insert("result".into(), o.result.clone());
    if let Some(q) = &o.result_quality {
        out.insert("resultQuality".into(), q.clone());
    }
    if let Some(start) = &o.valid_start {
        out.insert("validTime".into(), interval(start, &o.valid_end).into());
    }
    if let Some(p) = &o.parameters {
        out.insert("parameters".into(), p.clone());
    }
    out
}

/// The area a datastream's observations are of: its features of interest's point, or the
/// convex hull of them, as GeoJSON; null before the first observation.
fn observed_area(reg: &Registry, datastream: &Entity) -> Value {
    use geo::ConvexHull;
    let points: Vec<geo_types::Geometry<f64>> = datastream
        .links("FeaturesOfInterest")
        .iter()
        .filter_map(|id| reg.get(Kind::FeatureOfInterest, *id))
        .filter_map(|f| f.props.get("feature").and_then(eval::geometry))
        .collect();
    let area: Option<geo_types::Geometry<f64>> = match points.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        many => {
            let hull = geo_types::GeometryCollection(many.to_vec()).convex_hull();
            Some(geo_types::Geometry::Polygon(hull))
        }
    };
    area.map_or(Value::Null, |g| serde_json::to_value(geojson::Geometry::from(&g)).expect("geometry serialises"))
}

/// The values at a `$filter` path of an entity: own properties (and parts of them), `id`, and
/// through navigation properties the related entities' (one value per related entity).
fn path_values(reg: &Registry, subject: Subject, path: &[String]) -> Result<Vec<Value>, String> {
    let (first, rest) = path.split_first().ok_or("an empty path")?;
    let kind = match subject {
        Subject::Entity(kind, _) => kind,
        Subject::Observation(_) => Kind::Observation,
    };
    if let Some(nav) = kind.nav(first) {
        if rest.is_empty() {
            return Err(format!("{first} is an entity; name one of its properties ({first}/id)"));
        }
        if nav.to == Kind::Observation {
            return Err(format!("{first}: a $filter path does not reach into observations"));
        }
        let ids = match subject {
            Subject::Entity(_, e) => reg.related(e, nav),
            Subject::Observation(o) => vec![if nav.to == Kind::Datastream { o.datastream } else { o.foi }],
        };
        let mut values = Vec::new();
        for e in ids.into_iter().filter_map(|id| reg.get(nav.to, id)) {
            values.extend(path_values(reg, Subject::Entity(nav.to, e), rest)?);
        }
        return Ok(values);
    }
    if !is_property(kind, first) && first != "@iot.id" {
        return Err(format!("a {} has no property {first}", kind.singular()));
    }
    let mut v = property(reg, subject, first);
    for part in rest {
        v = v.get(part).cloned().unwrap_or(Value::Null);
    }
    Ok(vec![v])
}

/// One property of an entity or observation as its JSON shows it (`id` for `@iot.id`), computed
/// alone: a filter tests a few properties of many entities.
fn property(reg: &Registry, subject: Subject, name: &str) -> Value {
    match subject {
        Subject::Entity(_, e) if name == "id" || name == "@iot.id" => e.id.into(),
        Subject::Entity(Kind::Datastream, e) if name == "observedArea" => observed_area(reg, e),
        Subject::Entity(Kind::Datastream, e) if name == "phenomenonTime" => {
            reg.times.get(&e.id).map_or(Value::Null, |(a, b)| Value::String(format!("{a}/{b}")))
        }
        Subject::Entity(_, e) => e.props.get(name).cloned().unwrap_or(Value::Null),
        Subject::Observation(o) => {
            let key = if name == "id" { "@iot.id" } else { name };
            observation_properties(o).remove(key).unwrap_or(Value::Null)
        }
    }
}

/// Whether an entity passes a `$filter`.
fn passes(reg: &Registry, subject: Subject, filter: &Expr) -> Result<bool, SensorError> {
    eval::matches_any(filter, &|p: &[String]| path_values(reg, subject, p)).map_err(SensorError::BadRequest)
}

/// The value of a sort key (the first value of a path through an entity set).
fn sort_value(reg: &Registry, subject: Subject, key: &Expr) -> Result<Val, SensorError> {
    let first = |p: &[String]| path_values(reg, subject, p).map(|v| v.into_iter().next().unwrap_or(Value::Null));
    eval::eval(key, &first).map_err(SensorError::BadRequest)
}

fn sort_keys(a: &[Val], b: &[Val], orderby: &[(Expr, bool)]) -> Ordering {
    for ((x, y), (_, desc)) in a.iter().zip(b).zip(orderby) {
        let o = compare(x, y);
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A total order for sorting: null first, then numbers, times and text by value.
fn compare(a: &Val, b: &Val) -> Ordering {
    let time = |v: &Val| match v {
        Val::Time(t) => Some(*t),
        Val::Text(s) => eval::parse_time(s),
        _ => None,
    };
    match (a, b) {
        (Val::Null, Val::Null) => Ordering::Equal,
        (Val::Null, _) => Ordering::Less,
        (_, Val::Null) => Ordering::Greater,
        (Val::Num(x), Val::Num(y)) => x.total_cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        _ => match (time(a), time(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => match (a, b) {
                (Val::Text(x), Val::Text(y)) => x.cmp(y),
                _ => Ordering::Equal,
            },
        },
    }
}

/// The store order for observations' `$orderby`: one of `id`, `phenomenonTime`, `resultTime`,
/// `result`; by id without one.
fn observation_order(orderby: &[(Expr, bool)]) -> Result<(ObservationOrder, bool), SensorError> {
    let Some((expr, desc)) = orderby.first() else { return Ok((ObservationOrder::Id, false)) };
    let order = match expr {
        Expr::Path(p) if orderby.len() == 1 && p.len() == 1 => match p[0].as_str() {
            "id" => Some(ObservationOrder::Id),
            "phenomenonTime" => Some(ObservationOrder::PhenomenonTime),
            "resultTime" => Some(ObservationOrder::ResultTime),
            "result" => Some(ObservationOrder::Result),
            _ => None,
        },
        _ => None,
    };
    order
        .map(|o| (o, *desc))
        .ok_or_else(|| bad("observations are ordered by one of id, phenomenonTime, resultTime or result"))
}

fn ms(t: &DateTime<FixedOffset>) -> (String, bool) {
    let utc = t.with_timezone(&Utc);
    (iso(utc), utc.timestamp_subsec_nanos().is_multiple_of(1_000_000))
}

fn plus_ms(t: &DateTime<FixedOffset>) -> String {
    iso(t.with_timezone(&Utc) + chrono::Duration::milliseconds(1))
}

/// Narrows `f` by the conjuncts of `expr` the store can answer; true when it answered all of
/// `expr` exactly (so that SQL alone pages and counts).
fn push_down(expr: &Expr, f: &mut ObservationFilter) -> bool {
    match expr {
        Expr::Binary(Op::And, a, b) => {
            let x = push_down(a, f);
            push_down(b, f) && x
        }
        Expr::Binary(op, a, b) => match (a.as_ref(), b.as_ref()) {
            (Expr::Path(p), Expr::Literal(l)) => push_comparison(p, *op, l, f),
            (Expr::Literal(l), Expr::Path(p)) => push_comparison(p, flip(*op), l, f),
            _ => false,
        },
        _ => false,
    }
}

fn flip(op: Op) -> Op {
    match op {
        Op::Gt => Op::Lt,
        Op::Ge => Op::Le,
        Op::Lt => Op::Gt,
        Op::Le => Op::Ge,
        other => other,
    }
}

fn raise<T: PartialOrd>(bound: &mut Option<T>, value: T) {
    if bound.as_ref().is_none_or(|b| value > *b) {
        *bound = Some(value);
    }
}

fn lower<T: PartialOrd>(bound: &mut Option<T>, value: T) {
    if bound.as_ref().is_none_or(|b| value < *b) {
        *bound = Some(value);
    }
}

fn push_comparison(path: &[String], op: Op, literal: &Literal, f: &mut ObservationFilter) -> bool {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match (path.as_slice(), literal) {
        (["id"], Literal::Number(n)) if n.fract() == 0.0 => {
            let n = *n as i64;
            let (lo, hi) = (&mut f.id.0, &mut f.id.1);
            match op {
                Op::Eq => {
                    raise(lo, n);
                    lower(hi, n + 1);
                }
                Op::Gt => raise(lo, n + 1),
                Op::Ge => raise(lo, n),
                Op::Lt => lower(hi, n),
                Op::Le => lower(hi, n + 1),
                _ => return false,
            }
            true
        }
        (["phenomenonTime"] | ["resultTime"], Literal::Time(t)) => {
            let bounds = if path[0] == "phenomenonTime" { &mut f.phenomenon_time } else { &mut f.result_time };
            let (at, whole_ms) = ms(t);
            let (lo, hi) = (&mut bounds.0, &mut bounds.1);
            match op {
                Op::Eq => {
                    raise(lo, at);
                    lower(hi, plus_ms(t));
                }
                Op::Gt => raise(lo, plus_ms(t)),
                Op::Ge => raise(lo, at),
                Op::Lt => lower(hi, at),
                Op::Le => lower(hi, plus_ms(t)),
                _ => return false,
            }
            // Stored times are whole milliseconds; a finer literal is narrowed, then tested.
            whole_ms
        }
        (["result"], Literal::Number(n)) => {
            let (lo, hi) = (&mut f.result.0, &mut f.result.1);
            match op {
                Op::Eq => {
                    raise(lo, *n);
                    lower(hi, *n);
                    true
                }
                Op::Ge => {
                    raise(lo, *n);
                    true
                }
                Op::Le => {
                    lower(hi, *n);
                    true
                }
                // Closed bounds in SQL, the strict test on each row.
                Op::Gt => {
                    raise(lo, *n);
                    false
                }
                Op::Lt => {
                    lower(hi, *n);
                    false
                }
                _ => false,
            }
        }
        (["Datastream", "id"], Literal::Number(n)) if op == Op::Eq => {
            f.datastreams.retain(|d| *d as f64 == *n);
            true
        }
        (["FeatureOfInterest", "id"], Literal::Number(n)) if op == Op::Eq => {
            match f.foi {
                Some(foi) if foi as f64 != *n => f.datastreams.clear(),
                _ => f.foi = Some(*n as i64),
            }
            true
        }
        _ => false,
    }
}

/// The link to the next page: the same request with `$skip` moved on by a page.
fn next_link(ctx: &Ctx, steps: &[Step], query: &[(String, String)], options: &Options) -> String {
    let path: Vec<String> = steps
        .iter()
        .map(|s| match s {
            Step::Name(n, Some(id)) => format!("{n}({id})"),
            Step::Name(n, None) => n.clone(),
            Step::Value => "$value".into(),
            Step::Ref => "$ref".into(),
        })
        .collect();
    let mut pairs: Vec<(String, String)> = query.iter().filter(|(k, _)| k != "$skip" && k != "$top").cloned().collect();
    pairs.push(("$top".into(), options.top().to_string()));
    pairs.push(("$skip".into(), (options.skip + options.top()).to_string()));
    let query = serde_urlencoded::to_string(&pairs).expect("pairs encode");
    format!("{}/{}?{query}", ctx.base, path.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensors::filter::parse;

    #[test]
    fn push_down_is_exact_only_when_sql_answers_everything() {
        let mut f = ObservationFilter { datastreams: vec![1, 2, 3], ..Default::default() };
        assert!(push_down(
            &parse("phenomenonTime ge 2026-12-01T00:00:00Z and phenomenonTime lt 2026-12-02T00:00:00+09:00 and Datastream/id eq 2 and result le 3.5").unwrap(),
            &mut f
        ));
        assert_eq!(f.datastreams, vec![2]);
        assert_eq!(
            f.phenomenon_time,
            (Some("2026-12-01T00:00:00.000Z".into()), Some("2026-12-01T15:00:00.000Z".into()))
        );
        assert_eq!(f.result, (None, Some(3.5)));
        let mut f = ObservationFilter::default();
        assert!(push_down(&parse("id gt 10 and id le 20").unwrap(), &mut f));
        assert_eq!(f.id, (Some(11), Some(21)));
        let mut f = ObservationFilter::default();
        assert!(!push_down(&parse("result gt 1 and result lt 2").unwrap(), &mut f), "strict bounds are tested per row");
        assert_eq!(f.result, (Some(1.0), Some(2.0)));
        assert!(!push_down(&parse("id eq 1 or id eq 2").unwrap(), &mut ObservationFilter::default()));
    }
}
