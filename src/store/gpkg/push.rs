//! Web Push subscriptions and deliveries in the GeoPackage (tables in `schema/gpkg/machizu.sql`); the Rust
//! is shared with the other backend ([`crate::store::push::impl_push_store`]).

use super::GpkgStore;

mod sql {
    /// Begins a transaction that reads, then writes.
    pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
    pub const PUT_PUSH_SUBSCRIPTION: &str = include_str!("sql/put_push_subscription.sql");
    pub const DELETE_PUSH_DELIVERIES_OF: &str = include_str!("sql/delete_push_deliveries_of.sql");
    pub const DELETE_PUSH_SUBSCRIPTION: &str = include_str!("sql/delete_push_subscription.sql");
    pub const DELETE_PUSH_DELIVERIES_OF_ID: &str = include_str!("sql/delete_push_deliveries_of_id.sql");
    pub const DELETE_PUSH_SUBSCRIPTION_BY_ID: &str = include_str!("sql/delete_push_subscription_by_id.sql");
    pub const SELECT_PUSH_SUBSCRIPTIONS: &str = include_str!("sql/select_push_subscriptions.sql");
    pub const UNFANNED_NOTICE_MESSAGES: &str = include_str!("sql/unfanned_notice_messages.sql");
    pub const SET_NOTICE_MESSAGE_FANNED_OUT: &str = include_str!("sql/set_notice_message_fanned_out.sql");
    pub const INSERT_PUSH_DELIVERIES: &str = include_str!("sql/insert_push_deliveries.sql");
    pub const INSERT_PUSH_DELIVERIES_TO_TOLD: &str = include_str!("sql/insert_push_deliveries_to_told.sql");
    pub const CLAIM_PUSH_DELIVERIES: &str = include_str!("sql/claim_push_deliveries.sql");
    pub const SELECT_PUSH_JOBS: &str = include_str!("sql/select_push_jobs.sql");
    pub const FINISH_PUSH_DELIVERY: &str = include_str!("sql/finish_push_delivery.sql");
    pub const COUNT_PUSH_DELIVERIES: &str = include_str!("sql/count_push_deliveries.sql");
}

crate::store::push::impl_push_store!(GpkgStore);
