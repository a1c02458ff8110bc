//! The fleet half of a store: the vehicle registry and every position report ("fix") the
//! vehicles sent, as [`crate::live`] keeps them. Both backends implement [`FleetStore`] next to
//! [`super::Store`], with their SQL in `sql/`.
//!
//! A batch of fixes is written with one statement whatever its size (the batch goes in as one
//! JSON array), in one transaction: all land or none. A fix with the same vehicle and device
//! time as a stored one is a duplicate and skipped.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::vehicle::{NewVehicle, Vehicle, VehicleKind};
use super::{StoreError, normal_time};
use crate::feature::FeatureId;

/// A fix as stored: what the tracker reported, normalised, with the vehicle it came from, the
/// server's time of receipt, its quality flags and the road it was matched to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixRow {
    /// Assigned by the store (0 before).
    #[serde(default)]
    pub id: i64,
    pub vehicle: String,
    /// When the device took the fix (UTC, ISO 8601 with milliseconds).
    pub time: String,
    /// When the server received it.
    pub received_at: String,
    pub lon: f64,
    pub lat: f64,
    pub speed_mps: Option<f64>,
    pub heading_deg: Option<f64>,
    pub altitude_m: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub hdop: Option<f64>,
    pub battery_pct: Option<f64>,
    pub blade_down: Option<bool>,
    pub spreader_on: Option<bool>,
    /// Other keys the tracker sent.
    pub extra: Option<BTreeMap<String, String>>,
    /// Why the fix is implausible (`jump`, `outside`, `inaccurate`, comma-separated); `None`
    /// when it is plausible. Flagged fixes are kept but stay out of trails and matching.
    pub flags: Option<String>,
    /// The road (feature id) the fix was matched to, if any.
    pub road: Option<FeatureId>,
}

/// A fix as the stores' queries return it.
#[derive(sqlx::FromRow)]
pub(crate) struct FixDbRow {
    id: i64,
    vehicle: String,
    device_time: String,
    received_at: String,
    lon: f64,
    lat: f64,
    speed_mps: Option<f64>,
    heading_deg: Option<f64>,
    altitude_m: Option<f64>,
    accuracy_m: Option<f64>,
    hdop: Option<f64>,
    battery_pct: Option<f64>,
    blade_down: Option<bool>,
    spreader_on: Option<bool>,
    extra: Option<String>,
    flags: Option<String>,
    road: Option<i64>,
}

impl From<FixDbRow> for FixRow {
    fn from(r: FixDbRow) -> Self {
        Self {
            id: r.id,
            vehicle: r.vehicle,
            time: normal_time(r.device_time),
            received_at: normal_time(r.received_at),
            lon: r.lon,
            lat: r.lat,
            speed_mps: r.speed_mps,
            heading_deg: r.heading_deg,
            altitude_m: r.altitude_m,
            accuracy_m: r.accuracy_m,
            hdop: r.hdop,
            battery_pct: r.battery_pct,
            blade_down: r.blade_down,
            spreader_on: r.spreader_on,
            extra: r.extra.and_then(|e| serde_json::from_str(&e).ok()),
            flags: r.flags,
            road: r.road,
        }
    }
}

/// A stretch of a road a plowing vehicle drove, as stored: metres along the road (`from_m <=
/// to_m`), the time it left the stretch, and the fix that closed the route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassRow {
    pub fix_id: i64,
    pub vehicle: String,
    pub road: FeatureId,
    pub from_m: f64,
    pub to_m: f64,
    /// UTC, ISO 8601 with milliseconds.
    pub time: String,
}

/// What route inference settled for a group of fixes, recorded in one transaction: each fix's
/// road (`None`: matched to none), the stretches driven plowing, and per vehicle the newest fix
/// matched (ISO time).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Matches {
    pub fixes: Vec<FixMatch>,
    pub passes: Vec<PassRow>,
    pub progress: Vec<Progress>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixMatch {
    pub id: i64,
    pub road: Option<FeatureId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub vehicle: String,
    pub time: String,
}

impl Matches {
    pub fn is_empty(&self) -> bool {
        self.fixes.is_empty() && self.passes.is_empty() && self.progress.is_empty()
    }
}

/// The batch as the insert statement reads it (one JSON array).
pub(crate) fn batch_json(fixes: &[FixRow]) -> String {
    serde_json::to_string(fixes).expect("fixes serialise")
}

