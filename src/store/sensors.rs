//! The SensorThings half of a store ([`crate::sensors`]): the small entities (Things,
//! Locations, Sensors, Datastreams, …) as JSON bodies, and the observations in a table of their
//! own, indexed by datastream and time. Both backends implement [`SensorStore`] with the same
//! Rust ([`impl_sensor_store`]) over their own SQL in `sql/`.
//!
//! A batch of observations is written by one statement (the batch goes in as one JSON array):
//! all land or none, and the 2xx comes only after.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;

/// One stored entity other than an observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRow {
    /// The entity type's name in the singular (`Thing`, `Datastream`, …).
    pub kind: String,
    pub id: i64,
    pub body: Value,
}

/// One stored observation. Times are UTC, ISO 8601 with milliseconds ([`super::iso`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationRow {
    /// Assigned by the store (0 before).
    #[serde(default)]
    pub id: i64,
    pub datastream: i64,
    pub foi: i64,
    /// When the phenomenon was observed (the device's time): an instant, or the start of an
    /// interval ending at `phenomenon_end`.
    pub phenomenon_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phenomenon_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_time: Option<String>,
    /// When the server received it.
    pub received_at: String,
    pub result: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_quality: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// A row of `select_sta_observations.sql`.
pub(crate) type ObservationDbRow = (
    i64,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) fn observation(
    (
        id,
        datastream,
        foi,
        phenomenon_time,
        phenomenon_end,
        result_time,
        received_at,
        result,
        quality,
        valid_start,
        valid_end,
        parameters,
    ): ObservationDbRow,
) -> ObservationRow {
    use super::normal_time;
    let json = |s: String| serde_json::from_str(&s).unwrap_or(Value::String(s));
    ObservationRow {
        id,
        datastream,
        foi,
        phenomenon_time: normal_time(phenomenon_time),
        phenomenon_end: phenomenon_end.map(normal_time),
        result_time: result_time.map(normal_time),
        received_at: normal_time(received_at),
        result: json(result),
        result_quality: quality.map(json),
        valid_start: valid_start.map(normal_time),
        valid_end: valid_end.map(normal_time),
        parameters: parameters.map(json),
    }
}

/// Which observations a query reads: the datastreams (only these; none is no observation),
/// and optional bounds. Id and time bounds are half-open (`lo <= x < hi`), result bounds closed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservationFilter {
    pub datastreams: Vec<i64>,
    pub foi: Option<i64>,
    pub id: (Option<i64>, Option<i64>),
    pub phenomenon_time: (Option<String>, Option<String>),
    pub result_time: (Option<String>, Option<String>),
    pub result: (Option<f64>, Option<f64>),
}

/// The orders the store reads observations in (each with the id as tie-break).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationOrder {
    Id,
    PhenomenonTime,
    ResultTime,
    Result,
}

impl ObservationOrder {
    /// The `ORDER BY` clause, from this fixed set only.
    pub(crate) fn sql(self, descending: bool) -> &'static str {
        match (self, descending) {
            (Self::Id, false) => "ORDER BY id",
            (Self::Id, true) => "ORDER BY id DESC",
            (Self::PhenomenonTime, false) => "ORDER BY phenomenon_time, id",
            (Self::PhenomenonTime, true) => "ORDER BY phenomenon_time DESC, id DESC",
            (Self::ResultTime, false) => "ORDER BY result_time, id",
            (Self::ResultTime, true) => "ORDER BY result_time DESC, id DESC",
            (Self::Result, false) => "ORDER BY result_number, id",
            (Self::Result, true) => "ORDER BY result_number DESC, id DESC",
        }
    }
}

/// One change of SensorThings data, made in one transaction, in this order: the observations
/// of `delete_observations_of` (datastreams) and `delete_observations_at` (features of
/// interest) and the observations `delete_observations` are deleted, then the entities `delete`
/// (kind, id); `put` is written (created or replaced), `observations` are added, and the
/// `events` (changes of state) they made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SensorWrite {
    pub delete_observations_of: Vec<i64>,
    pub delete_observations_at: Vec<i64>,
    pub delete_observations: Vec<i64>,
    pub delete: Vec<(String, i64)>,
    pub put: Vec<EntityRow>,
    pub observations: Vec<ObservationRow>,
    pub events: Vec<EventRow>,
}

