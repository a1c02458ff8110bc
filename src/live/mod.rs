//! Live vehicle positions (issue #6, in progress): so far the reading of position reports from
//! the protocols trackers speak ([`fix`]); ingest routes, the vehicle registry, live streams and
//! "last plowed" per road build on it.
pub mod fix;
