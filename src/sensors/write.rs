//! Writing SensorThings: creation with deep insert (a Thing with its Locations and Datastreams,
//! each Datastream with its Sensor, ObservedProperty and Observations, in one request), updates
//! (`PATCH` merges, `PUT` replaces, JSON Patch), deletes with the standard's cascades, and the
//! dataArray batch (`CreateObservations`).
//!
//! A write works on a [`Draft`]: a copy of the registry and the [`SensorWrite`] that stores its
//! change. Everything is checked before anything is stored; the store writes the whole change in
//! one transaction; only then does the registry move on and new observations go out to
//! subscribers. A refused write changes nothing.
//!
//! The server adds what the standard says it adds: a HistoricalLocation whenever a Thing's
//! Locations change, and an observation's FeatureOfInterest from its Thing's Location when the
//! client sends none (one per Location, reused). An observation without a `phenomenonTime` was
//! made now; without a `resultTime` its result time is the server's time of receipt.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::model::{Entity, Kind, Registry, to_row};
use super::read::{Ctx, Target};
use super::request::Step;
use super::{SensorError, Sensors, bad};
use crate::catalog::Audience;
use crate::store::iso;
use crate::store::sensors::{ObservationRow, SensorWrite};

/// A write in progress: the next registry and what the store must do to get there.
struct Draft {
    reg: Registry,
    write: SensorWrite,
    touched: BTreeSet<(Kind, i64)>,
    now: DateTime<Utc>,
}

/// An ISO 8601 time or interval (`start/end`), as stored: UTC with milliseconds.
fn time_or_interval(what: &str, v: &Value) -> Result<(String, Option<String>), SensorError> {
    let text = v.as_str().ok_or_else(|| bad(format!("{what} is an ISO 8601 time (text), not {v}")))?;
    let one = |s: &str| {
        super::eval::parse_instant(s).map(|t| iso(t.with_timezone(&Utc))).ok_or_else(|| {
            bad(format!("{what} {s:?} is not an ISO 8601 time with its offset (2026-12-01T10:00:00+09:00)"))
        })
    };
    match text.split_once('/') {
        Some((a, b)) => Ok((one(a)?, Some(one(b)?))),
        None => Ok((one(text)?, None)),
    }
}

/// Checks the type of an own property's value.
fn check_property(kind: Kind, name: &str, v: &Value, props: &Map<String, Value>) -> Result<(), SensorError> {
    let what = || format!("{}.{name}", kind.singular());
    let geojson = || {
        props
            .get("encodingType")
            .and_then(Value::as_str)
            .is_some_and(|e| e.ends_with("geo+json") || e == "application/geojson")
    };
    match name {
        "name" | "description" | "encodingType" | "definition" | "observationType" if !v.is_string() => {
            Err(bad(format!("{} is text, not {v}", what())))
        }
        "metadata" if v.is_null() => Err(bad(format!("{} is required", what()))),
        "properties" | "unitOfMeasurement" | "parameters" if !v.is_object() && !v.is_null() => {
            Err(bad(format!("{} is a JSON object, not {v}", what())))
        }
        "properties" if kind == Kind::Datastream => match super::state::Thresholds::from_properties(v) {
            Some(Err(e)) => Err(bad(format!("Datastream.{e}"))),
            _ => Ok(()),
        },
        "location" | "feature" if geojson() && super::eval::geometry(v).is_none() => {
            Err(bad(format!("{} is not a GeoJSON geometry or feature", what())))
        }
        "time" | "phenomenonTime" | "resultTime" | "validTime" if !(v.is_null() && name != "time") => {
            time_or_interval(&what(), v).map(drop)
        }
        _ => Ok(()),
    }
}

/// The existing entity a JSON object names by `@iot.id` (a link; other properties in it are
/// ignored, as FROST-Server does: clients send back whole entities they read).
fn link_only(obj: &Map<String, Value>) -> Option<Result<i64, SensorError>> {
    let id = obj.get("@iot.id")?;
    Some(id.as_i64().ok_or_else(|| bad(format!("@iot.id is a whole number, not {id}"))))
}