impl SensorWrite {
    fn deletes_observations(&self) -> bool {
        !(self.delete_observations_of.is_empty()
            && self.delete_observations_at.is_empty()
            && self.delete_observations.is_empty())
    }
}

pub(crate) fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).expect("ids serialise")
}

/// A backend's statements for [`write`].
pub(crate) struct WriteSql {
    pub delete_observations: &'static str,
    pub delete_entities: &'static str,
    pub put_entities: &'static str,
    pub insert_observations: &'static str,
    pub insert_events: &'static str,
    pub delete_hourly: &'static str,
}

/// [`SensorStore::write_sensors`] for either backend.
pub(crate) async fn write<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    write: &SensorWrite,
    sql: &WriteSql,
) -> Result<Vec<i64>, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let what = || StoreError::db("writing SensorThings data");
    let mut tx = pool.begin().await.map_err(what())?;
    if !write.delete_observations_of.is_empty() {
        sqlx::query(sql.delete_hourly)
            .bind(ids_json(&write.delete_observations_of))
            .execute(&mut *tx)
            .await
            .map_err(what())?;
    }
    if write.deletes_observations() {
        sqlx::query(sql.delete_observations)
            .bind(ids_json(&write.delete_observations_of))
            .bind(ids_json(&write.delete_observations_at))
            .bind(ids_json(&write.delete_observations))
            .execute(&mut *tx)
            .await
            .map_err(what())?;
    }
    if !write.delete.is_empty() {
        let keys: Vec<_> = write.delete.iter().map(|(kind, id)| serde_json::json!({"kind": kind, "id": id})).collect();
        sqlx::query(sql.delete_entities)
            .bind(serde_json::to_string(&keys).expect("keys serialise"))
            .execute(&mut *tx)
            .await
            .map_err(what())?;
    }
    if !write.put.is_empty() {
        sqlx::query(sql.put_entities)
            .bind(serde_json::to_string(&write.put).expect("entities serialise"))
            .execute(&mut *tx)
            .await
            .map_err(what())?;
    }
    let mut ids = Vec::new();
    if !write.observations.is_empty() {
        let rows: Vec<(i64,)> = sqlx::query_as(sql.insert_observations)
            .bind(serde_json::to_string(&write.observations).expect("observations serialise"))
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db(format!("storing {} observations", write.observations.len())))?;
        // Ids grow in the order the rows were written.
        ids = rows.into_iter().map(|(id,)| id).collect();
        ids.sort_unstable();
    }
    if !write.events.is_empty() {
        sqlx::query(sql.insert_events)
            .bind(serde_json::to_string(&write.events).expect("events serialise"))
            .execute(&mut *tx)
            .await
            .map_err(what())?;
    }
    tx.commit().await.map_err(what())?;
    Ok(ids)
}

/// One hour of a datastream's numeric observations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourRow {
    /// The hour's start (UTC, ISO 8601).
    pub hour: String,
    pub n: i64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// A change of a datastream's state, as stored ([`crate::sensors::state`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// Assigned by the store (0 before).
    #[serde(default)]
    pub id: i64,
    pub datastream: i64,
    /// `unknown`, `missing`, or `level:n`.
    pub from: String,
    pub to: String,
    /// UTC, ISO 8601 with milliseconds.
    pub at: String,
    pub value: Option<f64>,
    pub recorded_at: String,
}

pub(crate) type EventDbRow = (i64, i64, String, String, String, Option<f64>, String);

pub(crate) fn event((id, datastream, from, to, at, value, recorded_at): EventDbRow) -> EventRow {
    use super::normal_time;
    EventRow { id, datastream, from, to, at: normal_time(at), value, recorded_at: normal_time(recorded_at) }
}

/// A device that posts observations (and camera images) for one Thing, a station.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorDevice {
    /// The id staff know it by (`gauge-niu`).
    pub id: String,
    /// The Thing whose datastreams it may write.
    pub thing: i64,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// The prefix of a sensor device credential (API keys start `mzk_`).
pub const DEVICE_PREFIX: &str = "mzd_";

/// A device to register, with its credential to hand over once (kept only as a hash).
pub struct NewSensorDevice {
    pub device: SensorDevice,
    pub credential: String,
    pub hash: String,
}

