//! Web Push ([`crate::notices::push`]): residents' browser subscriptions with their places,
//! categories and language — nothing else about them — and the durable delivery queue: one row
//! per (CAP message, subscription), written in the same transaction that marks the message as
//! fanned out, so a restart neither loses nor repeats a fan-out. A delivery is claimed with a
//! lease (its `next_at` moved ahead) before it is sent, so a process that dies mid-send leaves it
//! to be sent again when the lease ends; one that is sent is never claimed again.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// A browser's push subscription (RFC 8030) and the resident's choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRow {
    pub id: i64,
    /// The push resource (a capability URL at the push service).
    pub endpoint: String,
    /// The browser's P-256 public key and auth secret (base64url), to encrypt for it.
    pub p256dh: String,
    pub auth: String,
    /// `[{"lon", "lat", "radius_m", "label"?}]`.
    pub places: serde_json::Value,
    /// Notice categories wanted (`snow`, `road`, …).
    pub categories: Vec<String>,
    /// `ja` or `en`.
    pub lang: String,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub id: i64,
    /// Sends before this one.
    pub attempts: i64,
    pub notice: i64,
    pub message: i64,
    pub subscription: SubscriptionRow,
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The push service took it (201).
    Sent,
    /// Try again at this time (UTC): 429, 5xx, no answer.
    Retry(String),
    /// Refused for good (another 4xx), or out of attempts.
    Failed,
    /// The subscription is gone (404, 410): it is deleted.
    Gone,
}

/// Per notice: deliveries sent, failed for good, gone, and still to send.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeliveryCounts {
    pub sent: i64,
    pub failed: i64,
    pub gone: i64,
    pub pending: i64,
}

/// A row of `select_push_subscriptions.sql`.
pub(crate) type SubscriptionDbRow = (i64, String, String, String, String, String, String);

pub(crate) fn subscription(
    (id, endpoint, p256dh, auth, places, categories, lang): SubscriptionDbRow,
) -> SubscriptionRow {
    SubscriptionRow {
        id,
        endpoint,
        p256dh,
        auth,
        places: serde_json::from_str(&places).unwrap_or(serde_json::Value::Null),
        categories: categories.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect(),
        lang,
    }
}

/// The row's `categories` column.
pub(crate) fn categories(s: &SubscriptionRow) -> String {
    s.categories.join(",")
}

/// What became of one claimed delivery, to record.
#[derive(Debug, Clone)]
pub struct Finished {
    pub delivery: i64,
    pub subscription: i64,
    pub outcome: Outcome,
    /// The push service's HTTP status, if it answered.
    pub status: Option<u16>,
}

/// `(state, next_at)` of an outcome.
pub(crate) fn outcome(o: &Outcome) -> (&'static str, Option<&str>) {
    match o {
        Outcome::Sent => ("sent", None),
        Outcome::Retry(at) => ("pending", Some(at)),
        Outcome::Failed => ("failed", None),
        Outcome::Gone => ("gone", None),
    }
}

pub(crate) fn counts(rows: Vec<(i64, String, i64)>) -> Vec<(i64, DeliveryCounts)> {
    let mut out: Vec<(i64, DeliveryCounts)> = Vec::new();
    for (notice, state, n) in rows {
        if out.last().is_none_or(|(id, _)| *id != notice) {
            out.push((notice, DeliveryCounts::default()));
        }
        let c = &mut out.last_mut().expect("pushed above").1;
        match state.as_str() {
            "sent" => c.sent += n,
            "failed" => c.failed += n,
            "gone" => c.gone += n,
            _ => c.pending += n,
        }
    }
    out
}

/// Where subscriptions and deliveries are kept.
#[async_trait]
pub trait PushStore: Send + Sync {
    /// Adds a subscription, or replaces the choices of the one with its endpoint; returns its id.
    async fn put_subscription(&self, s: &SubscriptionRow) -> Result<i64, StoreError>;

    /// Deletes the subscription with this endpoint and everything kept for it; false if none.
    async fn delete_subscription(&self, endpoint: &str) -> Result<bool, StoreError>;

    /// Subscriptions with ids above `after`, by id, at most `limit`.
    async fn subscriptions(&self, after: i64, limit: u32) -> Result<Vec<SubscriptionRow>, StoreError>;

    /// CAP messages not yet fanned out, oldest first: `(message, notice)`.
    async fn unfanned_messages(&self) -> Result<Vec<(i64, i64)>, StoreError>;

    /// Queues `message` for `subscriptions`, and for every subscription an earlier message of its
    /// notice was sent to (due at `now`), and marks it fanned out, in one transaction; a message
    /// fanned out already is left alone.
    async fn fan_out(&self, message: i64, subscriptions: &[i64], now: &str) -> Result<(), StoreError>;

    /// Claims up to `limit` deliveries due at `now`, oldest first, leasing them until `lease`.
    async fn claim_deliveries(&self, now: &str, lease: &str, limit: u32) -> Result<Vec<DeliveryJob>, StoreError>;

    /// Records what became of claimed deliveries (and deletes gone subscriptions), in one
    /// transaction: senders commit as a group, not one fsync per push.
    async fn finish_deliveries(&self, done: &[Finished]) -> Result<(), StoreError>;

    /// Delivery counts per notice.
    async fn delivery_counts(&self) -> Result<Vec<(i64, DeliveryCounts)>, StoreError>;
}

/// A row of `select_push_jobs.sql`: the delivery, then its subscription.
pub(crate) type JobDbRow = (i64, i64, i64, i64, i64, String, String, String, String, String, String);