impl Draft {
    fn new(reg: &Registry) -> Self {
        Draft { reg: reg.clone(), write: SensorWrite::default(), touched: BTreeSet::new(), now: Utc::now() }
    }

    fn entity(&self, kind: Kind, id: i64) -> Result<&Entity, SensorError> {
        self.reg.get(kind, id).ok_or_else(|| bad(format!("there is no {}({id}) to link", kind.plural())))
    }

    fn put(&mut self, kind: Kind, entity: Entity) {
        self.touched.insert((kind, entity.id));
        self.reg.put(kind, entity);
    }

    fn edit(&mut self, kind: Kind, id: i64, change: impl FnOnce(&mut Entity)) -> Result<(), SensorError> {
        let mut e = self.entity(kind, id)?.clone();
        change(&mut e);
        self.put(kind, e);
        Ok(())
    }

    /// Creates `body` as a `kind` (or links the existing entity it names), with the stored
    /// link `parent` set; returns its id (for an observation, its place in the batch).
    fn create(&mut self, kind: Kind, body: &Value, parent: Option<(&str, i64)>) -> Result<i64, SensorError> {
        let obj = body.as_object().ok_or_else(|| bad(format!("a {} is a JSON object, not {body}", kind.singular())))?;
        if let Some(id) = link_only(obj) {
            let id = id?;
            self.entity(kind, id)?;
            if let Some((link, pid)) = parent {
                let single = kind.nav(link).is_some_and(|n| !n.many);
                self.edit(kind, id, |e| add_link(e, link, pid, single))?;
            }
            return Ok(id);
        }
        if kind == Kind::Observation {
            return self.observation(obj, parent);
        }
        let props = own_properties(kind, obj, true)?;
        let id = self.reg.next_id(kind);
        let mut entity = Entity { id, props, links: Default::default() };
        if let Some((link, pid)) = parent {
            entity.links.insert(link.to_owned(), vec![pid]);
        }
        for nav in kind.navs().iter().filter(|n| n.reverse.is_none()) {
            let Some(value) = obj.get(nav.name) else { continue };
            let ids = if nav.many {
                let items = value.as_array().ok_or_else(|| bad(format!("{} is a JSON array", nav.name)))?;
                items.iter().map(|item| self.create(nav.to, item, None)).collect::<Result<Vec<_>, _>>()?
            } else {
                vec![self.create(nav.to, value, None)?]
            };
            entity.links.entry(nav.name.to_owned()).or_default().extend(ids);
        }
        for nav in kind.navs().iter().filter(|n| n.reverse.is_none() && !n.many) {
            if entity.link(nav.name).is_none() {
                return Err(bad(format!(
                    "a {} needs its {} (\"{}\": {{\"@iot.id\": n}})",
                    kind.singular(),
                    nav.name,
                    nav.name
                )));
            }
        }
        let locations = entity.links("Locations").to_vec();
        self.put(kind, entity);
        if kind == Kind::Thing && !locations.is_empty() {
            self.historical_location(id, locations);
        }
        for nav in kind.navs() {
            let (Some(link), Some(value)) = (nav.reverse, obj.get(nav.name)) else { continue };
            let items = value.as_array().ok_or_else(|| bad(format!("{} is a JSON array", nav.name)))?;
            for item in items {
                self.create(nav.to, item, Some((link, id)))?;
            }
        }
        Ok(id)
    }

    fn historical_location(&mut self, thing: i64, locations: Vec<i64>) {
        let id = self.reg.next_id(Kind::HistoricalLocation);
        let mut props = Map::new();
        props.insert("time".into(), iso(self.now).into());
        let mut hl = Entity { id, props, links: Default::default() };
        hl.links.insert("Thing".into(), vec![thing]);
        hl.links.insert("Locations".into(), locations);
        self.put(Kind::HistoricalLocation, hl);
    }