/// Which fixes of a batch were written: the stored id of each, `None` for a duplicate, from
/// the (id, vehicle, device time) rows the insert returned.
pub(crate) fn written_ids(fixes: &[FixRow], returned: Vec<(i64, String, String)>) -> Vec<Option<i64>> {
    let ids: std::collections::HashMap<(String, String), i64> =
        returned.into_iter().map(|(id, vehicle, time)| ((vehicle, normal_time(time)), id)).collect();
    fixes.iter().map(|f| ids.get(&(f.vehicle.clone(), f.time.clone())).copied()).collect()
}

/// A row of `select_vehicles.sql`.
pub(crate) type VehicleRow = (i64, String, String, String, Option<String>, String, bool, String, Option<String>);

pub(crate) fn vehicle(
    (num, id, name, kind, operator, label, public, created_at, revoked_at): VehicleRow,
) -> Result<Vehicle, StoreError> {
    let kind = VehicleKind::parse(&kind).ok_or_else(|| StoreError::Schema {
        layer: "machizu_vehicles".into(),
        message: format!("unknown kind {kind:?}"),
    })?;
    let (created_at, revoked_at) = (normal_time(created_at), revoked_at.map(normal_time));
    Ok(Vehicle { num, id, name, kind, operator, label, public, created_at, revoked_at })
}

/// The vehicle registry and the fixes, in a store.
#[async_trait]
pub trait FleetStore: Send + Sync {
    /// Registers a vehicle with its device credential's hash; returns it as stored.
    async fn add_vehicle(&self, new: &NewVehicle) -> Result<Vehicle, StoreError>;

    /// Every vehicle, revoked ones too, in the order they were added.
    async fn vehicles(&self) -> Result<Vec<Vehicle>, StoreError>;

    /// The vehicle whose device credential has this hash ([`crate::auth::hash_token`]).
    async fn vehicle_by_device(&self, hash: &str) -> Result<Option<Vehicle>, StoreError>;

    /// Revokes a vehicle's device; false if there is no such vehicle or it was revoked before.
    async fn revoke_vehicle(&self, id: &str) -> Result<bool, StoreError>;

    /// Stores fixes in one transaction (all or none); returns each one's new id, `None` for a
    /// duplicate of a stored fix. A batch must not repeat a (vehicle, time).
    async fn insert_fixes(&self, fixes: &[FixRow]) -> Result<Vec<Option<i64>>, StoreError>;

    /// Fixes of a vehicle (or all) with `from <= time < to`, in time order, paged.
    async fn fixes(
        &self,
        vehicle: Option<&str>,
        from: &str,
        to: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<FixRow>, StoreError>;

    /// Each vehicle's newest plausible fix taken since `since`.
    async fn latest_fixes(&self, since: &str) -> Result<Vec<FixRow>, StoreError>;

    /// Records what route inference settled (see [`Matches`]), all or nothing.
    async fn record_matches(&self, matches: &Matches) -> Result<(), StoreError>;

    /// The passes whose vehicle left them since `since`, oldest first.
    async fn passes(&self, since: &str) -> Result<Vec<PassRow>, StoreError>;

    /// Per vehicle, the time of the newest fix whose match is recorded.
    async fn match_progress(&self) -> Result<Vec<Progress>, StoreError>;

    /// Thins the fixes taken before `before` to one per vehicle and minute; returns how many
    /// were deleted.
    async fn thin_fixes(&self, before: &str) -> Result<u64, StoreError>;
}

/// Implements [`FleetStore`] for a backend with a `pool` field and a module `sql` of constants
/// holding its SQL (`INSERT_VEHICLE`, `SELECT_VEHICLES`, …): the Rust is the same for both
/// backends, only the SQL dialect differs.
macro_rules! impl_fleet_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::FleetStore for $store {
            async fn add_vehicle(
                &self,
                new: &$crate::store::vehicle::NewVehicle,
            ) -> Result<$crate::store::vehicle::Vehicle, $crate::store::StoreError> {
                let v = &new.vehicle;
                let (num, created_at): (i64, String) = sqlx::query_as(sql::INSERT_VEHICLE)
                    .bind(&v.id)
                    .bind(&v.name)
                    .bind(v.kind.as_str())
                    .bind(&v.operator)
                    .bind(&v.label)
                    .bind(v.public)
                    .bind(&new.hash)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db(format!("registering vehicle {}", v.id)))?;
                Ok($crate::store::vehicle::Vehicle {
                    num,
                    created_at: $crate::store::normal_time(created_at),
                    ..v.clone()
                })
            }

