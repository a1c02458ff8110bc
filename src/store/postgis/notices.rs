//! Notices in the PostGIS database (tables in `schema/postgis/0009_notices.sql`); the Rust is shared
//! with the other backend ([`crate::store::notices::impl_notice_store`]).

use super::PostgisStore;

mod sql {
    /// Begins a transaction that reads, then writes.
    pub const BEGIN_WRITE: &str = "BEGIN";
    pub const INSERT_NOTICE: &str = include_str!("sql/insert_notice.sql");
    pub const UPDATE_NOTICE: &str = include_str!("sql/update_notice.sql");
    pub const INSERT_NOTICE_MESSAGE: &str = include_str!("sql/insert_notice_message.sql");
    pub const INSERT_NOTICE_AUDIT: &str = include_str!("sql/insert_notice_audit.sql");
    pub const SELECT_NOTICES: &str = include_str!("sql/select_notices.sql");
    pub const SELECT_NOTICE_MESSAGES: &str = include_str!("sql/select_notice_messages.sql");
    pub const SELECT_NOTICE_AUDIT: &str = include_str!("sql/select_notice_audit.sql");
}

crate::store::notices::impl_notice_store!(PostgisStore);