    /// Adds an observation to the batch; returns its place in it.
    fn observation(&mut self, obj: &Map<String, Value>, parent: Option<(&str, i64)>) -> Result<i64, SensorError> {
        own_properties(Kind::Observation, obj, true)?;
        for key in obj.keys() {
            if !matches!(key.as_str(), "Datastream" | "FeatureOfInterest")
                && !Kind::Observation.properties().iter().any(|(p, _)| p == key)
            {
                return Err(bad(format!("an Observation has no property {key}")));
            }
        }
        let linked = |this: &mut Self, name: &str, kind: Kind| -> Result<Option<i64>, SensorError> {
            match (parent, obj.get(name)) {
                (Some((link, id)), _) if link == name => Ok(Some(id)),
                (_, Some(v)) => this.create(kind, v, None).map(Some),
                _ => Ok(None),
            }
        };
        let datastream = linked(self, "Datastream", Kind::Datastream)?
            .ok_or_else(|| bad("an Observation needs its Datastream (\"Datastream\": {\"@iot.id\": n})"))?;
        self.entity(Kind::Datastream, datastream)?;
        let foi = match linked(self, "FeatureOfInterest", Kind::FeatureOfInterest)? {
            Some(foi) => foi,
            None => self.foi_from_location(datastream)?,
        };
        let row = self.observation_row(datastream, foi, obj)?;
        self.push_observation(row)
    }

    fn observation_row(
        &self,
        datastream: i64,
        foi: i64,
        obj: &Map<String, Value>,
    ) -> Result<ObservationRow, SensorError> {
        let now = iso(self.now);
        let (phenomenon_time, phenomenon_end) = match obj.get("phenomenonTime") {
            Some(v) if !v.is_null() => time_or_interval("phenomenonTime", v)?,
            _ => (now.clone(), None),
        };
        let result_time = match obj.get("resultTime") {
            Some(v) if !v.is_null() => Some(time_or_interval("resultTime", v)?.0),
            _ => Some(now.clone()),
        };
        let (valid_start, valid_end) = match obj.get("validTime") {
            Some(v) if !v.is_null() => {
                let (a, b) = time_or_interval("validTime", v)?;
                (Some(a), b)
            }
            _ => (None, None),
        };
        Ok(ObservationRow {
            id: 0,
            datastream,
            foi,
            phenomenon_time,
            phenomenon_end,
            result_time,
            received_at: now,
            result: obj.get("result").cloned().unwrap_or(Value::Null),
            result_quality: obj.get("resultQuality").filter(|v| !v.is_null()).cloned(),
            valid_start,
            valid_end,
            parameters: obj.get("parameters").filter(|v| !v.is_null()).cloned(),
        })
    }

    /// Adds a checked observation: its datastream's feature set and time range follow.
    fn push_observation(&mut self, row: ObservationRow) -> Result<i64, SensorError> {
        let (datastream, foi) = (row.datastream, row.foi);
        if !self.entity(Kind::Datastream, datastream)?.links("FeaturesOfInterest").contains(&foi) {
            self.edit(Kind::Datastream, datastream, |d| {
                d.links.entry("FeaturesOfInterest".into()).or_default().push(foi)
            })?;
        }
        let t = row.phenomenon_time.clone();
        let range = self.reg.times.entry(datastream).or_insert_with(|| (t.clone(), t.clone()));
        if t < range.0 {
            range.0 = t.clone();
        }
        if t > range.1 {
            range.1 = t;
        }
        self.write.observations.push(row);
        Ok(self.write.observations.len() as i64 - 1)
    }