impl NewSensorDevice {
    /// A device with a fresh credential: `mzd_` and 160 random bits as 40 hex digits.
    pub fn generate(id: &str, thing: i64, name: &str) -> Result<Self, String> {
        use rand::RngCore;
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if id.is_empty() || id.len() > 40 || !id.chars().all(valid) {
            return Err(format!("device id {id:?}: use 1–40 lowercase letters, digits, '-' or '_'"));
        }
        let mut secret = [0u8; 20];
        rand::rng().fill_bytes(&mut secret);
        let credential = format!("{DEVICE_PREFIX}{}", hex::encode(secret));
        let hash = crate::auth::hash_token(&credential);
        let device = SensorDevice {
            id: id.to_owned(),
            thing,
            name: name.to_owned(),
            created_at: String::new(),
            revoked_at: None,
        };
        Ok(Self { device, credential, hash })
    }
}

pub(crate) type DeviceRow = (String, i64, String, String, Option<String>);

pub(crate) fn device((id, thing, name, created_at, revoked_at): DeviceRow) -> SensorDevice {
    use super::normal_time;
    SensorDevice { id, thing, name, created_at: normal_time(created_at), revoked_at: revoked_at.map(normal_time) }
}

/// SensorThings entities and observations, in a store.
#[async_trait]
pub trait SensorStore: Send + Sync {
    /// Every entity except observations.
    async fn sensor_entities(&self) -> Result<Vec<EntityRow>, StoreError>;

    /// Makes `write` in one transaction (all or none); returns the new observations' ids, in
    /// order.
    async fn write_sensors(&self, write: &SensorWrite) -> Result<Vec<i64>, StoreError>;

    /// Replaces a stored observation (by its id); false if there is none.
    async fn update_observation(&self, row: &ObservationRow) -> Result<bool, StoreError>;

    /// The observations `filter` selects, in `order`, paged.
    async fn observations(
        &self,
        filter: &ObservationFilter,
        order: ObservationOrder,
        descending: bool,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<ObservationRow>, StoreError>;

    /// How many observations `filter` selects.
    async fn count_observations(&self, filter: &ObservationFilter) -> Result<u64, StoreError>;

    /// The first and last phenomenon time of a datastream's observations.
    async fn observation_time_range(&self, datastream: i64) -> Result<Option<(String, String)>, StoreError>;

    /// The events of these datastreams after event `after`, oldest first, at most `limit`.
    async fn sensor_events(&self, datastreams: &[i64], after: i64, limit: u64) -> Result<Vec<EventRow>, StoreError>;

    /// The newest event of each datastream.
    async fn latest_sensor_events(&self) -> Result<Vec<EventRow>, StoreError>;

    /// Adds the observations stored since the last call to their hourly aggregates, in one
    /// transaction; returns how many were added.
    async fn aggregate_observations(&self) -> Result<u64, StoreError>;

    /// Deletes raw observations taken before `before` once aggregated; returns how many.
    async fn thin_observations(&self, before: &str) -> Result<u64, StoreError>;

    /// A datastream's numeric results with `from <= phenomenon time < to` as (time, value),
    /// oldest first, at most `limit`: a chart's points.
    async fn chart_points(
        &self,
        datastream: i64,
        from: &str,
        to: &str,
        limit: u64,
    ) -> Result<Vec<(String, f64)>, StoreError>;

    /// A datastream's hourly aggregates with `from <= hour < to`.
    async fn hourly(&self, datastream: i64, from: &str, to: &str) -> Result<Vec<HourRow>, StoreError>;

    /// Registers a sensor device with its credential's hash.
    async fn add_sensor_device(&self, new: &NewSensorDevice) -> Result<SensorDevice, StoreError>;

    /// Every sensor device, revoked ones too.
    async fn sensor_devices(&self) -> Result<Vec<SensorDevice>, StoreError>;

    /// The device whose credential has this hash.
    async fn sensor_device_by_hash(&self, hash: &str) -> Result<Option<SensorDevice>, StoreError>;

    /// Revokes a device; false if there is none or it was revoked before.
    async fn revoke_sensor_device(&self, id: &str) -> Result<bool, StoreError>;
}

/// Binds an [`ObservationFilter`] to a query of `sta_observations_where.sql`, in its order.
macro_rules! bind_observation_filter {
    ($query:expr, $filter:expr) => {{
        let f: &$crate::store::sensors::ObservationFilter = $filter;
        $query
            .bind($crate::store::sensors::ids_json(&f.datastreams))
            .bind(f.foi)
            .bind(f.id.0)
            .bind(f.id.1)
            .bind(&f.phenomenon_time.0)
            .bind(&f.phenomenon_time.1)
            .bind(&f.result_time.0)
            .bind(&f.result_time.1)
            .bind(f.result.0)
            .bind(f.result.1)
    }};
}
pub(crate) use bind_observation_filter;

/// Implements [`SensorStore`] for a backend with a `pool` field and a module `sql` of constants
/// holding its SQL: the Rust is the same for both backends, only the SQL dialect differs.
macro_rules! impl_sensor_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::sensors::SensorStore for $store {
            async fn sensor_entities(
                &self,
            ) -> Result<Vec<$crate::store::sensors::EntityRow>, $crate::store::StoreError> {
                let rows: Vec<(String, i64, String)> = sqlx::query_as(sql::SELECT_STA_ENTITIES)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading SensorThings entities"))?;
                rows.into_iter()
                    .map(|(kind, id, body)| {
                        let body = serde_json::from_str(&body).map_err(|e| $crate::store::StoreError::Schema {
                            layer: "machizu_sta_entities".into(),
                            message: format!("{kind} {id}: {e}"),
                        })?;
                        Ok($crate::store::sensors::EntityRow { kind, id, body })
                    })
                    .collect()
            }

            async fn write_sensors(
                &self,
                write: &$crate::store::sensors::SensorWrite,
            ) -> Result<Vec<i64>, $crate::store::StoreError> {
                $crate::store::sensors::write(&self.pool, write, &sql::WRITE).await
            }

            async fn update_observation(
                &self,
                row: &$crate::store::sensors::ObservationRow,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(sql::UPDATE_STA_OBSERVATION)
                    .bind(serde_json::to_string(row).expect("observation serialises"))
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db(format!("updating observation {}", row.id)))?;
                Ok(done.rows_affected() == 1)
            }

