//! OGC SensorThings API 1.1 (issue #17): water-level gauges, snow-depth sensors and cameras.
//! So far the `$filter` language ([`filter`]) and a datastream's state against its thresholds
//! with hysteresis, or 欠測 when its device fell silent ([`state`]); the entities, their stores
//! and the HTTP routes follow.

pub mod filter;
pub mod state;