    /// The feature of interest made from the datastream's Thing's Location (made now if new).
    fn foi_from_location(&mut self, datastream: i64) -> Result<i64, SensorError> {
        let thing = self.entity(Kind::Datastream, datastream)?.link("Thing").unwrap_or_default();
        let location =
            self.reg.get(Kind::Thing, thing).and_then(|t| t.links("Locations").first().copied()).ok_or_else(|| {
                bad("an Observation needs a FeatureOfInterest, or its Thing a Location to make one from")
            })?;
        let loc = self.entity(Kind::Location, location)?.clone();
        if let Some(foi) = loc.link("FeatureOfInterest").filter(|f| self.reg.get(Kind::FeatureOfInterest, *f).is_some())
        {
            return Ok(foi);
        }
        let id = self.reg.next_id(Kind::FeatureOfInterest);
        let mut props = Map::new();
        for (from, to) in [
            ("name", "name"),
            ("description", "description"),
            ("encodingType", "encodingType"),
            ("location", "feature"),
        ] {
            props.insert(to.into(), loc.props.get(from).cloned().unwrap_or(Value::Null));
        }
        self.put(Kind::FeatureOfInterest, Entity { id, props, links: Default::default() });
        self.edit(Kind::Location, location, |l| {
            l.links.insert("FeatureOfInterest".into(), vec![id]);
        })?;
        Ok(id)
    }

    /// Deletes an entity and what the standard deletes with it.
    fn delete(&mut self, kind: Kind, id: i64) -> Result<(), SensorError> {
        if kind == Kind::Observation {
            self.write.delete_observations.push(id);
            return Ok(());
        }
        if self.reg.remove(kind, id).is_none() {
            return Ok(());
        }
        self.touched.remove(&(kind, id));
        self.write.delete.push((kind.singular().to_owned(), id));
        let linking = |reg: &Registry, to: Kind, link: &str| -> Vec<i64> {
            reg.all(to).filter(|e| e.links(link).contains(&id)).map(|e| e.id).collect()
        };
        match kind {
            Kind::Thing => {
                for d in linking(&self.reg, Kind::Datastream, "Thing") {
                    self.delete(Kind::Datastream, d)?;
                }
                for h in linking(&self.reg, Kind::HistoricalLocation, "Thing") {
                    self.delete(Kind::HistoricalLocation, h)?;
                }
            }
            Kind::Sensor | Kind::ObservedProperty => {
                for d in linking(&self.reg, Kind::Datastream, kind.singular()) {
                    self.delete(Kind::Datastream, d)?;
                }
            }
            Kind::Datastream => {
                self.write.delete_observations_of.push(id);
                self.reg.times.remove(&id);
            }
            Kind::Location => {
                for t in linking(&self.reg, Kind::Thing, "Locations") {
                    self.edit(Kind::Thing, t, |e| remove_link(e, "Locations", id))?;
                }
                for h in linking(&self.reg, Kind::HistoricalLocation, "Locations") {
                    self.edit(Kind::HistoricalLocation, h, |e| remove_link(e, "Locations", id))?;
                    if self.entity(Kind::HistoricalLocation, h)?.links("Locations").is_empty() {
                        self.delete(Kind::HistoricalLocation, h)?;
                    }
                }
            }
            Kind::FeatureOfInterest => {
                self.write.delete_observations_at.push(id);
                for d in linking(&self.reg, Kind::Datastream, "FeaturesOfInterest") {
                    self.edit(Kind::Datastream, d, |e| remove_link(e, "FeaturesOfInterest", id))?;
                }
                for l in linking(&self.reg, Kind::Location, "FeatureOfInterest") {
                    self.edit(Kind::Location, l, |e| remove_link(e, "FeatureOfInterest", id))?;
                }
            }
            Kind::HistoricalLocation | Kind::Observation => {}
        }
        Ok(())
    }

