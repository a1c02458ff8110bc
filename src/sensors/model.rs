//! The SensorThings data model (OGC 18-088, section 8): the eight entity types, their own
//! properties, and the navigation between them.
//!
//! Every entity but an observation is small and few (a city has hundreds of stations, not
//! millions), so [`Registry`] holds them all in memory: each an [`Entity`] with its own
//! properties as JSON and its *stored* links (ids of the entities it points to). The reverse
//! direction of a link (a Thing's Datastreams) is found by looking at the other side. Observations
//! stay in the store ([`crate::store::sensors`]).
//!
//! A Thing or a Datastream whose `properties` say `"staffOnly": true` is for staff: it, and
//! everything seen only through it, never reaches the public.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::Audience;

/// The entity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Thing,
    Location,
    HistoricalLocation,
    Sensor,
    ObservedProperty,
    Datastream,
    Observation,
    FeatureOfInterest,
}

/// How an entity reaches related ones through a navigation property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nav {
    pub name: &'static str,
    pub to: Kind,
    /// An entity set (else one entity).
    pub many: bool,
    /// Which side stores the link: `None` this entity (under `name`); `Some(link)` the other
    /// side, under `link`.
    pub reverse: Option<&'static str>,
}

const fn stored(name: &'static str, to: Kind, many: bool) -> Nav {
    Nav { name, to, many, reverse: None }
}

const fn reverse(name: &'static str, to: Kind, link: &'static str) -> Nav {
    Nav { name, to, many: true, reverse: Some(link) }
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Thing,
        Kind::Location,
        Kind::HistoricalLocation,
        Kind::Sensor,
        Kind::ObservedProperty,
        Kind::Datastream,
        Kind::Observation,
        Kind::FeatureOfInterest,
    ];

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Thing => "Thing",
            Kind::Location => "Location",
            Kind::HistoricalLocation => "HistoricalLocation",
            Kind::Sensor => "Sensor",
            Kind::ObservedProperty => "ObservedProperty",
            Kind::Datastream => "Datastream",
            Kind::Observation => "Observation",
            Kind::FeatureOfInterest => "FeatureOfInterest",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Thing => "Things",
            Kind::Location => "Locations",
            Kind::HistoricalLocation => "HistoricalLocations",
            Kind::Sensor => "Sensors",
            Kind::ObservedProperty => "ObservedProperties",
            Kind::Datastream => "Datastreams",
            Kind::Observation => "Observations",
            Kind::FeatureOfInterest => "FeaturesOfInterest",
        }
    }

    pub fn from_plural(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == name)
    }

    pub fn from_singular(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.singular() == name)
    }

    /// The navigation properties.
    pub fn navs(self) -> &'static [Nav] {
        use Kind::*;
        const THING: &[Nav] = &[
            stored("Locations", Location, true),
            reverse("HistoricalLocations", HistoricalLocation, "Thing"),
            reverse("Datastreams", Datastream, "Thing"),
        ];
        const LOCATION: &[Nav] =
            &[reverse("Things", Thing, "Locations"), reverse("HistoricalLocations", HistoricalLocation, "Locations")];
        const HISTORICAL_LOCATION: &[Nav] = &[stored("Thing", Thing, false), stored("Locations", Location, true)];
        const SENSOR: &[Nav] = &[reverse("Datastreams", Datastream, "Sensor")];
        const OBSERVED_PROPERTY: &[Nav] = &[reverse("Datastreams", Datastream, "ObservedProperty")];
        const DATASTREAM: &[Nav] = &[
            stored("Thing", Thing, false),
            stored("Sensor", Sensor, false),
            stored("ObservedProperty", ObservedProperty, false),
            reverse("Observations", Observation, "Datastream"),
        ];
        const OBSERVATION: &[Nav] =
            &[stored("Datastream", Datastream, false), stored("FeatureOfInterest", FeatureOfInterest, false)];
        const FEATURE_OF_INTEREST: &[Nav] = &[reverse("Observations", Observation, "FeatureOfInterest")];
        match self {
            Thing => THING,
            Location => LOCATION,
            HistoricalLocation => HISTORICAL_LOCATION,
            Sensor => SENSOR,
            ObservedProperty => OBSERVED_PROPERTY,
            Datastream => DATASTREAM,
            Observation => OBSERVATION,
            FeatureOfInterest => FEATURE_OF_INTEREST,
        }
    }

    pub fn nav(self, name: &str) -> Option<&'static Nav> {
        self.navs().iter().find(|n| n.name == name)
    }

    /// The own properties a client may write, and which of them a new entity must have
    /// (`description` is optional, as in FROST-Server: clients leave an empty one out).
    pub fn properties(self) -> &'static [(&'static str, bool)] {
        match self {
            Kind::Thing => &[("name", true), ("description", false), ("properties", false)],
            Kind::Location => &[
                ("name", true),
                ("description", false),
                ("encodingType", true),
                ("location", true),
                ("properties", false),
            ],
            Kind::HistoricalLocation => &[("time", true)],
            Kind::Sensor => &[
                ("name", true),
                ("description", false),
                ("encodingType", true),
                ("metadata", true),
                ("properties", false),
            ],
            Kind::ObservedProperty => {
                &[("name", true), ("definition", true), ("description", false), ("properties", false)]
            }
            Kind::Datastream => &[
                ("name", true),
                ("description", false),
                ("unitOfMeasurement", true),
                ("observationType", true),
                ("properties", false),
            ],
            Kind::Observation => &[
                ("phenomenonTime", false),
                ("result", true),
                ("resultTime", false),
                ("resultQuality", false),
                ("validTime", false),
                ("parameters", false),
            ],
            Kind::FeatureOfInterest => &[
                ("name", true),
                ("description", false),
                ("encodingType", true),
                ("feature", true),
                ("properties", false),
            ],
        }
    }

    /// Properties the server computes (read-only).
    pub fn computed(self) -> &'static [&'static str] {
        match self {
            Kind::Datastream => &["observedArea", "phenomenonTime", "resultTime"],
            _ => &[],
        }
    }
}