            async fn vehicles(&self) -> Result<Vec<$crate::store::vehicle::Vehicle>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::fleet::VehicleRow> = sqlx::query_as(sql::SELECT_VEHICLES)
                    .bind(None::<String>)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading vehicles"))?;
                rows.into_iter().map($crate::store::fleet::vehicle).collect()
            }

            async fn vehicle_by_device(
                &self,
                hash: &str,
            ) -> Result<Option<$crate::store::vehicle::Vehicle>, $crate::store::StoreError> {
                let row: Option<$crate::store::fleet::VehicleRow> = sqlx::query_as(sql::SELECT_VEHICLES)
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("looking up a device"))?;
                row.map($crate::store::fleet::vehicle).transpose()
            }

            async fn revoke_vehicle(&self, id: &str) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(sql::REVOKE_VEHICLE)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db(format!("revoking vehicle {id}")))?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_fixes(
                &self,
                fixes: &[$crate::store::FixRow],
            ) -> Result<Vec<Option<i64>>, $crate::store::StoreError> {
                // One statement is one transaction: all rows land or none.
                let returned = sqlx::query_as(sql::INSERT_FIXES)
                    .bind($crate::store::fleet::batch_json(fixes))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db(format!("storing {} fixes", fixes.len())))?;
                Ok($crate::store::fleet::written_ids(fixes, returned))
            }

            async fn fixes(
                &self,
                vehicle: Option<&str>,
                from: &str,
                to: &str,
                limit: u32,
                offset: u64,
            ) -> Result<Vec<$crate::store::FixRow>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::fleet::FixDbRow> = sqlx::query_as(sql::SELECT_FIXES)
                    .bind(vehicle)
                    .bind(from)
                    .bind(to)
                    .bind(i64::from(limit))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading fixes"))?;
                Ok(rows.into_iter().map($crate::store::FixRow::from).collect())
            }

            async fn latest_fixes(&self, since: &str) -> Result<Vec<$crate::store::FixRow>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::fleet::FixDbRow> = sqlx::query_as(sql::LATEST_FIXES)
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading the latest fixes"))?;
                Ok(rows.into_iter().map($crate::store::FixRow::from).collect())
            }

            async fn record_matches(
                &self,
                matches: &$crate::store::fleet::Matches,
            ) -> Result<(), $crate::store::StoreError> {
                let json = serde_json::to_string(matches).expect("matches serialise");
                let mut tx =
                    self.pool.begin().await.map_err($crate::store::StoreError::db("recording matched routes"))?;
                for statement in [sql::RECORD_MATCHES, sql::INSERT_PASSES, sql::SET_PROGRESS] {
                    sqlx::query(statement)
                        .bind(&json)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::store::StoreError::db("recording matched routes"))?;
                }
                tx.commit().await.map_err($crate::store::StoreError::db("recording matched routes"))
            }

            async fn passes(
                &self,
                since: &str,
            ) -> Result<Vec<$crate::store::fleet::PassRow>, $crate::store::StoreError> {
                let rows: Vec<(i64, String, i64, f64, f64, String)> = sqlx::query_as(sql::SELECT_PASSES)
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading road passes"))?;
                Ok(rows
                    .into_iter()
                    .map(|(fix_id, vehicle, road, from_m, to_m, time)| $crate::store::fleet::PassRow {
                        fix_id,
                        vehicle,
                        road,
                        from_m,
                        to_m,
                        time: $crate::store::normal_time(time),
                    })
                    .collect())
            }

            async fn match_progress(&self) -> Result<Vec<$crate::store::fleet::Progress>, $crate::store::StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(sql::SELECT_PROGRESS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading match progress"))?;
                Ok(rows
                    .into_iter()
                    .map(|(vehicle, t)| $crate::store::fleet::Progress { vehicle, time: $crate::store::normal_time(t) })
                    .collect())
            }

            async fn thin_fixes(&self, before: &str) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query(sql::THIN_FIXES)
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("thinning old fixes"))?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(crate) use impl_fleet_store;