    /// Applies `obj` to an existing entity: `replace` (PUT) sets exactly the given properties,
    /// else (PATCH) the given ones only. Single links change with `{"Nav": {"@iot.id": n}}`, a
    /// Thing's Locations with an array of them.
    fn update(&mut self, kind: Kind, id: i64, obj: &Map<String, Value>, replace: bool) -> Result<(), SensorError> {
        let mut e = self.entity(kind, id)?.clone();
        let given = own_properties(kind, obj, replace)?;
        if replace {
            e.props = given;
        } else {
            e.props.extend(given);
        }
        for (name, _) in kind.properties() {
            if let Some(v) = e.props.get(*name) {
                check_property(kind, name, v, &e.props)?;
            }
        }
        let mut relocated = None;
        for nav in kind.navs().iter().filter(|n| n.reverse.is_none()) {
            let Some(value) = obj.get(nav.name) else { continue };
            let items: Vec<&Value> = if nav.many {
                value.as_array().ok_or_else(|| bad(format!("{} is a JSON array", nav.name)))?.iter().collect()
            } else {
                vec![value]
            };
            let mut ids = Vec::new();
            for item in items {
                let link = item.as_object().and_then(link_only);
                let id = match link {
                    Some(id) => {
                        let id = id?;
                        self.entity(nav.to, id)?;
                        id
                    }
                    None => self.create(nav.to, item, None)?,
                };
                ids.push(id);
            }
            if kind == Kind::Thing && nav.name == "Locations" {
                relocated = Some(ids.clone());
            }
            e.links.insert(nav.name.to_owned(), ids);
        }
        self.put(kind, e);
        if let Some(locations) = relocated {
            self.historical_location(id, locations);
        }
        Ok(())
    }

    /// The registry it leads to and the store change, once everything checked out.
    fn finish(mut self) -> (Registry, SensorWrite) {
        self.write.put =
            self.touched.iter().filter_map(|(kind, id)| self.reg.get(*kind, *id).map(|e| to_row(*kind, e))).collect();
        (self.reg, self.write)
    }
}

fn add_link(e: &mut Entity, link: &str, id: i64, single: bool) {
    let ids = e.links.entry(link.to_owned()).or_default();
    if single {
        *ids = vec![id];
    } else if !ids.contains(&id) {
        ids.push(id);
    }
}

fn remove_link(e: &mut Entity, link: &str, id: i64) {
    if let Some(ids) = e.links.get_mut(link) {
        ids.retain(|x| *x != id);
    }
}

/// The own properties in a body, checked: unknown names are refused, and with `complete` every
/// required one must be there. Navigation properties and `@iot.id` are left to the caller.
fn own_properties(kind: Kind, obj: &Map<String, Value>, complete: bool) -> Result<Map<String, Value>, SensorError> {
    let mut props = Map::new();
    for (key, value) in obj {
        if kind.properties().iter().any(|(p, _)| p == key) {
            props.insert(key.clone(), value.clone());
        } else if kind.computed().contains(&key.as_str()) {
            // Computed by the server: what a client sends back of it is ignored.
        } else if kind.nav(key).is_none()
            && key != "@iot.id"
            && !key.starts_with("@iot.")
            && !key.ends_with("@iot.navigationLink")
        {
            return Err(bad(format!("a {} has no property {key}", kind.singular())));
        }
    }
    if complete {
        let missing: Vec<&str> = kind
            .properties()
            .iter()
            .filter(|(p, required)| *required && !props.contains_key(*p))
            .map(|(p, _)| *p)
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!("a {} needs {}", kind.singular(), missing.join(", "))));
        }
    }
    for (key, value) in &props {
        check_property(kind, key, value, &props)?;
    }
    Ok(props)
}

/// The dataArray components an observation may be given by.
const COMPONENTS: [&str; 7] =
    ["phenomenonTime", "result", "resultTime", "resultQuality", "validTime", "parameters", "FeatureOfInterest/id"];

impl Sensors {
    /// Stores the draft's change, then moves the registry on and tells subscribers; returns the
    /// new observations' ids.
    async fn commit(&self, draft: Draft) -> Result<Vec<i64>, SensorError> {
        let (reg, mut write) = draft.finish();
        let trackers = self.track(&reg, &mut write);
        let ids = self.store.write_sensors(&write).await?;
        self.registry.store(Arc::new(reg));
        *self.trackers.lock().expect("trackers lock") = trackers;
        for (mut row, id) in write.observations.into_iter().zip(&ids) {
            row.id = *id;
            let _ = self.observed.send(Arc::new(row));
        }
        self.announce(write.events);
        Ok(ids)
    }