pub(crate) fn job(
    (id, attempts, notice, message, sid, endpoint, p256dh, auth, places, cats, lang): JobDbRow,
) -> DeliveryJob {
    let subscription = subscription((sid, endpoint, p256dh, auth, places, cats, lang));
    DeliveryJob { id, attempts, notice, message, subscription }
}

/// Implements [`PushStore`] for a backend whose `sql` module names the statements.
macro_rules! impl_push_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::push::PushStore for $store {
            async fn put_subscription(
                &self,
                s: &$crate::store::push::SubscriptionRow,
            ) -> Result<i64, $crate::store::StoreError> {
                let (id,): (i64,) = sqlx::query_as(sql::PUT_PUSH_SUBSCRIPTION)
                    .bind(&s.endpoint)
                    .bind(&s.p256dh)
                    .bind(&s.auth)
                    .bind(s.places.to_string())
                    .bind($crate::store::push::categories(s))
                    .bind(&s.lang)
                    .bind($crate::store::now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("storing a push subscription"))?;
                Ok(id)
            }

            async fn delete_subscription(&self, endpoint: &str) -> Result<bool, $crate::store::StoreError> {
                let what = || $crate::store::StoreError::db("deleting a push subscription");
                let mut tx = self.pool.begin().await.map_err(what())?;
                sqlx::query(sql::DELETE_PUSH_DELIVERIES_OF).bind(endpoint).execute(&mut *tx).await.map_err(what())?;
                let done =
                    sqlx::query(sql::DELETE_PUSH_SUBSCRIPTION).bind(endpoint).execute(&mut *tx).await.map_err(what())?;
                tx.commit().await.map_err(what())?;
                Ok(done.rows_affected() > 0)
            }

            async fn subscriptions(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<$crate::store::push::SubscriptionRow>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::push::SubscriptionDbRow> = sqlx::query_as(sql::SELECT_PUSH_SUBSCRIPTIONS)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading push subscriptions"))?;
                Ok(rows.into_iter().map($crate::store::push::subscription).collect())
            }

            async fn unfanned_messages(&self) -> Result<Vec<(i64, i64)>, $crate::store::StoreError> {
                sqlx::query_as(sql::UNFANNED_NOTICE_MESSAGES)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading notice messages to push"))
            }

            async fn fan_out(
                &self,
                message: i64,
                subscriptions: &[i64],
                now: &str,
            ) -> Result<(), $crate::store::StoreError> {
                let what = || $crate::store::StoreError::db(format!("queueing the pushes of message {message}"));
                let mut tx = self.pool.begin_with(sql::BEGIN_WRITE).await.map_err(what())?;
                let marked = sqlx::query(sql::SET_NOTICE_MESSAGE_FANNED_OUT)
                    .bind(message)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(what())?;
                if marked.rows_affected() == 1 {
                    sqlx::query(sql::INSERT_PUSH_DELIVERIES)
                        .bind(message)
                        .bind(serde_json::to_string(subscriptions).expect("ids serialise"))
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(what())?;
                    sqlx::query(sql::INSERT_PUSH_DELIVERIES_TO_TOLD)
                        .bind(message)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(what())?;
                }
                tx.commit().await.map_err(what())
            }

            async fn claim_deliveries(
                &self,
                now: &str,
                lease: &str,
                limit: u32,
            ) -> Result<Vec<$crate::store::push::DeliveryJob>, $crate::store::StoreError> {
                let what = || $crate::store::StoreError::db("claiming push deliveries");
                let mut tx = self.pool.begin_with(sql::BEGIN_WRITE).await.map_err(what())?;
                let ids: Vec<(i64,)> = sqlx::query_as(sql::CLAIM_PUSH_DELIVERIES)
                    .bind(now)
                    .bind(lease)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(what())?;
                let ids: Vec<i64> = ids.into_iter().map(|(id,)| id).collect();
                let rows: Vec<$crate::store::push::JobDbRow> = sqlx::query_as(sql::SELECT_PUSH_JOBS)
                    .bind(serde_json::to_string(&ids).expect("ids serialise"))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(what())?;
                tx.commit().await.map_err(what())?;
                Ok(rows.into_iter().map($crate::store::push::job).collect())
            }

            async fn finish_deliveries(
                &self,
                done: &[$crate::store::push::Finished],
            ) -> Result<(), $crate::store::StoreError> {
                let what = || $crate::store::StoreError::db(format!("recording {} push deliveries", done.len()));
                let mut tx = self.pool.begin_with(sql::BEGIN_WRITE).await.map_err(what())?;
                for d in done {
                    let (state, next_at) = $crate::store::push::outcome(&d.outcome);
                    sqlx::query(sql::FINISH_PUSH_DELIVERY)
                        .bind(d.delivery)
                        .bind(state)
                        .bind(d.status.map(i64::from))
                        .bind(next_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(what())?;
                    if d.outcome == $crate::store::push::Outcome::Gone {
                        let id = d.subscription;
                        sqlx::query(sql::DELETE_PUSH_DELIVERIES_OF_ID)
                            .bind(id)
                            .execute(&mut *tx)
                            .await
                            .map_err(what())?;
                        sqlx::query(sql::DELETE_PUSH_SUBSCRIPTION_BY_ID)
                            .bind(id)
                            .execute(&mut *tx)
                            .await
                            .map_err(what())?;
                    }
                }
                tx.commit().await.map_err(what())
            }

            async fn delivery_counts(
                &self,
            ) -> Result<Vec<(i64, $crate::store::push::DeliveryCounts)>, $crate::store::StoreError> {
                let rows: Vec<(i64, String, i64)> = sqlx::query_as(sql::COUNT_PUSH_DELIVERIES)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("counting push deliveries"))?;
                Ok($crate::store::push::counts(rows))
            }
        }
    };
}

pub(crate) use impl_push_store;