/// An entity other than an observation: its own properties and its stored links.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    #[serde(skip)]
    pub id: i64,
    pub props: Map<String, Value>,
    /// Stored links by navigation name (one id for a single entity). Datastreams also keep
    /// `FeaturesOfInterest`, the features their observations are of, and Locations the
    /// `FeatureOfInterest` made from them for observations.
    #[serde(default)]
    pub links: BTreeMap<String, Vec<i64>>,
}

impl Entity {
    pub fn link(&self, name: &str) -> Option<i64> {
        self.links.get(name).and_then(|ids| ids.first().copied())
    }

    pub fn links(&self, name: &str) -> &[i64] {
        self.links.get(name).map_or(&[], Vec::as_slice)
    }

    /// A datastream's thresholds (`properties.thresholds`), if it has valid ones.
    pub fn thresholds(&self) -> Option<super::state::Thresholds> {
        super::state::Thresholds::from_properties(self.props.get("properties")?)?.ok()
    }

    /// Whether `properties` says it is for staff only.
    pub fn staff_only(&self) -> bool {
        self.props.get("properties").and_then(|p| p.get("staffOnly")).and_then(Value::as_bool) == Some(true)
    }
}

/// Every entity but the observations, with the newest ids handed out.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    sets: HashMap<Kind, BTreeMap<i64, Entity>>,
    last_id: HashMap<Kind, i64>,
    /// Per datastream, the first and last phenomenon time of its observations.
    pub times: HashMap<i64, (String, String)>,
}

impl Registry {
    pub fn get(&self, kind: Kind, id: i64) -> Option<&Entity> {
        self.sets.get(&kind)?.get(&id)
    }

    pub fn all(&self, kind: Kind) -> impl Iterator<Item = &Entity> {
        self.sets.get(&kind).into_iter().flat_map(BTreeMap::values)
    }

    /// A fresh id for a new entity of `kind`.
    pub fn next_id(&mut self, kind: Kind) -> i64 {
        let last = self.last_id.entry(kind).or_insert(0);
        *last += 1;
        *last
    }

    pub fn put(&mut self, kind: Kind, entity: Entity) {
        let last = self.last_id.entry(kind).or_insert(0);
        *last = (*last).max(entity.id);
        self.sets.entry(kind).or_default().insert(entity.id, entity);
    }

    pub fn remove(&mut self, kind: Kind, id: i64) -> Option<Entity> {
        self.sets.get_mut(&kind)?.remove(&id)
    }

    /// The ids `entity` of `kind` reaches through `nav` (not for observations).
    pub fn related(&self, entity: &Entity, nav: &Nav) -> Vec<i64> {
        match nav.reverse {
            None => entity.links(nav.name).to_vec(),
            Some(link) => self.all(nav.to).filter(|e| e.links(link).contains(&entity.id)).map(|e| e.id).collect(),
        }
    }

    /// Whether `audience` may see the entity.
    pub fn visible(&self, kind: Kind, entity: &Entity, audience: Audience) -> bool {
        if audience == Audience::Staff {
            return true;
        }
        let thing = |id: i64| self.get(Kind::Thing, id).is_some_and(|t| !t.staff_only());
        let datastream = |d: &Entity| !d.staff_only() && d.link("Thing").is_some_and(thing);
        match kind {
            Kind::Thing => !entity.staff_only(),
            Kind::Datastream => datastream(entity),
            Kind::HistoricalLocation => entity.link("Thing").is_some_and(thing),
            Kind::Location => {
                self.all(Kind::Thing).any(|t| !t.staff_only() && t.links("Locations").contains(&entity.id))
            }
            Kind::Sensor | Kind::ObservedProperty => {
                let link = kind.singular();
                self.all(Kind::Datastream).any(|d| d.link(link) == Some(entity.id) && datastream(d))
            }
            Kind::FeatureOfInterest => {
                self.all(Kind::Datastream).any(|d| d.links("FeaturesOfInterest").contains(&entity.id) && datastream(d))
            }
            Kind::Observation => false,
        }
    }

    /// The datastreams `audience` may see, by id.
    pub fn visible_datastreams(&self, audience: Audience) -> BTreeSet<i64> {
        self.all(Kind::Datastream).filter(|d| self.visible(Kind::Datastream, d, audience)).map(|d| d.id).collect()
    }
}

/// An entity as the store keeps it.
pub fn to_row(kind: Kind, entity: &Entity) -> crate::store::sensors::EntityRow {
    crate::store::sensors::EntityRow {
        kind: kind.singular().to_owned(),
        id: entity.id,
        body: serde_json::to_value(entity).expect("entities serialise"),
    }
}

/// An entity from the store.
pub fn from_row(row: crate::store::sensors::EntityRow) -> Result<(Kind, Entity), String> {
    let kind = Kind::from_singular(&row.kind).ok_or_else(|| format!("unknown entity type {:?}", row.kind))?;
    let mut entity: Entity = serde_json::from_value(row.body).map_err(|e| format!("{} {}: {e}", row.kind, row.id))?;
    entity.id = row.id;
    Ok((kind, entity))
}