    /// `POST` to an entity set: creates `body` (with everything nested in it); returns the new
    /// entity's self link.
    pub async fn create(&self, steps: &[Step], body: &Value, ctx: &Ctx) -> Result<String, SensorError> {
        let _one_writer = self.writer.lock().await;
        let mut draft = Draft::new(&self.registry());
        let (kind, id) = match steps {
            [Step::Name(set, None)] => {
                let kind =
                    Kind::from_plural(set).ok_or_else(|| super::not_found(format!("there is no entity set {set}")))?;
                (kind, draft.create(kind, body, None)?)
            }
            [Step::Name(set, Some(pid)), Step::Name(name, None)] => {
                let pkind =
                    Kind::from_plural(set).ok_or_else(|| super::not_found(format!("there is no entity set {set}")))?;
                if pkind != Kind::Observation {
                    draft.entity(pkind, *pid).map_err(|_| super::not_found(format!("there is no {set}({pid})")))?;
                }
                let nav = pkind
                    .nav(name)
                    .ok_or_else(|| super::not_found(format!("a {} has no navigation {name}", pkind.singular())))?;
                if !nav.many || pkind == Kind::Observation {
                    return Err(bad(format!("{set}({pid})/{name} is not an entity set to create in")));
                }
                let id = match nav.reverse {
                    Some(link) => draft.create(nav.to, body, Some((link, *pid)))?,
                    None => {
                        let id = draft.create(nav.to, body, None)?;
                        draft.edit(pkind, *pid, |e| add_link(e, nav.name, id, false))?;
                        if pkind == Kind::Thing {
                            let locations = draft.entity(pkind, *pid)?.links("Locations").to_vec();
                            draft.historical_location(*pid, locations);
                        }
                        id
                    }
                };
                (nav.to, id)
            }
            _ => return Err(bad("create by POST to an entity set: Things, or Things(1)/Datastreams")),
        };
        let ids = self.commit(draft).await?;
        let id = if kind == Kind::Observation { ids[id as usize] } else { id };
        Ok(ctx.self_link(kind, id))
    }

    /// The entity a write path names (every entity exists for staff).
    async fn write_target(&self, steps: &[Step]) -> Result<(Kind, i64), SensorError> {
        let r = self.resolve(steps, Audience::Staff).await?;
        match r.target {
            Target::One { kind, id } if r.property.is_none() && !r.reference => Ok((kind, id)),
            _ => Err(bad("updates and deletes name one entity: Things(1)")),
        }
    }

    /// `PATCH` (merge) or `PUT` (`replace`) of one entity.
    pub async fn update(&self, steps: &[Step], body: &Value, replace: bool) -> Result<(), SensorError> {
        let obj = body.as_object().ok_or_else(|| bad("the body is a JSON object"))?;
        let (kind, id) = self.write_target(steps).await?;
        let _one_writer = self.writer.lock().await;
        if kind == Kind::Observation {
            return self.update_observation(id, obj, replace).await;
        }
        let mut draft = Draft::new(&self.registry());
        draft.update(kind, id, obj, replace)?;
        self.commit(draft).await.map(drop)
    }

    /// A JSON Patch (RFC 6902) of one entity's own properties.
    pub async fn json_patch(&self, steps: &[Step], patch: &json_patch::Patch) -> Result<(), SensorError> {
        let (kind, id) = self.write_target(steps).await?;
        let mut doc = match kind {
            Kind::Observation => {
                let row = self.observation(id, Audience::Staff).await?;
                let mut obs = super::read::observation_properties(&row);
                obs.remove("@iot.id");
                Value::Object(obs)
            }
            _ => Value::Object(self.registry().get(kind, id).map(|e| e.props.clone()).unwrap_or_default()),
        };
        json_patch::patch(&mut doc, patch).map_err(|e| bad(format!("the JSON Patch does not apply: {e}")))?;
        self.update(steps, &doc, true).await
    }

