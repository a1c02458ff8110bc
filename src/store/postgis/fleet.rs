//! The vehicle registry and fixes in PostGIS (tables in `schema/postgis/0004_fleet.sql`); the Rust is shared
//! with the other backend ([`crate::store::fleet::impl_fleet_store`]).

use super::PostgisStore;

mod sql {
    pub const INSERT_FIXES: &str = include_str!("sql/insert_fixes.sql");
    pub const INSERT_VEHICLE: &str = include_str!("sql/insert_vehicle.sql");
    pub const LATEST_FIXES: &str = include_str!("sql/latest_fixes.sql");
    pub const INSERT_PASSES: &str = include_str!("sql/insert_passes.sql");
    pub const RECORD_MATCHES: &str = include_str!("sql/record_matches.sql");
    pub const REVOKE_VEHICLE: &str = include_str!("sql/revoke_vehicle.sql");
    pub const SELECT_FIXES: &str = include_str!("sql/select_fixes.sql");
    pub const SELECT_PASSES: &str = include_str!("sql/select_passes.sql");
    pub const SELECT_PROGRESS: &str = include_str!("sql/select_progress.sql");
    pub const SET_PROGRESS: &str = include_str!("sql/set_progress.sql");
    pub const SELECT_VEHICLES: &str = include_str!("sql/select_vehicles.sql");
    pub const THIN_FIXES: &str = include_str!("sql/thin_fixes.sql");
}

crate::store::fleet::impl_fleet_store!(PostgisStore);
