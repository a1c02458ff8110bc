//! The stations on the map: keeps the live layers `sensors` and `cameras` (public stations)
//! and `sensors_all` and `cameras_all` (staff: every station) in the engine, as the snowplow
//! layers are. Each datastream is a point at its Thing's location with its latest reading, its
//! state class and the reading's age; a datastream in 欠測 shows no value, never its last one.
//! Each camera is a point with the time of its latest image.
//!
//! A task redraws the layers after every change (observations, states, entities, images), at
//! most every [`DEBOUNCE`], and every [`AGE_EVERY`] so that ages stay true.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::{Entity, Kind, Registry};
use super::state::{State, Thresholds};
use super::{Sensors, parse_utc};
use crate::catalog::{Audience, LayerDef};
use crate::crs::{Epsg, with_transformer};
use crate::engine::Engine;
use crate::feature::{AttrValue, Feature, FeatureId};
use crate::store::sensors::{ObservationFilter, ObservationOrder};

pub const SENSORS: &str = "sensors";
pub const SENSORS_ALL: &str = "sensors_all";
pub const CAMERAS: &str = "cameras";
pub const CAMERAS_ALL: &str = "cameras_all";

const DEBOUNCE: Duration = Duration::from_secs(1);
const AGE_EVERY: Duration = Duration::from_secs(30);

/// A state's class for styling: `normal`, `level1` … `level4`, `missing`, `unknown`.
pub fn state_class(state: State) -> String {
    match state {
        State::Unknown => "unknown".into(),
        State::Missing => "missing".into(),
        State::Level(0) => "normal".into(),
        State::Level(n) => format!("level{n}"),
    }
}