    async fn update_observation(&self, id: i64, obj: &Map<String, Value>, replace: bool) -> Result<(), SensorError> {
        let old = self.observation(id, Audience::Staff).await?;
        let mut merged = if replace { Map::new() } else { super::read::observation_properties(&old) };
        merged.remove("@iot.id");
        merged.extend(obj.clone());
        let draft = Draft::new(&self.registry());
        own_properties(Kind::Observation, &merged, true)?;
        let link = |name: &str, old: i64| -> Result<i64, SensorError> {
            match merged.get(name).and_then(Value::as_object).and_then(link_only) {
                Some(id) => id,
                None => Ok(old),
            }
        };
        let (datastream, foi) = (link("Datastream", old.datastream)?, link("FeatureOfInterest", old.foi)?);
        draft.entity(Kind::Datastream, datastream)?;
        draft.entity(Kind::FeatureOfInterest, foi)?;
        let mut row = draft.observation_row(datastream, foi, &merged)?;
        row.id = id;
        row.received_at = old.received_at;
        if merged.get("resultTime").is_none() {
            row.result_time = old.result_time.filter(|_| !replace);
        }
        if !self.store.update_observation(&row).await? {
            return Err(super::not_found(format!("there is no Observations({id})")));
        }
        Ok(())
    }

    /// `DELETE` of one entity, with the standard's cascades.
    pub async fn delete(&self, steps: &[Step]) -> Result<(), SensorError> {
        let (kind, id) = self.write_target(steps).await?;
        let _one_writer = self.writer.lock().await;
        let mut draft = Draft::new(&self.registry());
        draft.delete(kind, id)?;
        self.commit(draft).await.map(drop)
    }

    /// `POST CreateObservations`: the dataArray extension. Every row is checked before any is
    /// stored; then all are stored in one transaction. Returns each one's self link, in order.
    pub async fn create_observations(&self, body: &Value, ctx: &Ctx) -> Result<Vec<String>, SensorError> {
        let groups = body
            .as_array()
            .ok_or_else(|| bad("CreateObservations takes a JSON array of {Datastream, components, dataArray}"))?;
        let _one_writer = self.writer.lock().await;
        let mut draft = Draft::new(&self.registry());
        for (g, group) in groups.iter().enumerate() {
            let at = |what: String| bad(format!("CreateObservations[{g}]: {what}"));
            let datastream = group
                .get("Datastream")
                .and_then(Value::as_object)
                .and_then(link_only)
                .ok_or_else(|| at("needs \"Datastream\": {\"@iot.id\": n}".into()))?
                .map_err(|e| at(e.to_string()))?;
            draft.entity(Kind::Datastream, datastream).map_err(|e| at(e.to_string()))?;
            let components: Vec<&str> = group
                .get("components")
                .and_then(Value::as_array)
                .ok_or_else(|| at("needs \"components\", an array of names".into()))?
                .iter()
                .map(|c| {
                    c.as_str()
                        .filter(|c| COMPONENTS.contains(c))
                        .ok_or_else(|| at(format!("unknown component {c}; known: {}", COMPONENTS.join(", "))))
                })
                .collect::<Result<_, _>>()?;
            if !components.contains(&"result") {
                return Err(at("the components must include result".into()));
            }
            let rows = group
                .get("dataArray")
                .and_then(Value::as_array)
                .ok_or_else(|| at("needs \"dataArray\", an array of rows".into()))?;
            let mut default_foi = None;
            for (r, values) in rows.iter().enumerate() {
                let at = |what: String| bad(format!("CreateObservations[{g}].dataArray[{r}]: {what}"));
                let values = values.as_array().filter(|v| v.len() == components.len()).ok_or_else(|| {
                    at(format!("a row is an array of {} values, one per component", components.len()))
                })?;
                let mut obj = Map::new();
                let mut foi = None;
                for (name, value) in components.iter().zip(values) {
                    if *name == "FeatureOfInterest/id" {
                        let id = value
                            .as_i64()
                            .ok_or_else(|| at(format!("FeatureOfInterest/id is a whole number, not {value}")))?;
                        draft.entity(Kind::FeatureOfInterest, id).map_err(|e| at(e.to_string()))?;
                        foi = Some(id);
                    } else {
                        obj.insert((*name).to_owned(), value.clone());
                    }
                }
                let foi = match foi.or(default_foi) {
                    Some(f) => f,
                    None => *default_foi.insert(draft.foi_from_location(datastream).map_err(|e| at(e.to_string()))?),
                };
                let row = draft.observation_row(datastream, foi, &obj).map_err(|e| at(e.to_string()))?;
                draft.push_observation(row)?;
            }
        }
        let ids = self.commit(draft).await?;
        Ok(ids.into_iter().map(|id| ctx.self_link(Kind::Observation, id)).collect())
    }

