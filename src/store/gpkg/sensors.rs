//! SensorThings entities and observations in the GeoPackage (tables in `schema/gpkg/machizu.sql`); the Rust is
//! shared with the other backend ([`crate::store::sensors::impl_sensor_store`]).

use super::GpkgStore;

mod sql {
    /// Begins a transaction that reads, then writes. SQLite: take the write lock at once, so that a read before the first write cannot fail with SQLITE_BUSY against another writer.
    pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
    pub const SELECT_STA_ENTITIES: &str = include_str!("sql/select_sta_entities.sql");
    pub const PUT_STA_ENTITIES: &str = include_str!("sql/put_sta_entities.sql");
    pub const DELETE_STA_ENTITIES: &str = include_str!("sql/delete_sta_entities.sql");
    pub const DELETE_STA_OBSERVATIONS: &str = include_str!("sql/delete_sta_observations.sql");
    pub const INSERT_STA_OBSERVATIONS: &str = include_str!("sql/insert_sta_observations.sql");
    pub const UPDATE_STA_OBSERVATION: &str = include_str!("sql/update_sta_observation.sql");
    pub const SELECT_STA_OBSERVATIONS: &str = include_str!("sql/select_sta_observations.sql");
    pub const STA_OBSERVATIONS_WHERE: &str = include_str!("sql/sta_observations_where.sql");
    pub const COUNT_STA_OBSERVATIONS: &str =
        concat!(include_str!("sql/count_sta_observations.sql"), include_str!("sql/sta_observations_where.sql"));
    pub const STA_TIME_RANGE: &str = include_str!("sql/sta_time_range.sql");
    pub const INSERT_STA_DEVICE: &str = include_str!("sql/insert_sta_device.sql");
    pub const SELECT_STA_DEVICES: &str = include_str!("sql/select_sta_devices.sql");
    pub const REVOKE_STA_DEVICE: &str = include_str!("sql/revoke_sta_device.sql");
    pub const SELECT_STA_EVENTS: &str = include_str!("sql/select_sta_events.sql");
    pub const LATEST_STA_EVENTS: &str = include_str!("sql/latest_sta_events.sql");
    pub const MAX_STA_OBSERVATION: &str = include_str!("sql/max_sta_observation.sql");
    pub const AGGREGATE_STA_HOURLY: &str = include_str!("sql/aggregate_sta_hourly.sql");
    pub const SET_STA_AGGREGATED: &str = include_str!("sql/set_sta_aggregated.sql");
    pub const THIN_STA_OBSERVATIONS: &str = include_str!("sql/thin_sta_observations.sql");
    pub const SELECT_STA_HOURLY: &str = include_str!("sql/select_sta_hourly.sql");
    pub const SELECT_STA_POINTS: &str = include_str!("sql/select_sta_points.sql");
    pub const WRITE: crate::store::sensors::WriteSql = crate::store::sensors::WriteSql {
        delete_observations: DELETE_STA_OBSERVATIONS,
        delete_entities: DELETE_STA_ENTITIES,
        put_entities: PUT_STA_ENTITIES,
        insert_observations: INSERT_STA_OBSERVATIONS,
        insert_events: include_str!("sql/insert_sta_events.sql"),
        delete_hourly: include_str!("sql/delete_sta_hourly.sql"),
    };
}

crate::store::sensors::impl_sensor_store!(GpkgStore);