fn text(props: &serde_json::Map<String, Value>, key: &str) -> String {
    props.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn flag(e: &Entity, key: &str) -> bool {
    e.props.get("properties").and_then(|p| p.get(key)).and_then(Value::as_bool) == Some(true)
}

/// A Thing's point (its first Location's GeoJSON Point) in the store's CRS.
fn point(reg: &Registry, thing: &Entity, crs: Epsg) -> Option<geo_types::Geometry<f64>> {
    let location = thing.links("Locations").iter().find_map(|id| reg.get(Kind::Location, *id))?;
    let c = location.props.get("location")?.get("coordinates")?.as_array()?;
    let (lon, lat) = (c.first()?.as_f64()?, c.get(1)?.as_f64()?);
    let (x, y) = with_transformer(Epsg::WGS84, crs, |t| t.point(lon, lat)).ok()?.ok()?;
    Some(geo_types::Geometry::Point((x, y).into()))
}

fn age_min(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> AttrValue {
    at.map_or(AttrValue::Null, |t| AttrValue::Int((now - t).num_minutes().max(0)))
}

impl Sensors {
    /// The features of the sensor and camera layers now: (layer, features) for each layer.
    async fn map_features(&self, engine: &Engine, now: DateTime<Utc>) -> Vec<(&'static str, Vec<Feature>)> {
        let reg = self.registry();
        let crs = self.store.crs();
        let catalog = engine.catalog();
        let (Some(sdef), Some(cdef)) = (catalog.get(SENSORS_ALL), catalog.get(CAMERAS_ALL)) else { return Vec::new() };
        let (mut sensors, mut sensors_all, mut cameras, mut cameras_all) = (vec![], vec![], vec![], vec![]);
        for d in reg.all(Kind::Datastream) {
            let Some(thing) = d.link("Thing").and_then(|t| reg.get(Kind::Thing, t)) else { continue };
            let Some(geometry) = point(&reg, thing, crs) else { continue };
            match self.datastream_feature(&reg, sdef, d, thing, geometry, now).await {
                Ok(f) => {
                    if reg.visible(Kind::Datastream, d, Audience::Public) {
                        sensors.push(f.clone());
                    }
                    sensors_all.push(f);
                }
                Err(e) => tracing::warn!(datastream = d.id, error = %e, "a station is not on the map"),
            }
        }
        for thing in reg.all(Kind::Thing).filter(|t| t.is_camera()) {
            let Some(geometry) = point(&reg, thing, crs) else { continue };
            let latest = match self.store.camera_images(thing.id, 1).await {
                Ok(images) => images.into_iter().next(),
                Err(e) => {
                    tracing::warn!(camera = thing.id, error = %e, "a camera is not on the map");
                    continue;
                }
            };
            let at = latest.as_ref().and_then(|i| parse_utc(&i.taken_at));
            let attributes = cdef.values_by_name([
                ("name", AttrValue::text(text(&thing.props, "name"))),
                ("camera_id", AttrValue::Int(thing.id)),
                ("latest_at", latest.map_or(AttrValue::Null, |i| AttrValue::text(i.taken_at))),
                ("age_min", age_min(at, now)),
                ("synthetic", AttrValue::Bool(flag(thing, "synthetic"))),
                ("staff_only", AttrValue::Bool(thing.staff_only())),
            ]);
            let f = Feature { id: thing.id as FeatureId, geometry, attributes };
            if reg.visible(Kind::Thing, thing, Audience::Public) {
                cameras.push(f.clone());
            }
            cameras_all.push(f);
        }
        vec![(SENSORS, sensors), (SENSORS_ALL, sensors_all), (CAMERAS, cameras), (CAMERAS_ALL, cameras_all)]
    }

    async fn datastream_feature(
        &self,
        reg: &Registry,
        def: &LayerDef,
        d: &Entity,
        thing: &Entity,
        geometry: geo_types::Geometry<f64>,
        now: DateTime<Utc>,
    ) -> Result<Feature, super::SensorError> {
        let filter = ObservationFilter { datastreams: vec![d.id], ..Default::default() };
        let newest = self.store.observations(&filter, ObservationOrder::PhenomenonTime, true, 1, 0).await?;
        let newest = newest.first();
        let at = newest.and_then(|o| parse_utc(&o.phenomenon_time));
        let thresholds = d.thresholds();
        let state = self.state(d.id).unwrap_or(if newest.is_some() { State::Level(0) } else { State::Unknown });
        // A datastream without thresholds has no named level, only 欠測 and 不明.
        let (name_ja, name_en) = match (&thresholds, state) {
            (None, State::Level(_)) => (String::new(), String::new()),
            (t, s) => s.names(t.as_ref().unwrap_or(&Thresholds::default())),
        };
        let unit = d.props.get("unitOfMeasurement").and_then(|u| u.get("symbol")).and_then(Value::as_str).unwrap_or("");
        // 欠測 shows no value, never the last one.
        let value = newest.and_then(|o| o.result.as_f64()).filter(|_| state != State::Missing);
        let value_text = match value {
            Some(v) => format!("{v} {unit}").trim_end().to_owned(),
            None => name_ja.clone(),
        };
        let observed = d.link("ObservedProperty").and_then(|o| reg.get(Kind::ObservedProperty, o));
        Ok(Feature {
            id: d.id as FeatureId,
            geometry,
            attributes: def.values_by_name([
                ("station", AttrValue::text(text(&thing.props, "name"))),
                (
                    "observed",
                    AttrValue::text(observed.map(|o| text(&o.props, "name")).unwrap_or_else(|| text(&d.props, "name"))),
                ),
                ("value", value.map_or(AttrValue::Null, AttrValue::Real)),
                ("unit", AttrValue::text(unit)),
                ("value_text", AttrValue::text(value_text)),
                ("state_class", AttrValue::text(state_class(state))),
                ("state_name", AttrValue::text(name_ja)),
                ("state_name_en", AttrValue::text(name_en)),
                ("observed_at", newest.map_or(AttrValue::Null, |o| AttrValue::text(&o.phenomenon_time))),
                ("age_min", age_min(at, now)),
                ("datastream_id", AttrValue::Int(d.id)),
                ("synthetic", AttrValue::Bool(flag(thing, "synthetic") || flag(d, "synthetic"))),
                ("staff_only", AttrValue::Bool(!reg.visible(Kind::Datastream, d, Audience::Public))),
            ]),
        })
    }

    /// Redraws the station layers in `engine` now; `shown` holds what each layer showed before.
    pub async fn publish_map(&self, engine: &Engine, shown: &mut [HashSet<FeatureId>; 4]) {
        for ((layer, features), before) in self.map_features(engine, Utc::now()).await.into_iter().zip(shown.iter_mut())
        {
            let now: HashSet<FeatureId> = features.iter().map(|f| f.id).collect();
            let gone: Vec<FeatureId> = before.difference(&now).copied().collect();
            match engine.apply_changes(layer, features, &gone) {
                Ok(_) => *before = now,
                Err(e) => tracing::warn!(layer, error = %e, "station layer not updated"),
            }
        }
    }

    /// Keeps the station layers in `engine` up to date while the service lives.
    pub fn start_map(self: &Arc<Self>, engine: Arc<Engine>) {
        let weak = Arc::downgrade(self);
        let changed = self.changed.clone();
        tokio::spawn(async move {
            let mut shown: [HashSet<FeatureId>; 4] = Default::default();
            loop {
                let Some(sensors) = weak.upgrade() else { return };
                sensors.publish_map(&engine, &mut shown).await;
                drop(sensors);
                let _ = tokio::time::timeout(AGE_EVERY, changed.notified()).await;
                tokio::time::sleep(DEBOUNCE).await;
            }
        });
    }
}