    /// A device's `POST`: observations for the datastreams of its Thing only
    /// (`Datastreams(n)/Observations`, `Observations`, `CreateObservations`); returns what
    /// [`Self::create`] or [`Self::create_observations`] return.
    pub async fn device_create(
        &self,
        thing: i64,
        steps: &[Step],
        body: &Value,
        ctx: &Ctx,
    ) -> Result<Vec<String>, SensorError> {
        let link = |v: &Value| v.get("Datastream").and_then(|d| d.get("@iot.id")).and_then(Value::as_i64);
        let (datastreams, batch): (Vec<Option<i64>>, bool) = match steps {
            [Step::Name(set, Some(d)), Step::Name(obs, None)] if set == "Datastreams" && obs == "Observations" => {
                (vec![Some(*d)], false)
            }
            [Step::Name(obs, None)] if obs == "Observations" => (vec![link(body)], false),
            [Step::Name(c, None)] if c == "CreateObservations" => {
                (body.as_array().map(|groups| groups.iter().map(link).collect()).unwrap_or_default(), true)
            }
            _ => return Err(SensorError::Forbidden("a device may only post observations".into())),
        };
        let reg = self.registry();
        for d in &datastreams {
            let owned = d.and_then(|d| reg.get(Kind::Datastream, d)).is_some_and(|ds| ds.link("Thing") == Some(thing));
            if !owned {
                return Err(SensorError::Forbidden(format!(
                    "this device posts only to the datastreams of Things({thing}), not {}",
                    d.map_or("an unnamed datastream".into(), |d| format!("Datastreams({d})"))
                )));
            }
        }
        if batch { self.create_observations(body, ctx).await } else { Ok(vec![self.create(steps, body, ctx).await?]) }
    }

    /// Stores observations a device sent for its datastream (HTTP or MQTT): checked like a
    /// `POST`, stored in one transaction; returns their ids.
    pub async fn add_observations(&self, datastream: i64, bodies: &[Value]) -> Result<Vec<i64>, SensorError> {
        let _one_writer = self.writer.lock().await;
        let mut draft = Draft::new(&self.registry());
        for body in bodies {
            draft.create(Kind::Observation, body, Some(("Datastream", datastream)))?;
        }
        self.commit(draft).await
    }
}

/// For tests and the demo: a Thing with a Location and one Datastream, in JSON.
pub fn example_thing(name: &str, lon: f64, lat: f64, unit: &str) -> Value {
    json!({
        "name": name, "description": name,
        "Locations": [{"name": name, "description": name, "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [lon, lat]}}],
        "Datastreams": [{"name": name, "description": name,
                         "unitOfMeasurement": {"name": unit, "symbol": unit, "definition": ""},
                         "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                         "Sensor": {"name": name, "description": name, "encodingType": "text/plain", "metadata": ""},
                         "ObservedProperty": {"name": name, "definition": "", "description": name}}]
    })
}