            async fn observations(
                &self,
                filter: &$crate::store::sensors::ObservationFilter,
                order: $crate::store::sensors::ObservationOrder,
                descending: bool,
                limit: u64,
                offset: u64,
            ) -> Result<Vec<$crate::store::sensors::ObservationRow>, $crate::store::StoreError> {
                let text = format!(
                    "{}{}{} LIMIT {} OFFSET {}",
                    sql::SELECT_STA_OBSERVATIONS,
                    sql::STA_OBSERVATIONS_WHERE,
                    order.sql(descending),
                    limit.min(i64::MAX as u64),
                    offset.min(i64::MAX as u64)
                );
                let query = sqlx::query_as($crate::store::catalog_sql(text));
                let rows: Vec<$crate::store::sensors::ObservationDbRow> =
                    $crate::store::sensors::bind_observation_filter!(query, filter)
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::store::StoreError::db("reading observations"))?;
                Ok(rows.into_iter().map($crate::store::sensors::observation).collect())
            }

            async fn count_observations(
                &self,
                filter: &$crate::store::sensors::ObservationFilter,
            ) -> Result<u64, $crate::store::StoreError> {
                let query = sqlx::query_as(sql::COUNT_STA_OBSERVATIONS);
                let (n,): (i64,) = $crate::store::sensors::bind_observation_filter!(query, filter)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("counting observations"))?;
                Ok(n as u64)
            }

            async fn observation_time_range(
                &self,
                datastream: i64,
            ) -> Result<Option<(String, String)>, $crate::store::StoreError> {
                let (first, last): (Option<String>, Option<String>) = sqlx::query_as(sql::STA_TIME_RANGE)
                    .bind(datastream)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading a datastream's time range"))?;
                Ok(first.zip(last).map(|(a, b)| ($crate::store::normal_time(a), $crate::store::normal_time(b))))
            }

            async fn sensor_events(
                &self,
                datastreams: &[i64],
                after: i64,
                limit: u64,
            ) -> Result<Vec<$crate::store::sensors::EventRow>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::sensors::EventDbRow> = sqlx::query_as(sql::SELECT_STA_EVENTS)
                    .bind($crate::store::sensors::ids_json(datastreams))
                    .bind(after)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading sensor events"))?;
                Ok(rows.into_iter().map($crate::store::sensors::event).collect())
            }

            async fn latest_sensor_events(
                &self,
            ) -> Result<Vec<$crate::store::sensors::EventRow>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::sensors::EventDbRow> = sqlx::query_as(sql::LATEST_STA_EVENTS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading sensor states"))?;
                Ok(rows.into_iter().map($crate::store::sensors::event).collect())
            }

            async fn aggregate_observations(&self) -> Result<u64, $crate::store::StoreError> {
                let what = || $crate::store::StoreError::db("aggregating observations");
                let mut tx = self.pool.begin_with(sql::BEGIN_WRITE).await.map_err(what())?;
                let (last,): (i64,) =
                    sqlx::query_as(sql::MAX_STA_OBSERVATION).fetch_one(&mut *tx).await.map_err(what())?;
                let done = sqlx::query(sql::AGGREGATE_STA_HOURLY).bind(last).execute(&mut *tx).await.map_err(what())?;
                sqlx::query(sql::SET_STA_AGGREGATED).bind(last).execute(&mut *tx).await.map_err(what())?;
                tx.commit().await.map_err(what())?;
                Ok(done.rows_affected())
            }

            async fn thin_observations(&self, before: &str) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query(sql::THIN_STA_OBSERVATIONS)
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("thinning observations"))?;
                Ok(done.rows_affected())
            }

            async fn hourly(
                &self,
                datastream: i64,
                from: &str,
                to: &str,
            ) -> Result<Vec<$crate::store::sensors::HourRow>, $crate::store::StoreError> {
                let rows: Vec<(String, i64, f64, f64, f64)> = sqlx::query_as(sql::SELECT_STA_HOURLY)
                    .bind(datastream)
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading hourly aggregates"))?;
                Ok(rows
                    .into_iter()
                    .map(|(hour, n, min, max, total)| $crate::store::sensors::HourRow {
                        hour: $crate::store::normal_time(hour),
                        n,
                        min,
                        max,
                        mean: total / n.max(1) as f64,
                    })
                    .collect())
            }

            async fn chart_points(
                &self,
                datastream: i64,
                from: &str,
                to: &str,
                limit: u64,
            ) -> Result<Vec<(String, f64)>, $crate::store::StoreError> {
                let rows: Vec<(String, f64)> = sqlx::query_as(sql::SELECT_STA_POINTS)
                    .bind(datastream)
                    .bind(from)
                    .bind(to)
                    .bind(limit.min(i64::MAX as u64) as i64)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading a chart's points"))?;
                Ok(rows.into_iter().map(|(t, v)| ($crate::store::normal_time(t), v)).collect())
            }

            async fn add_sensor_device(
                &self,
                new: &$crate::store::sensors::NewSensorDevice,
            ) -> Result<$crate::store::sensors::SensorDevice, $crate::store::StoreError> {
                let d = &new.device;
                let (created_at,): (String,) = sqlx::query_as(sql::INSERT_STA_DEVICE)
                    .bind(&d.id)
                    .bind(d.thing)
                    .bind(&d.name)
                    .bind(&new.hash)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db(format!("registering sensor device {}", d.id)))?;
                Ok($crate::store::sensors::SensorDevice {
                    created_at: $crate::store::normal_time(created_at),
                    ..d.clone()
                })
            }

            async fn sensor_devices(
                &self,
            ) -> Result<Vec<$crate::store::sensors::SensorDevice>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::sensors::DeviceRow> = sqlx::query_as(sql::SELECT_STA_DEVICES)
                    .bind(None::<String>)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading sensor devices"))?;
                Ok(rows.into_iter().map($crate::store::sensors::device).collect())
            }

            async fn sensor_device_by_hash(
                &self,
                hash: &str,
            ) -> Result<Option<$crate::store::sensors::SensorDevice>, $crate::store::StoreError> {
                let row: Option<$crate::store::sensors::DeviceRow> = sqlx::query_as(sql::SELECT_STA_DEVICES)
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("looking up a sensor device"))?;
                Ok(row.map($crate::store::sensors::device))
            }

            async fn revoke_sensor_device(&self, id: &str) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(sql::REVOKE_STA_DEVICE)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db(format!("revoking sensor device {id}")))?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use impl_sensor_store;
