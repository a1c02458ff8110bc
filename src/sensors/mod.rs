//! OGC SensorThings API 1.1 (issue #17): water-level gauges, snow-depth sensors and cameras.
//! So far the `$filter` language ([`filter`]); the entities, their stores and the HTTP routes
//! follow.

pub mod filter;
