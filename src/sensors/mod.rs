//! OGC SensorThings API 1.1 (issue #17): water-level gauges, snow-depth sensors and cameras.
//! The data model and the in-memory registry of every entity but observations ([`model`]);
//! the `$filter` language ([`filter`]) and its evaluation ([`eval`]); a datastream's state
//! against its thresholds with hysteresis, or 欠測 when its device fell silent ([`state`]).

pub mod eval;
pub mod filter;
pub mod model;
pub mod state;
